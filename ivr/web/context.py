"""What each request needs, as flaskr's db.py gives get_db: helpline() is the services (settings,
flows, clock, store) of the helpline the request is for, chosen once per request and then
read from a context variable (Flask's proxies cost a lookup each time, and a call asks
helpline() 6 to 13 times). The blueprints import this, never app.py, so the app can import
them without a loop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, fields

from flask import Flask, Request, current_app, has_request_context, request
from werkzeug.datastructures import MultiDict

from ivr.services import Services
from ivr.web.signatures import SignatureGuard


@dataclass(frozen=True)
class Helpline(Services):
    """What every request needs: the services, the signature guard and the TwiML built so
    far (see voice.cached)."""

    guard: SignatureGuard
    twiml_cache: dict[tuple[object, ...], str] = field(default_factory=dict)

    @classmethod
    def of(cls, services: Services, guard: SignatureGuard) -> Helpline:
        return cls(**{f.name: getattr(services, f.name) for f in fields(Services)}, guard=guard)


# The console's choice among the signed-in advisor's helplines (web/console sets it): a
# function of the request giving a helpline's name, or None for the default.
CONSOLE_CHOICE = "helpline_console_choice"
CHOSEN = "ivr.helpline"  # the request's helpline, once chosen
# A page for an error outside Twilio's webhooks (web/console sets it): a function of the error
# giving the response a person at a browser sees (the voice fallback asks it).
PAGE_ERROR = "helpline_page_error"

# The request's helpline once chosen (forgotten as each request starts and ends: a gevent
# greenlet serves every request of its keep-alive connection), and `serving`'s.
_CURRENT: ContextVar[Helpline | None] = ContextVar("ivr.helpline", default=None)
_SERVING: ContextVar[Helpline | None] = ContextVar("ivr.serving", default=None)


def helplines() -> dict[str, Helpline]:
    """Every helpline of the deployment, by name, the default first."""
    found: dict[str, Helpline] = current_app.extensions["helplines"]
    return found


def helpline() -> Helpline:
    """The helpline this request is for, chosen once per request (see _choose); within
    `serving`, the one it names; otherwise the default."""
    chosen = _SERVING.get()
    if chosen is None:
        chosen = _CURRENT.get()
    if chosen is not None:
        return chosen
    if not has_request_context():
        found: Helpline = current_app.extensions["helpline"]
        return found
    environ = request.environ  # (each proxy read is a lookup)
    chosen = environ.get(CHOSEN)  # set by the console's error page, or by us
    if chosen is None:
        extensions = current_app.extensions
        # The default while choosing: the console reads the advisor through the accounts
        # every helpline shares.
        chosen = environ[CHOSEN] = extensions["helpline"]
        if len(extensions["helplines"]) > 1:
            chosen = environ[CHOSEN] = _choose() or chosen
    _CURRENT.set(chosen)
    return chosen


def twilio_param(name: str, asked: Request | None = None) -> str:
    """A parameter Twilio sent: from the form body of a POST, never from its query string.
    Twilio sends a POST's parameters in the body
    (https://www.twilio.com/docs/messaging/guides/webhook-request); the query string is the
    URL we gave it (our own state: tries, part, lang...), and request.values, where the query
    wins, would let `POST /voice?From=...` speak over Twilio's From, To or HelplineVerify.
    A GET (what Twilio sends to a URL set to GET) has its parameters in the query string.
    `asked` is the request behind the proxy, when the caller has it (one lookup fewer)."""
    if asked is None:
        asked = request._get_current_object()  # type: ignore[attr-defined]
    return first(asked.form if asked.method == "POST" else asked.args, name)


def first(values: MultiDict[str, str], name: str) -> str:
    """The first value of `name` in a request's form or query, "" if there is none. Asked
    with `in` first: MultiDict.get finds a missing name by raising and catching werkzeug's
    KeyError (its message built each time), and most webhooks ask for fields Twilio did not
    send."""
    return (values[name] or "") if name in values else ""


def forget(_error: BaseException | None = None) -> None:
    """No helpline chosen yet (a request starts, or has ended)."""
    _CURRENT.set(None)


def install(app: Flask) -> None:
    """Each request chooses its helpline afresh: forgotten before anything else runs (the
    first of the app's before_request hooks) and after it ends."""
    app.before_request_funcs.setdefault(None, []).insert(0, forget)
    app.teardown_request(forget)


def _choose() -> Helpline | None:
    """Twilio's webhooks by the number called (`To`: every number of ours is listed in
    flows/helplines.toml), else the number calling (`From`: our own legs, a callback rung
    from the helpline's number); the console by the advisor's choice. Anything else, an
    unknown number included, gets the default helpline: never an error."""
    lines = helplines()
    if request.blueprint == "console":
        choice: Callable[[], str | None] | None = current_app.extensions.get(CONSOLE_CHOICE)
        name = choice() if choice else None
        return lines.get(name) if name else None
    for field_name in ("To", "From"):
        number = twilio_param(field_name).strip()[:20]
        for line in lines.values():
            if number and number in line.line.numbers:
                return line
    return None


@contextlib.contextmanager
def serving(name: str) -> Iterator[Helpline]:
    """helpline() is `name`'s (the default's if unknown) within this block: work done for
    one helpline away from its request (a text kept on disk while the store was down)."""
    line = helplines().get(name) or current_app.extensions["helpline"]
    token = _SERVING.set(line)
    try:
        yield line
    finally:
        _SERVING.reset(token)
