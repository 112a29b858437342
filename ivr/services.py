"""The one place that builds the services from settings and a clock: the web app, the
scheduler, the commands and the tests all start here, so they all run the same thing.

Nothing here decides anything: the rules are in ivr/core, the content in ivr/content, the
store in ivr/store. This only puts them together.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from twilio.rest import Client

from ivr.config import Settings
from ivr.content.flows import Flows
from ivr.content.helplines import Line, Lines
from ivr.content.published import load_files, snapshot, version_of
from ivr.content.tomlfile import FlowFileError
from ivr.core.callbacks import callable_number
from ivr.core.clock import Clock, file_clock, system_clock
from ivr.core.hours import Override, Status
from ivr.store import Unavailable
from ivr.store.accounts import Accounts, Advisor
from ivr.store.closures import OverrideWatch, read_override
from ivr.store.connection import Store, connect
from ivr.store.erasures import ErasureLog, erasure_log
from ivr.store.keys import Keys
from ivr.store.live import AdvisorStates, LiveQueue
from ivr.store.migrations import migrate
from ivr.store.published import (
    WATCH_SECONDS,
    ContentWatch,
    Serving,
    check_published,
    publish_files,
    read_published,
)
from ivr.store.queue import CallbackQueue
from ivr.store.replication import Replicas
from ivr.store.sealing import Sealer, load_sealer
from ivr.store.spool import Spool
from ivr.twilio.rest import rest_client

log = logging.getLogger(__name__)


class Upgrade:
    """The store brought to the current layout (migrations.py) once per process: at start,
    or, if the store could not be reached then, by the first request that reaches it."""

    def __init__(
        self, settings: Settings, flows: Flows, clock: Clock, store: Store, sealer: Sealer
    ) -> None:
        self.settings, self.flows, self.clock, self.store = settings, flows, clock, store
        self.sealer = sealer
        self.done = False

    def __call__(self) -> bool:
        """True once the store is known to be current and sealed with our keys (raises a
        store error, or KeyMismatch, otherwise)."""
        if not self.done:
            migrate(self.store, self.clock(), self.flows.hours, self.settings, self.sealer)
            self.done = True
        return True


@dataclass(frozen=True)
class Services:
    """One helpline's services: settings (its number as HELPLINE_NUMBER), its checked flows,
    the clock, the store (its numbers sealed by `sealer`) under the helpline's keys, and
    Twilio's REST API. The store, the accounts, the spool and the erasure log are shared by
    every helpline of the deployment (Deployment)."""

    settings: Settings
    content: ContentWatch  # the words and hours as published (see `flows`)
    clock: Clock
    redis: Store  # only ever handed to the store's functions and classes (ivr/store)
    keys: Keys
    sealer: Sealer
    queue: CallbackQueue
    accounts: Accounts
    spool: Spool  # texts kept on this host's disk while the store is down
    erasures: ErasureLog  # numbers erased, for restores (outside the store)
    override: OverrideWatch  # the supervisor's closure, as calls and texts read it
    twilio: Client | None  # when credentials are set
    upgrade: Upgrade
    live: LiveQueue  # callers waiting on the line (the in-hours queue)
    advisor_states: AdvisorStates
    line: Line  # which helpline (flows/helplines.toml)
    lines: Lines  # every helpline of the deployment, the default first

    @property
    def flows(self) -> Flows:
        """This helpline's words and hours, checked: the published version, as it is now (a
        publish reaches every process within seconds, content/published.py)."""
        return self.content.flows(self.line.name)

    def serves(self, advisor: Advisor) -> bool:
        """Whether `advisor` takes this helpline's calls (or, a supervisor, manages it)."""
        return advisor.serves(self.line.name, self.lines.default.name)

    def closure(self) -> Override | None:
        """A supervisor's closure, read afresh from the store (None if the store can't be
        read: the usual hours apply). A simulated caller hears the real one."""
        return read_override(self.redis, self.keys.real)

    def callable(self, raw: str) -> str | None:
        """The number a callback may ring (core/callbacks.py), in E.164; in a simulation or a
        rehearsal, also Ofcom's drama numbers, which no stranger answers."""
        return callable_number(raw, drama=self.settings.simulated or self.settings.rehearsal)

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


@dataclass(frozen=True)
class Deployment:
    """Every helpline of the deployment, each with its own Services; the default first."""

    lines: Lines
    services: Mapping[str, Services]

    @property
    def default(self) -> Services:
        return self.services[self.lines.default.name]

    def all(self) -> list[Services]:
        return [self.services[name] for name in self.lines.names]

    def of(self, name: str) -> Services | None:
        return self.services.get(name)

    def for_number(self, number: str) -> Services | None:
        """The helpline `number` reaches (None: none of ours)."""
        line = self.lines.for_number(number)
        return self.services[line.name] if line else None


def line_settings(settings: Settings, line: Line) -> Settings:
    """The settings as one helpline sees them: its first number is the one it calls and
    texts from (HELPLINE_NUMBER when helplines.toml lists none)."""
    number = line.numbers[0] if line.numbers else settings.helpline_number
    return replace(settings, helpline=line.name, helpline_number=number)


def content_at_start(
    settings: Settings, store: Store | None, now: datetime
) -> tuple[Serving, dict[str, str] | None]:
    """What a process starts serving, and files still to publish (the store was down).

    Commands and simulations (no `store`) take flows/ as it is: a mistake stops them,
    naming file and line. The web and the scheduler publish valid files as they start; with
    broken ones they serve the last published copy, if this version of the app passes it,
    and raise the alarm (log, health, the supervisor's console); only when neither passes
    does the mistake stop them. With the store down, the files are used as they are."""
    files = snapshot(settings.flows_dir)
    version = version_of(files)
    try:
        loaded = load_files(files, settings.flows_dir, now)
    except FlowFileError as mistake:
        if store is None:
            raise
        return _last_published(settings, store, now, mistake), None
    if store is None:
        return Serving(loaded, version), None
    try:
        published = read_published(store)
    except ValueError as exc:
        log.error("the published words and hours are unreadable (%s): replaced", exc)
        published = None
    except Unavailable as exc:
        log.warning("could not read the published words and hours (%s): flows/ as it is", exc)
        return Serving(loaded, version), files
    if published is None or published.version != version:
        try:
            published = publish_files(store, files, now)
        except Unavailable as exc:
            log.warning("could not publish flows/ (%s): serving it unpublished", exc)
            return Serving(loaded, version), files
        log.info("published flows/ as it is (version %s)", published.short)
    return Serving(loaded, version, published), None


def _last_published(
    settings: Settings, store: Store, now: datetime, mistake: FlowFileError
) -> Serving:
    """flows/ has `mistake`: the last published copy, if this app passes it, with the
    alarm; otherwise the mistake stops the start (as does a store that can't be read)."""
    try:
        published = read_published(store)
    except (Unavailable, ValueError) as exc:
        log.error("flows/ has a mistake and the published copy cannot be read (%s)", exc)
        raise mistake from None
    if published is None:
        raise mistake
    try:
        kept = check_published(published, settings.flows_dir, now)
    except FlowFileError as refused:
        log.error(
            "flows/ has a mistake (%s) and the published copy %s fails this version's "
            "checks too (%s): nothing to serve",
            mistake,
            published.short,
            refused,
        )
        raise mistake from None
    problem = (
        f"{_where(mistake)}: {mistake.message}. Callers hear the words and hours published "
        f"{published.published_at:%d %b %Y %H:%M} (version {published.short}) until it is "
        "fixed: correct the file, then helpline check and helpline content publish"
    )
    log.error("flows/ NOT LOADED: %s", problem)
    return Serving(kept, published.version, published, problem)


def _where(mistake: FlowFileError) -> str:
    return f"{mistake.path} line {mistake.line}" if mistake.line else str(mistake.path)


def build_deployment(
    settings: Settings,
    clock: Clock | None = None,
    upgrade: bool = True,
    serving: bool = False,
) -> Deployment:
    """Every helpline, from settings and a clock (the settings' test clock file, else the
    system's). The words and hours: see content_at_start; with `serving` (the web, the
    scheduler), the published version, followed live. With `upgrade`, the store is brought
    to the current layout first (migrations.py); a store that can't be reached is left for
    later (calls must still be answered; the scheduler retries). Without DATA_KEY and
    LOOKUP_KEY for an external store, KeyProblem stops it here."""
    clock = clock or clock_for(settings)
    now = clock()
    if not serving:  # a mistake stops a command before it touches the store
        first, unpublished = content_at_start(settings, None, now)
    sealer = load_sealer(settings)
    store = connect(settings)
    if serving:
        first, unpublished = content_at_start(settings, store, now)
    content = ContentWatch(
        store,
        first,
        settings.flows_dir,
        clock,
        seconds=WATCH_SECONDS if serving else 0,
        unpublished=unpublished,
    )
    lines = first.loaded.lines
    flows = first.loaded.flows
    upgraded = Upgrade(settings, flows[lines.default.name], clock, store, sealer)
    if upgrade:
        try:
            upgraded()
        except Unavailable as exc:
            log.warning("could not check the store's version: %s", exc)
    replicas = Replicas.of(settings, store)
    accounts = Accounts(store, sealer)
    spool = Spool(settings.data_dir, sealer)
    erasures = erasure_log(settings)
    twilio = None if settings.simulated or settings.rehearsal else rest_client(settings)
    services: dict[str, Services] = {}
    for line in lines.all:
        keys = Keys(line.name, settings.simulated, settings.simulation_session)
        live = LiveQueue(store, keys, sealer)
        services[line.name] = Services(
            line_settings(settings, line),
            content,
            clock,
            store,
            keys,
            sealer,
            CallbackQueue(store, sealer, keys, replicas),
            accounts,
            spool,
            erasures,
            OverrideWatch(store, settings.override_cache_seconds, keys=keys.real),
            twilio,
            upgraded,
            live,
            AdvisorStates(store, live),
            line,
            lines,
        )
    return Deployment(lines, services)


def build_services(
    settings: Settings, clock: Clock | None = None, upgrade: bool = True, serving: bool = False
) -> Services:
    """The services of one helpline (settings.helpline, else the default one): see
    build_deployment. Unknown names stop it (commands check --helpline first)."""
    deployment = build_deployment(settings, clock, upgrade, serving)
    found = deployment.of(settings.helpline) if settings.helpline else deployment.default
    if found is None:
        raise ValueError(f"no helpline {settings.helpline!r} in flows/helplines.toml")
    return found
