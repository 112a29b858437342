"""Subject requests: what the helpline holds about a phone number, and erasing it, in our
store and in Twilio's logs (`helpline data show|erase`). Data-protection law gives a person
both rights; staff answer them with these. Both are written to the audit trail without the
number, and nothing here logs it. Plain data back (Found, Erasure): the caller words it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException

from ivr.services import Services
from ivr.store import audit
from ivr.store.subjects import Held, erase_about, held_about
from ivr.twilio.records import Erased, Record, erase_records, records_of

log = logging.getLogger(__name__)
ACTOR = "command line"


@dataclass(frozen=True)
class Found:
    number: str
    held: Held
    twilio: list[Record] | None  # None: Twilio could not be asked (see twilio_problem)
    twilio_problem: str = ""


@dataclass(frozen=True)
class Erasure:
    callbacks: int  # callback records erased from the store
    twilio: Erased | None  # None: Twilio could not be asked (see twilio_problem)
    twilio_problem: str = ""

    @property
    def complete(self) -> bool:
        return self.twilio is not None and not self.twilio.not_deleted


def _twilio_records(services: Services, number: str) -> tuple[list[Record] | None, str]:
    if services.twilio is None:
        return None, "no TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: Twilio's logs not read"
    try:
        return records_of(services.twilio, number), ""
    except (TwilioException, OSError) as exc:
        log.error("subject request: could not list Twilio's records: %s", exc)
        return None, f"Twilio could not be asked: {exc}"


def show(
    services: Services, number: str, actor: str = ACTOR, also: Sequence[Services] = ()
) -> Found:
    """Everything held about `number` (E.164): ours, in `services`' helpline and those `also`
    names (every helpline, for `helpline data show`), and Twilio's."""
    held = held_about(services.redis, [s.keys for s in (services, *also)], services.sealer, number)
    twilio, problem = _twilio_records(services, number)
    audit.record(
        services.redis,
        services.clock(),
        actor,
        "looked up what is held about a number (subject request)",
        keys=services.keys,
    )
    return Found(number, held, twilio, problem)


def erase(
    services: Services, number: str, actor: str = ACTOR, also: Sequence[Services] = ()
) -> Erasure:
    """Erase what we hold about `number` in `services`' helpline and those `also` names (as
    STOP does in one; `helpline data erase` erases in every one), then delete its calls and
    messages from Twilio's logs. Run it again if Twilio could not delete them all."""
    callbacks = erase_about(
        services.redis,
        [s.keys for s in (services, *also)],
        services.sealer,
        services.erasures,
        number,
    )
    records, problem = _twilio_records(services, number)
    erased = (
        erase_records(services.twilio, number, records)
        if services.twilio and records is not None
        else None
    )
    twilio = (
        f"Twilio: {erased.deleted} calls and messages deleted, {len(erased.not_deleted)} not"
        if erased
        else "Twilio: not done"
    )
    audit.record(
        services.redis,
        services.clock(),
        actor,
        "erased a number's records (subject request)",
        detail=f"{callbacks} callback records; {twilio}",
        keys=services.keys,
    )
    log.info("subject request: %d callback records erased; %s", callbacks, twilio)
    return Erasure(callbacks, erased, problem)
