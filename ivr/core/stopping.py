"""Whether a text asks us, in the person's own words, to stop calling and texting (pure).

Twilio acts only on a message that is one keyword alone ("STOP"; "STOP PLEASE" or "PLEASE
CANCEL" are passed on and block nothing: Twilio support, "Twilio support for opt-out
keywords (SMS STOP filtering)", https://help.twilio.com/articles/223134027). Everything
else someone writes to say "stop" reaches only us, so we hear it here, by phrase, with the
matcher of crisis.py (the words made alike, stems, alternatives, gaps). The phrases are in
flows/safety.toml's [stop] (and cy/):

  always         heard wherever they stand in a text ("he found my phone")
  phrases        heard anywhere in a text ("stop texting me"), unless one of
                 `unless_before` stands just before it ("don't stop calling", "make him stop
                 texting me": someone else is to stop, not us), or one of `unless_after`
                 just after it ("stop calling me at work": about when, so held and asked
                 for a safe time, as any text about when we can't read)
  alone          heard when the text says nothing else but `polite` words ("STOP please",
                 "can you stop now thanks"): "stop" inside "bus stop after 5" is not heard
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ivr.core.crisis import Phrase, words_of

STOP = "stop"
MEANINGS = (STOP, "none")  # what an example in [stop.examples] means


@dataclass(frozen=True)
class StopWords:
    """The phrases that ask us to stop (several languages' together, once joined)."""

    always: tuple[Phrase, ...] = ()
    phrases: tuple[Phrase, ...] = ()
    alone: tuple[Phrase, ...] = ()
    unless_before: tuple[Phrase, ...] = ()
    unless_after: tuple[Phrase, ...] = ()
    polite: frozenset[str] = field(default_factory=frozenset)
    fillers: frozenset[str] = field(default_factory=frozenset)
    # The words and stems that start a phrase asking to stop: a text with none of them asks
    # nothing (most texts: "hello", a time), and no phrase is tried on it.
    _first_words: frozenset[str] = field(init=False, repr=False, compare=False)
    _first_stems: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        asking = (*self.always, *self.phrases, *self.alone)
        firsts = frozenset(w for p in asking for w in p.first_words)
        object.__setattr__(self, "_first_words", firsts)
        object.__setattr__(self, "_first_stems", tuple({s for p in asking for s in p.first_stems}))

    def may_start(self, said: Sequence[str]) -> bool:
        """Whether a word of `said` can start one of the phrases that ask to stop."""
        stems = self._first_stems
        return any(w in self._first_words or (stems and w.startswith(stems)) for w in said)

    def joined(self, other: StopWords) -> StopWords:
        """These phrases and `other`'s: a text is not labelled with its language."""
        return StopWords(
            (*self.always, *other.always),
            (*self.phrases, *other.phrases),
            (*self.alone, *other.alone),
            (*self.unless_before, *other.unless_before),
            (*self.unless_after, *other.unless_after),
            self.polite | other.polite,
            self.fillers | other.fillers,
        )


def _undone(words: StopWords, said: Sequence[str], span: frozenset[int]) -> bool:
    """Whether one of `unless_before` ends just before `span`, or `unless_after` starts
    just after it."""
    start, end = min(span), max(span)
    before, after = said[:start], said[end + 1 :]
    return any(
        max(found) == start - 1 for p in words.unless_before for found in p.spans(before)
    ) or any(min(found) == 0 for p in words.unless_after for found in p.spans(after))


def asks_to_stop(words: StopWords, text: str | None) -> bool:
    """Whether `text` asks us to stop calling and texting."""
    said = words_of(text, words.fillers)
    if not words.may_start(said):
        return False
    if any(phrase.spans(said) for phrase in words.always):
        return True
    for phrase in words.phrases:
        if any(not _undone(words, said, span) for span in phrase.spans(said)):
            return True
    rest = [w for w in said if w not in words.polite]
    return bool(rest) and any(
        min(span) == 0 and max(span) == len(rest) - 1
        for phrase in words.alone
        for span in phrase.spans(rest)
    )


def unmatched_stop(
    words: StopWords, examples: Iterable[tuple[str, str]]
) -> list[tuple[str, str, bool]]:
    """The (means, says) examples not read as written (`means`: "stop" or "none"), each
    with whether it was heard as asking to stop."""
    wrong = []
    for means, says in examples:
        heard = asks_to_stop(words, says)
        if heard is not (means == STOP):
            wrong.append((means, says, heard))
    return wrong
