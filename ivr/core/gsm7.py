"""GSM-7: the characters a text message can hold without switching to UCS-2, which halves a
segment (70 characters instead of 160) and so doubles the cost of every text."""

from __future__ import annotations

BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENDED = set("^{}\\[~]|€\f")  # each takes two characters' room


def non_gsm7(text: str) -> list[str]:
    """The characters of `text` that GSM-7 cannot carry (e.g. curly quotes, emoji)."""
    return sorted({c for c in text if c not in BASIC and c not in EXTENDED})


def segments(text: str) -> int:
    """How many SMS segments `text` needs in GSM-7 (160 alone, 153 each when split)."""
    length = sum(2 if c in EXTENDED else 1 for c in text)
    return 1 if length <= 160 else -(-length // 153)


def ucs2_segments(text: str) -> int:
    """How many segments `text` needs in UCS-2 (70 alone, 67 each when split), the encoding a
    text takes as soon as one character is outside GSM-7 (a Welsh ŵ, say)."""
    length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= 70 else -(-length // 67)
