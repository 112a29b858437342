"""Reading a person's safe time from a text message (ivr.core.safetime, pure).

Today is Wednesday 25 November 2026 and the usual hours are 10:00-16:00, unless a test says
otherwise. Nothing here is moved into opening hours: "after 6pm" stays after 6pm, and the
caller of the module finds that it never meets them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.core.safetime import (
    ALL_DAYS,
    ANYTIME,
    AT_SLACK,
    Reading,
    Window,
    describe,
    read_safe_time,
)
from tests.safetime_texts import (
    AMBIGUOUS_HALF_HOURS,
    HELD_AND_ASKED,
    READ_IN_A_SENTENCE,
    SITUATION,
)

TODAY = date(2026, 11, 25)  # a Wednesday
USUAL = (time(10), time(16))
KINDS = {"plan", "anytime", "ambiguous", "unclear", "none"}


def w(times: str = "", days: str = "0123456", from_: str | None = None) -> Window:
    """Test shorthand: times "14:00-15:00", "14:00-" (after), "-11:00" (before) or "" (any);
    days as digits, Monday 0; from_ the ISO date it may not be before."""
    earliest, _, latest = times.partition("-")
    return Window(
        earliest=time.fromisoformat(earliest) if earliest else None,
        latest=time.fromisoformat(latest) if latest else None,
        weekdays=frozenset(int(d) for d in days),
        not_before=date.fromisoformat(from_) if from_ else None,
    )


def read(text: str, usual: tuple[time, time] = USUAL) -> Reading:
    return read_safe_time(text, TODAY, usual)


def expected(window: Window) -> Reading:
    return Reading("anytime") if window == ANYTIME else Reading("plan", window)


THU = "2026-11-26"

READINGS = [
    # What testers found misread, read right. Too late or too early for the opening hours
    # is the caller's business: it asks the person.
    ("after 6pm", w("18:00-")),
    ("evenings only", w("18:00-")),
    ("before 11am", w("-11:00")),
    ("not after 1pm", w("-13:00")),
    ("11am", w("11:00-12:00")),
    # A bare hour is the reading inside the usual hours (10:00-16:00).
    ("after 1", w("13:00-")),
    ("after 10", w("10:00-")),
    ("from 3", w("15:00-")),
    ("not before 11", w("11:00-")),
    ("until 2", w("-14:00")),
    ("till 2", w("-14:00")),
    ("by 3", w("-15:00")),
    ("before 4", w("-16:00")),
    ("2", w("14:00-15:00")),
    ("around 2", w("14:00-15:00")),
    ("about 2", w("14:00-15:00")),
    ("2 o'clock", w("14:00-15:00")),
    ("after two", w("14:00-")),
    # A point time: from then, within the hour after.
    ("2pm", w("14:00-15:00")),
    ("at 2pm", w("14:00-15:00")),
    ("14:30", w("14:30-15:30")),
    ("14.30", w("14:30-15:30")),
    ("1430", w("14:30-15:30")),
    ("0930", w("09:30-10:30")),
    ("2.30pm", w("14:30-15:30")),
    ("2:30 p.m.", w("14:30-15:30")),
    ("2.30p.m", w("14:30-15:30")),
    ("half 2", w("14:30-15:30")),
    ("half past 2", w("14:30-15:30")),
    ("quarter to 3", w("14:45-15:45")),
    ("11pm", w("23:00-23:59")),
    ("8 in the evening", w("20:00-21:00")),
    ("8 tonight", w("20:00-21:00")),
    ("after 8 in the evening", w("20:00-")),
    # Ranges: the end after the start.
    ("between 12 and 2", w("12:00-14:00")),
    ("between 10 and 2", w("10:00-14:00")),
    ("12-2pm", w("12:00-14:00")),
    ("12 to 2", w("12:00-14:00")),
    ("from 12 till 2", w("12:00-14:00")),
    ("10-2pm", w("10:00-14:00")),
    ("9-11am", w("09:00-11:00")),
    ("6-8pm", w("18:00-20:00")),
    ("between 8 and 11", w("08:00-11:00")),
    ("after 8, before 11am", w("08:00-11:00")),
    ("after 2 but before 4", w("14:00-16:00")),
    ("any time after 2", w("14:00-")),
    ("after 11am", w("11:00-")),
    ("2pm onwards", w("14:00-")),
    ("from 3 onwards", w("15:00-")),
    # Noon and lunch.
    ("noon", w("12:00-13:00")),
    ("midday", w("12:00-13:00")),
    ("at midday", w("12:00-13:00")),
    ("12 noon", w("12:00-13:00")),
    ("lunchtime", w("12:00-14:00")),
    ("lunch time", w("12:00-14:00")),
    ("at lunch", w("12:00-14:00")),
    ("after lunch", w("13:00-")),
    ("before lunch", w("-12:00")),
    # Parts of the day.
    ("mornings", w("-12:00")),
    ("in the morning", w("-12:00")),
    ("mornings only", w("-12:00")),
    ("am only", w("-12:00")),
    ("afternoons", w("12:00-")),
    ("afternoon", w("12:00-")),
    ("pm only", w("12:00-")),
    ("evenings", w("18:00-")),
    ("tonight", w("18:00-")),
    ("not mornings", w("12:00-")),
    ("no evenings", w("-18:00")),
    ("anytime but mornings", w("12:00-")),
    # Days.
    ("tomorrow", w(from_=THU)),
    ("tmrw", w(from_=THU)),
    ("tomoz", w(from_=THU)),
    ("tmr", w(from_=THU)),
    ("not today", w(from_=THU)),
    ("Tuesday", w(days="1")),
    ("tuesdays", w(days="1")),
    ("tues", w(days="1")),
    ("tuesday or wednesday", w(days="12")),
    ("tue/wed", w(days="12")),
    ("mon, wed and fri", w(days="024")),
    ("not Monday", w(days="123456")),
    ("not mondays", w(days="123456")),
    ("except monday", w(days="123456")),
    ("any day but monday", w(days="123456")),
    ("any day except monday", w(days="123456")),
    ("weekdays", w(days="01234")),
    ("mon-fri", w(days="01234")),
    ("weekdays except friday", w(days="0123")),
    ("weekends", w(days="56")),
    ("weekend", w(days="56")),
    ("saturday or sunday", w(days="56")),
    # Days and times together.
    ("Tuesday after 2", w("14:00-", days="1")),
    ("after 2 on tuesday", w("14:00-", days="1")),
    ("tomorrow morning", w("-12:00", from_=THU)),
    ("tomorrow after 3", w("15:00-", from_=THU)),
    ("11am tomorrow", w("11:00-12:00", from_=THU)),
    ("mornings not friday", w("-12:00", days="012356")),
    ("not monday, after 2pm", w("14:00-", days="123456")),
    ("weekdays before 11", w("-11:00", days="01234")),
    ("after 2 but not friday", w("14:00-", days="012356")),
    ("today after 2", w("14:00-")),
    # A part of the day says which half a bare hour is in.
    ("tomorrow morning after 9", w("09:00-12:00", from_=THU)),
    ("evenings after 7", w("19:00-")),
    # Politeness around the time is ignored.
    ("Call me after 6pm please, thanks!", w("18:00-")),
    ("2pm is fine", w("14:00-15:00")),
    ("hi, after 6pm please x", w("18:00-")),
    ("can you ring me back tomorrow after 2 please", w("14:00-", from_=THU)),
    ("I'm free after 3", w("15:00-")),
    ("no, after 2pm", w("14:00-")),  # an answer, not "not after 2pm"
    ("AFTER 6PM", w("18:00-")),
    # No limit at all.
    ("ANYTIME", ANYTIME),
    ("any time", ANYTIME),
    ("anytime is fine", ANYTIME),
    ("any time is ok", ANYTIME),
    ("whenever", ANYTIME),
    ("whenever is fine", ANYTIME),
    ("any time today", ANYTIME),
    ("today", ANYTIME),
    ("any day", ANYTIME),
]


@pytest.mark.parametrize(("text", "window"), READINGS)
def test_a_safe_time_reads_as_a_window(text, window):
    assert read(text) == expected(window)


@pytest.mark.parametrize(("text", "window"), READINGS)
def test_case_and_politeness_around_a_safe_time_change_nothing(text, window):
    assert read(f"Please could you call me {text.upper()}. Thank you") == expected(window)


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("after 8", 8),  # 8am is before opening, 8pm after closing
        ("8", 8),
        ("at 8", 8),
        ("after 9:30", 9),
        ("930", 9),
        ("half 7", 7),
        ("after six", 6),
        ("after 4", 4),  # 4pm is closing time: no start inside the usual hours
        ("from 4 till 6", 4),
        ("between 6 and 8", 6),
    ],
)
def test_a_bare_hour_outside_the_usual_hours_either_way_is_ambiguous(text, hour):
    reading = read(text)
    assert (reading.kind, reading.hour) == ("ambiguous", hour)


@pytest.mark.parametrize(
    ("usual", "text", "reading"),
    [
        # Open 08:00-22:00: both 9am and 9pm are inside, so "after 9" could be either.
        ("08:00-22:00", "after 9", Reading("ambiguous", hour=9)),
        ("08:00-22:00", "before 10", Reading("ambiguous", hour=10)),
        ("08:00-22:00", "after 9pm", Reading("plan", w("21:00-"))),
        ("08:00-22:00", "before 11", Reading("plan", w("-11:00"))),  # 11pm is after closing
        ("08:00-22:00", "after 7", Reading("plan", w("19:00-"))),
        # Open 10:00-16:00: an opening hour may start a window, a closing hour end it.
        ("10:00-16:00", "after 10", Reading("plan", w("10:00-"))),
        ("10:00-16:00", "before 4", Reading("plan", w("-16:00"))),
        ("10:00-16:00", "after 4", Reading("ambiguous", hour=4)),
        ("10:00-16:00", "between 10 and 4", Reading("plan", w("10:00-16:00"))),
        # Open 12:00-20:00.
        ("12:00-20:00", "after 7", Reading("plan", w("19:00-"))),
        ("12:00-20:00", "after 11", Reading("ambiguous", hour=11)),
        ("12:00-20:00", "after 12", Reading("plan", w("12:00-"))),  # 12 is always noon
        # A 24-hour time is never ambiguous.
        ("08:00-22:00", "09:00", Reading("plan", w("09:00-10:00"))),
        ("08:00-22:00", "21:00", Reading("plan", w("21:00-22:00"))),
    ],
)
def test_the_usual_hours_decide_a_bare_hour(usual, text, reading):
    opens, closes = (time.fromisoformat(t) for t in usual.split("-"))
    assert read(text, (opens, closes)) == reading


@pytest.mark.parametrize(
    "text",
    [
        "25:99",
        "24:00",
        "14:60",
        "14:3",
        "1.5",
        "13pm",
        "0pm",
        "14:30pm",
        "27/11",
        "after lunch o'clock",
        "after",
        "after tomorrow",
        "2pm to",
        # Two windows, or alternatives: not modelled, so asked again.
        "2pm or 3pm",
        "2pm, 3pm",
        "mornings or evenings",
        "mornings and evenings",
        "tomorrow morning or evening",
        "not lunchtime",
        # Contradictions and empty windows.
        "between 3 and 1pm",
        "after 2 before 1",
        "after 6pm before 2pm",
        "not monday monday",
        "monday, not monday",
        "mornings after 2pm",
        "before 12am",
        "after 2 tomorrow morning",  # 2pm in the usual hours, not in the morning
        # Times we can't know, and words that could mean "except" or "only".
        "after work",
        "before school",
        "not tonight",
        "weekdays but evenings",
    ],
)
def test_a_time_that_cannot_be_read_is_unclear(text):
    assert read(text) == Reading("unclear")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "help",
        "help me",
        "can someone call me",
        "please call me",
        "thanks",
        "ok",
        "no",
        "yes please",
        "x",
        # Phone numbers and emergency numbers are not times.
        "07400123456",
        "+44 7400 123456",
        "999",
        "call 999",
        "112",
        "101",
        "111",
        # More than a time phrase, with no time in it: a plain callback request.
        "I am 19",
    ],
)
def test_a_message_not_about_a_time_is_none(text):
    assert read(text) == Reading("none")


@pytest.mark.parametrize(
    "text",
    [
        # Found: a time inside a sentence was dropped and the person was called at once.
        "Don't call before 2",
        "please only call after 6pm when he's out",
        "dont call me in the morning",
        "after 2 please, he is home till then",
        "please call me tomorrow afternoon after 2pm but not on fridays thanks very much",
        "after 6pm " + "please " * 30,
        "my number is 07400123456 call after 2",
        "he posted my photos at 2am",  # a story, but a clock time: we ask rather than guess
        "I was wondering whether you could call me back at 2pm tomorrow please, thanks",
    ],
)
def test_a_time_inside_a_sentence_is_unclear_never_none(text):
    assert read(text) == Reading("unclear")


@pytest.mark.parametrize(("text", "window"), READ_IN_A_SENTENCE)
def test_a_routine_or_idiom_said_with_a_time_is_read(text, window):
    """Found: "after my shift ends at 5" and "after the kids are in bed, about 8" were read
    as nothing about time, so stored as any time and due at once."""
    assert read(text) == Reading("plan", w(window))


@pytest.mark.parametrize(("text", "said"), AMBIGUOUS_HALF_HOURS)
def test_half_6_is_six_thirty_and_asked_as_such(text, said):
    """Found: "not before half 6" was asked about as "6am or 6pm"."""
    reading = read(text)
    assert reading.kind == "ambiguous"
    assert reading.said == said


@pytest.mark.parametrize("text", HELD_AND_ASKED)
def test_a_sentence_about_when_is_unclear_never_none(text):
    """Found: "not while he's home" was read as no time at all (then: any time)."""
    assert read(text) == Reading("unclear")


def test_the_tables_are_as_long_as_the_issue_asks():
    assert len(SITUATION) >= 40
    assert len(HELD_AND_ASKED) >= 40


@pytest.mark.parametrize("text", SITUATION)
def test_a_person_without_presence_or_a_time_says_nothing_about_when(text):
    assert read(text) == Reading("none")


@pytest.mark.parametrize("text", SITUATION)
def test_a_situation_text_with_a_time_after_it_is_about_time(text):
    """The same situations, with a time said after them: never "none"."""
    assert read(f"{text}, call after 6pm when he is out").kind != "none"


def test_a_point_time_allows_the_hour_after_it():
    reading = read("14:30")
    assert reading.window.latest == (datetime.combine(TODAY, time(14, 30)) + AT_SLACK).time()


@pytest.mark.parametrize(
    ("window", "words"),
    [
        (w("14:00-"), "after 2pm"),
        (w("-11:00"), "before 11am"),
        (w("12:00-14:00"), "between 12pm and 2pm"),
        (w("14:00-15:00"), "2pm to 3pm"),  # a point time: the hour it allows
        (w("13:30-14:30"), "1:30pm to 2:30pm"),
        (w("23:00-23:59"), "11pm to 11:59pm"),
        (w(days="1"), "Tue only"),
        (w(days="12"), "Tue and Wed only"),
        (w(days="024"), "Mon, Wed and Fri only"),
        (w(days="123456"), "not Mon"),
        (w(days="012356"), "not Fri"),
        (w(days="01234"), "weekdays only"),
        (w(days="56"), "weekends only"),
        (w(days="0123"), "Mon to Thu only"),
        (w(days="0456"), "Fri to Mon only"),
        (w(days="02356"), "not Tue or Fri"),
        (w(from_="2026-11-27"), "from Fri 27 Nov"),
        (w("14:00-", days="1"), "after 2pm, Tue only"),
        (w("-12:00", from_=THU), "before 12pm, from Thu 26 Nov"),
        (w("14:00-", days="1", from_="2026-11-27"), "after 2pm, Tue only, from Fri 27 Nov"),
        (ANYTIME, "any time"),
    ],
)
def test_describe(window, words):
    assert describe(window) == words


def test_every_window_in_the_table_is_described_in_a_narrow_column():
    widest = max((describe(window) for _, window in READINGS), key=len)
    assert len(widest) <= 40, widest


@pytest.mark.parametrize(
    "window",
    [
        ANYTIME,
        w("14:00-"),
        w("-11:00"),
        w("12:00-14:00"),
        w("00:00-00:30"),
        w(days="1"),
        w(days=""),
        w("14:00-", days="12", from_="2026-11-27"),
    ],
)
def test_a_window_reads_back_as_stored(window):
    assert Window.loads(window.dumps()) == window


minutes = st.times().map(lambda t: t.replace(second=0, microsecond=0))
windows = st.builds(
    Window,
    earliest=st.none() | minutes,
    latest=st.none() | minutes,
    weekdays=st.frozensets(st.integers(0, 6)),
    not_before=st.none() | st.dates(),
)


@given(windows)
def test_any_window_reads_back_as_stored(window):
    assert Window.loads(window.dumps()) == window


usuals = st.sampled_from([USUAL, (time(8), time(22)), (time(9), time(17)), (time(0), time(23))])


@given(st.text(), usuals)
def test_any_text_reads_as_one_of_the_five_kinds_and_a_plan_is_never_empty(text, usual):
    reading = read(text, usual)
    assert reading.kind in KINDS
    assert (reading.window is not None) == (reading.kind == "plan")
    assert (reading.hour is not None) == (reading.kind == "ambiguous")
    if reading.kind == "plan":
        window = reading.window
        assert window != ANYTIME
        assert window.weekdays
        if window.earliest is not None and window.latest is not None:
            assert window.earliest < window.latest
    if reading.kind == "ambiguous":
        assert 1 <= reading.hour <= 11


time_words = st.sampled_from(
    [
        "after",
        "before",
        "between",
        "and",
        "or",
        "not",
        "to",
        "-",
        "till",
        "from",
        "tomorrow",
        "today",
        "mornings",
        "evening",
        "tonight",
        "lunch",
        "noon",
        "half",
        "half past",
        "quarter to",
        "o'clock",
        "am",
        "pm",
        "p.m.",
        "mon",
        "tue",
        "weekdays",
        "weekend",
        "any time",
        "any day",
        "but",
        "except",
        "no",
        "please",
        ",",
        "onwards",
        "2",
        "8",
        "12",
        "14:30",
        "9.45",
        "0930",
        "13",
        "2pm",
        "11am",
        "25:99",
    ]
)


@given(st.lists(time_words, max_size=8), usuals)
def test_any_string_of_time_words_reads_without_an_empty_plan(phrases, usual):
    reading = read(" ".join(phrases), usual)
    if any(phrase[0].isdigit() for phrase in phrases):  # a number among time words: a time
        assert reading.kind != "none"
    if reading.kind == "plan":
        window = reading.window
        assert window.weekdays and window.weekdays <= ALL_DAYS
        if window.earliest is not None and window.latest is not None:
            assert window.earliest < window.latest


@given(st.integers(1, 12), st.sampled_from(["am", "pm"]), st.integers(0, 59))
def test_an_explicit_am_or_pm_is_taken_as_written(hour, half, minute):
    at = time(hour % 12 + (12 if half == "pm" else 0), minute)
    written = f"{hour}:{minute:02d}{half}"
    assert read(f"after {written}") == Reading("plan", Window(earliest=at))
    assert read(f"not after {written}").window == (None if at == time(0) else Window(latest=at))
    end = min(datetime.combine(TODAY, at) + AT_SLACK, datetime.combine(TODAY, time(23, 59)))
    if at < USUAL[1]:  # never past our closing (s3 #5: "at 3:45" is 3:45pm to 4pm)
        end = min(end, datetime.combine(TODAY, USUAL[1]))
    if at < time(23, 59):
        assert read(written) == Reading("plan", Window(at, end.time()))


def test_tomorrow_is_the_day_after_the_day_the_message_came():
    assert read_safe_time("tomorrow", date(2026, 12, 31), USUAL).window == w(from_="2027-01-01")
    assert read_safe_time("tomorrow", date(2026, 12, 31), USUAL).window.not_before == (
        date(2026, 12, 31) + timedelta(days=1)
    )


sentence_pieces = st.sampled_from(
    [
        "please",
        "um",
        "thanks",
        "can you",
        "I think",
        "so",
        "and",
        "x",
        ",",
        "my shift ends",
        "the kids are in bed",
        "he's home",
        "he gets home",
        "my partner is here",
        "he's out",
        "after",
        "before",
        "when",
        "while",
        "not while",
        "about",
        "at",
    ]
)
anchors = st.sampled_from(
    [
        "5",
        "half 6",
        "quarter to 3",
        "8pm",
        "17:30",
        "after work",
        "when he's out",
        "before he gets home",
        "teatime",
        "first thing",
        "end of the day",
        "tomorrow",
        "on Monday",
        "in the evening",
        "not while he's home",
    ]
)


@given(st.lists(sentence_pieces, max_size=5), anchors, st.lists(sentence_pieces, max_size=5))
def test_a_sentence_with_a_time_or_routine_is_never_none_or_any_time(before, anchor, after):
    """Random sentences from a grammar of fillers, routines and times around one thing about
    when: read as a window, or asked about; never nothing, never any time."""
    reading = read(" ".join([*before, anchor, *after]))
    assert reading.kind not in ("none", "anytime"), reading
    if reading.kind == "plan":
        assert not reading.window.anytime
