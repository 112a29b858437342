"""English and Welsh (issue 14, item 2): the Welsh content in flows/cy/ has every key the
English has, is checked like it, and a caller who chooses Welsh hears Welsh, in Polly's
Welsh voice, for the rest of the call; while Welsh is switched off (as shipped) nothing
changes for anyone."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.content.flows import (
    DEFAULT_DIR,
    PAIRED_FILES,
    SAFETY_LINE,
    WELSH_FOLDER,
    WELSH_LANGUAGE,
    WELSH_VOICE,
    FlowFileError,
    Flows,
    key_paths,
    load_flows,
)
from ivr.content.review import marked
from ivr.content.tomlfile import read_toml
from ivr.core import spoken
from ivr.simulate import Speech, simulate_call
from tests.common import CLOSED_AT, OPEN_AT
from tests.common import examples as property_examples
from tests.conftest import AppFactory

NOW = datetime(2026, 11, 25, 11, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> Flows:
    return load_flows(DEFAULT_DIR, NOW)


# ------------------------------------------------------------------ the content


@pytest.mark.parametrize("name", PAIRED_FILES)
def test_every_content_key_is_in_both_languages(name: str) -> None:
    english = key_paths(read_toml(DEFAULT_DIR / name).data)
    welsh = key_paths(read_toml(DEFAULT_DIR / WELSH_FOLDER / name).data)
    assert english.keys() == welsh.keys()


@pytest.mark.parametrize(
    ("file", "remove", "complaint_in"),
    [
        ("voice.toml", 'closed_now = "', "cy/voice.toml"),  # Welsh lacks a key English has
        ("sms.toml", 'kept = "', "cy/sms.toml"),
        ("phrases.toml", 'tomorrow = "', "cy/phrases.toml"),
    ],
)
def test_start_up_refuses_a_welsh_folder_missing_a_key(
    tmp_path: Path, file: str, remove: str, complaint_in: str
) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    path = folder / WELSH_FOLDER / file
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if remove not in line) + "\n"
    )
    with pytest.raises(FlowFileError) as error:
        load_flows(folder, NOW)
    assert str(error.value.path).endswith(complaint_in)
    assert "same keys" in error.value.message
    assert f"{DEFAULT_DIR.name}/{file} (line " in str(error.value).replace(str(tmp_path) + "/", "")


def test_start_up_refuses_an_english_folder_missing_a_key_the_welsh_has(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    path = folder / "voice.toml"
    path.write_text(path.read_text().replace('closed_now = "', 'closed_later = "'))
    with pytest.raises(FlowFileError) as error:
        load_flows(folder, NOW)
    assert error.value.path == folder / "voice.toml"
    assert "advisor.closed_now" in error.value.message or "closed_later" in error.value.message


def test_welsh_ships_switched_off_and_a_folder_without_cy_has_no_welsh(
    shipped: Flows, tmp_path: Path
) -> None:
    assert shipped.welsh is not None and not shipped.welsh_on
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    shutil.rmtree(folder / WELSH_FOLDER)
    (folder / "languages.toml").unlink()
    alone = load_flows(folder, NOW)
    assert alone.welsh is None and alone.speaking("cy") is alone


def test_every_welsh_sentence_waits_for_a_welsh_speakers_approval() -> None:
    """Each line of cy/ with words in it is marked APPROVAL NEEDED, so `check --review`
    lists it until the helpline's Welsh speaker approves it."""
    marks = [m for m in marked(DEFAULT_DIR) if m.file.startswith(f"{WELSH_FOLDER}/")]
    for name in PAIRED_FILES:
        path = DEFAULT_DIR / WELSH_FOLDER / name
        lines = path.read_text().splitlines()
        marked_lines = {m.line for m in marks if m.file == f"{WELSH_FOLDER}/{name}"}
        for number, line in enumerate(lines, start=1):
            text = line.split("=", 1)[-1]
            if line.lstrip().startswith("#") or not any(c.isalpha() for c in text):
                continue
            if '"' in text and not line.lstrip().startswith(("key", "action")):
                assert number - 1 in marked_lines, f"{path}:{number} is not marked"


def test_welsh_texts_are_within_their_segment_limit_and_discreet(shipped: Flows) -> None:
    from ivr.content.flows import (
        REVEALING,
        REVEALING_WELSH,
        WELSH_REPLY_SEGMENTS,
        WELSH_STEP_SEGMENTS,
        text_segments,
        unsendable,
    )

    assert shipped.welsh is not None
    sms = shipped.welsh.sms
    for text in sms.replies.values():
        assert text_segments(text) <= WELSH_REPLY_SEGMENTS
        assert not unsendable(text, welsh=True)
        assert not [w for w in (*REVEALING, *REVEALING_WELSH) if w in text.lower()]
    for text in sms.steps:
        assert text_segments(text) <= WELSH_STEP_SEGMENTS


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        ("Mae eich delwedd gennym ni.", "delwedd"),  # "image"
        ("Ffoniwch yr heddlu.", "heddlu"),  # "police"
        ("We have your photo.", "photo"),  # English words are checked in Welsh texts too
        ("Diolch 🙂", "characters"),
        ("Ŵ" * 202, "texts long"),  # 202 UCS-2 characters: 4 segments, the limit is 3
    ],
)
def test_start_up_refuses_a_welsh_text_that_reveals_or_costs_too_much(
    tmp_path: Path, reply: str, complaint: str
) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    path = folder / WELSH_FOLDER / "sms.toml"
    text = path.read_text()
    start = text.index('kept = "')
    end = text.index("\n", start)
    path.write_text(text[:start] + f'kept = "{reply}"' + text[end:])
    with pytest.raises(FlowFileError) as error:
        load_flows(folder, NOW)
    assert complaint in error.value.message and error.value.path == path


def test_welsh_letters_are_allowed_in_welsh_texts_at_the_ucs2_price(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    path = folder / WELSH_FOLDER / "sms.toml"
    text = path.read_text()
    path.write_text(text.replace('kept = "', "kept = \"Rydyn ni'n cadw'r cais, ŵyr. ", 1))
    assert "ŵyr" in load_flows(folder, NOW).welsh.sms.replies["kept"]  # type: ignore[union-attr]


def test_the_bilingual_opening_gives_the_999_line_within_the_word_limit(shipped: Flows) -> None:
    """What a call with Welsh on says before anything can be pressed: the greeting and the
    safety line in English, then in Welsh. The 999 line comes within the limit (counted to
    the first 999 line), and the Welsh half says it too."""
    assert shipped.welsh is not None
    opening = [
        *shipped.voice.greeting,
        shipped.voice.safety,
        *shipped.welsh.voice.greeting,
        shipped.welsh.voice.safety,
    ]
    found = spoken.words_before(opening, SAFETY_LINE)
    assert found is not None and found[1] <= 30
    assert SAFETY_LINE in shipped.welsh.voice.safety


# ------------------------------------------------------------------ the call


def welsh_app(make_app: AppFactory, folder: Path, at: str = OPEN_AT) -> Flask:
    return make_app(at, flows_dir=folder)


def test_with_welsh_on_the_call_opens_in_both_languages_then_asks(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    app = welsh_app(make_app, welsh_on)
    transcript = simulate_call(app, ["1"])
    said = transcript.heard()
    assert shipped.welsh is not None
    en, cy = shipped.voice, shipped.welsh.voice
    assert said[:4] == [*en.greeting, en.safety, *cy.greeting, cy.safety]
    assert en.choose_language and cy.choose_language
    assert said[4:6] == [en.choose_language.prompt, cy.choose_language.prompt]
    assert any(e["type"] == "hold" for e in transcript.events[:8])  # the short silence
    assert said[6:] == [  # the reassurance after the options, reached in time (issue 19)
        *en.open_say,
        *(o.prompt for o in en.open_options),
        en.navigation["repeat"].prompt,
        *en.reassurance,
    ]


def test_a_whole_welsh_call_through_the_simulator(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    """Welsh chosen: the reassurance, the menu, the steps and the callback questions in
    Welsh, every word in Polly's Welsh voice, the navigation keys as in English."""
    app = welsh_app(make_app, welsh_on)
    assert shipped.welsh is not None
    cy = shipped.welsh.voice
    nav = cy.navigation
    presses = ["2", "2", nav["next"].key, nav["menu"].key, "5", "07400123456", "1", "1", "1"]
    transcript = simulate_call(app, presses)
    said = transcript.heard()
    events = [e for e in transcript.events if e["type"] == "say"]
    assert all(e.get("language") == WELSH_LANGUAGE for e in events[6:])
    assert cy.reassurance[0] in said and cy.open_options[0].prompt in said
    assert cy.steps[0].title in said and cy.part.format(part=2, parts=4) in said
    assert cy.callback["read_back"].format(digits="0 7 4 0 0 1 2 3 4 5 6") in said
    assert cy.callback["voicemail"] in said and cy.callback["safe_time"] in said
    done = cy.callback["done_new"].format(when=cy.callback["soon"])
    assert done in said
    assert shipped.voice.reassurance[0] not in said


def test_the_choice_is_carried_in_every_url_and_spoken_by_gwyneth(
    make_app: AppFactory, welsh_on: Path
) -> None:
    from ivr.simulate import TwilioLikeClient

    app = welsh_app(make_app, welsh_on)
    client = TwilioLikeClient(app, {"CallSid": "CA" + "1" * 32, "From": "+447700900123"})
    xml = client.post("/voice/chosen?lang=cy").get_data(as_text=True)
    assert f'voice="{WELSH_VOICE}"' in xml and f'language="{WELSH_LANGUAGE}"' in xml
    assert "lang=cy" in xml  # the menu's action keeps the language
    assert 'language="en-GB"' in xml  # the Gather listens as en-GB: the danger words work
    assert "emergency" in xml  # ...and hints them


def test_a_welsh_caller_who_says_emergency_hears_the_999_line_in_welsh(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    app = welsh_app(make_app, welsh_on)
    assert shipped.welsh is not None
    transcript = simulate_call(app, ["2", Speech("emergency")])
    said = transcript.heard()
    assert shipped.welsh.voice.danger[0] in said


def test_silence_on_the_language_page_goes_on_in_english(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    transcript = simulate_call(welsh_app(make_app, welsh_on), ["-", "-"])
    assert shipped.voice.reassurance[0] in transcript.heard()


def test_simulate_language_cy_plays_welsh_while_welsh_is_off(
    make_app: AppFactory, shipped: Flows
) -> None:
    app = make_app(OPEN_AT)  # flows/ as shipped: Welsh off
    assert shipped.welsh is not None
    plain = simulate_call(app, [])
    assert shipped.welsh.voice.greeting[0] not in plain.heard()  # callers hear English only
    welsh = simulate_call(app, [], language="cy")
    assert shipped.welsh.voice.reassurance[0] in welsh.heard()


def test_a_closure_without_a_welsh_message_is_never_english_in_a_welsh_voice(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    from ivr.store.closures import close_line

    assert shipped.welsh is not None
    app = welsh_app(make_app, welsh_on)
    h = app.extensions["helpline"]
    close_line(h.redis, "Closed for training today.", None, h.keys.real)
    h.override.invalidate()
    said = simulate_call(app, ["2"]).heard()
    assert "Closed for training today." not in said
    assert shipped.welsh.voice.closed_reasons["not_open_today"] in said
    close_line(h.redis, "Closed for training.", None, h.keys.real, "Ar gau heddiw.")
    h.override.invalidate()
    assert "Ar gau heddiw." in simulate_call(app, ["2"]).heard()


def test_out_of_hours_in_welsh_says_the_hours_in_welsh(
    make_app: AppFactory, welsh_on: Path
) -> None:
    said = " ".join(simulate_call(welsh_app(make_app, welsh_on, CLOSED_AT), ["2"]).heard())
    assert "o 10yb tan 4yp, Llun i Gwener" in said
    assert "yfory am 10yb" in said


# ------------------------------------------------------------------ texts


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("CYMRAEG", "welsh"),
        ("cymraeg.", "welsh"),
        ("ENGLISH", "english"),
        ("Saesneg", "english"),
        ("CYMORTH", "help"),
        ("camau", "steps"),
        ("Unrhyw bryd", "anytime"),
        ("STOP", "opt_out"),  # opt-out words stay Twilio's
        ("stopiwch", "request"),  # not an opt-out word: Twilio's list is English
    ],
)
def test_welsh_keywords(body: str, kind: str) -> None:
    from datetime import date, time

    from ivr.core.keywords import interpret

    got = interpret(body, lambda: False, date(2026, 11, 25), (time(10), time(16)))
    assert got.kind == kind


@pytest.mark.parametrize(
    ("welsh", "english"),
    [
        ("ar ôl 2yp", "after 2pm"),
        ("ar ol 2", "after 2"),
        ("cyn 11yb", "before 11am"),
        ("rhwng 12 a 2", "between 12 and 2"),
        ("yfory 11yb", "tomorrow 11am"),
        ("dim ond yn y prynhawn", "dim ond afternoon"),
        ("bore Llun", "morning Llun"),
        ("after 2pm", "after 2pm"),  # English is left as it is
        ("a call at 2", "a call at 2"),
    ],
)
def test_welsh_safe_times_are_read_as_the_english_reader_knows_them(
    welsh: str, english: str
) -> None:
    from ivr.core.keywords import welsh_times

    assert welsh_times(welsh) == english


# Welsh time words, English ones, digits and what a word boundary turns on.
TIME_PIECES = st.sampled_from(
    ["ar ", "ôl", "ol", "cyn", "rhwng ", "a", "yfory", "heddiw", "yb", "yp", "yh", "bore",
     "yn y ", "prynhawn", "2", "11", " ", "hello", "after", "-", "é"]
)  # fmt: skip


@settings(max_examples=property_examples(1000), deadline=None)
@given(st.lists(TIME_PIECES, max_size=10).map("".join))
def test_welsh_time_words_are_read_the_same_when_searched_for_first(text: str) -> None:
    """welsh_times looks for any Welsh time word once before replacing each in turn."""
    from ivr.core.keywords import WELSH_TIME_WORDS, welsh_times

    each_in_turn = text
    for pattern, english in WELSH_TIME_WORDS:
        each_in_turn = pattern.sub(english, each_in_turn)
    assert welsh_times(text) == each_in_turn


def test_cymraeg_switches_replies_to_welsh_from_then_on(
    make_app: AppFactory, welsh_on: Path, shipped: Flows
) -> None:
    from tests.common import SENDER, only, send

    assert shipped.welsh is not None
    app = welsh_app(make_app, welsh_on)
    english = only(send(app, "please call me"))
    assert english.startswith("Thanks for your message.")
    assert only(send(app, "CYMRAEG")).startswith("Rydyn ni ar agor o 10yb tan 4yp, Llun i Gwener")
    welsh = only(send(app, "ar ôl 2yp"))
    assert welsh.startswith("Iawn, byddwn ni'n eich ffonio chi ar ôl 2yp yn unig.")
    assert send(app, "ANFON CAMAU") == list(shipped.welsh.sms.steps)  # CAMAU asks first
    h = app.extensions["helpline"]
    assert h.queue.language_of(SENDER) == "cy"
    # Found: a texter's callback was shown to advisors as English whatever they chose.
    assert h.queue.open_for(SENDER).language == "cy"
    assert only(send(app, "ENGLISH")).startswith("We are open from 10am to 4pm")
    assert h.queue.language_of(SENDER) == "en"
    assert h.queue.open_for(SENDER).language == "en"


def test_with_welsh_off_cymraeg_is_an_ordinary_message(make_app: AppFactory) -> None:
    from tests.common import SENDER, only, send

    app = make_app(OPEN_AT)
    assert only(send(app, "CYMRAEG")).startswith("Thanks for your message.")
    assert app.extensions["helpline"].queue.language_of(SENDER) == "en"


def test_the_language_chosen_is_sealed_and_erased_by_stop(
    make_app: AppFactory, welsh_on: Path, store
) -> None:
    from tests.common import SENDER, send

    app = welsh_app(make_app, welsh_on)
    send(app, "please call me")
    send(app, "CYMRAEG")
    h = app.extensions["helpline"]
    (key,) = store.keys("*lang*")
    assert store.get(key) != "cy" and len(store.get(key)) > 20  # sealed
    assert SENDER not in key and SENDER[1:] not in key
    send(app, "STOP")
    assert not store.keys("*lang*")
    assert h.queue.language_of(SENDER) == "en"


def test_a_callback_asked_in_welsh_shows_its_language(make_app: AppFactory, welsh_on: Path) -> None:
    from ivr.web.console import LANGUAGE_LABELS

    app = welsh_app(make_app, welsh_on)
    simulate_call(app, ["2", "5", "07400123456", "1", "1", "1"])
    h = app.extensions["helpline"]
    callback = h.queue.open_for("+447400123456")
    assert callback is not None and callback.language == "cy"
    raw = h.redis.hget(h.keys.callback(callback.id), "language")
    assert raw and raw != "cy" and len(raw) > 20  # sealed at rest
    assert LANGUAGE_LABELS[callback.language] == "Cymraeg (Welsh)"


def test_data_show_names_the_language_and_data_erase_erases_it(
    cli, make_app: AppFactory, welsh_on: Path, store
) -> None:
    from tests.common import send

    send(welsh_app(make_app, welsh_on), "CYMRAEG")
    shown = cli("data", "show", "07400123456", flows=welsh_on).output
    assert "Language chosen for texts: cy (main)" in shown
    cli("data", "erase", "07400123456", "--yes", flows=welsh_on)
    shown = cli("data", "show", "07400123456", flows=welsh_on).output
    assert "Language chosen for texts: English (none chosen)" in shown


def test_a_callback_asked_for_in_welsh_by_text_is_shown_as_welsh(
    make_app: AppFactory, welsh_on: Path
) -> None:
    """Found: CYMRAEG, then ANYTIME: the callback's language read English."""
    from tests.common import SENDER, send

    app = welsh_app(make_app, welsh_on)
    send(app, "CYMRAEG")
    send(app, "UNRHYW BRYD")
    waiting = app.extensions["helpline"].queue.open_for(SENDER)
    assert waiting is not None and waiting.language == "cy"
