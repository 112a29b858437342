"""Each `helpline simulate` run starts clean: it sees the real store's settings, closures and
advisors, but none of the earlier simulations' records, unless `--session NAME` goes on with
a conversation of several texts or calls."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.store.closures import close_line
from ivr.store.keys import DEFAULT
from ivr.store.queue import CallbackQueue
from tests.common import SEALER

pytestmark = pytest.mark.usefixtures("cli_env")

ALREADY = "Thanks, we already have your request"


def helpline(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def text(body: str, at: str, *session: str) -> str:
    return helpline("simulate", "sms", "--at", at, "--body", body, *session).stdout


def test_a_simulation_does_not_remember_an_earlier_one() -> None:
    """Found: after simulating a text on 25 December, `simulate sms --body hi` answered
    "Thanks, we already have your request"."""
    text("hello", "2026-12-25T11:00")
    assert ALREADY not in text("hi", "2026-12-29T11:00")


def test_a_session_goes_on_with_the_conversation(store) -> None:
    assert "Reply with a time" in text("call me back please", "2026-12-07T11:00", "--session", "a")
    assert "2pm" in text("after 2pm", "2026-12-07T11:01", "--session", "a")
    assert ALREADY in text("hello", "2026-12-07T11:02", "--session", "a")
    [callback] = CallbackQueue(store, SEALER, DEFAULT.simulation.in_session("a")).all()
    assert callback.plan is not None


def test_sessions_are_apart_from_each_other_and_from_plain_runs() -> None:
    text("call me back please", "2026-12-07T11:00", "--session", "a")
    assert ALREADY not in text("hello", "2026-12-07T11:01", "--session", "b")
    assert ALREADY not in text("hello", "2026-12-07T11:02")
    assert ALREADY in text("hello", "2026-12-07T11:03", "--session", "a")


def test_a_plain_run_leaves_sessions_alone() -> None:
    text("call me back please", "2026-12-07T11:00", "--session", "a")
    text("hello", "2026-12-07T11:01")
    assert ALREADY in text("hello", "2026-12-07T11:02", "--session", "a")


def test_a_simulation_sees_the_real_supervisors_closure(store) -> None:
    close_line(store, "We are closed this afternoon for staff training.", None)
    assert text("hello", "2026-12-07T11:00").startswith("We are closed this afternoon")
