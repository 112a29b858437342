"""Settings, from environment variables (documented in the README) and test overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ivr.flows import DEFAULT_DIR


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    twilio_auth_token: str = ""
    twilio_account_sid: str = ""
    public_base_url: str = ""
    trusted_proxies: int = 0
    advisor_numbers: tuple[str, ...] = ()
    voice: str = "Polly.Amy"
    language: str = "en-GB"
    dial_timeout: int = 20
    flows_dir: Path = DEFAULT_DIR
    data_dir: Path = Path("var")
    redis_url: str = ""
    log_level: str = "INFO"
    signature_alarm_after: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            public_base_url=env.get("PUBLIC_BASE_URL", "").rstrip("/"),
            trusted_proxies=int(env.get("TRUSTED_PROXIES", "0") or 0),
            advisor_numbers=_split(env.get("ADVISOR_NUMBERS", "")),
            voice=env.get("HELPLINE_VOICE", "Polly.Amy"),
            language=env.get("HELPLINE_LANGUAGE", "en-GB"),
            dial_timeout=int(env.get("DIAL_TIMEOUT", "20") or 20),
            flows_dir=Path(env.get("HELPLINE_FLOWS_DIR", "") or DEFAULT_DIR),
            data_dir=Path(env.get("HELPLINE_DATA_DIR", "") or "var"),
            redis_url=env.get("REDIS_URL", ""),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )

    def override(self, values: Mapping[str, object] | None) -> Settings:
        """Settings with some fields replaced, e.g. create_app({"advisor_numbers": (...)})."""
        if not values:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(unknown)}")
        return replace(self, **values)
