"""Content right today (issue 19, §5): what callers hear and read states the law as it is
across the UK, names the services that can help now (StopNCII for adults, Relay UK and
emergencySMS for people who can't hear or speak on a call), asks for links on the call (the
app keeps none), and `helpline check --review` puts the law and safety first.

A UK-wide line takes callers from every nation (hours.toml's subdivision picks bank holidays,
not callers), so the default content covers them all: in England and Wales sharing an
intimate image without consent is an offence, and so is threatening to, whatever the intent
(s.66B Sexual Offences Act 2003, since 31 January 2024); in Scotland and Northern Ireland
the law differs and the police can advise.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from ivr.cli import main
from ivr.content.flows import DEFAULT_DIR, WELSH_FOLDER, Flows, load_flows
from ivr.content.review import marked
from ivr.simulate import simulate_call
from tests.common import (
    CLOSED_AT,
    OPEN_AT,
    assert_hears,
    heard,
    send,
    twilio_client,
)
from tests.conftest import AppFactory

NOW = datetime(2026, 11, 25, 11, tzinfo=UTC)
EVENING_IN_DECEMBER = "2026-12-08T20:00"
KINDS = ("legal", "safety")  # the tags of lines reviewed first

# The seed's sentence (the law before 31 January 2024), in every form it took in flows/.
OLD_LAW = [
    "intention of causing distress",
    "without consent to cause distress",
    "in the uk to share",
    "against the law in the uk",
    "bwriad o achosi gofid",
    "er mwyn achosi gofid",
    "yn y deyrnas unedig, mae'n anghyfreithlon",
    "yn y du mae'n anghyfreithlon",
]

# What the law line must say, heard and read, in each language.
LAW_SAYS = {
    "en": [
        "England and Wales",
        "without their consent",
        "threaten to share",
        "Scotland and Northern Ireland",
        "police can advise",
    ],
    "cy": [
        "Nghymru a Lloegr",
        "heb eu caniat",
        "bygwth rhannu",
        "Yn yr Alban ac yng Ngogledd Iwerddon",
        "heddlu eich cynghori",
    ],
}
# STEPS text 2 says the same in fewer words.
LAW_TEXT_SAYS = {
    "en": [
        "England and Wales",
        "without consent",
        "threaten to",
        "Scotland and Northern Ireland",
        "police can advise",
    ],
    "cy": [
        "Nghymru a Lloegr",
        "heb ganiatad",
        "neu fygwth",
        "Yn yr Alban ac yng Ngogledd Iwerddon",
        "heddlu eich cynghori",
    ],
}
# Relay UK (18001 before a number, 18000 for 999) and emergencySMS (texting 999 once
# registered), as spoken ("1 8 0 0 0", digit by digit) and as read in a text.
RELAY_HEARD = ["Relay UK", "1 8 0 0 0", "1 8 0 0 1, 1 0 1", "register", "9 9 9"]
RELAY_HEARD_CY = ["Relay UK", "1 8 0 0 0", "1 8 0 0 1, 1 0 1", "register", "9 9 9"]
RELAY_READ = ["Relay UK", "18000", "18001 101", "REGISTER to 999"]
RELAY_READ_CY = ["Relay UK", "18000", "18001 101", "REGISTER i 999"]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No settings that `helpline check` would complain about besides flows/."""
    for name in ("TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "TRUSTED_PROXIES", "ADVISOR_NUMBERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def shipped() -> Flows:
    return load_flows(DEFAULT_DIR, NOW)


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


def flows_in(shipped: Flows, language: str) -> Flows:
    assert shipped.welsh is not None
    return shipped if language == "en" else shipped.welsh


def page_heard(app: Flask, page: str, language: str) -> list[str]:
    """Every part of a page, as signed requests like Twilio's hear it."""
    lang = "&lang=cy" if language == "cy" else ""
    parts = len(app.extensions["helpline"].flows.speaking(language).voice.pages[page].parts)
    client = twilio_client(app)
    return [
        line
        for part in range(1, parts + 1)
        for line in heard(client.post(f"/voice/page/{page}?part={part}{lang}"))
    ]


def simulate(*args: str) -> Result:
    result = CliRunner().invoke(main, ["simulate", *args])
    assert result.exit_code == 0, result.output
    return result


def transcript_heard(result: Result) -> list[str]:
    """What the caller hears in `simulate call`'s transcript, in either language ("HEARS:",
    "HEARS (cy-GB):")."""
    lines = [line.strip() for line in result.stdout.splitlines()]
    return [re.sub(r"^HEARS( \(.*?\))?: ", "", line) for line in lines if line.startswith("HEARS")]


# ------------------------------------------------------------------ the law, as it is


@pytest.mark.parametrize("language", ["en", "cy"])
@pytest.mark.parametrize("part", ["voice", "sms"])
def test_the_old_law_is_gone_from_every_default_flow(
    shipped: Flows, language: str, part: str
) -> None:
    texts = [t.lower() for t in all_texts(getattr(flows_in(shipped, language), part))]
    assert len(texts) > 10
    for old in OLD_LAW:
        assert not [t for t in texts if old in t], old


@pytest.mark.parametrize("at", [OPEN_AT, CLOSED_AT, "2026-12-25T11:00"])
@pytest.mark.parametrize("language", ["en", "cy"])
def test_the_law_today_is_heard_in_step_2(
    make_app: AppFactory, welsh_on: Path, at: str, language: str
) -> None:
    said = page_heard(make_app(at, flows_dir=welsh_on), "step2", language)
    law = [line for line in said if LAW_SAYS[language][0] in line]
    assert law, said
    for words in LAW_SAYS[language]:
        assert_hears(law, words)
    assert said.index(law[0]) < 3  # first, after the title (and "Part 1 of N")


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("language", ["en", "cy"])
def test_simulate_a_caller_hears_the_law_today_in_step_2(language: str) -> None:
    """`simulate call`: the steps (2), then step 2 (2)."""
    args = ["call", "--at", EVENING_IN_DECEMBER, "--press", "2", "--press", "2"]
    said = transcript_heard(simulate(*args, *(["--language", "cy"] if language == "cy" else [])))
    for words in LAW_SAYS[language]:
        assert_hears(said, words)
    for old in OLD_LAW:
        assert not [line for line in said if old in line.lower()], old


def test_steps_text_2_states_the_law_today(make_app: AppFactory) -> None:
    texts = send(make_app(CLOSED_AT), "SEND STEPS")
    for words in LAW_TEXT_SAYS["en"]:
        assert words in texts[1], words


def test_camau_text_2_states_the_law_today(make_app: AppFactory, welsh_on: Path) -> None:
    app = make_app(CLOSED_AT, flows_dir=welsh_on)
    send(app, "CYMRAEG")
    texts = send(app, "ANFON CAMAU")
    for words in LAW_TEXT_SAYS["cy"]:
        assert words in texts[1], words


@pytest.mark.usefixtures("cli_env")
def test_simulate_sms_steps_reads_the_law_today() -> None:
    out = simulate("sms", "--at", EVENING_IN_DECEMBER, "--body", "SEND STEPS").stdout
    for words in LAW_TEXT_SAYS["en"]:
        assert words in out, words
    assert "intention" not in out


# ---------------------------------------------------------- StopNCII, Relay UK, emergencySMS


@pytest.mark.parametrize("language", ["en", "cy"])
def test_step_3_offers_stopncii_to_adults_and_report_remove_to_under_18s(
    make_app: AppFactory, welsh_on: Path, language: str
) -> None:
    said = page_heard(make_app(CLOSED_AT, flows_dir=welsh_on), "step3", language)
    assert_hears(said, "StopNCII")
    assert_hears(said, "stop N C I I dot org")  # spoken, not read as a web address
    assert_hears(said, "18")
    assert_hears(said, "Report Remove")


def test_steps_text_3_names_stopncii_and_report_remove(shipped: Flows) -> None:
    for flows in (shipped, flows_in(shipped, "cy")):
        text = flows.sms.steps[2]
        assert "StopNCII.org" in text and "Report Remove" in text and "18" in text


@pytest.mark.parametrize("at", [OPEN_AT, CLOSED_AT])
@pytest.mark.parametrize("language", ["en", "cy"])
def test_the_police_option_gives_relay_uk_and_emergency_sms(
    make_app: AppFactory, welsh_on: Path, at: str, language: str
) -> None:
    said = page_heard(make_app(at, flows_dir=welsh_on), "police", language)
    for words in RELAY_HEARD if language == "en" else RELAY_HEARD_CY:
        assert_hears(said, words)


def test_a_caller_who_chooses_the_police_hears_relay_uk_by_staying_on(
    make_app: AppFactory,
) -> None:
    """Menu option 3, then silence: every part of the police page, to the end."""
    app = make_app(CLOSED_AT)
    parts = len(app.extensions["helpline"].flows.voice.pages["police"].parts)
    said = simulate_call(app, ["3", *["-"] * parts]).heard()
    for words in RELAY_HEARD:
        assert_hears(said, words)


def test_help_gives_relay_uk_and_emergency_sms(make_app: AppFactory) -> None:
    reply = send(make_app(CLOSED_AT), "HELP")[-1]  # closed: the crisis text goes first
    for words in RELAY_READ:
        assert words in reply, words
    assert "999" in reply


def test_help_in_welsh_gives_relay_uk_and_emergency_sms(
    make_app: AppFactory, welsh_on: Path
) -> None:
    app = make_app(CLOSED_AT, flows_dir=welsh_on)
    send(app, "CYMRAEG")
    reply = send(app, "CYMORTH")[-1]  # closed: the crisis text goes first
    for words in RELAY_READ_CY:
        assert words in reply, words


# ------------------------------------------------------------------ links: on the call, not by text


@pytest.mark.parametrize("language", ["en", "cy"])
def test_steps_text_4_asks_for_links_on_the_call_not_by_text(shipped: Flows, language: str) -> None:
    text = flows_in(shipped, language).sms.steps[3].lower()
    for asks_to_send in ("send us", "direct link", "anfonwch ddolen"):
        assert asks_to_send not in text
    ready = {"en": "have the links", "cy": "dolenni'n barod"}[language]
    assert ready in text
    assert {"en": "don't text", "cy": "peidiwch ag anfon"}[language] in text


# ------------------------------------------------------------------ helpline check --review


def check_review() -> str:
    """`helpline check --review` on the shipped flows/."""
    env = {"HELPLINE_FLOWS_DIR": str(DEFAULT_DIR)}
    result = CliRunner().invoke(main, ["check", "--review"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def sections(output: str) -> dict[str, str]:
    """The numbered sections of the list ("1. ..."), by their first words."""
    found = re.split(r"\n(?=\d\. )", output)
    return {part.split("(")[0].strip(): part for part in found[1:]}


def test_review_lists_the_law_and_safety_first() -> None:
    output = check_review()
    listed = sections(output)
    names = list(listed)
    assert names[0].startswith("1. The law and safety"), names
    assert names[-1].startswith("4. Welsh"), names
    first, welsh = listed[names[0]], listed[names[-1]]
    marks = marked(DEFAULT_DIR)
    tagged = [m for m in marks if m.kind in KINDS]
    assert {m.file for m in tagged} >= {"voice.toml", "sms.toml", "cy/voice.toml", "cy/sms.toml"}
    for m in marks:
        place = f"\n  {m.file}, line {m.line}\n"
        assert (place in first) == (m.kind is not None), place
        assert (place in welsh) == (m.kind is None and m.file.startswith(f"{WELSH_FOLDER}/"))
    # The proposals on the law wait there too, and the advice page's sentence they replace.
    for entry in ("law-voice-step-2", "law-sms-step-2", "law-scotland", "law-northern-ireland"):
        assert f"\n  {entry}:" in first
        assert all(f"\n  {entry}:" not in other for other in list(listed.values())[1:])
    text = " ".join(first.split())
    assert "with the intention of causing distress" in text
    assert "not sure" in text  # the Northern Irish wording says so itself


# A line that speaks of the law or of a service for people in danger is reviewed first.
LEGAL_OR_SAFETY = re.compile(
    r"against the law|anghyfreithlon|Relay UK|StopNCII|emergencySMS|register",
    re.IGNORECASE,
)


def test_every_marked_line_on_the_law_or_safety_is_tagged_so() -> None:
    marks = [m for m in marked(DEFAULT_DIR) if LEGAL_OR_SAFETY.search(m.text)]
    assert len(marks) >= 10
    for m in marks:
        assert m.kind in KINDS, f"{m.file}:{m.line} is not tagged legal or safety"
