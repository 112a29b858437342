"""What Twilio's logs hold about one number (its calls and messages, both ways), and
deleting them: the Twilio half of a subject request (actions/subjects.py)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from ivr.twilio.rest import PURGE_WORKERS, Deletable, Throttle, delete_resource

log = logging.getLogger(__name__)
PAGE_SIZE = 1000  # Twilio's largest page: fewest requests
ERASE_SECONDS = 300.0


@dataclass(frozen=True)
class Record:
    """One call or message in Twilio's log."""

    kind: str  # "call" or "message"
    sid: str
    direction: str  # inbound, outbound-api, outbound-dial, outbound-reply…
    from_: str
    to: str
    at: datetime | None
    status: str
    body: str = ""  # messages: what Twilio still holds ("" once deleted or for calls)
    media: int = 0  # messages: how many pictures or files
    duration: str = ""  # calls: seconds

    def about(self, number: str) -> bool:
        return number in (self.from_, self.to)


def records_of(client: Client, number: str) -> list[Record]:
    """Every call and message from or to `number`, oldest first (Twilio filters; any
    record that is not the number's is left out all the same)."""
    found: dict[str, Record] = {}
    for direction in ({"from_": number}, {"to": number}):
        for m in client.messages.stream(page_size=PAGE_SIZE, **direction):
            found[str(m.sid)] = Record(
                "message",
                str(m.sid),
                str(m.direction or ""),
                str(m.from_ or ""),
                str(m.to or ""),
                m.date_sent or m.date_created,
                str(m.status or ""),
                str(m.body or ""),
                int(m.num_media or 0),
            )
        for c in client.calls.stream(page_size=PAGE_SIZE, **direction):
            found[str(c.sid)] = Record(
                "call",
                str(c.sid),
                str(c.direction or ""),
                str(c._from or ""),  # the library's name for it
                str(c.to or ""),
                c.start_time or c.date_created,
                str(c.status or ""),
                duration=str(c.duration or ""),
            )
    mine = (r for r in found.values() if r.about(number))
    return sorted(mine, key=lambda r: (r.at is None, r.at or datetime.min, r.sid))


@dataclass(frozen=True)
class Erased:
    deleted: int  # calls and messages now gone from Twilio (404s included)
    not_deleted: list[str]  # SIDs Twilio refused or could not delete yet (in progress…)


def erase_records(
    client: Client,
    number: str,
    records: list[Record],
    budget_seconds: float = ERASE_SECONDS,
    throttle: Throttle | None = None,
) -> Erased:
    """DELETE each of the number's records (a message's media first), a few at a time,
    waiting out Twilio's 429s. Only records whose From or To is `number` are touched."""
    deadline = time.monotonic() + budget_seconds
    throttle = throttle or Throttle()

    def erase(record: Record) -> bool:
        parts: list[Deletable] = []
        if record.kind == "message":
            message = client.messages(record.sid)
            if record.media:
                try:
                    parts += [message.media(m.sid) for m in message.media.stream()]
                except (TwilioException, OSError) as exc:  # Twilio deletes them with it
                    log.warning("could not list the media of %s: %s", record.sid, exc)
            parts.append(message)
        else:
            parts.append(client.calls(record.sid))
        return all(
            delete_resource(part, throttle, deadline) in ("deleted", "gone") for part in parts
        )

    mine = [r for r in records if r.about(number)]
    with ThreadPoolExecutor(PURGE_WORKERS, thread_name_prefix="erase") as pool:
        outcomes = list(pool.map(erase, mine))
    return Erased(
        deleted=sum(outcomes),
        not_deleted=[r.sid for r, ok in zip(mine, outcomes, strict=True) if not ok],
    )
