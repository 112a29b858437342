"""Issue 19, §1: danger, despair and "help", heard at every listening point in the caller's
own words. The finding: "I want to kill myself" at the menu was "not one of the options".
Walks go through `helpline simulate call` (the CLI, in process); expected words come from
the loaded flows (voice.toml, safety.toml)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, load_flows
from tests.common import cli_lines, london

pytestmark = pytest.mark.usefixtures("cli_env")

IN_HOURS, EVENING = "2026-12-08T11:00", "2026-12-08T20:00"  # a Tuesday
ME = "+447400123456"
CONTENT = load_flows(DEFAULT_DIR, london(IN_HOURS)).voice
INVALID, NO_INPUT = CONTENT.invalid, CONTENT.no_input
NINE = "9 9 9"
SAMARITANS = "1 1 6, 1 2 3"

# (a page, the caller, the keys that lead there)
PAGES = [
    ("the menu", ME, []),
    ("the steps page", ME, ["2"]),
    ("the callback-number page", "anonymous", ["5"]),
]
# (what the caller says, a line they must hear at once)
FINDINGS = [
    ("I want to kill myself", SAMARITANS),
    ("he's outside the door", NINE),
    ("help me", None),
    ("he has a knife", NINE),
    ("please help me he is here", NINE),
    ("suicide", SAMARITANS),
    ("dw i eisiau lladd fy hun", SAMARITANS),
]


def simulate(at: str, caller: str, *inputs: tuple[str, str]) -> Result:
    args = ["simulate", "call", "--at", at, "--from", caller]
    for option, value in inputs:
        args += [option, value]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def answer_to(result: Result, said: str) -> list[str]:
    """What the caller hears after saying `said`, up to their next move."""
    lines = cli_lines(result)
    after = lines[lines.index(f"SAYS: {said}") + 1 :]
    heard = []
    for line in after:
        if not line.startswith("HEARS: "):
            break
        heard.append(line.removeprefix("HEARS: "))
    return heard


@pytest.mark.parametrize("at", [IN_HOURS, EVENING])
@pytest.mark.parametrize(("page", "caller", "keys"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize(("words", "must_hear"), FINDINGS, ids=[f[0] for f in FINDINGS])
def test_danger_despair_and_help_are_never_not_an_option(
    at: str, page: str, caller: str, keys: list[str], words: str, must_hear: str | None
) -> None:
    result = simulate(at, caller, *[("--press", k) for k in keys], ("--say", words))
    heard = answer_to(result, words)
    assert heard, page
    assert INVALID not in heard and NO_INPUT not in heard, (page, heard)
    assert not [line for line in cli_lines(result) if line.startswith("NOT HEARD")], page
    if must_hear is not None:  # the safety answer first: before anything else is said
        assert must_hear in heard[0] or must_hear in heard[1], (page, heard[:2])
    if at == EVENING and must_hear is None:  # out of hours, "help" hears what is open now
        assert any(NINE in line for line in heard), (page, heard)
        assert any(SAMARITANS in line for line in heard), (page, heard)
