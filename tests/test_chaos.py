"""The chaos run (bench/chaos.py, `make chaos`) in its two-minute form: `helpline run` under
signed traffic while web workers, the scheduler and Redis are killed, then every promise
checked. Its seed is printed, so a failure can be run again with CHAOS_SEED."""

from __future__ import annotations

import random
from pathlib import Path

from bench.chaos import UK_NUMBER, chaos, numbers_in_logs, report

SECONDS = 120
RATE = 20


def test_two_minutes_of_kills_keep_every_promise(tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    outcome = chaos(SECONDS, RATE, seed, tmp_path)
    text = "\n".join(report(outcome))
    print(text)
    assert outcome.failures == [], text
    assert outcome.kills["web worker"] and outcome.kills["scheduler"] and outcome.kills["redis"]
    assert outcome.sent == SECONDS * RATE
    assert outcome.released > 0  # the scheduler did release, while being killed
    assert outcome.stopped_clean


def test_the_log_check_finds_a_number_in_any_form(tmp_path: Path) -> None:
    logs = {
        "e164.log": "sms from +447400100001",
        "national.log": "sms from 07400100001",
        "spaced.log": "sms from 07400 100001 or +44 7400 100001",
        "encoded.log": "From=%2B447400100001",
        "bare.log": "from 447400100001",
        "masked.log": "sms from ***001 at 2026-11-30T10:05:00+00:00 (pid 1764500000)",
        "hint.log": 'No advisors yet: helpline advisors add NAME --phone "07400 123456"',
    }
    for name, text in logs.items():
        (tmp_path / name).write_text(text)

    found = numbers_in_logs(tmp_path, {"+447400100001"})

    # the app's own example number in a hint is nobody's
    assert {name for name, hits in found.items() if hits} == set(logs) - {"masked.log", "hint.log"}
    assert not UK_NUMBER.search(logs["masked.log"])


def test_each_run_replaces_only_its_own_section_of_the_results(tmp_path: Path) -> None:
    from bench import results

    path = tmp_path / "RESULTS.md"
    results.write_bench("# Benchmark results\n\n## Opening hours\n\nfast\n", path)
    results.write_chaos("## Chaos run\n\nfirst run", path)
    results.write_chaos("## Chaos run\n\nsecond run", path)
    assert path.read_text().count("## Chaos run") == 1
    assert "second run" in path.read_text() and "first run" not in path.read_text()

    results.write_bench("# Benchmark results\n\n## Opening hours\n\nfaster\n", path)

    assert path.read_text() == (
        "# Benchmark results\n\n## Opening hours\n\nfaster\n\n## Chaos run\n\nsecond run\n"
    )
