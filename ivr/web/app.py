"""The web app: create_app builds it from settings and a clock and registers the blueprints;
what each request needs of its helpline is in context.py."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

from flask import Flask

from ivr.config import Settings
from ivr.core.clock import Clock
from ivr.ops.logs import setup_logging
from ivr.ops.secret_key import load_secret_key
from ivr.services import build_deployment
from ivr.store import Unavailable
from ivr.store.accounts import use_password_cost
from ivr.web import context
from ivr.web.context import Helpline
from ivr.web.limits import limit_requests
from ivr.web.signatures import ForwardedByProxiesOnly, SignatureGuard

log = logging.getLogger(__name__)


class HelplineFlask(Flask):
    """Flask, asking once per function whether it is a coroutine. Flask asks it of every
    hook and view on every request (seven times a call, through `inspect`), although
    functions never change and this app has no async ones. `ensure_sync` is Flask's
    documented place to change how views are run
    (https://flask.palletsprojects.com/en/stable/api/#flask.Flask.ensure_sync). The answer
    is kept on the function itself, as the code it was given for: a set of functions would
    keep every app's closures alive, a weak one costs a new reference at each look, and
    functools.wraps copies a function's attributes onto its wrapper (an async one, maybe),
    whose code is its own."""

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Each request's own state begun before Flask does anything with it (context.begin),
        so nothing of an earlier request on the same greenlet is seen, even by a request
        that fails before its first hook; Flask's documented place to wrap the app
        (https://flask.palletsprojects.com/en/stable/api/#flask.Flask.wsgi_app)."""
        context.begin()
        return super().wsgi_app(environ, start_response)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(func, FunctionType) and getattr(func, _PLAIN, None) is func.__code__:
            return func
        synced = super().ensure_sync(func)
        if synced is func and isinstance(func, FunctionType):
            setattr(func, _PLAIN, func.__code__)
        return synced


_PLAIN = "_helpline_not_async"  # on a plain (not async) function seen: its code


def create_app(
    config: Mapping[str, object] | None = None, clock: Clock | None = None, serving: bool = True
) -> Flask:
    """Build the app. `config` overrides settings from the environment; `clock` lets tests and
    the simulator run the real app at any instant. Serving callers, it publishes flows/ and
    follows each new publish; broken flows/ leave the last published copy serving, with the
    alarm raised, and stop start-up only without one (services.content_at_start). Commands
    and simulations (`serving` False) take flows/ as it is."""
    settings = Settings.from_env().override(config)
    setup_logging(settings.log_level, settings.log_format)
    secret_key = load_secret_key(settings)  # before anything starts: refused without one
    use_password_cost(settings.password_hash_cost)
    if settings.password_hash_cost != "production":
        log.warning(
            "!!! PASSWORD_HASH_COST=%s: console passwords are hashed at argon2's cheapest "
            "cost, which protects nothing. For the test suite only: never in production. !!!",
            settings.password_hash_cost,
        )
    deployment = build_deployment(settings, clock, serving=serving)
    services = deployment.default
    services.content.follow()  # serving: publishes reach this process from now on

    app = HelplineFlask(__name__)  # templates/ and static/ beside this module
    app.secret_key = secret_key
    app.url_map.merge_slashes = False  # "/voice//menu" gets the fallback, not a redirect
    if settings.trusted_proxies:
        app.wsgi_app = ForwardedByProxiesOnly(  # type: ignore[method-assign]  # Flask's documented way to wrap WSGI middleware
            app.wsgi_app, settings.trusted_proxies, settings.trusted_proxy_addresses
        )
    guard = SignatureGuard(
        settings.twilio_auth_token,
        settings.public_base_url,
        settings.signature_alarm_after,
        shared_keys=settings.twilio_webhook_shared_keys,
    )
    app.extensions["helplines"] = {s.line.name: Helpline.of(s, guard) for s in deployment.all()}
    app.extensions["helpline"] = app.extensions["helplines"][services.line.name]

    @app.before_request
    def upgraded() -> None:
        """A store unreachable at start is brought up to date by the first request that
        reaches it (a store error here is left to the route's own fallback). Once it is,
        the hook is gone, and no later request asks it: the list is replaced, not changed,
        so a request going through the old one meanwhile is not disturbed."""
        with contextlib.suppress(Unavailable):
            services.upgrade()
        if services.upgrade.done:
            hooks = app.before_request_funcs
            hooks[None] = [hook for hook in hooks[None] if hook is not upgraded]

    app.teardown_request(context.end)

    if not settings.twilio_auth_token:
        log.warning(
            "!!! TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked, so "
            "anyone can reach these webhooks. Fine for local work only. !!!"
        )

    from ivr.web import console, health, metrics, outbound, sms, voice, voice_callbacks, voice_queue

    app.register_blueprint(voice.bp)
    app.register_blueprint(voice_callbacks.bp)
    app.register_blueprint(voice_queue.bp)
    app.register_blueprint(outbound.bp)
    app.register_blueprint(sms.bp)
    console.init_console(app)
    voice.install_fallback(app)
    metrics.install(app)
    app.register_blueprint(health.bp)
    if services.spool.waiting():  # texts kept while the store was down, unreplayed
        sms.start_replaying(app)
    limit_requests(app)  # outermost: before the signature check or Flask reads a body
    return app
