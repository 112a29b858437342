"""`helpline check`'s warning on closure messages that say when the line reopens: callers
are told that already ("We open again on Monday 4 January at 10am"), so it is heard twice,
and a date in the message goes stale when the closure is moved."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ivr.content.flows import Flows
from ivr.content.tomlfile import read_toml

# Words that announce a reopening, English and Welsh (APPROVAL NEEDED: Welsh).
_REOPENING = re.compile(
    r"\b(re-?open\w*|open(ing)? again|back (on|open)|ail-?agor\w*|agor eto)\b", re.IGNORECASE
)
_NUMERIC_DATE = re.compile(r"\b\d{1,2}[/.]\d{1,2}([/.]\d{2,4})?\b|\b\d{4}-\d{2}-\d{2}\b")


def reopening_named(message: str, weekdays: Sequence[str], months: Sequence[str]) -> str | None:
    """The words of `message` that name a reopening, a day or a date; None if none do. A
    month counts beside a number ("4 January"), so that "may" stays a plain word."""
    found = _REOPENING.search(message) or _NUMERIC_DATE.search(message)
    if found:
        return found.group(0)
    for day in weekdays:
        if match := re.search(rf"\b{re.escape(day)}\b", message, re.IGNORECASE):
            return match.group(0)
    for month in months:
        pattern = (
            rf"\b\d{{1,2}}(st|nd|rd|th)?\s+{re.escape(month)}\b|\b{re.escape(month)}\s+\d{{1,2}}\b"
        )
        if match := re.search(pattern, message, re.IGNORECASE):
            return match.group(0)
    return None


def closure_message_warnings(flows: Flows) -> list[str]:
    """One warning per closure message in hours.toml that names its reopening, with the
    file and line."""
    file = read_toml(flows.directory / "hours.toml")
    warnings = []
    for i, closure in enumerate(flows.hours_config.closures):
        for field, message, language in (
            ("message", closure.message, flows),
            ("message_cy", closure.message_cy, flows.welsh),
        ):
            if not message or language is None:
                continue
            named = reopening_named(message, language.phrases.weekdays, language.phrases.months)
            if named:
                line = file.line_of(("closures", i, field))
                warnings.append(
                    f"{file.path}:{line}: the closure's {field} says {named!r}: callers are "
                    'told when the line opens again already ("We open again on ..."), so '
                    "they would hear it twice; leave the reopening out of the message"
                )
    return warnings
