"""Subject requests: `helpline data show|erase NUMBER` answer what the helpline holds about a
number, in our store and in Twilio's logs, and erase it (issue 11, item 5). A real Redis;
Twilio's REST API is Prism, behind a proxy that records what we asked (tests/twilio_proxy.py)."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.core.phone import subject_number
from ivr.store import audit
from ivr.store.queue import CallbackQueue
from tests.common import ACCOUNT_SID, OPEN_AT, SEALER, TOKEN, add_advisor, london, request_callback

NUMBER = "+447400123456"
OTHER = "+447400654321"
SID = r"[A-Z]{2}[0-9a-f]{32}"
ACCOUNT = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
VALID_DELETE = re.compile(
    rf"^{ACCOUNT}/(Calls/CA[0-9a-f]{{32}}|Messages/(SM|MM)[0-9a-f]{{32}}"
    rf"(/Media/ME[0-9a-f]{{32}})?)\.json$"
)


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("07400 123456", NUMBER),
        ("07400123456", NUMBER),
        ("+44 7400 123456", NUMBER),
        ("+447400123456", NUMBER),
        ("0044 7400 123456", NUMBER),
        ("(07400) 123-456", NUMBER),
        ("+1 415 555 0100", "+14155550100"),  # a sender from abroad is in Twilio's logs too
        ("12", None),
        ("999", None),
        ("hello", None),
        ("07400 123456 789", None),
    ],
)
def test_a_number_is_taken_in_national_or_international_form(typed, number):
    assert subject_number(typed) == number


@pytest.fixture
def seeded(store):
    """Two callbacks of NUMBER (one cancelled, one waiting, with what an advisor did) and
    one of someone else."""
    queue = CallbackQueue(store, SEALER)
    now = london(OPEN_AT)
    first = request_callback(queue, NUMBER, "sms", now - timedelta(days=2), now - timedelta(days=2))
    queue.cancel(first.callback_id, now - timedelta(days=1))
    second = request_callback(queue, NUMBER, "voice", now, now + timedelta(hours=2))
    audit.record(store, now, "alex", "claimed", second.callback_id, NUMBER)
    other = request_callback(queue, OTHER, "sms", now, now)
    return first.callback_id, second.callback_id, other.callback_id


@pytest.fixture
def with_twilio(monkeypatch, twilio_proxy):
    """The command's environment sends its REST calls through the recording proxy."""

    def start(throttle_deletes: int = 0):
        settings, recorder = twilio_proxy(throttle_deletes)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("TWILIO_API_BASE_URL", settings["twilio_api_base_url"])
        return recorder

    return start


def test_show_lists_the_numbers_callbacks_and_twilios_records(cli, seeded, with_twilio):
    recorder = with_twilio()
    first, second, other = seeded

    result = cli("data", "show", "07400", "123456", "--json")

    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["number"] == NUMBER
    assert [(c["id"], c["status"]) for c in found["callbacks"]] == [
        (first, "cancelled"),
        (second, "scheduled"),
    ]
    assert found["open_callback"] == second
    assert [(n["actor"], n["action"]) for n in found["staff_notes"]] == [("alex", "claimed")]
    assert found["callbacks"][1]["safe_time"]
    twilio = found["twilio"]
    assert {r["kind"] for r in twilio} == {"call", "message"}
    assert all(NUMBER in (r["from"], r["to"]) for r in twilio)
    assert all(r["body"].endswith("characters") for r in twilio if r["kind"] == "message")
    # Asked of Twilio: calls and messages, from and to the number, each a valid request.
    asked = {(s.path.rsplit("/", 1)[-1], *s.query) for s in recorder.listings()}
    assert asked == {
        ("Calls.json", "From", "PageSize"),
        ("Calls.json", "To", "PageSize"),
        ("Messages.json", "From", "PageSize"),
        ("Messages.json", "To", "PageSize"),
    }
    assert all(s.query.get("From", s.query.get("To")) == [NUMBER] for s in recorder.listings())
    assert all(s.status == 200 for s in recorder.seen)
    assert recorder.deletes() == []


def test_show_reads_like_an_answer_for_staff(cli, seeded, with_twilio, store):
    with_twilio()
    add_advisor(store, "Sam", NUMBER)
    result = cli("data", "show", "+44 7400 123456")
    assert result.exit_code == 0, result.output
    assert f"What the helpline holds about {NUMBER}" in result.output
    assert "Callbacks: 2" in result.output
    assert "alex: claimed" in result.output
    assert "Opted out: not recorded by us" in result.output
    assert "Advisor accounts with this phone: sam" in result.output
    assert "Twilio's logs: " in result.output and " message " in result.output


def test_erase_removes_the_number_from_redis_and_twilio(cli, seeded, with_twilio, store, caplog):
    caplog.set_level(logging.DEBUG, logger="ivr")
    recorder = with_twilio()
    first, second, other = seeded
    listed = json.loads(cli("data", "show", NUMBER, "--json").output)["twilio"]

    result = cli("data", "erase", "07400 123456", "--yes")

    assert result.exit_code == 0, result.output
    assert "erased 2 callback records" in result.output
    queue = CallbackQueue(store, SEALER)
    assert queue.get(first) is None and queue.get(second) is None
    assert not queue.has_open(NUMBER)
    assert queue.get(other) is not None  # someone else's stays
    assert not [k for k in store.keys("*") if NUMBER in json.dumps(dump(store, k))]
    # The audit trail says what was done, without the number.
    latest = audit.recent(store, 1)[0]
    assert latest["action"] == "erased a number's records (subject request)"
    assert latest["number"] == "" and "2 callback records" in latest["detail"]
    assert not [e for e in audit.recent(store) if "7400123456" in json.dumps(e)]
    # Twilio: a DELETE for each listed call and message (and a message's media), each a
    # path Twilio's spec has (Prism answered 204).
    deletes = recorder.deletes()
    assert deletes and all(VALID_DELETE.match(path) for path in deletes)
    assert recorder.deletes(status=204) == deletes
    deleted = {re.findall(SID, path)[-1] for path in deletes if "/Media/" not in path}
    assert deleted == {r["sid"] for r in listed}
    assert any("/Media/" in path for path in deletes)  # the example MMS has media
    assert f"deleted {len(deleted)} calls and messages from Twilio" in result.output
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ivr"))
    assert "7400123456" not in ours and "123456" not in ours


def dump(store, key: str) -> object:
    kind = store.type(key)
    return {
        "hash": lambda: store.hgetall(key),
        "string": lambda: store.get(key),
        "set": lambda: sorted(store.smembers(key)),
        "zset": lambda: store.zrange(key, 0, -1),
        "list": lambda: store.lrange(key, 0, -1),
        "stream": lambda: [f for _, f in store.xrange(key)],
    }[kind]()


def test_erase_waits_out_twilio_saying_too_many_requests(cli, seeded, with_twilio):
    recorder = with_twilio(throttle_deletes=2)
    result = cli("data", "erase", NUMBER, "--yes")
    assert result.exit_code == 0, result.output
    assert len(recorder.deletes(status=429)) == 2
    assert len(recorder.deletes(status=204)) == len(recorder.deletes()) - 2


def test_erase_without_twilio_credentials_erases_ours_and_says_twilio_is_not_done(
    cli, seeded, store
):
    """Found: it exited 1 saying "run it again", which can't help without the credentials.
    What we hold is erased: that is a success, with one line on Twilio's copies."""
    first, second, _ = seeded
    result = cli("data", "erase", NUMBER, "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "erased 2 callback records",
        "Twilio's copies (its call and message logs) are not deleted: that needs "
        "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN set, then this command again.",
    ]
    assert CallbackQueue(store, SEALER).get(second) is None


def test_erase_asks_first(cli_env, seeded, store):
    result = CliRunner().invoke(main, ["data", "erase", NUMBER], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert CallbackQueue(store, SEALER).get(seeded[1]) is not None


@pytest.mark.parametrize("command", ["show", "erase"])
def test_something_that_is_not_a_number_gets_a_clear_answer(cli, command):
    result = cli("data", command, "call", "me")
    assert result.exit_code == 2
    assert "'call me' is not a phone number: give it as 07700 900123" in result.output


def test_show_without_anything_held(cli, store):
    result = cli("data", "show", OTHER)
    assert result.exit_code == 0
    assert "Callbacks: none" in result.output
    assert "Twilio's logs not read" in result.output
