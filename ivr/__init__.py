"""helpline front door: Twilio webhooks for a UK helpline's phone and SMS entrance.

The layers (docs/architecture.md): core (pure rules), content (flows/), store (Redis and
disk), web (the webhooks and the console), twilio (its REST API), jobs (the scheduler), ops
(processes, logs, metrics); services.py builds them, cli/ drives them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(*args: Any, **kwargs: Any) -> Flask:
    """The web app (ivr.web.app.create_app), imported only when asked for: the package itself
    stays light for the pure layers and the command line."""
    from ivr.web.app import create_app as build

    return build(*args, **kwargs)
