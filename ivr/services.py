"""The one place that builds the services from settings and a clock: the web app, the
scheduler, the commands and the tests all start here, so they all run the same thing.

Nothing here decides anything: the rules are in ivr/core, the content in ivr/content, the
store in ivr/store. This only puts them together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import redis
from twilio.rest import Client

from ivr.config import Settings
from ivr.content.flows import Flows, load_flows
from ivr.core.callbacks import callable_number
from ivr.core.clock import Clock, file_clock, system_clock
from ivr.core.hours import Override, Status
from ivr.store.closures import OverrideWatch, read_override
from ivr.store.connection import connect
from ivr.store.keys import Keys
from ivr.store.migrations import migrate
from ivr.store.queue import CallbackQueue
from ivr.store.replication import Replicas
from ivr.twilio.rest import rest_client

log = logging.getLogger(__name__)


class Upgrade:
    """The store brought to the current layout (migrations.py) once per process: at start,
    or, if the store could not be reached then, by the first request that reaches it."""

    def __init__(self, settings: Settings, flows: Flows, clock: Clock, store: redis.Redis) -> None:
        self.settings, self.flows, self.clock, self.store = settings, flows, clock, store
        self.done = False

    def __call__(self) -> bool:
        """True once the store is known to be current (raises a store error otherwise)."""
        if not self.done:
            migrate(self.store, self.clock(), self.flows.hours, self.settings)
            self.done = True
        return True


@dataclass(frozen=True)
class Services:
    """Settings, the checked flows, the clock, the store and Twilio's REST API."""

    settings: Settings
    flows: Flows
    clock: Clock
    redis: redis.Redis
    keys: Keys
    queue: CallbackQueue
    override: OverrideWatch  # the supervisor's closure, as calls and texts read it
    twilio: Client | None  # when credentials are set
    upgrade: Upgrade

    def closure(self) -> Override | None:
        """A supervisor's closure, read afresh from the store (None if the store can't be
        read: the usual hours apply). A simulated caller hears the real one."""
        return read_override(self.redis, self.keys.real)

    def callable(self, raw: str) -> str | None:
        """The number a callback may ring (core/callbacks.py), in E.164; in a simulation,
        also Ofcom's drama numbers, which no stranger answers."""
        return callable_number(raw, drama=self.settings.simulated)

    def line_status(self, at: datetime | None = None) -> Status:
        """ "Open now?" (or at `at`), a supervisor's closure included, read afresh: for
        advisors, the scheduler and outbound calls. The call path reads the same through
        `call_status`, from a copy of the closure kept up to date."""
        return self.flows.hours.status_with(at or self.clock(), self.closure())

    def call_status(self) -> Status:
        """Open or closed now, as a caller hears it (the closure from the local copy)."""
        return self.flows.hours.status_with(self.clock(), self.override.current())


def clock_for(settings: Settings) -> Clock:
    return file_clock(settings.clock_file) if settings.clock_file else system_clock


def build_services(
    settings: Settings, clock: Clock | None = None, upgrade: bool = True
) -> Services:
    """Everything, from settings and a clock (the settings' test clock file, else the
    system's). Bad flows/ stop it here, naming file and line. With `upgrade`, the store is
    brought to the current layout first (migrations.py); a store that can't be reached is
    left for later (calls must still be answered; the scheduler retries)."""
    clock = clock or clock_for(settings)
    flows = load_flows(settings.flows_dir, clock())
    store = connect(settings)
    keys = Keys(simulated=settings.simulated)
    upgraded = Upgrade(settings, flows, clock, store)
    if upgrade:
        try:
            upgraded()
        except redis.RedisError as exc:
            log.warning("could not check the store's version: %s", exc)
    return Services(
        settings,
        flows,
        clock,
        store,
        keys,
        CallbackQueue(store, keys, Replicas.of(settings, store)),
        OverrideWatch(store, settings.override_cache_seconds, keys=keys.real),
        None if settings.simulated else rest_client(settings),
        upgraded,
    )
