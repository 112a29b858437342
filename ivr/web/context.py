"""What each request needs, as flaskr's db.py gives get_db: helpline() is the services (settings,
flows, clock, store) of the helpline the request is for, chosen once per request. The
blueprints import this, never app.py, so the app can import them without a loop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

from flask import current_app, g, has_request_context, request

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


# The console's choice among the signed-in advisor's helplines (console.py sets it): a
# function of the request giving a helpline's name, or None for the default.
CONSOLE_CHOICE = "helpline_console_choice"
CHOSEN = "ivr.helpline"  # the request's helpline, once chosen
# A page for an error outside Twilio's webhooks (console.py sets it): a function of the error
# giving the response a person at a browser sees (the voice fallback asks it).
PAGE_ERROR = "helpline_page_error"


def helplines() -> dict[str, Helpline]:
    """Every helpline of the deployment, by name, the default first."""
    found: dict[str, Helpline] = current_app.extensions["helplines"]
    return found


def helpline() -> Helpline:
    """The helpline this request is for, chosen once per request (see _choose); within
    `serving`, the one it names; otherwise the default."""
    chosen: Helpline | None = g.get("serving")
    if chosen is not None:
        return chosen
    if not has_request_context():
        return current_app.extensions["helpline"]
    chosen = request.environ.get(CHOSEN)
    if chosen is None:
        default = current_app.extensions["helpline"]
        request.environ[CHOSEN] = default  # while choosing: the console reads the advisor
        chosen = _choose() or default  # through the accounts every helpline shares
        request.environ[CHOSEN] = chosen
    return chosen


def _choose() -> Helpline | None:
    """Twilio's webhooks by the number called (`To`: every number of ours is listed in
    flows/helplines.toml), else the number calling (`From`: our own legs, a callback rung
    from the helpline's number); the console by the advisor's choice. Anything else, an
    unknown number included, gets the default helpline: never an error."""
    lines = helplines()
    if len(lines) == 1:
        return None
    if request.blueprint == "console":
        choice: Callable[[], str | None] | None = current_app.extensions.get(CONSOLE_CHOICE)
        name = choice() if choice else None
        return lines.get(name) if name else None
    for field_name in ("To", "From"):
        number = (request.values.get(field_name) or "").strip()[:20]
        for line in lines.values():
            if number and number in line.line.numbers:
                return line
    return None


@contextlib.contextmanager
def serving(name: str) -> Iterator[Helpline]:
    """helpline() is `name`'s (the default's if unknown) within this block: work done for
    one helpline away from its request (a text kept on disk while the store was down)."""
    before = g.get("serving")
    g.serving = helplines().get(name) or current_app.extensions["helpline"]
    try:
        yield g.serving
    finally:
        g.serving = before
