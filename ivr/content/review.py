"""Content waiting for the helpline's approval, listed by `helpline check --review`: lines
marked APPROVAL NEEDED in flows/*.toml, and the proposals and replaced texts kept in
flows/review.toml. Nothing here changes what callers hear: an approved proposal is copied
into voice.toml or sms.toml by hand.

The law and safety come first: a mark whose why starts "legal:" or "safety:" (after "Welsh,"
in flows/cy/), and an entry of review.toml with kind = "legal" or "safety", is listed before
everything else, so a wrong word about the law or about help in danger is checked first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ivr.content.tomlfile import TomlFile, Where, read_toml

_MARK = re.compile(r"#\s*APPROVAL NEEDED:\s*(.*)")
KINDS = ("legal", "safety")
_KIND = re.compile(rf"^(?:Welsh\s*[,;]\s*)?({'|'.join(KINDS)})\s*:", re.IGNORECASE)
# The fields of each table of review.toml; `kind` may be left out (then it is listed with
# the other wording).
FIELDS = {
    "proposal": ("id", "kind", "where", "current", "proposed", "reason"),
    "replaced": ("id", "kind", "where", "advice_page", "now", "reason"),
}
OPTIONAL = ("kind",)


@dataclass(frozen=True)
class Marked:
    """A line of flows/ marked `# APPROVAL NEEDED: why`, and the text it is about."""

    file: str
    line: int
    why: str
    text: str

    @property
    def kind(self) -> str | None:
        """ "legal" or "safety" when the why starts so ("legal: ...", "Welsh, safety: ...")."""
        match = _KIND.match(self.why)
        return match.group(1).lower() if match else None

    @property
    def welsh(self) -> bool:
        return self.file.startswith("cy/")


@dataclass(frozen=True)
class Proposal:
    """A change proposed, not in use until the helpline copies it into its file."""

    id: str
    kind: str | None
    where: str
    current: str
    proposed: str
    reason: str


@dataclass(frozen=True)
class Replaced:
    """A text of the helpline's advice page that the content no longer uses (`advice_page`),
    and the text in use instead (`now`, marked APPROVAL NEEDED where it is): kept so the
    helpline sees what changed and can put it back."""

    id: str
    kind: str | None
    where: str
    advice_page: str
    now: str
    reason: str


@dataclass(frozen=True)
class Review:
    proposals: tuple[Proposal, ...]
    replaced: tuple[Replaced, ...]


def marked(directory: Path) -> list[Marked]:
    """Every `# APPROVAL NEEDED:` comment in flows/*.toml and the Welsh content in
    flows/cy/*.toml, with the first line of content after it (the text it is about)."""
    found = []
    for path in [*sorted(directory.glob("*.toml")), *sorted(directory.glob("cy/*.toml"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if match := _MARK.search(line):
                about = next(
                    (
                        later.strip()
                        for later in lines[number:]
                        if later.strip() and not later.lstrip().startswith("#")
                    ),
                    "",
                )
                found.append(
                    Marked(
                        path.relative_to(directory).as_posix(),
                        number,
                        match.group(1).strip(),
                        about.removesuffix(","),
                    )
                )
    return found


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _entries(file: TomlFile, table: str) -> list[tuple[str | None, dict[str, str]]]:
    """The [[table]] entries of review.toml: each one's kind (or None) and its texts, checked."""
    entries = file.data.get(table, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise file.error((table,), f"{table} entries are written as [[{table}]] tables")
    checked = []
    for i, entry in enumerate(entries):
        where: Where = (table, i)
        fields = FIELDS[table]
        unknown = sorted(set(entry) - set(fields))
        if unknown:
            raise file.error(
                (*where, unknown[0]), f"unknown field {unknown[0]!r} (one of {', '.join(fields)})"
            )
        kind = entry.get("kind")
        if kind is not None and kind not in KINDS:
            raise file.error((*where, "kind"), f"{table}.kind must be one of {', '.join(KINDS)}")
        texts = {}
        for name in (f for f in fields if f not in OPTIONAL):
            value = entry.get(name)
            if not isinstance(value, str) or not value.strip():
                raise file.error(
                    (*where, name) if name in entry else where, f"{table}.{name} must be some text"
                )
            texts[name] = _one_line(value)
        checked.append((kind, texts))
    return checked


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [_one_line(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _in_use(directory: Path) -> list[str]:
    """Every text of flows/'s content files (English and Welsh), each on one line."""
    paths = [*sorted(directory.glob("*.toml")), *sorted(directory.glob("cy/*.toml"))]
    return [s for p in paths if p.name != "review.toml" for s in _strings(read_toml(p).data)]


def load_review(directory: Path) -> Review:
    """flows/review.toml, checked (FlowFileError names the file and line): ids used once, and
    a replaced text's `now` still in use (else the entry describes content that has gone)."""
    file = read_toml(directory / "review.toml")
    unknown = sorted(set(file.data) - set(FIELDS))
    if unknown:
        raise file.error((unknown[0],), f"unknown table {unknown[0]!r} (one of proposal, replaced)")
    proposals = tuple(Proposal(kind=kind, **texts) for kind, texts in _entries(file, "proposal"))
    replaced = tuple(Replaced(kind=kind, **texts) for kind, texts in _entries(file, "replaced"))
    ids = [("proposal", i, p.id) for i, p in enumerate(proposals)]
    ids += [("replaced", i, r.id) for i, r in enumerate(replaced)]
    seen: set[str] = set()
    for table, i, identity in ids:
        if identity in seen:
            raise file.error((table, i, "id"), f"id {identity!r} is used twice")
        seen.add(identity)
    in_use = _in_use(directory)
    for i, r in enumerate(replaced):
        if not any(r.now in text for text in in_use):
            raise file.error(
                ("replaced", i, "now"),
                f"replaced {r.id!r}: its `now` text is not in use in flows/ (reworded? "
                "copy the text in use here)",
            )
    return Review(proposals, replaced)
