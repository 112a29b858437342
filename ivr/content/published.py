"""The words and hours as published: the raw text of every file of flows/, checked.

Staff edit flows/ and publish it (`helpline content publish`); the store keeps the text of
every file, with a hash (the version), the time and CONTENT_FORMAT, and every process loads it
with the very loader start-up uses (load_files: the files written out to a private folder and
read by load_lines and load_flows), so a copy is checked by whichever version of the app reads
it. The store's side is ivr/store/published.py.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path, PurePosixPath

from ivr.content.flows import Flows, load_flows
from ivr.content.helplines import Lines, load_lines
from ivr.content.tomlfile import FlowFileError

# The shape of a published copy (a mapping of file names to their text). A copy of a higher
# format was published by a newer app: this one refuses it.
CONTENT_FORMAT = 1
SHORT = 12  # hex digits of the version shown to staff


@dataclass(frozen=True)
class Published:
    """One published copy of flows/: its files' text by name ("hours.toml", "cy/sms.toml"),
    its version (the hash of the files), when it was published and in which format."""

    files: Mapping[str, str]
    version: str
    published_at: datetime
    format: int = CONTENT_FORMAT

    @property
    def short(self) -> str:
        return self.version[:SHORT]


@dataclass(frozen=True)
class Loaded:
    """Checked content: the helplines (helplines.toml) and each one's flows, by name."""

    lines: Lines
    flows: Mapping[str, Flows]


def version_of(files: Mapping[str, str]) -> str:
    """The hash of the files' names and text: equal files, equal versions, on every host.

    Starting asks it of the same files three times (serving, checking, publishing), a
    refresh again: the last few are kept, and comparing text is cheaper than hashing it."""
    for known, version in _VERSIONS:
        if known == files:
            return version
    kept = dict(files)  # hashed as kept: a change to `files` meanwhile can't mismatch them
    canonical = json.dumps(dict(sorted(kept.items())), ensure_ascii=False)
    version = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    _VERSIONS.insert(0, (kept, version))
    del _VERSIONS[VERSIONS_KEPT:]
    return version


VERSIONS_KEPT = 4
_VERSIONS: list[tuple[dict[str, str], str]] = []


def snapshot(flows_dir: Path) -> dict[str, str]:
    """The text of every .toml file under flows/ (its Welsh and other helplines' folders
    too), by its name relative to flows/."""
    flows_dir = Path(flows_dir)
    files: dict[str, str] = {}
    for path in sorted(flows_dir.rglob("*.toml")):
        name = path.relative_to(flows_dir).as_posix()
        if any(part.startswith(".") for part in PurePosixPath(name).parts):
            continue  # an editor's hidden copy
        try:
            files[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FlowFileError(path, None, f"cannot read the file: {exc}") from exc
    return files


def _safe_name(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise FlowFileError(Path(name), None, "not a file name inside flows/")
    return relative


def load_files(files: Mapping[str, str], flows_dir: Path, now: datetime) -> Loaded:
    """Check `files` exactly as start-up checks flows/ (load_lines, then load_flows for each
    helpline); a FlowFileError names the file as it stands under `flows_dir`.

    The loader is pure given the files' text and the day (`now`'s date where each helpline
    is: the hours and openings are checked from that day on), so a copy that passed is kept
    (CHECKED) and the same text on the same day is not parsed again: the web, the scheduler
    and every test's app start from the same flows/. Any changed byte is a new version, read
    and checked afresh; a mistake is never kept, so it is found and named again each time."""
    flows_dir = Path(flows_dir)
    version = version_of(files)
    checked = _checked_before(version, now)
    if checked is None:
        checked = _check(files, flows_dir, now)
        _CHECKED[version] = [checked, *_CHECKED.pop(version, [])][:CHECKED_DAYS_KEPT]
        while len(_CHECKED) > CHECKED_KEPT:
            del _CHECKED[next(iter(_CHECKED))]  # the oldest version first
    return _placed(checked, flows_dir)


# Checked copies kept by version, newest last, each for its last few days (load_files): a
# bounded few, for a process that meets a new version on every publish.
CHECKED_KEPT = 16
CHECKED_DAYS_KEPT = 4


@dataclass(frozen=True)
class _Checked:
    """A copy as checked in a private folder (`root`, gone since), for the day in each
    helpline's timezone it was checked on."""

    root: Path
    days: tuple[date, ...]
    loaded: Loaded


_CHECKED: dict[str, list[_Checked]] = {}


def _days(loaded: Loaded, now: datetime) -> tuple[date, ...]:
    return tuple(now.astimezone(f.hours.timezone).date() for f in loaded.flows.values())


def _checked_before(version: str, now: datetime) -> _Checked | None:
    for checked in _CHECKED.get(version, []):
        if _days(checked.loaded, now) == checked.days:
            _CHECKED[version] = _CHECKED.pop(version)  # now the newest
            return checked
    return None


def _check(files: Mapping[str, str], flows_dir: Path, now: datetime) -> _Checked:
    """Load `files` from a private folder: load_lines, then load_flows for each helpline."""
    with tempfile.TemporaryDirectory(prefix="helpline-content-") as folder:
        root = Path(folder).resolve()
        for name, text in files.items():
            path = root / _safe_name(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            lines = load_lines(root)
            flows = {line.name: load_flows(line.directory, now) for line in lines.all}
        except FlowFileError as exc:
            raise FlowFileError(_shown(exc.path, root, flows_dir), exc.line, exc.message) from None
    loaded = Loaded(lines, flows)
    return _Checked(root, _days(loaded, now), loaded)


def _shown(path: Path, root: Path, flows_dir: Path) -> Path:
    """A path in the private folder as staff know it: under flows/."""
    try:
        return flows_dir / Path(path).resolve().relative_to(root)
    except ValueError:
        return Path(path)


def _placed(checked: _Checked, flows_dir: Path) -> Loaded:
    """The checked copy with its folders named as they stand under `flows_dir`."""

    def shown(path: Path) -> Path:
        return _shown(path, checked.root, flows_dir)

    lines = checked.loaded.lines
    return Loaded(
        Lines(
            tuple(replace(line, directory=shown(line.directory)) for line in lines.all),
            shown(lines.source) if lines.source else None,
        ),
        {
            name: replace(
                f,
                directory=shown(f.directory),
                welsh=replace(f.welsh, directory=shown(f.welsh.directory)) if f.welsh else None,
            )
            for name, f in checked.loaded.flows.items()
        },
    )


def differences(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The files added, removed or changed from `before` to `after`, by name, in order."""
    changed = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            changed.append(f"{name} (new)")
        elif name not in after:
            changed.append(f"{name} (removed)")
        elif before[name] != after[name]:
            changed.append(name)
    return changed
