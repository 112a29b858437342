"""Who claimed, called and closed what, and when: a Redis stream, numbers masked."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

import redis

from ivr.core.phone import mask
from ivr.store.keys import DEFAULT, Keys

log = logging.getLogger(__name__)
KEEP = 10_000


def record(
    r: redis.Redis,
    now: datetime,
    actor: str,
    action: str,
    callback_id: str = "",
    number: str = "",
    detail: str = "",
    keys: Keys = DEFAULT,
) -> None:
    try:
        r.xadd(
            keys.audit,
            {
                "at": now.isoformat(),
                "actor": actor,
                "action": action,
                "callback": callback_id,
                "number": mask(number) if number else "",
                "detail": detail,
            },
            maxlen=KEEP,
            approximate=True,
        )
    except redis.RedisError as exc:
        log.warning("could not write the audit trail (%s %s): %s", actor, action, exc)


def recent(r: redis.Redis, count: int = 100, keys: Keys = DEFAULT) -> list[dict[str, str]]:
    # decode_responses=True, and XREVRANGE has no deleted entries (redis-py's None is XCLAIM's)
    entries = cast(list[tuple[str, dict[str, str]]], r.xrevrange(keys.audit, count=count))
    return [fields for _, fields in entries]
