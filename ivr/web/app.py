"""The web app: create_app builds it from settings and a clock; helpline() is what each request
needs (settings, flows, clock, store), on the Flask app."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app
from twilio.rest import Client

from ivr.config import Settings
from ivr.content.flows import Flows, load_flows
from ivr.core.clock import Clock, file_clock, system_clock
from ivr.ops.logs import setup_logging
from ivr.ops.secret_key import load_secret_key
from ivr.store.closures import OverrideWatch
from ivr.store.connection import connect
from ivr.store.migrations import migrate
from ivr.store.queue import CallbackQueue
from ivr.store.spool import Spool
from ivr.twilio.rest import rest_client
from ivr.web.limits import limit_requests
from ivr.web.signatures import ForwardedByProxiesOnly, SignatureGuard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Helpline:
    """What every request needs: settings, the checked flows, the clock and the store."""

    settings: Settings
    flows: Flows
    clock: Clock
    guard: SignatureGuard
    redis: redis.Redis
    queue: CallbackQueue
    twilio: Client | None  # Twilio's REST API, when credentials are set
    override: OverrideWatch  # the supervisor's closure, as calls and texts read it
    twiml_cache: dict[tuple, str] = field(default_factory=dict)  # see voice.cached


def helpline() -> Helpline:
    return current_app.extensions["helpline"]


def create_app(config: Mapping[str, object] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app. `config` overrides settings from the environment; `clock` lets tests and
    the simulator run the real app at any instant. Bad flows/ stop start-up here."""
    settings = Settings.from_env().override(config)
    clock = clock or (file_clock(settings.clock_file) if settings.clock_file else system_clock)
    setup_logging(settings.log_level, settings.log_format)
    secret_key = load_secret_key(settings)  # before anything starts: refused without one
    flows = load_flows(settings.flows_dir, clock())

    app = Flask(__name__)  # templates/ and static/ beside this module
    app.secret_key = secret_key
    app.url_map.merge_slashes = False  # "/voice//menu" gets the fallback, not a redirect
    if settings.trusted_proxies:
        app.wsgi_app = ForwardedByProxiesOnly(app.wsgi_app, settings.trusted_proxies,
                                              settings.trusted_proxy_addresses)
    guard = SignatureGuard(settings.twilio_auth_token, settings.public_base_url,
                           settings.signature_alarm_after)
    store = connect(settings)
    try:
        migrate(store, clock(), flows.hours, settings)
    except redis.RedisError as exc:  # calls must still be answered; the scheduler retries
        log.warning("could not check the store's version at start-up: %s", exc)
    app.extensions["helpline"] = Helpline(
        settings, flows, clock, guard, store, CallbackQueue(store), rest_client(settings),
        OverrideWatch(store, settings.override_cache_seconds))
    if not settings.twilio_auth_token:
        log.warning("!!! TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked, so "
                    "anyone can reach these webhooks. Fine for local work only. !!!")

    from ivr.ops import metrics
    from ivr.web import console, health, outbound, sms, voice, voice_callbacks

    app.register_blueprint(voice.bp)
    app.register_blueprint(voice_callbacks.bp)
    app.register_blueprint(outbound.bp)
    app.register_blueprint(sms.bp)
    console.init_console(app)
    voice.install_fallback(app)
    metrics.install(app)
    app.register_blueprint(health.bp)
    if Spool(settings.data_dir).waiting():  # texts kept while the store was down, unreplayed
        sms.start_replaying(app)
    limit_requests(app)  # outermost: before the signature check or Flask reads a body
    return app
