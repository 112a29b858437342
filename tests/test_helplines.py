"""Helplines by number (issue 14, item 1): one deployment, one store, two helplines with their
own numbers, hours, words, advisors, callbacks and figures.

The England-and-Wales line is the default (the tests' usual number); the Scotland line
closes on St Andrew's Day, Monday 30 November 2026, when the other is open.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask

from ivr.content.flows import DEFAULT_DIR
from ivr.content.helplines import DEFAULT_NAME, load_lines
from ivr.content.tomlfile import FlowFileError
from ivr.core.clock import fixed_clock
from ivr.core.livequeue import BY_WAIT, LIVE_FIRST
from ivr.jobs.scheduler import Scheduler
from ivr.services import build_deployment
from ivr.simulate import TwilioLikeClient
from ivr.store import audit, stats
from ivr.store.closures import read_override
from ivr.store.keys import Keys
from ivr.store.live import LiveQueue, Rules
from ivr.store.queue import CallbackQueue
from tests.common import (
    ADVISOR_PHONE,
    DATA_KEY,
    HELPLINE,
    LOOKUP_KEY,
    SEALER,
    SENDER,
    SUPERVISOR_PHONE,
    TOKEN,
    heard,
    london,
    new_sid,
    post_form,
    replies,
    signed_in,
)

SCOTLAND = "+441314960000"  # Ofcom's drama range for Edinburgh
UNKNOWN = "+441174960000"  # a number of none of them
ST_ANDREWS = "2026-11-30T11:00"  # a Monday: Scotland's bank holiday, England's working day
ENGLAND_WORDS = "Thank you for calling the helpline."
SCOTLAND_WORDS = "Thank you for calling the helpline for Scotland."
ENGLAND = Keys("england")
SCOTS = Keys("scotland")

HELPLINES_TOML = f"""\
# The default helpline first.
[[helpline]]
name = "england"
title = "England and Wales line"
numbers = ["{HELPLINE}"]
folder = "england"

[[helpline]]
name = "scotland"
title = "Scotland line"
numbers = ["{SCOTLAND}"]
folder = "scotland"
"""


def _copy_flows(folder: Path) -> Path:
    folder.mkdir()
    for file in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(file, folder / file.name)
    return folder


def _edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text, (file, old)
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def two_lines(tmp_path: Path) -> Path:
    """flows/ of a deployment with two helplines, each in its own folder."""
    root = tmp_path / "flows"
    root.mkdir()
    _copy_flows(root / "england")
    scotland = _copy_flows(root / "scotland")
    _edit(scotland / "hours.toml", 'subdivision = "ENG"', 'subdivision = "SCT"')
    _edit(scotland / "voice.toml", f'say = ["{ENGLAND_WORDS}"]', f'say = ["{SCOTLAND_WORDS}"]')
    _edit(scotland / "sms.toml", "We are open", "The Scotland line is open")
    (root / "helplines.toml").write_text(HELPLINES_TOML, encoding="utf-8")
    return root


AppAt = Callable[..., Flask]


@pytest.fixture
def make_lines_app(make_app: Callable[..., Flask], two_lines: Path) -> AppAt:
    def factory(at: str = ST_ANDREWS, **settings: object) -> Flask:
        return make_app(at, flows_dir=two_lines, cookie_secure=False, **settings)

    return factory


def call(app: Flask, to: str, caller: str = "+447700900123", sid: str = "a") -> TwilioLikeClient:
    return TwilioLikeClient(
        app,
        {"CallSid": "CA" + sid * 32, "From": caller, "To": to, "CallStatus": "in-progress"},
    )


def text(app: Flask, to: str, body: str, sender: str = SENDER) -> list[str]:
    client = TwilioLikeClient(app, {"AccountSid": "AC" + "0" * 32, "From": sender, "To": to})
    return replies(client.post("/sms", {"MessageSid": new_sid(), "Body": body}))


def output(result: object) -> list[str]:
    """A command's output, line by line."""
    return [line.strip() for line in result.stdout.splitlines()]  # type: ignore[attr-defined]


def callbacks(store: redis.Redis, keys: Keys) -> list[str]:
    return [cb.status for cb in CallbackQueue(store, SEALER, keys).all()]


# ------------------------------------------------------------------ helplines.toml


def test_without_the_file_there_is_one_helpline_from_flows() -> None:
    lines = load_lines(DEFAULT_DIR)
    assert lines.names == (DEFAULT_NAME,)
    assert lines.default.directory == DEFAULT_DIR and lines.source is None


def test_the_file_names_each_numbers_helpline(two_lines: Path) -> None:
    lines = load_lines(two_lines)
    assert lines.names == ("england", "scotland")
    assert lines.for_number(SCOTLAND).name == "scotland"  # type: ignore[union-attr]
    assert lines.for_number(UNKNOWN) is None
    assert lines.find("0131 496 0000").name == "scotland"  # type: ignore[union-attr]
    assert lines.find("Scotland").name == "scotland"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        ('name = "england"|name = "England"', "lower-case letters", 3),
        ('name = "scotland"|name = "simulated"', "used by the app itself", 9),
        ('name = "scotland"|name = "england"', "a second helpline called 'england'", 9),
        (f'numbers = ["{SCOTLAND}"]|numbers = ["{HELPLINE}"]', "listed twice", 11),
        (f'numbers = ["{SCOTLAND}"]|numbers = []', "only the first helpline", 11),
        (f'numbers = ["{SCOTLAND}"]|numbers = ["01314960000"]', "E.164", 11),
        ('folder = "scotland"|folder = "wales"', "no folder", 12),
        ('title = "Scotland line"|colour = "blue"', "unknown field 'colour'", 10),
    ],
)
def test_a_mistake_in_the_file_stops_start_up_naming_file_and_line(
    two_lines: Path, change: str, message: str, line: int
) -> None:
    old, new = change.split("|")
    _edit(two_lines / "helplines.toml", old, new)
    with pytest.raises(FlowFileError) as error:
        load_lines(two_lines)
    assert error.value.path == two_lines / "helplines.toml"
    assert message in error.value.message and error.value.line == line


def test_a_mistake_in_a_helplines_folder_stops_start_up_naming_its_file(
    two_lines: Path, store_settings: dict[str, object]
) -> None:
    _edit(two_lines / "scotland" / "hours.toml", 'subdivision = "SCT"', 'subdivision = "XYZ"')
    from ivr.config import Settings

    settings = Settings(data_key=(DATA_KEY,), lookup_key=LOOKUP_KEY).override(
        {**store_settings, "flows_dir": two_lines}
    )
    with pytest.raises(Exception, match=r"scotland/hours.toml:\d+"):
        build_deployment(settings, upgrade=False)


# ------------------------------------------------------------------ calls and texts


def test_each_number_answers_with_its_own_hours_and_words(make_lines_app: AppAt) -> None:
    app = make_lines_app()  # St Andrew's Day, 11:00
    england = " ".join(heard(call(app, HELPLINE).post("/voice")))
    scotland = " ".join(heard(call(app, SCOTLAND, sid="b").post("/voice")))
    assert ENGLAND_WORDS in england and SCOTLAND_WORDS not in england
    assert SCOTLAND_WORDS in scotland
    assert "Saint Andrew's Day" in scotland  # closed: a bank holiday in Scotland
    assert "Saint Andrew's Day" not in england  # open as on any Monday


def test_an_unknown_number_gets_the_default_helplines_answers(make_lines_app: AppAt) -> None:
    app = make_lines_app()
    response = call(app, UNKNOWN).post("/voice")
    assert response.status_code == 200
    assert ENGLAND_WORDS in " ".join(heard(response))
    assert "The Scotland line" not in text(app, UNKNOWN, "HELP")[0]


def test_a_to_in_the_query_does_not_choose_the_helpline(make_lines_app: AppAt) -> None:
    """Twilio's `To` is in a POST's form: a signed `POST /voice?To=...` (the query wins in
    request.values) picked the other line."""
    app = make_lines_app()
    england = " ".join(heard(call(app, HELPLINE).post(f"/voice?To=%2B{SCOTLAND[1:]}")))
    assert ENGLAND_WORDS in england and SCOTLAND_WORDS not in england
    # [-1]: while a line is closed, the crisis text goes first (test_sms_safety.py)
    assert text(app, SCOTLAND, "HELP")[-1].startswith("The Scotland line is open")
    client = TwilioLikeClient(app, {"AccountSid": "AC" + "0" * 32, "From": SENDER, "To": HELPLINE})
    reply = replies(
        client.post(f"/sms?To=%2B{SCOTLAND[1:]}", {"MessageSid": new_sid(), "Body": "HELP"})
    )
    assert reply[-1].startswith("We are open")


def test_texts_get_their_own_helplines_words(make_lines_app: AppAt) -> None:
    app = make_lines_app()
    # [-1]: while a line is closed, the crisis text goes first (test_sms_safety.py)
    assert text(app, SCOTLAND, "HELP")[-1].startswith("The Scotland line is open")
    assert text(app, HELPLINE, "HELP")[-1].startswith("We are open")


def test_the_same_person_may_ask_both_lines_and_stop_one(
    make_lines_app: AppAt, store: redis.Redis
) -> None:
    app = make_lines_app("2026-11-25T11:00")  # both open
    text(app, HELPLINE, "CALL ME")
    text(app, SCOTLAND, "CALL ME")
    assert len(callbacks(store, ENGLAND)) == 1 and len(callbacks(store, SCOTS)) == 1
    text(app, SCOTLAND, "STOP")  # Twilio blocks this pair only: this line forgets them
    assert callbacks(store, SCOTS) == []
    assert len(callbacks(store, ENGLAND)) == 1
    assert CallbackQueue(store, SEALER, ENGLAND).has_open(SENDER)


def test_a_text_to_one_line_never_finds_the_others_callback(
    make_lines_app: AppAt, store: redis.Redis
) -> None:
    app = make_lines_app("2026-11-25T11:00")
    text(app, HELPLINE, "CALL ME")
    first = text(app, SCOTLAND, "after 2pm")  # a new request there, not a change here
    assert len(callbacks(store, SCOTS)) == 1
    [english] = CallbackQueue(store, SEALER, ENGLAND).all()
    assert english.plan is not None and "14" not in english.plan.dumps()
    assert first


def test_calls_are_counted_in_their_own_helplines_figures(
    make_lines_app: AppAt, store: redis.Redis
) -> None:
    app = make_lines_app()
    call(app, SCOTLAND).post("/voice")
    call(app, SCOTLAND, sid="b").post("/voice")
    call(app, HELPLINE, sid="c").post("/voice")
    stats.flush()
    day = london(ST_ANDREWS).date()
    scotland, _ = stats.day(store, day, SCOTS)
    england, _ = stats.day(store, day, ENGLAND)
    assert scotland.get("calls") == 2 and scotland.get("calls:closed:11") == 2
    assert england.get("calls") == 1 and england.get("calls:open:11") == 1


# ------------------------------------------------------------------ advisors and supervisors


@pytest.fixture
def staff(store: redis.Redis) -> None:
    from ivr.store.accounts import Accounts

    accounts = Accounts(store, SEALER)
    accounts.add("Alex", ADVISOR_PHONE, "correct horse battery", helplines=("england",))
    accounts.add("Morag", "+447400123458", "correct horse battery", helplines=("scotland",))
    accounts.add("Sam", SUPERVISOR_PHONE, "correct horse battery", True, helplines=("england",))
    accounts.add("Iona", "+447400123459", "correct horse battery", True, helplines=("scotland",))
    accounts.add(
        "Both", "+447400123460", "correct horse battery", helplines=("england", "scotland")
    )


def test_the_console_shows_the_helplines_an_advisor_serves(
    make_lines_app: AppAt, staff: None
) -> None:
    app = make_lines_app()
    morag = signed_in(app, "Morag").get("/console/").get_data(as_text=True)
    assert "Taking calls for: Scotland line" in morag and "England and Wales" not in morag
    both = signed_in(app, "Both")
    page = both.get("/console/").get_data(as_text=True)
    assert "Taking calls for: England and Wales line" in page and "?helpline=scotland" in page
    page = both.get("/console/?helpline=scotland").get_data(as_text=True)
    assert "Taking calls for: Scotland line" in page
    page = both.get("/console/").get_data(as_text=True)  # the choice is kept
    assert "Taking calls for: Scotland line" in page
    alex = signed_in(app, "Alex").get("/console/?helpline=scotland").get_data(as_text=True)
    assert "Taking calls for: England and Wales line" in alex  # not his to choose


def test_an_advisor_takes_only_their_helplines_callbacks(
    make_lines_app: AppAt, store: redis.Redis, staff: None
) -> None:
    app = make_lines_app("2026-11-25T11:00")
    text(app, SCOTLAND, "CALL ME")
    alex = signed_in(app, "Alex").get("/console/").get_data(as_text=True)
    morag = signed_in(app, "Morag").get("/console/").get_data(as_text=True)
    assert "+44 7400 •••456" not in alex
    assert "+44 7400 •••456" in morag


def test_a_supervisor_sees_and_manages_only_their_helplines(
    make_lines_app: AppAt, store: redis.Redis, staff: None
) -> None:
    app = make_lines_app()
    iona = signed_in(app, "Iona")
    page = iona.get("/console/supervisor/").get_data(as_text=True)
    assert "Morag" in page and "Both" in page and "Alex" not in page and "Sam" not in page
    refused = post_form(iona, "/console/supervisor/advisors/alex/duty", {"on_duty": "1"})
    assert refused.status_code == 404
    assert post_form(
        iona, "/console/supervisor/close", {"message": "Closed for training today."}
    ).status_code in (200, 302)
    assert read_override(store, SCOTS) is not None and read_override(store, ENGLAND) is None
    assert any(e["action"] == "closed the line" for e in audit.recent(store, 10, SCOTS))
    assert not any(e["action"] == "closed the line" for e in audit.recent(store, 10, ENGLAND))
    # Removing an advisor who serves both helplines removes them from this one only.
    post_form(iona, "/console/supervisor/advisors/both/remove", {})
    sam = signed_in(app, "Sam").get("/console/supervisor/").get_data(as_text=True)
    assert "Both" in sam
    said = iona.get("/console/supervisor/").get_data(as_text=True)
    assert "Removed Both from this helpline." in said  # by the name staff know them by
    advisors = iona.get("/console/supervisor/").get_data(as_text=True).split("Audit trail")[0]
    assert "Both" not in advisors


def test_a_supervisor_sees_and_sets_only_their_helplines_queue(
    make_lines_app: AppAt, store: redis.Redis, staff: None
) -> None:
    app = make_lines_app("2026-11-25T11:00")  # a Wednesday: both lines open
    joined = call(app, SCOTLAND, caller="+447400123456", sid="b").post("/voice/queue/join")
    assert "<Enqueue" in joined.get_data(as_text=True)
    iona, sam = signed_in(app, "Iona"), signed_in(app, "Sam")
    scots = iona.get("/console/supervisor/queue.json").get_json()
    assert [c["number"] for c in scots["live"]] == ["***456"]
    assert {a["name"] for a in scots["advisors"]} == {"Morag", "Iona", "Both"}
    english = sam.get("/console/supervisor/queue.json").get_json()
    assert english["live"] == []
    assert {a["name"] for a in english["advisors"]} == {"Alex", "Sam", "Both"}

    rules = {"max_wait": "3", "order": BY_WAIT}
    post_form(iona, "/console/supervisor/queue-rules", rules, page="/console/supervisor/")
    default = timedelta(minutes=10)
    assert LiveQueue(store, SCOTS).rules(default) == Rules(timedelta(minutes=3), BY_WAIT)
    assert LiveQueue(store, ENGLAND).rules(default) == Rules(default, LIVE_FIRST)


def test_a_supervisors_closure_closes_only_their_line(
    make_lines_app: AppAt, store: redis.Redis, staff: None
) -> None:
    from ivr.store.closures import close_line

    close_line(store, "We are closed for staff training.", None, SCOTS)
    app = make_lines_app("2026-11-25T11:00")
    assert "We are closed for staff training." in " ".join(
        heard(call(app, SCOTLAND).post("/voice"))
    )
    england = " ".join(heard(call(app, HELPLINE, sid="b").post("/voice")))
    assert "staff training" not in england


# ------------------------------------------------------------------ the scheduler


def test_the_scheduler_opens_each_helpline_at_its_own_hours(
    two_lines: Path, store: redis.Redis, store_settings: dict[str, object]
) -> None:
    from ivr.config import Settings

    app_settings = {**store_settings, "flows_dir": two_lines}
    settings = Settings(data_key=(DATA_KEY,), lookup_key=LOOKUP_KEY).override(app_settings)
    asked = build_deployment(settings, fixed_clock(london("2026-11-27T17:00")))
    for services in asked.all():  # a Friday evening: both promise Monday
        from tests.common import request_callback

        request_callback(
            services.queue, SENDER, "sms", london("2026-11-27T17:00"), london(ST_ANDREWS)
        )
    monday = build_deployment(settings, fixed_clock(london(ST_ANDREWS)))
    Scheduler(monday.default, every=monday.all()).tick()
    assert callbacks(store, ENGLAND) == ["due"]
    assert callbacks(store, SCOTS) == ["scheduled"]  # closed on St Andrew's Day


# ------------------------------------------------------------------ the commands


@pytest.fixture
def lines_cli(cli: Callable[..., object], two_lines: Path) -> Callable[..., object]:
    def run(*args: str) -> object:
        return cli(*args, flows=two_lines)

    return run


def test_hours_take_a_helpline_by_name_or_number(lines_cli: Callable[..., object]) -> None:
    scotland = output(lines_cli("hours", "--helpline", "scotland", "--at", ST_ANDREWS))
    by_number = output(lines_cli("hours", "--helpline", "0131 496 0000", "--at", ST_ANDREWS))
    default = output(lines_cli("hours", "--at", ST_ANDREWS))
    assert any("closed (bank holiday" in line for line in scotland)
    assert by_number == scotland
    assert any("open, closes at 16:00" in line for line in default)


def test_check_checks_every_helpline(lines_cli: Callable[..., object]) -> None:
    result = lines_cli("check", "--helpline", "scotland")
    lines = output(result)
    assert any("england, scotland" in line for line in lines)
    assert any("scotland is valid" in line for line in lines)


def test_an_unknown_helpline_is_refused_with_the_names(lines_cli: Callable[..., object]) -> None:
    result = lines_cli("hours", "--helpline", "wales")
    assert result.exit_code != 0  # type: ignore[attr-defined]
    assert "england, scotland" in result.output  # type: ignore[attr-defined]


def test_a_mistake_in_another_helplines_folder_does_not_stop_a_command_for_this_one(
    lines_cli: Callable[..., object], two_lines: Path
) -> None:
    """Start-up refuses the whole flows/; a command for a helpline whose own folder is sound
    (the fallback exported during an incident, its hours read) still runs, and a command
    for the broken one names the file."""
    _edit(two_lines / "scotland" / "hours.toml", 'subdivision = "SCT"', 'subdivision = "XX"')
    england = lines_cli("hours", "--at", ST_ANDREWS)
    assert england.exit_code == 0, england.output  # type: ignore[attr-defined]
    assert any("open, closes at 16:00" in line for line in output(england))
    assert "scotland/hours.toml" in england.stderr  # type: ignore[attr-defined]
    scotland = lines_cli("hours", "--helpline", "scotland", "--at", ST_ANDREWS)
    assert scotland.exit_code != 0  # type: ignore[attr-defined]
    assert "scotland/hours.toml" in scotland.output  # type: ignore[attr-defined]


def test_simulate_to_a_helpline(lines_cli: Callable[..., object]) -> None:
    heard_call = "\n".join(
        output(lines_cli("simulate", "call", "--to", "scotland", "--at", ST_ANDREWS))
    )
    assert SCOTLAND_WORDS in heard_call and "Saint Andrew's Day" in heard_call
    reply = "\n".join(output(lines_cli("simulate", "sms", "--to", SCOTLAND, "--body", "HELP")))
    assert "The Scotland line is open" in reply  # after the crisis text: closed that day


def test_callbacks_list_and_report_take_a_helpline(
    lines_cli: Callable[..., object], make_lines_app: AppAt, store: redis.Redis
) -> None:
    app = make_lines_app("2026-11-25T11:00")
    text(app, SCOTLAND, "CALL ME")
    scotland = output(lines_cli("callbacks", "list", "--helpline", "scotland"))
    england = output(lines_cli("callbacks", "list"))
    assert len(scotland) == 1 and england == ["No callbacks."]
    assert lines_cli("report", "--helpline", "scotland", "--month", "2026-11").exit_code == 0  # type: ignore[attr-defined]


def test_data_erase_erases_everywhere(
    lines_cli: Callable[..., object], make_lines_app: AppAt, store: redis.Redis
) -> None:
    app = make_lines_app("2026-11-25T11:00")
    text(app, HELPLINE, "CALL ME")
    text(app, SCOTLAND, "CALL ME")
    shown = "\n".join(output(lines_cli("data", "show", SENDER)))
    assert "Callbacks: 2" in shown
    lines_cli("data", "erase", SENDER, "--yes")
    assert callbacks(store, ENGLAND) == [] and callbacks(store, SCOTS) == []


def test_one_helpline_deployments_keep_their_keys(make_app: Callable[..., Flask]) -> None:
    """No helplines.toml: everything as before, under hl:main:."""
    app = make_app()
    services = app.extensions["helpline"]
    assert app.extensions["helplines"] == {"main": services}
    assert services.keys == Keys("main") and services.settings.twilio_auth_token == TOKEN
