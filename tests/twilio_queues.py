"""A Twilio double for the in-hours queue: callers' and advisors' calls, named queues, the
conference rooms callers are put through in, and the REST requests the app makes (Calls,
Queues, Members), each behaving as Twilio's documentation says, page cited at each rule.
Tests use it in place of hand-written expectations of what Twilio would do.

It plugs in as the app's Twilio HTTP client (twilio-python's HttpClient interface), so the
app's own REST code runs; every request is checked against Twilio's OpenAPI spec
(tests/twilio-oai: the operation exists, the form fields are declared), as Prism checks
it elsewhere. Webhooks go to the app signed, as Twilio sends them (TwilioLikeClient).
What Twilio does as a result of a request (asking a URL, bridging) happens after the
request is answered, in order (`settle`), as it does on Twilio's side.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

from flask import Flask
from twilio.http.response import Response

from ivr.simulate import TwilioLikeClient

SPEC = Path(__file__).parent / "twilio-oai" / "twilio_api_v2010.json"
ACCOUNT = "AC" + "0" * 32


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@functools.cache
def operations() -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    """Twilio's REST operations (path pattern, method, form fields) from its OpenAPI spec."""
    spec = json.loads(SPEC.read_text())
    found = []
    for template, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[A-Za-z]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method in ("get", "post", "delete"):
            if method not in item:
                continue
            body = item[method].get("requestBody", {}).get("content", {})
            form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
            found.append((pattern, method.upper(), frozenset(form.get("properties", {}))))
    return found


def check_against_spec(method: str, path: str, data: dict[str, object]) -> None:
    """An operation Twilio's spec has, with only fields it declares (AssertionError if not)."""
    for pattern, verb, fields in operations():
        if verb == method and pattern.match(path):
            unknown = set(data) - fields
            assert not unknown, f"{method} {path}: fields not in Twilio's spec: {unknown}"
            return
    raise AssertionError(f"{method} {path} is not an operation of Twilio's REST API")


@dataclass
class Call:
    """One call as Twilio keeps it."""

    sid: str
    client: TwilioLikeClient
    status: str = "in-progress"
    heard: list[str] = field(default_factory=list)
    gather: str = ""  # the action of the <Gather> they are at
    queue: str = ""  # the queue they wait in
    enqueue_action: str = ""
    wait_url: str = ""
    room: str = ""
    room_callback: str = ""
    room_events: tuple[str, ...] = ()
    dial_action: str = ""
    url: str = ""  # an outbound call's TwiML, asked when it is answered
    status_callback: str = ""
    status_events: tuple[str, ...] = ()
    peer: str = ""  # bridged by <Dial><Queue>

    @property
    def live(self) -> bool:
        return self.status in ("queued", "ringing", "in-progress")


class TwilioDouble:
    """Twilio, for one app: `join` a caller into the queue, `answer` and `press` on calls,
    `hang_up`; `talking` says who is connected with whom. REST requests the app makes come
    through `request`."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.calls: dict[str, Call] = {}
        self.queues: dict[str, list[str]] = {}  # name: CallSids, front first
        self.queue_sids: dict[str, str] = {}
        self.rooms: dict[str, list[str]] = {}
        self.pending: deque[Callable[[], None]] = deque()
        self.requests: list[tuple[str, str]] = []  # (method, path) of each REST request
        self.is_async = False  # twilio-python's HttpClient interface
        self.wait_pages = True  # False: a caller enqueued does not ask the waitUrl (speed)
        self.down = False  # True: every REST request is answered 503 (Twilio unreachable)

    # ------------------------------------------------------------------ driving calls

    def caller(self, number: str = "+447400123456", called: str = "+441234567890") -> Call:
        sid = new_sid("CA")
        client = TwilioLikeClient(
            self.app,
            {
                "CallSid": sid,
                "AccountSid": ACCOUNT,
                "From": number,
                "To": called,
                "CallStatus": "in-progress",
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
            },
        )
        self.calls[sid] = call = Call(sid, client)
        return call

    def join(self, number: str = "+447400123456") -> Call:
        """A caller asks for an advisor in hours and is put in the queue."""
        call = self.caller(number)
        self.run(call, "/voice/queue/join")
        self.settle()
        return call

    def answer(self, call: Call) -> None:
        """An outbound call (an advisor's phone) is answered: Twilio asks its Url."""
        call.status = "in-progress"
        self._status(call, "answered", "in-progress")
        self.run(call, call.url)
        self.settle()

    def press(self, call: Call, digits: str, settle: bool = True) -> None:
        """Keys at the <Gather> the call is at: Twilio posts them to its action (and, unless
        `settle` is False, does what follows before anything else happens)."""
        assert call.gather, f"{call.sid} is at no <Gather>"
        action, call.gather = call.gather, ""
        self.run(call, action, {"Digits": digits})
        if settle:
            self.settle()

    def hang_up(self, call: Call) -> None:
        self._end(call, "completed")
        self.settle()

    def ring_out(self, call: Call) -> None:
        """An outbound call nobody answers."""
        self._end(call, "no-answer")
        self.settle()

    def talking(self, call: Call) -> set[str]:
        """Whom this call is connected with (CallSids): its room's others, or its peer."""
        if call.room and call.live:
            return {s for s in self.rooms.get(call.room, []) if s != call.sid}
        return {call.peer} if call.peer and call.live else set()

    def members(self, queue: str) -> list[str]:
        return list(self.queues.get(queue, []))

    def settle(self) -> None:
        """What Twilio does after the requests it answered, in order, until nothing is left."""
        while self.pending:
            self.pending.popleft()()

    # ------------------------------------------------------------------ TwiML

    def run(self, call: Call, url: str, extra: dict[str, str] | None = None) -> None:
        """Ask `url` for the call and play the TwiML it answers."""
        if not call.live:
            return
        response = call.client.post(url, {"CallStatus": call.status, **(extra or {})})
        assert response.status_code == 200, f"HTTP {response.status_code} from {url}"
        self.play(call, ElementTree.fromstring(response.get_data(as_text=True)))

    def play(self, call: Call, root: ElementTree.Element) -> None:
        for verb in root:
            if verb.tag == "Say":
                call.heard.append(verb.text or "")
            elif verb.tag == "Gather":
                call.heard += [v.text or "" for v in verb if v.tag == "Say"]
                call.gather = verb.get("action", "")
                return  # the caller is at the question (a test presses, or nothing)
            elif verb.tag == "Enqueue":
                self._enqueue(call, verb)
                return
            elif verb.tag == "Dial":
                self._dial(call, verb)
                return
            elif verb.tag == "Redirect":
                self.pending.append(lambda url=verb.text or "": self.run(call, url))
                return
            elif verb.tag == "Leave":
                self._leave_queue(call, "leave")
                return
            elif verb.tag == "Hangup":
                self._end(call, "completed")
                return
        if root.tag == "Response" and not call.queue and not call.room:
            self._end(call, "completed")  # the end of the instructions ends the call

    def _enqueue(self, call: Call, verb: ElementTree.Element) -> None:
        """<Enqueue>: at the back of the named queue (made on demand), the waitUrl asked.
        https://www.twilio.com/docs/voice/twiml/enqueue"""
        name = (verb.text or "").strip()
        self.queues.setdefault(name, []).append(call.sid)
        self.queue_sids.setdefault(name, new_sid("QU"))
        call.queue, call.enqueue_action = name, verb.get("action", "")
        call.wait_url = verb.get("waitUrl", "")
        position = str(self.queues[name].index(call.sid) + 1)
        if self.wait_pages:
            self.run(call, call.wait_url, {"QueuePosition": position, "QueueTime": "0"})

    def _leave_queue(self, call: Call, result: str, url: str = "") -> None:
        """Out of the queue at once: the <Enqueue action> is asked with the QueueResult;
        after a REST dequeue ("redirected") the call then runs `url`'s TwiML, not the
        action's. https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action"""
        name, call.queue = call.queue, ""
        self.queues[name].remove(call.sid)
        call.gather = ""
        fields = {"QueueResult": result, "QueueTime": "0"}
        if result == "redirected":  # asked from within a REST request: after it
            self.pending.append(lambda: call.client.post(call.enqueue_action, fields))
            self.pending.append(lambda: self.run(call, url))
        elif result == "hangup":
            call.client.post(call.enqueue_action, fields)
        else:
            self.run(call, call.enqueue_action, fields)

    def _dial(self, call: Call, verb: ElementTree.Element) -> None:
        call.dial_action = verb.get("action", "")
        for noun in verb:
            if noun.tag == "Queue":
                self._dial_queue(call, noun)
            elif noun.tag == "Conference":
                self._join_room(call, noun)
            return

    def _dial_queue(self, call: Call, noun: ElementTree.Element) -> None:
        """<Dial><Queue>: "the caller will be connected with the first enqueued call": the
        front of the queue, never a chosen one; its url is asked on the dequeued caller's
        side. https://www.twilio.com/docs/voice/twiml/queue"""
        waiting = self.queues.get((noun.text or "").strip(), [])
        if not waiting:
            self.pending.append(lambda: self._dial_ended(call, "no-answer"))
            return
        front = self.calls[waiting.pop(0)]
        front.queue, front.gather = "", ""
        if noun.get("url"):
            front.client.post(noun.get("url", ""), {"DequeingCallSid": call.sid})
        front.peer, call.peer = call.sid, front.sid

    def _join_room(self, call: Call, noun: ElementTree.Element) -> None:
        """<Dial><Conference>: into the named room; joins and leaves are posted to its
        statusCallback for the events asked ("join", "leave").
        https://www.twilio.com/docs/voice/twiml/conference"""
        name = (noun.text or "").strip()
        call.room, call.room_callback = name, noun.get("statusCallback", "")
        call.room_events = tuple((noun.get("statusCallbackEvent") or "").split())
        self.rooms.setdefault(name, []).append(call.sid)
        if "join" in call.room_events:
            call.client.post(call.room_callback, self._room_event(call, "participant-join"))

    def _room_event(self, call: Call, event: str) -> dict[str, str]:
        return {"StatusCallbackEvent": event, "FriendlyName": call.room, "CallSid": call.sid}

    def _leave_room(self, call: Call) -> None:
        """Out of the room; one who joined with endConferenceOnExit ends it for everyone,
        whose <Dial action> is then asked. (Both our sides set it.)"""
        name, call.room = call.room, ""
        self.rooms[name].remove(call.sid)
        if "leave" in call.room_events:
            call.client.post(call.room_callback, self._room_event(call, "participant-leave"))
        for other in list(self.rooms[name]):
            mate = self.calls[other]
            self.rooms[name].remove(other)
            mate.room = ""
            if "leave" in mate.room_events:
                mate.client.post(mate.room_callback, self._room_event(mate, "participant-leave"))
            self.pending.append(lambda mate=mate: self._dial_ended(mate, "completed"))

    def _dial_ended(self, call: Call, status: str) -> None:
        if call.live and call.dial_action:
            action, call.dial_action = call.dial_action, ""
            self.run(call, action, {"DialCallStatus": status})

    def _end(self, call: Call, status: str) -> None:
        if not call.live:
            return
        call.status, call.gather = status, ""
        if call.queue:
            self._leave_queue(call, "hangup")
        if call.room:
            self._leave_room(call)
        if call.peer and self.calls[call.peer].live:
            peer = self.calls[call.peer]
            self.pending.append(lambda: self._dial_ended(peer, "completed"))
        self._status(call, "completed", status)

    def _status(self, call: Call, event: str, status: str) -> None:
        """A status callback, for the events the call asked for."""
        if call.status_callback and event in call.status_events:
            call.client.post(call.status_callback, {"CallStatus": status})

    # ------------------------------------------------------------------ the REST API

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        path = urlsplit(url).path
        form = dict(data or {})
        check_against_spec(method, path, form)
        self.requests.append((method, path))
        if self.down:
            return self._json({"code": 20500, "message": "unavailable", "status": 503}, 503)
        parts = path.removesuffix(".json").split("/")[4:]  # after /2010-04-01/Accounts/AC…
        if parts == ["Calls"] and method == "POST":
            return self._create_call(form)
        if len(parts) == 2 and parts[0] == "Calls" and method == "POST":
            return self._redirect_call(parts[1], form)
        if parts == ["Queues"] and method == "GET":
            return self._queues()
        if len(parts) == 3 and parts[0] == "Queues" and parts[2] == "Members":
            return self._members(parts[1])
        if len(parts) == 4 and parts[0] == "Queues" and parts[2] == "Members":
            return self._member(parts[1], parts[3], method, form)
        raise AssertionError(f"the double does not know {method} {path}")

    def _json(self, body: dict[str, object], status: int = 200) -> Response:
        return Response(status, json.dumps(body))

    def _not_found(self) -> Response:
        return self._json({"code": 20404, "message": "not found", "status": 404}, 404)

    def _create_call(self, form: dict[str, object]) -> Response:
        """POST Calls: a new outbound call, ringing; its Url is asked when it is answered.
        https://www.twilio.com/docs/voice/api/call-resource#create-a-call-resource"""
        sid = new_sid("CA")
        client = TwilioLikeClient(
            self.app,
            {
                "CallSid": sid,
                "AccountSid": ACCOUNT,
                "From": str(form["From"]),
                "To": str(form["To"]),
                "Direction": "outbound-api",
                "ApiVersion": "2010-04-01",
            },
        )
        events = form.get("StatusCallbackEvent", [])
        call = Call(
            sid,
            client,
            status="ringing",
            url=str(form["Url"]),
            status_callback=str(form.get("StatusCallback", "")),
            status_events=tuple(events if isinstance(events, list) else [str(events)]),
        )
        self.calls[sid] = call
        self.pending.append(lambda: self._status(call, "ringing", "ringing"))
        return self._json({"sid": sid, "status": "queued", "to": form["To"]}, 201)

    def _redirect_call(self, sid: str, form: dict[str, object]) -> Response:
        """POST Calls/{Sid} with Url: the live call leaves what it is in and runs the new
        TwiML. https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource"""
        call = self.calls.get(sid)
        if call is None or not call.live:
            return self._not_found()
        self.pending.append(lambda: self._moved(call, str(form["Url"])))
        return self._json({"sid": sid, "status": call.status})

    def _moved(self, call: Call, url: str) -> None:
        if call.queue:  # out of the queue, as a REST dequeue
            self._leave_queue(call, "redirected", url)
            return
        if call.room:  # taken out of the room: its <Dial> ends without its action
            call.dial_action = ""
            self._leave_room(call)
        self.run(call, url)

    def _queues(self) -> Response:
        listed = [{"sid": sid, "friendly_name": name} for name, sid in self.queue_sids.items()]
        return self._json({"queues": listed, "next_page_uri": None, "page": 0})

    def _queue_name(self, queue_sid: str) -> str | None:
        return next((n for n, s in self.queue_sids.items() if s == queue_sid), None)

    def _members(self, queue_sid: str) -> Response:
        """GET Members: who the queue holds, front first.
        https://www.twilio.com/docs/voice/api/member-resource#read-multiple-member-resources"""
        name = self._queue_name(queue_sid)
        if name is None:
            return self._not_found()
        listed = [
            {"call_sid": sid, "position": n, "wait_time": 60, "queue_sid": queue_sid}
            for n, sid in enumerate(self.queues[name], start=1)
        ]
        return self._json({"queue_members": listed, "next_page_uri": None, "page": 0})

    def _member(self, queue_sid: str, sid: str, method: str, form: dict[str, object]) -> Response:
        """A member by CallSid: GET reads it; POST with Url dequeues exactly that call
        ("Updating a Member resource dequeues the member to begin executing the TwiML
        document at that URL"); a call the queue does not hold is a 404.
        https://www.twilio.com/docs/voice/api/member-resource#update-a-member-resource"""
        name = self._queue_name(queue_sid)
        if name is None or sid not in self.queues[name]:
            return self._not_found()
        position = self.queues[name].index(sid) + 1
        body = {"call_sid": sid, "position": position, "wait_time": 60, "queue_sid": queue_sid}
        if method == "POST":
            self._leave_queue(self.calls[sid], "redirected", str(form["Url"]))
        return self._json(body)


def heard(call: Call) -> list[str]:
    return [line for line in call.heard if line]


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))
