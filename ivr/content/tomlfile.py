"""Reading staff-edited TOML files with errors that name the file and the line."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.core.hours import date_problem

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
    """Parse `path`; a syntax error becomes a FlowFileError with its line, in plain words
    (plain_syntax_problem) rather than the parser's."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowFileError(path, None, f"cannot read the file: {exc.strerror}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _error_line(text, str(exc))
        lines = text.splitlines()
        said = lines[line - 1] if line and line <= len(lines) else ""
        problem = plain_syntax_problem(said, str(exc), _table_at(lines, line or len(lines)))
        raise FlowFileError(path, line, problem) from exc
    return TomlFile(path, data, _index_lines(text))


def _error_line(text: str, error: str) -> int | None:
    """The line the parser names; at the end of the file (a string or table never closed,
    a key given twice), the line that started the trouble."""
    if match := re.search(r"line (\d+)", error):
        return int(match.group(1))
    lines = text.splitlines()
    if "overwrite" in error:
        return _repeated_key_line(lines)
    for number, line in enumerate(lines, start=1):
        if _unclosed(_value_of(line)) or line.count('"""') % 2:
            return number
    return next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip()), None)


def _repeated_key_line(lines: list[str]) -> int | None:
    seen: set[tuple[str, str]] = set()
    table = ""
    for number, line in enumerate(lines, start=1):
        if _ARRAY_HEADER.match(line) or _TABLE_HEADER.match(line):
            table, seen = line.strip(), set()
        elif match := _KEY.match(line):
            if (table, match.group(1)) in seen:
                return number
            seen.add((table, match.group(1)))
    return None


def _table_at(lines: list[str], line: int) -> str:
    """The header of the table `line` is in ("" at the top of the file)."""
    for text in reversed(lines[: line - 1]):
        if _ARRAY_HEADER.match(text) or _TABLE_HEADER.match(text):
            return text.split("#")[0].strip()
    return ""


def _value_of(line: str) -> str:
    """What follows "=" on a `key = value` line, without a trailing comment ("" if none)."""
    if line.lstrip().startswith("#") or "=" not in line:
        return ""
    value = line.split("=", 1)[1].strip()
    quote = value[:1]
    if quote in ('"', "'") and value.count(quote) >= 2 and not value.startswith(quote * 3):
        closing = value.index(quote, 1)
        rest = value[closing + 1 :].split("#", 1)[0].strip()
        return value[: closing + 1] + (" " + rest if rest else "")
    if quote in ('"', "'"):
        return value  # never closed: a "#" in it is part of the text
    return value.split("#", 1)[0].strip()


def _unclosed(value: str) -> bool:
    return value.startswith('"') and not value.startswith('"""') and value.count('"') == 1


_DATE_LIKE = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}([T ]\S*)?$|^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$|"
    r"^\d{1,2}(st|nd|rd|th)?\s+[A-Za-z]+\.?(\s+\d{4})?$|^[A-Za-z]+\.?\s+\d{1,2}(st|nd|rd|th)?(,?\s+\d{4})?$"
)
_UNQUOTED_TIME = re.compile(r"^\d{1,2}[:.]\d{2}(\s*[ap]m)?$|^\d{1,2}\s*[ap]m$", re.IGNORECASE)


def plain_syntax_problem(line: str, error: str, table: str = "") -> str:
    """What is wrong with a line the TOML parser refused, in the words of the person who
    wrote it, with an example of the right form. `error`: the parser's own words (the last
    resort); `table`: the header of the table the line is in."""
    text = line.strip()
    if text.startswith("["):
        header = text.split("#")[0].strip()
        name = header.strip("[] ")
        right = f"[[{name}]]" if header.startswith("[[") else f"[{name}]"
        return (
            f"{header} is not a table header this file can read: write it {right}, with "
            "the same brackets each side"
        )
    if text.startswith(('"', "'", "\u201c")) and "=" not in text.split(text[0])[0]:
        return _item_problem(text)
    if "=" not in text:
        return (
            "this line is not a setting: write one setting a line as name = value, e.g. "
            'message = "The helpline is closed." (or put "#" in front to make it a note)'
        )
    key = text.split("=", 1)[0].strip()
    value = _value_of(line)
    if not key:
        return 'a setting needs its name before "=", e.g. from = 2026-12-24'
    if not value:
        return f'{key} has nothing after "=": give it a value, e.g. {_example(key)}'
    if "overwrite" in error:
        return _repeated(key, table)
    if _DATE_LIKE.match(value):
        return date_problem(key, value)
    if _UNQUOTED_TIME.match(value):
        return f'{key}: write times in quotes, as "HH:MM" on the 24-hour clock: {key} = "16:00"'
    if value[0] in "\u201c\u201d\u2018\u2019":
        return (
            f'{key}: use straight quotes (") around text, not curly ones (\u201c \u201d) '
            f'that word processors put in: {key} = "The helpline is closed."'
        )
    day = '{ opens = "10:00", closes = "16:00" }'
    if value.startswith("{") and value.count("=") > 1 and "," not in value:
        return f"{key}: put a comma between the settings in {{ }}: {key} = {day}"
    if value.startswith("{") and not value.endswith("}"):
        return f"{key}: the {{ is never closed: {key} = {day}, on one line"
    if _unclosed(value) or value.startswith('"""'):
        return (
            f'{key}: the text has no closing quote: put a straight " at each end, on the '
            f'same line: {key} = "The helpline is closed."'
        )
    if value.startswith("'") and value.count("'") > 2:
        return (
            f"{key}: the apostrophe ends the text early: put text in double quotes, "
            f'e.g. {key} = "It\'s closed."'
        )
    if value.endswith('"') and not value.startswith('"'):
        return (
            f'{key}: the text has no opening quote: put a straight " at each end: '
            f'{key} = "The helpline is closed."'
        )
    if value.lower() in ("true", "false", "yes", "no", "on", "off"):
        truth = "true" if value.lower() in ("true", "yes", "on") else "false"
        return f"{key}: write true or false, in small letters: {key} = {truth}"
    if re.search(r"[\"']\s+\S+\s*=", value):
        return f"one setting a line: {key} = ... then the next setting on a line of its own"
    if re.match(r"^[A-Za-z]", value):
        return f'{key}: text goes in straight double quotes: {key} = "{value}"'
    return f"{key} = {value} is not written as this file expects (the parser says: {error})"


def _item_problem(item: str) -> str:
    """A line of a list written one text a line (say = [ ... ])."""
    if item[0] in "\u201c\u201d":
        return (
            'use straight quotes (") around each text, not curly ones (\u201c \u201d) that '
            'word processors put in: "Welcome to the helpline.",'
        )
    if item.count('"') == 1:
        return (
            'this text has no closing quote: put a straight " at each end, then a comma: '
            '"Welcome to the helpline.",'
        )
    return (
        "each text in a list goes on its own line, in straight double quotes, with a comma "
        'after it: "Welcome to the helpline.",'
    )


def _repeated(key: str, table: str) -> str:
    where = f"in the same {table}" if table else "at the top of the file"
    if table.startswith("[["):
        return (
            f"{key} is given twice {where}: each entry starts with its own {table} line "
            '(is one missing, or still commented out with "#"?)'
        )
    return f"{key} is given twice {where}: keep one of them"


def _example(key: str) -> str:
    if key in ("from", "to", "date"):
        return f"{key} = 2026-12-24"
    if key.endswith("_time") or key in ("opens", "closes"):
        return f'{key} = "16:00"'
    return f'{key} = "The helpline is closed."'
