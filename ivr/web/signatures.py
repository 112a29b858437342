"""Only Twilio gets in: X-Twilio-Signature on every webhook, refusals counted, each reason
logged, and an alarm when they repeat.

Twilio signs with the account's auth token (HMAC-SHA1), unless a Webhook Rule matches the
URL: then it signs with that rule's SharedKey and algorithm and adds
X-Twilio-Webhooks-Signature-Settings: key=<SharedKey id>,algorithm=HMAC_SHA256 ("Sign
webhooks with shared keys", https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys;
twilio-node's examples/WebhookSignatureValidation.md: "Only the hash changes. The signed
string is still the full URL followed by the sorted POST parameters"). So: no such header,
the auth token; with it, the shared keys in TWILIO_WEBHOOK_SHARED_KEYS (newest first, so a
key can be rotated) and the algorithm it names.

One HMAC per genuine request: over the URL as it arrived and the form FormOnce parsed once
(web/limits.py), from a copy of the token's HMAC keyed once; the twilio library's validator
only when that fails, for the URL with and without its port (Twilio signs either). A form
with too many fields never gets here: web/limits.py refuses it unparsed.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote, urlparse

from flask import Blueprint, Request, Response, current_app, request
from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    compare,
    get_signature_algorithm,
    remove_port,
)
from werkzeug.datastructures import MultiDict
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.ops.metrics import count_rejected

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

ALARM_WINDOW_SECONDS = 600
SIGNING_ALGORITHMS = (HMAC_SHA1, HMAC_SHA256)
DIGESTS = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}
# Why a request was refused: the metric's `reason` label, and what the log line says.
REASONS = {
    "unsigned": "no X-Twilio-Signature",
    "bad_signature": "wrong X-Twilio-Signature",
    "shared_key_not_set": (
        "signed with a webhook shared key (a Webhook Rule in Twilio) but "
        "TWILIO_WEBHOOK_SHARED_KEYS is not set: set it to that SharedKey's secret"
    ),
    "unknown_algorithm": (
        "signed with an algorithm this app does not know (it knows HMAC_SHA1 and HMAC_SHA256)"
    ),
}


def signed_url(request: Request, public_base_url: str) -> str:
    """The URL Twilio signed: our public address (else the scheme and host the request came
    to) plus the path and query string exactly as they arrived, percent-escapes and all.
    Rebuilding them from the decoded request.path or request.url (an IRI) would not match
    a URL holding %20, %2F or non-ASCII escapes."""
    base = public_base_url or f"{request.scheme}://{request.host}{request.script_root}"
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if raw.startswith("/"):
        return base + raw
    path = quote(request.script_root + request.path, safe="/!$&'()*+,:;=@%~")
    query = request.query_string.decode("latin-1")
    return base + path + (f"?{query}" if query else "")


# Set in the environ of a request refused here: web/metrics logs it by this guard's line only.
SIGNATURE_REFUSED = "helpline.signature_refused"
# Where WSGI keeps the two headers (what werkzeug's EnvironHeaders looks up for them).
_SIGNATURE_KEY = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")
_SETTINGS_KEY = "HTTP_" + SIGNATURE_SETTINGS_HEADER.upper().replace("-", "_")


def signed_text(url: str, params: Mapping[str, str]) -> bytes:
    """What Twilio signs (https://www.twilio.com/docs/usage/security#validating-requests):
    the full URL, then each POST field's name and value, sorted by name, with nothing
    between; built as twilio's RequestValidator.compute_signature builds it (a repeated
    field's distinct values sorted, each once: the distinct (name, value) pairs, sorted), so
    the two always agree."""
    pairs = params.items(multi=True) if isinstance(params, MultiDict) else params.items()
    return (url + "".join(map("".join, sorted(set(pairs))))).encode()


def signature(key: bytes, text: bytes, algorithm: str = HMAC_SHA1) -> bytes:
    """The X-Twilio-Signature of `text` (signed_text): HMAC with `key`, in base64."""
    mac = _keyed(key, DIGESTS[algorithm.upper()]).copy()
    mac.update(text)
    return base64.b64encode(mac.digest())


@lru_cache(maxsize=16)
def _keyed(key: bytes, digest: str) -> hmac.HMAC:
    """An HMAC with `key` set up (its padded blocks hashed), copied for each request: in
    place, setting up the key each time made hmac.digest 9 us of a call, against 5."""
    return hmac.new(key, digestmod=digest)


def alarm_due(
    recent: Sequence[float], alarmed_at: float | None, now: float, alarm_after: int, window: float
) -> bool:
    """Whether the alarm goes off at `now`, given the latest rejection times (`now` last):
    when `alarm_after` of them came within `window`, and it has not gone off within `window`
    (so a flood of junk raises it once every `window`, not once a request)."""
    return (
        len(recent) >= alarm_after
        and now - recent[-alarm_after] <= window
        and (alarmed_at is None or now - alarmed_at >= window)
    )


class SignatureGuard:
    """Checks signatures; counts what it refuses (helpline_rejected_requests_total) and raises
    the alarm when refusals repeat, so a wrong PUBLIC_BASE_URL or token, or someone probing
    the webhooks, is noticed."""

    def __init__(
        self,
        auth_token: str,
        public_base_url: str,
        alarm_after: int = 3,
        clock: Callable[[], float] = time.monotonic,
        shared_keys: Sequence[str] = (),
    ) -> None:
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.shared = tuple(RequestValidator(key) for key in shared_keys if key)
        self.own = (self.validator,) if self.validator else ()  # those without the header
        self.public_base_url = public_base_url
        self.alarm_after = alarm_after
        self.clock = clock
        self.recent: deque[float] = deque(maxlen=alarm_after)
        self.alarmed_at: float | None = None
        self.since_alarm: Counter[str] = Counter()

    def check(self, request: Request) -> Response | None:
        """None when the request may go on; a 403 response when it must not."""
        if self.validator is None and not self.shared:
            return None
        url = signed_url(request, self.public_base_url)
        reason, detail = self._refusal(request, url)
        if reason is None:
            return None
        request.environ[SIGNATURE_REFUSED] = True  # its log line leaves out the SIDs it claims
        self._record_failure(request.path, url.split("?", 1)[0], reason, detail)
        return Response(
            "Forbidden: this address only answers Twilio.\n", status=403, mimetype="text/plain"
        )

    def _refusal(self, request: Request, url: str) -> tuple[str | None, str]:
        """Why the request must be refused (a REASONS key, and which secret was tried), or
        None when Twilio signed it."""
        environ = request.environ  # request.headers.get, without its per-call key rewriting
        signature = environ.get(_SIGNATURE_KEY, "")
        settings = environ.get(_SETTINGS_KEY, "").strip()
        if not signature:
            return "unsigned", ""
        if not settings:  # the auth token's HMAC_SHA1, as get_signature_algorithm("") says
            algorithm, validators = HMAC_SHA1, self.own
        else:
            algorithm, validators = get_signature_algorithm(settings), self.shared
            if algorithm.upper() not in SIGNING_ALGORITHMS:
                return "unknown_algorithm", ""
            if not self.shared:
                return "shared_key_not_set", ""
        params = request.form if request.method == "POST" else {}
        if self._valid(validators, url, params, signature, algorithm):
            return None, ""
        secret = "TWILIO_WEBHOOK_SHARED_KEYS" if settings else "TWILIO_AUTH_TOKEN"
        return "bad_signature", f" (checked with {algorithm} and {secret})"

    def _valid(
        self,
        validators: Sequence[RequestValidator],
        url: str,
        params: Mapping[str, str],
        given: str,
        algorithm: str,
    ) -> bool:
        """One HMAC per secret over the URL as it arrived (one in all for a genuine request
        signed with the auth token); only when none matches, the library's check of the URL
        with and without its port (RequestValidator.validate computes both, always). Bodies
        signed by hash (JSON) take the library's own path."""
        if "bodySHA256" in url:
            return any(v.validate(url, params, given, algorithm) for v in validators)
        text = signed_text(url, params)
        expected = given.encode("utf-8", "replace")
        if any(
            hmac.compare_digest(signature(v.token, text, algorithm), expected) for v in validators
        ):
            return True
        parsed = urlparse(url)
        variants = {remove_port(parsed), add_port(parsed)} - {url}
        return any(
            compare(v.compute_signature(candidate, params, algorithm), given)
            for v in validators
            for candidate in sorted(variants)
        )

    def _record_failure(self, path: str, checked: str, reason: str, detail: str = "") -> None:
        """Count it; log the path and the reason, never the query or body (they are whatever
        a stranger put there, with GET a message's body). Each refusal is a warning until the
        alarm goes off; while it holds, only the first of each reason is (so a genuine request
        is never refused without a line saying why), the rest are counted, and the next alarm
        sums them up."""
        count_rejected(path, reason)
        now = self.clock()
        self.recent.append(now)
        first_of_its_kind = not self.since_alarm[reason]
        self.since_alarm[reason] += 1
        holding = self.alarmed_at is not None and now - self.alarmed_at < ALARM_WINDOW_SECONDS
        log.log(
            logging.DEBUG if holding and not first_of_its_kind else logging.WARNING,
            "rejected a request to %s: %s%s",
            path,
            REASONS[reason],
            detail,
        )
        if not alarm_due(self.recent, self.alarmed_at, now, self.alarm_after, ALARM_WINDOW_SECONDS):
            return
        since = (
            "start-up"
            if self.alarmed_at is None
            else f"the last alarm {round((now - self.alarmed_at) / 60)} minutes ago"
        )
        others = "".join(
            f", {count} {REASONS[name].split(':')[0]}"
            for name, count in self.since_alarm.items()
            if name not in ("bad_signature", "unsigned")
        )
        log.error(
            "ALARM: %d webhook requests refused since %s (%d with a wrong signature, %d "
            "unsigned%s). If these are real calls, callers are hearing an application error: "
            "Twilio signs the exact URL it calls, and we checked against %s. If that is not the "
            "URL in Twilio's console, set PUBLIC_BASE_URL (or TRUSTED_PROXIES behind a proxy); "
            "otherwise TWILIO_AUTH_TOKEN is wrong or was rotated (or, for URLs under a Webhook "
            "Rule, TWILIO_WEBHOOK_SHARED_KEYS). Run `helpline check`. "
            "Unsigned requests never come from Twilio: many of them mean someone is probing "
            "the webhooks (helpline_rejected_requests_total counts them by route and reason).",
            sum(self.since_alarm.values()),
            since,
            self.since_alarm["bad_signature"],
            self.since_alarm["unsigned"],
            others,
            checked,
        )
        self.alarmed_at = now
        self.since_alarm.clear()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedByProxiesOnly:
    """werkzeug's ProxyFix (`hops` proxies' X-Forwarded-For, -Proto, -Host and -Port), applied
    only when the request comes straight from one of our proxies: anyone reaching the port
    directly could otherwise name any address they like (and slip past the sign-in limits
    per address)."""

    def __init__(self, app: WSGIApplication, hops: int, proxies: Sequence[str]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
        self.proxies = proxy_networks(proxies)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if from_networks(environ.get("REMOTE_ADDR", ""), self.proxies):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def proxy_networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXY_ADDRESSES read as networks; a mistake stops start-up, naming it."""
    try:
        return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
    except ValueError as exc:
        raise ValueError(
            f"TRUSTED_PROXY_ADDRESSES: {exc} (give addresses or networks, "
            "comma-separated, e.g. 10.0.0.0/8,127.0.0.1)"
        ) from None


def from_networks(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a Unix socket, or nothing: not a proxy we know
        return False
    return any(ip in network for network in networks)


def only_twilio(bp: Blueprint) -> None:
    """Every route of `bp` answers only requests signed by Twilio (when a token is set)."""

    @bp.before_request
    def check_signature() -> Response | None:
        # The request behind the proxy: the check reads it a dozen times, a lookup each.
        asked = request._get_current_object()  # type: ignore[attr-defined]
        return current_app.extensions["helpline"].guard.check(asked)
