"""Wherever the helpline listens to a caller, naming danger ("I'm scared", "nine nine nine")
gets the 999 line at once; then the call goes on to what they also asked for, or the same
question again (that is no wrong try). Keying 999, 112 or 101 as a callback number gets the
same. Walks go through `helpline simulate call` (CLI); single steps are signed posts.
Expected words come from the loaded flows/voice.toml."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, VoiceContent, load_flows
from ivr.store.keys import DEFAULT
from tests.common import (
    assert_not_hears,
    cli_heard,
    cli_lines,
    london,
    path,
    query,
    redirect_of,
    spoken,
    twilio_client,
    twiml,
)

pytestmark = pytest.mark.usefixtures("cli_env")  # the `helpline` command's clean environment

IN_HOURS, CHRISTMAS = "2026-11-25T11:00", "2026-12-25T11:00"
ME = "+447400123456"


@pytest.fixture(scope="module")
def content() -> VoiceContent:
    return load_flows(DEFAULT_DIR, london(IN_HOURS)).voice


def parts(content: VoiceContent, page: str) -> int:
    return len(content.pages[page].parts)


def to_page(page: str, part: int) -> list[str]:
    """The keys that lead from the main menu to a part of a page."""
    first = {"police": ["3"], "support": ["4"]}.get(page, ["2", page.removeprefix("step")])
    return first + ["8"] * (part - 1)


def listening_places(content: VoiceContent) -> list[tuple[str, str, str, list[str]]]:
    """(name, when, caller, keys to get there) for every place a caller is listened to."""
    places = [("open menu", IN_HOURS, ME, []), ("closed menu", CHRISTMAS, ME, [])]
    places += [
        (f"{page} part {part}", CHRISTMAS, ME, to_page(page, part))
        for page in content.pages
        for part in range(1, parts(content, page) + 1)
    ]
    places += [
        ("callback: confirm the number", IN_HOURS, ME, ["5"]),
        ("callback: read back", IN_HOURS, "anonymous", ["5", "07400123456"]),
        ("callback: voicemail", IN_HOURS, ME, ["5", "1"]),
    ]
    return places


PLACES = listening_places(load_flows(DEFAULT_DIR, london(IN_HOURS)).voice)


def simulate(at: str, caller: str, *inputs: tuple[str, str]) -> Result:
    args = ["simulate", "call", "--at", at, "--from", caller]
    for option, value in inputs:
        args += [option, value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("spoken", ["nine nine nine", "999", "I'm scared", "emergency"])
@pytest.mark.parametrize(("place", "at", "caller", "keys"), PLACES, ids=[p[0] for p in PLACES])
def test_naming_danger_anywhere_gets_the_999_line_then_the_same_question(
    content: VoiceContent, place, at, caller, keys, spoken
) -> None:
    # In hours an advisor is offered next: staying silent carries on.
    silence = [("--press", "-")] if at == IN_HOURS else []
    result = simulate(at, caller, *[("--press", k) for k in keys], ("--say", spoken), *silence)
    events = cli_lines(result)
    said_at = events.index(f"SAYS: {spoken}")
    before = [e for e in events[:said_at] if e.startswith("HEARS: ")]
    after = [e for e in events[said_at + 1 :] if e.startswith("HEARS: ")]
    assert after[: len(content.danger)] == [f"HEARS: {line}" for line in content.danger], place
    again = after[len(content.danger) :]
    if at == IN_HOURS:
        assert again.pop(0) == f"HEARS: {content.offer_advisor.prompt}", place
    # The question's last words, asked again (after a part of a page, its keys).
    last = f"HEARS: {content.navigation['menu'].prompt}" if "part" in place else before[-1]
    assert last in again, place
    assert f"HEARS: {content.invalid}" not in again and f"HEARS: {content.no_input}" not in again


@pytest.mark.parametrize(("place", "at", "caller", "keys"), PLACES, ids=[p[0] for p in PLACES])
def test_every_listening_place_hears_speech(place, at, caller, keys) -> None:
    result = simulate(at, caller, *[("--press", k) for k in keys], ("--say", "umm"))
    assert not [line for line in cli_lines(result) if line.startswith("NOT HEARD")], place


def test_scared_and_asking_for_advice_gets_the_999_line_then_the_steps(
    content: VoiceContent,
) -> None:
    result = simulate(CHRISTMAS, ME, ("--say", "I'm scared, I want advice"))
    heard = cli_heard(result)
    start = heard.index(content.danger[0])
    assert heard[start : start + len(content.danger)] == list(content.danger)
    assert heard[start + len(content.danger) :][: len(content.steps_intro)] == list(
        content.steps_intro
    )


def test_frightened_and_yes_to_voicemail_still_saves_the_callback(
    content: VoiceContent, store
) -> None:
    result = simulate(
        IN_HOURS,
        ME,
        ("--press", "5"),
        ("--say", "yes"),
        ("--say", "yes but I'm frightened"),
        ("--press", "-"),  # silence at the offer of an advisor: the questions go on
        ("--say", "any time"),
    )
    heard = cli_heard(result)
    done = content.callback["done_new"].format(when=content.callback["soon"])
    assert heard.index(content.danger[0]) < heard.index(done)
    assert store.keys(DEFAULT.simulation.cb + "*")  # kept, among the simulated records


@pytest.mark.parametrize("keyed", ["999", "112", "101", "99", "9999", "0999"])
def test_keying_an_emergency_number_for_a_callback_gets_the_999_line(
    content: VoiceContent, keyed: str
) -> None:
    result = simulate(IN_HOURS, "anonymous", ("--press", "5"), ("--press", keyed))
    heard = cli_heard(result)
    pressed = cli_lines(result).index(f"PRESSES: {keyed}")
    after = [
        e.removeprefix("HEARS: ") for e in cli_lines(result)[pressed:] if e.startswith("HEARS: ")
    ]
    assert after[: len(content.danger)] == list(content.danger)
    assert after[len(content.danger)] == content.callback["ask_number"]  # asked again
    assert content.callback["invalid_number"] not in heard


# ------------------------------------------------------------------ signed posts, one step


def choice_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(where a caller answers, where the same question is asked again, the caller)."""
    content = app.extensions["helpline"].flows.voice
    routes = [
        ("/voice/choice?menu=open&tries=1", "/voice/menu?menu=open&tries=1", ME),
        ("/voice/choice?menu=closed&tries=1", "/voice/menu?menu=closed&tries=1", ME),
    ]
    routes += [
        (
            f"/voice/page/{page}/choice?part={part}&tries=1",
            f"/voice/page/{page}?part={part}&tries=1&replay=0",
            ME,
        )
        for page in content.pages
        for part in range(1, parts(content, page) + 1)
    ]
    routes += [
        ("/voice/callback/confirm?tries=1", "/voice/callback?tries=1", ME),
        (
            "/voice/callback/number/confirm?tries=1",
            "/voice/callback/number/again?tries=1",
            "anonymous",
        ),
        ("/voice/callback/voicemail/answer?tries=1", "/voice/callback/voicemail?tries=1", ME),
        (
            "/voice/callback/save?tries=1&voicemail=1",
            "/voice/callback/safe-time?tries=1&voicemail=1",
            ME,
        ),
    ]
    return routes


def test_danger_alone_asks_the_same_question_again_and_no_try_is_lost(make_app) -> None:
    app = make_app(IN_HOURS)
    content = app.extensions["helpline"].flows.voice
    routes = choice_routes(app)
    assert len(routes) > 10
    for url, again, caller in routes:
        root = twiml(twilio_client(app, caller).post(url, {"SpeechResult": "I'm in danger"}))
        # In hours, an advisor is offered before the question comes again.
        assert spoken(root) == [*content.danger, content.offer_advisor.prompt], url
        assert urlsplit(redirect_of(root)).path == urlsplit(again).path, url
        assert query(redirect_of(root)) == query(again), url
        offer = root.find("Gather")
        assert offer is not None and path(offer.get("action", "")) == "/voice/offer", url
        assert query(query(offer.get("action", ""))["then"]) == query(again), url


def test_only_words_naming_danger_get_the_999_line(make_app) -> None:
    app = make_app(IN_HOURS)
    content = app.extensions["helpline"].flows.voice
    for url, _, caller in choice_routes(app):
        root = twiml(twilio_client(app, caller).post(url, {"SpeechResult": "help me"}))
        assert_not_hears(root, content.danger[0])
