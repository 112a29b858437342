"""Which helpline each Twilio number is: flows/helplines.toml, checked once at start-up.

One deployment may run several helplines (an adult line, a line for professionals, a line
for Scotland), each with its own number, words and hours in a folder of its own laid out like
flows/. Without the file there is one helpline, "main", from flows/ itself: a deployment with
one line needs nothing new. A mistake stops start-up naming the file and line, as the rest of
flows/ does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from ivr.content.tomlfile import FlowFileError, TomlFile, read_toml

FILE = "helplines.toml"
DEFAULT_NAME = "main"  # the one helpline of a deployment without helplines.toml
# A name is part of the store's keys (hl:{name}:...) and of Twilio queue names: short, plain.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
# Names the store or the simulator already use for something else.
RESERVED = frozenset({"simulated", "sim", "schema", "keys", "advisors", "adv", "purge"})
_FIELDS = {"name", "numbers", "folder", "title"}


@dataclass(frozen=True)
class Line:
    """One helpline: its name (in the store's keys, the console and the commands), the Twilio
    numbers that reach it (E.164, as Twilio sends `To`), the folder of its words and hours,
    and the title staff see. Per-helpline settings (a language, say) belong here."""

    name: str
    directory: Path
    numbers: tuple[str, ...] = ()
    title: str = ""

    @property
    def label(self) -> str:
        return self.title or self.name


@dataclass(frozen=True)
class Lines:
    """Every helpline of the deployment, the default first: it answers any number not listed
    (a caller is never refused because of the number they rang)."""

    all: tuple[Line, ...]
    source: Path | None = None  # helplines.toml, or None: one helpline from flows/
    _by_number: dict[str, Line] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_number.update({n: line for line in self.all for n in line.numbers})

    @property
    def default(self) -> Line:
        return self.all[0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(line.name for line in self.all)

    def named(self, name: str) -> Line | None:
        return next((line for line in self.all if line.name == name), None)

    def for_number(self, number: str) -> Line | None:
        """The helpline `number` reaches (None: none of ours)."""
        return self._by_number.get(number.strip())

    def find(self, name_or_number: str) -> Line | None:
        """By name, or by one of its numbers as staff type it ("0131 496 0000")."""
        wanted = name_or_number.strip()
        found = self.named(wanted.lower()) or self.for_number(wanted)
        if found is None:
            e164 = _e164(wanted)
            found = self.for_number(e164) if e164 else None
        return found


def _e164(typed: str) -> str | None:
    try:
        parsed = phonenumbers.parse(typed, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def one_line(flows_dir: Path) -> Lines:
    """The deployment without helplines.toml: one helpline, flows/ itself."""
    return Lines((Line(DEFAULT_NAME, Path(flows_dir)),))


def load_lines(flows_dir: Path) -> Lines:
    """flows/helplines.toml checked (FlowFileError names file and line), or one helpline."""
    flows_dir = Path(flows_dir)
    path = flows_dir / FILE
    if not path.exists():
        return one_line(flows_dir)
    file = read_toml(path)
    unknown = sorted(set(file.data) - {"helpline"})
    if unknown:
        raise file.error((unknown[0],), f"unknown setting {unknown[0]!r}: only [[helpline]] tables")
    tables = file.data.get("helpline")
    if not isinstance(tables, list) or not tables:
        raise FlowFileError(path, None, "list each helpline in a [[helpline]] table")
    lines: list[Line] = []
    for i, table in enumerate(tables):
        lines.append(_line(file, i, table, flows_dir, lines))
    return Lines(tuple(lines), path)


def _line(file: TomlFile, i: int, table: dict[str, object], base: Path, before: list[Line]) -> Line:
    where = ("helpline", i)
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise file.error((*where, unknown[0]), f"unknown field {unknown[0]!r}")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise file.error(
            (*where, "name"),
            "a helpline's name is 1 to 24 lower-case letters, digits or dashes, "
            'starting with a letter, e.g. name = "scotland"',
        )
    if name in RESERVED:
        raise file.error((*where, "name"), f"{name!r} is used by the app itself: choose another")
    if any(line.name == name for line in before):
        raise file.error((*where, "name"), f"a second helpline called {name!r}")
    title = table.get("title", "")
    if not isinstance(title, str) or len(title) > 60:
        raise file.error((*where, "title"), 'a title is a short text, e.g. "Scotland line"')
    folder = table.get("folder")
    if not isinstance(folder, str) or not folder.strip():
        raise file.error(
            (*where, "folder"),
            'the folder of its words and hours, beside this file, e.g. folder = "scotland" '
            '(folder = "." for flows/ itself)',
        )
    directory = (base / folder).resolve()
    if not directory.is_dir():
        raise file.error((*where, "folder"), f"no folder {directory}")
    raw = table.get("numbers", [])
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise file.error((*where, "numbers"), 'numbers = ["+441314960000"]: a list of numbers')
    numbers: list[str] = []
    for number in raw:
        if _e164(number) != number:
            raise file.error(
                (*where, "numbers"),
                f"{number!r} is not a phone number written as Twilio sends it "
                "(E.164: +44 and the number without its 0, no spaces)",
            )
        owner = next((line for line in before if number in line.numbers), None)
        if owner is not None or number in numbers:
            raise file.error(
                (*where, "numbers"),
                f"{number} is listed twice"
                + (f" (also for {owner.name!r})" if owner else "")
                + ": a number reaches one helpline",
            )
        numbers.append(number)
    if i > 0 and not numbers:
        raise file.error(
            (*where, "numbers"),
            "only the first helpline (the default) may have no number: list this one's",
        )
    return Line(name, directory, tuple(numbers), title)
