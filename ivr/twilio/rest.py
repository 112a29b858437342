"""Twilio's REST API: the one outside service we call (tests point it at a Prism mock)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

import redis
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.config import Settings
from ivr.store.keys import PURGE
from ivr.store.replies import maybe_text

log = logging.getLogger(__name__)
PURGE_LIST = PURGE
REST_TIMEOUT_SECONDS = 10
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
MEDIA_SID = re.compile(r"^ME[0-9a-fA-F]{32}$")


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


@dataclass(frozen=True)
class Purge:
    """An inbound message to remove from Twilio: its media, and the message itself (so its
    body does not stay in Twilio's log)."""

    message_sid: str
    media_sids: tuple[str, ...] = field(default_factory=tuple)
    delete_message: bool = True

    def dumps(self) -> str:
        return json.dumps(
            {"m": self.message_sid, "media": list(self.media_sids), "del": self.delete_message}
        )

    @classmethod
    def loads(cls, text: str) -> Purge:
        data = json.loads(text)
        return cls(data["m"], tuple(data["media"]), bool(data["del"]))


def media_sid(url: str) -> str:
    """The Media SID at the end of a MediaUrl (…/Messages/MM…/Media/ME…)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def enqueue_purge(r: redis.Redis, purge: Purge) -> bool:
    """Queue a purge; SIDs that are not Twilio's are refused (they could never be deleted)."""
    if not MESSAGE_SID.match(purge.message_sid) or not all(
        MEDIA_SID.match(sid) for sid in purge.media_sids
    ):
        log.warning("not queueing deletion of message %r: not a Twilio SID", purge.message_sid)
        return False
    r.rpush(PURGE_LIST, purge.dumps())
    return True


def _permanent(exc: TwilioException) -> bool:
    """A client error that retrying will not fix (404: already gone, counts as done)."""
    return isinstance(exc, TwilioRestException) and 400 <= exc.status < 500 and exc.status != 429


def run_purges(r: redis.Redis, client: Client, limit: int = 100) -> int:
    """Delete queued media and messages from Twilio; a failure is retried on the next run."""
    done = 0
    for _ in range(limit):
        item = maybe_text(r.lindex(PURGE_LIST, 0))
        if item is None:
            break
        purge = Purge.loads(item)
        try:
            message = client.messages(purge.message_sid)
            for sid in purge.media_sids:
                message.media(sid).delete()
            if purge.delete_message:
                message.delete()
        except TwilioException as exc:
            if not _permanent(exc):
                log.warning(
                    "could not delete message %s from Twilio yet: %s", purge.message_sid, exc
                )
                r.lmove(PURGE_LIST, PURGE_LIST, "LEFT", "RIGHT")  # again later, after the rest
                break
            if exc.status != 404:
                log.error("Twilio refused to delete message %s: %s", purge.message_sid, exc)
        r.lrem(PURGE_LIST, 1, item)
        done += 1
    return done


def call_advisor(
    client: Client, settings: Settings, base_url: str, advisor_phone: str, callback_id: str
) -> str:
    """Ring the advisor's phone; the TwiML asks them to press 1. Returns the Call SID."""
    call = client.calls.create(
        to=advisor_phone,
        from_=settings.helpline_number,
        method="POST",
        url=f"{base_url}/voice/outbound/advisor?cb={callback_id}",
        status_callback=f"{base_url}/voice/outbound/status?cb={callback_id}",
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        timeout=25,
    )
    return call.sid


def send_sms(client: Client, settings: Settings, to: str, body: str) -> str:
    return client.messages.create(to=to, from_=settings.helpline_number, body=body).sid
