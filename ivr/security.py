"""Only Twilio gets in: X-Twilio-Signature on every webhook, and loud logs when it fails."""

from __future__ import annotations

import logging
import time
from collections import deque
from urllib.parse import quote

from flask import Blueprint, Request, Response, current_app, g, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

log = logging.getLogger(__name__)

ALARM_WINDOW_SECONDS = 600


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


class SignatureGuard:
    """Checks signatures; counts failures so a wrong PUBLIC_BASE_URL or token is noticed."""

    def __init__(self, auth_token: str, public_base_url: str, alarm_after: int = 3) -> None:
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_base_url = public_base_url
        self.alarm_after = alarm_after
        self.failures: deque[float] = deque()

    def check(self, request: Request) -> Response | None:
        """None when the request may go on; a 403 response when it must not."""
        if self.validator is None:
            return None
        url = signed_url(request, self.public_base_url)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        params = request.form if request.method == "POST" else {}
        if signature and self.validator.validate(url, params, signature, algorithm):
            return None
        g.signature_rejected = True  # the request log line leaves out the SIDs it claims
        self._record_failure(request.path, url.split("?", 1)[0], bool(signature))
        return Response("Forbidden: this address only answers Twilio.\n", status=403,
                        mimetype="text/plain")

    def _record_failure(self, path: str, checked: str, had_signature: bool) -> None:
        """Log the path, never the query or body: they are whatever a stranger put there
        (with GET, a message's body)."""
        now = time.monotonic()
        self.failures.append(now)
        while self.failures and now - self.failures[0] > ALARM_WINDOW_SECONDS:
            self.failures.popleft()
        log.warning("rejected a request to %s: %s X-Twilio-Signature", path,
                    "wrong" if had_signature else "no")
        if len(self.failures) >= self.alarm_after:
            log.error(
                "ALARM: %d requests failed the Twilio signature check in the last %d minutes. "
                "If these are real calls, callers are hearing an application error. Twilio signs "
                "the exact URL it calls; we checked against %s. If that is not the URL in "
                "Twilio's console, set PUBLIC_BASE_URL (or TRUSTED_PROXIES behind a proxy). "
                "Otherwise TWILIO_AUTH_TOKEN is wrong or was rotated. Run `helpline check`.",
                len(self.failures), ALARM_WINDOW_SECONDS // 60, checked)


def only_twilio(bp: Blueprint) -> None:
    """Every route of `bp` answers only requests signed by Twilio (when a token is set)."""

    @bp.before_request
    def check_signature() -> Response | None:
        return current_app.extensions["helpline"].guard.check(request)
