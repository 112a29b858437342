"""What the `helpline` command says to staff reads as words: dates and times in UK words, no
JSON unless asked for (--json), commands that work as printed, addresses that are real."""

from __future__ import annotations

import json
import re

import pytest

from ivr.cli import helpline_command
from ivr.store.queue import CallbackQueue
from tests.common import SEALER, add_advisor, london, request_callback

NUMBER = "+447400123456"
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|[+-]\d{2}:\d{2}\b")


@pytest.fixture
def waiting(store) -> str:
    """A callback asked for on Christmas Day, due at 10:00 on Tuesday 29 December."""
    return request_callback(
        CallbackQueue(store, SEALER),
        NUMBER,
        "sms",
        london("2026-12-25T11:00"),
        london("2026-12-29T10:00"),
    ).callback_id


def test_callbacks_show_reads_as_words(cli, waiting) -> None:
    result = cli("callbacks", "show", waiting)
    assert result.exit_code == 0, result.output
    assert not ISO.search(result.output), result.output
    assert not result.output.lstrip().startswith("{")
    assert "due Tuesday 29 December 2026 at 10:00" in result.output
    assert "asked Friday 25 December 2026 at 11:00" in result.output
    assert "***456" in result.output and NUMBER not in result.output


def test_callbacks_show_json_is_for_machines(cli, waiting) -> None:
    shown = json.loads(cli("callbacks", "show", waiting, "--json").output)
    assert shown["due"] == "2026-12-29T10:00:00+00:00"


def test_callbacks_list_reads_as_words(cli, waiting) -> None:
    output = cli("callbacks", "list").output
    assert "due Tuesday 29 December 2026 at 10:00" in output
    assert not ISO.search(output), output


def test_jobs_run_reads_as_words(cli, waiting) -> None:
    result = cli("jobs", "run", "opening", "--at", "2026-12-29T10:00", "--apply", "--yes")
    assert result.exit_code == 0, result.output
    assert "the helpline opened at 10:00 on Tuesday 29 December 2026" in result.output
    assert not ISO.search(result.output), result.output


def test_jobs_run_moving_a_callback_on_reads_as_words(cli, waiting) -> None:
    cli("jobs", "run", "opening", "--at", "2026-12-29T10:00", "--apply", "--yes")
    result = cli("jobs", "run", "tick", "--at", "2026-12-29T16:00")
    assert f"move {waiting} to its next slot, due Wednesday 30 December 2026 at 10:00" in (
        result.output
    )
    assert not ISO.search(result.output), result.output


def test_trust_device_without_a_public_address_says_which_setting(cli, store) -> None:
    add_advisor(store, "Alex")
    result = cli("advisors", "trust-device", "alex")
    assert result.exit_code == 0, result.output
    assert "HOST" not in result.output.split("/console/trust/")[0]
    assert re.search(r"^http://127\.0\.0\.1:5000/console/trust/\S+$", result.output, re.M)
    assert "set PUBLIC_BASE_URL" in result.output


def test_trust_device_prints_the_public_address(cli, store, monkeypatch) -> None:
    add_advisor(store, "Alex")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://helpline.example.org")
    result = cli("advisors", "trust-device", "alex")
    assert re.search(r"^https://helpline\.example\.org/console/trust/\S+$", result.output, re.M)
    assert "PUBLIC_BASE_URL" not in result.output


@pytest.mark.parametrize(
    ("argv0", "on_path", "said"),
    [
        ("/work/x/.venv/bin/helpline", None, ".venv/bin/helpline"),
        ("/work/x/.venv/bin/helpline", "/work/x/.venv/bin/helpline", "helpline"),
        ("/opt/app/bin/helpline", None, "/opt/app/bin/helpline"),
    ],
)
def test_the_command_is_printed_as_it_can_be_run(argv0, on_path, said) -> None:
    assert helpline_command(argv0, cwd="/work/x", on_path=on_path) == said


def test_data_show_reads_as_words(cli, waiting) -> None:
    result = cli("data", "show", NUMBER)
    assert result.exit_code == 0, result.output
    assert "due Tuesday 29 December 2026 at 10:00" in result.output
    assert not re.search(r"\d{4}-\d{2}-\d{2}", result.output), result.output
