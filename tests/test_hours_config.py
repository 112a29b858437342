"""A mistake in hours.toml stops start-up with the file and the line, never a wrong answer.

Each case writes a whole hours.toml and marks the line the error must name with `# <- here`
(a TOML comment, so it does not change what is parsed).
"""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from ivr.content.flows import DEFAULT_DIR, Flows, load_flows
from ivr.content.tomlfile import FlowFileError
from ivr.core.hours import Closure, Reason, Session
from tests.common import london

NOW = london("2026-11-25T11:00")  # a Wednesday, in hours
MARK = "# <- here"

HEAD = """\
timezone = "Europe/London"
subdivision = "ENG"
"""

WEEK = """\
[weekly]
monday = { opens = "10:00", closes = "16:00" }
tuesday = { opens = "10:00", closes = "16:00" }
wednesday = { opens = "10:00", closes = "16:00" }
thursday = { opens = "10:00", closes = "16:00" }
friday = { opens = "10:00", closes = "16:00" }
"""

VALID = HEAD + "\n" + WEEK


def week(**days: str) -> str:
    """WEEK with some days' lines replaced, e.g. week(monday='{ opens = "25:00", ... }')."""
    lines = WEEK.splitlines()
    for name, value in days.items():
        lines = [f"{name} = {value}" if line.startswith(f"{name} =") else line for line in lines]
    return "\n".join(lines) + "\n"


def marked(text: str, needle: str) -> str:
    """`text` with the one line containing `needle` marked as where the error must point."""
    lines = text.splitlines()
    [index] = [i for i, line in enumerate(lines) if needle in line]
    lines[index] += f"  {MARK}"
    return "\n".join(lines) + "\n"


def write_flows(directory: Path, hours_toml: str) -> Path:
    """The shipped flows/ (phrases.toml, voice.toml, ...) beside the given hours.toml."""
    for shipped in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(shipped, directory / shipped.name)
    (directory / "hours.toml").write_text(hours_toml, encoding="utf-8")
    return directory


def marked_line(text: str) -> int:
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if MARK in line]
    assert len(numbers) == 1, "mark exactly one line with # <- here"
    return numbers[0]


def load(directory: Path, hours_toml: str) -> Flows:
    return load_flows(write_flows(directory, hours_toml), NOW)


# --- files that load ------------------------------------------------------------------------


def test_the_shipped_flows_load():
    flows = load_flows(DEFAULT_DIR, NOW)
    assert flows.hours_config.subdivision == "ENG"
    assert sorted(flows.hours_config.weekly) == [0, 1, 2, 3, 4]
    assert flows.hours.status(NOW).open


def test_the_valid_base_file_loads(tmp_path):
    flows = load(tmp_path, VALID)
    assert flows.hours_config.weekly[0] == Session(time(10, 0), time(16, 0))
    assert flows.hours_config.closures == ()


def test_closures_and_special_hours_from_the_file_are_used(tmp_path):
    flows = load(
        tmp_path,
        VALID
        + """
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = "  The helpline is closed for the Christmas holidays.  "

[[special_hours]]
date = 2026-12-23
opens = "10:00"
closes = "13:00"
""",
    )
    message = "The helpline is closed for the Christmas holidays."
    assert flows.hours_config.closures == (Closure(date(2026, 12, 24), date(2027, 1, 1), message),)
    status = flows.hours.status(london("2026-12-28T12:00"))
    assert status.reason == Reason("closure", message)
    assert status.next_opening.isoformat() == "2027-01-04T10:00:00+00:00"
    assert flows.hours.status(london("2026-12-23T12:59")).closes_at == london("2026-12-23T13:00")


def test_dates_may_also_be_written_as_text(tmp_path):
    flows = load(
        tmp_path,
        VALID
        + """
[[special_hours]]
date = "2026-12-23"
opens = "10:00"
closes = "13:00"
""",
    )
    assert date(2026, 12, 23) in flows.hours_config.special


def test_a_closure_that_ends_within_366_days_loads(tmp_path):
    # Closed from today until Thursday 25 Nov 2027: it opens on Friday 26 Nov 2027, day 366.
    flows = load(
        tmp_path,
        VALID
        + """
[[closures]]
from = 2026-11-25
to = 2027-11-25
message = "The helpline is closed for a year."
""",
    )
    assert flows.hours.next_opening(NOW) == london("2027-11-26T10:00")


def test_a_later_closure_of_almost_a_year_loads(tmp_path):
    # Last opening before it: Thursday 31 December 2026; first after: Wednesday 29 December
    # 2027 (27 and 28 December are bank holidays), 363 days later.
    flows = load(
        tmp_path,
        VALID
        + """
[[closures]]
from = 2027-01-04
to = 2027-12-24
message = "The helpline is closed for a refit."
""",
    )
    status = flows.hours.status(london("2027-01-01T17:00"))
    assert status.next_opening.isoformat() == "2027-12-29T10:00:00+00:00"


def test_scotland_loads(tmp_path):
    flows = load(tmp_path, VALID.replace('"ENG"', '"SCT"'))
    assert flows.hours_config.subdivision == "SCT"


# --- files that stop start-up ---------------------------------------------------------------

CLOSURE = """
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = "The helpline is closed for the Christmas holidays."
"""

BAD_FILES = [
    pytest.param(
        HEAD + week(monday=f'{{ opens = "25:00", closes = "16:00" }}  {MARK}'),
        "'25:00' is not a time",
        id="hour-25",
    ),
    pytest.param(
        HEAD + week(tuesday=f'{{ opens = "10.00", closes = "16:00" }}  {MARK}'),
        "'10.00' is not a time",
        id="dot-not-colon",
    ),
    pytest.param(
        HEAD + week(friday=f'{{ opens = "10:00", closes = "4pm" }}  {MARK}'),
        "'4pm' is not a time",
        id="4pm",
    ),
    pytest.param(
        HEAD + week(monday=f'{{ opens = 10, closes = "16:00" }}  {MARK}'),
        "10 is not a time",
        id="number-not-text",
    ),
    pytest.param(
        HEAD + week(wednesday=f'{{ opens = "16:00", closes = "10:00" }}  {MARK}'),
        "closes at 10:00, not after it opens at 16:00",
        id="closes-before-opens",
    ),
    pytest.param(
        HEAD + week(thursday=f'{{ opens = "10:00", closes = "10:00" }}  {MARK}'),
        "closes at 10:00, not after it opens at 10:00",
        id="closes-as-it-opens",
    ),
    pytest.param(
        HEAD + week(monday=f'{{ opens = "10:00" }}  {MARK}'),
        "missing 'closes'",
        id="day-without-closes",
    ),
    pytest.param(
        HEAD + week(monday=f'"10:00-16:00"  {MARK}'), "expected { opens", id="day-as-text"
    ),
    pytest.param(
        VALID
        + f"""
[[special_hours]]
date = 2026-12-24
opens = "10:00"
closes = "09:00"  {MARK}
""",
        "closes at 09:00, not after it opens at 10:00",
        id="special-closes-before-opens",
    ),
    pytest.param(
        VALID
        + f"""
[[special_hours]]
date = 2026-12-24
opens = "9am"  {MARK}
closes = "13:00"
""",
        "'9am' is not a time",
        id="special-bad-time",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]
from = 2026-12-24
to = 2026-12-01  {MARK}
message = "Closed."
""",
        "the closure ends (2026-12-01) before it starts (2026-12-24)",
        id="closure-to-before-from",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = "   "  {MARK}
""",
        "a closure needs a message",
        id="closure-blank-message",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]  {MARK}
from = 2026-12-24
to = 2027-01-01
""",
        "missing 'message'",
        id="closure-without-message",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]
from = 2026-12-24T09:00:00  {MARK}
to = 2027-01-01
message = "Closed."
""",
        "has a time in it: write the date alone, and the time on the next line in quotes: "
        'from = 2026-12-24 then from_time = "09:00"',
        id="closure-date-with-time",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]
from = "24/12/2026"  {MARK}
to = 2027-01-01
message = "Closed."
""",
        "from = 24/12/2026: write dates year first, with dashes: from = 2026-12-24",
        id="closure-date-not-iso",
    ),
    pytest.param(
        HEAD.replace('"ENG"', f'"XYZ"  {MARK}') + "\n" + WEEK,
        "unknown UK subdivision 'XYZ'",
        id="unknown-subdivision",
    ),
    pytest.param(
        HEAD.replace('"Europe/London"', f'"Europe/Londn"  {MARK}') + "\n" + WEEK,
        "unknown timezone 'Europe/Londn'",
        id="unknown-timezone",
    ),
    pytest.param(
        VALID
        + CLOSURE
        + f"""
[[closures]]  {MARK}
from = 2026-12-31
to = 2027-01-04
message = "Closed for the new year."
""",
        "overlaps closure 1 (2026-12-24 to 2027-01-01)",
        id="overlapping-closures",
    ),
    pytest.param(
        VALID
        + CLOSURE
        + f"""
[[special_hours]]  {MARK}
date = 2026-12-29
opens = "10:00"
closes = "13:00"
""",
        "2026-12-29 has special hours but is inside the closure",
        id="special-inside-closure",
    ),
    pytest.param(
        VALID
        + f"""
[[special_hours]]
date = 2026-12-24
opens = "10:00"
closes = "13:00"

[[special_hours]]  {MARK}
date = 2026-12-24
opens = "10:00"
closes = "12:00"
""",
        "2026-12-24 has special hours twice",
        id="duplicate-special-date",
    ),
    pytest.param(
        f'timezone = "Europe/London"\nsubdivison = "ENG"  {MARK}\n\n' + WEEK,
        "unknown setting 'subdivison'",
        id="typo-top-level-key",
    ),
    pytest.param(
        marked(HEAD + WEEK.replace("wednesday =", "wedensday ="), "wedensday"),
        "unknown setting 'wedensday'",
        id="typo-weekday",
    ),
    pytest.param(
        HEAD + week(friday=f'{{ opens = "10:00", close = "16:00" }}  {MARK}'),
        "unknown setting 'close'",
        id="typo-inside-a-day",
    ),
    pytest.param(
        VALID
        + f"""
[[closures]]
from = 2026-12-24
to = 2027-01-01
mesage = "Closed."  {MARK}
""",
        "unknown setting 'mesage'",
        id="typo-in-a-closure",
    ),
    pytest.param(
        VALID
        + f"""
[[special_hours]]
date = 2026-12-24
opens = "10:00"
closes = "13:00"
close = "13:00"  {MARK}
""",
        "unknown setting 'close'",
        id="typo-in-special-hours",
    ),
    pytest.param(
        f'observed_name = "the substitute holiday"  {MARK}\n' + VALID,
        "must be text containing {name}",
        id="observed-name-without-name",
    ),
    pytest.param(
        HEAD.replace('"ENG"', f"ENG  {MARK}") + "\n" + WEEK,
        'subdivision: text goes in straight double quotes: subdivision = "ENG"',
        id="toml-unquoted-text",
    ),
    pytest.param(
        HEAD + week(tuesday=f'{{ opens = "10:00", closes = "16:00"  {MARK}'),
        "tuesday: the { is never closed",
        id="toml-unclosed-brace",
    ),
    pytest.param(
        HEAD + week(monday=f'{{ opens = "10:00" closes = "16:00" }}  {MARK}'),
        "monday: put a comma between the settings in { }",
        id="toml-missing-comma",
    ),
    pytest.param(
        VALID + f'monday = {{ opens = "10:00", closes = "12:00" }}  {MARK}\n',
        "monday is given twice in the same [weekly]: keep one of them",
        id="toml-day-twice",
    ),
    pytest.param(
        HEAD + f"\n[weekly]  {MARK}\n",
        "never opens in the 366 days from 2026-11-25",
        id="never-opens-empty-week",
    ),
    pytest.param(
        HEAD
        + f"\n[weekly]  {MARK}\n"
        + """
[[closures]]
from = 2026-11-25
to = 2027-12-31
message = "The helpline is closed."
""",
        "never opens in the 366 days",
        id="never-opens-empty-week-and-closure",
    ),
    pytest.param(
        HEAD
        + "\n"
        + WEEK.replace("[weekly]", f"[weekly]  {MARK}")
        + """
[[closures]]
from = 2026-11-25
to = 2027-11-26
message = "The helpline is closed for a year."
""",
        "never opens in the 366 days",
        id="never-opens-closed-all-next-year",
    ),
    # Opens now, but a later closure leaves a year without an opening: a call on the evening
    # before it (Thursday 31 December 2026; 1 January is a bank holiday) would find none.
    pytest.param(
        HEAD
        + "\n"
        + WEEK.replace("[weekly]", f"[weekly]  {MARK}")
        + """
[[closures]]
from = 2027-01-04
to = 2028-01-31
message = "The helpline is closed for a refit."
""",
        "never opens in the 366 days from 2026-12-31",
        id="never-opens-after-a-later-closure",
    ),
    pytest.param(
        HEAD
        + f"\n[weekly]  {MARK}\n"
        + """
[[special_hours]]
date = 2026-11-26
opens = "10:00"
closes = "16:00"
""",
        "never opens in the 366 days from 2026-11-26",
        id="never-opens-after-the-last-special-day",
    ),
    # A closure's message is also sent in text replies: checked for them where it is written.
    pytest.param(
        HEAD
        + WEEK
        + marked(
            CLOSURE.replace("Christmas holidays.", "Christmas holidays \u2014 see you soon."),
            "message =",
        ),
        "characters a text message can't carry",
        id="closure-message-not-gsm7",
    ),
    pytest.param(
        HEAD
        + WEEK
        + marked(
            CLOSURE.replace("Christmas holidays.", "Christmas. Report abuse online."), "message ="
        ),
        "it says 'abuse'",
        id="closure-message-revealing",
    ),
    pytest.param(
        HEAD + WEEK + marked(CLOSURE.replace("Christmas holidays.", "x" * 120), "message ="),
        "keep it to 120",
        id="closure-message-too-long",
    ),
]


@pytest.mark.parametrize(("hours_toml", "complaint"), BAD_FILES)
def test_a_mistake_stops_loading_and_names_the_file_and_line(tmp_path, hours_toml, complaint):
    with pytest.raises(FlowFileError) as caught:
        load(tmp_path, hours_toml)
    error = caught.value
    line = marked_line(hours_toml)
    assert error.path == tmp_path / "hours.toml"
    assert error.line == line
    assert str(error).startswith(f"{tmp_path / 'hours.toml'}:{line}: ")
    assert complaint in str(error)


def test_a_missing_setting_names_the_file(tmp_path):
    with pytest.raises(FlowFileError) as caught:
        load(tmp_path, HEAD)
    assert str(caught.value) == f"{tmp_path / 'hours.toml'}: missing 'weekly'"


def test_a_missing_file_names_the_file(tmp_path):
    write_flows(tmp_path, VALID)
    (tmp_path / "hours.toml").unlink()
    with pytest.raises(FlowFileError, match="cannot read the file") as caught:
        load_flows(tmp_path, NOW)
    assert caught.value.path == tmp_path / "hours.toml"


def test_a_syntax_error_tomllib_places_at_the_end_still_names_the_file(tmp_path):
    unterminated = (
        VALID
        + '''
[[closures]]
from = 2026-12-24
to = 2027-01-01
message = """The helpline is closed, and this text is never ended.
'''
    )
    with pytest.raises(FlowFileError, match="message: the text has no closing quote") as caught:
        load(tmp_path, unterminated)
    assert caught.value.path == tmp_path / "hours.toml"
    assert str(caught.value).startswith(str(tmp_path / "hours.toml"))
