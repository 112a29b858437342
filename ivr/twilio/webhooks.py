"""Where Twilio, and the people we send links to, reach this app from outside a request: each
path named after the web's route (its Flask endpoint), so the layers beneath the web (the
Twilio number's set-up, the calls placed to advisors, the scheduler's texts) and the commands
build their URLs here and never write a route by hand. tests/test_webhooks.py checks every
name against the web's registered routes, and that no module outside ivr/web writes one."""

from __future__ import annotations

from urllib.parse import quote

# Flask endpoint -> its path, as the web registers it (url_map).
VOICE = "voice.incoming"  # the number's "A call comes in"
SMS = "sms.incoming"  # the number's "A message comes in"
CALL_ENDED = "voice_callbacks.call_ended"  # the number's call status changes (a call ends)
OUTBOUND_ADVISOR = "outbound.advisor"  # an advisor's leg of a callback: press 1
OUTBOUND_STATUS = "outbound.advisor_status"  # that leg's status callback
QUEUE_ADVISOR = "voice_queue.advisor"  # an advisor's leg for a caller in the queue: press 1
QUEUE_ADVISOR_STATUS = "voice_queue.advisor_status"  # that leg's status callback
CONSOLE = "console.queue"  # the advisors' console, linked from texts and printed by commands
TRUST_DEVICE = "console.trust_device"  # a one-time device link (`helpline advisors trust-device`)

PATHS: dict[str, str] = {
    VOICE: "/voice",
    SMS: "/sms",
    CALL_ENDED: "/voice/callback/call-ended",
    OUTBOUND_ADVISOR: "/voice/outbound/advisor",
    OUTBOUND_STATUS: "/voice/outbound/status",
    QUEUE_ADVISOR: "/voice/queue/advisor",
    QUEUE_ADVISOR_STATUS: "/voice/queue/advisor-status",
    CONSOLE: "/console/",
    TRUST_DEVICE: "/console/trust/<code>",
}


def path(endpoint: str, **values: str) -> str:
    """The path of `endpoint`, its <variables> filled from `values` (quoted), the rest of
    `values` as its query string, in the order given (Twilio signs the URL as given)."""
    found = PATHS[endpoint]
    query: dict[str, str] = {}
    for name, value in values.items():
        if f"<{name}>" in found:
            found = found.replace(f"<{name}>", quote(value, safe=""))
        else:
            query[name] = value
    return found + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else "")


def url(base_url: str, endpoint: str, **values: str) -> str:
    """The full URL of `endpoint` on this app's public address `base_url` (PUBLIC_BASE_URL)."""
    return base_url.rstrip("/") + path(endpoint, **values)
