"""When a handled message may be deleted from Twilio, and how long to keep trying (pure).

Twilio's error 20009 ("Cannot delete this resource before it is complete",
https://www.twilio.com/docs/api/errors/20009): "If you are attempting to delete a call or
message shortly after sending or receiving it, please wait at least 1 minute to make your
DELETE request. If you receive this error after waiting 1 minute, wait several minutes and
retry deletion again", and "In rare cases, a message or call record may take up to 14 days
to be finalized and able to be deleted". So: nothing is tried before it is a couple of
minutes old (PURGE_MIN_AGE_SECONDS); a refusal is tried again after 2, 4, 8… minutes, then
hourly; only Twilio's 404 (already gone) ends it early, and after 14 days we stop.

An inbound message's status is already "received" when its webhook arrives, yet Twilio may
still answer 20009: Twilio alone knows when it is complete, and says so by accepting the
DELETE. Asking its status first would cost a request and prove nothing.
"""

from __future__ import annotations

DEFAULT_MIN_AGE_SECONDS = 120
RETRY_FIRST_SECONDS = 120.0
RETRY_MAX_SECONDS = 3600.0
GIVE_UP_SECONDS = 14 * 24 * 3600.0
# Monitoring is told (ops/health.py) when the oldest message still to delete has waited this
# long: a day of hourly tries that Twilio refused is no longer "several minutes".
ALARM_SECONDS = 24 * 3600.0


def due(queued_at: float, retry_at: float, now: float, min_age: float) -> bool:
    """Whether a message queued at `queued_at` may be tried at `now` (epoch seconds): old
    enough, and past the time set by its last refusal. 0 for `queued_at`: an entry from
    before entries carried a time, old enough by now."""
    return (not queued_at or now - queued_at >= min_age) and now >= retry_at


def retry_delay(tries: int) -> float:
    """Seconds from the `tries`-th refusal to the next try: 2, 4, 8… minutes, then hourly."""
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2.0 ** max(0, tries - 1))


def given_up(queued_at: float, now: float) -> bool:
    """Whether Twilio has refused for longer than it says a message can stay undeletable."""
    return bool(queued_at) and now - queued_at > GIVE_UP_SECONDS
