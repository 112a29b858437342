"""Issue 19, §1: danger, despair and "help", heard at every listening point in the caller's
own words. The finding: "I want to kill myself" at the menu was "not one of the options".
Walks go through `helpline simulate call` (the CLI, in process); expected words come from
the loaded flows (voice.toml, safety.toml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.core.crisis import CLASSES, DANGER, DESPAIR, HELP, classify
from ivr.store.keys import DEFAULT
from ivr.store.sealing import looks_sealed
from tests.common import cli_lines, london, path, spoken, twilio_client, twiml

pytestmark = pytest.mark.usefixtures("cli_env")

IN_HOURS, EVENING = "2026-12-08T11:00", "2026-12-08T20:00"  # a Tuesday
ME = "+447400123456"
CONTENT = load_flows(DEFAULT_DIR, london(IN_HOURS)).voice
INVALID, NO_INPUT = CONTENT.invalid, CONTENT.no_input
NINE = "9 9 9"
SAMARITANS = "1 1 6, 1 2 3"

# (a page, the caller, the keys that lead there)
PAGES = [
    ("the menu", ME, []),
    ("the steps page", ME, ["2"]),
    ("the callback-number page", "anonymous", ["5"]),
]
# (what the caller says, a line they must hear at once)
FINDINGS = [
    ("I want to kill myself", SAMARITANS),
    ("he's outside the door", NINE),
    ("help me", None),
    ("he has a knife", NINE),
    ("please help me he is here", NINE),
    ("suicide", SAMARITANS),
    ("dw i eisiau lladd fy hun", SAMARITANS),
]


def simulate(at: str, caller: str, *inputs: tuple[str, str]) -> Result:
    args = ["simulate", "call", "--at", at, "--from", caller]
    for option, value in inputs:
        args += [option, value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def answer_to(result: Result, said: str) -> list[str]:
    """What the caller hears after saying `said`, up to their next move."""
    lines = cli_lines(result)
    after = lines[lines.index(f"SAYS: {said}") + 1 :]
    heard = []
    for line in after:
        if not line.startswith("HEARS: "):
            break
        heard.append(line.removeprefix("HEARS: "))
    return heard


@pytest.mark.parametrize("at", [IN_HOURS, EVENING])
@pytest.mark.parametrize(("page", "caller", "keys"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize(("words", "must_hear"), FINDINGS, ids=[f[0] for f in FINDINGS])
def test_danger_despair_and_help_are_never_not_an_option(
    at: str, page: str, caller: str, keys: list[str], words: str, must_hear: str | None
) -> None:
    result = simulate(at, caller, *[("--press", k) for k in keys], ("--say", words))
    heard = answer_to(result, words)
    assert heard, page
    assert INVALID not in heard and NO_INPUT not in heard, (page, heard)
    assert not [line for line in cli_lines(result) if line.startswith("NOT HEARD")], page
    if must_hear is not None:  # the safety answer first: before anything else is said
        assert must_hear in heard[0] or must_hear in heard[1], (page, heard[:2])
    if at == EVENING and must_hear is None:  # out of hours, "help" hears what is open now
        assert any(NINE in line for line in heard), (page, heard)
        assert any(SAMARITANS in line for line in heard), (page, heard)


# ------------------------------------------------------------------ the tables, through the webhook

BANK_HOLIDAY = "2026-12-28T11:00"  # the Boxing Day holiday, in what would be opening hours
FLOWS = load_flows(DEFAULT_DIR, london(IN_HOURS))
TABLES = [
    (name, text)
    for safety in (FLOWS.safety, FLOWS.welsh.safety if FLOWS.welsh else FLOWS.safety)
    for name in (*CLASSES, "none")
    for text in safety.examples[name]
]


def listening_routes(open_now: bool) -> list[tuple[str, str, str]]:
    """(where a caller answers, the caller, the call's language) at several pages."""
    menu = "open" if open_now else "closed"
    return [
        (f"/voice/choice?menu={menu}&tries=0", ME, "en"),
        (f"/voice/choice?menu={menu}&tries=0&lang=cy", ME, "cy"),
        ("/voice/page/step2/choice?part=1&tries=0", ME, "en"),
        ("/voice/page/police/choice?part=1&tries=0&lang=cy", ME, "cy"),
        ("/voice/callback/confirm?tries=0", ME, "en"),
        ("/voice/callback/check?tries=0", "anonymous", "en"),
        ("/voice/language/choice?tries=0&offer=1", ME, "en"),
    ]


@pytest.mark.parametrize("at", [IN_HOURS, EVENING, BANK_HOLIDAY])
def test_every_example_is_answered_by_its_class_at_every_page(
    make_app, welsh_on: Path, at: str
) -> None:
    app = make_app(at, flows_dir=welsh_on)
    h = app.extensions["helpline"]
    open_now = h.call_status().open
    for url, caller, lang in listening_routes(open_now):
        content = h.flows.speaking(lang).voice
        for name, text in TABLES:
            said = classify(h.flows.crisis, text)
            assert (name in said) if name != "none" else not said, text
            root = twiml(twilio_client(app, caller).post(url, {"SpeechResult": text}))
            heard = spoken(root)
            where = (url, text)
            if DANGER in said:
                assert heard[: len(content.danger)] == list(content.danger), where
            if DESPAIR in said:
                start = heard.index(content.despair[0])
                assert heard[start : start + len(content.despair)] == list(content.despair), where
                assert DANGER in said or start == 0, where  # first, or right after danger
            safety = bool(said & {DANGER, DESPAIR})
            if safety and open_now:  # an advisor offered, unless the caller asked for one
                assert content.offer_advisor.prompt in heard or any(
                    path(r.text or "") == "/voice/advisor" for r in root.iter("Redirect")
                ), where
            if safety or HELP in said:
                assert content.invalid not in heard and content.no_input not in heard, where
            if said == {HELP} and content.help_closed[0] in heard:
                assert any(NINE in line for line in heard), where
                assert any(SAMARITANS in line for line in heard), where
            if not said:
                answers = [content.danger[0], content.despair[0]]
                answers += [content.help_open[0], content.help_closed[0]]
                assert not set(answers) & set(heard), where
            if said == {HELP}:
                expected = content.help_closed if not open_now else content.help_open
                chose = root.find("Redirect") is not None and expected[0] not in heard
                assert expected[0] in heard or chose, where


def callbacks_in(store: redis.Redis) -> list[str]:
    """The simulated callback records (`helpline simulate` keeps its own)."""
    found = (k.decode() if isinstance(k, bytes) else k for k in store.keys("*"))
    return [k for k in found if DEFAULT.simulation.is_callback(k)]


def test_a_callback_asked_for_by_a_caller_who_spoke_of_despair_is_urgent(store) -> None:
    result = simulate(
        EVENING,
        ME,
        ("--say", "um I want to end it all"),
        ("--press", "5"),  # the callback, from the same page
        ("--press", "1"),  # this number
        ("--press", "2"),  # no voicemail
        ("--press", "1"),  # any time
    )
    assert CONTENT.despair[0] in answer_to(result, "um I want to end it all")
    records = callbacks_in(store)
    assert len(records) == 1
    urgent = store.hget(records[0], "urgent")
    assert urgent and looks_sealed(urgent.decode() if isinstance(urgent, bytes) else urgent)


def test_a_callback_asked_for_by_a_caller_who_did_not_is_not(store) -> None:
    simulate(EVENING, ME, ("--say", "help me"), *[("--press", k) for k in "5121"])
    records = callbacks_in(store)
    assert len(records) == 1 and not store.hexists(records[0], "urgent")


@pytest.mark.parametrize(
    "then", ["https://elsewhere.example/voice/menu", "//elsewhere.example/x", "/console/", ""]
)
def test_the_offer_page_carries_on_only_to_a_page_of_the_call_tree(make_app, then: str) -> None:
    app = make_app(IN_HOURS)
    root = twiml(twilio_client(app, ME).post(f"/voice/offer?then={then}", {"Digits": "7"}))
    assert path(root.find("Redirect").text or "") == "/voice/menu"


@pytest.mark.parametrize(
    ("fields", "goes_to"),
    [
        ({"Digits": "1"}, "/voice/advisor"),
        ({"SpeechResult": "yes please"}, "/voice/advisor"),
        ({"Digits": "7"}, "/voice/page/step2"),
    ],
)
def test_the_offer_page_takes_the_advisor_or_carries_on(make_app, fields, goes_to) -> None:
    app = make_app(IN_HOURS)
    url = "/voice/offer?then=/voice/page/step2%3Fpart%3D1"
    root = twiml(twilio_client(app, ME).post(url, fields))
    assert path(root.find("Redirect").text or "") == goes_to


@pytest.mark.parametrize(("at", "menu"), [(IN_HOURS, "open"), (EVENING, "closed")])
def test_the_safety_answer_comes_first_then_the_option_also_asked_for(
    make_app, at: str, menu: str
) -> None:
    app = make_app(at)
    said = "I want to kill myself, can you call me back"
    root = twiml(twilio_client(app, ME).post(f"/voice/choice?menu={menu}", {"SpeechResult": said}))
    heard = spoken(root)
    assert heard[: len(CONTENT.despair)] == list(CONTENT.despair)
    assert path(root.find("Redirect").text or "") == "/voice/callback"
    offered = CONTENT.offer_advisor.prompt in heard
    assert offered is (at == IN_HOURS)  # in hours, an advisor first; silence: the callback


@pytest.mark.parametrize("at", [IN_HOURS, EVENING])
def test_with_the_store_down_danger_and_despair_are_still_answered(make_app, tmp_path, at) -> None:
    app = make_app(at=at, redis_url="redis://127.0.0.1:9", data_dir=tmp_path)
    for url in (
        "/voice/choice?menu=open",
        "/voice/callback/check",
        "/voice/offer?then=/voice/menu",
    ):
        root = twiml(twilio_client(app, ME).post(url, {"SpeechResult": "he's got a knife"}))
        assert spoken(root)[: len(CONTENT.danger)] == list(CONTENT.danger), url
        root = twiml(twilio_client(app, ME).post(url, {"SpeechResult": "I want to die"}))
        assert CONTENT.despair[0] in spoken(root), url
