"""The key that signs console cookies: SECRET_KEY, or one generated once into a private file.

Whoever holds the key can forge a supervisor's session, so it is never kept in Redis (whose
append-only file sits beside callers' numbers and is copied into backups): with an external
store the app refuses to start without SECRET_KEY; with the embedded store it generates one
into <data folder>/secrets/secret_key, readable only by the app's user."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from pathlib import Path

from ivr.config import Settings

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class MissingSecretKey(ValueError):
    """SECRET_KEY is needed and not set: the message says what to do."""


def secret_key_file(data_dir: Path) -> Path:
    """Where a generated key lives: apart from the Redis files, so copying those (backups,
    a shared volume) never copies the key."""
    return Path(data_dir) / "secrets" / "secret_key"


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
    key = read_or_create(path)
    log.warning(
        "SECRET_KEY is not set: console cookies are signed with the key generated in "
        "%s. Fine for local work; in production set SECRET_KEY.",
        path,
    )
    return key


def private_dir(path: Path) -> None:
    """A folder (and any missing parents) only the app's user can open."""
    for folder in reversed([path, *path.parents]):
        if not folder.exists():
            with contextlib.suppress(FileExistsError):  # another worker made it just now
                folder.mkdir(mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)


def read_or_create(path: Path) -> str:
    """The key in `path`, or a new one written there (0600). Workers starting at once agree:
    each writes its own candidate aside and links it into place; the first link wins and
    every worker reads the winner."""
    private_dir(path.parent)
    if not path.exists():
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    path.chmod(PRIVATE_FILE)
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise MissingSecretKey(
            f"{path} does not hold a usable key: delete it (a new one is "
            "made at the next start) or set SECRET_KEY."
        )
    return key
