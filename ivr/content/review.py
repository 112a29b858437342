"""Content waiting for the helpline's approval, listed by `helpline check --review`: lines
marked APPROVAL NEEDED in flows/*.toml, and proposals kept in flows/review.toml. Nothing here
changes what callers hear: an approved proposal is copied into voice.toml or sms.toml by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ivr.content.tomlfile import TomlFile, Where, read_toml

_MARK = re.compile(r"#\s*APPROVAL NEEDED:\s*(.*)")
SUBDIVISIONS = ("ENG", "SCT", "NIR")  # as hours.toml's `subdivision`
FIELDS = ("id", "where", "current", "proposed", "reason")


@dataclass(frozen=True)
class Marked:
    """A line of flows/ marked `# APPROVAL NEEDED: why`, and the text it is about."""

    file: str
    line: int
    why: str
    text: str


@dataclass(frozen=True)
class Proposal:
    id: str
    where: str
    current: str
    proposed: str
    reason: str


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


def _text(file: TomlFile, entry: dict, where: Where, name: str, subdivision: str) -> str:
    """A field: some text, or a table of texts by part of the UK (the one for
    `subdivision`)."""
    value = entry.get(name)
    if isinstance(value, dict):
        missing = [s for s in SUBDIVISIONS if not isinstance(value.get(s), str)]
        if missing:
            raise file.error(
                (*where, name),
                f"{name} by part of the UK needs a text for "
                f"each of {', '.join(SUBDIVISIONS)} (missing {missing[0]})",
            )
        value = value[subdivision]
    if not isinstance(value, str) or not value.strip():
        raise file.error(
            (*where, name) if name in entry else where, f"proposal.{name} must be some text"
        )
    return " ".join(value.split())


def load_proposals(directory: Path, subdivision: str) -> list[Proposal]:
    """flows/review.toml, checked (FlowFileError names the file and line), with the texts
    for the helpline's part of the UK."""
    file = read_toml(directory / "review.toml")
    entries = file.data.get("proposal")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise file.error(("proposal",), "proposals are written as [[proposal]] tables")
    proposals, seen = [], set()
    for i, entry in enumerate(entries):
        where = ("proposal", i)
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise file.error(
                (*where, unknown[0]), f"unknown field {unknown[0]!r} (one of {', '.join(FIELDS)})"
            )
        proposal = Proposal(*(_text(file, entry, where, name, subdivision) for name in FIELDS))
        if proposal.id in seen:
            raise file.error((*where, "id"), f"id {proposal.id!r} is used twice")
        seen.add(proposal.id)
        proposals.append(proposal)
    return proposals
