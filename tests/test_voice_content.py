"""What callers hear is checked when the app starts and by `helpline check`: a mistake in
flows/voice.toml stops both, naming the file and the line, before any caller hears it.

Each case edits one line of the shipped voice.toml; the error must name that line.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, load_flows


@pytest.fixture(autouse=True)
def environment(monkeypatch) -> None:
    """No settings that `helpline check` would complain about besides flows/."""
    for name in (
        "TWILIO_AUTH_TOKEN",
        "PUBLIC_BASE_URL",
        "TRUSTED_PROXIES",
        "ADVISOR_NUMBERS",
        "HELPLINE_FLOWS_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


def edited_flows(directory: Path, old: str, new: str) -> tuple[Path, int]:
    """The shipped flows/ with the first `old` in voice.toml replaced by `new`; and the line
    where the edit starts."""
    for shipped in DEFAULT_DIR.glob("*.toml"):
        shutil.copy(shipped, directory / shipped.name)
    voice = directory / "voice.toml"
    text = voice.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in voice.toml"
    voice.write_text(text.replace(old, new, 1), encoding="utf-8")
    return voice, text[: text.index(old)].count("\n") + 1


def check(flows: Path, *args: str):
    return CliRunner().invoke(main, ["check", *args], env={"HELPLINE_FLOWS_DIR": str(flows)})


def test_the_shipped_content_passes() -> None:
    result = check(DEFAULT_DIR)
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output


FALLBACK = """say = [
  "Thank you for calling the helpline. We're sorry, we can't take your call right now.",
  "If you are in immediate danger, hang up now and dial 9 9 9.","""
DANGER = (
    'say = [\n  "If you are in immediate danger, hang up and dial 9 9 9 yourself. This line '
    'cannot put you through to the police.",\n  # APPROVAL NEEDED: the Silent Solution, '
    'as on the police page.\n  "If you call 9 9 9 from a mobile and cannot speak,'
)
BAD_CONTENT = [
    pytest.param(
        'key = "5"\naction = "callback"',
        'key = "9"\naction = "callback"',
        "key '9' is the repeat key on every page",
        id="a-menu-option-on-a-navigation-key",
    ),
    pytest.param(
        'key = "5"\naction = "callback"',
        'key = "*"\naction = "callback"',
        "own options use 1 to 6",
        id="a-menu-option-on-star",
    ),
    pytest.param(
        'next = { key = "8"',
        'next = { key = "3"',
        "navigation key '3' (next)",
        id="a-navigation-key-among-the-options",
    ),
    pytest.param(
        'previous = { key = "7"',
        'previous = { key = "0"',
        "navigation key '0' (previous) is used twice",
        id="two-navigation-keys-alike",
    ),
    pytest.param(
        'prompt = "To ask us to call you back, press 5',
        'prompt = "To ask us to call you back, press 6',
        "says \"press 6\" but its key is '5'",
        id="a-prompt-naming-another-key",
    ),
    pytest.param(
        '  "On most social media platforms,',
        '  "' + "Please listen carefully. " * 40 + "On most social media platforms,",
        "steps.step.2.say: this item would make a page of 186 spoken words (about 74 seconds)",
        id="a-say-item-too-long-for-a-page",
    ),
    pytest.param(
        "page_words = 112",
        "page_words = 0",
        "limits.page_words must be a whole number from 1 to 112",
        id="no-room-on-a-page",
    ),
    # Found in review: the file being checked could switch its own checks off.
    pytest.param(
        "page_words = 112",
        "page_words = 5000",
        "limits.page_words must be a whole number from 1 to 112",
        id="pages-longer-than-45-seconds",
    ),
    pytest.param(
        "words_before_999 = 30",
        "words_before_999 = 3000",
        "limits.words_before_999 must be a whole number from 1 to 30",
        id="the-999-line-allowed-later",
    ),
    pytest.param(
        'safety = "If you are in immediate danger, hang up now and dial 9 9 9."',
        'safety = "If you are in immediate danger, hang up now and dial the police."',
        "greeting.safety must give the 999 line",
        id="no-999-line-in-the-greeting",
    ),
    pytest.param(
        'say = ["Thank you for calling the helpline."]',
        'say = ["Thank you for calling the helpline. We are a small charity, and we '
        "have been helping people across the country for many years, whatever has "
        'happened to them."]',
        'the start of every call gives the 999 line ("9 9 9") after 39 spoken '
        "words; it must come within the first 30 (limits.words_before_999)",
        id="999-line-too-late",
    ),
    pytest.param(
        FALLBACK,
        FALLBACK.replace(" and dial 9 9 9", ""),
        "the fallback never gives the 999 line",
        id="no-999-line-in-the-fallback",
    ),
    pytest.param(
        DANGER,
        DANGER.replace("9 9 9", "the police"),
        "danger.say must give the 999 line",
        id="no-999-line-for-danger",
    ),
    pytest.param(
        'continues = "Stay on the line for the next part, or press 8',
        'continues = "Stay on the line for the next part, or press 5',
        'navigation.continues says "press 5", which is not a navigation key',
        id="continuing-on-a-key-that-is-not-navigation",
    ),
]


@pytest.mark.parametrize(("old", "new", "complaint"), BAD_CONTENT)
def test_check_refuses_bad_content_naming_file_and_line(tmp_path, old, new, complaint) -> None:
    voice, line = edited_flows(tmp_path, old, new)
    result = check(tmp_path)
    assert result.exit_code == 1, result.output
    assert f"{voice}:{line}: " in result.output
    assert complaint in result.output


def test_the_999_line_limit_is_set_in_voice_toml(tmp_path) -> None:
    voice, _ = edited_flows(tmp_path, "words_before_999 = 30", "words_before_999 = 10")
    text = voice.read_text(encoding="utf-8").splitlines()
    greeting = text.index('say = ["Thank you for calling the helpline."]') + 1
    result = check(tmp_path)
    assert result.exit_code == 1
    assert f"{voice}:{greeting}: " in result.output
    assert "after 17 spoken words; it must come within the first 10" in result.output


# Phrases of the advice web page that do not work when listened to.
WEB_PAGE_PHRASES = [
    "prematurely",
    "url",
    "direct link",
    "non-biased",
    "click",
    " here.",
    "http",
    "www",
    "takedown rate",
    "below",
    "above",
]


def all_texts(value: object) -> list[str]:
    """Every text in loaded content, however deeply it is held."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in all_texts(v)]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in all_texts(v)]
    if hasattr(value, "__dataclass_fields__"):
        return [t for name in value.__dataclass_fields__ for t in all_texts(getattr(value, name))]
    return []


def test_what_callers_hear_has_no_web_page_phrases() -> None:
    voice = load_flows(DEFAULT_DIR, datetime.now(UTC)).voice
    texts = [t.lower() for t in all_texts(voice)]
    assert len(texts) > 50
    for phrase in WEB_PAGE_PHRASES:
        assert not [t for t in texts if phrase in f" {t} "], phrase


# ------------------------------------------------------------------ helpline check --review


def marks_in(directory: Path) -> list[tuple[str, int, str]]:
    """(file, line, why) of every `# APPROVAL NEEDED:` comment, found the plain way."""
    found = []
    for path in sorted(directory.glob("*.toml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "# APPROVAL NEEDED:" in line:
                found.append((path.name, number, line.split("APPROVAL NEEDED:")[1].strip()))
    return found


def unwrapped(output: str) -> str:
    return " ".join(output.split())


def test_review_lists_every_line_marked_approval_needed_with_file_line_and_why() -> None:
    result = check(DEFAULT_DIR, "--review")
    assert result.exit_code == 0, result.output
    marks = marks_in(DEFAULT_DIR)
    assert {file for file, _, _ in marks} == {"voice.toml", "sms.toml", "safety.toml"}
    assert len(marks) >= 8
    text = unwrapped(result.output)
    for file, line, why in marks:
        assert f"{file}, line {line} Why: {why}" in text
    # The sentences reworded for listening are among them.
    for phrase in ("prematurely", "non-biased", "direct URL", "Report Remove"):
        assert any(phrase in why for _, _, why in marks), phrase


@pytest.mark.parametrize("subdivision", ["ENG", "SCT", "NIR"])
def test_review_lists_the_law_for_every_nation_whatever_the_subdivision(
    tmp_path, subdivision: str
) -> None:
    """The subdivision picks the bank holidays, not the callers: a line takes callers from
    every nation, so the list is the same for each."""
    edited_flows(tmp_path, "[limits]", "[limits]")
    hours = tmp_path / "hours.toml"
    hours.write_text(
        hours.read_text().replace('subdivision = "ENG"', f'subdivision = "{subdivision}"')
    )
    result = check(tmp_path, "--review")
    assert result.exit_code == 0, result.output
    text = unwrapped(result.output)
    for entry in (
        "law-voice-step-2",
        "law-sms-step-2",
        "law-scotland",
        "law-scotland-sms",
        "law-northern-ireland",
        "law-northern-ireland-sms",
    ):
        assert f"{entry}:" in text
    assert "with the intention of causing distress" in text  # the advice page's, kept
    assert "It's against the law in England and Wales" not in text  # no nation's wording alone
    assert "In Scotland, it's against the law to share, or threaten to share," in text
    assert "In Northern Ireland, it's against the law to share" in text
    assert "this needs checking by a legal adviser" in text


def test_the_list_is_only_shown_when_asked_for() -> None:
    result = check(DEFAULT_DIR)
    assert result.exit_code == 0
    assert "APPROVAL" not in result.output


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('id = "law-scotland-sms"', 'id = "law-scotland"', "id 'law-scotland' is used twice"),
        ('id = "law-sms-step-2"', 'id = "law-voice-step-2"', "id 'law-voice-step-2' is used twice"),
        ('id = "law-scotland"', 'ident = "law-scotland"', "unknown field 'ident'"),
        (
            '[[proposal]]\nid = "law-scotland"',
            '[[proposals]]\nid = "law-scotland"',
            "unknown table",
        ),
        ('kind = "legal"\nwhere', 'kind = "lawful"\nwhere', "kind must be one of legal, safety"),
        # The advice page's sentence is kept for a text in use; reworded, the entry says so.
        (
            "now = \"In England and Wales, it's against the law",
            "now = \"In England, it's against the law",
            "replaced 'law-voice-step-2': its `now` text is not in use in flows/",
        ),
    ],
)
def test_a_mistake_in_review_toml_is_refused_naming_file_and_line(
    tmp_path, old, new, complaint
) -> None:
    edited_flows(tmp_path, "[limits]", "[limits]")
    review = tmp_path / "review.toml"
    text = review.read_text(encoding="utf-8")
    assert old in text
    review.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    result = check(tmp_path, "--review")
    assert result.exit_code == 1, result.output
    assert complaint in result.output
    assert f"{review}:{line}: " in result.output
