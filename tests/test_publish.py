"""Staff change what callers hear without a restart, and a typo never takes the line down.

`helpline content publish` checks flows/ as start-up does and keeps the checked copy in the
store; every web worker and the scheduler switch to it within seconds. At start, broken files
leave the last published copy serving, with an alarm (log, /healthz/dependencies, the
supervisor's console). The process tests run `helpline run` as staff do (gunicorn and the
scheduler), on a copy of flows/ of their own."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import redis
from twilio.request_validator import RequestValidator

from ivr.content.flows import DEFAULT_DIR
from tests.common import (
    DATA_KEY,
    LOOKUP_KEY,
    TOKEN,
    add_advisor,
    assert_hears,
    assert_not_hears,
    free_port,
    heard,
    london,
    signed_in,
    stop_following,
    twilio_client,
)

PROJECT = Path(__file__).resolve().parent.parent
WEDNESDAY = "2026-12-09T11:00"  # in hours: callers hear the open menu
TRAINING = "The helpline is closed today for staff training."
CLOSURE = f"""
[[closures]]
from = 2026-12-09
to = 2026-12-09
message = "{TRAINING}"
"""
TYPO = """
[[closures]]
from = 2026-12-32
to = 2027-01-01
message = "Closed."
"""
SAFETY = "9 9 9"


def read_published(store: redis.Redis):
    from ivr.store.published import read_published as read  # new in this change

    return read(store)


def publish_files(store: redis.Redis, files: dict[str, str], at) -> None:
    from ivr.store.published import publish_files as publish_them

    publish_them(store, files, at)


def copy_of_flows(folder: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, folder)
    return folder


def add_to_hours(flows: Path, text: str) -> None:
    with (flows / "hours.toml").open("a", encoding="utf-8") as f:
        f.write("\n" + text)


def wait_for(
    condition: Callable[[], object], what: str, seconds: float, logs: Callable[[], str]
) -> float:
    """Poll until `condition` holds; how long it took (fail, with the logs, past `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"waited {seconds} s for {what}\n{logs()}")


# ------------------------------------------------------------------ in the process


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    return copy_of_flows(tmp_path / "flows")


def greeting(app) -> list[str]:
    return heard(twilio_client(app).post("/voice"))


def test_a_publish_reaches_a_running_app_and_its_cached_answers(make_app, cli, flows):
    app = make_app(at=WEDNESDAY, flows_dir=flows)
    assert_not_hears(greeting(app), TRAINING)  # and the open answer is now cached

    add_to_hours(flows, CLOSURE)
    published = cli("content", "publish", flows=flows)

    assert published.exit_code == 0, published.output
    assert "published" in published.output.lower()
    wait_for(lambda: any(TRAINING in line for line in greeting(app)), "the closure", 5, str)
    assert_hears(greeting(app), SAFETY)


def test_an_app_that_stopped_following_keeps_its_words_and_its_watch_ends(make_app, cli, flows):
    """A test's app done with (tests/conftest.py: make_app) reads and checks no later copy:
    found, the apps of earlier tests each checked every copy a later test published."""
    before = set(threading.enumerate())
    app = make_app(at=WEDNESDAY, flows_dir=flows)
    greeting(app)
    (watch,) = [t for t in threading.enumerate() if t not in before and t.name == "content-watch"]
    stop_following(app)

    add_to_hours(flows, CLOSURE)
    assert cli("content", "publish", flows=flows).exit_code == 0

    watch.join(timeout=5)
    assert not watch.is_alive()
    assert_not_hears(greeting(app), TRAINING)


def test_the_fallback_says_the_published_words_too(make_app, cli, flows):
    app = make_app(at=WEDNESDAY, flows_dir=flows)
    voice = flows / "voice.toml"
    old = "You can send a text message to this number to ask us to call you back."
    new = "You can text this number and we will call you back."
    voice.write_text(voice.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    assert cli("content", "publish", flows=flows).exit_code == 0

    def fallback() -> list[str]:  # an unknown /voice URL gets the fallback
        return heard(twilio_client(app).post("/voice/nope"))

    wait_for(lambda: new in fallback(), "the new fallback", 5, str)
    assert_hears(fallback(), SAFETY)


def test_a_broken_publish_changes_nothing_live_and_names_the_file_and_line(
    make_app, cli, flows, store
):
    app = make_app(at=WEDNESDAY, flows_dir=flows)
    before = read_published(store)
    add_to_hours(flows, TYPO)

    published = cli("content", "publish", flows=flows)

    assert published.exit_code != 0
    assert re.search(r"hours\.toml:\d+:", published.output)  # the file and its line
    assert "nothing" in published.output.lower()  # says nothing changed for callers
    assert read_published(store) == before
    time.sleep(0.5)
    assert_hears(greeting(app), SAFETY)


def test_a_typo_at_start_serves_the_last_published_copy_and_alarms(make_app, flows, store, caplog):
    make_app(at=WEDNESDAY, flows_dir=flows)  # publishes the good files
    add_to_hours(flows, TYPO)

    app = make_app(at=WEDNESDAY, flows_dir=flows)  # a restart with the typo

    assert_hears(greeting(app), SAFETY)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("hours.toml" in r.getMessage() for r in errors), caplog.text
    health = app.test_client().get("/healthz/dependencies")
    assert health.status_code == 503
    assert re.search(r"hours\.toml(:| line )\d+", health.json["content"])  # file and line
    add_advisor(store, "Sam", supervisor=True)
    page = signed_in(app, "Sam").get("/console/supervisor/").get_data(as_text=True)
    assert "hours.toml" in page and "published" in page


def test_start_refuses_only_when_neither_the_files_nor_a_published_copy_pass(
    make_app, flows, store
):
    add_to_hours(flows, TYPO)
    with pytest.raises(Exception, match="hours.toml"):
        make_app(at=WEDNESDAY, flows_dir=flows)


def test_with_the_store_down_at_start_the_files_are_used_as_they_are(make_app, flows, tmp_path):
    down = {"redis_url": "redis://127.0.0.1:9", "data_dir": tmp_path}
    assert_hears(greeting(make_app(at=WEDNESDAY, flows_dir=flows, **down)), SAFETY)
    add_to_hours(flows, TYPO)
    with pytest.raises(Exception, match="hours.toml"):
        make_app(at=WEDNESDAY, flows_dir=flows, **down)


def test_files_served_while_the_store_was_down_are_published_when_it_is_back(flows, store):
    from ivr.content.published import load_files, snapshot, version_of
    from ivr.store.published import ContentWatch, Serving

    files = snapshot(flows)
    started = london(WEDNESDAY)
    loaded = load_files(files, flows, started)
    watch = ContentWatch(
        store, Serving(loaded, version_of(files)), flows, lambda: started, unpublished=files
    )

    watch.refresh()  # the store answers again

    record = read_published(store)
    assert record is not None and record.version == version_of(files)
    assert watch.serving.published == record


def test_a_published_copy_this_version_of_the_app_refuses_is_not_served(
    make_app, flows, store, caplog
):
    make_app(at=WEDNESDAY, flows_dir=flows)
    # An older app's copy: its voice.toml lacks a key this version needs.
    record = read_published(store)
    assert record is not None
    files = dict(record.files)
    files["voice.toml"] = files["voice.toml"].replace("[fallback]", "[fallback_old]", 1)
    publish_files(store, files, london(WEDNESDAY))
    add_to_hours(flows, TYPO)

    with pytest.raises(Exception, match="hours.toml"):
        make_app(at=WEDNESDAY, flows_dir=flows)
    assert "voice.toml" in caplog.text  # said why the published copy was refused


def test_a_copy_published_by_another_version_that_fails_here_is_refused_live(
    make_app, flows, store, caplog
):
    app = make_app(at=WEDNESDAY, flows_dir=flows)
    record = read_published(store)
    assert record is not None
    files = dict(record.files)
    files["voice.toml"] = files["voice.toml"].replace("[fallback]", "[fallback_old]", 1)

    publish_files(store, files, london(WEDNESDAY))

    client = app.test_client()
    alarm = lambda: client.get("/healthz/dependencies").json["content"]  # noqa: E731
    wait_for(lambda: alarm() != "ok", "the alarm", 5, str)
    assert "voice.toml" in alarm() and client.get("/healthz/dependencies").status_code == 503
    assert_hears(greeting(app), SAFETY)  # the version before, still heard
    assert any(r.levelname == "ERROR" and "voice.toml" in r.getMessage() for r in caplog.records)


def test_hours_and_simulate_say_whether_they_show_published_or_edited_files(make_app, cli, flows):
    make_app(at=WEDNESDAY, flows_dir=flows)
    same = cli("hours", "--at", WEDNESDAY, flows=flows)
    assert "same as the published" in same.output, same.output

    add_to_hours(flows, CLOSURE)
    hours = cli("hours", "--at", WEDNESDAY, flows=flows)
    call = cli("simulate", "call", "--at", WEDNESDAY, flows=flows)

    for shown in (hours, call):
        assert "edited files" in shown.output, shown.output
        assert "not yet published" in shown.output
        assert "hours.toml" in shown.output  # the difference, named


def test_a_publish_that_changes_the_hours_warns_about_twilios_fallback(make_app, cli, flows):
    make_app(at=WEDNESDAY, flows_dir=flows)
    unchanged = cli("content", "publish", flows=flows)
    assert "twilio configure" not in unchanged.output

    add_to_hours(flows, CLOSURE)
    changed = cli("content", "publish", flows=flows)

    assert changed.exit_code == 0, changed.output
    assert "twilio configure" in changed.output


def test_the_console_header_and_metrics_name_the_published_version(make_app, store, flows):
    app = make_app(at=WEDNESDAY, flows_dir=flows, metrics_token="m" * 20)
    record = read_published(store)
    assert record is not None
    add_advisor(store, "Alex")
    page = signed_in(app, "Alex").get("/console/").get_data(as_text=True)
    assert record.short in page
    metrics = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 20})
    assert f'version="{record.short}"' in metrics.get_data(as_text=True)


# ------------------------------------------------------------------ `helpline run`


@dataclass
class Process:
    popen: subprocess.Popen
    out: Path

    def log(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


@pytest.fixture
def run_env(tmp_path: Path, flows: Path) -> dict[str, str]:
    """`helpline run` on a data folder, port and flows/ of its own, on a Wednesday at 11."""
    clock = tmp_path / "clock.txt"
    clock.write_text(london(WEDNESDAY).isoformat(), encoding="utf-8")
    child = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ
    }
    child.update(
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
        HELPLINE_FLOWS_DIR=str(flows),
        PORT=str(free_port()),
        HELPLINE_TEST_CLOCK_FILE=str(clock),
        TWILIO_AUTH_TOKEN=TOKEN,
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
        WEB_CONCURRENCY="2",
        DATA_KEY=DATA_KEY,
        LOOKUP_KEY=LOOKUP_KEY,
    )
    return child


@pytest.fixture
def start(tmp_path: Path, run_env: dict[str, str]) -> Iterator[Callable[[], Process]]:
    started: list[Process] = []

    def run() -> Process:
        out = tmp_path / f"run{len(started)}.log"
        with open(out, "wb") as o:
            popen = subprocess.Popen(
                [sys.executable, "-m", "ivr", "run"],
                cwd=PROJECT,
                env=run_env,
                stdout=o,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        process = Process(popen, out)
        started.append(process)
        base = f"http://127.0.0.1:{run_env['PORT']}"
        wait_for(lambda: status(f"{base}/healthz") == 200, "the web server", 40, process.log)
        return process

    yield run
    for process in started:
        process.stop()


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def base_of(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['PORT']}"


def call(base: str) -> str:
    """POST /voice over HTTP, signed as Twilio signs it: the TwiML (a 200, or the test fails)."""
    url = f"{base}/voice"
    params = {
        "CallSid": "CA" + "1" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+447400123456",
        "To": "+441234567890",
        "CallStatus": "ringing",
    }
    request = urllib.request.Request(
        url,
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)},
    )
    with urllib.request.urlopen(request, timeout=14) as response:
        assert response.status == 200
        return response.read().decode()


def publish(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivr", "content", "publish"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_closure_published_while_calls_are_answered_goes_live_within_5_s(start, run_env, flows):
    run = start()
    base = base_of(run_env)
    assert TRAINING not in call(base) and SAFETY in call(base)

    add_to_hours(flows, CLOSURE)
    published = publish(run_env)
    assert published.returncode == 0, published.stdout + published.stderr

    took = wait_for(lambda: TRAINING in call(base), "the closure to be heard", 5, run.log)
    assert took <= 5
    for _ in range(10):  # every worker, not only the first to switch
        answer = call(base)
        assert TRAINING in answer and SAFETY in answer
    switched = "now serving the words and hours"  # each web worker (2) and the scheduler
    wait_for(lambda: run.log().count(switched) >= 3, "every process to switch", 5, run.log)


def test_a_broken_publish_leaves_calls_answered_as_before(start, run_env, flows):
    run = start()
    base = base_of(run_env)
    add_to_hours(flows, TYPO)

    published = publish(run_env)

    assert published.returncode != 0
    assert "hours.toml" in published.stdout + published.stderr
    time.sleep(2)
    for _ in range(5):
        answer = call(base)
        assert SAFETY in answer and TRAINING not in answer
    assert status(f"{base}/healthz/dependencies") == 200, run.log()


def test_a_typo_and_a_restart_leave_the_last_published_version_serving(start, run_env, flows):
    start().stop()  # a good start publishes the files
    add_to_hours(flows, TYPO)

    run = start()  # the old code exits here: "make run exits after 2 s"

    base = base_of(run_env)
    assert SAFETY in call(base)
    wait_for(
        lambda: status(f"{base}/healthz/dependencies") == 503,
        "monitoring to be told",
        10,
        run.log,
    )
    with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
        assert "hours.toml" in response.read().decode()
    assert "ERROR" in run.log() and "hours.toml" in run.log()
