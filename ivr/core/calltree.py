"""The call tree's decisions, as plain functions on plain data (no Flask, no TwiML).

voice.py turns these decisions into TwiML; keeping them here makes every branch testable
and keeps the web layer thin.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.core.crisis import SAFETY, CrisisWords, Spotted, spot, words_of

MAX_TRIES = 3
STEP_COUNT = 5
PAGES = tuple(f"step{n}" for n in range(1, STEP_COUNT + 1)) + ("police", "support")
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")


@dataclass(frozen=True)
class Option:
    """One choice in a menu: the key, or any of the words, picks it."""

    key: str
    action: str
    prompt: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    title: str
    words: tuple[str, ...]


def normalise_speech(speech: str | None) -> str:
    """Lower case, letters and digits only, single spaces: "Advisor, please." -> "advisor
    please"."""
    return " ".join(_NOT_WORD.sub(" ", (speech or "").lower()).split())


def _spans(tokens: Sequence[str], words: Sequence[str]) -> list[range]:
    """Where `words` stand, whole, in `tokens`."""
    n = len(words)
    return [
        range(i, i + n)
        for i in range(len(tokens) - n + 1)
        if n and list(tokens[i : i + n]) == list(words)
    ]


# Said before a key to name it ("option 2", "press 1"); and words a caller may put around a
# choice without changing it ("mornings please", "yes that's fine").
KEY_LEAD = frozenset({"option", "number", "press", "key", "choose"})
COURTESY = frozenset(
    {"please", "thanks", "thank", "you", "the", "in", "a", "an", "yes", "yeah", "ok", "okay"}
    | {"and", "but", "am"}
    | {"that", "is", "fine", "i", "think", "would", "be", "best", "prefer", "like", "just"}
)


def key_spoken(tokens: Sequence[str]) -> bool:
    """A number is taken for a key only when it is all the caller said ("2", "option 2"):
    in a sentence numbers are times and counts ("no, after 1", "about 2 p.m.")."""
    said = [t for t in tokens if t and t not in KEY_LEAD]
    return len(said) == 1 and said[0].isdigit()


def _covered(option: Option, tokens: Sequence[str], keys: bool) -> list[range]:
    phrases = (option.key, *option.words) if keys else option.words
    return [span for phrase in phrases for span in _spans(tokens, words_of(phrase))]


def _score(option: Option, tokens: Sequence[str], keys: bool) -> tuple[int, int]:
    """How well `option` matches: how many spoken words its key (when spoken alone) and
    words account for, then how late its match ends (people ask for what they want last:
    "talk to the police")."""
    spans = _covered(option, tokens, keys)
    covered = {i for span in spans for i in span}
    return len(covered), max((span.stop for span in spans), default=0)


def only_chose(option: Option, speech: str | None, crisis: CrisisWords | None = None) -> bool:
    """Whether the caller said nothing but `option`, COURTESY words and words of danger,
    despair or help (answered on their own: "yes but I'm frightened"). Where a few more
    words change the meaning ("not in the afternoon", "any time after 2", "no, only when
    he's out"), an answer counts only when nothing else was said: else the question is
    asked again, never guessed."""
    said = words_of(speech, crisis.fillers if crisis else ())
    spotted = spot(crisis, said) if crisis else Spotted()
    tokens = ["" if i in spotted.at else token for i, token in enumerate(said)]
    covered = {i for span in _covered(option, tokens, key_spoken(tokens)) for i in span}
    return bool(covered) and all(
        i in covered or not t or t in COURTESY or t in KEY_LEAD for i, t in enumerate(tokens)
    )


@dataclass(frozen=True)
class Heard:
    """What a caller chose at a prompt, and what their words said about their safety: the
    classes of crisis.py heard (danger, despair, help)."""

    option: Option | None
    said: frozenset[str] = frozenset()

    @property
    def safety(self) -> bool:
        """Danger or despair: answered first, whatever else was asked."""
        return bool(self.said & set(SAFETY))

    @property
    def answered(self) -> bool:
        """Words that get an answer of their own (never "not an option")."""
        return bool(self.said)


def hear(
    options: Sequence[Option],
    digits: str | None,
    speech: str | None,
    crisis: CrisisWords | None = None,
) -> Heard:
    """The option chosen by key (the first key pressed: a one-key menu can't tell 9 from
    999) or by voice: the one that matches best ("can someone call me back" is the callback,
    not "someone" to talk to; on a perfect tie, the one listed first). Words of danger,
    despair or asking for help (`crisis`) are heard as well, and are not taken for an
    option ("nine nine nine" is not 9)."""
    key = (digits or "").strip()[:1]
    if key:
        return Heard(next((o for o in options if o.key == key), None))
    tokens = words_of(speech, crisis.fillers if crisis else ())
    spotted = spot(crisis, tokens) if crisis else Spotted()
    rest = ["" if i in spotted.at else token for i, token in enumerate(tokens)]
    keys = key_spoken(rest)
    scored = [(_score(o, rest, keys), -i, o) for i, o in enumerate(options)]
    best = max(scored, default=None, key=lambda s: s[:2])
    return Heard(best[2] if best and best[0][0] else None, spotted.classes)


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


def parse_part(value: str | None, parts: int) -> int:
    """Which part of a page (1 to `parts`) a query string asks for; junk is the first."""
    try:
        return min(max(int(value or 1), 1), parts)
    except ValueError:
        return 1


@dataclass(frozen=True)
class Move:
    """Where a choice on an advice page leads: a part of a page, or the main menu."""

    page: str | None  # None: the main menu
    part: int = 1
    last_step_done: bool = False


def menu_options(own: Sequence[Option], navigation: Mapping[str, Option]) -> tuple[Option, ...]:
    """A menu's or a question's own options, then "repeat" and "main menu" (both of which say
    the main menu again when heard there)."""
    return (*own, navigation["repeat"], navigation["menu"])


def _before(page: str, part: int, parts: Mapping[str, int]) -> Move:
    """The part heard before this one: the previous part, the previous step's last, or
    (before the first) the main menu the caller came from."""
    n = step_number(page)
    if part > 1:
        return Move(page, part - 1)
    if n is not None and n > 1:
        return Move(f"step{n - 1}", parts[f"step{n - 1}"])
    return Move(None)


def _after(page: str, part: int, parts: Mapping[str, int]) -> Move:
    """The part heard after this one: the next part, the next step, or after the last step
    (or the last part of the police or support page) the main menu."""
    n = step_number(page)
    if part < parts[page]:
        return Move(page, part + 1)
    if n is not None:
        return Move(f"step{n + 1}") if n < STEP_COUNT else Move(None, last_step_done=True)
    return Move(None)


def page_options(
    page: str,
    part: int,
    parts: Mapping[str, int],
    navigation: Mapping[str, Option],
    steps: Sequence[Option],
) -> tuple[Option, ...]:
    """What can be chosen on a part of an advice page: every navigation key (back and on
    lead to the main menu where the page begins or ends), and on the steps, a step by its
    number."""
    own = steps if step_number(page) is not None else ()
    return (
        navigation["previous"],
        navigation["next"],
        navigation["repeat"],
        navigation["menu"],
        *own,
    )


def page_prompts(
    page: str, part: int, parts: Mapping[str, int], navigation: Mapping[str, Option]
) -> tuple[Option, ...]:
    """The navigation keys worth saying on a part: back and on only where there is another
    part or step (they are still accepted elsewhere, leading to the main menu)."""
    n = step_number(page)
    back = part > 1 or (n is not None and n > 1)
    on = part < parts[page] or n is not None
    return (
        *((navigation["previous"],) if back else ()),
        *((navigation["next"],) if on else ()),
        navigation["repeat"],
        navigation["menu"],
    )


def continues_by_itself(page: str, part: int, parts: Mapping[str, int]) -> bool:
    """A part with more of the same page after it goes on to it at a short pause."""
    return part < parts[page]


def after_silence(page: str, part: int, parts: Mapping[str, int]) -> Move:
    """Where silence on a part leads: on, as the "next" key does (the next part, the next
    step; after the fifth step, or the end of the police or support page, the main menu).
    Silence on a page that reads content is never a wrong try: a caller hears all five
    steps by just listening."""
    return _after(page, part, parts)


def navigate(page: str, part: int, parts: Mapping[str, int], choice: Option) -> Move:
    """Follow a choice made on a part of a page (an Option from page_options)."""
    if choice.action == "menu":
        return Move(None)
    if choice.action == "previous":
        return _before(page, part, parts)
    if choice.action == "next":
        return _after(page, part, parts)
    if choice.action == "repeat":
        return Move(page, part)
    return Move(choice.action)  # a step picked by its number: action is "stepN"


def step_choices(steps: Sequence[Step]) -> tuple[Option, ...]:
    """Options that pick a step by its number (key "1" to "5") or its words."""
    return tuple(
        Option(str(i), f"step{i}", step.title, step.words) for i, step in enumerate(steps, start=1)
    )
