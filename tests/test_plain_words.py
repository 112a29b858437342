"""Every mistake a person can make in flows/ is told in their words: the file, the line, what
is wrong and the right form, never the TOML parser's words. One broken file a row: the edit
a staff member made to the shipped flows/, the line the message must name (the last line starting
with `line_with`), and the exact message."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.content.flows import DEFAULT_DIR, load_flows
from ivr.content.tomlfile import FlowFileError
from tests.common import london

NOW = london("2026-11-25T11:00")
MESSAGE = '"The helpline is closed for the Christmas holidays."'
EXAMPLE = """# [[closures]]
# from = 2026-12-24
# from_time = "16:00"
# to = 2027-01-01
# message = "The helpline is closed for the Christmas holidays.\""""
DAY = 'monday    = { opens = "10:00", closes = "16:00" }'


@dataclass(frozen=True)
class Broken:
    old: str  # replaced by `new` in `file` (old="": `new` added at its end)
    new: str
    line_with: str
    message: str
    file: str = "hours.toml"


def closure(**settings: str) -> str:
    """A [[closures]] table added to hours.toml; settings replace the usual ones."""
    values = {"from": "2026-12-24", "to": "2027-01-01", "message": MESSAGE, **settings}
    return "[[closures]]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


def a_closure_with(key: str, value: str, message: str) -> Broken:
    return Broken("", closure(**{key: value}), f"{key} =", message)


TWO_DIGITS = "write the month and the day with two digits each"
YEAR_FIRST = "write dates year first, with dashes"
IN_NUMBERS = "write dates in numbers, with the year first"
TIME_IN_IT = "has a time in it: write the date alone, and the time on the next line in quotes"
NOT_CLOSED = 'the text has no closing quote: put a straight " at each end, on the same line'
TEXT_EXAMPLE = 'message = "The helpline is closed."'
BELONGS = 'is the [[closures]] line above it missing, or still commented out with "#"?'

BROKEN = {
    # Dates, as people write them.
    "day-32": a_closure_with(
        "from",
        "2026-12-32",
        "from = 2026-12-32: December 2026 has no day 32; write year-month-day: from = 2026-12-24",
    ),
    "february-29": a_closure_with(
        "to",
        "2027-02-29",
        "to = 2027-02-29: February 2027 has no day 29; write year-month-day: to = 2026-12-24",
    ),
    "month-13": a_closure_with(
        "from",
        "2026-13-01",
        "from = 2026-13-01: there is no month 13; write year-month-day: from = 2026-12-24",
    ),
    "one-digit-month": a_closure_with(
        "to", "2027-1-3", f"to = 2027-1-3: {TWO_DIGITS}: to = 2027-01-03"
    ),
    "day-first-slashes": a_closure_with(
        "from", "25/12/2026", f"from = 25/12/2026: {YEAR_FIRST}: from = 2026-12-25"
    ),
    "day-first-dots": a_closure_with(
        "from", "24.12.2026", f"from = 24.12.2026: {YEAR_FIRST}: from = 2026-12-24"
    ),
    "two-digit-year": a_closure_with(
        "from", "24/12/26", f"from = 24/12/26: {YEAR_FIRST}: from = 2026-12-24"
    ),
    "day-first-in-quotes": a_closure_with(
        "from", '"24/12/2026"', f"from = 24/12/2026: {YEAR_FIRST}: from = 2026-12-24"
    ),
    "month-in-words": a_closure_with(
        "from",
        "24 Dec",
        f"from = 24 Dec: {IN_NUMBERS}: from = 2026-12-24 for 24 December 2026",
    ),
    "month-in-words-first": a_closure_with(
        "from",
        "December 24th",
        f"from = December 24th: {IN_NUMBERS}: from = 2026-12-24 for 24 December 2026",
    ),
    "month-in-words-with-year": a_closure_with(
        "to",
        "Jan 1 2027",
        "to = Jan 1 2027: write dates in numbers, year first: to = 2027-01-01",
    ),
    # A date with a time: the time goes in the time fields.
    "date-and-time": a_closure_with(
        "from",
        "2026-12-24T16:00",
        f'from = 2026-12-24T16:00 {TIME_IN_IT}: from = 2026-12-24 then from_time = "16:00"',
    ),
    "date-and-time-with-seconds": a_closure_with(
        "from",
        "2026-12-24T16:00:00",
        f'from = 2026-12-24T16:00:00 {TIME_IN_IT}: from = 2026-12-24 then from_time = "16:00"',
    ),
    "date-space-time": a_closure_with(
        "to",
        "2027-01-04 12:00",
        f'to = 2027-01-04 12:00 {TIME_IN_IT}: to = 2027-01-04 then to_time = "12:00"',
    ),
    "special-date-and-time": Broken(
        "",
        '[[special_hours]]\ndate = 2026-12-23T10:00\nopens = "10:00"\ncloses = "13:00"\n',
        "date = 2026-12-23T10:00",
        "date = 2026-12-23T10:00 has a time in it: write the date alone (date = 2026-12-23); "
        'the hours go in opens = "10:00" and closes = "13:00"',
    ),
    # Times.
    "time-without-quotes": a_closure_with(
        "from_time",
        "16:00",
        'from_time: write times in quotes, as "HH:MM" on the 24-hour clock: from_time = "16:00"',
    ),
    "time-with-seconds": a_closure_with(
        "from_time",
        "16:00:00",
        'from_time = 16:00:00: write times in quotes, as from_time = "16:00"',
    ),
    "time-as-4pm": a_closure_with(
        "from_time",
        '"4pm"',
        "from_time: '4pm' is not a time: write \"HH:MM\" on the 24-hour clock, "
        'e.g. from_time = "16:00"',
    ),
    "hour-25": a_closure_with(
        "to_time",
        '"25:00"',
        "to_time: '25:00' is not a time: write \"HH:MM\" on the 24-hour clock, "
        'e.g. to_time = "16:00"',
    ),
    # Headers: commented out, misspelt, the wrong brackets.
    "example-closure-header-still-commented": Broken(
        EXAMPLE,
        EXAMPLE.replace("# from", "from").replace("# to", "to").replace("# message", "message"),
        "from = 2026-12-24",
        f"from belongs in a [[closures]] table, not in [bank_holiday_names]: {BELONGS}",
    ),
    "second-closure-without-header": Broken(
        "",
        closure() + 'from = 2027-04-03\nto = 2027-04-06\nmessage = "Closed for Easter."\n',
        "from = 2027-04-03",
        "from is given twice in the same [[closures]]: each entry starts with its own "
        '[[closures]] line (is one missing, or still commented out with "#"?)',
    ),
    "closure-header-one-bracket-short": Broken(
        "",
        closure().replace("[[closures]]", "[[closures]"),
        "[[closures]",
        "[[closures] is not a table header this file can read: write it [[closures]], with "
        "the same brackets each side",
    ),
    "weekly-header-not-closed": Broken(
        "[weekly]",
        "[weekly",
        "[weekly",
        "[weekly is not a table header this file can read: write it [weekly], with the same "
        "brackets each side",
    ),
    "weekly-with-two-brackets": Broken(
        "[weekly]",
        "[[weekly]]",
        "[[weekly]]",
        "write [weekly] with one bracket each side, then one line a day: "
        'monday = { opens = "10:00", closes = "16:00" }',
    ),
    # A key in the wrong table.
    "special-hours-key-in-a-closure": Broken(
        "",
        closure() + 'opens = "10:00"\n',
        'opens = "10:00"',
        "opens belongs in a [[special_hours]] table, not in a [[closures]] table: is the "
        '[[special_hours]] line above it missing, or still commented out with "#"?',
    ),
    "top-setting-under-weekly": Broken(
        DAY,
        DAY + '\nsubdivision = "SCT"',
        'subdivision = "SCT"',
        "subdivision belongs at the top of the file, before the first [table] line, "
        "not in [weekly]",
    ),
    "closure-key-under-weekly": Broken(
        DAY,
        DAY + "\nfrom = 2026-12-24",
        "from = 2026-12-24",
        f"from belongs in a [[closures]] table, not in [weekly]: {BELONGS}",
    ),
    # Quotes.
    "missing-closing-quote": a_closure_with(
        "message", '"The helpline is closed.', f"message: {NOT_CLOSED}: {TEXT_EXAMPLE}"
    ),
    "missing-opening-quote": a_closure_with(
        "message",
        'The helpline is closed."',
        f'message: the text has no opening quote: put a straight " at each end: {TEXT_EXAMPLE}',
    ),
    "no-quotes": a_closure_with(
        "message",
        "The helpline is closed.",
        f"message: text goes in straight double quotes: {TEXT_EXAMPLE}",
    ),
    "curly-quotes": a_closure_with(
        "message",
        "\u201cThe helpline is closed.\u201d",
        'message: use straight quotes (") around text, not curly ones (\u201c \u201d) that '
        f"word processors put in: {TEXT_EXAMPLE}",
    ),
    "apostrophe-in-single-quotes": a_closure_with(
        "message",
        "'It's closed.'",
        "message: the apostrophe ends the text early: put text in double quotes, "
        'e.g. message = "It\'s closed."',
    ),
    "triple-quotes-never-closed": a_closure_with(
        "message", '"""The helpline is closed.', f"message: {NOT_CLOSED}: {TEXT_EXAMPLE}"
    ),
    "missing-quote-in-a-list": Broken(
        'say = ["Thank you for calling the helpline."]',
        'say = [\n  "Thank you for calling the helpline.,\n]',
        '"Thank you for calling the helpline.,',
        'this text has no closing quote: put a straight " at each end, then a comma: '
        '"Welcome to the helpline.",',
        file="voice.toml",
    ),
    # The usual week.
    "sms-text-never-closed": Broken(
        'reopen = "as soon as we reopen"',
        'reopen = "as soon as we reopen',
        "reopen =",
        'reopen: the text has no closing quote: put a straight " at each end, on the same '
        'line: reopen = "The helpline is closed."',
        file="sms.toml",
    ),
    "curly-quotes-in-a-list": Broken(
        'say = ["Thank you for calling the helpline."]',
        "say = [\n  \u201cThank you for calling the helpline.\u201d,\n]",
        "\u201cThank you",
        'use straight quotes (") around each text, not curly ones (\u201c \u201d) that word '
        'processors put in: "Welcome to the helpline.",',
        file="voice.toml",
    ),
    "day-without-comma": Broken(
        DAY,
        DAY.replace('",', '"'),
        "monday",
        "monday: put a comma between the settings in { }: "
        'monday = { opens = "10:00", closes = "16:00" }',
    ),
    "day-never-closed": Broken(
        DAY,
        DAY.removesuffix(" }"),
        "monday",
        'monday: the { is never closed: monday = { opens = "10:00", closes = "16:00" }, '
        "on one line",
    ),
    "day-twice": Broken(
        DAY,
        DAY + "\n" + DAY,
        "monday",
        "monday is given twice in the same [weekly]: keep one of them",
    ),
    # Other lines.
    "nothing-after-equals": a_closure_with(
        "to", "", 'to has nothing after "=": give it a value, e.g. to = 2026-12-24'
    ),
    "a-note-without-hash": Broken(
        "",
        "Closed at Christmas, see below\n",
        "Closed at Christmas",
        "this line is not a setting: write one setting a line as name = value, e.g. "
        'message = "The helpline is closed." (or put "#" in front to make it a note)',
    ),
    "welsh-capital-true": Broken(
        "welsh = false",
        "welsh = True",
        "welsh = True",
        "welsh: write true or false, in small letters: welsh = true",
        file="languages.toml",
    ),
    # Closures with times that cannot be.
    "closure-ends-before-it-starts": Broken(
        "",
        closure(from_time='"16:00"', to="2026-12-24", to_time='"12:00"'),
        'to_time = "12:00"',
        "the closure ends (2026-12-24 12:00) before it starts (2026-12-24 16:00)",
    ),
    "closure-inside-a-day": Broken(
        "",
        closure(
            **{"from": "2026-12-21", "from_time": '"12:00"', "to": "2026-12-21"},
            to_time='"13:00"',
        ),
        'from_time = "12:00"',
        "this closure (2026-12-21 12:00 to 2026-12-21 13:00) falls inside the day's hours "
        "(10:00 to 16:00): a closure can end the day early (from_time alone) or start it "
        "late (to_time alone), not both",
    ),
}


def broken_flows(folder: Path, case: Broken) -> tuple[Path, int | None]:
    """The shipped flows/ with the case's edit; the line the error must name."""
    shutil.copytree(DEFAULT_DIR, folder, dirs_exist_ok=True)
    path = folder / case.file
    text = path.read_text(encoding="utf-8")
    if case.old:
        assert text.count(case.old) == 1, f"{case.old!r} is not once in {case.file}"
        text = text.replace(case.old, case.new)
    else:
        text += "\n" + case.new
    path.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    return folder, max(
        n for n, line in enumerate(lines, 1) if line.strip().startswith(case.line_with)
    )


def test_the_table_has_thirty_broken_files_or_more() -> None:
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("case", BROKEN.values(), ids=BROKEN.keys())
def test_each_mistake_is_told_in_plain_words(tmp_path, case: Broken) -> None:
    folder, line = broken_flows(tmp_path / "flows", case)
    with pytest.raises(FlowFileError) as caught:
        load_flows(folder, NOW)
    error = caught.value
    assert (error.path, error.line, error.message) == (folder / case.file, line, case.message)
    assert "TOML" not in error.message and "Expected" not in error.message
