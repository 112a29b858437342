"""`helpline simulate call`: staff hear exactly what a caller would, at any instant, before it
goes live. Expected words come from the loaded flows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, VoiceContent, load_flows
from tests.common import cli_heard, cli_lines

ADVISORS = "+442079460001,+442079460002"
IN_HOURS, CHRISTMAS = "2026-11-25T11:00", "2026-12-25T11:00"


# A clean environment (no token, no advisors) and the (emptied) test Redis, as conftest's
# cli_env gives the `helpline` command.
pytestmark = pytest.mark.usefixtures("cli_env")


@pytest.fixture(scope="module")
def content() -> VoiceContent:
    return load_flows(DEFAULT_DIR, datetime.now(UTC)).voice


def simulate(*args: str) -> Result:
    result = CliRunner().invoke(main, ["simulate", "call", *args])
    assert result.exit_code == 0, result.output
    return result


def test_christmas_day_is_heard_before_it_happens(content: VoiceContent) -> None:
    result = simulate("--at", CHRISTMAS)
    assert result.stdout.splitlines()[0] == "Call at Friday 25 December 2026 11:00 GMT"
    said = cli_heard(result)
    assert content.safety in said and "9 9 9" in content.safety
    assert any("Christmas Day" in line for line in said)
    assert said.index(content.safety) < said.index(content.closed_options[0].prompt)
    assert cli_lines(result)[-1].startswith("CALL ENDS")  # no keys left: the caller hangs up


def test_pressing_keys_walks_the_steps(content: VoiceContent) -> None:
    nav = content.navigation
    result = simulate(
        "--at",
        CHRISTMAS,
        "--press",
        "2",
        "--press",
        "4",
        "--press",
        nav["next"].key,
        "--press",
        nav["previous"].key,
        "--press",
        nav["menu"].key,
    )
    titles = [line for line in cli_heard(result) if line in {s.title for s in content.steps}]
    assert titles == [content.steps[i].title for i in (0, 3, 4, 3)]
    presses = [line for line in cli_lines(result) if line.startswith("PRESSES")]
    assert presses == [
        "PRESSES: 2",
        "PRESSES: 4",
        f"PRESSES: {nav['next'].key}",
        f"PRESSES: {nav['previous'].key}",
        f"PRESSES: {nav['menu'].key}",
    ]
    prompts = [
        *(o.prompt for o in content.closed_options),
        content.navigation["repeat"].prompt,
        content.closed_text_us,
    ]
    assert cli_heard(result)[-len(prompts) :] == prompts


def test_json_gives_the_instant_and_every_event(content: VoiceContent) -> None:
    result = simulate("--at", CHRISTMAS, "--press", "3", "--json")
    data = json.loads(result.stdout)
    assert data["at"] == "2026-12-25T11:00:00+00:00"
    events = data["events"]
    assert {"type": "say", "text": content.safety} in events
    assert {"type": "press", "text": "3"} in events
    assert events[0]["type"] == "say"
    assert events.index({"type": "press", "text": "3"}) < events.index(
        {"type": "say", "text": content.police[0]}
    )
    assert events[-1]["type"] == "hangup"
    assert {e["type"] for e in events} <= {"say", "press", "silence", "dial", "hangup"}


def test_in_hours_the_advisors_ring_and_nobody_answers(monkeypatch, content: VoiceContent) -> None:
    monkeypatch.setenv("ADVISOR_NUMBERS", ADVISORS)
    result = simulate("--at", IN_HOURS, "--press", "1", "--dial-status", "no-answer")
    rings = [line for line in cli_lines(result) if line.startswith("RINGS: ")]
    # one at a time (docs/take-next.md), numbers masked, even here
    assert rings == ["RINGS: ***001 (no-answer)", "RINGS: ***002 (no-answer)"]
    said = cli_heard(result)
    assert said.index(content.advisor["connecting"]) < said.index(content.advisor["unavailable"])
    prompts = [*(o.prompt for o in content.closed_options), content.navigation["repeat"].prompt]
    assert said[-len(prompts) - 1 : -1] == prompts


def test_in_hours_an_advisor_answers(monkeypatch, content: VoiceContent) -> None:
    monkeypatch.setenv("ADVISOR_NUMBERS", ADVISORS)
    result = simulate("--at", IN_HOURS, "--press", "1", "--dial-status", "completed")
    assert "RINGS: ***001 (completed)" in cli_lines(result)
    assert cli_heard(result)[-len(content.goodbye) :] == list(content.goodbye)
    assert cli_lines(result)[-1] == "CALL ENDS"


def test_in_hours_without_advisors_nothing_rings(content: VoiceContent) -> None:
    result = simulate("--at", IN_HOURS, "--press", "1")
    assert not [line for line in cli_lines(result) if line.startswith("RINGS")]
    assert content.advisor["unavailable"] in cli_heard(result)


def test_three_silences_end_the_call_with_goodbye(content: VoiceContent) -> None:
    result = simulate("--at", IN_HOURS, "--press", "-", "--press", "-", "--press", "-")
    assert cli_lines(result).count("SAYS NOTHING") == 3
    assert cli_heard(result)[-1 - len(content.gave_up) :] == [
        content.safety,
        *content.gave_up,
    ]
    assert cli_lines(result)[-1] == "CALL ENDS"


def test_a_withheld_caller_can_be_simulated(content: VoiceContent) -> None:
    result = simulate("--at", IN_HOURS, "--from", "anonymous", "--press", "4")
    assert content.support[0] in cli_heard(result)


def test_a_signed_simulation_still_gets_through(monkeypatch, content: VoiceContent) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://helpline.example.org")
    result = simulate("--at", IN_HOURS, "--press", "3")
    assert not [line for line in cli_lines(result) if line.startswith("ERROR")]
    assert content.police[0] in cli_heard(result)


def test_a_bad_instant_is_refused_with_an_example() -> None:
    result = CliRunner().invoke(main, ["simulate", "call", "--at", "Christmas"])
    assert result.exit_code == 2
    assert "2026-12-25T11:00" in result.output


def test_say_and_press_are_taken_in_the_order_given(content: VoiceContent) -> None:
    result = simulate(
        "--at", CHRISTMAS, "--press", "3", "--say", "main menu", "--say", "advice", "--press", "-"
    )
    acts = [line for line in cli_lines(result) if line.startswith(("PRESSES", "SAYS", "NOT HEARD"))]
    assert acts == ["PRESSES: 3", "SAYS: main menu", "SAYS: advice", "SAYS NOTHING"]
    said = cli_heard(result)
    assert said.index(content.police[0]) < said.index(content.steps[0].title)


def test_speech_at_the_number_question_asks_for_the_number_to_be_keyed_in(
    content: VoiceContent,
) -> None:
    """The callback number is keyed in; speech is heard there for the words of danger,
    despair and help (issue 19), and other words are asked to be keyed in instead."""
    result = simulate(
        "--at", IN_HOURS, "--from", "anonymous", "--press", "5", "--say", "oh seven seven hundred"
    )
    events = cli_lines(result)
    said_at = events.index("SAYS: oh seven seven hundred")
    assert events[said_at + 1] == f"HEARS: {content.callback['key_it_in']}"
    assert cli_heard(result).count(content.callback["ask_number"]) == 2
