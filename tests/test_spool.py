"""A text is never lost because the store is down: it is kept on the web host's disk (no body,
fsynced), the person is told honestly that we have it, and when Redis answers again each is
put in the queue exactly once, in order, STOP included.

Each test runs its own embedded Redis in its own data folder, stops it, and starts it again
on the same socket, as `helpline run` does after a crash.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask

import ivr.store.connection
from ivr.simulate import TwilioLikeClient
from ivr.store.connection import start_embedded, stop_embedded
from ivr.store.spool import MAX_ENTRIES, Spool, Spooled, SpoolFull
from ivr.web.sms import replay_spool
from tests.conftest import ACCOUNT_SID, london

A, B, C = "+447400123451", "+447400123452", "+447400123453"
SECRET = "Quokka-7731 he posted my photos"


@pytest.fixture
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A data folder with its own embedded Redis, owned by this test (stopped at its end)."""
    monkeypatch.setattr(ivr.store.connection, "_owned", {})
    data_dir = tmp_path / "data"
    start_embedded(data_dir)
    yield data_dir
    stop_embedded(data_dir)


def text(app: Flask, sender: str, body: str, sid: str) -> list[str]:
    client = TwilioLikeClient(app, {"From": sender, "To": "+441234567890",
                                    "AccountSid": ACCOUNT_SID})
    response = client.post("/sms", {"Body": body, "MessageSid": sid, "NumMedia": "0"})
    assert response.status_code == 200
    return [m.text or "" for m in ElementTree.fromstring(response.get_data(as_text=True))]


def replies(app: Flask, name: str) -> str:
    h = app.extensions["helpline"]
    return h.flows.sms.replies[name].format(usual_hours="from 10am to 4pm, Monday to Friday")


def test_texts_and_a_stop_while_redis_is_down_are_stored_once_when_it_is_back(make_app,
                                                                               own_store):
    app = make_app(at="2026-11-25T11:00", data_dir=own_store, redis_url="")
    queue = app.extensions["helpline"].queue
    text(app, A, "hello", "SM" + "0" * 32)
    assert queue.open_for(A) is not None

    stop_embedded(own_store)  # Redis goes down
    assert text(app, A, "STOP", "SM" + "1" * 32) == []
    assert text(app, B, "hello", "SM" + "2" * 32) == [replies(app, "spooled")]
    assert text(app, B, "after 2", "SM" + "3" * 32) == [replies(app, "spooled")]
    assert text(app, C, SECRET, "SM" + "4" * 32) == [replies(app, "spooled")]
    assert text(app, C, SECRET, "SM" + "4" * 32) == [replies(app, "spooled")]  # Twilio retries
    spool = Spool(own_store)
    kept = spool.path.read_text()
    assert len(kept.splitlines()) == 5
    for fragment in ("Quokka", "7731", "photos"):
        assert fragment not in kept  # what was asked, never the body
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.path.parent.stat().st_mode) == 0o700

    start_embedded(own_store)  # back, on the same socket
    with app.app_context():
        assert replay_spool() == 5
        assert replay_spool() == 0

    assert queue.open_for(A) is None  # the STOP's erase was done
    b = queue.open_for(B)
    assert (b.status, b.due_at) == ("scheduled", london("2026-11-25T14:00"))
    c = queue.open_for(C)
    assert c is not None
    assert [cb.number for cb in queue.all()].count(C) == 1
    assert not spool.waiting()


def test_the_next_text_replays_the_spool_first(make_app, own_store):
    app = make_app(at="2026-11-25T19:00", data_dir=own_store, redis_url="")
    stop_embedded(own_store)
    text(app, A, "hello", "SM" + "5" * 32)
    start_embedded(own_store)
    reply = text(app, A, "hello again", "SM" + "6" * 32)
    assert "we already have your request" in reply[0]  # the kept text came first
    assert not Spool(own_store).waiting()


def test_a_replay_that_fails_keeps_what_was_not_applied(tmp_path):
    spool = Spool(tmp_path)
    for n in range(3):
        spool.add(Spooled(f"SM{n}", A, "request", "2026-11-25T11:00:00+00:00"))
    done: list[str] = []

    def apply(entry: Spooled) -> None:
        if entry.sid == "SM1":
            raise ConnectionError("down again")
        done.append(entry.sid)

    with pytest.raises(ConnectionError):
        spool.replay(apply)
    assert done == ["SM0"]
    left = [json.loads(line)["sid"] for line in spool.path.read_text().splitlines()]
    assert left == ["SM1", "SM2"]


def test_a_flood_while_down_cannot_fill_the_disk(tmp_path, monkeypatch):
    monkeypatch.setattr("ivr.store.spool.MAX_ENTRIES", 3)
    spool = Spool(tmp_path)
    for n in range(3):
        spool.add(Spooled(f"SM{n}", A, "request", "2026-11-25T11:00:00+00:00"))
    with pytest.raises(SpoolFull):
        spool.add(Spooled("SM9", A, "request", "2026-11-25T11:00:00+00:00"))
    assert MAX_ENTRIES > 1000  # the real limit leaves room for a long outage


def test_help_and_steps_need_no_store(make_app, own_store):
    app = make_app(at="2026-11-25T19:00", data_dir=own_store, redis_url="")
    stop_embedded(own_store)
    assert text(app, A, "HELP", "SM" + "7" * 32) == [replies(app, "help")]
    assert len(text(app, A, "STEPS", "SM" + "8" * 32)) == 5
    assert not Spool(own_store).waiting()
