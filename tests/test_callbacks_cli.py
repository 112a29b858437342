"""`helpline simulate sms` and `helpline callbacks list/show/cancel`, run as the command line
runs them, against the test Redis (HELPLINE_DATA_DIR or REDIS_URL, as an operator sets them)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from ivr.store.keys import DEFAULT
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, london, request_callback

NUMBER = "+447400123456"
OTHER = "+447912345678"
CHRISTMAS = "2026-12-25T11:00"


@pytest.fixture
def helpline(cli):
    """helpline(*args): the `helpline` command on the test Redis."""
    return cli


@pytest.fixture
def christmas_text(helpline) -> str:
    """A text on Christmas Day (a Friday) through `helpline simulate sms`; the reply."""
    result = helpline("simulate", "sms", "--at", CHRISTMAS, "--from", NUMBER, "--body", "hello")
    assert result.exit_code == 0, result.output
    return result.stdout


def listed(helpline, *options: str) -> list[dict[str, object]]:
    result = helpline("callbacks", "list", "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_text_on_christmas_day_is_answered_with_the_next_opening(christmas_text):
    # Christmas Day, a weekend, then the Boxing Day bank holiday moved to Monday the 28th.
    assert "Tuesday 29 December" in christmas_text
    assert "10am" in christmas_text


@pytest.fixture
def waiting(store) -> str:
    """A real person's callback: asked for on Christmas Day, due at the next opening."""
    christmas = london(CHRISTMAS)
    return request_callback(
        CallbackQueue(store, SEALER), NUMBER, "sms", christmas, london("2026-12-29T10:00")
    ).callback_id


def test_the_simulated_text_is_kept_as_a_simulated_callback(christmas_text, helpline, store):
    (item,) = listed(helpline)

    assert item["simulated"] is True
    assert item["status"] == "scheduled"
    assert item["source"] == "sms"
    assert item["number"] == "***456"
    due = datetime.fromisoformat(item["due"])
    assert due.utcoffset() is not None
    assert due == london("2026-12-29T10:00")
    assert CallbackQueue(store, SEALER, DEFAULT.simulation).get(item["id"]).number == NUMBER
    assert CallbackQueue(store, SEALER).open_for(NUMBER) is None  # nothing real was made
    assert "(simulated: never called)" in helpline("callbacks", "list").stdout


def test_a_real_callback_is_listed_as_real(waiting, helpline):
    (item,) = listed(helpline)
    assert (item["id"], item["simulated"]) == (waiting, False)
    assert "simulated" not in helpline("callbacks", "list").stdout


def test_numbers_are_masked_unless_revealed(waiting, helpline):
    plain = helpline("callbacks", "list")
    assert "***456" in plain.stdout
    assert NUMBER not in plain.stdout

    (item,) = listed(helpline, "--reveal")
    assert item["number"] == NUMBER


def test_list_filters_by_status(waiting, helpline, store):
    in_hours = london("2026-12-29T11:00")
    queue = CallbackQueue(store, SEALER)
    due_now = request_callback(queue, OTHER, "voice", in_hours, in_hours).callback_id
    scheduled = queue.open_for(NUMBER).id

    assert [i["id"] for i in listed(helpline, "--status", "scheduled")] == [scheduled]
    assert [i["id"] for i in listed(helpline, "--status", "due")] == [due_now]
    assert listed(helpline, "--status", "cancelled") == []
    assert {i["id"] for i in listed(helpline)} == {scheduled, due_now}


def test_an_empty_list_says_so(helpline):
    result = helpline("callbacks", "list", "--status", "due")

    assert result.exit_code == 0
    assert "No callbacks due." in result.stdout


def test_show_one_callback(waiting, helpline):
    (item,) = listed(helpline)

    shown = helpline("callbacks", "show", str(item["id"]), "--json")

    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == item
    revealed = json.loads(
        helpline("callbacks", "show", str(item["id"]), "--reveal", "--json").stdout
    )
    assert revealed["number"] == NUMBER


def test_show_an_unknown_callback_fails(helpline):
    result = helpline("callbacks", "show", "0123456789abcdef")

    assert result.exit_code != 0
    assert "no callback 0123456789abcdef" in result.output


def test_cancel_a_callback_once(waiting, helpline, store):
    (item,) = listed(helpline)
    callback_id = str(item["id"])

    cancelled = helpline("callbacks", "cancel", callback_id)

    assert cancelled.exit_code == 0
    assert f"cancelled {callback_id}" in cancelled.stdout
    shown = helpline("callbacks", "show", callback_id, "--json").stdout
    assert json.loads(shown)["status"] == "cancelled"
    assert listed(helpline, "--status", "scheduled") == []
    assert CallbackQueue(store, SEALER).open_for(NUMBER) is None

    again = helpline("callbacks", "cancel", callback_id)
    assert again.exit_code != 0
    assert f"no open callback {callback_id}" in again.output


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("STOP", "opt-out. Twilio answers this itself; nothing is kept"),
        ("stop.", "opt-out. Twilio answers this itself; nothing is kept"),
        ("START", "opt-in. Twilio answers this itself"),
    ],
)
def test_a_text_we_do_not_answer_is_explained(helpline, body, said):
    """Found: STOP through `simulate sms` printed "(no reply)" and nothing else."""
    result = helpline("simulate", "sms", "--from", NUMBER, "--body", body)
    assert result.exit_code == 0, result.output
    assert said in result.stdout


def test_replies_paused_after_a_flood_are_explained(helpline):
    outputs = [
        helpline(
            "simulate", "sms", "--from", NUMBER, "--body", f"hello {n}", "--session", "flood"
        ).stdout
        for n in range(12)
    ]
    assert "replies to it are paused for a while" in outputs[-1]
