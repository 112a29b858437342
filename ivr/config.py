"""Settings, from environment variables (documented in the README) and test overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from ivr.content.flows import DEFAULT_DIR
from ivr.core.deletion import DEFAULT_MIN_AGE_SECONDS
from ivr.core.expiry import Limits

# The data folder is beside the project (like flows/), whatever folder a command runs in.
DEFAULT_DATA_DIR = DEFAULT_DIR.parent / "var"
# Console password hashing: argon2's production cost, or its cheapest (for the tests only).
PASSWORD_HASH_COSTS = ("production", "test")
# Where a tunnel (cloudflared, ngrok) or a proxy on this machine connects from.
LOOPBACK = ("127.0.0.0/8", "::1")


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    twilio_auth_token: str = ""
    # Secrets of the SharedKeys that sign webhooks under a Twilio Webhook Rule, newest first.
    twilio_webhook_shared_keys: tuple[str, ...] = field(default=(), repr=False)
    twilio_account_sid: str = ""
    public_base_url: str = ""
    trusted_proxies: int = 0
    trusted_proxy_addresses: tuple[str, ...] = LOOPBACK
    advisor_numbers: tuple[str, ...] = ()
    voice: str = "Polly.Amy"
    language: str = "en-GB"
    dial_timeout: int = 20
    flows_dir: Path = DEFAULT_DIR
    data_dir: Path = DEFAULT_DATA_DIR
    redis_url: str = ""
    redis_sentinels: tuple[str, ...] = ()  # host:port of each sentinel
    redis_sentinel_service: str = "mymaster"
    redis_sentinel_password: str = ""
    redis_password: str = ""  # the servers' own, with Sentinel (REDIS_URL carries its own)
    redis_tls: bool = False  # with Sentinel: TLS to the sentinels and servers
    redis_tls_ca_file: str = ""
    redis_tls_cert_file: str = ""
    redis_tls_key_file: str = ""
    redis_wait_replicas: int | None = None  # None: 1 with Sentinel, 0 otherwise
    redis_wait_milliseconds: int = 200
    log_level: str = "INFO"
    log_format: str = "json"
    metrics_token: str = ""
    signature_alarm_after: int = 3
    twilio_api_base_url: str = ""
    delete_inbound_messages: bool = True
    purge_min_age_seconds: int = DEFAULT_MIN_AGE_SECONDS  # Twilio: wait a minute (20009)
    sms_rate_limit: int = 5
    sms_rate_window_seconds: int = 600
    sms_quiet_seconds: int = 3600
    callback_expiry_opening_days: int = 5
    callback_decision_opening_days: int = 5
    callback_held_opening_days: int = 5
    last_call_minutes: int = 30
    override_cache_seconds: float = 5.0
    retention_days: int = 30
    backup_keep_days: int = 35  # how long a backup may be kept (and the erasure log with it)
    erasure_log: str = ""  # default: <data folder>/erasures/erasures.jsonl
    scheduler_tick_seconds: int = 60
    clock_file: str = ""
    helpline_number: str = ""
    secret_key: str = ""
    data_key: tuple[str, ...] = field(default=(), repr=False)  # newest first
    lookup_key: str = field(default="", repr=False)
    console_idle_seconds: int = 1800
    signin_pool_size: int = 0  # 0: one per core, at least 2 (ops/hashpool.py)
    cookie_secure: bool = True
    max_attempts: int = 3
    retry_delay_minutes: int = 120
    claim_timeout_minutes: int = 20
    queue_max_wait_minutes: int = 10
    queue_order: str = "live_first"
    queue_hold_audio: str = ""
    queue_hold_seconds: int = 40
    # Tests only, never in production: "test" makes console password hashes cheap.
    password_hash_cost: str = "production"
    # Tests only: the scheduler's leader lock, in seconds (0: the scheduler's LOCK_SECONDS).
    scheduler_lock_seconds: int = 0
    # The helpline (flows/helplines.toml) a command serves, by name ("": the default one);
    # set by the commands' --helpline, never from the environment: the app serves them all.
    helpline: str = ""
    # Set by `helpline simulate` only (never from the environment): its records are kept apart
    # from real ones (keys.py: Keys.simulated), Twilio is never called, and numbers from
    # Ofcom's drama range (07700 900xxx), which no stranger answers, may be called back.
    simulated: bool = False
    # `helpline simulate --session NAME`: go on with that simulated conversation ("": a run
    # of its own, which sees no earlier simulation's records).
    simulation_session: str = ""
    # Set by `helpline demo` only: a rehearsal on a throw-away data folder. Every console page
    # says so, no call is placed and no text sent, and its sample callers have drama numbers.
    rehearsal: bool = False

    @property
    def embedded_store(self) -> bool:
        """Whether the store is the embedded Redis under data_dir; anything else (REDIS_URL,
        Sentinel) is external, and then SECRET_KEY, DATA_KEY and LOOKUP_KEY must be given (one
        test for all three: a new way to reach a store belongs here)."""
        return not self.redis_url and not self.redis_sentinels

    @property
    def wait_replicas(self) -> int:
        """How many replicas must hold a write before a promise rests on it (Redis WAIT):
        REDIS_WAIT_REPLICAS, else 1 with Sentinel (it has replicas to fail over to) and 0
        for a lone server. Always 0 for the embedded store, which has none."""
        if self.embedded_store:
            return 0
        if self.redis_wait_replicas is not None:
            return max(0, self.redis_wait_replicas)
        return 1 if self.redis_sentinels else 0

    @property
    def min_slot(self) -> timedelta:
        """Time needed before closing (or the end of a safe window) to promise a call today."""
        return timedelta(minutes=self.last_call_minutes)

    @property
    def limits(self) -> Limits:
        """The opening days a waiting callback is given (core/expiry.py)."""
        return Limits(
            self.callback_expiry_opening_days,
            self.callback_decision_opening_days,
            self.callback_held_opening_days,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_webhook_shared_keys=_split(env.get("TWILIO_WEBHOOK_SHARED_KEYS", "")),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            trusted_proxies=_int(env, "TRUSTED_PROXIES", 0),
            trusted_proxy_addresses=_split(env.get("TRUSTED_PROXY_ADDRESSES", "")) or LOOPBACK,
            advisor_numbers=_split(env.get("ADVISOR_NUMBERS", "")),
            voice=env.get("HELPLINE_VOICE", "Polly.Amy"),
            language=env.get("HELPLINE_LANGUAGE", "en-GB"),
            dial_timeout=_int(env, "DIAL_TIMEOUT", 20),
            flows_dir=Path(env.get("HELPLINE_FLOWS_DIR", "") or DEFAULT_DIR),
            data_dir=Path(env.get("HELPLINE_DATA_DIR", "") or DEFAULT_DATA_DIR),
            redis_url=env.get("REDIS_URL", ""),
            redis_sentinels=_split(env.get("REDIS_SENTINELS", "")),
            redis_sentinel_service=env.get("REDIS_SENTINEL_SERVICE", "") or "mymaster",
            redis_sentinel_password=env.get("REDIS_SENTINEL_PASSWORD", ""),
            redis_password=env.get("REDIS_PASSWORD", ""),
            redis_tls=_flag(env.get("REDIS_TLS", "0")),
            redis_tls_ca_file=env.get("REDIS_TLS_CA_FILE", ""),
            redis_tls_cert_file=env.get("REDIS_TLS_CERT_FILE", ""),
            redis_tls_key_file=env.get("REDIS_TLS_KEY_FILE", ""),
            redis_wait_replicas=(
                _int(env, "REDIS_WAIT_REPLICAS", 0)
                if env.get("REDIS_WAIT_REPLICAS", "").strip()
                else None
            ),
            redis_wait_milliseconds=_int(env, "REDIS_WAIT_MILLISECONDS", 200),
            log_level=env.get("LOG_LEVEL", "INFO"),
            log_format=env.get("LOG_FORMAT", "json").lower(),
            metrics_token=env.get("METRICS_TOKEN", ""),
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL", ""),
            delete_inbound_messages=_flag(env.get("DELETE_INBOUND_MESSAGES", "1")),
            purge_min_age_seconds=_int(env, "PURGE_MIN_AGE_SECONDS", DEFAULT_MIN_AGE_SECONDS),
            sms_rate_limit=_int(env, "SMS_RATE_LIMIT", 5),
            sms_rate_window_seconds=_int(env, "SMS_RATE_WINDOW_SECONDS", 600),
            sms_quiet_seconds=_int(env, "SMS_QUIET_SECONDS", 3600),
            callback_expiry_opening_days=_int(env, "CALLBACK_EXPIRY_OPENING_DAYS", 5),
            callback_decision_opening_days=_int(env, "CALLBACK_DECISION_OPENING_DAYS", 5),
            callback_held_opening_days=_int(env, "CALLBACK_HELD_OPENING_DAYS", 5),
            last_call_minutes=_int(env, "LAST_CALL_MINUTES", 30),
            retention_days=_int(env, "RETENTION_DAYS", 30),
            backup_keep_days=_int(env, "BACKUP_KEEP_DAYS", 35),
            erasure_log=env.get("ERASURE_LOG", ""),
            scheduler_tick_seconds=_int(env, "SCHEDULER_TICK_SECONDS", 60),
            clock_file=env.get("HELPLINE_TEST_CLOCK_FILE", ""),
            helpline_number=env.get("HELPLINE_NUMBER", ""),
            secret_key=env.get("SECRET_KEY", ""),
            data_key=_split(env.get("DATA_KEY", "")),
            lookup_key=env.get("LOOKUP_KEY", "").strip(),
            console_idle_seconds=_int(env, "CONSOLE_IDLE_SECONDS", 1800),
            signin_pool_size=_int(env, "SIGNIN_POOL_SIZE", 0),
            cookie_secure=_flag(env.get("COOKIE_SECURE", "1")),
            max_attempts=_int(env, "MAX_ATTEMPTS", 3),
            retry_delay_minutes=_int(env, "RETRY_DELAY_MINUTES", 120),
            claim_timeout_minutes=_int(env, "CLAIM_TIMEOUT_MINUTES", 20),
            queue_max_wait_minutes=_int(env, "QUEUE_MAX_WAIT_MINUTES", 10),
            queue_order=_choice(env, "QUEUE_ORDER", ("live_first", "by_wait")),
            queue_hold_audio=env.get("QUEUE_HOLD_AUDIO", "").strip(),
            queue_hold_seconds=_int(env, "QUEUE_HOLD_SECONDS", 40),
            password_hash_cost=_choice(env, "PASSWORD_HASH_COST", PASSWORD_HASH_COSTS),
            scheduler_lock_seconds=_int(env, "SCHEDULER_LOCK_SECONDS", 0),
        )

    def override(self, values: Mapping[str, Any] | None) -> Settings:
        """Settings with some fields replaced, e.g. create_app({"advisor_numbers": (...)}).
        The names are checked here; each value is taken as given."""
        if not values:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        return replace(self, **values)
