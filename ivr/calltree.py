"""The call tree's decisions, as plain functions on plain data (no Flask, no TwiML).

voice.py turns these decisions into TwiML; keeping them here makes every branch testable
and keeps the web layer thin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.flows import STEP_COUNT, Option, Step

MAX_TRIES = 3
PAGES = tuple(f"step{n}" for n in range(1, STEP_COUNT + 1)) + ("police", "support")
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")


def normalise_speech(speech: str | None) -> str:
    """Lower case, letters and digits only, single spaces: "Advisor, please." -> "advisor
    please"."""
    return " ".join(_NOT_WORD.sub(" ", (speech or "").lower()).split())


def _says(spoken: str, phrase: str) -> bool:
    return f" {phrase} " in f" {spoken} "


def match(options: Sequence[Option], digits: str | None, speech: str | None) -> Option | None:
    """The option the caller chose by key (first key pressed) or by voice, if any."""
    key = (digits or "").strip()[:1]
    if key:
        return next((o for o in options if o.key == key), None)
    spoken = normalise_speech(speech)
    if not spoken:
        return None
    for option in options:
        if _says(spoken, option.key) or any(_says(spoken, word) for word in option.words):
            return option
    return None


def heard_nothing(digits: str | None, speech: str | None) -> bool:
    return not (digits or "").strip() and not normalise_speech(speech)


def should_give_up(tries: int) -> bool:
    """After MAX_TRIES prompts with no valid choice the call ends kindly, never loops."""
    return tries >= MAX_TRIES


def parse_tries(value: str | None) -> int:
    """The retry count from a query string; junk counts as the first try."""
    try:
        return min(max(int(value or 0), 0), MAX_TRIES)
    except ValueError:
        return 0


def is_page(name: str) -> bool:
    return name in PAGES


def step_number(page: str) -> int | None:
    return int(page[4:]) if page.startswith("step") else None


@dataclass(frozen=True)
class Move:
    """Where a choice on an advice page leads: another page, or the main menu."""

    page: str | None  # None: the main menu
    last_step_done: bool = False


def page_options(page: str, navigation: Mapping[str, Option],
                 steps: Sequence[Option]) -> tuple[Option, ...]:
    """What can be pressed on a page: steps get previous/repeat/next/menu and 1 to 5;
    the police and support pages get repeat and menu."""
    if step_number(page) is None:
        return (navigation["repeat"], navigation["menu"])
    return (navigation["previous"], navigation["repeat"], navigation["next"],
            navigation["menu"], *steps)


def navigate(page: str, choice: Option) -> Move:
    """Follow a choice made on `page` (an Option from page_options)."""
    n = step_number(page)
    if choice.action == "menu":
        return Move(None)
    if choice.action == "repeat" or n is None:
        return Move(page)
    if choice.action == "previous":
        return Move(f"step{max(n - 1, 1)}")
    if choice.action == "next":
        return Move(f"step{n + 1}") if n < STEP_COUNT else Move(None, last_step_done=True)
    return Move(choice.action)  # a step picked by its number: action is "stepN"


def step_choices(steps: Sequence[Step]) -> tuple[Option, ...]:
    """Options that pick a step by its number (key "1" to "5") or its words."""
    return tuple(Option(str(i), f"step{i}", step.title, step.words)
                 for i, step in enumerate(steps, start=1))
