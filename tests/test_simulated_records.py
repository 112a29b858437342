"""`helpline simulate` uses the configured store (staff can follow a conversation of several
texts) but only its own records: kept apart from real ones even for the same number, never
released, claimed or dialled, left out of the numbers, erased every night. Its default number
is from Ofcom's drama range, which only a simulation accepts."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.jobs.tasks import Jobs
from ivr.store import stats
from ivr.store.keys import DEFAULT
from ivr.store.queue import CallbackQueue
from tests.common import OPEN_AT, SEALER, SENDER, add_advisor, london, request_callback, send

pytestmark = pytest.mark.usefixtures("cli_env")

CHRISTMAS = "2026-12-25T11:00"  # closed: callbacks wait for Tuesday 29 December, 10am
REAL = "+447400123456"
STARTED = {"hl:schema", "hl:keys"}  # what any start on an empty store writes


def helpline(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def text(body: str, sender: str = REAL, at: str = CHRISTMAS, session: str = "s") -> str:
    """A simulated text, in the session `session` (a conversation of several texts)."""
    return helpline(
        "simulate", "sms", "--at", at, "--from", sender, "--body", body, "--session", session
    ).stdout


SIMULATED = DEFAULT.simulation.in_session("s")


def test_a_simulated_safe_time_never_changes_a_real_persons(store):
    real = CallbackQueue(store, SEALER)
    christmas = london(CHRISTMAS)
    mine = request_callback(real, REAL, "sms", christmas, london("2026-12-29T10:00"))
    before = real.get(mine.callback_id)

    text("please call me")
    text("2pm")

    after = real.get(mine.callback_id)
    assert (after.plan, after.due_at, after.status) == (before.plan, before.due_at, "scheduled")
    [simulated] = CallbackQueue(store, SEALER, SIMULATED).all()
    assert simulated.number == REAL and simulated.id != mine.callback_id
    assert simulated.plan is not None and simulated.plan.earliest == time(14, 0)


def test_a_simulated_conversation_is_followed_across_texts(store):
    assert "We will call you" in text("please call me")
    assert "2pm" in text("2pm")  # the same simulated callback, its safe time now set
    assert len(list(CallbackQueue(store, SEALER, SIMULATED).all())) == 1


def test_simulated_callbacks_are_never_released_to_advisors(make_app, store):
    text("please call me", sender="07700 900123")
    text("please call me", sender="07400 123457")
    real = request_callback(
        CallbackQueue(store, SEALER), REAL, "sms", london(CHRISTMAS), london("2026-12-29T10:00")
    )
    app = make_app(at="2026-12-29T10:05")
    Jobs(app.extensions["helpline"]).opening(london("2026-12-29T10:05"))
    assert [cb.id for cb in CallbackQueue(store, SEALER).all(("due",))] == [real.callback_id]
    assert {cb.status for cb in CallbackQueue(store, SEALER, SIMULATED).all()} == {"scheduled"}


def test_simulated_calls_and_texts_are_left_out_of_the_numbers(store):
    christmas = london(CHRISTMAS).date()
    helpline("simulate", "call", "--at", CHRISTMAS, "--press", "1", "--session", "s")
    text("please call me")
    counted, _ = stats.day(store, christmas)
    assert counted == {}
    simulated, _ = stats.day(store, christmas, SIMULATED)
    assert simulated.get("calls") == 1 and simulated.get("cb:asked") == 1


def test_simulated_records_are_erased_every_night(make_app, store):
    text("please call me")
    text("2pm")
    real = request_callback(
        CallbackQueue(store, SEALER), REAL, "sms", london(CHRISTMAS), london("2026-12-29T10:00")
    )
    app = make_app(at="2026-12-26T00:30")
    report = Jobs(app.extensions["helpline"]).nightly(london("2026-12-26T00:30"))
    assert any(line.startswith("erased ") and "simulated records" in line for line in report.lines)
    assert list(store.scan_iter(DEFAULT.simulation.base + "*")) == []
    assert CallbackQueue(store, SEALER).get(real.callback_id) is not None


def test_a_simulated_caller_waits_among_the_simulated_records_and_is_erased_with_them(
    make_app, store
):
    """Found: the queue kept a simulated caller under a part of its own (hl:simulated:…),
    which the nightly erasure never looked at."""
    heard = helpline(
        "simulate", "call", "--at", OPEN_AT, "--advisors", "busy", "--press", "1", "--press", "-"
    ).stdout
    assert "JOINS THE QUEUE" in heard
    assert store.keys(DEFAULT.simulation.live + "*")
    assert not store.keys("hl:simulated:*") and not store.keys(DEFAULT.live + "*")
    today = london(OPEN_AT).date()
    assert stats.day(store, today, DEFAULT.simulation)[0].get("q:queued") == 1
    assert "q:queued" not in stats.day(store, today)[0]

    app = make_app(at="2026-11-26T00:30")
    Jobs(app.extensions["helpline"]).nightly(london("2026-11-26T00:30"))
    assert list(store.scan_iter(DEFAULT.simulation.base + "*")) == []


def test_a_simulated_caller_is_offered_a_call_back_on_their_own_number():
    """Found: simulate call's default --from was a refused drama number, so the callback
    option never offered "this number"."""
    flows = load_flows(DEFAULT_DIR, datetime.now(UTC))
    callback = next(o for o in flows.voice.closed_options if o.action == "callback")
    heard = helpline("simulate", "call", "--at", CHRISTMAS, "--press", callback.key).stdout
    assert "the number ending 1 2 3." in heard  # 07700 900123, the default


def test_the_real_helpline_never_calls_a_drama_number_back(app, store):
    reply = " ".join(send(app, "please call me", sender="+447700900123"))
    assert "we can only call back UK mobile and landline numbers" in reply
    assert CallbackQueue(store, SEALER).open_for("+447700900123") is None
    assert send(app, "please call me", sender=SENDER)  # a real number still is


def test_a_simulated_call_marks_no_real_advisor_ringing(store):
    """Found: `simulate call --press 1` in hours marked a real advisor on duty "ringing" at the
    simulated instant, so real callers skipped them until then."""
    add_advisor(store, "Alex", "+447400123459", on_duty=True)
    before = {key: store.dump(key) for key in store.scan_iter("hl:*")}
    helpline("simulate", "call", "--at", "2026-11-30T11:00", "--press", "1")
    after = {key: store.dump(key) for key in store.scan_iter("hl:*")}
    changed = {key for key in after if before.get(key) != after[key]} - STARTED
    assert not [key for key in changed if ":sim:" not in key]  # only simulated records


def test_a_simulated_stop_is_kept_out_of_the_erasure_log(store, store_settings):
    """Found: a simulated STOP went into the real erasure log, so the next restore erased a
    real person's callback."""
    real = request_callback(
        CallbackQueue(store, SEALER), REAL, "sms", london(CHRISTMAS), london("2026-12-29T10:00")
    )
    log = Path(store_settings["data_dir"]) / "erasures" / "erasures.jsonl"
    before = log.read_text() if log.exists() else ""  # other tests may have written to it
    text("STOP")
    assert (log.read_text() if log.exists() else "") == before
    assert CallbackQueue(store, SEALER).get(real.callback_id) is not None
