"""The call tree as Twilio webhooks: TwiML only, built with the twilio helper library.

Decisions come from calltree.py and hours.py; words come from flows/voice.toml. Whatever
goes wrong, a caller gets valid TwiML: the safe fallback, never an application error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, request, url_for
from twilio.twiml.voice_response import Dial, Gather, Pause, VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.content.flows import ENGLISH, WELSH, WELSH_LANGUAGE, WELSH_VOICE, Flows
from ivr.core import calltree, crisis
from ivr.core.calltree import Option
from ivr.core.hours import Status
from ivr.core.livequeue import FREE
from ivr.core.phone import advisor_e164, mask
from ivr.ops.metrics import FALLBACKS, WEBHOOK_PREFIXES
from ivr.store import Unavailable, stats
from ivr.store.accounts import Advisor
from ivr.store.live import LiveQueue
from ivr.twilio.verify import VERIFY_FIELD
from ivr.web.context import PAGE_ERROR, first, helpline, twilio_param
from ivr.web.metrics import note
from ivr.web.signatures import only_twilio

log = logging.getLogger(__name__)
PREFIX = "/voice"
bp = Blueprint("voice", __name__, url_prefix=PREFIX)
only_twilio(bp)
METHODS = ["GET", "POST"]
TWIML_CACHE_SIZE = 512
OUTBOUND_PREFIX = "/voice/outbound"
PART_PAUSE = 3  # seconds of silence after a part before the next part starts
HANG_UP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
LANGUAGE_PAUSE = 1  # seconds of silence between "For English, press 1" and the Welsh line
LANGUAGE_TRIES = 2  # after this many silences on the language page, the call goes on in English


# ------------------------------------------------------------------ the caller's language


def language() -> str:
    """The language this call goes on in: chosen once, on the language page, and carried in
    every webhook URL's query (`lang=cy`) from then on; English without it. The entry
    webhook ignores its query (a number configured with `/voice?lang=cy` would skip the
    999 line), and Welsh is honoured only where it is offered."""
    if request.endpoint == "voice.incoming" or param("lang") != WELSH:
        return ENGLISH
    return WELSH if welsh_offered() else ENGLISH


def flows() -> Flows:
    """The helpline's content in the call's language (hours and all that is not words are
    the same)."""
    return helpline().flows.speaking(language())


# app.extensions[SIMULATE_WELSH]: set by `simulate call --language` in its own process, so
# a simulation hears the choice of language whether or not Welsh is switched on. Never a
# request parameter: nothing a URL says can turn Welsh on.
SIMULATE_WELSH = "simulate_welsh"


def welsh_offered() -> bool:
    """Whether this call starts with the choice of language: the helpline has switched
    Welsh on, or a simulation in this process asks for it."""
    f = helpline().flows
    return f.welsh is not None and (f.welsh_on or bool(current_app.extensions.get(SIMULATE_WELSH)))


# ------------------------------------------------------------------ small TwiML helpers


def twiml(resp: VoiceResponse) -> Response:
    return Response(str(resp), mimetype="text/xml")


def cached(key: tuple, build: Callable[[], VoiceResponse]) -> Response:
    """TwiML that depends only on `key` is built once per process: the same greeting and
    menus are sent to every caller, and building them is most of a request's own cost. The
    version of the published words is part of the key: a publish is heard at once."""
    line = helpline()
    cache = line.twiml_cache
    key = (line.content.serving.version, *key, language())
    text = cache.get(key)
    if text is None:
        if len(cache) >= TWIML_CACHE_SIZE:
            cache.clear()
        text = cache[key] = str(build())
    return Response(text, mimetype="text/xml")


def say(target: VoiceResponse | Gather, *texts: str, lang: str | None = None) -> None:
    """Say `texts` in the call's language (or `lang`): Welsh with Polly's Welsh voice."""
    s = helpline().settings
    voice, spoken_as = (
        (WELSH_VOICE, WELSH_LANGUAGE) if (lang or language()) == WELSH else (s.voice, s.language)
    )
    for text in texts:
        target.say(text, voice=voice, language=spoken_as)


def link(endpoint: str, **params: Any) -> str:
    """A URL for TwiML; absolute on PUBLIC_BASE_URL when set, so signatures match. A Welsh
    call's URLs carry its language (`lang=None` leaves it out: a leg heard by an advisor)."""
    if language() == WELSH:
        params.setdefault("lang", WELSH)
    path = url_for(endpoint, **params)
    return helpline().settings.public_base_url + path


def screened(action: str, content: Mapping[str, str]) -> Response:
    """An advisor's leg, answered: press 1 to be put through, so a voicemail never takes the
    caller; nothing pressed, goodbye. In English: the advisors' words."""
    resp = VoiceResponse()
    g = Gather(input="dtmf", num_digits=1, timeout=10, method="POST", action=action)
    say(g, content["connect"], lang=ENGLISH)
    resp.append(g)
    say(resp, content["no_key"], lang=ENGLISH)
    resp.hangup()
    return twiml(resp)


def closed_now() -> Response | None:
    """While closed (a closure began since the menu was heard): say so and go back to the
    closed menu; None while open."""
    if now_status().open:
        return None
    resp = VoiceResponse()
    say(resp, flows().voice.advisor["closed_now"])
    resp.redirect(link("voice.menu", menu="closed"), method="POST")
    return twiml(resp)


# Speech recognition Twilio documents without warnings: a generic model for the language
# (<Gather> speechModel, https://www.twilio.com/docs/voice/twiml/gather) and, with a model
# named, a whole number of seconds of silence to end speech: "Use a positive integer for
# speechTimeout whenever you set speechModel" (warning 13335, "speechTimeout auto cannot be
# used with model default": https://www.twilio.com/docs/api/errors/13335).
SPEECH_MODEL = "phone_call"
SPEECH_TIMEOUT_SECONDS = 2


def gather(
    action: str, options: tuple[Option, ...], timeout: int = 6, speech: bool = True
) -> Gather:
    """Listens for one key or for speech: everything said inside it can be interrupted.
    Speech recognition is helped to hear the options' words and the phrases of
    flows/safety.toml (in English: a Welsh call's speech is recognised as en-GB too); Twilio
    takes up to 500 hints of up to 100 characters each
    (https://www.twilio.com/docs/api/errors/13330; tests/test_voice_tree.py checks).
    `speech=False`: keys only (a queue's wait page: voice_queue.py)."""
    if not speech:
        return Gather(input="dtmf", action=action, method="POST", num_digits=1, timeout=timeout)
    s = helpline().settings
    hints = sorted({w for o in options for w in o.words} | set(crisis_hints()))
    return Gather(
        input="dtmf speech",
        action=action,
        method="POST",
        num_digits=1,
        timeout=timeout,
        speech_timeout=SPEECH_TIMEOUT_SECONDS,
        speech_model=SPEECH_MODEL,
        language=s.language,
        hints=", ".join(hints),
    )


def crisis_hints() -> tuple[str, ...]:
    """The plain phrases of danger, despair and help, as hints for speech recognition."""
    return helpline().flows.safety.words.hints()


def param(name: str) -> str:
    """A parameter of the URL we gave Twilio (link()'s own: tries, part, menu...): the query
    string only. What Twilio itself sends is twilio_param's."""
    return first(request.args, name)


def now_status() -> Status:
    """Open or closed now: the hours, and a supervisor's closure if one is set (if the store
    can't be read, the normal hours apply)."""
    return helpline().call_status()


# ------------------------------------------------------------------ the main menu


def own_options(menu: str) -> tuple[Option, ...]:
    content = flows().voice
    return content.open_options if menu == "open" else content.closed_options


def menu_options(menu: str) -> tuple[Option, ...]:
    return calltree.menu_options(own_options(menu), flows().voice.navigation)


def add_menu(
    resp: VoiceResponse,
    menu: str,
    tries: int,
    intro: tuple[str, ...] = (),
    outro: tuple[str, ...] = (),
    last: bool = False,
) -> None:
    """`intro`, the options and `outro` in a Gather (a key interrupts them); silence falls
    through to a re-prompt (never a dead end), or, the `last` time (the menu heard once
    after the five steps), to goodbye with the 999 line and how to text."""
    content = flows().voice
    g = gather(link("voice.choice", menu=menu, tries=tries), menu_options(menu))
    say(g, *intro, *(o.prompt for o in own_options(menu)), content.navigation["repeat"].prompt)
    say(g, *outro)
    if menu == "closed":
        say(g, content.closed_text_us)
    resp.append(g)
    if last:
        say(resp, content.safety, *content.gave_up)
        resp.hangup()
        return
    say(resp, content.no_input)
    resp.redirect(link("voice.menu", menu=menu, tries=tries + 1), method="POST")


def give_up(resp: VoiceResponse) -> Response:
    content = flows().voice
    say(resp, content.safety, *content.gave_up)
    resp.hangup()
    return twiml(resp)


def which_menu() -> str:
    menu = param("menu")
    if menu in ("open", "closed"):
        return menu
    return "open" if now_status().open else "closed"


class Answered(VoiceResponse):
    """The reply to a caller who spoke of danger or despair in hours: before the call goes
    on (its first <Redirect>), an advisor is offered (the offer page); silence carries on."""

    def __init__(self, offer: bool) -> None:
        super().__init__()
        self.offer = offer

    def redirect(self, url: str, method: str | None = None, **kwargs: Any) -> Any:
        if self.offer and urlsplit(url).path != url_for("voice.advisor"):
            self.offer = False
            content = flows().voice
            g = gather(link("voice.offer", then=relative(url)), (content.offer_advisor,), 5)
            say(g, content.offer_advisor.prompt)
            self.append(g)
        return super().redirect(url, method=method, **kwargs)


def relative(url: str) -> str:
    """A link of ours without PUBLIC_BASE_URL: where a call goes on after the offer page."""
    base = helpline().settings.public_base_url
    return url[len(base) :] if base and url.startswith(base) else url


def onward(then: str) -> str:
    """Where the offer page carries on to: a page of this call tree only (else the menu)."""
    parts = urlsplit(then)
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith(PREFIX + "/")
        or parts.path.startswith(OUTBOUND_PREFIX)
    ):
        return link("voice.menu")
    return helpline().settings.public_base_url + then


def heard_here(
    options: tuple[Option, ...], offer: bool = True
) -> tuple[calltree.Heard, VoiceResponse]:
    """What the caller chose among `options`, and the reply to build on. Words of danger
    get the 999 lines and words of despair Samaritans, first, wherever the call goes next;
    in hours an advisor is then offered (`offer`, never in the queue's pages). Asking for
    help with no option gets what the options give (out of hours: 999 and Samaritans are
    open now). Speech is matched on every language's phrases (flows/safety.toml), since a
    Welsh call's speech is recognised as en-GB."""
    content = flows().voice
    heard = calltree.hear(
        options, twilio_param("Digits"), twilio_param("SpeechResult"), helpline().flows.crisis
    )
    if not heard.answered:
        return heard, VoiceResponse()
    log.info("call %s: heard %s", twilio_param("CallSid"), ", ".join(sorted(heard.said)))
    if heard.safety:
        note_crisis()
    open_now = now_status().open
    queued = in_queue() or request.path.startswith(PREFIX + "/queue")
    resp = Answered(offer and heard.safety and open_now and not queued)
    if crisis.DANGER in heard.said:
        say(resp, *content.danger)
    if crisis.DESPAIR in heard.said:
        say(resp, *content.despair)
    if not heard.safety and heard.option is None:
        say(resp, *(content.help_open if open_now else content.help_closed))
    return heard, resp


CRISIS_SECONDS = 4 * 3600  # longer than any call: a callback asked for later in it is urgent


def note_crisis() -> None:
    """Remember that this call spoke of danger or despair, so that a callback it asks for is
    flagged urgent; a store error changes nothing for the caller."""
    sid = twilio_param("CallSid")[:64]
    try:
        if sid:
            helpline().queue.note_call_in_crisis(sid, CRISIS_SECONDS)
    except Unavailable as exc:
        log.warning(
            "call %s: could not note words of danger or despair: %s", twilio_param("CallSid"), exc
        )


@bp.route("/offer", methods=METHODS)
def offer() -> Response:
    """In hours, after the 999 or Samaritans lines: an advisor now (1, "advisor", "yes"),
    or else on to where the call was going (`then`)."""
    then = onward(param("then"))
    heard, resp = heard_here((flows().voice.offer_advisor,), offer=False)
    resp.redirect(link("voice.advisor") if heard.option else then, method="POST")
    return twiml(resp)


def not_chosen(
    heard: calltree.Heard, resp: VoiceResponse, again: Callable[[int], str], tries: int
) -> Response:
    """No option heard. After the 999 line, Samaritans or what the options give, the same
    question again: no try lost. Otherwise say why (nothing heard, or not an option), then
    the same question: one more try."""
    if not heard.answered:
        content = flows().voice
        nothing = calltree.heard_nothing(twilio_param("Digits"), twilio_param("SpeechResult"))
        say(resp, content.no_input if nothing else content.invalid)
        tries += 1
    resp.redirect(again(tries), method="POST")
    return twiml(resp)


@bp.route("", methods=METHODS)
def incoming() -> Response:
    """Twilio's entry point: the greeting and the safety line, then the reassurance and the
    open or closed menu. Only the greeting and the safety line are said before the <Gather>,
    so no key pressed early can skip the 999 line; everything after it can be interrupted.
    With Welsh on: the greeting and the safety line in English then Welsh, then the page
    where the caller chooses a language (`language_page`)."""
    h = helpline()
    status = now_status()
    state = "open" if status.open else f"closed ({status.reason.kind if status.reason else ''})"
    if twilio_param(VERIFY_FIELD) == "1":  # `helpline twilio verify`, signed: counted nowhere
        log.info("go-live check (helpline twilio verify): answered, not counted")
    else:
        note(f"from {mask(twilio_param('From'))}: helpline {state}")
        stats.call_started(h.redis, status.at, h.flows.hours.timezone, status.open, keys=h.keys)
    if welsh_offered():
        return cached(("bilingual",), bilingual_start)
    return start_in_language(status, greeted=False)


def bilingual_start() -> VoiceResponse:
    """The 999 line in both languages before anything can be pressed (the word limit counts
    the English greeting before it), then the language page."""
    resp = VoiceResponse()
    for lang in (ENGLISH, WELSH):
        content = helpline().flows.speaking(lang).voice
        say(resp, *content.greeting, content.safety, lang=lang)
    resp.redirect(link("voice.language_page"), method="POST")
    return resp


def start_in_language(status: Status, greeted: bool) -> Response:
    """The start of the call in its language: greeting and safety line (unless the
    bilingual start has `greeted` with them), the reassurance and the open or closed menu,
    in the order VoiceContent.call_start gives (checked at start-up to reach the options in
    time: flows.opening_problem).

    Built once for all the calls it is the same for: the closed words ("we open tomorrow at
    10am") change only with the published words, the language, why the line is closed, the
    next opening and the day they are said on (phrases.when), not with each call."""
    menu_name = "open" if status.open else "closed"
    day = status.at.astimezone(helpline().flows.hours.timezone).date()

    def build() -> VoiceResponse:
        f = flows()
        before, intro, outro = f.voice.call_start(
            f.menu_intro(status), () if status.open else f.closed_outro(status), bilingual=greeted
        )
        resp = VoiceResponse()
        say(resp, *before)
        add_menu(resp, menu_name, 0, intro, outro)
        return resp

    key = (greeted, status.open, status.reason, status.next_opening, status.reopening_known, day)
    return cached(("incoming", *key), build)


def language_options() -> tuple[Option, ...]:
    f = helpline().flows
    return tuple(
        o
        for o in (f.voice.choose_language, f.welsh.voice.choose_language if f.welsh else None)
        if o is not None
    )


@bp.route("/language", methods=METHODS)
def language_page() -> Response:
    """ "For English, press 1" (English voice), a short silence, "i barhau yn Gymraeg,
    pwyswch 2" (Welsh voice). Speech is heard as en-GB: the danger words still reach the
    999 line. Silence twice: the call goes on in English."""
    tries = calltree.parse_tries(param("tries"))
    if tries >= LANGUAGE_TRIES or len(language_options()) < 2:
        resp = VoiceResponse()
        resp.redirect(link("voice.chosen", lang=ENGLISH), method="POST")
        return twiml(resp)

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        english, welsh = language_options()
        g = gather(link("voice.language_choice", tries=tries), (english, welsh))
        say(g, english.prompt, lang=ENGLISH)
        g.append(Pause(length=LANGUAGE_PAUSE))
        say(g, welsh.prompt, lang=WELSH)
        resp.append(g)
        resp.redirect(link("voice.language_page", tries=tries + 1), method="POST")
        return resp

    return cached(("language", tries), build)


@bp.route("/language/choice", methods=METHODS)
def language_choice() -> Response:
    """What the caller pressed or said on the language page; the language holds for the
    rest of the call (every URL from here carries it)."""
    tries = calltree.parse_tries(param("tries"))
    english, welsh = language_options()
    heard, resp = heard_here((english, welsh))
    if heard.option is None:
        resp.redirect(link("voice.language_page", tries=tries + 1), method="POST")
        return twiml(resp)
    chosen = WELSH if heard.option == welsh else ENGLISH
    note(f"chose {chosen}")
    resp.redirect(link("voice.chosen", lang=chosen), method="POST")
    return twiml(resp)


@bp.route("/chosen", methods=METHODS)
def chosen() -> Response:
    """The reassurance and the menu in the language chosen."""
    return start_in_language(now_status(), greeted=True)


@bp.route("/menu", methods=METHODS)
def menu() -> Response:
    """The options again: after silence, a wrong key, "repeat" or "main menu"; with
    `last=1` (after the five steps heard by just listening) once, then goodbye."""
    tries = calltree.parse_tries(param("tries"))
    if calltree.should_give_up(tries):
        return give_up(VoiceResponse())
    menu_name = which_menu()
    last = param("last") == "1"

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        add_menu(resp, menu_name, tries, last=last)
        return resp

    return cached(("menu", menu_name, tries, last), build)


@bp.route("/choice", methods=METHODS)
def choice() -> Response:
    """What the caller pressed or said at the main menu."""
    menu_name = which_menu()
    tries = calltree.parse_tries(param("tries"))
    heard, resp = heard_here(menu_options(menu_name))
    picked = heard.option
    if picked is None:
        return not_chosen(heard, resp, lambda t: link("voice.menu", menu=menu_name, tries=t), tries)
    if picked.action in ("repeat", "menu"):
        resp.redirect(link("voice.menu", menu=menu_name), method="POST")
        return twiml(resp)
    note(f"chose {picked.action}")
    h = helpline()
    stats.count(h.redis, h.clock(), h.flows.hours.timezone, f"menu:{picked.action}", keys=h.keys)
    if picked.action == "steps":
        resp.redirect(page_link("step1", 1, intro=1), method="POST")
    elif picked.action == "advisor":
        resp.redirect(link("voice.advisor"), method="POST")
    elif picked.action == "callback":
        resp.redirect(link("voice_callbacks.start"), method="POST")
    else:
        resp.redirect(link("voice.page", name=picked.action), method="POST")
    return twiml(resp)


# ------------------------------------------------------------------ the steps, police, support


def part_counts() -> dict[str, int]:
    return {name: len(page.parts) for name, page in flows().voice.pages.items()}


def page_options(name: str, part: int) -> tuple[Option, ...]:
    content = flows().voice
    return calltree.page_options(
        name, part, part_counts(), content.navigation, calltree.step_choices(content.steps)
    )


def page_words(name: str, part: int, intro: bool) -> list[str]:
    """What a part of a page says before its keys: the steps' introduction (when the caller
    has just chosen the steps), the title, "Part 1 of 2", the advice."""
    content = flows().voice
    page = content.pages[name]
    heading = [page.title] if page.title else []
    if len(page.parts) > 1:
        heading.append(content.part.format(part=part, parts=len(page.parts)))
    return [*(content.steps_intro if intro else ()), *heading, *page.parts[part - 1]]


def page_link(name: str, part: int, **params: object) -> str:
    if in_queue():
        params["q"] = 1  # still waiting in the queue: the page keeps saying so
    return link("voice.page", name=name, part=part, **params)


def in_queue() -> bool:
    """This page is heard while waiting in the queue (from the wait page): 0 and the end of
    the page lead back to the wait, never to the main menu, and silence never ends the call."""
    return param("q") == "1"


def queue_param() -> dict[str, int]:
    return {"q": 1} if in_queue() else {}


def back_to_the_wait(resp: VoiceResponse) -> Response:
    resp.redirect(link("voice_queue.wait", back=1), method="POST")
    return twiml(resp)


def still_waiting() -> None:
    """A caller listening to a page in the queue is still there (live.py drops callers no
    page has asked for in a while); a store error changes nothing for them."""
    try:
        live_queue().seen(twilio_param("CallSid"), helpline().clock())
    except Unavailable as exc:
        log.warning("could not note a caller still waiting: %s", exc)


@bp.route("/page/<name>", methods=METHODS)
def page(name: str) -> Response:
    """A part of one of the five steps, the police guidance or other support, then what
    next; all of it inside the <Gather>, so a key interrupts it. Silence goes on by itself
    (calltree.after_silence, no wrong try): the next part, the next step, through all five;
    after the last, the main menu once then goodbye, or back to the wait in the queue."""
    if not calltree.is_page(name):
        return redirect_to_menu()
    content = flows().voice
    part = calltree.parse_part(param("part"), len(content.pages[name].parts))
    tries = calltree.parse_tries(param("tries"))
    queued = in_queue()
    if queued:
        still_waiting()
    if calltree.should_give_up(tries):
        return back_to_the_wait(VoiceResponse()) if queued else give_up(VoiceResponse())
    replay = param("replay") != "0"
    intro = param("intro") == "1" and (name, part) == ("step1", 1)
    goes_on = calltree.continues_by_itself(name, part, part_counts())
    silence = calltree.after_silence(name, part, part_counts())

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        options = page_options(name, part)
        g = gather(
            link("voice.page_choice", name=name, part=part, tries=tries, **queue_param()),
            options,
            timeout=PART_PAUSE if goes_on else 6,
            # Heard from the wait, the caller is still in Twilio's queue: this is a waitUrl
            # document, where <Gather> takes dtmf or speech, not both (voice_queue.py).
            speech=not queued,
        )
        if replay:
            say(g, *page_words(name, part, intro))
        if goes_on and replay:
            say(g, content.continues)
        else:
            say(
                g,
                *(
                    content.queue["back_prompt"] if queued and o.action == "menu" else o.prompt
                    for o in calltree.page_prompts(name, part, part_counts(), content.navigation)
                ),
            )
            if calltree.step_number(name) is not None:
                say(g, content.choose_step)
            if silence.page is not None and silence.page != name:
                say(g, content.next_step)
        resp.append(g)
        # A <Gather> that hears nothing falls through to the next verb (Twilio, "TwiML
        # Voice: <Gather>", https://www.twilio.com/docs/voice/twiml/gather, `timeout`).
        if silence.page is not None:  # silence goes on: never "I didn't hear a choice"
            resp.redirect(page_link(silence.page, silence.part, tries=tries), method="POST")
            return resp
        if silence.last_step_done:
            say(resp, content.last_step)
        if queued:
            resp.redirect(link("voice_queue.wait", back=1), method="POST")
        else:  # the main menu's options once, then goodbye (add_menu, last)
            resp.redirect(link("voice.menu", last=1), method="POST")
        return resp

    return cached(("page", name, part, tries, replay, intro, queued), build)


@bp.route("/page/<name>/choice", methods=METHODS)
def page_choice(name: str) -> Response:
    """What the caller pressed or said on a part of a page."""
    if not calltree.is_page(name):
        return redirect_to_menu()
    content = flows().voice
    part = calltree.parse_part(param("part"), len(content.pages[name].parts))
    tries = calltree.parse_tries(param("tries"))
    heard, resp = heard_here(page_options(name, part))
    picked = heard.option
    if picked is None:
        return not_chosen(heard, resp, lambda t: page_link(name, part, tries=t, replay=0), tries)
    move = calltree.navigate(name, part, part_counts(), picked)
    if move.page is None:
        if move.last_step_done:
            say(resp, content.last_step)
        if in_queue():
            return back_to_the_wait(resp)
        resp.redirect(link("voice.menu"), method="POST")
    else:
        resp.redirect(page_link(move.page, move.part), method="POST")
    return twiml(resp)


def redirect_to_menu() -> Response:
    resp = VoiceResponse()
    resp.redirect(link("voice.menu"), method="POST")
    return twiml(resp)


# ------------------------------------------------------------------ speaking to an advisor


def advisor_numbers(phones: list[str] | None = None) -> list[str]:
    """`phones` (on-duty advisors'), or ADVISOR_NUMBERS when there are none, as Twilio
    dials them; a number that can't be dialled is left out (and logged, masked)."""
    numbers = []
    for number in phones or helpline().settings.advisor_numbers:
        try:
            numbers.append(advisor_e164(number, shown=mask))  # ADVISOR_NUMBERS as written
        except ValueError as exc:
            log.error("not dialling advisor number: %s", exc)
    return numbers


# `helpline simulate call --advisors free|busy|none` pretends, in the simulating process only,
# that one console advisor (on a drama number) is on duty and free or busy, or that nobody is:
# nothing about advisors is read from or written to the store, and the simulated caller
# waits among the helpline's simulated records (Keys.simulation, erased nightly), never in the
# real queue.
SIMULATED = "simulated_advisors"
SIMULATED_ADVISOR = Advisor("simulated", "Simulated advisor", "+442079460099", False, True)


def simulated() -> str | None:
    found: str | None = current_app.extensions.get(SIMULATED)
    return found


def live_queue() -> LiveQueue:
    """The callers waiting on the line (a simulated call's own, under the helpline's
    simulated keys with everything else `helpline simulate` makes, apart from the real one);
    its `keys` are also those the queue's counts go under."""
    h = helpline()
    return LiveQueue(h.redis, h.keys.simulation, h.sealer) if simulated() else h.live


def console_on_duty() -> list[Advisor]:
    """Console advisors on duty now (the store is read; a simulation pretends)."""
    mode = simulated()
    if mode is not None:
        return [] if mode == "none" else [SIMULATED_ADVISOR]
    h = helpline()
    return [a for a in h.accounts.all() if a.on_duty and h.serves(a)]


def free_to_ring(on_duty: list[Advisor]) -> list[Advisor]:
    """Of `on_duty`, those free now, each marked ringing at once: advisors on a call, or
    being rung for another caller, are not rung."""
    mode = simulated()
    if mode is not None:
        return on_duty if mode == "free" else []
    h = helpline()
    if h.settings.simulated:
        return on_duty  # `helpline simulate` reads who is on duty but marks nobody ringing
    reserved = set(h.advisor_states.reserve([a.username for a in on_duty], h.clock()))
    return [a for a in on_duty if a.username in reserved]


# Ringing advisors (docs/take-next.md, "Ringing advisors"): Twilio's <Number> page says
# "The first call to pick up is connected to the current call and the rest are hung up"
# (https://www.twilio.com/docs/voice/twiml/number), and does not say whether a leg screened
# by its `url` "picks up" when answered or when its TwiML ends: a voicemail answering first
# could end every other advisor's leg. So a <Dial> never holds two screened numbers: console
# advisors are each rung on a leg of their own (the first to press 1 takes the caller, who
# waits in the queue meanwhile), and ADVISOR_NUMBERS are rung one at a time.
MIN_RING_SECONDS = 10


def ring_seconds(numbers: int) -> int:
    """How long each of `numbers` rung in turn rings: DIAL_TIMEOUT shared, at least
    MIN_RING_SECONDS each (time enough to answer)."""
    return max(MIN_RING_SECONDS, -(-helpline().settings.dial_timeout // max(1, numbers)))


@bp.route("/advisor", methods=METHODS)
def advisor() -> Response:
    """Ring an advisor, each leg screened so no voicemail answers a caller. While a console
    advisor is on duty, only the free ones are rung, each on a leg of their own (with
    Twilio's REST API) while the caller waits in the queue (voice_queue.py); with only
    ADVISOR_NUMBERS, one at a time, then the rest is offered."""
    h = helpline()
    content = flows().voice
    closed = closed_now()
    if closed is not None:
        return closed
    resp = VoiceResponse()
    try:
        on_duty = console_on_duty()
        ring = free_to_ring(on_duty) if on_duty else []
    except Unavailable as exc:
        log.warning("cannot read who is on duty (%s): ringing ADVISOR_NUMBERS", exc)
        on_duty, ring = [], []
    if on_duty and not ring:
        resp.redirect(link("voice_queue.join"), method="POST")
        return twiml(resp)
    if ring and h.twilio is not None and not simulated():
        names = ",".join(a.username for a in ring)
        resp.redirect(link("voice_queue.join", ring=names), method="POST")
        return twiml(resp)
    if len(ring) > 1:  # no REST API to ring each on a leg of their own: the first only
        if not (simulated() or h.settings.simulated):
            for other in ring[1:]:
                h.advisor_states.set(other.username, FREE, h.clock())
        ring = ring[:1]
    numbers = advisor_numbers([a.phone for a in ring]) if ring else advisor_numbers()
    if not numbers:
        log.warning(
            "call %s asked for an advisor but no advisor numbers are set", twilio_param("CallSid")
        )
        say(resp, content.advisor["unavailable"])
        resp.redirect(link("voice.menu", menu="closed"), method="POST")
        return twiml(resp)
    say(resp, content.advisor["connecting"])
    status = {"adv": ring[0].username} if ring else None
    resp.append(dial_advisor(numbers, 0, queue=bool(ring), status=status))
    log.info("call %s: ringing advisor 1 of %d", twilio_param("CallSid"), len(numbers))
    return twiml(resp)


def dial_advisor(
    numbers: list[str], n: int, queue: bool = False, status: dict[str, str] | None = None
) -> Dial:
    """A <Dial> of the `n`th of `numbers` alone, screened (`status`: a console advisor's
    leg, followed by their state); its result rings the next, or, with `queue`, queues."""
    # The helpline's own number, so advisors see it is a helpline call. Only a plain E.164
    # number: anything else in To would be echoed into the TwiML (and could break the XML).
    caller_id = twilio_param("To") if E164.fullmatch(twilio_param("To")) else None
    dial = Dial(
        action=link("voice.advisor_result", n=n, **({"queue": 1} if queue else {})),
        method="POST",
        answer_on_bridge=True,
        timeout=ring_seconds(1 if queue else len(numbers)),
        record="do-not-record",
        caller_id=caller_id,
    )
    if status is not None:
        dial.number(
            numbers[n],
            url=link("voice.screen", lang=None),
            method="POST",
            status_callback=link("voice_queue.advisor_status", **status),
            status_callback_event="initiated ringing answered completed",
            status_callback_method="POST",
        )
    else:
        dial.number(numbers[n], url=link("voice.screen", lang=None), method="POST")
    return dial


def rung_param() -> int | None:
    """The advisor number rung last (`n`, ours, a few ASCII digits), or None for anything
    else ("%FF", "²", a thousand digits): then no further number is rung, and the caller
    hears what the closed menu offers, not the fallback of an error."""
    n = param("n")
    return int(n) if n.isascii() and n.isdecimal() and len(n) <= 3 else None


@bp.route("/advisor/result", methods=METHODS)
def advisor_result() -> Response:
    """After an advisor's phone: goodbye if they talked, else the next ADVISOR_NUMBERS
    number, else what the closed menu offers (or, for a console advisor, the queue)."""
    content = flows().voice
    status = twilio_param("DialCallStatus")
    bridged = (
        twilio_param("DialBridged").lower() == "true"
        if twilio_param("DialBridged")
        else (status == "completed")
    )
    log.info(
        "call %s: advisor dial %s (bridged: %s)", twilio_param("CallSid"), status or "?", bridged
    )
    resp = VoiceResponse()
    rung = rung_param()
    numbers = advisor_numbers() if rung is not None and param("queue") != "1" else []
    if bridged:
        say(resp, content.safety, *content.goodbye)  # the safety line again as the call ends
        resp.hangup()
    elif param("queue") == "1":  # nobody free took it: the caller waits, keeping a place
        resp.redirect(link("voice_queue.join"), method="POST")
    elif rung is not None and rung + 1 < len(numbers):
        resp.append(dial_advisor(numbers, rung + 1))
    else:
        say(resp, content.advisor["unavailable"])
        resp.redirect(link("voice.menu", menu="closed"), method="POST")
    return twiml(resp)


@bp.route("/screen", methods=METHODS)
def screen() -> Response:
    """Heard by the advisor who picked up: press 1 to accept (a voicemail box can't)."""
    content = helpline().flows.voice
    resp = VoiceResponse()
    g = Gather(
        input="dtmf",
        num_digits=1,
        timeout=8,
        action=link("voice.screen_result"),
        method="POST",
        action_on_empty_result=True,
    )
    say(g, content.advisor["screen"], lang=ENGLISH)
    resp.append(g)
    say(resp, content.advisor["screen_declined"], lang=ENGLISH)
    resp.hangup()
    return twiml(resp)


@bp.route("/screen/result", methods=METHODS)
def screen_result() -> Response:
    resp = VoiceResponse()
    if twilio_param("Digits") != "1":
        say(resp, helpline().flows.voice.advisor["screen_declined"], lang=ENGLISH)
        resp.hangup()
    return twiml(resp)  # an empty response bridges the advisor to the caller


# ------------------------------------------------------------------ never an application error


def fallback_twiml(app: Flask, lang: str = ENGLISH) -> str:
    """The safe answer in `lang` (Welsh in Polly's Welsh voice, where there is Welsh
    content), rendered once at start-up so it cannot fail later."""
    h = app.extensions["helpline"]
    content = h.flows.speaking(lang)
    voice, spoken_as = (
        (WELSH_VOICE, WELSH_LANGUAGE)
        if content.language == WELSH
        else (h.settings.voice, h.settings.language)
    )
    resp = VoiceResponse()
    for text in content.fallback_lines():
        resp.say(text, voice=voice, language=spoken_as)
    resp.hangup()
    return str(resp)


def install_fallback(app: Flask) -> None:
    """Any error on a /voice route, or an unknown /voice URL, answers with the fallback, in
    Welsh on a Welsh call (`lang=cy`: never English read by the Welsh voice)."""
    fallbacks = {lang: fallback_twiml(app, lang) for lang in (ENGLISH, WELSH)}

    def published() -> None:
        """New words and hours published: the fallback says them too (if it renders)."""
        fallbacks.update({lang: fallback_twiml(app, lang) for lang in (ENGLISH, WELSH)})

    app.extensions["helpline"].content.on_change(published)

    @app.errorhandler(Exception)
    def on_error(error: Exception) -> Response | HTTPException:
        if isinstance(error, HTTPException) and request.path.startswith(WEBHOOK_PREFIXES):
            refused = helpline().guard.check(request)  # unknown URLs answer only Twilio too
            if refused is not None:
                return refused
        if not request.path.startswith(PREFIX):
            page = current_app.extensions.get(PAGE_ERROR)
            if page is not None and not request.path.startswith(WEBHOOK_PREFIXES):
                return page(error)  # a person at a browser: the console's page, what to do
            if isinstance(error, HTTPException):
                return error
            log.exception("error on %s", request.path)
            return Response("Internal error\n", status=500, mimetype="text/plain")
        if isinstance(error, HTTPException):
            log.warning("voice fallback on %s: %s", request.path, error)
        else:
            log.exception("voice fallback on %s (call %s)", request.path, twilio_param("CallSid"))
        if request.path.startswith(OUTBOUND_PREFIX):
            # A person being called back (or their voicemail, or whoever holds the phone)
            # must never hear the helpline's greeting: end that leg without a word.
            return Response(HANG_UP, mimetype="text/xml")
        FALLBACKS.labels("voice").inc()  # a caller, signed for, hears the fallback
        # The language from the query alone: reading a body may be what failed.
        lang = WELSH if request.args.get("lang") == WELSH else ENGLISH
        return Response(fallbacks[lang], mimetype="text/xml")
