"""What staff run: `helpline jobs run` (one scheduler job, dry run unless told) and
`helpline hours` (what callers hear, a supervisor's closure included), against the test
Redis as an operator configures it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from ivr.core.phone import mask
from ivr.store.closures import close_line
from ivr.store.queue import CallbackQueue
from tests.common import (
    ACCOUNT_SID,
    SEALER,
    TOKEN,
    add_advisor,
    flows_with,
    london,
    request_callback,
)

ME = "+447400123456"
ROOT = Path(__file__).resolve().parent.parent


def scheduled(store) -> str:
    """A callback asked for on Sunday, due at Monday's opening; its id."""
    return request_callback(
        CallbackQueue(store, SEALER),
        ME,
        "sms",
        london("2026-11-29T12:00"),
        london("2026-11-30T10:00"),
    ).callback_id


# ------------------------------------------------------------------ helpline jobs run


def test_without_apply_a_job_only_says_what_it_would_do(cli, store):
    callback_id = scheduled(store)
    before = {k: store.type(k) for k in store.keys("*")}

    result = cli("jobs", "run", "opening", "--at", "2026-11-30T10:00")

    assert result.exit_code == 0, result.output
    assert "would run (dry run" in result.output
    assert f"release 1 callback: {callback_id}" in result.output
    assert CallbackQueue(store, SEALER).get(callback_id).status == "scheduled"
    assert {k: store.type(k) for k in store.keys("*")} == before


def test_apply_at_another_instant_asks_for_yes_after_saying_what_it_would_change(cli, store):
    callback_id = scheduled(store)
    before = {k: store.type(k) for k in store.keys("*")}

    result = cli("jobs", "run", "opening", "--at", "2026-11-30T10:00", "--apply")

    assert result.exit_code != 0
    assert {k: store.type(k) for k in store.keys("*")} == before
    assert f"release 1 callback: {callback_id}" in result.output
    assert "add --yes to apply" in result.output
    assert CallbackQueue(store, SEALER).get(callback_id).status == "scheduled"


def test_apply_with_yes_runs_the_job_as_the_scheduler_would(cli, store):
    callback_id = scheduled(store)

    result = cli("jobs", "run", "opening", "--at", "2026-11-30T10:00", "--apply", "--yes")

    assert result.exit_code == 0, result.output
    assert "ran" in result.output.splitlines()[0]
    assert CallbackQueue(store, SEALER).get(callback_id).status == "due"
    again = cli("jobs", "run", "opening", "--at", "2026-11-30T10:01", "--apply", "--yes")
    assert "the helpline opened" not in again.output  # once per opening


def test_a_job_for_another_instant_prints_texts_instead_of_sending_them(
    cli, store, monkeypatch, prism
):
    add_advisor(store, "Alex", "+447400000111", on_duty=True)
    scheduled(store)
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # nothing may reach it
        "HELPLINE_NUMBER": "+441234567890",
        "PUBLIC_BASE_URL": "https://helpline.example.org",
    }.items():
        monkeypatch.setenv(name, value)

    result = cli("jobs", "run", "opening", "--at", "2026-11-30T10:00", "--apply", "--yes")

    assert result.exit_code == 0, result.output
    assert (
        f"would text {mask('+447400000111')}: Good morning. 1 waiting for a call back, "
        "0 for the last day, 0 overdue: https://helpline.example.org/console/"
    ) in result.output


def test_the_nightly_job_reports_what_it_counts_and_expires(cli, store):
    callback_id = scheduled(store)
    cli("jobs", "run", "opening", "--at", "2026-11-30T10:00", "--apply", "--yes")
    cli("jobs", "run", "tick", "--at", "2026-11-30T16:00", "--apply", "--yes")

    result = cli("jobs", "run", "nightly", "--at", "2026-12-01T02:30")

    assert f"count {callback_id}: 1 of 5 opening days missed" in result.output
    assert CallbackQueue(store, SEALER).get(callback_id).count.missed == 0  # a dry run


# ------------------------------------------------------------------ helpline hours


def hours_json(cli, *args: str, flows: Path | None = None) -> dict:
    result = cli("hours", "--json", *args, flows=flows)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_hours_says_what_callers_hear_during_a_supervisors_closure(cli, store):
    """Found: `helpline hours` said "open" during a supervisor's closure while callers
    heard "closed"."""
    close_line(store, "We are closed for training.", None)
    at = "2026-11-25T11:00"

    status = hours_json(cli, "--at", at)
    assert (status["open"], status["applies"], status["store"]) == (False, "supervisor", "read")
    assert status["reason"] == {"kind": "closure", "text": "We are closed for training."}
    assert status["next_opening"] is None  # nobody has said when: no time is invented

    calendar = hours_json(cli, "--at", at, "--ignore-override")
    assert (calendar["open"], calendar["applies"], calendar["store"]) == (
        True,
        "calendar",
        "ignored",
    )
    text = cli("hours", "--at", at).output
    assert "closed by a supervisor" in text
    assert "when a supervisor reopens the line" in text


def test_hours_without_a_closure_follows_the_calendar(cli, store):
    status = hours_json(cli, "--at", "2026-11-25T11:00")
    assert (status["open"], status["applies"], status["store"]) == (True, "calendar", "read")
    assert "no supervisor's closure is set" in cli("hours", "--at", "2026-11-25T11:00").output


def test_hours_names_a_closure_from_hours_toml(cli, tmp_path):
    flows = flows_with(
        tmp_path,
        "[[closures]]\nfrom = 2026-12-24\nto = 2027-01-01\n"
        'message = "Closed for the Christmas holidays."\n',
    )
    status = hours_json(cli, "--at", "2026-12-29T11:00", flows=flows)
    assert status["reason"] == {"kind": "closure", "text": "Closed for the Christmas holidays."}


def redis_servers(data_dir: Path) -> set[int]:
    """Running redis-server processes of this data folder (a zombie has stopped)."""
    return {
        p.pid
        for p in psutil.process_iter(["name", "status", "cmdline"])
        if p.info["name"] == "redis-server"
        and p.info["status"] != psutil.STATUS_ZOMBIE
        and any(str(data_dir) in part for part in p.info["cmdline"] or [])
    }


def test_hours_stops_the_embedded_redis_it_started(tmp_path):
    """`helpline hours` on a data folder nobody is using starts its embedded Redis to read a
    supervisor's closure; it stops it again before it exits."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HELPLINE_FLOWS_DIR")}
    env["HELPLINE_DATA_DIR"] = str(tmp_path / "data")

    for args in (["hours", "--json"], ["jobs", "run", "tick"]):
        done = subprocess.run(
            [sys.executable, "-m", "ivr", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert redis_servers(tmp_path / "data") == set(), args
    assert (
        json.loads(
            subprocess.run(
                [sys.executable, "-m", "ivr", "hours", "--json"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout
        )["store"]
        == "read"
    )


def test_check_warns_that_the_old_expiry_setting_is_no_longer_used(cli, monkeypatch):
    monkeypatch.setenv("CALLBACK_EXPIRY_DAYS", "7")
    result = cli("check")
    assert (
        "CALLBACK_EXPIRY_DAYS is no longer used: set CALLBACK_EXPIRY_OPENING_DAYS" in result.output
    )


def test_a_voice_safe_time_outside_the_hours_stops_start_up(cli, tmp_path):
    flows = flows_with(tmp_path, "")
    voice = flows / "voice.toml"
    voice.write_text(voice.read_text().replace('earliest = "12:00"', 'earliest = "18:00"'))
    result = cli("check", flows=flows)
    assert result.exit_code != 0
    assert "this safe time is never inside the usual week" in result.output
    assert f"{voice}:" in result.output
