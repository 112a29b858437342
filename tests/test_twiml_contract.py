"""Every TwiML document the app can produce is one Twilio's own helper library could build,
and obeys the rules of the place Twilio runs it.

The documents are found by walking the app as Twilio would (the simulator's way: signed
webhooks, in-process), from an incoming call and an incoming text, at each kind of time
(in hours, out of hours, a bank holiday, a supervisor's closure), in English and in Welsh,
with advisors free, busy, on nobody's duty, or only ADVISOR_NUMBERS: every key, every word a
question listens for, every Dial, Enqueue and status outcome Twilio can report, every
url a Number or a Queue gives. Nothing about the documents is written here: new routes and
pages are walked as soon as a link reaches them.

Each document is checked against tests/twiml-types/voice.json (or messaging.json), the
element, nesting and attribute tables of twilio-node's generated TwiML classes
(tests/twiml-types/refresh.py), and against the context rules Twilio documents:
- a waitUrl document (and what its Gather or Redirect leads to, still in the queue) holds
  only Play, Say, Pause, Hangup, Redirect, Leave and Gather, and its Gather's input is dtmf
  or speech, not both: https://www.twilio.com/docs/voice/twiml/enqueue#attributes-wait-url
  ("the valid values for the <Gather> input attribute are dtmf and speech"; issue 20 item 5:
  the combined value is not documented there, so it is refused);
- a <Number url> document (the advisor's side before the bridge) never Dials:
  https://www.twilio.com/docs/voice/twiml/number#url and Twilio's changelog of 1 June 2021
  "Upcoming changes to <Dial> verb URL parameter behavior" (Dial prohibited in noun urls);
- a <Queue url> document holds only Play, Say, Pause and Redirect:
  https://www.twilio.com/docs/voice/twiml/queue#attributes-url;
- a <Conference waitUrl> document likewise (Twilio's error 13238):
  https://www.twilio.com/docs/api/errors/13238.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from flask import Flask

from ivr.simulate import TwilioLikeClient
from ivr.store.closures import close_line
from tests.common import (
    ADVISORS,
    CLOSED_AT,
    HELPLINE,
    OPEN_AT,
    add_advisor,
    empty,
    london,
    new_sid,
    post_form,
    signed_in,
)

TYPES = Path(__file__).parent / "twiml-types"

# Where a document runs, as Twilio runs it.
CALL = "call"  # a call's own document
WAIT = "wait"  # while the caller is in a queue (waitUrl, and where it leads)
NUMBER = "number"  # <Number url>: the dialled party's side, before the bridge
QUEUE = "queue"  # <Queue url>: the dequeued caller's side, before the bridge
CONFERENCE_WAIT = "conference wait"  # <Conference waitUrl>: waiting for the conference
DIALLED_SID = "CA" + "d" * 32  # the dialled leg's CallSid, in its url's requests

# https://www.twilio.com/docs/voice/twiml/enqueue#attributes-wait-url
WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"})
WAIT_GATHER_INPUTS = frozenset({"dtmf", "speech"})
# https://www.twilio.com/docs/voice/twiml/queue#attributes-url
QUEUE_URL_VERBS = frozenset({"Play", "Say", "Pause", "Redirect"})
# https://www.twilio.com/docs/api/errors/13238 (<Conference waitUrl>)
CONFERENCE_WAIT_VERBS = frozenset({"Play", "Say", "Pause", "Redirect"})
# https://www.twilio.com/docs/voice/twiml/number#url (no Dial in a noun's url document)
NUMBER_URL_FORBIDDEN = frozenset({"Dial"})

# What Twilio may report. Dial: https://www.twilio.com/docs/voice/twiml/dial#dialcallstatus-values
DIAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
# Enqueue: https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action-parameters
QUEUE_RESULTS = (
    "bridged",
    "bridging-in-process",
    "queue-full",
    "error",
    "system-error",
    "hangup",
    "redirected",
    "leave",
)
# Call status callbacks: https://www.twilio.com/docs/voice/api/call-resource#statuscallbackevent
CALL_STATUSES = ("initiated", "ringing", "in-progress", "completed", "busy", "no-answer")
# Where the caller waits: its position and time (Twilio's waitUrl parameters).
WAITS = (("1", "0"), ("3", "120"), ("1", "3600"))
KEYS = tuple("0123456789*#")
# Several keys at once, where a question takes more than one: a phone number, a time of day.
DIGIT_STRINGS = ("07400123456", "1400")
# Words a caller may say at a question that listens: danger, despair, and words no question
# knows (every option is reached by its key).
SPEECH = ("I am in danger", "I can't go on", "banana")
TEXTS = (
    "hello",
    "HELP",
    "STOP",
    "START",
    "STEPS",
    "SEND STEPS",
    "ANYTIME",
    "after 2pm",
    "after 8",
    "weekends",
    "don't call before 2 when he's home",
    "I am in danger",
    "CYMRAEG",
    "",
)
TIMES = {
    "in hours": OPEN_AT,
    "out of hours": CLOSED_AT,
    "bank holiday": "2026-12-25T11:00",
    "closing soon": "2026-11-25T15:55",
}
ADVISOR_STATES = (None, "free", "busy", "none")  # None: only ADVISOR_NUMBERS are rung
MAX_REQUESTS = 15_000  # distinct requests one walk may make before it counts as a loop


# ------------------------------------------------------------------ the tables


@cache
def table(kind: str) -> dict:
    return json.loads((TYPES / f"{kind}.json").read_text(encoding="utf-8"))


def value_problem(value: str, kind: object) -> str | None:
    """Why `value` is not of the attribute type `kind` (refresh.py's notation), or None."""
    if isinstance(kind, dict):
        return next(filter(None, (value_problem(v, kind["list"]) for v in value.split())), None)
    if isinstance(kind, list):
        return None if value in kind else f"{value!r} is not one of {len(kind)} values"
    if kind == "number":
        return None if re.fullmatch(r"-?\d+(\.\d+)?", value) else f"{value!r} is not a number"
    if kind == "boolean":
        return None if value in ("true", "false") else f"{value!r} is not true or false"
    return None


def type_problems(root: ElementTree.Element, kind: str) -> list[str]:
    """What in `root` twilio-node's generated classes could not build."""
    types = table(kind)
    if root.tag != "Response":
        return [f"the root is <{root.tag}>, not <Response>"]
    found: list[str] = []

    def walk(element: ElementTree.Element, cls: str, where: str) -> None:
        children = types["classes"][cls]["children"]
        for child in element:
            here = f"{where}/{child.tag}"
            spec = children.get(child.tag)
            if spec is None:
                found.append(f"{here}: <{child.tag}> is not allowed in <{element.tag}>")
                continue
            allowed = types["attributes"].get(spec["attributes"] or "", {})
            for name, value in child.attrib.items():
                if name not in allowed:
                    found.append(f"{here}: <{child.tag}> has no attribute {name!r}")
                elif problem := value_problem(value, allowed[name]):
                    found.append(f"{here}@{name}: {problem}")
            if (child.text or "").strip() and not spec["text"]:
                found.append(f"{here}: <{child.tag}> holds no text")
            walk(child, spec["class"], here)

    walk(root, types["root"], "Response")
    return found


def context_problems(root: ElementTree.Element, context: str) -> list[str]:
    """What Twilio refuses in a document run in `context` (the module's docstring cites
    each rule's page)."""
    verbs = [child.tag for child in root]
    if context == WAIT:
        found = [f"<{v}> in a waitUrl document" for v in verbs if v not in WAIT_VERBS]
        for gather in root.iter("Gather"):
            value = gather.get("input", "dtmf")
            if value not in WAIT_GATHER_INPUTS:
                found.append(f'<Gather input="{value}"> in a waitUrl document')
        return found
    if context == NUMBER:
        return [f"<{v}> in a <Number url> document" for v in verbs if v in NUMBER_URL_FORBIDDEN]
    if context == QUEUE:
        return [f"<{v}> in a <Queue url> document" for v in verbs if v not in QUEUE_URL_VERBS]
    if context == CONFERENCE_WAIT:
        return [f"<{v}> in a conference's waitUrl" for v in verbs if v not in CONFERENCE_WAIT_VERBS]
    return []


# ------------------------------------------------------------------ the checks on their own


@pytest.mark.parametrize(
    "xml, context, expected",
    [
        ("<Response><Say>hi</Say><Hangup/></Response>", CALL, []),
        ("<Response><Sayy>hi</Sayy></Response>", CALL, ["Response/Sayy: <Sayy> is not allowed"]),
        ("<Response><Gather><Dial/></Gather></Response>", CALL, ["<Dial> is not allowed in"]),
        ('<Response><Say colour="red">hi</Say></Response>', CALL, ["has no attribute 'colour'"]),
        ('<Response><Pause length="soon"/></Response>', CALL, ["'soon' is not a number"]),
        ('<Response><Gather input="dtmf keys"/></Response>', CALL, ["'keys' is not one of"]),
        ("<Response><Hangup>now</Hangup></Response>", CALL, ["<Hangup> holds no text"]),
        ("<Response><Say>hi</Say></Response>", WAIT, []),
        ("<Response><Dial>+441</Dial></Response>", WAIT, ["<Dial> in a waitUrl document"]),
        ('<Response><Gather input="dtmf speech"/></Response>', WAIT, ['input="dtmf speech"']),
        ('<Response><Gather input="speech"/><Leave/></Response>', WAIT, []),
        ("<Response><Gather/><Dial>+441</Dial></Response>", NUMBER, ["<Dial> in a <Number url>"]),
        ("<Response><Gather/><Hangup/></Response>", NUMBER, []),
        ("<Response><Hangup/></Response>", QUEUE, ["<Hangup> in a <Queue url> document"]),
        ("<Response><Say>hi</Say><Redirect>/x</Redirect></Response>", QUEUE, []),
        ("<Response><Gather/></Response>", CONFERENCE_WAIT, ["<Gather> in a conference's"]),
    ],
)
def test_the_contract_check_finds_what_twilio_refuses(
    xml: str, context: str, expected: list[str]
) -> None:
    root = ElementTree.fromstring(xml)
    found = type_problems(root, "voice") + context_problems(root, context)
    assert len(found) == len(expected), found
    for problem, part in zip(found, expected, strict=True):
        assert part in problem


def test_the_tables_come_from_twilio_node_with_its_licence() -> None:
    voice = table("voice")
    assert voice["source"].startswith("https://github.com/twilio/twilio-node/blob/")
    assert re.fullmatch(r"[0-9a-f]{40}", voice["commit"])
    assert "MIT License" in (TYPES / "LICENSE").read_text(encoding="utf-8")
    gather = voice["classes"]["VoiceResponse"]["children"]["Gather"]
    assert set(voice["classes"][gather["class"]]["children"]) == {"Say", "Play", "Pause"}
    assert table("messaging")["classes"]["MessagingResponse"]["children"].keys() == {
        "Message",
        "Redirect",
    }


# ------------------------------------------------------------------ walking the app


@dataclass(frozen=True)
class Visit:
    """A request Twilio would make: where, with what, and the context its answer runs in."""

    context: str
    url: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class Found:
    """The distinct documents seen, each with where it was first seen, and the problems."""

    documents: dict[tuple[str, str], str]
    problems: list[str]
    requests: int = 0
    joins: list[Visit] = field(default_factory=list)  # requests answered with an <Enqueue>

    def check(self, kind: str, context: str, text: str, where: str) -> None:
        self.requests += 1
        key = (context, text)
        if key in self.documents:
            return
        self.documents[key] = where
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as exc:
            self.problems.append(f"{where}: not XML ({exc})")
            return
        for problem in type_problems(root, kind) + context_problems(root, context):
            self.problems.append(f"{where} [{context}]: {problem}")


def gather_inputs(gather: ElementTree.Element) -> Iterator[dict[str, str]]:
    inputs = gather.get("input", "dtmf").split()
    if gather.get("actionOnEmptyResult") == "true":
        yield {}
    if "dtmf" in inputs:
        several = gather.get("numDigits", "2") != "1"
        for digits in (*KEYS, *(DIGIT_STRINGS if several else ())):
            yield {"Digits": digits}
    if "speech" in inputs:
        for words in SPEECH:
            yield {"SpeechResult": words, "Confidence": "0.9"}


def next_visits(root: ElementTree.Element, visit: Visit) -> Iterator[Visit]:
    """Every request Twilio could make after running `root` in `visit`'s context."""
    here = visit.url
    same = visit.context  # a Gather's action or a Redirect runs where this document ran
    for verb in root:
        if verb.tag == "Gather":
            action = verb.get("action") or here
            for given in gather_inputs(verb):
                yield Visit(same, action, tuple(given.items()))
            continue  # nothing heard: the next verb (actionOnEmptyResult: asked above)
        if verb.tag == "Redirect":
            yield Visit(same, verb.text or here)
            return
        if verb.tag == "Enqueue":
            wait_url = verb.get("waitUrl")
            if wait_url:
                for position, waited in WAITS:
                    params = {"QueuePosition": position, "QueueTime": waited}
                    yield Visit(WAIT, wait_url, tuple(params.items()))
            if verb.get("action"):
                for result in QUEUE_RESULTS:
                    params = {"QueueResult": result, "QueueTime": "60"}
                    yield Visit(CALL, verb.get("action", ""), tuple(params.items()))
                return
            continue
        if verb.tag == "Leave":
            return  # the Enqueue's action, asked with QueueResult=leave (above)
        if verb.tag == "Dial":
            for noun in verb:
                if noun.get("url"):
                    context = NUMBER if noun.tag != "Queue" else QUEUE
                    yield Visit(context, noun.get("url", ""), (("CallSid", DIALLED_SID),))
                if noun.tag == "Conference" and noun.get("waitUrl"):
                    yield Visit(CONFERENCE_WAIT, noun.get("waitUrl", ""))
                if noun.get("statusCallback"):
                    for status in CALL_STATUSES:
                        yield Visit(CALL, noun.get("statusCallback", ""), (("CallStatus", status),))
            if verb.get("action"):
                for status in DIAL_STATUSES:
                    params = {
                        "DialCallStatus": status,
                        "DialBridged": str(status == "completed").lower(),
                    }
                    yield Visit(CALL, verb.get("action", ""), tuple(params.items()))
                return
            continue
        if verb.tag in ("Hangup", "Reject"):
            return


def walk_calls(app: Flask, found: Found, label: str) -> None:
    """Follow every branch of a call, in this app's state: an incoming call in English only,
    then one offered the choice of language (as `simulate call --language` asks, in this
    process only); each document is checked once."""
    from ivr.web.voice import SIMULATE_WELSH

    for offered in (False, True):
        app.extensions[SIMULATE_WELSH] = offered
        walk_from(
            app, found, f"{label}{', Welsh offered' if offered else ''}", Visit(CALL, "/voice")
        )
    app.extensions[SIMULATE_WELSH] = False


def walk_from(app: Flask, found: Found, label: str, *start: Visit) -> None:
    client = TwilioLikeClient(
        app,
        {
            "CallSid": new_sid("CA"),
            "AccountSid": "AC" + "0" * 32,
            "From": "+447700900123",
            "To": HELPLINE,
            "CallStatus": "in-progress",
            "Direction": "inbound",
        },
    )
    todo = deque(start)
    seen: set[Visit] = set(todo)
    while todo:
        visit = todo.popleft()
        response = client.post(visit.url, dict(visit.params))
        where = f"{label}: {urlsplit(visit.url).path}?{urlsplit(visit.url).query} {visit.params}"
        if response.status_code != 200:
            found.problems.append(f"{where}: HTTP {response.status_code}")
            continue
        text = response.get_data(as_text=True)
        found.check("voice", visit.context, text, where)
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            continue
        if root.find("Enqueue") is not None:
            found.joins.append(visit)
        for following in next_visits(root, visit):
            if following not in seen:
                seen.add(following)
                todo.append(following)
        assert len(seen) < MAX_REQUESTS, f"{label}: more than {MAX_REQUESTS} requests: a loop?"


def walk_texts(app: Flask, found: Found, label: str) -> None:
    """Every text, alone and after each other text, from people new to the helpline."""
    for n, first in enumerate(TEXTS):
        sender = f"+4474001{n:05d}"
        for m, then in enumerate(((None,), TEXTS)[first in ("hello", "after 2pm")]):
            client = TwilioLikeClient(app, {"AccountSid": "AC" + "0" * 32, "To": HELPLINE})
            number = f"{sender[:-2]}{m:02d}" if then is not None else sender
            for body in (first, then) if then is not None else (first,):
                response = client.post(
                    "/sms", {"From": number, "Body": body, "MessageSid": new_sid()}
                )
                where = f"{label}: text {body!r}"
                if response.status_code != 200:
                    found.problems.append(f"{where}: HTTP {response.status_code}")
                    continue
                found.check("messaging", CALL, response.get_data(as_text=True), where)


def summary(problems: list[str]) -> str:
    """Each kind of problem once, with how often it was seen and its first sighting."""
    kinds: dict[str, list[str]] = {}
    for problem in problems:
        kinds.setdefault(problem.rsplit("]: ", 1)[-1], []).append(problem)
    return f"{len(problems)} problems, {len(kinds)} kinds:\n" + "\n".join(
        f"{len(seen)} x {kind}\n    first: {seen[0]}" for kind, seen in kinds.items()
    )


def scenarios() -> Iterator[tuple[str, str, str | None, bool]]:
    """(time, instant, advisors, closed by a supervisor): every advisor state in hours,
    where they change what a caller meets; the other times with advisors by number."""
    for advisors in ADVISOR_STATES:
        yield "in hours", OPEN_AT, advisors, False
    for when in ("closing soon", "out of hours", "bank holiday"):
        yield when, TIMES[when], None, False
    yield "closure", OPEN_AT, "free", True


def test_every_document_the_app_produces_is_twiml_twilio_accepts(make_app) -> None:
    from ivr.web.voice import SIMULATED

    found = Found({}, [])
    for when, at, advisors, closed in scenarios():
        app = make_app(at, advisor_numbers=ADVISORS)
        h = app.extensions["helpline"]
        empty(h.redis)
        if closed:
            until = london(at) + timedelta(days=1)
            close_line(h.redis, "Closed today for training.", until, h.keys)
        if advisors is not None:
            app.extensions[SIMULATED] = advisors
        label = f"{when}, advisors {advisors or 'by number'}"
        walk_calls(app, found, label)
        if advisors is None:
            walk_texts(app, found, label)
    assert not found.problems, summary(found.problems)
    assert len(found.documents) >= 300, len(found.documents)
    assert {context for context, _ in found.documents} >= {CALL, WAIT, NUMBER}


# ------------------------------------------------------------------ calls the app makes


@dataclass
class Made:
    """What the app asked Twilio's REST API to run: the URLs (Url, StatusCallback) and the
    inline documents (Twiml) of the calls it made or redirected."""

    visits: list[Visit]
    documents: list[str]


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Made:
    """Every REST request the app makes still goes to Prism; its fields are noted."""
    from twilio.http.http_client import TwilioHttpClient

    noted = Made([], [])
    send = TwilioHttpClient.request

    def request(self, method, url, params=None, data=None, *args, **kwargs):
        fields = data or {}
        if method.upper() == "POST" and fields.get("Url"):
            noted.visits.append(Visit(CALL, str(fields["Url"])))
        if method.upper() == "POST" and fields.get("StatusCallback"):
            for status in CALL_STATUSES:
                noted.visits.append(
                    Visit(CALL, str(fields["StatusCallback"]), (("CallStatus", status),))
                )
        if method.upper() == "POST" and fields.get("Twiml"):
            noted.documents.append(str(fields["Twiml"]))
        return send(self, method, url, params, data, *args, **kwargs)

    monkeypatch.setattr(TwilioHttpClient, "request", request)
    return noted


def test_the_calls_take_next_makes_run_twiml_twilio_accepts(make_app, twilio_api, made, store):
    """An advisor on duty takes next, again and again, while the walk has left callers on the
    line and texts waiting for a call back: every document of the advisor's leg, the caller's
    leg as it is taken (<Queue url>), and what follows, is checked."""
    app = make_app(
        OPEN_AT,
        advisor_numbers=ADVISORS,
        cookie_secure=False,
        helpline_number=HELPLINE,
        public_base_url="https://helpline.example.org",
        **twilio_api,
    )
    add_advisor(store, "Alex", on_duty=True)
    found = Found({}, [])
    walk_calls(app, found, "calls")
    walk_texts(app, found, "texts")
    # A caller of their own on the line, where the walk joined the queue.
    join = found.joins[0]
    caller = TwilioLikeClient(
        app, {"CallSid": new_sid("CA"), "From": "+447700900124", "To": HELPLINE}
    )
    joined = caller.post(join.url, dict(join.params)).get_data(as_text=True)
    for queued in next_visits(ElementTree.fromstring(joined), join):
        if queued.context == WAIT:
            caller.post(queued.url, dict(queued.params))
            break
    console = signed_in(app, "Alex")
    for _ in range(3):
        post_form(console, "/console/call-next")
        app.extensions["helpline"].advisor_states.follow("alex", "completed", london(OPEN_AT))
    assert made.visits, "Take next made no call"
    before = len(found.documents)
    walked: set[Visit] = set()
    checked = 0
    while True:  # walking the advisor's leg makes more calls (the Members API's Url): those too
        start = [v for v in dict.fromkeys(made.visits) if v not in walked]
        for document in made.documents[checked:]:  # a call's own Twiml, and where it leads
            found.check("voice", CALL, document, "take next: a call's Twiml")
            start += next_visits(ElementTree.fromstring(document), Visit(CALL, "/"))
        checked = len(made.documents)
        if not start:
            break
        walked.update(start)
        walk_from(app, found, "take next", *dict.fromkeys(start))
    assert not found.problems, summary(found.problems)
    assert len(found.documents) > before
