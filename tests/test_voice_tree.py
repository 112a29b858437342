"""The voice call tree, as Twilio sees it: every route answers valid TwiML, every option can be
reached, and each branch does what a caller needs. Expected words come from the loaded flows,
so staff can reword flows/voice.toml without breaking these tests."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException

import ivr.web.voice
from ivr import create_app
from ivr.config import Settings
from ivr.content.flows import DEFAULT_DIR, VoiceContent
from ivr.core import calltree
from ivr.core.clock import fixed_clock
from ivr.core.phrases import usual_hours, when
from ivr.simulate import SILENCE, simulate_call
from ivr.store.connection import connect
from tests.common import (
    CLOSED_AT,
    OPEN_AT,
    TOKEN,
    assert_999_first,
    assert_hears,
    assert_no_dial_to_emergency,
    dialled,
    empty,
    london,
    path,
    query,
    redirect_of,
    spoken,
    twilio_client,
    twiml,
)

# Ofcom's drama range for London: valid numbers that belong to nobody.
ADVISORS = ("+442079460001", "+442079460002")
VOICE, LANGUAGE = "Polly.Amy", "en-GB"
EVENING, SATURDAY, CHRISTMAS, MORNING = (
    CLOSED_AT,
    "2026-11-28T11:00",
    "2026-12-25T11:00",
    "2026-11-25T09:00",
)
KEYS = "0123456789*#"
# Where each menu action leads (the path of the <Redirect> after choosing it).
LEADS_TO = {
    "advisor": "/voice/advisor",
    "steps": "/voice/page/step1",
    "police": "/voice/page/police",
    "support": "/voice/page/support",
    "repeat": "/voice/menu",
    "callback": "/voice/callback",
}


# ------------------------------------------------------------------ reading TwiML


def voice(app: Flask) -> VoiceContent:
    return app.extensions["helpline"].flows.voice


def post(app: Flask, url: str, **fields: str) -> ElementTree.Element:
    return twiml(twilio_client(app).post(url, fields))


def signed_get(app: Flask, url: str):
    signature = RequestValidator(TOKEN).compute_signature("http://localhost" + url, {})
    return app.test_client().get(url, headers={"X-Twilio-Signature": signature})


def an_invalid_key(options) -> str:
    return next(k for k in KEYS if k not in {o.key for o in options})


def own_options(content: VoiceContent, menu: str):
    return content.open_options if menu == "open" else content.closed_options


def menu_prompts(content: VoiceContent, menu: str) -> list[str]:
    """What the main menu ends with: its options, how to hear them again, and when closed,
    that texting works too."""
    return [
        *(o.prompt for o in own_options(content, menu)),
        content.navigation["repeat"].prompt,
        *([content.closed_text_us] if menu == "closed" else []),
    ]


def assert_offers_the_menu(said: list[str], content: VoiceContent, menu: str) -> None:
    """The options in order, then how to hear them again; when closed, the last line is that
    texting works too (when we open and the usual hours come between, at the start)."""
    prompts = [*(o.prompt for o in own_options(content, menu)), content.navigation["repeat"].prompt]
    at = said.index(prompts[0])
    assert said[at : at + len(prompts)] == prompts
    if menu == "closed":
        assert said[-1] == content.closed_text_us


def all_keys_at_the_menu(content: VoiceContent, menu: str):
    return calltree.menu_options(own_options(content, menu), content.navigation)


# ------------------------------------------------------------------ walking the whole tree


@dataclass
class Visit:
    url: str
    fields: dict[str, str]
    root: ElementTree.Element


@dataclass
class Walk:
    app: Flask
    visits: list[Visit] = field(default_factory=list)

    def paths(self) -> set[str]:
        return {path(v.url) for v in self.visits}

    def answer(self, route: str, menu: str, digits: str) -> ElementTree.Element:
        """The TwiML answering `digits` at the first try of a menu."""
        for v in self.visits:
            if (
                path(v.url) == route
                and query(v.url).get("menu") == menu
                and query(v.url).get("tries") == "0"
                and v.fields.get("Digits") == digits
            ):
                return v.root
        raise AssertionError(f"nobody pressed {digits} at {route}?menu={menu}")


def next_requests(root: ElementTree.Element) -> list[tuple[str, dict[str, str]]]:
    """What Twilio could request next: every key (offered or not) and silence at each Gather,
    each Redirect, each Dial outcome, and each advisor's screening URL."""
    found: list[tuple[str, dict[str, str]]] = []
    for verb in root.iter():
        if verb.tag == "Gather":
            found += [(verb.get("action"), {"Digits": k}) for k in KEYS]
            found += [(verb.get("action"), {}), (verb.get("action"), {"SpeechResult": "umm"})]
        elif verb.tag == "Redirect":
            found.append((verb.text, {}))
        elif verb.tag == "Dial":
            found += [
                (verb.get("action"), {"DialCallStatus": s})
                for s in ("no-answer", "completed", "busy")
            ]
        elif verb.tag == "Number":
            found.append((verb.get("url"), {}))
    return found


def walk(app: Flask) -> Walk:
    """Breadth-first over every request the TwiML can lead Twilio to make, from POST /voice."""
    client = twilio_client(app)
    result = Walk(app)
    queue: deque[tuple[str, dict[str, str]]] = deque([("/voice", {})])
    seen = set()
    while queue:
        url, fields = queue.popleft()
        if (url, tuple(sorted(fields.items()))) in seen:
            continue
        seen.add((url, tuple(sorted(fields.items()))))
        response = client.post(url, fields)
        assert response.status_code == 200, (url, fields)
        root = twiml(response)
        result.visits.append(Visit(url, fields, root))
        queue.extend(next_requests(root))
    assert len(result.visits) > 50  # the walk really went somewhere
    return result


WALK_AT = {"open": OPEN_AT, "evening": EVENING, "saturday": SATURDAY, "christmas": CHRISTMAS}


@pytest.fixture(scope="module", params=list(WALK_AT), ids=list(WALK_AT))
def tree(request, store_settings) -> Walk:
    """The whole tree, walked once per instant (a module fixture: walks take a moment)."""
    empty(connect(Settings().override(store_settings)))  # nobody on duty, no callbacks
    app = create_app(
        {"twilio_auth_token": TOKEN, "advisor_numbers": ADVISORS, **store_settings},
        clock=fixed_clock(london(WALK_AT[request.param])),
    )
    app.testing = True
    return walk(app)


def is_open(tree: Walk) -> bool:
    return bool(
        tree.app.extensions["helpline"].flows.hours.is_open(tree.app.extensions["helpline"].clock())
    )


def test_every_url_in_the_tree_is_a_voice_route(tree: Walk) -> None:
    """Each URL Twilio is sent to is answered by a route (not the unknown-URL fallback)."""
    adapter = tree.app.url_map.bind("localhost")
    for visit in tree.visits:
        root = visit.root
        urls = (
            [g.get("action") for g in root.iter("Gather")]
            + [r.text for r in root.iter("Redirect")]
            + [d.get("action") for d in root.iter("Dial")]
            + [n.get("url") for n in root.iter("Number")]
        )
        for url in urls:
            assert path(url).startswith("/voice"), url
            try:
                adapter.match(path(url), method="POST")
            except HTTPException:
                pytest.fail(f"{visit.url} leads to {url}, which no route answers")


def test_every_say_uses_the_british_voice(tree: Walk) -> None:
    for visit in tree.visits:
        for say in visit.root.iter("Say"):
            assert (say.get("voice"), say.get("language")) == (VOICE, LANGUAGE), visit.url
            assert (say.text or "").strip(), f"an empty <Say> at {visit.url}"


FRONT_DOOR_MENUS = re.compile(
    r"^/voice(/choice|/page/[^/]+/choice"
    r"|/callback/confirm|/callback/check|/callback/number/confirm|/callback/save|/offer)$"
)


def test_menus_hear_keys_and_british_speech_and_the_advisors_screen_keys_only(tree: Walk) -> None:
    """Every menu, page and callback question listens for speech too, the callback number
    included (for the words of danger, despair and help); the advisor's screening listens
    for keys only."""
    menus = 0
    for visit in tree.visits:
        for g in visit.root.iter("Gather"):
            action = path(g.get("action"))
            assert g.get("method", "POST") == "POST"
            assert "dtmf" in g.get("input").split(), visit.url
            if FRONT_DOOR_MENUS.match(action):
                menus += 1
                assert g.get("input") == "dtmf speech", visit.url
                assert g.get("language") == LANGUAGE and g.get("hints"), visit.url
                hints = g.get("hints").split(", ")  # Twilio's limits (its error 13330)
                assert len(hints) <= 500 and max(map(len, hints)) <= 100, visit.url
            elif action == "/voice/screen/result":
                assert g.get("input") == "dtmf"
            else:
                pytest.fail(f"{action}: does it listen for speech?")
            if "speech" in g.get("input"):
                assert g.get("language") == LANGUAGE, visit.url
    assert menus > 10


def test_no_emergency_or_police_number_is_ever_dialled(tree: Walk) -> None:
    for visit in tree.visits:
        assert_no_dial_to_emergency(visit.root)
        assert set(dialled(visit.root)) <= set(ADVISORS), visit.url


def test_the_safety_line_comes_before_any_menu(tree: Walk) -> None:
    first = tree.visits[0]
    assert path(first.url) == "/voice"
    assert_999_first(first.root, voice(tree.app).safety)


def test_every_menu_option_in_flows_is_reachable(tree: Walk) -> None:
    content = voice(tree.app)
    menu, options = (
        ("open", content.open_options) if is_open(tree) else ("closed", content.closed_options)
    )
    for option in options:
        leads_to = path(redirect_of(tree.answer("/voice/choice", menu, option.key)))
        if option.action in LEADS_TO:
            assert leads_to == LEADS_TO[option.action], option
        else:  # an action newer than this test: at least it is not "that isn't an option"
            assert leads_to in tree.paths() and leads_to != "/voice/menu", option
    for page in calltree.PAGES:
        assert f"/voice/page/{page}" in tree.paths()


def test_only_the_open_tree_rings_advisors(tree: Walk) -> None:
    dials = [d for v in tree.visits for d in v.root.iter("Dial")]
    if is_open(tree):
        assert (
            dials
            and {"/voice/advisor", "/voice/screen", "/voice/screen/result", "/voice/advisor/result"}
            <= tree.paths()
        )
    else:
        assert not dials
        assert "/voice/advisor" not in tree.paths()


def test_every_ending_hangs_up_after_the_safety_line(tree: Walk) -> None:
    """A call the app ends (gave up, goodbye) says the safety line first; only the advisor's
    screening leg, which the caller never hears, hangs up without it."""
    safety = voice(tree.app).safety
    endings = [
        v
        for v in tree.visits
        if v.root.find("Hangup") is not None and not path(v.url).startswith("/voice/screen")
    ]
    assert endings
    for visit in endings:
        assert safety in spoken(visit.root), visit.url


# ------------------------------------------------------------------ open and closed


def test_open_call_offers_an_advisor(make_app) -> None:
    app = make_app(OPEN_AT)
    root = post(app, "/voice")
    advisor = next(o for o in voice(app).open_options if o.action == "advisor")
    assert advisor.prompt in spoken(root.find("Gather"))
    assert all(o.prompt in spoken(root) for o in voice(app).open_options)


@pytest.mark.parametrize("at", [EVENING, SATURDAY, CHRISTMAS, MORNING])
def test_closed_call_offers_no_advisor(make_app, at: str) -> None:
    app = make_app(at)
    content = voice(app)
    root = post(app, "/voice")
    assert_offers_the_menu(spoken(root.find("Gather")), content, "closed")
    assert "advisor" not in {o.action for o in content.closed_options}
    advisor_key = next(o.key for o in content.open_options if o.action == "advisor")
    if advisor_key not in {o.key for o in content.closed_options}:
        pressed = post(app, "/voice/choice?menu=closed&tries=0", Digits=advisor_key)
        assert content.invalid in spoken(pressed)
        assert path(redirect_of(pressed)) == "/voice/menu"


@pytest.mark.parametrize(
    ("at", "kind", "name"),
    [
        (SATURDAY, "weekend", None),
        (CHRISTMAS, "bank_holiday", "Christmas Day"),
        (EVENING, "after_closing", None),
        (MORNING, "before_opening", None),
    ],
)
def test_closed_call_says_why_the_usual_hours_and_when_it_opens(
    make_app, at: str, kind: str, name: str | None
) -> None:
    app = make_app(at)
    h = app.extensions["helpline"]
    status = h.flows.hours.status(london(at))
    assert not status.open and status.reason.kind == kind
    root = post(app, "/voice")
    assert_hears(root, h.flows.voice.closed_reasons[kind].format(name=name))
    if name:
        assert_hears(root, name)
    assert_hears(root, usual_hours(h.flows.hours_config.weekly, h.flows.phrases))
    assert_hears(root, when(status.next_opening, status.at, h.flows.hours, h.flows.phrases))


def test_christmas_day_opens_again_after_the_boxing_day_bank_holiday(make_app) -> None:
    root = post(make_app(CHRISTMAS), "/voice")
    assert_hears(root, "Christmas Day")
    assert_hears(root, "Tuesday 29 December")


def test_a_closure_in_hours_toml_is_said(make_app, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, flows)
    message = "The helpline is closed today for staff training."
    with (flows / "hours.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[[closures]]\nfrom = 2026-11-25\nto = 2026-11-25\nmessage = "{message}"\n')
    app = make_app(OPEN_AT, flows_dir=flows)
    root = post(app, "/voice")
    assert message in spoken(root)
    assert_offers_the_menu(spoken(root.find("Gather")), voice(app), "closed")
    assert_hears(root, "tomorrow")  # Thursday opens as usual


# ------------------------------------------------------------------ speaking to an advisor


def test_choosing_an_advisor_rings_the_advisors_one_at_a_time(make_app) -> None:
    """Never two screened numbers in one <Dial>: Twilio hangs up "the rest" when the first
    picks up, and a voicemail may be first (docs/take-next.md, "Ringing advisors"). Each
    rings for its share of DIAL_TIMEOUT (at least 10 seconds)."""
    app = make_app(OPEN_AT, advisor_numbers=ADVISORS)
    choice = post(app, "/voice/choice?menu=open&tries=0", Digits="1")
    assert path(redirect_of(choice)) == "/voice/advisor"
    root = post(app, redirect_of(choice))
    assert voice(app).advisor["connecting"] in spoken(root)
    rung = []
    while (dial := root.find("Dial")) is not None:
        assert dial.get("answerOnBridge") == "true"
        assert dial.get("timeout") == "10"  # 20 seconds shared by two
        assert dial.get("record") == "do-not-record"
        assert path(dial.get("action")) == "/voice/advisor/result"
        [number] = dial
        assert number.tag == "Number" and path(number.get("url")) == "/voice/screen"
        rung.append(number.text)
        root = post(app, dial.get("action"), DialCallStatus="no-answer")
    assert rung == list(ADVISORS)
    assert spoken(root) == [voice(app).advisor["unavailable"]]


def test_the_advisors_see_the_helpline_number_but_junk_is_not_echoed(make_app) -> None:
    app = make_app(OPEN_AT, advisor_numbers=ADVISORS)
    dial = post(app, "/voice/advisor", To="+441234567890").find("Dial")
    assert dial.get("callerId") == "+441234567890"
    dial = post(app, "/voice/advisor", To="+\x01<junk>").find("Dial")
    assert dial.get("callerId") is None


def test_emergency_and_invalid_advisor_numbers_are_skipped(make_app) -> None:
    numbers = ("999", "112", "101", "+44 999", "+44101", "07700 900123", ADVISORS[0])
    root = post(make_app(OPEN_AT, advisor_numbers=numbers), "/voice/advisor")
    assert [n.text for n in root.iter("Number")] == [ADVISORS[0]]


def test_with_no_advisors_the_caller_is_told_kindly_and_offered_the_rest(make_app) -> None:
    app = make_app(OPEN_AT, advisor_numbers=())
    content = voice(app)
    root = post(app, "/voice/advisor")
    assert root.find("Dial") is None
    assert spoken(root) == [content.advisor["unavailable"]]
    assert query(redirect_of(root))["menu"] == "closed"
    menu = post(app, redirect_of(root))
    assert spoken(menu.find("Gather")) == menu_prompts(content, "closed")


def test_asking_for_an_advisor_just_after_closing(make_app) -> None:
    app = make_app(EVENING, advisor_numbers=ADVISORS)
    root = post(app, "/voice/advisor")
    assert root.find("Dial") is None
    assert spoken(root) == [voice(app).advisor["closed_now"]]
    assert (path(redirect_of(root)), query(redirect_of(root))["menu"]) == ("/voice/menu", "closed")


@pytest.mark.parametrize(
    "fields",
    [
        {"DialCallStatus": "no-answer"},
        {"DialCallStatus": "busy"},
        {"DialCallStatus": "failed"},
        {"DialCallStatus": "canceled"},
        {"DialCallStatus": "completed", "DialBridged": "false"},  # answered, then declined
        {},
    ],
    ids=lambda f: "-".join(f.values()) or "nothing",
)
def test_when_no_advisor_takes_the_call_the_closed_options_follow(make_app, fields) -> None:
    app = make_app(OPEN_AT, advisor_numbers=ADVISORS)
    content = voice(app)
    root = post(app, "/voice/advisor/result", **fields)
    assert spoken(root) == [content.advisor["unavailable"]]
    assert root.find("Hangup") is None
    menu = post(app, redirect_of(root))
    assert spoken(menu.find("Gather")) == menu_prompts(content, "closed")


@pytest.mark.parametrize(
    "fields",
    [
        {"DialCallStatus": "completed"},
        {"DialCallStatus": "completed", "DialBridged": "true"},
    ],
    ids=["completed", "bridged"],
)
def test_after_talking_to_an_advisor_the_call_ends_with_goodbye(make_app, fields) -> None:
    app = make_app(OPEN_AT, advisor_numbers=ADVISORS)
    content = voice(app)
    root = post(app, "/voice/advisor/result", **fields)
    assert spoken(root) == [content.safety, *content.goodbye]
    assert root[-1].tag == "Hangup"


def test_the_advisor_who_answers_is_asked_to_accept(make_app) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    root = post(app, "/voice/screen")
    [g] = root.findall("Gather")
    assert g.get("input") == "dtmf" and g.get("actionOnEmptyResult") == "true"
    assert path(g.get("action")) == "/voice/screen/result"
    assert spoken(g) == [content.advisor["screen"]]
    assert spoken(root)[-1] == content.advisor["screen_declined"]
    assert root[-1].tag == "Hangup"


def test_pressing_1_puts_the_advisor_through(make_app) -> None:
    root = post(make_app(OPEN_AT), "/voice/screen/result", Digits="1")
    assert len(root) == 0  # an empty <Response/> bridges the call


@pytest.mark.parametrize("digits", ["2", "0", "*", "11", ""])
def test_anything_but_1_is_declined(make_app, digits: str) -> None:
    app = make_app(OPEN_AT)
    root = post(app, "/voice/screen/result", Digits=digits)
    assert spoken(root) == [voice(app).advisor["screen_declined"]]
    assert root[-1].tag == "Hangup"


# ------------------------------------------------------------------ no choice, wrong choice


def gave_up(app: Flask, presses: list[str]) -> list[str]:
    transcript = simulate_call(app, presses)
    assert transcript.events[-1] == {"type": "hangup"}  # <Hangup>, not the caller
    return transcript.heard()


@pytest.mark.parametrize("at", [OPEN_AT, EVENING])
def test_three_silences_end_the_call_kindly(make_app, at: str) -> None:
    app = make_app(at)
    content = voice(app)
    said = gave_up(app, [SILENCE] * 3)
    assert said.count(content.no_input) == 3
    assert said[-1 - len(content.gave_up) :] == [content.safety, *content.gave_up]


@pytest.mark.parametrize(("at", "menu"), [(OPEN_AT, "open"), (EVENING, "closed")])
def test_three_wrong_keys_end_the_call_kindly(make_app, at: str, menu: str) -> None:
    app = make_app(at)
    content = voice(app)
    said = gave_up(app, [an_invalid_key(all_keys_at_the_menu(content, menu))] * 3)
    assert said.count(content.invalid) == 3
    assert said[-1 - len(content.gave_up) :] == [content.safety, *content.gave_up]
    assert any("text" in line for line in content.gave_up)  # how to text us


def test_silence_after_an_advice_page_is_the_menu_once_then_goodbye(make_app) -> None:
    """Issue 19: silence on a page that reads content is never "I didn't hear a choice"."""
    app = make_app(OPEN_AT)
    content = voice(app)
    police = next(o.key for o in content.open_options if o.action == "police")
    parts_said = len(content.pages["police"].parts)  # the last silence leads to the menu
    said = gave_up(app, [police, *[SILENCE] * parts_said, SILENCE])
    assert content.no_input not in said
    assert said[-1 - len(content.gave_up) :] == [content.safety, *content.gave_up]


@pytest.mark.parametrize("tries", ["3", "4", "99"])
def test_the_menu_gives_up_after_the_last_try(make_app, tries: str) -> None:
    app = make_app(OPEN_AT)
    root = post(app, f"/voice/menu?menu=open&tries={tries}")
    assert root.find("Gather") is None and root[-1].tag == "Hangup"


@pytest.mark.parametrize("menu", ["open", "closed"])
@pytest.mark.parametrize(
    ("nav", "repeats"), [("menu", True), ("repeat", True), ("previous", False), ("next", False)]
)
def test_on_the_main_menu_0_and_9_say_it_again_7_and_8_are_not_options(
    make_app, menu: str, nav: str, repeats: bool
) -> None:
    app = make_app(OPEN_AT if menu == "open" else EVENING)
    content = voice(app)
    root = post(app, f"/voice/choice?menu={menu}&tries=1", Digits=content.navigation[nav].key)
    assert path(redirect_of(root)) == "/voice/menu"
    if repeats:
        assert spoken(root) == [] and query(redirect_of(root)) == {"menu": menu}
    else:
        assert spoken(root) == [content.invalid] and query(redirect_of(root))["tries"] == "2"


def test_a_wrong_key_counts_as_a_try(make_app) -> None:
    app = make_app(OPEN_AT)
    wrong = an_invalid_key(all_keys_at_the_menu(voice(app), "open"))
    root = post(app, "/voice/choice?menu=open&tries=1", Digits=wrong)
    assert query(redirect_of(root))["tries"] == "2"


# ------------------------------------------------------------------ speech


@pytest.mark.parametrize(
    ("speech", "leads_to"),
    [
        ("I want to talk to an advisor", "/voice/advisor"),
        ("Adviser, please.", "/voice/advisor"),
        ("police", "/voice/page/police"),
        ("How do I report it?", "/voice/page/police"),
        ("advice", "/voice/page/step1"),
        ("Samaritans", "/voice/page/support"),
        ("two", None),  # not a word of any option: the menu again
    ],
)
def test_speech_picks_an_option_at_the_open_menu(make_app, speech: str, leads_to) -> None:
    app = make_app(OPEN_AT)
    root = post(app, "/voice/choice?menu=open&tries=0", SpeechResult=speech)
    if leads_to:
        assert path(redirect_of(root)) == leads_to
    else:
        assert voice(app).invalid in spoken(root)
        assert path(redirect_of(root)) == "/voice/menu"


# What callers say at a menu, and where it must lead: the option that matches best, not the
# first that matches anything (None: not an option, the menu again).
SPOKEN_AT_THE_MAIN_MENU = [
    ("open", "can someone call me back", "callback"),
    ("open", "could you ring me back later", "callback"),
    ("open", "I want to talk to someone", "advisor"),
    ("open", "talk to the police", "police"),
    ("open", "I need to speak to a person about the police", "advisor"),
    ("open", "help me report it", "police"),
    ("open", "what other support is there", "support"),
    ("open", "just give me the advice", "steps"),
    ("closed", "can someone call me back", "callback"),
    ("closed", "I want to talk to someone", None),
    ("closed", "please call me", "callback"),
    ("closed", "other support", "support"),
    ("closed", "advice on the police", "police"),
]


@pytest.mark.parametrize(("menu", "speech", "action"), SPOKEN_AT_THE_MAIN_MENU)
def test_speech_picks_the_option_that_matches_best(
    make_app, menu: str, speech: str, action: str | None
) -> None:
    app = make_app(OPEN_AT if menu == "open" else EVENING)
    root = post(app, f"/voice/choice?menu={menu}&tries=0", SpeechResult=speech)
    assert path(redirect_of(root)) == (LEADS_TO[action] if action else "/voice/menu")


def test_saying_advisor_when_closed_is_not_an_option(make_app) -> None:
    app = make_app(EVENING)
    root = post(
        app, "/voice/choice?menu=closed&tries=0", SpeechResult="I want to talk to an advisor"
    )
    assert path(redirect_of(root)) == "/voice/menu"


# ------------------------------------------------------------------ the five steps


def parts(app: Flask) -> dict[str, int]:
    return {name: len(page.parts) for name, page in voice(app).pages.items()}


def every_part(app: Flask) -> list[tuple[str, int]]:
    return [(name, part) for name, n in parts(app).items() for part in range(1, n + 1)]


def prompts_on(app: Flask, page: str, part: int) -> list[str]:
    """The keys a part of a page offers, as said after its advice."""
    content = voice(app)
    options = calltree.page_options(page, part, parts(app), content.navigation, ())
    said = [o.prompt for o in options]
    if not page.startswith("step"):
        return said
    goes_on = calltree.after_silence(page, part, parts(app)).page not in (None, page)
    return [*said, content.choose_step, *([content.next_step] if goes_on else [])]


def test_choosing_the_steps_starts_with_the_introduction(make_app) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    choice = post(app, "/voice/choice?menu=open&tries=0", Digits="2")
    root = post(app, redirect_of(choice))
    said = spoken(root.find("Gather"))
    assert said[: len(content.steps_intro) + 1] == [*content.steps_intro, content.steps[0].title]


def test_long_steps_are_split_into_parts_in_the_shipped_content(make_app) -> None:
    app = make_app(OPEN_AT)
    assert parts(app)["step1"] > 1
    for name, page in voice(app).pages.items():
        source = (
            voice(app).police
            if name == "police"
            else voice(app).support
            if name == "support"
            else None
        )
        if source:
            assert [line for part in page.parts for line in part] == list(source)


@pytest.mark.parametrize("intro", [True, False])
def test_no_page_is_longer_than_the_limit(make_app, intro: bool) -> None:
    """Everything said before the keys to press fits `page_words` (about 45 seconds)."""
    app = make_app(OPEN_AT)
    limit = tomllib.loads((DEFAULT_DIR / "voice.toml").read_text())["limits"]["page_words"]
    for page, part in every_part(app):
        url = f"/voice/page/{page}?part={part}" + ("&intro=1" if intro else "")
        said = spoken(post(app, url).find("Gather"))
        advice = (
            said[: -len(prompts_on(app, page, part))]
            if said[-1] != voice(app).continues
            else said[:-1]
        )
        words = sum(len(line.split()) for line in advice)
        assert 0 < words <= limit, (page, part, words)


def test_every_part_is_said_inside_the_gather_so_a_key_interrupts_it(make_app) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    for page, part in every_part(app):
        root = post(app, f"/voice/page/{page}?part={part}")
        [g] = root.findall("Gather")
        assert g.get("input") == "dtmf speech"
        for line in content.pages[page].parts[part - 1]:
            assert line in spoken(g), (page, part)
        outside = [verb.text for verb in root if verb.tag == "Say"]
        assert outside in ([], [content.last_step]), (page, part)


def test_a_part_with_more_after_it_goes_on_when_nothing_is_pressed_and_no_try_is_lost(
    make_app,
) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    for page, part in every_part(app):
        root = post(app, f"/voice/page/{page}?part={part}&tries=1")
        if part < parts(app)[page]:
            assert spoken(root.find("Gather"))[-1] == content.continues
            assert spoken(root) == spoken(root.find("Gather"))  # no "didn't hear" after it
            assert path(redirect_of(root)) == f"/voice/page/{page}"
            assert query(redirect_of(root)) == {"part": str(part + 1), "tries": "1"}
        else:  # silence goes on (issue 19): the next step, or the main menu once
            assert content.no_input not in spoken(root)
            move = calltree.after_silence(page, part, parts(app))
            if move.page is not None:
                assert path(redirect_of(root)) == f"/voice/page/{move.page}"
                assert query(redirect_of(root)) == {"part": "1", "tries": "1"}
            else:
                assert path(redirect_of(root)) == "/voice/menu"
                assert query(redirect_of(root)) == {"last": "1"}


def test_staying_silent_hears_step_1_to_its_end_then_step_2_without_a_sorry(make_app) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    n = parts(app)["step1"]
    said = simulate_call(app, ["2", *[SILENCE] * n]).heard()
    for part in content.pages["step1"].parts:
        assert all(line in said for line in part)
    assert content.no_input not in said
    assert said.index(content.pages["step1"].parts[-1][-1]) < said.index(content.steps[1].title)


@pytest.mark.parametrize(
    ("start", "nav", "to"),
    [
        (("step1", 1), "next", ("step1", 2)),
        (("step1", "last"), "next", ("step2", 1)),
        (("step2", 1), "previous", ("step1", "last")),
        (("step1", 2), "previous", ("step1", 1)),
        (("step4", 1), "next", ("step5", 1)),
        (("step5", 1), "previous", ("step4", "last")),
        (("step3", 1), "repeat", ("step3", 1)),
        (("step1", 2), "repeat", ("step1", 2)),
        (("police", 1), "next", ("police", 2)),
        (("police", "last"), "previous", ("police", "last-1")),
    ],
)
def test_navigating_the_steps_by_key(make_app, start, nav: str, to) -> None:
    app = make_app(OPEN_AT)
    n = parts(app)

    def part(page: str, which) -> int:
        return {"last": n[page], "last-1": n[page] - 1}.get(which, which)

    key = voice(app).navigation[nav].key
    root = post(app, f"/voice/page/{start[0]}/choice?part={part(*start)}&tries=0", Digits=key)
    assert path(redirect_of(root)) == f"/voice/page/{to[0]}"
    assert query(redirect_of(root)) == {"part": str(part(*to))}


def test_0_goes_to_the_main_menu_from_every_part_of_every_page(make_app) -> None:
    app = make_app(OPEN_AT)
    key = voice(app).navigation["menu"].key
    for page, part in every_part(app):
        root = post(app, f"/voice/page/{page}/choice?part={part}&tries=2", Digits=key)
        assert path(redirect_of(root)) == "/voice/menu" and spoken(root) == []


@pytest.mark.parametrize("step", range(1, 6))
@pytest.mark.parametrize("pick", range(1, 6))
def test_pressing_a_step_number_goes_to_that_step(make_app, step: int, pick: int) -> None:
    root = post(make_app(OPEN_AT), f"/voice/page/step{step}/choice?tries=0", Digits=str(pick))
    assert path(redirect_of(root)) == f"/voice/page/step{pick}"
    assert query(redirect_of(root)) == {"part": "1"}


# What callers say on an advice page, and where it leads (None: not an option here).
SPOKEN_ON_A_PAGE = [
    ("step3", "go back", "/voice/page/step2"),
    ("step3", "next please", "/voice/page/step4"),
    ("step3", "again", "/voice/page/step3"),
    ("step3", "can you say that again", "/voice/page/step3"),
    ("step3", "evidence", "/voice/page/step1"),
    ("step3", "take me to the main menu", "/voice/menu"),
    ("step3", "step five", "/voice/page/step5"),
    ("step3", "I need more support", "/voice/page/step5"),
    ("step1", "go back", "/voice/menu"),  # nothing before step 1: where the caller came from
    ("police", "main menu", "/voice/menu"),
    ("police", "repeat that", "/voice/page/police"),
    ("police", "next step", "/voice/page/police"),  # on to its second part
    ("support", "next", "/voice/menu"),
    ("support", "what are the options", "/voice/menu"),
]


@pytest.mark.parametrize(("page", "speech", "leads_to"), SPOKEN_ON_A_PAGE)
def test_speech_on_an_advice_page(make_app, page: str, speech: str, leads_to) -> None:
    app = make_app(OPEN_AT)
    root = post(app, f"/voice/page/{page}/choice?tries=0", SpeechResult=speech)
    if leads_to:
        assert path(redirect_of(root)) == leads_to
    else:
        assert spoken(root) == [voice(app).invalid]
        assert path(redirect_of(root)) == f"/voice/page/{page}"


def test_on_from_the_last_step_says_so_then_the_menu(make_app) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    last = parts(app)["step5"]
    assert content.navigation["next"].prompt in prompts_on(app, "step5", last)
    root = post(
        app, f"/voice/page/step5/choice?part={last}&tries=0", Digits=content.navigation["next"].key
    )
    assert spoken(root) == [content.last_step]
    assert path(redirect_of(root)) == "/voice/menu"


def test_the_steps_heard_through_to_the_main_menu(make_app) -> None:
    """Choose the steps, then press 8 at every part: each step's title once, "that was the
    last" and the main menu."""
    app = make_app(OPEN_AT)
    content = voice(app)
    n = [parts(app)[f"step{i}"] for i in range(1, 6)]
    said = simulate_call(app, ["2", *["8"] * sum(n)]).heard()
    titles = [line for line in said if line in {s.title for s in content.steps}]
    assert titles == [
        s.title for s, times in zip(content.steps, n, strict=True) for _ in range(times)
    ]
    assert said[-len(menu_prompts(content, "open")) - 1 :] == [
        content.last_step,
        *menu_prompts(content, "open"),
    ]


@pytest.mark.parametrize("step", range(1, 6))
def test_each_step_says_its_advice_then_the_keys(make_app, step: int) -> None:
    app = make_app(OPEN_AT)
    content = voice(app)
    page = content.pages[f"step{step}"]
    last = len(page.parts)
    root = post(app, f"/voice/page/step{step}?part={last}")
    said = spoken(root.find("Gather"))
    assert said[0] == content.steps[step - 1].title
    assert said[-len(prompts_on(app, f"step{step}", last)) :] == prompts_on(
        app, f"step{step}", last
    )
    assert all(line in said for line in page.parts[-1])


@pytest.mark.parametrize("page", ["police", "support"])
def test_police_and_support_offer_repeat_and_menu(make_app, page: str) -> None:
    app = make_app(EVENING)
    content = voice(app)
    last = parts(app)[page]
    root = post(app, f"/voice/page/{page}?part={last}")
    assert spoken(root.find("Gather"))[-2:] == [
        content.navigation["repeat"].prompt,
        content.navigation["menu"].prompt,
    ]
    nav = content.navigation
    again = post(app, f"/voice/page/{page}/choice?part={last}&tries=0", Digits=nav["repeat"].key)
    assert redirect_of(again).endswith(f"/voice/page/{page}?part={last}")
    menu = post(app, f"/voice/page/{page}/choice?part={last}&tries=0", Digits=nav["menu"].key)
    assert path(redirect_of(menu)) == "/voice/menu"
    on = post(app, f"/voice/page/{page}/choice?part={last}&tries=0", Digits=nav["next"].key)
    assert path(redirect_of(on)) == "/voice/menu"  # on from the end: where the caller came from
    wrong = post(app, f"/voice/page/{page}/choice?part={last}&tries=0", Digits="6")
    assert content.invalid in spoken(wrong)
    assert query(redirect_of(wrong)) == {"part": str(last), "tries": "1", "replay": "0"}


def test_a_page_that_does_not_exist_goes_to_the_menu(make_app) -> None:
    root = post(make_app(OPEN_AT), "/voice/page/step6")
    assert path(redirect_of(root)) == "/voice/menu"


# ------------------------------------------------------------------ whatever goes wrong


def assert_fallback(app: Flask, root: ElementTree.Element) -> None:
    assert spoken(root) == app.extensions["helpline"].flows.fallback_lines()
    assert_hears(root, "9 9 9")
    assert_hears(root, "from 10am to 4pm")  # hours.toml's hours
    assert root[-1].tag == "Hangup"


def explode(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("target", "url", "fields"),
    [
        ("ivr.web.voice.page_words", "/voice/page/police", {}),
        ("ivr.core.calltree.hear", "/voice/choice?menu=open&tries=0", {"Digits": "2"}),
        ("ivr.web.voice.now_status", "/voice", {}),
        ("ivr.web.voice.advisor_numbers", "/voice/advisor", {}),
    ],
)
def test_an_error_in_a_handler_gives_the_fallback(
    make_app, monkeypatch, target, url, fields
) -> None:
    app = make_app(OPEN_AT)
    monkeypatch.setattr(target, explode)
    assert_fallback(app, post(app, url, **fields))


def test_an_unknown_voice_url_gives_the_fallback(make_app) -> None:
    app = make_app(OPEN_AT)
    assert_fallback(app, post(app, "/voice/nope"))
    assert_fallback(app, twiml(signed_get(app, "/voice/nope")))


def test_an_error_outside_voice_is_not_dressed_as_twiml(make_app) -> None:
    response = make_app(OPEN_AT).test_client().get("/nope")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url", ["/voice", "/voice/menu?menu=closed", "/voice/page/step2", "/voice/screen"]
)
def test_get_works_too(make_app, url: str) -> None:
    app = make_app(EVENING)
    root = twiml(signed_get(app, url))
    assert root.find("Gather") is not None
    if url == "/voice":
        assert voice(app).safety in spoken(root)


def test_the_fallback_is_rendered_at_start_up(make_app) -> None:
    app = make_app(OPEN_AT)
    root = ElementTree.fromstring(ivr.web.voice.fallback_twiml(app))
    assert_fallback(app, root)


def test_every_gather_that_listens_uses_speech_settings_twilio_documents(tree: Walk) -> None:
    """Found: speechTimeout="auto" with the default speech model gives warning 13335
    ("speechTimeout auto cannot be used with model default"; "Use a positive integer for
    speechTimeout whenever you set speechModel": https://www.twilio.com/docs/api/errors/13335).
    Every <Gather> that hears speech names a generic model for en-GB (<Gather> page:
    https://www.twilio.com/docs/voice/twiml/gather) with a whole number of seconds, and hints
    at its menu's words; speech danger words are heard in all of them."""
    listening = [
        g for visit in tree.visits for g in visit.root.iter("Gather") if "speech" in g.get("input")
    ]
    assert listening
    for g in listening:
        assert g.get("input") == "dtmf speech"
        assert (g.get("speechModel"), g.get("language")) == ("phone_call", "en-GB")
        assert g.get("speechTimeout").isdigit() and int(g.get("speechTimeout")) > 0
        assert g.get("hints")
    main = next(v.root for v in tree.visits if v.url == "/voice").find(".//Gather")
    content = tree.app.extensions["helpline"].flows.voice
    options = content.open_options if is_open(tree) else content.closed_options
    hints = set(main.get("hints").split(", "))
    assert {w for option in options for w in option.words} <= hints
