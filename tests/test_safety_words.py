"""flows/safety.toml and flows/cy/safety.toml: the words of danger, despair and asking for
help, held to the examples written beside them (what staff see is what is matched), and the
matcher's way of making words alike (crisis.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.content.flows import DEFAULT_DIR, FlowFileError, Safety, load_flows, load_safety
from ivr.content.tomlfile import read_toml
from ivr.core.crisis import (
    CLASSES,
    DANGER,
    DESPAIR,
    GAP,
    HELP,
    CrisisWords,
    Phrase,
    Spotted,
    _match,
    classify,
    spot,
    words_of,
)
from tests.common import examples as property_examples
from tests.common import london

FLOWS = load_flows(DEFAULT_DIR, london("2026-12-08T11:00"))
WORDS = FLOWS.crisis  # English and Welsh together, as calls and texts are matched
LANGUAGES = {"en": FLOWS.safety, "cy": FLOWS.welsh.safety if FLOWS.welsh else FLOWS.safety}


def examples(safety: Safety) -> list[tuple[str, str]]:
    return [(name, text) for name in (*CLASSES, "none") for text in safety.examples[name]]


ALL = [(lang, name, text) for lang, s in LANGUAGES.items() for name, text in examples(s)]


@pytest.mark.parametrize("name", [*CLASSES, "none"])
def test_each_english_table_has_at_least_40_examples(name: str) -> None:
    assert len(FLOWS.safety.examples[name]) >= 40


def test_the_tables_hold_fillers_and_the_findings() -> None:
    english = FLOWS.safety.examples
    for name in CLASSES:
        assert any(words_of(t) != words_of(t, WORDS.fillers) for t in english[name]), name
    assert {"he's outside the door", "he has a knife", "hes outside"} <= set(english[DANGER])
    assert {"i want to kill myself", "suicide", "i want to end it"} <= set(english[DESPAIR])
    assert {"help", "help me", "please help"} <= set(english[HELP])
    assert {"i want to report it", "how do i end this", "he shared it with his mates"} <= set(
        english["none"]
    )
    assert "dw i eisiau lladd fy hun" in LANGUAGES["cy"].examples[DESPAIR]


@pytest.mark.parametrize(("lang", "name", "text"), ALL, ids=[f"{a[0]}:{a[2]}" for a in ALL])
def test_every_example_matches_its_class_and_none_match_nothing(
    lang: str, name: str, text: str
) -> None:
    found = classify(WORDS, text)
    if name == "none":
        assert found == frozenset(), text
    else:
        assert name in found, text


BORDERLINE = [(says, means) for s in LANGUAGES.values() for says, means, _ in s.borderline]


@pytest.mark.parametrize(("says", "means"), BORDERLINE, ids=[b[0] for b in BORDERLINE])
def test_borderline_phrases_are_decided_as_written(says: str, means: str) -> None:
    found = classify(WORDS, says)
    assert (found == frozenset()) if means == "none" else (means in found), (says, found)


@pytest.mark.parametrize(
    ("said", "words"),
    [
        ("Um, I, I think he's outside", ["i", "think", "he", "is", "outside"]),
        ("hes got a knife", ["he", "is", "got", "a", "knife"]),
        ("He\u2019s here", ["he", "is", "here"]),  # a curly apostrophe
        ("I can't, I won't", ["i", "can", "not", "i", "will", "not"]),
        ("I wanna die", ["i", "want", "to", "die"]),
        ("self-harm", ["self", "harm"]),
        ("nine nine nine", ["999"]),
        ("9 9 9", ["999"]),
        ("one", ["one"]),  # a number word alone stays a word (step one, not key 1)
        ("mae e'n fy mrifo", ["mae", "e", "yn", "fy", "mrifo"]),
    ],
)
def test_words_are_made_alike_before_matching(said: str, words: list[str]) -> None:
    assert words_of(said, WORDS.fillers) == words


@pytest.mark.parametrize(
    ("phrase", "said", "matches"),
    [
        ("kill* myself", "I'm killing myself", True),
        ("he/she ... outside", "she is right outside", True),
        ("he/she ... outside", "he told me to go and wait outside", False),  # more than 3
        ("he is ... here", "he is not here", False),  # a gap never skips a negation
        ("end* it", "how do I end this", False),
        ("help", "the helpline", False),  # whole words only
        ("can't cope", "I cannot cope", True),
        ("nine nine nine", "999", True),
    ],
)
def test_phrases_match_stems_alternatives_and_gaps(phrase: str, said: str, matches: bool) -> None:
    assert bool(Phrase.parse(phrase).spans(words_of(said))) is matches


@pytest.mark.parametrize("phrase", ["...", "... outside", "he ...", "he/she's/they*x y/", ""])
def test_a_phrase_that_cannot_match_is_refused(phrase: str) -> None:
    with pytest.raises(ValueError):
        Phrase.parse(phrase)


def test_a_bad_phrase_in_the_file_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    text = (DEFAULT_DIR / "safety.toml").read_text(encoding="utf-8")
    bad = tmp_path / "safety.toml"
    bad.write_text(text.replace('  "knife",', '  "... knife",', 1), encoding="utf-8")
    with pytest.raises(FlowFileError, match="safety.toml"):
        load_safety(read_toml(bad))


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('  "knife",\n', "", "'he has a knife' should match danger, matches nothing"),
        ('  "weapon",\n', '  "weapon",\n  "report",\n', "'i want to report it' should match"),
    ],
    ids=["a phrase taken out", "a phrase too broad"],
)
def test_helpline_check_says_which_example_a_change_broke(
    cli, tmp_path: Path, old: str, new: str, complaint: str
) -> None:
    flows = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, flows)
    safety = flows / "safety.toml"
    text = safety.read_text(encoding="utf-8")
    assert old in text
    safety.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = cli("check", flows=flows)
    assert result.exit_code == 1
    assert complaint in result.output


def test_helpline_check_counts_the_examples_of_the_shipped_words(cli) -> None:
    result = cli("check", flows=DEFAULT_DIR)
    assert "examples in safety.toml match as written" in result.output


# The phrases' own words (a stem with an ending), a negation and words of no phrase.
VOCABULARY = sorted(
    {
        alternative[:-1] + "ing" if alternative.endswith("*") else alternative
        for name in CLASSES
        for phrase in WORDS.phrases.get(name, ())
        for slot in phrase.slots
        if slot != (GAP,)
        for alternative in slot
    }
    | {"not", "the", "he", "outside", "tomorrow"}
)


def every_phrase_at_every_word(crisis: CrisisWords, words: list[str]) -> Spotted:
    classes: set[str] = set()
    at: set[int] = set()
    for name in CLASSES:
        for phrase in crisis.phrases.get(name, ()):
            for start in range(len(words)):
                covered = _match(phrase.slots, 0, words, start)
                if covered is not None:
                    classes.add(name)
                    at |= set(covered)
    return Spotted(frozenset(classes), frozenset(at))


def said(phrase: Phrase) -> st.SearchStrategy[list[str]]:
    """The phrase as someone might say it: an alternative of each slot, a gap's few words."""
    parts = [
        st.lists(st.sampled_from(VOCABULARY), max_size=2)
        if slot == (GAP,)
        else st.sampled_from([a[:-1] + "ing" if a.endswith("*") else a for a in slot]).map(
            lambda word: [word]
        )
        for slot in phrase.slots
    ]
    return st.tuples(*parts).map(lambda words: [w for part in words for w in part])


PHRASES = [phrase for name in CLASSES for phrase in WORDS.phrases.get(name, ())]
PIECES = st.one_of(
    st.sampled_from(PHRASES).flatmap(said), st.sampled_from(VOCABULARY).map(lambda w: [w])
)
TEXTS = st.lists(PIECES, max_size=5).map(lambda pieces: [w for piece in pieces for w in piece])


@settings(max_examples=property_examples(1000), deadline=None)
@given(TEXTS)
def test_spot_finds_what_trying_every_phrase_at_every_word_finds(words: list[str]) -> None:
    """spot tries only the phrases a word of the text can start (CrisisWords.starting)."""
    assert spot(WORDS, words) == every_phrase_at_every_word(WORDS, words)
