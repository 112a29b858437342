"""The five steps heard by just listening, and openings short enough to reach the options.

Found (issue 19): pressing 2 for the steps and staying silent played Step 1 only, then
"Sorry, I didn't hear a choice" three times and goodbye; the out-of-hours opening reached
its first option after 34 s and the callback option after 46 s (Christmas Day: later still).

The rule: silence on a page that reads content goes on (next part, next step, all five),
then the main menu's options once, then goodbye with the 999 line and how to text; from the
queue, back to the wait. Every opening reaches its first option within 30 s of speech and
the callback option within 45 s (words at 150 a minute, from the call's first word).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, FlowFileError, VoiceContent, load_flows
from ivr.core import spoken
from ivr.simulate import SILENCE, simulate_call
from ivr.store.closures import close_line
from tests.common import OPEN_AT, SUPERVISOR_PHONE, add_advisor, flashes, post_form, signed_in
from tests.conftest import AppFactory

EVENING = "2026-11-25T19:00"  # a Wednesday, after closing
MORNING = "2026-11-25T09:00"  # before opening
SATURDAY = "2026-11-28T11:00"
CHRISTMAS = "2026-12-25T11:00"
BOXING_DAY = "2026-12-28T11:00"  # the Boxing Day bank holiday (observed), a Monday
SUMMER_HOLIDAY = "2026-08-31T11:00"
WORDS_PER_SECOND = 150 / 60
FIRST_OPTION_SECONDS = 30
CALLBACK_SECONDS = 45
NOW = datetime(2026, 11, 25, 11, tzinfo=UTC)


def content_of(app: Flask, language: str = "en") -> VoiceContent:
    return app.extensions["helpline"].flows.speaking(language).voice


def flows_copy(folder: Path, welsh: bool = False, hours_extra: str = "") -> Path:
    """The shipped flows/ (Welsh content included), Welsh switched on or not, hours.toml
    with `hours_extra`."""
    target = folder / "flows"
    shutil.copytree(DEFAULT_DIR, target)
    (target / "languages.toml").write_text(f"welsh = {'true' if welsh else 'false'}\n")
    if hours_extra:
        with (target / "hours.toml").open("a", encoding="utf-8") as f:
            f.write("\n" + hours_extra + "\n")
    return target


# ------------------------------------------------------------------ the silent walk


@dataclass(frozen=True)
class Entry:
    name: str
    at: str
    presses: tuple[str, ...]  # what gets the caller to Step 1
    language: str | None = None  # "cy": through the language page, in Welsh
    advisors: str | None = None  # "busy": the caller waits in the queue first


ENTRIES = [
    Entry("out of hours menu", EVENING, ("2",)),
    Entry("in hours menu", OPEN_AT, ("2",)),
    Entry("Christmas Day menu", CHRISTMAS, ("2",)),
    Entry("in hours, from the queue's wait", OPEN_AT, ("1", "2"), advisors="busy"),
    Entry("Welsh, out of hours", EVENING, ("2",), language="cy"),
    Entry("Welsh, in hours", OPEN_AT, ("2",), language="cy"),
]


def every_part(content: VoiceContent) -> list[tuple[str, int]]:
    return [
        (f"step{n}", part)
        for n in range(1, 6)
        for part in range(1, len(content.pages[f"step{n}"].parts) + 1)
    ]


def walk(make_app: AppFactory, entry: Entry, extra_silences: int) -> tuple[VoiceContent, list]:
    app = make_app(entry.at)
    content = content_of(app, entry.language or "en")
    silences = [SILENCE] * (len(every_part(content)) + extra_silences)
    transcript = simulate_call(
        app, [*entry.presses, *silences], language=entry.language, advisors=entry.advisors
    )
    return content, transcript.events


def heard_lines(events: list) -> list[str]:
    return [e["text"] for e in events if e["type"] == "say"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_staying_silent_hears_all_five_steps_in_order_without_a_sorry(make_app, entry) -> None:
    content, events = walk(make_app, entry, extra_silences=0)
    said = heard_lines(events)
    at = said.index(content.pages["step1"].parts[0][0])
    for page, part in every_part(content):
        for line in content.pages[page].parts[part - 1]:
            assert line in said[at:], (entry.name, page, part, line)
            at = said.index(line, at)  # in order: each after the one before
    assert content.no_input not in said, entry.name
    assert content.invalid not in said, entry.name


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.advisors is None], ids=lambda e: e.name)
def test_after_the_fifth_step_the_menu_once_then_goodbye_with_999_and_how_to_text(
    make_app, entry
) -> None:
    content, events = walk(make_app, entry, extra_silences=1)
    said = heard_lines(events)
    assert events[-1]["type"] == "hangup" and not events[-1].get("text"), "we end the call"
    last = said.index(content.pages["step5"].parts[-1][-1])
    after = said[last:]
    assert content.last_step in after
    menu = content.open_options if entry.at == OPEN_AT else content.closed_options
    for option in menu:  # the main menu's options, once
        assert after.count(option.prompt) == 1, option.prompt
    assert after[-1 - len(content.gave_up) :] == [content.safety, *content.gave_up]
    assert content.no_input not in said


def test_steps_heard_from_the_queue_go_back_to_the_wait_never_goodbye(make_app) -> None:
    entry = ENTRIES[3]
    content, events = walk(make_app, entry, extra_silences=0)
    said = heard_lines(events)
    last = said.index(content.pages["step5"].parts[-1][-1])
    assert content.queue["back"] in said[last:]
    assert not any(line in said[last:] for line in content.gave_up)
    assert events[-1].get("text") == "the caller hangs up"  # still waiting when they go


@pytest.mark.parametrize("page", ["police", "support"])
def test_silence_after_the_police_or_support_page_is_the_menu_not_a_sorry(make_app, page) -> None:
    app = make_app(EVENING)
    content = content_of(app)
    key = next(o.key for o in content.closed_options if o.action == page)
    parts = len(content.pages[page].parts)
    transcript = simulate_call(app, [key, *[SILENCE] * (parts + 1)])
    said = transcript.heard()
    assert content.no_input not in said
    for option in content.closed_options:
        assert said.count(option.prompt) == 2  # the opening, then once after the page
    assert said[-1 - len(content.gave_up) :] == [content.safety, *content.gave_up]


@pytest.mark.parametrize(("nav", "expect"), [("8", "step3"), ("1", "step1"), ("0", "menu")])
def test_navigation_keys_still_work_on_every_step(make_app, nav, expect) -> None:
    app = make_app(EVENING)
    content = content_of(app)
    to_step2 = [SILENCE] * len(content.pages["step1"].parts)
    last_of_step2 = [SILENCE] * (len(content.pages["step2"].parts) - 1)
    said = simulate_call(app, ["2", *to_step2, *last_of_step2, nav]).heard()
    after = said[said.index(content.pages["step2"].parts[-1][-1]) + 1 :]
    first = (
        content.closed_options[0].prompt if expect == "menu" else content.pages[expect].parts[0][0]
    )
    assert first in after
    assert content.no_input not in said


def test_after_a_wrong_key_on_a_step_silence_still_goes_on(make_app) -> None:
    app = make_app(EVENING)
    content = content_of(app)
    to_last_of_step1 = [SILENCE] * (len(content.pages["step1"].parts) - 1)
    said = simulate_call(app, ["2", *to_last_of_step1, "6", SILENCE]).heard()
    assert content.invalid in said  # 6 is no key on a step: said so once
    assert content.no_input not in said
    assert content.steps[1].title in said[said.index(content.invalid) :]


# ------------------------------------------------------------------ openings


def reached(said: list[str], prompt: str, key: str) -> float:
    """Seconds of speech (150 words a minute) from the first word heard until the key of
    `prompt` has been said ("... press 5")."""
    at = said.index(prompt)
    words = sum(len(line.split()) for line in said[:at])
    tokens = prompt.split()
    upto = next(i for i, t in enumerate(tokens) if t.strip(".,;:!?") == key)
    return (words + upto + 1) / WORDS_PER_SECOND


@pytest.mark.parametrize(
    ("texts", "index", "key", "words"),
    [
        (("Hello there.", "To hear advice, press 2, or say advice."), 1, "2", 2 + 5),
        (("One two three.", "I glywed ein pum cam o gyngor, pwyswch 2."), 1, "2", 3 + 9),
        (("Dial 9 9 9.", "For support, press 4."), 1, "4", 4 + 4),
        (("Say call back.",), 0, "5", 3),  # never says its key: all of it
    ],
)
def test_an_option_is_reached_when_its_key_has_been_said(texts, index, key, words) -> None:
    assert spoken.words_to_key(texts, index, key) == words
    assert spoken.speech_seconds(75) == FIRST_OPTION_SECONDS


def opening(app: Flask, language: str | None = None) -> list[str]:
    """What a caller hears from the first word until the menu listens and they hang up (on
    the language page, after it has been said: they choose then)."""
    return simulate_call(app, [], language=language).heard()


@dataclass(frozen=True)
class Opening:
    name: str
    at: str
    welsh_on: bool = False
    language: str | None = None  # with Welsh on: "en" or "cy", chosen on the language page
    hours_extra: str = ""
    closure: str = ""  # a supervisor's closure message, set now


CLOSURE = (
    "[[closures]]\nfrom = 2026-12-21\nto = 2026-12-24\n"
    'message = "We are closed for the Christmas holidays."\n'
    'message_cy = "Rydyn ni ar gau dros y Nadolig."'
)
SITUATIONS = [
    ("in hours", OPEN_AT, ""),
    ("out of hours, evening", EVENING, ""),
    ("out of hours, morning", MORNING, ""),
    ("weekend", SATURDAY, ""),
    ("bank holiday", SUMMER_HOLIDAY, ""),
    ("Boxing Day observed", BOXING_DAY, ""),
    ("Christmas Day", CHRISTMAS, ""),
    ("closure in hours.toml", "2026-12-22T11:00", CLOSURE),
]
OPENINGS = [
    *(Opening(name, at, hours_extra=extra) for name, at, extra in SITUATIONS),
    *(
        Opening(f"{name}, Welsh on, {lang}", at, True, lang, extra)
        for name, at, extra in SITUATIONS
        for lang in ("en", "cy")
    ),
    Opening("supervisor's closure", OPEN_AT, closure="We are closed today for training."),
    Opening(
        "supervisor's closure, Welsh on",
        OPEN_AT,
        True,
        "en",
        closure="Closed today for training.",
    ),
]


@pytest.mark.parametrize("case", OPENINGS, ids=lambda c: c.name)
def test_every_opening_reaches_its_first_option_in_30s_and_the_callback_in_45s(
    make_app, tmp_path, store: redis.Redis, case: Opening
) -> None:
    folder = flows_copy(tmp_path, case.welsh_on, case.hours_extra)
    app = make_app(case.at, flows_dir=folder)
    if case.closure:
        close_line(store, case.closure, None, app.extensions["helpline"].keys.real)
    said = opening(app, case.language)
    content = content_of(app, case.language or "en")
    status = app.extensions["helpline"].call_status()
    menu = content.open_options if status.open else content.closed_options
    first, callback = menu[0], next(o for o in menu if o.action == "callback")
    if case.closure:
        assert case.closure in said
    assert reached(said, first.prompt, first.key) <= FIRST_OPTION_SECONDS, said
    assert reached(said, callback.prompt, callback.key) <= CALLBACK_SECONDS, said


def test_the_reassurance_is_still_heard_in_every_opening(make_app, tmp_path) -> None:
    for welsh, language in ((False, None), (True, "en"), (True, "cy")):
        app = make_app(EVENING, flows_dir=flows_copy(tmp_path / str(language), welsh))
        content = content_of(app, language or "en")
        said = opening(app, language)
        assert all(line in said for line in content.reassurance), language


# ------------------------------------------------------------------ refused when too long


LONG_OPEN = (
    'say = ["The helpline is open now."]',
    'say = ["The helpline is open now, and our advisors are ready to take your call. '
    'Whatever has happened, and however long ago it was, we will listen to you."]',
)


def edited(tmp_path: Path, old: str, new: str, file: str = "voice.toml") -> tuple[Path, int]:
    folder = flows_copy(tmp_path)
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder, line


def test_the_loader_refuses_an_opening_over_30s_to_its_first_option(tmp_path) -> None:
    folder, line = edited(tmp_path, *LONG_OPEN)
    with pytest.raises(FlowFileError) as raised:
        load_flows(folder, NOW)
    message = str(raised.value)
    assert f"voice.toml:{line}:" in message
    assert "first option" in message and "30 seconds" in message


def test_helpline_check_refuses_an_opening_over_30s_to_its_first_option(
    tmp_path, monkeypatch
) -> None:
    for name in ("TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "HELPLINE_FLOWS_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder, line = edited(tmp_path, *LONG_OPEN)
    result = CliRunner().invoke(
        main, ["check"], env={"HELPLINE_FLOWS_DIR": str(folder)}, catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert f"voice.toml:{line}:" in result.output
    assert "first option" in result.output


# With Welsh on, the bilingual opening leaves 14 words for a closure's message; without it,
# 120 characters (the texts' limit) can't reach the 30 s.
TOO_LONG = "We are closed this week for staff training and will be back on Monday, thank you."


def test_hours_toml_refuses_a_closure_message_that_makes_the_opening_too_long(tmp_path) -> None:
    closure = f'[[closures]]\nfrom = 2026-12-21\nto = 2026-12-24\nmessage = "{TOO_LONG}"'
    folder = flows_copy(tmp_path, welsh=True, hours_extra=closure)
    text = (folder / "hours.toml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, start=1) if t.startswith("message = "))
    with pytest.raises(FlowFileError) as raised:
        load_flows(folder, NOW)
    message = str(raised.value)
    assert f"hours.toml:{line}:" in message
    assert "first option" in message and "words too many" in message


def supervisor(make_app: AppFactory, store: redis.Redis, tmp_path: Path):
    app = make_app(OPEN_AT, cookie_secure=False, flows_dir=flows_copy(tmp_path, welsh=True))
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    return app, signed_in(app, "Sam")


def test_the_supervisor_form_refuses_a_message_that_makes_the_opening_too_long(
    make_app, store: redis.Redis, tmp_path
) -> None:
    app, client = supervisor(make_app, store, tmp_path)
    page = "/console/supervisor/"
    post_form(client, "/console/supervisor/close", {"message": TOO_LONG}, page=page)
    said = flashes(client, page)
    assert "The line was not closed" in said
    assert "first option" in said and "words too many" in said
    assert app.extensions["helpline"].closure() is None


def test_the_supervisor_form_takes_a_short_message(make_app, store: redis.Redis, tmp_path) -> None:
    app, client = supervisor(make_app, store, tmp_path)
    page = "/console/supervisor/"
    post_form(client, "/console/supervisor/close", {"message": "Closed for training."}, page=page)
    assert "callers now hear your message" in flashes(client, page)
    assert app.extensions["helpline"].closure() is not None
