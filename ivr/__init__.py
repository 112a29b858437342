"""helpline front door: Twilio webhooks for a UK helpline's phone and SMS entrance."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis
from flask import Flask, current_app
from twilio.rest import Client
from werkzeug.middleware.proxy_fix import ProxyFix

from ivr.clock import Clock, file_clock, system_clock
from ivr.config import Settings
from ivr.flows import Flows, load_flows
from ivr.logs import setup_logging
from ivr.migrations import migrate
from ivr.queue import CallbackQueue
from ivr.security import SignatureGuard
from ivr.serving import limit_requests
from ivr.store import connect
from ivr.twilio_api import rest_client

__version__ = "0.1.0"
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
    twiml_cache: dict[tuple, str] = field(default_factory=dict)  # see voice.cached


def helpline() -> Helpline:
    return current_app.extensions["helpline"]


def create_app(config: Mapping[str, object] | None = None, clock: Clock | None = None) -> Flask:
    """Build the app. `config` overrides settings from the environment; `clock` lets tests and
    the simulator run the real app at any instant. Bad flows/ stop start-up here."""
    settings = Settings.from_env().override(config)
    clock = clock or (file_clock(settings.clock_file) if settings.clock_file else system_clock)
    setup_logging(settings.log_level, settings.log_format)
    flows = load_flows(settings.flows_dir, clock())

    app = Flask(__name__)
    app.url_map.merge_slashes = False  # "/voice//menu" gets the fallback, not a redirect
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    guard = SignatureGuard(settings.twilio_auth_token, settings.public_base_url,
                           settings.signature_alarm_after)
    store = connect(settings)
    try:
        migrate(store, clock(), flows.hours, settings)
    except redis.RedisError as exc:  # calls must still be answered; the scheduler retries
        log.warning("could not check the store's version at start-up: %s", exc)
    app.extensions["helpline"] = Helpline(settings, flows, clock, guard, store,
                                          CallbackQueue(store), rest_client(settings))
    if not settings.twilio_auth_token:
        log.warning("!!! TWILIO_AUTH_TOKEN is not set: webhook signatures are NOT checked, so "
                    "anyone can reach these webhooks. Fine for local work only. !!!")

    from ivr import console, health, metrics, outbound, sms, voice, voice_callbacks

    app.register_blueprint(voice.bp)
    app.register_blueprint(voice_callbacks.bp)
    app.register_blueprint(outbound.bp)
    app.register_blueprint(sms.bp)
    console.init_console(app)
    voice.install_fallback(app)
    metrics.install(app)
    app.register_blueprint(health.bp)
    limit_requests(app)  # outermost: before the signature check or Flask reads a body
    return app
