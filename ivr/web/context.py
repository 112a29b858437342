"""What each request needs, as flaskr's db.py gives get_db: helpline() is the services (settings,
flows, clock, store) of the helpline the request is for, chosen once per request; asked()
is the request's own state (when it started, what it decided). Both are read from a context
variable, not from Flask's proxies (g, request), which cost a lookup at each read: a call
asks helpline() 6 to 13 times. The blueprints import this, never app.py, so the app can
import them without a loop."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, fields

from flask import Request, current_app, has_request_context, request
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


@dataclass
class Asked:
    """One request's own state, from the moment the app is called (begin) to its teardown
    (end): when it started (for its duration), its helpline once chosen, what it decided
    (web/metrics.note), said in its log line, and whether that line is written. Made by
    helpline() too, in a request context entered without the app being called (a test's
    test_request_context)."""

    started: float
    chosen: Helpline | None = None
    notes: list[str] = field(default_factory=list)
    observed: bool = False


# The request's state (new as each request starts, gone as it ends: a gevent greenlet serves
# every request of its keep-alive connection), and `serving`'s helpline.
_ASKED: ContextVar[Asked | None] = ContextVar("ivr.asked", default=None)
_SERVING: ContextVar[Helpline | None] = ContextVar("ivr.serving", default=None)


def asked() -> Asked | None:
    """This request's state; None outside a request."""
    return _ASKED.get()


def helplines() -> dict[str, Helpline]:
    """Every helpline of the deployment, by name, the default first."""
    found: dict[str, Helpline] = current_app.extensions["helplines"]
    return found


def helpline() -> Helpline:
    """The helpline this request is for, chosen once per request (see _choose); within
    `serving`, the one it names; otherwise the default."""
    chosen = _SERVING.get()
    if chosen is not None:
        return chosen
    state = _ASKED.get()
    if state is not None and state.chosen is not None:
        return state.chosen
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
    if state is None:  # a request context entered without calling the app (a test's)
        state = Asked(time.perf_counter())
        _ASKED.set(state)  # (its teardown, `end`, still runs)
    state.chosen = chosen
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
    return first(twilio_fields(asked), name)


def twilio_fields(asked: Request) -> MultiDict[str, str]:
    """Every parameter Twilio sent (see twilio_param): a POST's form, a GET's query."""
    return asked.form if asked.method == "POST" else asked.args


def first(values: MultiDict[str, str], name: str) -> str:
    """The first value of `name` in a request's form or query, "" if there is none. Asked
    with `in` first: MultiDict.get finds a missing name by raising and catching werkzeug's
    KeyError (its message built each time), and most webhooks ask for fields Twilio did not
    send."""
    return (values[name] or "") if name in values else ""


def begin() -> None:
    """A request starts (HelplineFlask.wsgi_app, before Flask does anything with it): its
    state new, whatever an earlier request on this greenlet or thread left, no helpline
    chosen yet."""
    _ASKED.set(Asked(time.perf_counter()))


def end(_error: BaseException | None = None) -> None:
    """A request has ended (its teardown): nothing of it is kept."""
    _ASKED.set(None)


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
