"""The advisors' console under /console: sign in, go on duty, call the next person back,
record the outcome; supervisors close the line, manage advisors and see the day.

Server-rendered (Jinja), usable on a phone; a small poll keeps the queue current. One
blueprint ("console"), its routes by audience: signin.py (sign in and out, trusted devices),
advisor.py (the queue, duty, Take next, outcomes), supervisor.py (the line, the queue's rules,
advisors, the day and the month); common.py holds what they share.
"""

from __future__ import annotations

from datetime import timedelta

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

__all__ = ["LANGUAGE_LABELS", "PUBLIC_ENDPOINTS", "advisor", "init_console", "signin", "supervisor"]


def init_console(app: Flask) -> None:
    """Sign-in, CSRF on every console form, secure cookies; Twilio's webhooks are exempt
    from CSRF (they are signed instead)."""
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
    app.extensions["signin_pool"] = HashPool(s.signin_pool_size)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "Please sign in."
    csrf.init_app(app)
    for name, blueprint in app.blueprints.items():
        if name != "console":
            csrf.exempt(blueprint)
    app.register_blueprint(bp)
    app.extensions[CONSOLE_CHOICE] = chosen_helpline
    app.extensions[PAGE_ERROR] = page_for_error
