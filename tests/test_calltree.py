"""The call tree's decisions as plain functions: which option a caller chose, how many tries
are left, and where each choice on an advice page leads."""

from __future__ import annotations

import pytest

from ivr.core import calltree
from ivr.core.calltree import Move, Option, Step
from ivr.core.crisis import CrisisWords, Phrase

MENU = (
    Option("1", "advisor", "To speak to an advisor, press 1.", ("advisor", "talk", "someone")),
    Option("2", "steps", "For advice, press 2.", ("advice", "steps")),
    Option("3", "police", "For the police, press 3.", ("police", "report")),
    Option("9", "repeat", "To hear these again, press 9.", ("repeat", "again")),
)
NAVIGATION = {
    "previous": Option("7", "previous", "Previous, press 7.", ("previous", "back")),
    "repeat": Option("9", "repeat", "Again, press 9.", ("repeat", "again")),
    "next": Option("8", "next", "Next, press 8.", ("next", "continue")),
    "menu": Option("0", "menu", "Menu, press 0.", ("menu", "main")),
}
STEPS = tuple(
    Step(f"Step {n}.", (word,))
    for n, word in enumerate(["one", "two", "three", "four", "more support"], 1)
)


def chosen(digits: str | None, speech: str | None) -> str | None:
    option = calltree.hear(MENU, digits, speech).option
    return option.action if option else None


@pytest.mark.parametrize(
    ("digits", "action"),
    [
        ("1", "advisor"),
        ("2", "steps"),
        ("3", "police"),
        ("9", "repeat"),
        (" 3 ", "police"),  # stray spaces
        ("31", "police"),  # only the first key counts
        ("13", "advisor"),
        ("4", None),
        ("0", None),
        ("*", None),
        ("#", None),
        ("x", None),
    ],
)
def test_match_by_key(digits: str, action: str | None) -> None:
    assert chosen(digits, None) == action


def test_a_key_wins_over_speech() -> None:
    assert chosen("3", "I want to talk to an advisor") == "police"
    assert chosen("4", "police") is None  # a wrong key is wrong, whatever was said


@pytest.mark.parametrize(
    ("speech", "action"),
    [
        ("advisor", "advisor"),
        ("I want to talk to someone", "advisor"),
        ("Advisor, please.", "advisor"),
        ("POLICE!", "police"),
        ("how do I report it", "police"),
        ("one", None),  # the key's digit said as a word is not the key
        ("1", "advisor"),  # but the key itself, transcribed as a digit, is
        ("press 3", "police"),
        ("policeman", None),  # whole words only
        ("talking", None),
        ("", None),
        ("   ", None),
        ("?!", None),
        (None, None),
    ],
)
def test_match_by_speech(speech: str | None, action: str | None) -> None:
    assert chosen("", speech) == action
    assert chosen(None, speech) == action


@pytest.mark.parametrize(
    ("speech", "action"),
    [
        ("talk to the police", "police"),  # as many words each: the one asked for last
        ("the police, or someone to talk to", "advisor"),
        ("talk to someone about the police", "advisor"),  # more of what was said
        ("again", "repeat"),
    ],
)
def test_speech_picks_the_option_that_matches_best(speech: str, action: str) -> None:
    assert chosen("", speech) == action


def test_on_a_perfect_tie_the_first_listed_option_wins() -> None:
    twins = (Option("1", "first", "One.", ("same",)), Option("2", "second", "Two.", ("same",)))
    assert calltree.hear(twins, "", "the same").option.action == "first"


def test_a_phrase_of_several_words_must_be_said_whole() -> None:
    options = (Option("5", "support", "For more support, press 5.", ("more support",)),)
    assert calltree.hear(options, "", "I need more support please").option == options[0]
    assert calltree.hear(options, "", "more please, I need support").option is None


DANGER = CrisisWords(
    {
        "danger": tuple(
            Phrase.parse(p) for p in ("emergency", "nine nine nine", "112", "in danger", "scared")
        ),
        "despair": (Phrase.parse("kill* myself"),),
        "help": (Phrase.parse("help"),),
    },
    frozenset({"um"}),
)


@pytest.mark.parametrize(
    ("speech", "danger", "action"),
    [
        ("emergency", True, None),
        ("999", True, None),
        ("9 9 9", True, None),  # not the 9 key
        ("nine nine nine", True, None),
        ("Nine-nine-nine!", True, None),
        ("99 9", True, None),
        ("one one two", True, None),
        ("I'm scared, I want advice", True, "steps"),
        ("I am in danger, talk to someone", True, "advisor"),
        ("police, it's an emergency", True, "police"),
        ("9999", False, None),  # not 999
        ("help me report it", False, "police"),  # "help" is no danger: the option asked for
        ("help", False, None),
        ("um I want to kill myself", True, None),
        ("I'm killing myself, I need advice", True, "steps"),
        ("scarecrow", False, None),  # whole words only
        ("danger", False, None),  # only the phrase "in danger" (in this test's list)
        ("", False, None),
        (None, False, None),
    ],
)
def test_danger_is_heard_and_the_option_asked_for_too(speech, danger: bool, action) -> None:
    heard = calltree.hear(MENU, None, speech, DANGER)
    assert heard.safety is danger
    assert (heard.option.action if heard.option else None) == action


def test_a_key_pressed_is_never_danger() -> None:
    """A one-key menu can't tell 9 from 999: it takes the first key, at once."""
    assert calltree.hear(MENU, "999", None, DANGER) == calltree.Heard(MENU[3])


@pytest.mark.parametrize(
    ("speech", "normal"),
    [
        ("Advisor, please.", "advisor please"),
        ("  TALK   to\tsomeone\n", "talk to someone"),
        ("It's 9 o'clock", "it s 9 o clock"),
        ("café ☎ 😀", "caf"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_speech(speech: str | None, normal: str) -> None:
    assert calltree.normalise_speech(speech) == normal


@pytest.mark.parametrize(
    ("digits", "speech", "nothing"),
    [
        ("", "", True),
        (None, None, True),
        (" ", "...", True),
        ("1", "", False),
        ("", "hello", False),
        ("*", None, False),
    ],
)
def test_heard_nothing(digits, speech, nothing: bool) -> None:
    assert calltree.heard_nothing(digits, speech) is nothing


@pytest.mark.parametrize(
    ("value", "tries"),
    [
        ("0", 0),
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("4", 3),
        ("999999", 3),  # never more than MAX_TRIES
        ("-5", 0),
        ("abc", 0),
        ("", 0),
        (None, 0),
        ("1.5", 0),
        ("0x2", 0),
        ("9" * 5000, 0),  # longer than Python will turn into an int
        (" 2 ", 2),
    ],
)
def test_parse_tries_treats_junk_as_the_first_try(value: str | None, tries: int) -> None:
    assert calltree.parse_tries(value) == tries


def test_the_call_gives_up_after_max_tries() -> None:
    assert [calltree.should_give_up(t) for t in range(calltree.MAX_TRIES + 2)] == [
        False
    ] * calltree.MAX_TRIES + [True, True]


@pytest.mark.parametrize(
    ("name", "page"),
    [
        *[(p, True) for p in ("step1", "step2", "step3", "step4", "step5", "police", "support")],
        *[(p, False) for p in ("step0", "step6", "step", "stepx", "Step1", "menu", "", "../step1")],
    ],
)
def test_is_page(name: str, page: bool) -> None:
    assert calltree.is_page(name) is page


def test_step_choices_pick_steps_by_number_or_words() -> None:
    choices = calltree.step_choices(STEPS)
    assert [(c.key, c.action) for c in choices] == [(str(n), f"step{n}") for n in range(1, 6)]
    assert choices[4].words == ("more support",)


# How many parts each page has: step 1 and the police page are long enough to be split.
PARTS = {"step1": 3, "step2": 2, "step3": 1, "step4": 1, "step5": 1, "police": 2, "support": 1}


def actions(page: str, part: int = 1) -> list[str]:
    return [
        o.action
        for o in calltree.page_options(page, part, PARTS, NAVIGATION, calltree.step_choices(STEPS))
    ]


def test_every_page_accepts_every_navigation_key() -> None:
    """Found in review: 7 on the first part of a page was "not one of the options"."""
    steps = ["step1", "step2", "step3", "step4", "step5"]
    for page, part in (
        ("step3", 1),
        ("step1", 1),
        ("step1", 2),
        ("step5", 1),
        ("police", 1),
        ("police", 2),
        ("support", 1),
    ):
        own = steps if page.startswith("step") else []
        assert actions(page, part) == ["previous", "next", "repeat", "menu", *own], page


def prompts(page: str, part: int = 1) -> list[str]:
    return [o.action for o in calltree.page_prompts(page, part, PARTS, NAVIGATION)]


def test_back_and_on_are_said_only_where_there_is_another_part() -> None:
    assert prompts("step3") == ["previous", "next", "repeat", "menu"]
    assert prompts("step1", 1) == ["next", "repeat", "menu"]  # nowhere to go back to
    assert prompts("step1", 2) == ["previous", "next", "repeat", "menu"]
    assert prompts("step5") == ["previous", "next", "repeat", "menu"]  # on: the menu
    assert prompts("police", 1) == ["next", "repeat", "menu"]
    assert prompts("police", 2) == ["previous", "repeat", "menu"]
    assert prompts("support") == ["repeat", "menu"]


@pytest.mark.parametrize(
    ("page", "part", "action", "to"),
    [
        ("step1", 1, "previous", None),
        ("police", 1, "previous", None),
        ("police", 2, "next", None),
        ("support", 1, "next", None),
        ("support", 1, "previous", None),
    ],
)
def test_back_before_the_first_part_and_on_after_the_last_lead_to_the_main_menu(
    page, part, action, to
) -> None:
    assert calltree.navigate(page, part, PARTS, NAVIGATION[action]).page is to


@pytest.mark.parametrize(
    ("value", "part"),
    [
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("4", 3),
        ("0", 1),
        ("-1", 1),
        ("x", 1),
        ("", 1),
        (None, 1),
        ("9" * 5000, 1),
    ],
)
def test_parse_part_keeps_to_the_parts_there_are(value: str | None, part: int) -> None:
    assert calltree.parse_part(value, 3) == part


STEP = {n: calltree.step_choices(STEPS)[n - 1] for n in range(1, 6)}
NAVIGATE = [  # (page, part, choice, where it leads)
    ("step1", 1, NAVIGATION["next"], Move("step1", 2)),
    ("step1", 2, NAVIGATION["next"], Move("step1", 3)),
    ("step1", 3, NAVIGATION["next"], Move("step2", 1)),
    ("step1", 3, NAVIGATION["previous"], Move("step1", 2)),
    ("step2", 1, NAVIGATION["previous"], Move("step1", 3)),  # back to what was just heard
    ("step3", 1, NAVIGATION["previous"], Move("step2", 2)),
    ("step5", 1, NAVIGATION["previous"], Move("step4")),
    ("step3", 1, NAVIGATION["repeat"], Move("step3")),
    ("step1", 2, NAVIGATION["repeat"], Move("step1", 2)),
    ("step4", 1, NAVIGATION["next"], Move("step5")),
    ("step5", 1, NAVIGATION["next"], Move(None, last_step_done=True)),
    ("step2", 2, NAVIGATION["menu"], Move(None)),
    ("step5", 1, NAVIGATION["menu"], Move(None)),
    ("step1", 2, STEP[5], Move("step5")),
    ("step4", 1, STEP[2], Move("step2")),
    ("step3", 1, STEP[3], Move("step3")),
    ("step2", 2, STEP[1], Move("step1", 1)),
    ("police", 1, NAVIGATION["next"], Move("police", 2)),
    ("police", 2, NAVIGATION["previous"], Move("police", 1)),
    ("police", 2, NAVIGATION["repeat"], Move("police", 2)),
    ("police", 1, NAVIGATION["menu"], Move(None)),
    ("support", 1, NAVIGATION["repeat"], Move("support")),
    ("support", 1, NAVIGATION["menu"], Move(None)),
]


@pytest.mark.parametrize(
    ("page", "part", "choice", "move"),
    NAVIGATE,
    ids=[f"{p}.{n}-{c.action}" for p, n, c, _ in NAVIGATE],
)
def test_navigate(page: str, part: int, choice: Option, move: Move) -> None:
    assert calltree.navigate(page, part, PARTS, choice) == move


def every_part():
    return [(page, part) for page in calltree.PAGES for part in range(1, PARTS[page] + 1)]


def test_back_undoes_on_wherever_on_leads_to_a_page() -> None:
    for page, part in every_part():
        on = calltree.navigate(page, part, PARTS, NAVIGATION["next"])
        if on.page is not None and "next" in actions(page, part):
            assert calltree.navigate(on.page, on.part, PARTS, NAVIGATION["previous"]) == Move(
                page, part
            )


@pytest.mark.parametrize(
    ("page", "part", "goes_on"),
    [
        ("step1", 1, True),
        ("step1", 2, True),
        ("step1", 3, False),
        ("step5", 1, False),
        ("police", 1, True),
        ("police", 2, False),
        ("support", 1, False),
    ],
)
def test_only_a_part_with_more_of_its_page_after_it_goes_on_by_itself(page, part, goes_on):
    assert calltree.continues_by_itself(page, part, PARTS) is goes_on


def test_menus_and_questions_take_repeat_and_menu_after_their_own_options() -> None:
    assert [o.key for o in calltree.menu_options(MENU[:3], NAVIGATION)] == ["1", "2", "3", "9", "0"]


def test_only_next_after_the_last_step_says_it_was_the_last() -> None:
    for page, part in every_part():
        for choice in calltree.page_options(
            page, part, PARTS, NAVIGATION, calltree.step_choices(STEPS)
        ):
            move = calltree.navigate(page, part, PARTS, choice)
            assert move.last_step_done is (page == "step5" and choice.action == "next")
            assert move.page is None or 1 <= move.part <= PARTS[move.page]
