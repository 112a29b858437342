"""Reading staff-edited TOML files with errors that name the file and the line."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)\s*=")
_ITEM = re.compile(r"^\s*[\"']")

Where = tuple[str | int, ...]


class FlowFileError(Exception):
    """A staff-edited file is wrong; the message names the file and line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file and where each key stands in it, to point staff at the right line."""

    path: Path
    data: dict[str, Any]
    lines: dict[Where, int]

    def line_of(self, where: Where) -> int | None:
        """The line of `where`, or of its nearest parent that has one."""
        while where:
            if where in self.lines:
                return self.lines[where]
            where = where[:-1]
        return None

    def error(self, where: Where, message: str) -> FlowFileError:
        return FlowFileError(self.path, self.line_of(where), message)


def _split_dotted(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def _index_lines(text: str) -> dict[Where, int]:
    """Map key paths such as ("closures", 0, "from"), and the items of a list written one a
    line such as ("steps", "step", 0, "say", 2), to line numbers (approximately: enough to
    point a person at the right place; tomllib itself reports syntax errors exactly)."""
    lines: dict[Where, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    current: Where = ()
    array: Where | None = None  # the key of a list written one item a line, while in it
    items = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        if array is not None:
            if line.lstrip().startswith("]"):
                array = None
            elif _ITEM.match(line):
                lines.setdefault((*array, items), number)
                items += 1
            continue
        if match := _ARRAY_HEADER.match(line):
            name = _split_dotted(match.group(1))
            index = counts.get(name, 0)
            counts[name] = index + 1
            current = (*name, index)
            lines.setdefault(name, number)
            lines[current] = number
        elif match := _TABLE_HEADER.match(line):
            name = _split_dotted(match.group(1))
            # [a.b] after [[a]] is a table inside the last [[a]]: ("a", index, "b").
            owner = next(
                (name[:n] for n in range(len(name) - 1, 0, -1) if name[:n] in counts), None
            )
            current = (*owner, counts[owner] - 1, *name[len(owner) :]) if owner else name
            lines.setdefault(current, number)
        elif match := _KEY.match(line):
            key = (*current, match.group(1).strip("\"'"))
            lines.setdefault(key, number)
            if line.rstrip().endswith("["):
                array, items = key, 0
    return lines


def read_toml(path: Path) -> TomlFile:
    """Parse `path`; a syntax error becomes a FlowFileError with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowFileError(path, None, f"cannot read the file: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise FlowFileError(
            path, int(match.group(1)) if match else None, f"not valid TOML: {exc}"
        ) from exc
    return TomlFile(path, data, _index_lines(text))
