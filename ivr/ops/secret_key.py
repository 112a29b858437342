"""The key that signs console cookies: SECRET_KEY, or one generated once into a private file.

Whoever holds the key can forge a supervisor's session, so it is never kept in Redis (whose
append-only file sits beside callers' numbers and is copied into backups): with an external
store the app refuses to start without SECRET_KEY; with the embedded store it generates one
into <data folder>/secrets/secret_key, readable only by the app's user."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from ivr.config import Settings
from ivr.store.sealing import key_file, read_or_create

log = logging.getLogger(__name__)


class MissingSecretKey(ValueError):
    """SECRET_KEY is needed and not set: the message says what to do."""


def secret_key_file(data_dir: Path) -> Path:
    """Where a generated key lives: beside the data keys, apart from the Redis files."""
    return key_file(data_dir, "secret_key")


def load_secret_key(settings: Settings) -> str:
    """SECRET_KEY; without it, the embedded store's generated key (made on first use)."""
    if settings.secret_key:
        return settings.secret_key
    if not settings.embedded_store:
        raise MissingSecretKey(
            "SECRET_KEY is not set. It signs the console's cookies, and with an external store "
            "(REDIS_URL or REDIS_SENTINELS) the app does not generate one: set SECRET_KEY to a "
            "long random value, the same for every web process, e.g. "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`."
        )
    path = secret_key_file(settings.data_dir)
    key = read_or_create(path, lambda: secrets.token_hex(32))  # as DATA_KEY's file is made
    if len(key) < 32:
        raise MissingSecretKey(
            f"{path} does not hold a usable key: delete it (a new one is "
            "made at the next start) or set SECRET_KEY."
        )
    log.warning(
        "SECRET_KEY is not set: console cookies are signed with the key generated in "
        "%s. Fine for local work; in production set SECRET_KEY.",
        path,
    )
    return key
