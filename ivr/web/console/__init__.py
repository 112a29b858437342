"""The advisors' console under /console: sign in, go on duty, call the next person back,
record the outcome; supervisors close the line, manage advisors and see the day.

Server-rendered (Jinja), usable on a phone; a small poll keeps the queue current. One
blueprint ("console"), its routes by audience: signin.py (sign in and out, trusted devices),
advisor.py (the queue, duty, Take next, outcomes), supervisor.py (the line, the queue's rules,
advisors, the day and the month); common.py holds what they share.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import Flask

from ivr.ops.hashpool import HashPool
from ivr.web.console import advisor, signin, supervisor
from ivr.web.console.common import (
    IDLE_NOTICE_SECONDS,
    LANGUAGE_LABELS,
    PUBLIC_ENDPOINTS,
    ConsoleSessions,
    bp,
    chosen_helpline,
    csrf,
    helpline_settings,
    login_manager,
    page_for_error,
)
from ivr.web.context import CONSOLE_CHOICE, PAGE_ERROR

Hook = TypeVar("Hook")
__all__ = ["LANGUAGE_LABELS", "PUBLIC_ENDPOINTS", "advisor", "init_console", "signin", "supervisor"]


def init_console(app: Flask) -> None:
    """Sign-in, CSRF on every console form, secure cookies; Twilio's webhooks skip both
    (they are signed instead)."""
    s = helpline_settings(app)
    app.config.update(
        SESSION_COOKIE_SECURE=s.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=s.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=s.console_idle_seconds + IDLE_NOTICE_SECONDS),
    )
    app.session_interface = ConsoleSessions()
    app.extensions["signin_pool"] = HashPool.for_server(s.signin_pool_size, s.data_dir)
    on_the_console_only(app, login_manager.init_app, csrf.init_app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "Please sign in."
    app.register_blueprint(bp)
    app.extensions[CONSOLE_CHOICE] = chosen_helpline
    app.extensions[PAGE_ERROR] = page_for_error


def on_the_console_only(app: Flask, *init_apps: Callable[[Flask], None]) -> None:
    """Set up Flask extensions whose request hooks only the console needs (Flask-Login's
    cookie, Flask-WTF's CSRF check): what they register for every request runs for the
    console's blueprint alone, first, so Twilio's webhooks don't pay for them (issue 24).
    Flask keeps a blueprint's hooks under its name (Flask.before_request_funcs)."""
    before, after = list(app.before_request_funcs[None]), list(app.after_request_funcs[None])
    for init_app in init_apps:
        init_app(app)
    _to_console(app.before_request_funcs, before)
    _to_console(app.after_request_funcs, after)


def _to_console(registry: dict[str | None, list[Hook]], had: list[Hook]) -> None:
    """The hooks added to `registry` for every request since it `had` these, the console's."""
    registry[bp.name][:0] = [hook for hook in registry[None] if hook not in had]
    registry[None] = had
