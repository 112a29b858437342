"""bench/RESULTS.md is written by two runs: `make bench` (everything but the chaos run) and
`make chaos` (its own "## Chaos run" section). Each replaces only what it measured."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CHAOS = "## Chaos run"


def split(text: str, heading: str) -> tuple[str, str]:
    """The text without the section under `heading` (up to the next "## "), and that section."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        return text, ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "".join(lines[:start] + lines[end:]), "".join(lines[start:end])


def write_bench(text: str, path: Path = RESULTS) -> None:
    """`make bench`'s results, keeping the last chaos run's section."""
    _, chaos = split(path.read_text(encoding="utf-8"), CHAOS) if path.exists() else ("", "")
    path.write_text(_join(text, chaos), encoding="utf-8")


def write_chaos(section: str, path: Path = RESULTS) -> None:
    """The chaos run's section (starting with its heading), in place of the last one."""
    rest, _ = split(path.read_text(encoding="utf-8"), CHAOS) if path.exists() else ("", "")
    path.write_text(_join(rest, section), encoding="utf-8")


def _join(text: str, section: str) -> str:
    text = text.rstrip("\n") + "\n"
    return text + ("\n" + section.rstrip("\n") + "\n" if section else "")
