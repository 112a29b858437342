"""The funders' report: a month's figures (no phone numbers) from counters kept 26 months,
as text, CSV, a page supervisors open from the numbers page, and a printed A4 page."""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import time
import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest
import redis
from pypdf import PdfReader

from ivr.core.report import month_report, parse_month, percentile, rows
from ivr.store import stats
from ivr.store.keys import DEFAULT
from ivr.web.report_page import render_report
from tests.common import LONDON as UK
from tests.common import add_advisor, london, phone_numbers_in, signed_in

NOVEMBER = date(2026, 11, 1)


# ------------------------------------------------------------------ the figures, pure

COUNTERS = {
    "calls": 9,
    "calls:open:10": 3,
    "calls:open:14": 2,
    "calls:closed:20": 4,
    "menu:steps": 5,
    "menu:callback": 2,
    "menu:advisor": 2,
    "cb:asked": 6,
    "cb:reached": 4,
    "cb:expired": 1,
    "wait:5": 1,
    "wait:30": 2,
    "wait:90": 1,
    "wait:600": 1,
    "q:queued": 7,
    "q:answered": 4,
    "q:swapped": 2,
    "q:abandoned": 1,
    "answer:0": 2,
    "answer:1": 1,
    "answer:9": 1,
}


def test_a_months_figures():
    report = month_report(NOVEMBER, COUNTERS)
    assert report.title == "November 2026"
    assert (report.calls_open, report.calls_closed, report.calls) == (5, 4, 9)
    assert (report.asked, report.reached, report.expired) == (6, 4, 1)
    assert report.menu == (
        ("The five steps", 5),
        ("Ask for a callback", 2),
        ("Speak to an advisor", 2),
    )
    assert report.busiest_hours == ((20, 4), (10, 3), (14, 2))
    assert (report.called_back, report.median_wait_minutes, report.p90_wait_minutes) == (
        5,
        30,
        600,
    )
    assert (report.queued, report.answered, report.swapped, report.abandoned) == (7, 4, 2, 1)
    assert (report.median_answer_minutes, report.p90_answer_minutes) == (0, 9)
    figures = dict(rows(report))
    assert figures["Half of those answered were answered within"] == "1 min"  # minute 0 begun
    assert figures["90% of those answered were answered within"] == "10 min"


@pytest.mark.parametrize(
    ("histogram", "fraction", "minutes"),
    [
        ({}, 0.5, None),
        ({7: 1}, 0.5, 7),
        ({7: 1}, 0.9, 7),
        ({1: 1, 2: 1}, 0.5, 1),
        ({1: 1, 2: 1, 3: 1}, 0.5, 2),
        ({1: 9, 100: 1}, 0.9, 1),
        ({1: 8, 100: 2}, 0.9, 100),
        ({0: 5, 3: 5}, 0.5, 0),
    ],
)
def test_percentiles_of_whole_minutes(histogram, fraction, minutes):
    assert percentile(histogram, fraction) == minutes


def test_a_month_without_calls_says_so_rather_than_inventing_figures():
    report = month_report(NOVEMBER, {})
    figures = dict(rows(report))
    assert figures["Calls"] == "0"
    assert figures["Median wait from asking to being called"] == "not enough calls back yet"
    assert figures["Callers who waited in the queue"] == "0"
    assert figures["Half of those answered were answered within"] == (
        "nobody was answered from the queue"
    )
    assert report.busiest_hours == ()


@pytest.mark.parametrize("written", ["2026-13", "11-2026", "November", "2026-1", ""])
def test_a_month_is_written_as_year_and_month(written):
    with pytest.raises(ValueError, match="write it as 2026-11"):
        parse_month(written)


# ------------------------------------------------------------------ counters kept for months


def seed_november(r: redis.Redis) -> None:
    """A few days of November 2026, counted as the app counts them."""
    traffic = [
        ("2026-11-02T10:15", True, "steps"),
        ("2026-11-02T10:40", True, "callback"),
        ("2026-11-02T20:05", False, "steps"),
        ("2026-11-16T14:30", True, "advisor"),
        ("2026-11-30T20:50", False, "steps"),
    ]
    for at, is_open, choice in traffic:
        now = london(at)
        stats.call_started(r, now, UK, is_open)
        stats.count(r, now, UK, f"menu:{choice}")
    stats.count(r, london("2026-11-02T10:41"), UK, "cb:asked")
    stats.count(r, london("2026-11-16T14:31"), UK, "cb:asked")
    stats.count(r, london("2026-11-17T10:10"), UK, "cb:reached")
    stats.wait_recorded(r, london("2026-11-03T10:20"), UK, 25 * 3600)
    stats.wait_recorded(r, london("2026-11-17T10:10"), UK, 19 * 3600 + 40 * 60)
    for at, counted in [
        ("2026-11-16T14:20", "q:queued"),
        ("2026-11-16T14:25", "q:queued"),
        ("2026-11-16T14:50", "q:queued"),
        ("2026-11-17T11:00", "q:queued"),
        ("2026-11-16T14:21", "q:answered"),
        ("2026-11-16T14:28", "q:answered"),
        ("2026-11-16T14:55", "q:swapped"),
        ("2026-11-17T11:02", "q:abandoned"),
    ]:
        stats.count(r, london(at), UK, counted)
    stats.queue_answer_recorded(r, london("2026-11-16T14:21"), UK, 40)
    stats.queue_answer_recorded(r, london("2026-11-16T14:28"), UK, 200)
    stats.queue_answer_recorded(r, london("2026-10-31T12:00"), UK, 3000)  # not November
    stats.count(r, london("2026-10-31T12:00"), UK, "calls", "calls:open:12")  # not November
    stats.flush()


EXPECTED = {
    "Calls": "5",
    "Calls in opening hours": "3",
    "Calls out of hours": "2",
    "Callbacks asked for": "2",
    "Callbacks reached": "1",
    "Callbacks expired": "0",
    "Median wait from asking to being called": "1180 min",
    "90% were called within": "1500 min",
    "Menu: The five steps": "3",
    "Busy hour: 10:00–11:00": "2 calls",
    "Callers who waited in the queue": "4",
    "Answered by an advisor from the queue": "2",
    "Swapped to a callback, keeping their place": "1",
    "Hung up while waiting": "1",
    "Half of those answered were answered within": "1 min",  # 40 s and 200 s
    "90% of those answered were answered within": "4 min",
}


def figures_of(r: redis.Redis, today: date = date(2026, 12, 3)) -> dict[str, str]:
    return dict(rows(month_report(NOVEMBER, stats.month(r, NOVEMBER, today, DEFAULT))))


def test_a_month_reads_the_same_before_and_after_its_days_are_added_to_it(store):
    seed_november(store)
    before = figures_of(store)
    assert before.items() >= EXPECTED.items()

    for day in stats.days_to_add(date(2026, 12, 3)):
        stats.add_day_to_month(store, day, DEFAULT)
    assert figures_of(store) == before


def test_a_day_is_added_to_its_month_once(store):
    seed_november(store)
    assert stats.add_day_to_month(store, date(2026, 11, 2), DEFAULT)
    assert not stats.add_day_to_month(store, date(2026, 11, 2), DEFAULT)  # a second night
    assert not stats.add_day_to_month(store, date(2026, 11, 5), DEFAULT)  # nothing that day
    assert figures_of(store)["Calls"] == "5"


def test_the_month_outlives_its_days(store):
    """Found: statistics expired after 40 days, so a report run later was incomplete."""
    seed_november(store)
    for day in stats.days_to_add(date(2026, 12, 3)):
        stats.add_day_to_month(store, day, DEFAULT)
    for day in range(1, 31):  # the days' own counters expire after 40 days
        when = date(2026, 11, day)
        store.delete(DEFAULT.stats(when), DEFAULT.stats_waits(when), DEFAULT.stats_answers(when))
    assert figures_of(store, today=date(2027, 11, 1)).items() >= EXPECTED.items()
    kept = store.ttl(DEFAULT.stats_month("2026-11"))
    assert kept >= 24 * 31 * 24 * 3600  # at least 24 months


def test_the_nightly_job_adds_finished_days_to_their_month(store, make_app):
    from ivr.jobs.tasks import Jobs

    seed_november(store)
    app = make_app(at="2026-12-01T00:30")
    services = app.extensions["helpline"]
    report = Jobs(services).nightly(london("2026-12-01T00:30"))
    assert "added 6 finished days to their months' figures" in report.lines
    kept = store.hgetall(DEFAULT.stats_month("2026-11"))
    assert kept["calls"] == "5" and kept["day:2026-11-30"] == "1"


# ------------------------------------------------------------------ the command line


@pytest.fixture
def in_december(cli_env, tmp_path, monkeypatch):
    """The command line runs on 3 December 2026, November over."""
    clock_file = tmp_path / "clock.txt"
    clock_file.write_text("2026-12-03T11:00:00+00:00")
    monkeypatch.setenv("HELPLINE_TEST_CLOCK_FILE", str(clock_file))


def test_the_report_command_prints_the_months_figures(cli, store, in_december):
    seed_november(store)
    result = cli("report", "--month", "2026-11")
    assert result.exit_code == 0, result.output
    lines = {" ".join(line.split()) for line in result.output.splitlines()}
    for name, value in EXPECTED.items():
        assert f"{name} {value}" in lines
    assert phone_numbers_in(result.output) == []


def test_the_report_as_csv_and_as_a_page(cli, store, tmp_path, in_december):
    seed_november(store)
    table, page = tmp_path / "nov.csv", tmp_path / "nov.html"
    result = cli("report", "--month", "2026-11", "--csv", str(table), "--html", str(page))
    assert result.exit_code == 0, result.output
    names, _, values = csv.reader(io.StringIO(table.read_text()))
    numbers = dict(zip(names, values, strict=True))
    for name, value in EXPECTED.items():  # the same figures, without their units
        if not name.startswith("Busy"):
            assert numbers[name] == value.removesuffix(" min"), name
    html = page.read_text()
    assert "Helpline report: November 2026" in html
    assert "Back to the numbers" not in html  # a file to send: no console controls
    assert phone_numbers_in(html) == []


def test_a_month_written_wrongly_is_answered_clearly(cli):
    result = cli("report", "--month", "Nov")
    assert result.exit_code == 1
    assert "'Nov' is not a month: write it as 2026-11" in result.output


# ------------------------------------------------------------------ the console


@pytest.fixture
def supervisor(make_app, store):
    app = make_app(at="2026-12-03T11:00", cookie_secure=False)
    add_advisor(store, "Sam", "+447400123459", supervisor=True)
    return signed_in(app, "Sam")


def test_supervisors_open_the_report_from_the_numbers_page(supervisor, store):
    seed_november(store)
    numbers = supervisor.get("/console/supervisor/stats").get_data(as_text=True)
    assert 'href="/console/supervisor/report"' in numbers
    page = supervisor.get("/console/supervisor/report").get_data(as_text=True)  # last month
    assert "Helpline report: November 2026" in page
    for name, value in EXPECTED.items():
        assert f'{name}</th><td class="n">{value}' in page or name.startswith(("Menu", "Busy"))
    assert '<option value="2025-12"' in page  # two years back can be chosen


def test_a_wrong_month_in_the_address_shows_last_month(supervisor):
    response = supervisor.get("/console/supervisor/report?month=junk")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/supervisor/report")


def test_advisors_do_not_see_the_report(make_app, store):
    app = make_app(at="2026-12-03T11:00", cookie_secure=False)
    add_advisor(store, "Alex", "+447400123458")
    assert signed_in(app, "Alex").get("/console/supervisor/report").status_code == 403


# ------------------------------------------------------------------ printed


def test_the_report_prints_on_one_page_with_its_figures(cli, store, tmp_path, browser, in_december):
    seed_november(store)
    page_file, pdf_file = tmp_path / "nov.html", tmp_path / "nov.pdf"
    assert cli("report", "--month", "2026-11", "--html", str(page_file)).exit_code == 0
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        page.pdf(path=str(pdf_file), format="A4")
    finally:
        page.close()
    pdf = PdfReader(pdf_file)
    assert len(pdf.pages) == 1
    text = " ".join(unicodedata.normalize("NFKC", pdf.pages[0].extract_text()).split())
    assert "Helpline report: November 2026" in text
    for name, value in EXPECTED.items():
        if not name.startswith(("Menu", "Busy")):
            assert f"{name} {value}" in text
    assert "The five steps 3" in text
    assert "10:00–11:00 (2 calls)" in text
    assert phone_numbers_in(text) == []


def test_the_report_fits_one_page_in_a_busy_month(cli, store, tmp_path, browser, in_december):
    for hour in range(24):
        for day in range(1, 31):
            now = datetime(2026, 11, day, hour, 30, tzinfo=UK)
            stats.call_started(store, now, UK, 10 <= hour < 16)
    for action in ("advisor", "steps", "police", "support", "callback"):
        stats.count(store, london("2026-11-10T11:00"), UK, f"menu:{action}")
    for minutes in range(0, 3000, 7):
        stats.wait_recorded(store, london("2026-11-20T11:00"), UK, minutes * 60)
    stats.flush()
    page_file, pdf_file = tmp_path / "busy.html", tmp_path / "busy.pdf"
    assert cli("report", "--month", "2026-11", "--html", str(page_file)).exit_code == 0
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri())
        page.pdf(path=str(pdf_file), format="A4")
    finally:
        page.close()
    assert len(PdfReader(pdf_file).pages) == 1
    assert "<option" not in Path(page_file).read_text()  # no console controls in a file


# ------------------------------------------------------------------ issue 21's rough edges


def test_a_month_in_progress_says_so_far_and_to_which_day():
    """Found: a month in progress wasn't marked as such."""
    december = date(2026, 12, 1)
    assert month_report(december, COUNTERS, today=date(2026, 12, 7)).title == (
        "December 2026, so far (to 7 December)"
    )
    assert month_report(december, COUNTERS, today=date(2027, 1, 1)).title == "December 2026"
    assert month_report(NOVEMBER, COUNTERS, today=date(2026, 12, 7)).title == "November 2026"


def test_the_report_names_its_helpline(make_app):
    """Found: no helpline name on the report."""
    report = month_report(NOVEMBER, COUNTERS, helpline="Scotland line")
    assert rows(report)[0] == ("Helpline", "Scotland line")
    with make_app().test_request_context():
        page = render_report(report, london("2026-12-03T11:00"), standalone=True)
    assert "<h1>Scotland line report: November 2026</h1>" in page
    assert "<title>Scotland line report: November 2026</title>" in page


def test_a_helpline_with_a_title_has_it_on_its_report(make_app, store, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parent.parent / "flows", flows)
    (flows / "helplines.toml").write_text(
        '[[helpline]]\nname = "main"\nfolder = "."\ntitle = "Image Abuse Helpline"\n'
    )
    app = make_app(at="2026-12-07T11:00", cookie_secure=False, flows_dir=flows)
    add_advisor(store, "Sam", "+447400123459", supervisor=True)
    page = signed_in(app, "Sam").get("/console/supervisor/report?month=2026-12")
    assert "<h1>Image Abuse Helpline report: December 2026, so far (to 7 December)</h1>" in (
        page.get_data(as_text=True)
    )


def test_the_csv_is_numbers_under_a_row_of_units(cli, store, tmp_path, in_december):
    """Found: the CSV mixed numbers and words ("9 calls")."""
    seed_november(store)
    table = tmp_path / "nov.csv"
    assert cli("report", "--month", "2026-11", "--csv", str(table)).exit_code == 0
    names, units, values, *more = csv.reader(io.StringIO(table.read_text()))
    assert more == []
    value, unit = dict(zip(names, values, strict=True)), dict(zip(names, units, strict=True))
    assert (value["Month"], value["Counted to"]) == ("2026-11", "2026-11-30")
    for name, number, measure in [
        ("Calls", "5", "calls"),
        ("Callbacks asked for", "2", "callbacks"),
        ("Median wait from asking to being called", "1180", "minutes"),
        ("Half of those answered were answered within", "1", "minutes"),
        ("Menu: The five steps", "3", "calls"),
        ("Calls 10:00–11:00", "2", "calls"),
        ("Calls 03:00–04:00", "0", "calls"),
    ]:
        assert (value[name], unit[name]) == (number, measure), name
    words = {n: v for n, v in value.items() if n not in ("Helpline", "Month", "Counted to")}
    assert all(v.isdigit() or v == "" for v in words.values()), words


def test_a_month_in_progress_is_counted_to_today_in_the_csv(cli, store, tmp_path, in_december):
    table = tmp_path / "dec.csv"
    assert cli("report", "--month", "2026-12", "--csv", str(table)).exit_code == 0
    names, _, values = csv.reader(io.StringIO(table.read_text()))
    assert dict(zip(names, values, strict=True))["Counted to"] == "2026-12-03"
    assert "so far (to 3 December)" in cli("report", "--month", "2026-12").output


HOUR_CELLS = """() => {
  const table = [...document.querySelectorAll("table.hours")].find(t => t.offsetParent);
  if (!table) return {problems: ["no hour table shown"]};
  const cells = [...table.querySelectorAll("th, td")].filter(c => c.textContent.trim());
  const problems = [];
  for (const c of cells) {
    const size = parseFloat(getComputedStyle(c).fontSize);
    if (size < 12) problems.push(`${c.textContent.trim()}: ${size}px text`);
    if (c.scrollWidth > c.clientWidth + 1) problems.push(`${c.textContent.trim()}: cut off`);
  }
  const wide = document.documentElement.scrollWidth > document.documentElement.clientWidth;
  if (wide) problems.push("the page scrolls sideways");
  const hours = [...table.querySelectorAll("th")].map(h => h.textContent.trim());
  return {problems, hours};
}"""


def hour_table_at_320_px(browser, html: str) -> dict[str, object]:
    page = browser.new_page(viewport={"width": 320, "height": 640})
    try:
        page.set_content(html)
        return page.evaluate(HOUR_CELLS)
    finally:
        page.close()


def test_the_hour_table_reads_at_320_px_on_paper_and_in_the_console(
    cli, store, tmp_path, browser, in_december, make_app
):
    """Found: at 320 px the 00–23 hour table ran together into unreadable text (console and
    `--html`)."""
    seed_november(store)
    page_file = tmp_path / "nov.html"
    assert cli("report", "--month", "2026-11", "--html", str(page_file)).exit_code == 0
    app = make_app(at="2026-12-03T11:00", cookie_secure=False)
    add_advisor(store, "Sam", "+447400123459", supervisor=True)
    console = signed_in(app, "Sam").get("/console/supervisor/report").get_data(as_text=True)
    for html in (page_file.read_text(), console):
        shown = hour_table_at_320_px(browser, html)
        assert shown["problems"] == [], shown
        assert "10:00–11:00" in shown["hours"], shown  # each hour says which it is


def test_counts_are_written_by_themselves_in_a_forked_worker_too(store):
    """The day's counts are kept in memory and written within FLUSH_SECONDS by a thread of
    the process that counted them: a gunicorn worker, forked from a parent whose thread it
    does not have, starts its own; what the parent held at the fork is the parent's to
    write (not written twice), and a lock held at the fork does not hold the worker."""
    when = datetime(2026, 11, 25, 19, 0, tzinfo=UK)
    stats.count(store, when, UK, "calls")  # this process's thread, started
    stats.flush()
    with stats._buffer.writing:  # the parent's thread is mid-flush as the worker is forked
        stats.count(store, when, UK, "calls")  # held by the parent at the fork
        child = os.fork()
        if child == 0:  # the worker: counts, and never flushes by hand
            try:
                stats.count(store, when, UK, "calls")
                time.sleep(stats.FLUSH_SECONDS * 3)
            finally:
                os._exit(0)
    deadline = time.monotonic() + stats.FLUSH_SECONDS * 10
    while os.waitpid(child, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked worker did not finish")
        time.sleep(0.05)
    stats.flush()
    assert store.hget(DEFAULT.stats(when.date()), "calls") == "3"
