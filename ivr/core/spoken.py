"""How long what callers hear takes to say, counted in words (about 150 a minute on the
phone): where the 999 line falls, when an option's key has been said, and how a long page is
split into parts that each fit.

Pure functions on text, used when flows/voice.toml is loaded and checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

WORDS_PER_MINUTE = 150


def words(text: str) -> int:
    """Spoken words: "dial 9 9 9" is four (each digit is said on its own)."""
    return len(text.split())


def seconds(word_count: int) -> int:
    return round(word_count * 60 / WORDS_PER_MINUTE)


def speech_seconds(word_count: int) -> float:
    """Seconds of speech, exactly (for limits; `seconds` rounds for people to read)."""
    return word_count * 60 / WORDS_PER_MINUTE


def words_to_key(texts: Sequence[str], index: int, key: str) -> int:
    """Spoken words from the first of `texts`, said one after another, until the caller has
    heard `key` in texts[index] ("... press 5": then they can press it), whatever the
    language ("pwyswch 5"); all of texts[index] when it never says the key."""
    tokens = texts[index].split()
    upto = next(
        (i + 1 for i, token in enumerate(tokens) if token.strip(".,;:!?") == key), len(tokens)
    )
    return sum(words(text) for text in texts[:index]) + upto


def words_before(texts: Sequence[str], needle: str) -> tuple[int, int] | None:
    """Where `needle` is first said in `texts`, said one after another: (index of the text,
    spoken words before it from the start). None when it is never said."""
    before = 0
    for index, text in enumerate(texts):
        at = text.find(needle)
        if at >= 0:
            return index, before + words(text[:at])
        before += words(text)
    return None


def split(
    sizes: Sequence[int], limit: int, overhead: Callable[[int, int], int]
) -> tuple[tuple[int, int], ...] | None:
    """Split items of `sizes` words, in order, into as few parts as fit `limit`, as evenly as
    possible (the longest part as short as it can be). Part i of n also says overhead(i, n)
    words (a title, "part 1 of 2"). Returns each part's (first item, end); None when some item
    cannot fit in a part even on its own."""
    n = len(sizes)

    def load(part: int, parts: int, first: int, end: int) -> int:
        return sum(sizes[first:end]) + overhead(part, parts)

    for parts in range(1, n + 1):
        # best[j][end]: (longest part, cut points) for items [0, end) in j parts.
        best: list[dict[int, tuple[int, tuple[int, ...]]]] = [{0: (0, (0,))}]
        for j in range(parts):
            row: dict[int, tuple[int, tuple[int, ...]]] = {}
            for first, (longest, cuts) in best[j].items():
                for end in range(first + 1, n - (parts - j - 1) + 1):
                    worst = max(longest, load(j, parts, first, end))
                    if worst <= limit and (end not in row or worst < row[end][0]):
                        row[end] = (worst, (*cuts, end))
            best.append(row)
        if n in best[parts]:
            return tuple(pairwise(best[parts][n][1]))
    return None
