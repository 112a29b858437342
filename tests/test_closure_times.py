"""Closures with times: a helpline closes at 2pm or 4pm on Christmas Eve, not for the whole
day. `from_time` is the first closed moment; `to_time` the moment the line reopens on `to`
(without it, `to` is the last whole day closed). Calls, texts and the callbacks they are
promised follow the closure to the minute."""

from __future__ import annotations

import shutil
from xml.etree import ElementTree

import pytest

from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.content.tomlfile import FlowFileError
from ivr.simulate import TwilioLikeClient
from ivr.store.closures import read_override
from ivr.store.queue import CallbackQueue
from tests.common import (
    SEALER,
    SUPERVISOR_PHONE,
    add_advisor,
    flows_with,
    heard,
    london,
    post_form,
    signed_in,
    twilio_client,
)

MESSAGE = "The helpline is closed for the Christmas holidays."
REOPENS = "We open again on Monday 4 January at 10am."
TEXTER = "+447400123456"
SUPERVISOR_PAGE = "/console/supervisor/"


def christmas(from_time: str = "16:00", to: str = "2027-01-01", to_time: str = "") -> str:
    return (
        f'[[closures]]\nfrom = 2026-12-24\nfrom_time = "{from_time}"\nto = {to}\n'
        + (f'to_time = "{to_time}"\n' if to_time else "")
        + f'message = "{MESSAGE}"\n'
    )


def call_at(make_app, flows, at: str) -> list[str]:
    return heard(twilio_client(make_app(at, flows_dir=flows)).post("/voice"))


def text_at(make_app, flows, at: str, body: str = "call me back please") -> list[str]:
    client = TwilioLikeClient(
        make_app(at, flows_dir=flows),
        {"From": TEXTER, "To": "+441234567890", "AccountSid": "AC" + "0" * 32},
    )
    response = client.post("/sms", {"Body": body, "MessageSid": "SM" + "7" * 32})
    return [m.text or "" for m in ElementTree.fromstring(response.get_data(as_text=True))]


@pytest.mark.parametrize("from_time", ["16:00", "14:00"])
def test_a_call_a_minute_before_the_closure_is_answered_open(make_app, tmp_path, from_time):
    flows = flows_with(tmp_path, christmas(from_time))
    hour, minute = from_time.split(":")
    before = f"2026-12-24T{int(hour) - 1:02}:59"
    said = " ".join(call_at(make_app, flows, before))
    assert MESSAGE not in said
    assert "closed" not in said.lower()


@pytest.mark.parametrize("from_time", ["16:00", "14:00"])
def test_a_call_as_the_closure_starts_hears_it_and_the_reopening(make_app, tmp_path, from_time):
    flows = flows_with(tmp_path, christmas(from_time))
    said = " ".join(call_at(make_app, flows, f"2026-12-24T{from_time}"))
    assert MESSAGE in said
    assert REOPENS in said


def test_the_hours_cut_the_day_short_at_from_time(tmp_path):
    hours = load_flows(flows_with(tmp_path, christmas("14:00")), london("2026-12-01T12:00")).hours
    open_at = hours.status(london("2026-12-24T13:59"))
    assert (open_at.open, open_at.closes_at) == (True, london("2026-12-24T14:00"))
    closed = hours.status(london("2026-12-24T14:00"))
    assert (closed.open, closed.reason.kind, closed.reason.text) == (False, "closure", MESSAGE)
    assert closed.next_opening == london("2027-01-04T10:00")
    assert hours.next_opening(london("2026-12-23T17:00")) == london("2026-12-24T10:00")


def test_to_time_is_the_reopening(tmp_path):
    flows = flows_with(tmp_path, christmas("14:00", to="2027-01-04", to_time="12:00"))
    hours = load_flows(flows, london("2026-12-01T12:00")).hours
    morning = hours.status(london("2027-01-04T11:59"))
    assert (morning.open, morning.reason.kind) == (False, "closure")
    assert morning.next_opening == london("2027-01-04T12:00")
    assert hours.status(london("2027-01-04T12:00")).open


def test_a_text_before_the_closure_is_called_back_before_it(make_app, tmp_path, store):
    flows = flows_with(tmp_path, christmas("14:00"))
    text_at(make_app, flows, "2026-12-24T13:00")
    callback = CallbackQueue(store, SEALER).open_for(TEXTER)
    assert callback is not None
    assert callback.slot_end <= london("2026-12-24T14:00")


def test_a_text_in_the_closure_is_promised_the_reopening(make_app, tmp_path, store):
    flows = flows_with(tmp_path, christmas("14:00"))
    [reply] = text_at(make_app, flows, "2026-12-24T14:30")
    assert reply.startswith(MESSAGE)
    assert "Monday 4 January at 10am" in reply
    callback = CallbackQueue(store, SEALER).open_for(TEXTER)
    assert callback.due_at == london("2027-01-04T10:00")


def test_a_text_before_a_late_reopening_is_promised_its_time(make_app, tmp_path, store):
    flows = flows_with(tmp_path, christmas("14:00", to="2027-01-04", to_time="12:00"))
    [reply] = text_at(make_app, flows, "2027-01-04T09:00")
    assert reply.startswith(MESSAGE)
    callback = CallbackQueue(store, SEALER).open_for(TEXTER)
    assert callback.due_at == london("2027-01-04T12:00")


@pytest.mark.parametrize(
    ("message", "named"),
    [
        ("Closed for Christmas. We reopen on 4 January.", "reopen"),
        ("Closed for Christmas, back on Monday.", "back on"),
        ("Closed until Monday.", "Monday"),
        ("Closed over Christmas until 4 January.", "4 January"),
        ("Closed until 04/01.", "04/01"),
    ],
)
def test_helpline_check_warns_of_a_message_that_names_the_reopening(cli, tmp_path, message, named):
    flows = flows_with(tmp_path, christmas().replace(MESSAGE, message))
    output = cli("check", flows=flows).output
    line = (tmp_path / "hours.toml").read_text().splitlines().index(f'message = "{message}"') + 1
    assert f"warning: {tmp_path / 'hours.toml'}:{line}: the closure's message says {named!r}" in (
        output
    )
    assert "they would hear it twice" in output


def test_helpline_check_is_quiet_about_a_message_that_does_not(cli, tmp_path):
    flows = flows_with(
        tmp_path, christmas().replace(MESSAGE, "You may text us while we're closed.")
    )
    assert "closure's message" not in cli("check", flows=flows).output


@pytest.mark.parametrize(
    ("written", "reopens"),
    [
        ("14:00", "2026-11-25T14:00"),
        ("2pm", "2026-11-25T14:00"),
        ("2026-11-26 12:00", "2026-11-26T12:00"),
        ("2026-11-26T12:00", "2026-11-26T12:00"),
        ("26/11/2026 12:00", "2026-11-26T12:00"),
    ],
)
def test_the_supervisor_closes_until_a_reopening_written_as_staff_write_it(
    make_app, store, written, reopens
):
    app = make_app("2026-11-25T11:00", cookie_secure=False)
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    client = signed_in(app, "Sam")
    page = client.get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert "Reopens at (optional)" in page
    assert "open again from that moment" in page
    post_form(
        client,
        "/console/supervisor/close",
        {"message": "Closed for training.", "until": written},
        page=SUPERVISOR_PAGE,
    )
    assert read_override(store).until == london(reopens)


# With Welsh on, the bilingual opening leaves few words for a closure's message.
TOO_LONG = "We are closed this week for staff training, and we are sorry for the wait, thank you."


@pytest.mark.parametrize(
    "times",
    [
        'from = 2026-12-24\nfrom_time = "14:00"\nto = 2026-12-24',
        'from = 2026-12-21\nto = 2026-12-22\nto_time = "12:00"',
    ],
    ids=["from_time", "to_time"],
)
def test_a_timed_closure_whose_message_makes_the_opening_too_long_is_refused(tmp_path, times):
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    (folder / "languages.toml").write_text("welsh = true\n")
    with (folder / "hours.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[[closures]]\n{times}\nmessage = "{TOO_LONG}"\n')
    lines = (folder / "hours.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(lines, start=1) if t.startswith("message = "))
    with pytest.raises(FlowFileError) as raised:
        load_flows(folder, london("2026-12-01T12:00"))
    assert f"hours.toml:{line}:" in str(raised.value)
    assert "first option" in str(raised.value)
