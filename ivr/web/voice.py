"""The call tree as Twilio webhooks: TwiML only, built with the twilio helper library.

Decisions come from calltree.py and hours.py; words come from flows/voice.toml. Whatever
goes wrong, a caller gets valid TwiML: the safe fallback, never an application error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, request, url_for
from twilio.twiml.voice_response import Dial, Gather, Pause, VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.content.flows import ENGLISH, WELSH, WELSH_LANGUAGE, WELSH_VOICE, Flows
from ivr.core import calltree
from ivr.core.calltree import Option
from ivr.core.hours import Status
from ivr.core.phone import advisor_e164, mask
from ivr.core.phrases import usual_hours, when
from ivr.ops.metrics import FALLBACKS, WEBHOOK_PREFIXES, note
from ivr.store import stats
from ivr.store.accounts import Advisor
from ivr.store.live import LiveQueue
from ivr.web.app import PAGE_ERROR, helpline
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
    every webhook URL's query (`lang=cy`) from then on; English without it."""
    return WELSH if param("lang") == WELSH else ENGLISH


def flows() -> Flows:
    """The helpline's content in the call's language (hours and all that is not words are
    the same)."""
    return helpline().flows.speaking(language())


def offers_welsh() -> bool:
    """Whether this call starts with the choice of language: the helpline has switched
    Welsh on, or a simulation asks for it (`offer=1`, signed like every request)."""
    f = helpline().flows
    return f.welsh is not None and (f.welsh_on or param("offer") == "1")


# ------------------------------------------------------------------ small TwiML helpers


def twiml(resp: VoiceResponse) -> Response:
    return Response(str(resp), mimetype="text/xml")


def cached(key: tuple, build: Callable[[], VoiceResponse]) -> Response:
    """TwiML that depends only on `key` is built once per process: the same greeting and
    menus are sent to every caller, and building them is most of a request's own cost."""
    cache = helpline().twiml_cache
    key = (*key, language())
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


def gather(
    action: str, options: tuple[Option, ...], timeout: int = 6, also: tuple[str, ...] = ()
) -> Gather:
    """Listens for one key or for speech: everything said inside it can be interrupted.
    `also`: more words to help speech recognition hear (the danger words, in the wait)."""
    s = helpline().settings
    if language() == WELSH:  # speech stays en-GB: the danger words reach the 999 line
        also = (*also, *helpline().flows.voice.danger_words)
    hints = sorted({w for o in options for w in o.words} | set(also))
    return Gather(
        input="dtmf speech",
        action=action,
        method="POST",
        num_digits=1,
        timeout=timeout,
        speech_timeout="auto",
        language=s.language,
        hints=", ".join(hints),
    )


def param(name: str) -> str:
    return request.values.get(name, "") or ""


def now_status() -> Status:
    """Open or closed now: the hours, and a supervisor's closure if one is set (if the store
    can't be read, the normal hours apply)."""
    return helpline().call_status()


# ------------------------------------------------------------------ the main menu


def closed_intro(status: Status) -> list[str]:
    f = flows()
    content = f.voice
    reason = status.reason
    reason_text = ""
    if reason and reason.kind == "closure" and f.language == WELSH and not reason.welsh:
        # A closure with no Welsh message: never English in a Welsh voice (README, Welsh).
        reason_text = content.closed_reasons["not_open_today"]
    elif reason:
        message = reason.welsh if f.language == WELSH else reason.text
        reason_text = content.closed_reasons[reason.kind].format(
            name=reason.text or "", message=message or ""
        )
    fields = {
        "reason": reason_text,
        "usual_hours": usual_hours(f.hours_config.weekly, f.phrases),
        "when": when(status.next_opening, status.at, f.hours, f.phrases)
        if status.reopening_known
        else content.closed_when_unknown,
    }
    return [line.format(**fields) for line in content.closed_say]


def own_options(menu: str) -> tuple[Option, ...]:
    content = flows().voice
    return content.open_options if menu == "open" else content.closed_options


def menu_options(menu: str) -> tuple[Option, ...]:
    return calltree.menu_options(own_options(menu), flows().voice.navigation)


def add_menu(resp: VoiceResponse, menu: str, tries: int, intro: tuple[str, ...] = ()) -> None:
    """`intro` and the options in a Gather (a key interrupts them); silence falls through to
    a re-prompt (never a dead end)."""
    content = flows().voice
    g = gather(link("voice.choice", menu=menu, tries=tries), menu_options(menu))
    say(g, *intro, *(o.prompt for o in own_options(menu)), content.navigation["repeat"].prompt)
    if menu == "closed":
        say(g, content.closed_text_us)
    resp.append(g)
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


def heard_here(options: tuple[Option, ...]) -> tuple[calltree.Heard, VoiceResponse]:
    """What the caller chose among `options`, and the reply to build on: it starts with the
    999 line when they named danger, wherever the call goes next. A Welsh call listens for
    the English danger words too (its speech is recognised as en-GB)."""
    content = flows().voice
    danger = (*content.danger_words, *helpline().flows.voice.danger_words)
    heard = calltree.hear(options, param("Digits"), param("SpeechResult"), danger)
    resp = VoiceResponse()
    if heard.danger:
        log.info("call %s named danger: the 999 line", param("CallSid"))
        say(resp, *content.danger)
    return heard, resp


def not_chosen(
    heard: calltree.Heard, resp: VoiceResponse, again: Callable[[int], str], tries: int
) -> Response:
    """No option heard. After the 999 line, the same question again: no try lost. Otherwise
    say why (nothing heard, or not an option), then the same question: one more try."""
    if not heard.danger:
        content = flows().voice
        nothing = calltree.heard_nothing(param("Digits"), param("SpeechResult"))
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
    note(f"from {mask(param('From'))}: helpline {state}")
    stats.call_started(h.redis, status.at, h.flows.hours.timezone, status.open, keys=h.keys)
    if offers_welsh() and "lang" not in request.args:
        return cached(("bilingual",), bilingual_start)
    return start_in_language(status)


def bilingual_start() -> VoiceResponse:
    """The 999 line in both languages before anything can be pressed (the word limit counts
    the English greeting before it), then the language page."""
    resp = VoiceResponse()
    for lang in (ENGLISH, WELSH):
        content = helpline().flows.speaking(lang).voice
        say(resp, *content.greeting, content.safety, lang=lang)
    resp.redirect(link("voice.language_page", offer=1), method="POST")
    return resp


def start_in_language(status: Status) -> Response:
    """The start of the call in its language: (greeting and safety line, unless the
    bilingual start has said them) the reassurance and the open or closed menu."""
    menu_name = "open" if status.open else "closed"
    content = flows().voice
    before, intro = content.call_start(
        tuple(content.open_say if status.open else closed_intro(status))
    )
    chosen = "lang" in request.args

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        if not chosen:
            say(resp, *before)
        add_menu(resp, menu_name, 0, intro)
        return resp

    return cached(("incoming", menu_name, intro, chosen), build)


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
    return start_in_language(now_status())


@bp.route("/menu", methods=METHODS)
def menu() -> Response:
    """The options again: after silence, a wrong key, "repeat" or "main menu"."""
    tries = calltree.parse_tries(param("tries"))
    if calltree.should_give_up(tries):
        return give_up(VoiceResponse())
    menu_name = which_menu()

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        add_menu(resp, menu_name, tries)
        return resp

    return cached(("menu", menu_name, tries), build)


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
        live_queue().seen(param("CallSid"), helpline().clock())
    except redis.RedisError as exc:
        log.warning("could not note a caller still waiting: %s", exc)


@bp.route("/page/<name>", methods=METHODS)
def page(name: str) -> Response:
    """A part of one of the five steps, the police guidance or other support, then what
    next; all of it inside the <Gather>, so a key interrupts it. A part with more after it
    goes on by itself when nothing is pressed (that is no wrong try)."""
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

    def build() -> VoiceResponse:
        resp = VoiceResponse()
        options = page_options(name, part)
        g = gather(
            link("voice.page_choice", name=name, part=part, tries=tries, **queue_param()),
            options,
            timeout=PART_PAUSE if goes_on else 6,
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
        resp.append(g)
        if goes_on:
            resp.redirect(page_link(name, part + 1, tries=tries), method="POST")
        else:
            say(resp, content.no_input)
            resp.redirect(page_link(name, part, tries=tries + 1, replay=0), method="POST")
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


@bp.route("/advisor", methods=METHODS)
def advisor() -> Response:
    """Ring the advisors at once; each leg is screened so no voicemail answers a caller.
    While a console advisor is on duty, only the free ones are rung, and a caller nobody
    takes waits in the queue (voice_queue.py); with only ADVISOR_NUMBERS, as before: ring
    them all, then offer the rest."""
    h = helpline()
    content = flows().voice
    closed = closed_now()
    if closed is not None:
        return closed
    resp = VoiceResponse()
    try:
        on_duty = console_on_duty()
        ring = free_to_ring(on_duty) if on_duty else []
    except redis.RedisError as exc:
        log.warning("cannot read who is on duty (%s): ringing ADVISOR_NUMBERS", exc)
        on_duty, ring = [], []
    if on_duty and not ring:
        resp.redirect(link("voice_queue.join"), method="POST")
        return twiml(resp)
    numbers = advisor_numbers([a.phone for a in ring]) if ring else advisor_numbers()
    if not numbers:
        log.warning("call %s asked for an advisor but no advisor numbers are set", param("CallSid"))
        say(resp, content.advisor["unavailable"])
        resp.redirect(link("voice.menu", menu="closed"), method="POST")
        return twiml(resp)
    say(resp, content.advisor["connecting"])
    # The helpline's own number, so advisors see it is a helpline call. Only a plain E.164
    # number: anything else in To would be echoed into the TwiML (and could break the XML).
    caller_id = param("To") if E164.fullmatch(param("To")) else None
    dial = Dial(
        action=link("voice.advisor_result", **({"queue": 1} if ring else {})),
        method="POST",
        answer_on_bridge=True,
        timeout=h.settings.dial_timeout,
        record="do-not-record",
        caller_id=caller_id,
    )
    for who in ring:
        for number in advisor_numbers([who.phone]):
            dial.number(
                number,
                url=link("voice.screen", lang=None),
                method="POST",
                status_callback=link("voice_queue.advisor_status", adv=who.username),
                status_callback_event="initiated ringing answered completed",
                status_callback_method="POST",
            )
    if not ring:
        for number in numbers:
            dial.number(number, url=link("voice.screen", lang=None), method="POST")
    resp.append(dial)
    log.info("call %s: ringing %d advisors", param("CallSid"), len(numbers))
    return twiml(resp)


@bp.route("/advisor/result", methods=METHODS)
def advisor_result() -> Response:
    """After the advisors' phones: goodbye if they talked, else what the closed menu offers."""
    content = flows().voice
    status = param("DialCallStatus")
    bridged = (
        param("DialBridged").lower() == "true" if param("DialBridged") else (status == "completed")
    )
    log.info("call %s: advisor dial %s (bridged: %s)", param("CallSid"), status or "?", bridged)
    resp = VoiceResponse()
    if bridged:
        say(resp, content.safety, *content.goodbye)  # the safety line again as the call ends
        resp.hangup()
    elif param("queue") == "1":  # nobody free took it: the caller waits, keeping a place
        resp.redirect(link("voice_queue.join"), method="POST")
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
    if param("Digits") != "1":
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
            log.exception("voice fallback on %s (call %s)", request.path, param("CallSid"))
        if request.path.startswith(OUTBOUND_PREFIX):
            # A person being called back (or their voicemail, or whoever holds the phone)
            # must never hear the helpline's greeting: end that leg without a word.
            return Response(HANG_UP, mimetype="text/xml")
        FALLBACKS.labels("voice").inc()  # a caller, signed for, hears the fallback
        # The language from the query alone: reading a body may be what failed.
        lang = WELSH if request.args.get("lang") == WELSH else ENGLISH
        return Response(fallbacks[lang], mimetype="text/xml")
