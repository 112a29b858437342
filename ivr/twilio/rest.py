"""Twilio's REST API: the one outside service we call (tests point it at a Prism mock)."""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.config import Settings
from ivr.core import deletion
from ivr.store import purges
from ivr.store.connection import Store
from ivr.store.purges import Purge
from ivr.twilio import webhooks

log = logging.getLogger(__name__)
PURGE_WORKERS = 8  # requests at a time: well inside Twilio's per-account concurrency
PURGE_BATCH = 200
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
REST_TIMEOUT_SECONDS = 10
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
MEDIA_SID = re.compile(r"^ME[0-9a-fA-F]{32}$")


class Deletable(Protocol):
    """A Twilio resource context (a message, its media, a call)."""

    def delete(self) -> bool: ...


def rest_client(settings: Settings) -> Client | None:
    """A REST client when credentials are set, else None (local work)."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=REST_TIMEOUT_SECONDS),
    )
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def media_sid(url: str) -> str:
    """The Media SID at the end of a MediaUrl (…/Messages/MM…/Media/ME…)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def enqueue_purge(r: Store, purge: Purge) -> bool:
    """Queue a purge; SIDs that are not Twilio's are refused (they could never be deleted)."""
    if not MESSAGE_SID.match(purge.message_sid) or not all(
        MEDIA_SID.match(sid) for sid in purge.media_sids
    ):
        log.warning("not queueing deletion of message %r: not a Twilio SID", purge.message_sid)
        return False
    purges.enqueue(r, purge)
    return True


def _gone(exc: Exception) -> bool:
    """Twilio's 404: the resource is not there (deleted already): the only answer that ends
    a deletion early."""
    return isinstance(exc, TwilioRestException) and exc.status == 404


def _throttled(exc: Exception) -> bool:
    return isinstance(exc, TwilioRestException) and exc.status == 429


def _why(exc: Exception) -> str:
    """Twilio's error code and words (20009: not complete yet), or the network's."""
    if isinstance(exc, TwilioRestException):
        return f"HTTP {exc.status}, error {exc.code}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


class Throttle:
    """Shared by the workers of one pass: when Twilio answers 429 (too many requests), every
    worker pauses, for twice as long each time it happens again (first, 2 x first, … up to
    BACKOFF_MAX_SECONDS); a success resets it. Twilio's 429 carries no Retry-After we can
    read through its library, hence the doubling."""

    def __init__(self, first: float = BACKOFF_FIRST_SECONDS) -> None:
        self.first = first
        self.streak = 0
        self.paused_until = 0.0
        self.lock = threading.Lock()

    def wait(self, deadline: float) -> bool:
        """Sleep out a pause; False if the pass's time is up (before or after it)."""
        with self.lock:
            until = self.paused_until
        now = time.monotonic()
        if until > now:
            if until >= deadline:
                return False
            time.sleep(until - now)
        return time.monotonic() < deadline

    def hit(self) -> None:
        """A 429. Workers that got theirs during the same pause don't lengthen it."""
        with self.lock:
            now = time.monotonic()
            if now < self.paused_until:
                return
            self.streak += 1
            pause = min(BACKOFF_MAX_SECONDS, self.first * 2 ** (self.streak - 1))
            self.paused_until = now + pause

    def ok(self) -> None:
        with self.lock:
            self.streak = 0


def delete_resource(resource: Deletable, throttle: Throttle, deadline: float) -> str:
    """DELETE one Twilio resource, waiting out 429s until `deadline`: "deleted", "gone"
    (404: already), "refused" (any other answer: 20009 not complete yet, a 5xx, a network
    error, even another 4xx such as a rotated token: tried again later, never dropped) or
    "later" (the pass's time ran out before Twilio would take it)."""
    while throttle.wait(deadline):
        try:
            resource.delete()
        except (TwilioException, OSError) as exc:  # OSError: requests' connection errors
            if _throttled(exc):
                throttle.hit()
                continue
            throttle.ok()
            if _gone(exc):
                log.info("%s was already gone from Twilio", _sid_of(resource))
                return "gone"
            log.warning("Twilio did not delete %s: %s", _sid_of(resource), _why(exc))
            return "refused"
        throttle.ok()
        return "deleted"
    return "later"


def _sid_of(resource: Deletable) -> str:
    return str(getattr(resource, "_solution", {}).get("sid", "a resource"))


def _purge_one(client: Client, purge: Purge, throttle: Throttle, deadline: float) -> str:
    """The media first, then the message: "done", "refused" or "later" (the first part not
    done says which). Twilio deletes a message's media with it, but media goes also when
    the message is kept (DELETE_INBOUND_MESSAGES=0), and a message Twilio refuses to delete
    must not keep its pictures."""
    message = client.messages(purge.message_sid)
    parts: list[Deletable] = [message.media(sid) for sid in purge.media_sids]
    if purge.delete_message:
        parts.append(message)
    for part in parts:
        outcome = delete_resource(part, throttle, deadline)
        if outcome in ("refused", "later"):
            return outcome
    return "done"


def run_purges(
    r: Store,
    client: Client,
    budget_seconds: float = 30.0,
    workers: int = PURGE_WORKERS,
    throttle: Throttle | None = None,
    now: float | None = None,
    min_age: float = deletion.DEFAULT_MIN_AGE_SECONDS,
) -> int:
    """Delete queued media and messages from Twilio until none is due or `budget_seconds`
    have passed, `workers` requests at a time; how many were done. `now` (epoch seconds)
    says which are due (core/deletion.py): at least `min_age` old and past their next try.
    What Twilio refuses keeps its place in the backlog (and counts in its age), its next
    try put off; what it never accepted in 14 days is dropped, with an error in the log."""
    deadline = time.monotonic() + budget_seconds
    now = time.time() if now is None else now
    throttle = throttle or Throttle()
    done = kept = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="purge") as pool:
        while time.monotonic() < deadline:
            entries = purges.window(r, kept, PURGE_BATCH)
            if not entries:
                break
            due = [
                (entry, purge)
                for entry, purge in ((entry, Purge.loads(entry)) for entry in entries)
                if deletion.due(purge.queued_at, purge.retry_at, now, min_age)
            ]
            outcomes = list(
                pool.map(lambda pair: _purge_one(client, pair[1], throttle, deadline), due)
            )
            tried = list(zip(due, outcomes, strict=True))
            gone = [entry for (entry, _), out in tried if out == "done"]
            refused = [(entry, purge) for (entry, purge), out in tried if out == "refused"]
            dropped = [entry for entry, purge in refused if _give_up(purge, now)]
            purges.remove(r, gone + dropped)
            purges.replace(
                r,
                [(entry, _put_off(purge, now)) for entry, purge in refused if entry not in dropped],
            )
            done += len(gone)
            kept += len(entries) - len(gone) - len(dropped)
    if kept:
        log.info("%d messages left to delete from Twilio on a later pass", kept)
    return done


def _give_up(purge: Purge, now: float) -> bool:
    """Refused again, past the 14 days Twilio gives itself: dropped, and said loudly."""
    if not deletion.given_up(purge.queued_at, now):
        return False
    log.error(
        "gave up deleting %s from Twilio: refused for 14 days (%d tries); delete it in "
        "Twilio's console",
        purge.message_sid,
        purge.tries + 1,
    )
    return True


def _put_off(purge: Purge, now: float) -> str:
    """The entry after a refusal: one more try counted, the next one later."""
    tries = purge.tries + 1
    later = replace(purge, tries=tries, retry_at=now + deletion.retry_delay(tries))
    return later.dumps()


def call_advisor(
    client: Client,
    settings: Settings,
    base_url: str,
    advisor_phone: str,
    callback_id: str,
    username: str = "",
) -> str:
    """Ring the advisor's phone; the TwiML asks them to press 1. Returns the Call SID. The
    status callbacks carry the advisor's name, so their state follows the call."""
    adv = {"adv": username} if username else {}
    return _ring_advisor(
        client,
        settings,
        advisor_phone,
        webhooks.url(base_url, webhooks.OUTBOUND_ADVISOR, cb=callback_id),
        webhooks.url(base_url, webhooks.OUTBOUND_STATUS, cb=callback_id, **adv),
    )


def call_advisor_for_caller(
    client: Client,
    settings: Settings,
    base_url: str,
    advisor_phone: str,
    call_sid: str,
    username: str,
) -> str:
    """Ring the advisor's phone to take a caller waiting in the queue, on a leg of its own:
    they press 1, then that caller, by CallSid, is put through (voice_queue.connect).
    Returns the advisor leg's Call SID."""
    return _ring_advisor(
        client,
        settings,
        advisor_phone,
        webhooks.url(base_url, webhooks.QUEUE_ADVISOR, sid=call_sid, adv=username),
        webhooks.url(base_url, webhooks.QUEUE_ADVISOR_STATUS, sid=call_sid, adv=username),
    )


def _ring_advisor(
    client: Client, settings: Settings, advisor_phone: str, url: str, status_url: str
) -> str:
    """Call an advisor from the helpline's number: `url` screens the leg (press 1) and
    `status_url` follows it. The advisor leg's Call SID."""
    call = client.calls.create(
        to=advisor_phone,
        from_=settings.helpline_number,
        method="POST",
        url=url,
        status_callback=status_url,
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        timeout=25,
    )
    return str(call.sid)


def _queue_sid(client: Client, queue_name: str) -> str | None:
    """The SID of the queue named `queue_name` (None: Twilio has no such queue). One page:
    an account has few queues, and a listing never runs on through pages."""
    found = client.queues.page(page_size=100)
    return next((str(q.sid) for q in found if q.friendly_name == queue_name), None)


def queue_members(client: Client, queue_name: str) -> dict[str, int] | None:
    """Who Twilio holds in the queue `queue_name`: each member's CallSid and seconds waited;
    None when Twilio can't say, or the queue is not on the one page of queues read (then
    our list's word stands).
    https://www.twilio.com/docs/voice/api/member-resource#read-multiple-member-resources"""
    try:
        sid = _queue_sid(client, queue_name)
        if sid is None:
            return None
        # One page of the most a page may hold: a queue holds at most 1000 by default.
        page = client.queues(sid).members.page(page_size=1000)
        return {str(m.call_sid): int(m.wait_time or 0) for m in page}
    except (TwilioException, OSError) as exc:
        log.warning("could not read the queue's members from Twilio: %s", twilio_error(exc))
        return None


def dequeue_member(client: Client, queue_name: str, call_sid: str, url: str) -> bool | None:
    """Take exactly `call_sid` out of the queue `queue_name`, to run the TwiML at `url`
    ("Updating a Member resource dequeues the member to begin executing the TwiML document
    at that URL", https://www.twilio.com/docs/voice/api/member-resource#update-a-member-resource;
    their <Enqueue action> is asked at once with QueueResult "redirected",
    https://www.twilio.com/docs/voice/twiml/enqueue#attributes-action). True: done; False:
    Twilio does not hold them there (404: they hung up); None: Twilio could not say (or the
    queue was not found)."""
    try:
        sid = _queue_sid(client, queue_name)
        if sid is None:
            log.warning("no Twilio queue named %s among the account's first 100", queue_name)
            return None
        client.queues(sid).members(call_sid).update(url=url, method="POST")
    except TwilioRestException as exc:
        if exc.status == 404:
            return False
        log.warning("could not take a caller from the queue: %s", twilio_error(exc))
        return None
    except (TwilioException, OSError) as exc:
        log.warning("could not take a caller from the queue: %s", twilio_error(exc))
        return None
    return True


def redirect_call(client: Client, call_sid: str, url: str) -> bool:
    """Move a live call on to the TwiML at `url` (out of a conference it waits in alone):
    https://www.twilio.com/docs/voice/api/call-resource#update-a-call-resource. False when
    Twilio refused or could not be reached (logged)."""
    try:
        client.calls(call_sid).update(url=url, method="POST")
    except (TwilioException, OSError) as exc:
        log.warning("could not redirect call %s: %s", call_sid, twilio_error(exc))
        return False
    return True


def twilio_error(exc: Exception) -> str:
    """Twilio's status and error code, never its message (it may quote a phone number)."""
    if isinstance(exc, TwilioRestException):
        return f"Twilio answered {exc.status}, error {exc.code}"
    return f"Twilio could not be reached ({type(exc).__name__})"


def send_sms(client: Client, settings: Settings, to: str, body: str) -> str:
    return client.messages.create(to=to, from_=settings.helpline_number, body=body).sid
