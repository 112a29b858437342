"""`helpline demo`: a rehearsal of the whole app at a chosen instant, on a throw-away data
folder: sample callers, an advisor and a supervisor; a banner on every console page; no call
placed, no text sent; nothing of it in the live store, nothing left when it ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from ivr.demo import ADVISOR, SAMPLES, seed
from ivr.store.accounts import Accounts
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, add_advisor, free_port, london, signed_in

PROJECT = Path(__file__).resolve().parent.parent
MONDAY = "2026-11-30T11:00"  # open


def test_the_rehearsal_is_seeded_with_callers_and_staff(make_app, store):
    app = make_app(at=MONDAY, rehearsal=True, cookie_secure=False)
    seeded = seed(app.extensions["helpline"], london(MONDAY))
    assert seeded.callbacks == len(SAMPLES)
    waiting = list(CallbackQueue(store, SEALER).all())
    assert {cb.number for cb in waiting} == {s.number for s in SAMPLES}
    assert all(cb.number.startswith("+447700900") for cb in waiting)  # drama numbers
    staff = {a.name: a for a in Accounts(store, SEALER).all()}
    assert staff["Demo Supervisor"].supervisor and not staff["Demo Advisor"].supervisor
    assert all(a.on_duty and a.phone.startswith("+447700900") for a in staff.values())
    assert Accounts(store, SEALER).verify("demo-advisor", seeded.password) is not None


def test_in_a_rehearsal_call_next_rings_nobody_and_the_outcome_can_be_recorded(make_app, store):
    app = make_app(at=MONDAY, rehearsal=True, cookie_secure=False)
    seeded = seed(app.extensions["helpline"], london(MONDAY))
    assert app.extensions["helpline"].twilio is None  # nothing could reach Twilio
    client = signed_in(app, ADVISOR[0], seeded.password)
    page = client.get("/console/").get_data(as_text=True)
    assert "Rehearsal: nothing here is real." in page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    client.post("/console/call-next", data={"csrf_token": token})
    page = client.get("/console/").get_data(as_text=True)
    assert "Rehearsal: your phone would ring now" in page
    assert CallbackQueue(store, SEALER).claimed_by("demo-advisor")


def test_a_live_console_has_no_rehearsal_banner(make_app, store):
    app = make_app(at=MONDAY, cookie_secure=False)
    add_advisor(store, "Alex", "+447400123456")
    assert "Rehearsal" not in signed_in(app, "Alex").get("/console/").get_data(as_text=True)


@pytest.fixture
def live_store(cli_env, store):
    """The live store, as `helpline` would find it from the environment (cli_env)."""
    return store


def test_a_rehearsal_runs_apart_from_the_live_store_and_leaves_nothing(live_store, tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "ivr", "demo", "--at", MONDAY, "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = []
        while not any("Ctrl-C" in line for line in said):
            line = demo.stdout.readline()
            assert line, "the rehearsal ended before it began:\n" + "".join(said)
            said.append(line)
        password = re.search(r"password (\S+)", "".join(said))[1]
        redis_servers = [
            p for p in psutil.Process(demo.pid).children(recursive=True) if "redis" in p.name()
        ]
        folder = next(
            part for p in redis_servers for part in p.cmdline() if "helpline-demo-" in part
        )

        jar = CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        login = browser.open(f"{base}/console/login").read().decode()
        assert "Rehearsal: nothing here is real." in login
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)[1]
        form = {"csrf_token": token, "name": "Demo Supervisor", "password": password}
        queue = browser.open(f"{base}/console/login", urlencode(form).encode()).read().decode()
        assert "Rehearsal: nothing here is real." in queue
        assert queue.count("•••") >= 3  # sample callers due now, masked

        assert list(CallbackQueue(live_store, SEALER).all()) == []  # the live store never saw them
        assert Accounts(live_store, SEALER).all() == []
    finally:
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=30)
    assert "The rehearsal has ended: everything in it is erased." in out
    deadline = time.monotonic() + 10
    while any(p.is_running() for p in redis_servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in redis_servers)
    assert not Path(folder.split("/redis")[0]).exists()


# ------------------------------------------------------------------ closed, and left behind


def test_a_rehearsal_that_starts_closed_says_so_and_how_to_start_it_open():
    """Found: `helpline demo` at night started closed and did not say so."""
    from ivr.content.flows import DEFAULT_DIR, load_flows
    from ivr.demo import closed_notice

    hours = load_flows(DEFAULT_DIR, london(MONDAY)).hours
    assert closed_notice(hours, london(MONDAY)) is None
    said = closed_notice(hours, london("2026-11-30T21:00"))
    assert said == (
        "The helpline is closed at this time (after closing): callers hear the closed "
        "menu and callbacks wait for the opening at 10:00 on Tuesday 1 December 2026. "
        "To rehearse it open, start it with --at 2026-12-01T11:00"
    )


def test_a_later_rehearsal_removes_the_folders_of_killed_ones(tmp_path):
    """Found: killed with kill -9, a rehearsal left its throw-away folder (Redis file and
    keys) in the temporary folder for good."""
    from ivr.demo import FOLDER_PREFIX, claim, remove_abandoned

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    killed = tmp_path / f"{FOLDER_PREFIX}killed"
    killed.mkdir()
    (killed / "redis.aof").write_text("sealed")
    (killed / "owner.pid").write_text(gone.stdout.strip())
    running = tmp_path / f"{FOLDER_PREFIX}running"
    running.mkdir()
    claim(running)  # this process: alive
    other = tmp_path / "helpline-something-else"
    other.mkdir()

    assert remove_abandoned(tmp_path) == [killed]
    assert not killed.exists() and running.exists() and other.exists()
