"""What a caller's or a texter's own words say about their safety (pure).

Three classes, each with its own answer (flows/safety.toml holds the phrases): immediate
danger, suicide and self-harm ("despair"), and asking for help. Matching is on phrases and
word stems, not exact strings: the words are made alike first (lower case, curly
apostrophes straight, contractions spelt out, "um" and "er" dropped, a stammered word said
once, numbers in words as digits), so "um, I, I think he's outside" is "i think he is
outside" and "hes got a knife" is "he is got a knife".

A phrase is words separated by spaces, where
  kill*          is a stem: kill, kills, killed, killing
  he/she/they    is any one of them
  ...            stands for up to GAP_WORDS other words ("want ... die": "want to just
                 die"), never a negation ("he is ... here" does not match "he is not here")
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

DANGER, DESPAIR, HELP = "danger", "despair", "help"
CLASSES = (DANGER, DESPAIR, HELP)
SAFETY = (DANGER, DESPAIR)  # the classes answered before anything else, with the advisor offer
GAP = "..."
GAP_WORDS = 3
NEGATIONS = frozenset({"not", "never", "no", "ddim"})  # never skipped by a GAP

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_NOT_WORD = re.compile(r"[^\w']+")
_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
# Contractions people type without the apostrophe (speech recognition writes it). Only words
# that mean nothing else: not "ill", "its", "were", "well", "id".
_BARE = {
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "cannot": "can not",
    "wont": "will not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "havent": "have not",
    "hasnt": "has not",
    "im": "i am",
    "ive": "i have",
    "hes": "he is",
    "shes": "she is",
    "theyre": "they are",
    "youre": "you are",
    "thats": "that is",
    "theres": "there is",
    "whats": "what is",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
}
_IRREGULAR_NOT = {"can't": "can not", "won't": "will not", "shan't": "shall not"}
_ENDINGS: tuple[tuple[str, str], ...] = (
    ("n't", " not"),
    ("'s", " is"),
    ("'re", " are"),
    ("'m", " am"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'d", " would"),
    ("'n", " yn"),  # Welsh: "mae e'n" is "mae e yn"
)


def _spelt_out(word: str) -> str:
    """One word with its contraction spelt out: "he's" -> "he is", "dont" -> "do not"."""
    if word in _IRREGULAR_NOT:
        return _IRREGULAR_NOT[word]
    for ending, full in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)] + full
    word = word.replace("'", "")
    return _BARE.get(word, word)


def words_of(text: str | None, fillers: Iterable[str] = ()) -> list[str]:
    """The words of `text` made alike for matching: lower case, contractions spelt out,
    `fillers` dropped, numbers of two digits or more as digits run together ("nine nine
    nine" and "9 9 9" are "999"; "one" alone stays a word), then a word said twice in a row
    said once."""
    text = (text or "").lower().translate(_APOSTROPHES).replace("-", " ")
    dropped = set(fillers)
    spelt = [
        word.replace("_", "")
        for raw in _NOT_WORD.sub(" ", text).split()
        for word in _spelt_out(raw.strip("'")).split()
    ]
    merged: list[str] = []
    run: list[str] = []
    for word in [w for w in spelt if w and w not in dropped] + [""]:
        digit = _NUMBER_WORDS.get(word, word)
        if digit.isdigit():
            run.append(word)
            continue
        if len(run) > 1:
            merged.append("".join(_NUMBER_WORDS.get(w, w) for w in run))
        else:
            merged.extend(run)
        run = []
        merged.append(word)
    found: list[str] = []
    for word in merged[:-1]:
        if not found or found[-1] != word:
            found.append(word)
    return found


@dataclass(frozen=True)
class Phrase:
    """One phrase as staff wrote it, ready to match: each slot its alternatives (a stem ends
    in "*"), or GAP."""

    text: str
    slots: tuple[tuple[str, ...], ...]
    # The first slot's words and stems: most starts are skipped on them at once (a text is
    # matched against every phrase of every class at every word).
    first_words: frozenset[str] = field(init=False, repr=False, compare=False)
    first_stems: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        first = self.slots[0] if self.slots else ()
        object.__setattr__(self, "first_words", frozenset(a for a in first if not a.endswith("*")))
        object.__setattr__(self, "first_stems", tuple(a[:-1] for a in first if a.endswith("*")))

    @staticmethod
    def parse(text: str) -> Phrase:
        """Raises ValueError for a phrase that can't match anything as written."""
        slots: list[tuple[str, ...]] = []
        for part in text.lower().translate(_APOSTROPHES).split():
            if part == GAP:
                slots.append((GAP,))
                continue
            options = part.split("/")
            made = [(words_of(o.rstrip("*")), o.endswith("*")) for o in options]
            if len(options) == 1 and not made[0][1] and made[0][0]:
                slots.extend((w,) for w in made[0][0])  # "can't" is two words: can not
                continue
            if any(len(m) != 1 for m, _ in made):
                raise ValueError(f"{part!r} in {text!r}: each of a/b/c, or a stem*, is one word")
            slots.append(tuple(m[0] + ("*" if stem else "") for m, stem in made))
        if not slots or slots[0] == (GAP,) or slots[-1] == (GAP,):
            raise ValueError(f"{text!r}: a phrase needs words, and '...' only between them")
        return Phrase(text, _numbers_together(slots))

    def spans(self, words: Sequence[str]) -> list[frozenset[int]]:
        """Where this phrase stands in `words`: the positions of its own words (not those a
        GAP skipped), for each start."""
        found = []
        exact, stems = self.first_words, self.first_stems
        for start, word in enumerate(words):
            if word not in exact and not (stems and word.startswith(stems)):
                continue
            covered = _match(self.slots, 0, words, start)
            if covered is not None:
                found.append(frozenset(covered))
        return found


def _numbers_together(slots: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Numbers of two digits or more run together, as in words_of: "nine nine nine" is
    "999"."""

    def digit(slot: tuple[str, ...]) -> str | None:
        found = _NUMBER_WORDS.get(slot[0], slot[0]) if len(slot) == 1 else ""
        return found if found.isdigit() else None

    out: list[tuple[str, ...]] = []
    i = 0
    while i < len(slots):
        j = i
        while j < len(slots) and digit(slots[j]) is not None:
            j += 1
        if j - i > 1:
            out.append(("".join(digit(slot) or "" for slot in slots[i:j]),))
            i = j
        else:
            out.append(slots[i])
            i += 1
    return tuple(out)


def _fits(alternative: str, word: str) -> bool:
    if alternative.endswith("*"):
        return word.startswith(alternative[:-1])
    return word == alternative


def _match(
    slots: Sequence[tuple[str, ...]], i: int, words: Sequence[str], at: int
) -> list[int] | None:
    """The positions matched by slots[i:] starting at words[at], or None."""
    if i == len(slots):
        return []
    if slots[i] == (GAP,):
        for skip in range(GAP_WORDS + 1):
            if skip and (at + skip > len(words) or words[at + skip - 1] in NEGATIONS):
                return None  # "he is not here" is not "he is ... here"
            rest = _match(slots, i + 1, words, at + skip)
            if rest is not None:
                return rest
        return None
    if at >= len(words) or not any(_fits(a, words[at]) for a in slots[i]):
        return None
    rest = _match(slots, i + 1, words, at + 1)
    return None if rest is None else [at, *rest]


@dataclass(frozen=True)
class CrisisWords:
    """The phrases of each class (several languages' together) and the filler words."""

    phrases: Mapping[str, tuple[Phrase, ...]]
    fillers: frozenset[str] = field(default_factory=frozenset)
    # The phrases that can start at a word, by their first slot's words, and those with a
    # stem there: spot tries only the phrases a text's own words can start (a text met every
    # phrase of every class, 143 of them, most of which no word of it begins).
    _by_first: Mapping[str, tuple[tuple[str, Phrase], ...]] = field(
        init=False, repr=False, compare=False
    )
    _stemmed: tuple[tuple[str, Phrase], ...] = field(init=False, repr=False, compare=False)
    # Every stem those start with: a word none of them begins needs none of those phrases.
    _stems: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_first: dict[str, list[tuple[str, Phrase]]] = {}
        stemmed = []
        for name in CLASSES:
            for phrase in self.phrases.get(name, ()):
                for word in phrase.first_words:
                    by_first.setdefault(word, []).append((name, phrase))
                if phrase.first_stems:
                    stemmed.append((name, phrase))
        object.__setattr__(self, "_by_first", {w: tuple(p) for w, p in by_first.items()})
        object.__setattr__(self, "_stemmed", tuple(stemmed))
        object.__setattr__(self, "_stems", tuple({s for _, p in stemmed for s in p.first_stems}))

    def starting(self, words: Sequence[str]) -> Iterator[tuple[str, Phrase]]:
        """Each (class, phrase) whose first slot one of `words` fits, once."""
        seen: set[tuple[str, int]] = set()
        distinct = set(words)
        for word in distinct:
            for name, phrase in self._by_first.get(word, ()):
                if (name, id(phrase)) not in seen:
                    seen.add((name, id(phrase)))
                    yield name, phrase
        stemmed = [w for w in distinct if w.startswith(self._stems)] if self._stems else ()
        for name, phrase in self._stemmed if stemmed else ():
            if (name, id(phrase)) not in seen and any(
                w.startswith(phrase.first_stems) for w in stemmed
            ):
                yield name, phrase

    def joined(self, other: CrisisWords) -> CrisisWords:
        """These phrases and `other`'s: a call or a text is matched against every language
        the helpline has (Welsh speech is recognised as English; a text is not labelled)."""
        return CrisisWords(
            {c: (*self.phrases.get(c, ()), *other.phrases.get(c, ())) for c in CLASSES},
            self.fillers | other.fillers,
        )

    def hints(self) -> tuple[str, ...]:
        """The phrases written in plain words (no stem, choice or gap), to help speech
        recognition hear them."""
        return tuple(
            " ".join(s[0] for s in p.slots)
            for c in CLASSES
            for p in self.phrases.get(c, ())
            if all(len(s) == 1 and s != (GAP,) and not s[0].endswith("*") for s in p.slots)
        )


@dataclass(frozen=True)
class Spotted:
    """What the words said: the classes heard, and which of the words said them."""

    classes: frozenset[str] = frozenset()
    at: frozenset[int] = frozenset()


def spot(crisis: CrisisWords, words: Sequence[str]) -> Spotted:
    """The classes `words` (from words_of) match, and the positions that matched."""
    classes: set[str] = set()
    at: set[int] = set()
    for name, phrase in crisis.starting(words):
        for span in phrase.spans(words):
            classes.add(name)
            at |= span
    return Spotted(frozenset(classes), frozenset(at))


def classify(crisis: CrisisWords, text: str | None) -> frozenset[str]:
    """The classes a sentence or a text message matches."""
    return spot(crisis, words_of(text, crisis.fillers)).classes


def unmatched(
    crisis: CrisisWords, examples: Iterable[tuple[str, str]]
) -> list[tuple[str, str, frozenset[str]]]:
    """The (means, says) examples that don't match as written, each with what it matched:
    `means` is a class it must match, or "none" for nothing at all."""
    wrong = []
    for means, says in examples:
        found = classify(crisis, says)
        if (means == "none" and found) or (means != "none" and means not in found):
            wrong.append((means, says, found))
    return wrong
