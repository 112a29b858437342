"""Loading and checking flows/: what callers hear and the opening hours, once, at start-up.

A mistake in a file stops start-up with the file and line, so nothing silently wrong reaches
a caller. The rest of the app only ever sees the checked, typed result.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ivr.content.tomlfile import FlowFileError, TomlFile, Where, read_toml
from ivr.core import spoken
from ivr.core.calltree import STEP_COUNT, Option, Step
from ivr.core.crisis import CLASSES, CrisisWords, Phrase
from ivr.core.gsm7 import non_gsm7, segments, ucs2_segments
from ivr.core.hours import (
    WEEKDAYS,
    HoursConfig,
    HoursError,
    OpeningHours,
    Override,
    Status,
    check_opens,
    parse_hours,
    parse_time,
)
from ivr.core.languages import ENGLISH, WELSH
from ivr.core.phrases import MONTHS, PhraseTemplates, usual_hours, when
from ivr.core.promise import meets_week
from ivr.core.safetime import Window
from ivr.core.stopping import MEANINGS, StopWords

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "flows"
WELSH_FOLDER = "cy"  # a helpline's Welsh content, beside its English files
LANGUAGES_FILE = "languages.toml"  # welsh = true switches Welsh on for callers
PAIRED_FILES = ("voice.toml", "sms.toml", "phrases.toml")  # the same keys in both languages
SAFETY_FILE = "safety.toml"  # the words of danger, despair and help, with examples
EXAMPLES = (*CLASSES, "none")  # safety.toml's [examples]: what each class must match, and not

MENU_ACTIONS = ("advisor", "steps", "police", "support", "callback")
QUEUE_ACTIONS = ("swap", "steps", "police", "support")
QUEUE_TEXTS = (
    "joining",
    "position",
    "next",
    "waiting",
    "estimate",
    "estimate_one",
    "no_estimate",
    "back",
    "back_prompt",
    "connecting",
    "samaritans",
)
QUEUE_LEAVE = ("swap", "max_wait", "closing", "no_advisors")
QUEUE_ADVISOR = ("connect", "no_key", "gone", "taken", "failed", "ended")
CLOSED_REASONS = (
    "weekend",
    "bank_holiday",
    "closure",
    "before_opening",
    "after_closing",
    "not_open_today",
)
NAVIGATION = ("previous", "repeat", "next", "menu")
OWN_KEYS = "123456"  # a page's own options; navigation keys are never among them
_PRESS = re.compile(r"\bpress ([0-9*#])(?![0-9])", re.IGNORECASE)
CLOSED_FIELDS = ("reason", "usual_hours", "when")
CALLBACK_FIELDS = {
    "confirm_number": ("last3",),
    "read_back": ("digits",),
    "closing": ("closes", "fallback"),
    "done_new": ("when",),
    "done_existing": ("when",),
}
QUEUE_FIELDS = {"position": ("position",), "estimate": ("minutes",)}


@dataclass(frozen=True)
class Page:
    """An advice page (a step, the police, other support), split into parts short enough to
    listen to (see spoken.split)."""

    title: str | None
    parts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class VoiceContent:
    greeting: tuple[str, ...]
    safety: str
    reassurance: tuple[str, ...]
    open_say: tuple[str, ...]
    open_options: tuple[Option, ...]
    closed_say: tuple[str, ...]
    closed_after: tuple[str, ...]
    closed_when_unknown: str
    closed_text_us: str
    closed_reasons: Mapping[str, str]
    closed_options: tuple[Option, ...]
    no_input: str
    invalid: str
    gave_up: tuple[str, ...]
    navigation: Mapping[str, Option]
    choose_step: str
    next_step: str
    last_step: str
    part: str
    continues: str
    steps_intro: tuple[str, ...]
    steps: tuple[Step, ...]
    police: tuple[str, ...]
    support: tuple[str, ...]
    pages: Mapping[str, Page]
    danger: tuple[str, ...]
    despair: tuple[str, ...]
    help_open: tuple[str, ...]
    help_closed: tuple[str, ...]
    offer_advisor: Option
    advisor: Mapping[str, str]
    callback: Mapping[str, str]
    answers: tuple[Option, ...]
    safe_times: tuple[tuple[Option, Window], ...]
    outbound: Mapping[str, str]
    queue: Mapping[str, str]
    queue_options: tuple[Option, ...]
    queue_leave: Mapping[str, str]
    queue_advisor: Mapping[str, str]
    goodbye: tuple[str, ...]
    fallback: tuple[str, ...]
    # The language page's line in this language ("For English, press 1."), when offered.
    choose_language: Option | None = None
    # [limits]: seconds of speech from the call's first word to the first option's key and
    # to the callback option's key (see opening_problem).
    first_option_seconds: int = 30
    callback_seconds: int = 45

    def call_start(
        self, intro: tuple[str, ...], outro: tuple[str, ...] = (), bilingual: bool = False
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """What a call hears first: before the menu listens (the greeting and the safety
        line), then as it listens (the reassurance, then `intro`: the open or closed words),
        the options, then `outro`. After the bilingual opening (Welsh on) the greeting and
        the safety line have been said, and the reassurance comes after the options, so
        they are reached in time (see opening_problem). Checked at start-up for the 999 line
        (see _check_safety_lines)."""
        if bilingual:
            return (), intro, (*self.reassurance, *outro)
        return (*self.greeting, self.safety), (*self.reassurance, *intro), outro


SMS_REPLIES = (
    "crisis",
    "stopped",
    "soon",
    "closing",
    "reopen",
    "held",
    "new",
    "existing",
    "options",
    "preferred",
    "anytime",
    "noted",
    "outside_hours",
    "ambiguous",
    "held_new",
    "kept",
    "ask_time",
    "time_unclear",
    "closure",
    "closed_until",
    "help",
    "steps_ask",
    "media",
    "not_uk",
    "spooled",
    "unavailable",
)
WINDOW_FIELDS = {
    "after": ("time",),
    "before": ("time",),
    "between": ("start", "end"),
    "any_time": (),
    "days": ("days",),
    "except_days": ("days",),
    "range": ("first", "last"),
    "plural": ("weekday",),
    "and": (),
    "from_date": ("weekday", "day", "month"),
}
# A closure's message reaches text replies too, so it is held to what a text may say.
CLOSURE_MESSAGE_MAX = 120
CLOSURE_MESSAGE_MAX_WELSH = 70  # in UCS-2 a text holds 70 characters, not 160
# Words that would tell whoever sees the phone what the helpline is about.
REVEALING = (
    "suicid",
    "self-harm",
    "self harm",
    "overdose",
    "image",
    "photo",
    "intimate",
    "nude",
    "abuse",
    "police",
    "revenge",
    "porn",
    "sexual",
    "consent",
    "explicit",
    "harass",
)
# The same in Welsh, checked in Welsh texts as well as the English words.
REVEALING_WELSH = (
    "hunanladd",
    "hunan-niwed",
    "delwedd",
    "heddlu",
    "personol",
    "noeth",
    "cam-drin",
    "camdrin",
    "rhywiol",
    "caniatad",
    "caniatâd",
    "aflonyddu",
    "dial",
)
MAX_REPLY_SEGMENTS = 2
MAX_STEP_SEGMENTS = 3
# Welsh: correct spelling needs letters GSM-7 lacks (ŵ, ŷ, â...), and one of them makes the
# whole text UCS-2 (70 characters a segment, 67 when split): Welsh texts get their own limits,
# counted in the encoding the text will really use (README: "Welsh").
WELSH_LETTERS = frozenset("âêîôûŵŷÂÊÎÔÛŴŶáíóúẃýÁÍÓÚẂÝïëÏËẅẄÿŸẁỳ")
WELSH_REPLY_SEGMENTS = 3
WELSH_STEP_SEGMENTS = 6
WELSH_VOICE = "Polly.Gwyneth"  # Amazon Polly's Welsh voice, as Twilio's <Say> names it
WELSH_LANGUAGE = "cy-GB"


def unsendable(text: str, welsh: bool = False) -> list[str]:
    """The characters of `text` a text message can't carry cheaply (Welsh letters are
    allowed in Welsh texts)."""
    return [c for c in non_gsm7(text) if not (welsh and c in WELSH_LETTERS)]


def revealing_words(text: str, welsh: bool = False) -> list[str]:
    """The words of `text` that would tell whoever sees the phone what the helpline is
    about (a Welsh text is checked for the English words too)."""
    words = REVEALING + (REVEALING_WELSH if welsh else ())
    return [w for w in words if w in text.lower()]


def text_segments(text: str) -> int:
    """How many segments `text` costs: GSM-7's count, or UCS-2's when a character needs it."""
    return segments(text) if not non_gsm7(text) else ucs2_segments(text)


@dataclass(frozen=True)
class SmsContent:
    replies: Mapping[str, str]
    steps: tuple[str, ...]
    advisor_opening: str
    # [ended]: to a person whose callback ends unreached: closed by a supervisor "with a
    # text", and a held one that never got a safe time ("": no text, the default).
    ended: Mapping[str, str]


@dataclass(frozen=True)
class Safety:
    """safety.toml: the phrases of each class, and the examples the tests hold them to."""

    words: CrisisWords
    examples: Mapping[str, tuple[str, ...]]  # a class (or "none") -> sentences
    borderline: tuple[tuple[str, str, str], ...] = ()  # (says, means, why)
    # [stop]: the words that ask us to stop calling and texting (texts only), and
    # [stop.examples] as (means, says), "stop" or "none", the borderline ones among them.
    stop: StopWords = StopWords()
    stop_examples: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Flows:
    """Everything loaded from flows/, checked."""

    directory: Path
    hours_config: HoursConfig
    hours: OpeningHours
    phrases: PhraseTemplates
    voice: VoiceContent
    sms: SmsContent
    safety: Safety
    language: str = ENGLISH
    # The Welsh content (the folder cy/), loaded and checked whenever it is there, so staff
    # can hear it before it goes live; callers are offered it only when `welsh_on`.
    welsh: Flows | None = None
    welsh_on: bool = False
    # Every language's phrases together (load_flows): what calls and texts are matched on.
    every_language: CrisisWords | None = None
    every_stop: StopWords | None = None

    @property
    def crisis(self) -> CrisisWords:
        """The phrases a caller's or texter's words are matched on, in any language."""
        return self.every_language or self.safety.words

    @property
    def stop(self) -> StopWords:
        """The phrases that ask us to stop, in any language (a text is not labelled)."""
        return self.every_stop or self.safety.stop

    def speaking(self, language: str) -> Flows:
        """The content in `language` ("cy": Welsh, when there is Welsh content), else this."""
        return self.welsh if language == WELSH and self.welsh is not None else self

    @property
    def voice_name(self) -> str | None:
        """The <Say> voice and language for this content (None: the settings')."""
        return WELSH_VOICE if self.language == WELSH else None

    def menu_intro(self, status: Status) -> tuple[str, ...]:
        """What the open or closed menu says before its options at `status`."""
        return self.voice.open_say if status.open else self.closed_intro(status)

    @cached_property
    def usual_hours(self) -> str:
        """The usual week in words ("from 10am to 4pm, Monday to Friday")."""
        return usual_hours(self.hours_config.weekly, self.phrases)

    def closed_intro(self, status: Status) -> tuple[str, ...]:
        """[closed].say, filled in for `status`: said before the closed menu's options."""
        fields = self._closed_fields(status)
        return tuple(line.format(**fields) for line in self.voice.closed_say)

    def closed_outro(self, status: Status) -> tuple[str, ...]:
        """[closed].after, filled in for `status`: said after the closed menu's options."""
        fields = self._closed_fields(status)
        return tuple(line.format(**fields) for line in self.voice.closed_after)

    def _closed_fields(self, status: Status) -> dict[str, str]:
        """Why we are closed, the usual hours and when we open again. A closure with no
        Welsh message is said as "not open today" in Welsh: never English in a Welsh voice
        (README, Welsh)."""
        content = self.voice
        reason = status.reason
        reason_text = ""
        if reason and reason.kind == "closure" and self.language == WELSH and not reason.welsh:
            reason_text = content.closed_reasons["not_open_today"]
        elif reason:
            message = reason.welsh if self.language == WELSH else reason.text
            reason_text = content.closed_reasons[reason.kind].format(
                name=reason.text or "", message=message or ""
            )
        return {
            "reason": reason_text,
            "usual_hours": self.usual_hours,
            "when": when(status.next_opening, status.at, self.hours, self.phrases)
            if status.reopening_known
            else content.closed_when_unknown,
        }

    def fallback_lines(self) -> list[str]:
        """The fallback message, with the usual hours from hours.toml filled in."""
        return [line.format(usual_hours=self.usual_hours) for line in self.voice.fallback]

    def ended_text(self, which: str) -> str:
        """The [ended] text `which` (closed, held), usual hours filled in; "": none is sent."""
        return self.sms.ended[which].format(usual_hours=self.usual_hours)


class _Reader:
    """Typed access to one TOML file; every complaint names the file and line."""

    def __init__(self, file: TomlFile) -> None:
        self.file = file

    def get(self, where: Where) -> Any:
        node: Any = self.file.data
        for part in where:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                raise self.file.error(
                    where[:-1] if where[:-1] else where, f"missing {'.'.join(map(str, where))}"
                ) from None
        return node

    def text(self, where: Where, fields: tuple[str, ...] = ()) -> str:
        value = self.get(where)
        if not isinstance(value, str) or not value.strip():
            raise self.file.error(where, f"{_name(where)} must be some text")
        self._check_fields(where, value, fields)
        return value.strip()

    def texts(self, where: Where, fields: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(where)
        if isinstance(value, str):
            value = [value]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise self.file.error(
                where,
                f"{_name(where)} must be a list of texts, "
                'e.g. ["First sentence.", "Second sentence."]',
            )
        for v in value:
            self._check_fields(where, v, fields)
        return tuple(v.strip() for v in value)

    def words(self, where: Where) -> tuple[str, ...]:
        value = self.get(where)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.file.error(where, f"{_name(where)} must be a list of words")
        return tuple(v.strip().lower() for v in value)

    def key(self, where: Where) -> str:
        value = self.get(where)
        if not isinstance(value, str) or len(value) != 1 or value not in "0123456789*#":
            raise self.file.error(where, f'{_name(where)} must be one phone key, e.g. "1"')
        return value

    def _check_fields(self, where: Where, value: str, allowed: tuple[str, ...]) -> None:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise self.file.error(where, f"{_name(where)}: unbalanced braces ({exc})") from None
        for f in fields:
            if f not in allowed:
                hint = (
                    f"only {', '.join('{' + a + '}' for a in allowed)} can be used here"
                    if allowed
                    else "no {placeholders} can be used here"
                )
                raise self.file.error(where, f"{_name(where)}: unknown {{{f}}}: {hint}")

    def option(self, where: Where, actions: tuple[str, ...]) -> Option:
        action = self.text((*where, "action"))
        if action not in actions:
            raise self.file.error(
                (*where, "action"), f"unknown action {action!r} (one of {', '.join(actions)})"
            )
        return Option(
            self.key((*where, "key")),
            action,
            self.text((*where, "prompt")),
            self.words((*where, "words")),
        )

    def options(self, where: Where, actions: tuple[str, ...]) -> tuple[Option, ...]:
        entries = self.get(where)
        if not isinstance(entries, list) or not entries:
            raise self.file.error(where, f"{_name(where)} needs at least one option")
        options = tuple(self.option((*where, i), actions) for i in range(len(entries)))
        seen: dict[tuple[str, str], int] = {}
        for i, option in enumerate(options):
            for label, value in (("key", option.key), ("action", option.action)):
                if (label, value) in seen:
                    raise self.file.error(
                        (*where, i, label), f"{label} {value!r} is used twice in this menu"
                    )
                seen[(label, value)] = i
        return options


def _name(where: Where) -> str:
    return ".".join(str(p) for p in where)


def _check_prompt(file: TomlFile, where: Where, option: Option) -> None:
    """A prompt that says "press N" must name the option's own key."""
    named = _PRESS.findall(option.prompt)
    if named and named != [option.key]:
        raise file.error(
            (*where, "prompt"),
            f'{_name(where)}.prompt says "press {named[0]}" but its key is {option.key!r}',
        )


def _navigation(r: _Reader) -> dict[str, Option]:
    """The navigation keys, the same on every page: distinct, and none of 1 to 6 (which are
    each page's own options)."""
    navigation = {
        name: Option(
            r.key(("navigation", name, "key")),
            name,
            r.text(("navigation", name, "prompt")),
            r.words(("navigation", name, "words")),
        )
        for name in NAVIGATION
    }
    nav_keys = [o.key for o in navigation.values()]
    for name, option in navigation.items():
        where = ("navigation", name)
        if nav_keys.count(option.key) > 1 or option.key in OWN_KEYS:
            raise r.file.error(
                (*where, "key"),
                f"navigation key {option.key!r} ({name}) is "
                "used twice, or is one of 1 to 6, which pages use for their "
                "own options",
            )
        _check_prompt(r.file, where, option)
    return navigation


def _check_own_keys(
    file: TomlFile, options: list[tuple[Where, Option]], navigation: Mapping[str, Option]
) -> None:
    """A page's own options use 1 to 6, never a navigation key."""
    nav = {o.key: name for name, o in navigation.items()}
    for where, option in options:
        if option.key in nav:
            raise file.error(
                (*where, "key"),
                f"key {option.key!r} is the {nav[option.key]} "
                "key on every page ([navigation]); this page's own options use "
                "1 to 6",
            )
        if option.key not in OWN_KEYS:
            raise file.error(
                (*where, "key"), f"key {option.key!r}: a page's own options use 1 to 6"
            )
        _check_prompt(file, where, option)


def _limit(r: _Reader, name: str, default: int) -> int:
    """A number from [limits], or its default when the file doesn't set it. Staff may make
    a limit stricter, never looser than the default: the file it checks can't switch the
    check off."""
    value = r.file.data.get("limits", {}).get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= default:
        raise r.file.error(
            ("limits", name), f"limits.{name} must be a whole number from 1 to {default}"
        )
    return value


def _pages(
    r: _Reader, steps: tuple[Step, ...], intro: tuple[str, ...], part: str, limit: int
) -> dict[str, Page]:
    """Each advice page split at its `say` items into as few parts as fit `limit` spoken
    words, as evenly as possible. Counted: what is said before the keys to press (the steps'
    introduction before step 1, the title, "part 1 of 2" and the advice); the key prompts
    that follow are the same on every page and not counted."""
    label = spoken.words(part.format(part=1, parts=2))
    sources: list[tuple[str, Where, str | None]] = [
        (f"step{i + 1}", ("steps", "step", i, "say"), step.title) for i, step in enumerate(steps)
    ]
    sources += [("police", ("police", "say"), None), ("support", ("support", "say"), None)]
    pages = {}
    for name, where, title in sources:
        texts = r.texts(where)
        sizes = [spoken.words(t) for t in texts]

        def overhead(index: int, parts: int, name: str = name, title: str | None = title) -> int:
            return (
                spoken.words(title or "")
                + (label if parts > 1 else 0)
                + (sum(map(spoken.words, intro)) if name == "step1" and index == 0 else 0)
            )

        cuts = spoken.split(sizes, limit, overhead)
        if cuts is None:
            i = next(i for i, size in enumerate(sizes) if size + overhead(i, len(sizes)) > limit)
            total = sizes[i] + overhead(i, len(sizes))
            raise r.file.error(
                (*where, i),
                f"{_name(where)}: this item would make a page of "
                f"{total} spoken words (about {spoken.seconds(total)} seconds) "
                f"with its title and part number; a page holds {limit} "
                "(limits.page_words): split it into two items",
            )
        pages[name] = Page(title, tuple(texts[a:b] for a, b in cuts))
    return pages


SAFETY_LINE = "9 9 9"  # the 999 line, as written to be read out digit by digit
SAMARITANS_LINE = "1 1 6, 1 2 3"  # Samaritans' free number, read out digit by digit
PLACEHOLDER_WORDS = 8  # a {placeholder} counts as about what the app fills in
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _check_999(
    file: TomlFile, what: str, heard: list[tuple[Where, str]], limit: int, missing: Where
) -> None:
    """`heard` (where each text is, the text, in the order said) must give the 999 line
    within `limit` spoken words of its start."""
    texts = [_PLACEHOLDER.sub(" x" * PLACEHOLDER_WORDS, text) for _, text in heard]
    found = spoken.words_before(texts, SAFETY_LINE)
    if found is None:
        raise file.error(missing, f'{what} never gives the 999 line ("{SAFETY_LINE}")')
    if found[1] > limit:
        raise file.error(
            heard[0][0],
            f'{what} gives the 999 line ("{SAFETY_LINE}") after '
            f"{found[1]} spoken words; it must come within the first {limit} "
            "(limits.words_before_999)",
        )


def _check_safety_lines(r: _Reader) -> None:
    """The 999 line early at the start of every call, in and out of hours (what is said
    before the menu, see VoiceContent.call_start) and in the fallback; and in the safety line
    and the danger lines themselves; Samaritans' number where despair or help is answered and
    in the wait."""
    for where in (
        ("greeting", "safety"),
        ("danger", "say"),
        ("despair", "say"),
        ("help", "closed"),
    ):
        if SAFETY_LINE not in " ".join(r.texts(where)):
            raise r.file.error(
                where, f'{_name(where)} must give the 999 line, with 999 written "{SAFETY_LINE}"'
            )
    for where in (("despair", "say"), ("help", "closed"), ("queue", "samaritans")):
        if SAMARITANS_LINE not in " ".join(r.texts(where)):
            raise r.file.error(
                where,
                f'{_name(where)} must give Samaritans\' number, written "{SAMARITANS_LINE}"',
            )
    limit = _limit(r, "words_before_999", 30)

    def items(where: Where, fields: tuple[str, ...] = ()) -> list[tuple[Where, str]]:
        return [((*where, i), text) for i, text in enumerate(r.texts(where, fields))]

    start = [
        *items(("greeting", "say")),
        (("greeting", "safety"), r.text(("greeting", "safety"))),
        *items(("greeting", "reassurance")),
    ]
    for what, intro in (
        ("the start of every call", ("open", "say")),
        ("the start of a call out of hours", ("closed", "say")),
    ):
        _check_999(
            r.file, what, [*start, *items(intro, CLOSED_FIELDS)], limit, ("greeting", "safety")
        )
    _check_999(
        r.file,
        "the fallback",
        items(("fallback", "say"), ("usual_hours",)),
        limit,
        ("fallback", "say"),
    )


def load_voice(file: TomlFile) -> VoiceContent:
    r = _Reader(file)
    _check_safety_lines(r)
    open_options = r.options(("open", "options"), MENU_ACTIONS)
    closed_options = r.options(("closed", "options"), MENU_ACTIONS)
    for i, option in enumerate(closed_options):
        if option.action == "advisor":
            raise file.error(
                ("closed", "options", i, "action"), "the closed menu cannot offer an advisor"
            )
    reason_fields = {"bank_holiday": ("name",), "closure": ("message",)}
    navigation = _navigation(r)
    for menu, options in (("open", open_options), ("closed", closed_options)):
        _check_own_keys(
            file, [((menu, "options", i), o) for i, o in enumerate(options)], navigation
        )
    continues = r.text(("navigation", "continues"))
    for key in _PRESS.findall(continues):
        if key not in {o.key for o in navigation.values()}:
            raise file.error(
                ("navigation", "continues"),
                f'navigation.continues says "press {key}", which is not a navigation key',
            )
    answers = tuple(
        Option(r.key(("callback", a, "key")), a, "", r.words(("callback", a, "words")))
        for a in ("yes", "no")
    )
    _check_own_keys(file, [(("callback", a.action), a) for a in answers], navigation)
    safe_times = _safe_times(r)
    queue_options = r.options(("queue", "options"), QUEUE_ACTIONS)
    _check_own_keys(
        file, [(("queue", "options", i), o) for i, o in enumerate(queue_options)], navigation
    )
    if "swap" not in {o.action for o in queue_options}:
        raise file.error(("queue", "options"), "the wait must offer the swap to a callback")
    queue = {k: r.text(("queue", k), QUEUE_FIELDS.get(k, ())) for k in QUEUE_TEXTS}
    if _PRESS.findall(queue["back_prompt"]) not in ([], [navigation["menu"].key]):
        raise file.error(
            ("queue", "back_prompt"),
            f"queue.back_prompt must name the main menu key ({navigation['menu'].key})",
        )
    _check_own_keys(
        file,
        [(("callback", "safe_times", i), o) for i, (o, _) in enumerate(safe_times)],
        navigation,
    )
    offer_advisor = Option(
        r.key(("offer_advisor", "key")),
        "advisor",
        r.text(("offer_advisor", "prompt")),
        r.words(("offer_advisor", "words")),
    )
    _check_own_keys(file, [(("offer_advisor",), offer_advisor)], navigation)
    entries = r.get(("steps", "step"))
    if not isinstance(entries, list) or len(entries) != STEP_COUNT:
        raise file.error(("steps",), f"there must be exactly {STEP_COUNT} [[steps.step]] entries")
    steps = tuple(
        Step(r.text(("steps", "step", i, "title")), r.words(("steps", "step", i, "words")))
        for i in range(STEP_COUNT)
    )
    steps_intro = r.texts(("steps", "intro"))
    part = r.text(("navigation", "part"), ("part", "parts"))
    return VoiceContent(
        choose_language=_language_choice(r, navigation),
        greeting=r.texts(("greeting", "say")),
        safety=r.text(("greeting", "safety")),
        reassurance=r.texts(("greeting", "reassurance")),
        open_say=r.texts(("open", "say")),
        open_options=open_options,
        closed_say=r.texts(("closed", "say"), CLOSED_FIELDS),
        closed_after=r.texts(("closed", "after"), CLOSED_FIELDS),
        closed_when_unknown=r.text(("closed", "when_unknown")),
        closed_text_us=r.text(("closed", "text_us")),
        closed_reasons={
            k: r.text(("closed", "reasons", k), reason_fields.get(k, ())) for k in CLOSED_REASONS
        },
        closed_options=closed_options,
        no_input=r.text(("menu", "no_input")),
        invalid=r.text(("menu", "invalid")),
        gave_up=r.texts(("menu", "gave_up")),
        navigation=navigation,
        choose_step=r.text(("navigation", "choose_step")),
        next_step=r.text(("navigation", "next_step")),
        last_step=r.text(("navigation", "last_step")),
        part=part,
        continues=continues,
        steps_intro=steps_intro,
        steps=steps,
        police=r.texts(("police", "say")),
        support=r.texts(("support", "say")),
        pages=_pages(r, steps, steps_intro, part, _limit(r, "page_words", 112)),
        danger=r.texts(("danger", "say")),
        despair=r.texts(("despair", "say")),
        help_open=r.texts(("help", "open")),
        help_closed=r.texts(("help", "closed")),
        offer_advisor=offer_advisor,
        advisor={
            k: r.text(("advisor", k))
            for k in ("connecting", "unavailable", "closed_now", "screen", "screen_declined")
        },
        callback={
            k: r.text(("callback", k), CALLBACK_FIELDS.get(k, ()))
            for k in (
                "soon",
                "closing",
                "reopen",
                "safe_time",
                "confirm_number",
                "ask_number",
                "read_back",
                "invalid_number",
                "key_it_in",
                "voicemail",
                "done_new",
                "done_existing",
                "unavailable",
            )
        },
        answers=answers,
        safe_times=safe_times,
        outbound={
            k: r.text(("outbound", k))
            for k in ("connect", "no_key", "closed", "not_claimed", "machine", "no_answer", "ended")
        },
        queue=queue,
        queue_options=queue_options,
        queue_leave={k: r.text(("queue", "leave", k)) for k in QUEUE_LEAVE},
        queue_advisor={k: r.text(("queue", "advisor", k)) for k in QUEUE_ADVISOR},
        goodbye=r.texts(("goodbye", "say")),
        fallback=r.texts(("fallback", "say"), ("usual_hours",)),
        first_option_seconds=_limit(r, "seconds_to_first_option", 30),
        callback_seconds=_limit(r, "seconds_to_callback", 45),
    )


def _language_choice(r: _Reader, navigation: Mapping[str, Option]) -> Option | None:
    """[language]: this language's line on the page where a caller chooses English or Welsh
    (only read when the helpline has Welsh content)."""
    if "language" not in r.file.data:
        return None
    option = Option(
        r.key(("language", "key")),
        "language",
        r.text(("language", "prompt")),
        r.words(("language", "words")),
    )
    _check_own_keys(r.file, [(("language",), option)], navigation)
    return option


def _safe_times(r: _Reader) -> tuple[tuple[Option, Window], ...]:
    """The keypad choice of a safe time on a call: each key a window of the day."""
    entries = r.get(("callback", "safe_times"))
    if not isinstance(entries, list) or not entries:
        raise r.file.error(("callback", "safe_times"), "callback.safe_times needs choices")
    choices = []
    for i, entry in enumerate(entries):
        where: Where = ("callback", "safe_times", i)
        if not isinstance(entry, Mapping):
            raise r.file.error(where, 'each safe time is { key = "1", words = [...] }')
        bounds = {}
        for name in ("earliest", "latest"):
            if name in entry:
                try:
                    bounds[name] = parse_time(entry[name], (*where, name))
                except HoursError as exc:
                    raise r.file.error((*where, name), exc.message) from None
        window = Window(bounds.get("earliest"), bounds.get("latest"))
        if window.earliest and window.latest and window.earliest >= window.latest:
            raise r.file.error(where, "earliest must come before latest")
        choices.append(
            (
                Option(
                    r.key((*where, "key")), f"safe_time_{i + 1}", "", r.words((*where, "words"))
                ),
                window,
            )
        )
    keys = [o.key for o, _ in choices]
    if len(set(keys)) != len(keys):
        raise r.file.error(("callback", "safe_times"), "a key is used twice")
    return tuple(choices)


def load_sms(file: TomlFile, welsh: bool = False) -> SmsContent:
    """Text messages: GSM-7 only, short, and discreet (checked, so a typo can't leak). Welsh
    texts may also use Welsh letters (see text_problem), within the Welsh segment limits."""
    r = _Reader(file)
    fields = {
        "closing": ("closes", "fallback"),
        "new": ("when",),
        "existing": ("when",),
        "preferred": ("window", "when"),
        "anytime": ("when",),
        "noted": ("window",),
        "outside_hours": ("usual_hours",),
        "ambiguous": ("hour", "usual_hours"),
        "closure": ("message",),
        "closed_until": ("names", "day"),
        "ask_time": ("usual_hours",),
        "help": ("usual_hours",),
        "not_uk": ("usual_hours",),
        "spooled": ("usual_hours",),
        "unavailable": ("usual_hours",),
    }
    replies = {k: r.text(("reply", k), fields.get(k, ())) for k in SMS_REPLIES}
    ended = {
        "closed": r.text(("ended", "closed"), ("usual_hours",)),
        "held": _maybe_text(r, ("ended", "held"), ("usual_hours",)),
    }
    steps = r.texts(("steps", "texts"))
    if len(steps) != STEP_COUNT:
        raise file.error(("steps", "texts"), f"there must be exactly {STEP_COUNT} texts")
    reply_limit, step_limit = (
        (WELSH_REPLY_SEGMENTS, WELSH_STEP_SEGMENTS)
        if welsh
        else (MAX_REPLY_SEGMENTS, MAX_STEP_SEGMENTS)
    )
    for where, text, limit in [
        *((("reply", k), v, reply_limit) for k, v in replies.items()),
        *((("ended", k), v, reply_limit) for k, v in ended.items()),
        *((("steps", "texts"), v, step_limit) for v in steps),
    ]:
        bad = unsendable(text, welsh)
        if bad:
            raise file.error(
                where,
                f"{_name(where)} has characters a text message can't carry "
                f"cheaply: {' '.join(bad)} (use plain quotes and dashes, no emoji)",
            )
        if text_segments(text) > limit:
            raise file.error(
                where, f"{_name(where)} is {text_segments(text)} texts long; keep it to {limit}"
            )
        if where[0] in ("reply", "ended"):
            revealing = revealing_words(text, welsh)
            if revealing:
                raise file.error(
                    where,
                    f"{_name(where)} says {revealing[0]!r}: replies must "
                    "not reveal what the helpline is about",
                )
    opening = r.text(("advisor", "opening"), ("count", "last_day", "overdue", "link"))
    if unsendable(opening, welsh):
        raise file.error(("advisor", "opening"), "advisor.opening must be plain characters")
    return SmsContent(replies, steps, opening, MappingProxyType(ended))


def _maybe_text(r: _Reader, where: Where, fields: tuple[str, ...]) -> str:
    """A text that may be left empty ("": nothing is sent)."""
    value = r.get(where)
    if not isinstance(value, str):
        raise r.file.error(where, f'{_name(where)} must be some text, or "" for none')
    return r.text(where, fields) if value.strip() else ""


def load_safety(file: TomlFile) -> Safety:
    """safety.toml: each class's phrases (a phrase that can't match is an error naming its
    line), the fillers, and the examples."""
    r = _Reader(file)
    phrases = {}
    for name in CLASSES:
        where: Where = (name, "phrases")
        found = []
        for text in r.words(where):
            try:
                found.append(Phrase.parse(text))
            except ValueError as exc:
                raise file.error(where, f"{_name(where)}: {exc}") from None
        if not found:
            raise file.error(where, f"{_name(where)} must name at least one phrase")
        phrases[name] = tuple(found)
    examples = {
        name: r.words(("examples", name)) if name in r.get(("examples",)) else ()
        for name in EXAMPLES
    }
    borderline = []
    for i, entry in enumerate(r.get(("examples",)).get("borderline", [])):
        where = ("examples", "borderline", i)
        if not isinstance(entry, Mapping) or entry.get("means") not in EXAMPLES:
            raise file.error(
                ("examples", "borderline"),
                f'each borderline example is {{ says = "...", means = "{"|".join(EXAMPLES)}", '
                'why = "..." }',
            )
        borderline.append(
            (r.text((*where, "says")), r.text((*where, "means")), r.text((*where, "why")))
        )
    fillers = frozenset(r.words(("fillers",))) if "fillers" in file.data else frozenset()
    stop, stop_examples = _stop_words(r, fillers)
    return Safety(CrisisWords(phrases, fillers), examples, tuple(borderline), stop, stop_examples)


def _stop_words(
    r: _Reader, fillers: frozenset[str]
) -> tuple[StopWords, tuple[tuple[str, str], ...]]:
    """safety.toml's [stop] (none: nothing heard but Twilio's keywords) and its examples."""
    if "stop" not in r.file.data:
        return StopWords(), ()

    def phrases(name: str) -> tuple[Phrase, ...]:
        where: Where = ("stop", name)
        try:
            return (
                tuple(Phrase.parse(t) for t in r.words(where)) if name in r.get(("stop",)) else ()
            )
        except ValueError as exc:
            raise r.file.error(where, f"{_name(where)}: {exc}") from None

    polite = frozenset(r.words(("stop", "polite")))
    stop = StopWords(
        phrases("always"),
        phrases("phrases"),
        phrases("alone"),
        phrases("unless_before"),
        phrases("unless_after"),
        polite,
        fillers,
    )
    examples: list[tuple[str, str]] = []
    table = r.get(("stop",)).get("examples", {})
    for means in MEANINGS:
        if means in table:
            examples += [(means, says) for says in r.words(("stop", "examples", means))]
    for i, entry in enumerate(table.get("borderline", [])):
        where = ("stop", "examples", "borderline", i)
        if not isinstance(entry, Mapping) or entry.get("means") not in MEANINGS:
            raise r.file.error(
                ("stop", "examples", "borderline"),
                'each borderline example is { says = "...", means = "stop|none", why = "..." }',
            )
        r.text((*where, "why"))
        examples.append((r.text((*where, "means")), r.text((*where, "says"))))
    return stop, tuple(examples)


def load_phrases(file: TomlFile) -> PhraseTemplates:
    r = _Reader(file)
    when_fields = ("time", "weekday", "day", "month")
    names: dict[str, Any] = {}
    if "names" in file.data:
        for key, count in (("weekdays", len(WEEKDAYS)), ("months", len(MONTHS))):
            names[key] = r.texts(("names", key))
            if len(names[key]) != count:
                raise file.error(("names", key), f"names.{key} must list {count} names")
        names["am"], names["pm"] = r.text(("names", "am")), r.text(("names", "pm"))
    return PhraseTemplates(
        **names,
        today=r.text(("today",), when_fields),
        tomorrow=r.text(("tomorrow",), when_fields),
        this_week=r.text(("this_week",), when_fields),
        later=r.text(("later",), when_fields),
        usual_hours=r.text(("usual_hours",), ("opens", "closes", "days")),
        day_range=r.text(("day_range",), ("first", "last")),
        window={name: r.text(("window", name), fields) for name, fields in WINDOW_FIELDS.items()},
    )


def closure_message_problem(message: str, welsh: bool = False) -> str | None:
    """Why a closure's message can't go in a text message, or None. Checked where it is
    written (hours.toml at start-up, the supervisor's form), because texts carry it. The
    Welsh message follows the Welsh texts' rule (Welsh letters; a UCS-2 text is at most
    CLOSURE_MESSAGE_MAX_WELSH characters)."""
    bad = unsendable(message, welsh)
    if bad:
        return (
            f"it has characters a text message can't carry cheaply: {' '.join(bad)} "
            "(use plain quotes and dashes, no emoji)"
        )
    revealing = revealing_words(message, welsh)
    if revealing:
        return (
            f"it says {revealing[0]!r}: it is also sent in text messages, which must not "
            "reveal what the helpline is about"
        )
    limit = CLOSURE_MESSAGE_MAX_WELSH if welsh and non_gsm7(message) else CLOSURE_MESSAGE_MAX
    if len(message) > limit:
        return (
            f"it is {len(message)} characters long; keep it to {limit} "
            "(it is also sent in text messages)"
        )
    return None


def load_hours(file: TomlFile, now: datetime) -> tuple[HoursConfig, OpeningHours]:
    try:
        config = parse_hours(file.data)
        hours = OpeningHours(config)
        check_opens(hours, now)
    except HoursError as exc:
        raise file.error(exc.where, exc.message) from None
    for i, closure in enumerate(config.closures):
        for field, text, welsh in (
            ("message", closure.message, False),
            ("message_cy", closure.message_cy, True),
        ):
            problem = closure_message_problem(text, welsh) if text else None
            if problem:
                raise file.error(("closures", i, field), f"closure {field}: {problem}")
    return config, hours


def _load_language(directory: Path, config: HoursConfig, welsh: bool) -> dict[str, Any]:
    """voice.toml, sms.toml and phrases.toml of one language, checked."""
    voice_file = read_toml(directory / "voice.toml")
    voice = load_voice(voice_file)
    for i, (_, window) in enumerate(voice.safe_times):
        if not meets_week(window, config):
            raise voice_file.error(
                ("callback", "safe_times", i),
                "this safe time is never inside the usual week in hours.toml",
            )
    return {
        "phrases": load_phrases(read_toml(directory / "phrases.toml")),
        "voice": voice,
        "sms": load_sms(read_toml(directory / "sms.toml"), welsh=welsh),
        "safety": load_safety(read_toml(directory / SAFETY_FILE)),
    }


def key_paths(data: Any, where: Where = ()) -> dict[Where, None]:
    """Every key in a TOML document (tables, and the tables of a list of tables by index);
    what a list of texts holds is the words, not keys, and may differ between languages."""
    found: dict[Where, None] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            found[(*where, key)] = None
            found.update(key_paths(value, (*where, key)))
    elif isinstance(data, list) and data and all(isinstance(v, Mapping) for v in data):
        for i, value in enumerate(data):
            found[(*where, i)] = None
            found.update(key_paths(value, (*where, i)))
    return found


def check_same_keys(english: TomlFile, welsh: TomlFile) -> None:
    """Every key of the English file in the Welsh one and the other way round, so no caller
    ever meets a gap in one language (FlowFileError names the file and line)."""
    en, cy = key_paths(english.data), key_paths(welsh.data)
    for have, lacks, lacking_file, having_file in (
        (en, cy, welsh, english),
        (cy, en, english, welsh),
    ):
        missing = next((k for k in have if k not in lacks), None)
        if missing is not None:
            raise lacking_file.error(
                missing[:-1],
                f"{_name(missing)} is missing here but is in {having_file.path} "
                f"(line {having_file.line_of(missing)}): "
                "the English and Welsh files must have the same keys",
            )


# ---------------------------------------------------------------- openings, timed


def bilingual_opening(flows: Flows) -> tuple[str, ...]:
    """What a call says first when Welsh is on (voice.bilingual_start, then
    voice.language_page): the greeting and the 999 line in English and in Welsh, then each
    language's line of the choice."""
    welsh = flows.welsh
    if welsh is None:
        return ()
    english_choice, welsh_choice = flows.voice.choose_language, welsh.voice.choose_language
    return (
        *flows.voice.greeting,
        flows.voice.safety,
        *welsh.voice.greeting,
        welsh.voice.safety,
        *(o.prompt for o in (english_choice, welsh_choice) if o is not None),
    )


def opening(flows: Flows, language: str, status: Status) -> tuple[tuple[str, ...], int]:
    """Everything a caller in `language` hears at `status` from the call's first word
    through the menu's options (the bilingual opening first when Welsh is on), and where
    the options start."""
    spoken_in = flows.speaking(language)
    bilingual = flows.welsh_on and flows.welsh is not None
    before, intro, _ = spoken_in.voice.call_start(spoken_in.menu_intro(status), (), bilingual)
    options = spoken_in.voice.open_options if status.open else spoken_in.voice.closed_options
    start = (*(bilingual_opening(flows) if bilingual else ()), *before, *intro)
    return (*start, *(o.prompt for o in options)), len(start)


def opening_problem(
    texts: tuple[str, ...], first: int, content: VoiceContent, open_: bool
) -> str | None:
    """Why an opening (`texts`, its options' prompts from `first` on) is too slow, or None:
    the first option's key must be said within content.first_option_seconds of speech from
    the call's first word, the callback option's within content.callback_seconds (words at
    150 a minute)."""
    options = content.open_options if open_ else content.closed_options
    limits = [(0, content.first_option_seconds, "first option")] + [
        (i, content.callback_seconds, "callback option")
        for i, o in enumerate(options)
        if o.action == "callback"
    ]
    for i, limit, name in limits:
        words = spoken.words_to_key(texts, first + i, options[i].key)
        seconds = spoken.speech_seconds(words)
        if seconds > limit:
            over = words - int(limit * spoken.WORDS_PER_MINUTE / 60)
            return (
                f"callers would hear the {name} (press {options[i].key}) after {seconds:g} "
                f"seconds of speech ({words} words at {spoken.WORDS_PER_MINUTE} a minute "
                f"from the call's first word), and it must come within {limit} seconds: "
                f"{over} words too many before it"
            )
    return None


CHECKED_DAYS = 400  # openings checked at start-up: every day from today for this many days
NOON = time(12)


def _statuses(hours: OpeningHours, now: datetime) -> list[Status]:
    """A status for every kind of opening in the next CHECKED_DAYS days: open, before
    opening, after closing, and each closed day (a weekend, a bank holiday, a closure)."""
    first = now.astimezone(hours.timezone).date()
    found = []
    for offset in range(CHECKED_DAYS):
        day = hours.day(first + timedelta(days=offset))
        if day.session is None:
            instants = [datetime.combine(day.day, NOON, tzinfo=hours.timezone)]
        else:
            opens, closes = (
                datetime.combine(day.day, t, tzinfo=hours.timezone)
                for t in (day.session.opens, day.session.closes)
            )
            instants = [opens - timedelta(minutes=1), opens, closes]
        found += [hours.status(instant) for instant in instants]
    return found


def _heard_languages(flows: Flows) -> list[str]:
    return [ENGLISH, WELSH] if flows.welsh_on and flows.welsh is not None else [ENGLISH]


def _check_openings(flows: Flows, now: datetime) -> None:
    """Every opening callers will hear in the next CHECKED_DAYS days, in every language
    offered, reaches its first option and its callback option in time (opening_problem).
    A closure in hours.toml is named by its line; anything else by voice.toml's."""
    seen: set[tuple[str, ...]] = set()
    for status in _statuses(flows.hours, now):
        for language in _heard_languages(flows):
            texts, first = opening(flows, language, status)
            if texts in seen:
                continue
            seen.add(texts)
            spoken_in = flows.speaking(language)
            problem = opening_problem(texts, first, spoken_in.voice, status.open)
            if problem is None:
                continue
            reason = status.reason
            welsh_unsaid = language == WELSH and reason is not None and not reason.welsh
            if reason is not None and reason.kind == "closure" and not welsh_unsaid:
                i = next(
                    i
                    for i, c in enumerate(flows.hours_config.closures)
                    if c.message == reason.text and (c.message_cy or None) == reason.welsh
                )
                field = "message_cy" if language == WELSH and reason.welsh else "message"
                raise read_toml(flows.directory / "hours.toml").error(
                    ("closures", i, field),
                    f"closure {field}: it is too long before the options: {problem}",
                )
            where: Where = ("open", "say") if status.open else ("closed", "say")
            what = "open" if status.open else f"closed ({reason.kind if reason else ''})"
            raise read_toml(spoken_in.directory / "voice.toml").error(
                where,
                f"the opening {what} on {status.at:%Y-%m-%d %H:%M}: {problem}; shorten or "
                "reorder what is said before it",
            )


def closure_opening_problem(
    flows: Flows, now: datetime, message: str, until: datetime | None, message_cy: str = ""
) -> str | None:
    """Why a supervisor's closure with `message` would make the opening callers hear now too
    slow to reach its options (opening_problem), in any language offered; or None."""
    status = flows.hours.status_with(now, Override(message, until, message_cy))
    for language in _heard_languages(flows):
        texts, first = opening(flows, language, status)
        problem = opening_problem(texts, first, flows.speaking(language).voice, status.open)
        if problem is not None:
            which = "the Welsh message" if language == WELSH and message_cy else "it"
            return f"{which} is too long before the options: {problem}"
    return None


def welsh_switched_on(directory: Path) -> bool:
    """languages.toml's `welsh` (false without the file): Welsh offered to callers."""
    path = directory / LANGUAGES_FILE
    if not path.exists():
        return False
    file = read_toml(path)
    unknown = sorted(set(file.data) - {"welsh"})
    if unknown:
        raise file.error((unknown[0],), f"unknown setting {unknown[0]!r}: only welsh")
    value = file.data.get("welsh", False)
    if not isinstance(value, bool):
        raise file.error(("welsh",), "welsh = true or welsh = false")
    if value and not (directory / WELSH_FOLDER).is_dir():
        raise file.error(("welsh",), f"welsh = true needs the Welsh content in {WELSH_FOLDER}/")
    return value


def load_flows(directory: Path, now: datetime) -> Flows:
    """Load and check every file in flows/ (and the Welsh content in cy/, when there is
    some), then every opening callers will hear (_check_openings); FlowFileError names the
    first problem."""
    flows = _read_flows(Path(directory), now)
    _check_openings(flows, now)
    return flows


def _read_flows(directory: Path, now: datetime) -> Flows:
    """Every file in flows/ (and cy/), each checked on its own."""
    config, hours = load_hours(read_toml(directory / "hours.toml"), now)
    english = Flows(directory, config, hours, **_load_language(directory, config, welsh=False))
    welsh_on = welsh_switched_on(directory)
    welsh_dir = directory / WELSH_FOLDER
    if not welsh_dir.is_dir():
        return english
    for name in PAIRED_FILES:
        check_same_keys(read_toml(directory / name), read_toml(welsh_dir / name))
    welsh = Flows(
        welsh_dir, config, hours, **_load_language(welsh_dir, config, welsh=True), language=WELSH
    )
    for flows in (english, welsh):
        if welsh_on and flows.voice.choose_language is None:
            raise read_toml(flows.directory / "voice.toml").error(
                (), "with Welsh switched on, voice.toml needs [language] (the choice of language)"
            )
    both = english.safety.words.joined(welsh.safety.words)
    stop = english.safety.stop.joined(welsh.safety.stop)
    welsh = replace(welsh, every_language=both, every_stop=stop)
    return replace(english, welsh=welsh, welsh_on=welsh_on, every_language=both, every_stop=stop)


__all__ = [
    "Flows",
    "FlowFileError",
    "Option",
    "Page",
    "SmsContent",
    "Step",
    "VoiceContent",
    "load_flows",
]
