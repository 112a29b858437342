"""The advisors' console under /console: sign in, go on duty, call the next person back,
record the outcome; supervisors close the line, manage advisors and see the day.

Server-rendered (Jinja), usable on a phone; a small poll keeps the queue current.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import ParamSpec, TypeVar

import redis
from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import escape
from twilio.base.exceptions import TwilioException
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ivr.content.flows import closure_message_problem, closure_opening_problem
from ivr.core.callbacks import OUTCOMES, Callback, after_outcome
from ivr.core.claims import actor, why_not_call_next
from ivr.core.expiry import last_day, overdue, to_decide
from ivr.core.hours import parse_reopening, usual_span
from ivr.core.languages import ENGLISH, WELSH
from ivr.core.livequeue import (
    BY_WAIT,
    FREE,
    LIVE_FIRST,
    ON_CALL,
    RINGING,
    WRAP_UP,
    twilio_queue,
)
from ivr.core.phone import console_mask
from ivr.core.promise import meets_hours, placement, promise
from ivr.core.report import axis_ticks, month_report, parse_month, seconds_text
from ivr.core.safetime import ANYTIME, describe, read_safe_time
from ivr.ops.checks import calls_problem
from ivr.ops.hashpool import Busy, HashPool
from ivr.store import audit, stats
from ivr.store.accounts import DEVICE_LINK_SECONDS, AccountError, Accounts, Advisor, username_for
from ivr.store.closures import close_line, reopen_line
from ivr.store.keys import calling
from ivr.store.live import DROPPED, Caller, Rules
from ivr.store.live import WAITING as ON_THE_LINE
from ivr.store.onelist import Taken, take_next
from ivr.store.queue import WAITING
from ivr.store.throttle import Attempt, SignInThrottle, Verdict, address_key
from ivr.twilio.rest import (
    call_advisor,
    call_advisor_for_caller,
    queue_members,
    send_sms,
    twilio_error,
)
from ivr.web.context import CHOSEN, CONSOLE_CHOICE, PAGE_ERROR, Helpline, helpline, helplines
from ivr.web.report_page import last_month, render_report, report_name

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/console")
login_manager = LoginManager()
csrf = CSRFProtect()
PUBLIC_ENDPOINTS = {"console.login", "console.trust_device"}
# a poll is not activity: idle sign-out still works
POLL_ENDPOINTS = {"console.queue_json", "console.supervisor_json"}
# The server signs an idle console out (require_sign_in); the cookie lives a little longer, so
# the page's next poll or click still carries it and the person is told why they were signed out
# (a cookie that expired in the browser first would just show the sign-in form, unexplained).
IDLE_NOTICE_SECONDS = 60
# A flash in this category is an error: shown apart from good news, and announced at once
# (role=alert). Errors the advisor can't fix say what to do; the detail goes to the log and the
# supervisor page.
ERROR = "error"
CALL_NEXT_LOCK_SECONDS = 30
BUSY_RETRY_SECONDS = 2
OUTCOME_LABELS = {
    "reached": "Reached",
    "no_answer": "No answer",
    "voicemail_left": "Voicemail left",
    "wrong_number": "Wrong number",
    "declined": "Asked not to be called",
}
STATE_LABELS = {
    "claimed": "Ringing your phone",
    "advisor_answered": "You answered",
    "advisor_missed": "Your phone was not answered",
    "ringing": "Ringing the caller",
    "connected": "Connected",
    "machine": "Answering machine",
    "ended": "Ended",
}


class User(UserMixin):
    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    def get_id(self) -> str:
        """The account and its session token (Flask-Login's "alternative token"): a new token
        (sign-out, a new password, a supervisor's "sign out everywhere") or a removed account
        ends every session, copied cookies included."""
        return f"{self.advisor.username}:{self.advisor.session}"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    username, _, token = user_id.rpartition(":")
    advisor = accounts().get(username) if username else None
    if advisor is None or not hmac.compare_digest(advisor.session, token):
        return None
    return User(advisor)


def accounts() -> Accounts:
    return helpline().accounts


def me() -> Advisor:
    return current_user.advisor


def my_helplines() -> list[Helpline]:
    """The helplines the signed-in advisor serves, the deployment's order."""
    return [h for h in helplines().values() if h.serves(me())]


def chosen_helpline() -> str | None:
    """Which helpline the console serves this request (app.helpline): the one asked for
    (?helpline=name, then kept in the session) among the advisor's own, else their first.
    Signed out: the default."""
    if not current_user.is_authenticated:
        return None
    mine = [h.line.name for h in my_helplines()]
    wanted = request.args.get("helpline") or session.get("helpline")
    if wanted in mine:
        if session.get("helpline") != wanted:
            session["helpline"] = wanted
        return wanted
    return mine[0] if mine else None


@bp.app_context_processor
def helpline_choice() -> dict[str, object]:
    """With more than one helpline, every console page names the one it shows and links to
    the advisor's others."""
    lines = helplines()
    if len(lines) == 1 or g.get("console_trouble") or not current_user.is_authenticated:
        return {"serving": None}
    current = helpline().line.name
    return {
        "serving": [(h.line.name, h.line.label, h.line.name == current) for h in my_helplines()]
    }


def managed(username: str) -> Advisor:
    """An advisor of the helpline shown, whom its supervisor may manage (404 otherwise)."""
    advisor = accounts().get(username)
    if advisor is None or not helpline().serves(advisor):
        abort(404)
    return advisor


class SignInForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class CloseForm(FlaskForm):
    message = StringField(
        "What callers hear and read", validators=[DataRequired(), Length(max=300)]
    )
    message_cy = StringField(
        "In Welsh, for Welsh callers (optional; without it they hear that the line is not "
        "open today, in Welsh)",
        validators=[Length(max=300)],
    )
    until = StringField(
        "Reopens at (optional): a time today such as 14:00, or a date and time such as "
        "2026-12-24 16:00. Closed until then, open again from that moment if the usual hours "
        "are on; empty: closed until you reopen it"
    )


class PlanForm(FlaskForm):
    safe_time = StringField(
        "Safe time, as the person said it (e.g. after 2pm, Tuesday, ANYTIME)",
        validators=[DataRequired(), Length(max=60)],
    )


# The language a callback was asked in, as the console shows it (a Welsh speaker takes it).
LANGUAGE_LABELS = {"en": "English", "cy": "Cymraeg (Welsh)"}

ORDER_LABELS = {
    LIVE_FIRST: "Callers on the line first (and those who swapped to a callback from the "
    "queue, in their place), then other callbacks",
    BY_WAIT: "Strictly by waiting time: callers on the line and callbacks together",
}
MAX_WAIT_LIMITS = (1, 120)  # minutes, as LiveQueue.set_rules accepts


class QueueRulesForm(FlaskForm):
    max_wait = IntegerField(
        "Longest wait on the line before the callback is offered (minutes, 1 to 120)",
        validators=[InputRequired(), NumberRange(*MAX_WAIT_LIMITS)],
    )
    order = RadioField(
        "Who advisors take next",
        choices=[SelectChoice(value, label) for value, label in ORDER_LABELS.items()],
        validators=[InputRequired()],
    )


class AdvisorForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=40)])
    phone = StringField(
        "Phone (UK or international format)", validators=[DataRequired(), Length(max=30)]
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=200)])
    supervisor = BooleanField("Supervisor")
    welsh = BooleanField("Speaks Welsh (takes Welsh callers and callbacks first)")


def init_console(app: Flask) -> None:
    """Sign-in, CSRF on every console form, secure cookies; Twilio's webhooks are exempt
    from CSRF (they are signed instead)."""
    s = helpline_settings(app)
    app.config.update(
        SESSION_COOKIE_SECURE=s.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=s.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=s.console_idle_seconds + IDLE_NOTICE_SECONDS),
    )
    app.session_interface = ConsoleSessions()
    app.extensions["signin_pool"] = HashPool.for_server(s.signin_pool_size, s.data_dir)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "Please sign in."
    csrf.init_app(app)
    for name, blueprint in app.blueprints.items():
        if name != "console":
            csrf.exempt(blueprint)
    app.register_blueprint(bp)
    app.extensions[CONSOLE_CHOICE] = chosen_helpline
    app.extensions[PAGE_ERROR] = page_for_error


@bp.app_context_processor
def published_content() -> dict[str, object]:
    """Every console page names the published words and hours it serves; supervisors also
    see the alarm while flows/ has a mistake (the last published version serving)."""
    if not current_user.is_authenticated:
        return {}
    line = helpline()
    serving, zone = line.content.serving, line.flows.hours.timezone
    record = serving.published
    return {
        "content_version": serving.version[:12],
        "content_published": f"{record.published_at.astimezone(zone):%-d %b %H:%M}"
        if record
        else "",
        "content_problem": serving.problem if current_user.advisor.supervisor else None,
    }


@bp.app_context_processor
def rehearsal_banner() -> dict[str, bool]:
    """`helpline demo`: every console page says nothing in it is real."""
    return {"rehearsal": helpline().settings.rehearsal}


class ConsoleSessions(SecureCookieSessionInterface):
    """Sessions for the console only: Twilio's webhooks never read or set a cookie, so they
    skip the work of opening one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(("/voice", "/sms")):
            return self.null_session_class()
        return super().open_session(app, request)


def helpline_settings(app: Flask):
    return app.extensions["helpline"].settings


@bp.before_request
def require_sign_in() -> Response | tuple[Response, int] | None:
    """Every console page but sign-in needs an account; 30 minutes idle signs you out."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        if request.endpoint in POLL_ENDPOINTS:
            return jsonify(error="signed out"), 401
        return login_manager.unauthorized()
    now = helpline().clock().timestamp()  # the injected clock: tests move it, not sleep
    last = session.get("active", now)
    if now - last > helpline().settings.console_idle_seconds:
        logout_user()
        session.clear()
        flash("You were signed out after a while without activity. Please sign in again.")
        if request.endpoint in POLL_ENDPOINTS:
            return jsonify(error="signed out"), 401
        return redirect(url_for("console.login"))
    if not helpline().serves(me()) and request.endpoint != "console.logout":
        abort(403)  # an account for none of this deployment's helplines
    if request.endpoint not in POLL_ENDPOINTS:
        session["active"] = now
        session.permanent = True
    return None


# Console pages refused or not found, in the console's words and look (not Flask's bare page).
ERROR_PAGES = {
    400: ("That form was out of date", "Go back, reload the page and try again."),
    403: ("This page is for supervisors", "Ask a supervisor if you need something from it."),
    404: ("There is no such page", "The link may be old or mistyped."),
    405: ("That page can't be opened like this", "Go back and use the page's own buttons."),
}


# Something went wrong on our side: what it means for callers and what to do, never a bare
# "Internal error". The store out of reach (stopped, paused, failing over) is the usual cause.
STORE_TROUBLE = (
    "The console can't reach its data",
    "Calls are still answered: callers hear the safe message with the 999 line. "
    "Try again in a minute; if this page stays, tell whoever runs the app.",
)
BUG_TROUBLE = (
    "Something went wrong in the console",
    "Calls are still answered. Go back and try again; if it happens again, tell whoever runs "
    "the app that it happened at {time} (the details are in the app's log).",
)
RETRY_SECONDS = 60
# The last resort, when even the page above can't be drawn: plain, and still what to do.
LAST_RESORT = (
    '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>{0} · Helpline '
    "console</title></head><body><h1>{0}</h1><p>{1}</p></body></html>"
)


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
def error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 400
    heading, advice = ERROR_PAGES[code]
    return render_template("console/error.html", heading=heading, advice=advice), code


def page_for_error(error: Exception) -> Response | HTTPException:
    """Any error outside Twilio's webhooks, as a person at a browser should see it: an unknown
    address is the console's "no such page"; a failure (the store out of reach, a bug) a
    plain page saying calls are still answered and what to do, logged in full."""
    if isinstance(error, HTTPException):
        if error.code not in ERROR_PAGES:
            return error  # e.g. 413: Flask's own answer is right
        heading, advice = ERROR_PAGES[error.code]
        status = error.code
    elif isinstance(error, redis.RedisError):
        log.error("the console could not reach the store on %s: %r", request.path, error)
        (heading, advice), status = STORE_TROUBLE, 503
    else:
        log.exception("error on %s", request.path)
        (heading, advice), status = BUG_TROUBLE, 500
        h = current_app.extensions["helpline"]  # not helpline(): choosing may be what failed
        advice = advice.format(time=in_words(h.clock(), h.flows.hours.timezone))
    response = Response(trouble_html(heading, advice, status), status, mimetype="text/html")
    if isinstance(error, HTTPException):  # e.g. 405's Allow
        response.headers.update(h for h in error.get_headers() if h[0] != "Content-Type")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_SECONDS)
    return response


def trouble_html(heading: str, advice: str, status: int) -> str:
    """The page in the console's look; if the store is what failed, drawn without it (no
    signed-in header: that needs the store); plain HTML if even that fails."""
    request.environ.setdefault(CHOSEN, current_app.extensions["helpline"])
    for without_store in (True,) if status >= 500 else (False, True):
        g.console_trouble = without_store
        try:
            return render_template(
                "console/error.html", heading=heading, advice=advice, trouble=without_store
            )
        except Exception:  # noqa: BLE001 - the error page must not fail
            log.exception("could not draw the error page for %s", request.path)
    return LAST_RESORT.format(escape(heading), escape(advice))


def audited(action: str, callback_id: str = "", number: str = "", detail: str = "") -> None:
    """Add to the audit trail what the signed-in advisor did, now (numbers masked)."""
    h = helpline()
    audit.record(
        h.redis, h.clock(), me().username, action, callback_id, number, detail, keys=h.keys
    )


P = ParamSpec("P")
R = TypeVar("R")


def supervisor_only(view: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not me().supervisor:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def waited(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


HELD_LABEL = "waiting for a safe time"
# An instant as stored (ISO 8601, any offset), e.g. in an older audit entry's detail.
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")


def in_words(at: datetime, zone: tzinfo) -> str:
    """An instant as staff read it: UK local time, the day in words ("Mon 7 Dec 13:00")."""
    return at.astimezone(zone).strftime("%a %-d %b %H:%M")


def instants_in_words(text: str, zone: tzinfo) -> str:
    """`text` with every stored instant in it written in_words (a naive one is UK local)."""

    def words(found: re.Match[str]) -> str:
        at = datetime.fromisoformat(found[0])
        return in_words(at if at.tzinfo else at.replace(tzinfo=zone), zone)

    return ISO_INSTANT.sub(words, text)


def audit_rows(
    entries: list[dict[str, str]], zone: tzinfo, names: dict[str, str]
) -> list[dict[str, str]]:
    """The audit trail as the supervisor reads it: who by the name staff know them by (an
    account since removed by its username), times in UK local words, also those an entry's
    detail holds."""
    return [
        {
            **e,
            "actor": names.get(e.get("actor", ""), e.get("actor", "")),
            "at": instants_in_words(e.get("at", ""), zone),
            "detail": instants_in_words(e.get("detail", ""), zone),
        }
        for e in entries
    ]


def row(cb: Callback, now: datetime) -> dict[str, object]:
    """One callback as advisors see it: the number masked, the safe time in words, whether
    this is its last day before it expires, and whether it is urgent."""
    h = helpline()
    zone = h.flows.hours.timezone
    due = cb.due_at.astimezone(zone)
    return {
        "id": cb.id,
        "number": console_mask(cb.number),
        "waited": waited(cb.requested_at, now),
        "plan": describe(cb.plan) if cb.plan is not None else HELD_LABEL,
        # Their own words about when (their last few such texts), beside the window read
        # from them, so a misreading is caught by the advisor. Escaped where shown.
        "words": " / ".join(f'"{said}"' for said in cb.words),
        "status": cb.status,
        "due": in_words(due, zone),
        "last_day": last_day(
            cb.count,
            h.settings.callback_expiry_opening_days,
            due.date(),
            now.astimezone(zone).date(),
        ),
        # nobody has tried to call it in its expiry days: it goes first, never expires
        "overdue": overdue(cb.count, cb.attempts, cb.status == "held", h.settings.limits),
        "voicemail": cb.voicemail,
        "attempts": cb.attempts,
        "source": cb.source,
        "language": LANGUAGE_LABELS.get(cb.language, cb.language),
        # Their text spoke of danger or despair: taken first; the advisor knows before calling.
        "urgent": cb.urgent,
        "state": STATE_LABELS.get(cb.call_state or "", ""),
        "call_state": cb.call_state or "",
    }


def on_the_line(now: datetime, who: bool = False) -> list[dict[str, object]]:
    """Callers waiting on the line, in their place (1: next), numbers masked; `who` names the
    advisor a caller is being put through to (for the supervisor)."""
    rows = []
    for place, caller in enumerate(helpline().live.waiting(now), start=1):
        being_taken = "being put through" + (f" to {caller.taken_by}" if who else "")
        rows.append(
            {
                "place": place,
                "number": caller.masked,
                "waited": waited(caller.joined, now),
                "now": "waiting" if caller.state == ON_THE_LINE else being_taken,
                "language": LANGUAGE_LABELS.get(caller.language, caller.language),
            }
        )
    return rows


ADVISOR_STATE_LABELS = {
    FREE: "Free",
    RINGING: "Ringing",
    ON_CALL: "On a call",
    WRAP_UP: "Wrap-up (recording the outcome)",
}


def advisors_now(now: datetime) -> list[dict[str, str]]:
    """Each of this helpline's advisors' state as the app routes by it (a stale one is
    free); an advisor serving several helplines has one state, shown in each."""
    h = helpline()
    rows = []
    for advisor in (a for a in accounts().all() if h.serves(a)):
        state = h.advisor_states.now_in(advisor.username, now)
        label = ADVISOR_STATE_LABELS.get(state, ADVISOR_STATE_LABELS[FREE])
        if not advisor.on_duty:
            label = "Off duty" if state == FREE else f"{label} (off duty)"
        rows.append({"name": advisor.name, "state": label})
    return rows


def queue_view() -> dict[str, object]:
    h = helpline()
    now = h.clock()
    due = sorted((row(cb, now) for cb in h.queue.all(("due",))), key=lambda r: not r["urgent"])
    mine = [row(cb, now) for cb in h.queue.claimed_by(me().username)]
    status = helpline().line_status()
    counts = h.queue.counts()
    return {
        "open": status.open,
        "live": on_the_line(now),
        "due": due,
        "mine": mine[0] if mine else None,
        "waiting_later": counts["scheduled"],
        "held": counts["held"],
        "on_duty": me().on_duty,
    }


# ------------------------------------------------------------------ sign in and out


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Throttled before any password is checked (see throttle.py); the check itself runs in
    the sign-in pool (hashpool.py), so calls are answered while it runs."""
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form)
    h = helpline()
    username = username_for(form.name.data)
    device = this_device()
    attempt = Attempt(
        username,
        address_key(request.remote_addr),
        device.id if device and username in device.names else None,
    )
    throttle = SignInThrottle(h.redis)
    verdict, ticket = throttle.begin(attempt, h.clock().timestamp())
    if verdict.refused:
        throttle.cancel(attempt, ticket)
        flash(refusal(verdict), ERROR)
        return (
            render_template("console/login.html", form=form),
            429,
            {"Retry-After": str(verdict.wait)},
        )
    try:
        pool = current_app.extensions["signin_pool"]
        advisor = accounts().verify(
            username, form.password.data, pool.runner(known_device=attempt.device is not None)
        )
    except Busy:  # every slot is checking a password: no hash, no failure counted
        throttle.cancel(attempt, ticket)
        flash("The console is busy. Please try again in a moment.", ERROR)
        return (
            render_template("console/login.html", form=form),
            503,
            {"Retry-After": str(BUSY_RETRY_SECONDS)},
        )
    if advisor is None:  # the try stays counted as a failure
        flash("That name and password don't match. Please try again.", ERROR)
        return render_template("console/login.html", form=form), 401
    throttle.succeeded(attempt, ticket)
    session.clear()
    login_user(User(advisor))
    session["active"] = h.clock().timestamp()
    session.permanent = True
    audit.record(h.redis, h.clock(), advisor.username, "signed in", keys=h.keys)
    response = redirect(url_for("console.queue"))
    remember_device(response, advisor.username, device)
    return response


def refusal(verdict: Verdict) -> str:
    if verdict.new_devices_refused:
        minutes = max(1, round(verdict.wait / 60))
        return (
            "Too many wrong passwords for this account: for now it can only be signed in "
            "to from a device it has been used on before, or one a supervisor trusts. "
            f"Ask a supervisor, or try again in about {minutes} minutes."
        )
    return f"Too many attempts. Please wait {verdict.wait} seconds and try again."


DEVICE_COOKIE = "hl_device"
DEVICE_DAYS = 90
DEVICE_ACCOUNTS = 5


@dataclass(frozen=True)
class Device:
    """This browser, as its signed "known device" cookie says: an id of its own and the
    accounts signed in from it."""

    id: str
    names: tuple[str, ...]


def _device_signer() -> URLSafeTimedSerializer:
    key = current_app.secret_key
    if key is None:  # create_app always sets one (load_secret_key refuses to start without)
        raise RuntimeError("the app has no secret key")
    return URLSafeTimedSerializer(key, salt="known-device")


def this_device() -> Device | None:
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        data = _device_signer().loads(cookie, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    return Device(data["id"], tuple(n for n in data.get("names", ()) if isinstance(n, str)))


def remember_device(response: Response, username: str, device: Device | None) -> None:
    """Make this browser a known device of `username` (and keep those it already knew)."""
    names = [n for n in (device.names if device else ()) if n != username]
    names = [*names[-(DEVICE_ACCOUNTS - 1) :], username]
    value = {"id": device.id if device else secrets.token_urlsafe(12), "names": names}
    response.set_cookie(
        DEVICE_COOKIE,
        _device_signer().dumps(value),
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=helpline().settings.cookie_secure,
        path="/console",
    )


class TrustForm(FlaskForm):
    """Only a button (and its CSRF token): a link preview that opens the page trusts nothing."""


@bp.route("/trust/<code>", methods=["GET", "POST"])
def trust_device(code: str) -> Response | tuple[str, int]:
    """A supervisor's one-time link: opened and confirmed on a new device, it makes the
    device known to one account, so that account's cap on new devices does not hold it."""
    form = TrustForm()
    username = accounts().device_link_account(code)
    if username and form.validate_on_submit():
        username = accounts().use_device_link(code)  # once: whoever confirms first
        if username:
            audit.record(
                helpline().redis,
                helpline().clock(),
                username,
                "trusted a new device with a supervisor's link",
                keys=helpline().keys,
            )
            flash("This device is now trusted for your account. Sign in.")
            response = redirect(url_for("console.login"))
            remember_device(response, username, this_device())
            return response
    if not username:
        return render_template("console/trust.html", form=None), 410
    advisor = accounts().get(username)
    name = advisor.name if advisor else username
    return render_template("console/trust.html", form=form, name=name), 200


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """Signing out ends the account's sessions everywhere: a cookie copied from this browser,
    or left on another device, stops working too. It takes the advisor off duty unless they
    choose to stay on (asked first, GET, when they are on duty): someone who has gone home
    must not be put through to callers."""
    if request.method == "GET":
        return render_template("console/logout.html", on_duty=me().on_duty)
    stay = me().on_duty and request.form.get("duty") == "stay"
    if me().on_duty and not stay:
        accounts().set_on_duty(me().username, False)
        audited("off duty")
    accounts().end_sessions(me().username)
    audited("signed out")
    logout_user()
    session.clear()
    if stay:
        flash("You have signed out. You are still on duty: callers can be put through to you.")
    else:
        flash("You have signed out and are off duty.")
    return redirect(url_for("console.login"))


# ------------------------------------------------------------------ the queue


@bp.route("/")
def queue() -> str:
    return render_template("console/queue.html", view=queue_view(), outcomes=OUTCOME_LABELS)


@bp.route("/queue.json")
def queue_json() -> Response:
    return jsonify(queue_view())


@bp.route("/duty", methods=["POST"])
def duty() -> Response:
    on = request.form.get("on_duty") == "1"
    accounts().set_on_duty(me().username, on)
    audited("on duty" if on else "off duty")
    return redirect(url_for("console.queue"))


@bp.route("/call-next", methods=["POST"])
def call_next() -> Response:
    """Take next: take the head of the one list (atomically), then ring the advisor's phone."""
    h = helpline()
    advisor = me()
    # One "Take next" at a time per advisor: a double click must not claim two callbacks
    # (the second would ring the advisor's phone for a call the console does not show).
    lock = calling(advisor.username)
    if not h.redis.set(lock, 1, nx=True, ex=CALL_NEXT_LOCK_SECONDS):
        flash("Already calling: one call at a time.", ERROR)
        return redirect(url_for("console.queue"))
    try:
        refused = why_not_call_next(
            h.line_status().open,
            advisor.on_duty,
            h.settings.rehearsal or (h.twilio is not None and bool(h.settings.helpline_number)),
            bool(h.queue.claimed_by(advisor.username)),
        )
        if refused == "no_twilio":
            log.error("call next refused: %s", calls_problem(h.settings))
        if refused:
            flash(CALL_NEXT_REFUSED[refused], ERROR)
        else:
            claim_and_ring(advisor)
    finally:
        h.redis.delete(lock)
    return redirect(url_for("console.queue"))


CALL_NEXT_REFUSED = {
    "closed": "The helpline is closed: nobody is called while it is closed.",
    "off_duty": "Go on duty first.",
    "no_twilio": "Calls can't be made right now: tell your supervisor.",
    "holding": "Record the outcome of your current call first.",
}


def take(advisor: Advisor) -> Taken | None:
    """The head of the one list (callbacks on their last day, live callers, due callbacks),
    as this advisor takes it (Welsh callers first for a Welsh speaker), taken atomically,
    after our list of callers is brought in line with Twilio's queues."""
    h = helpline()
    now = h.clock()
    reconcile_with_twilio(now)
    rules = queue_rules()
    return take_next(
        h.queue,
        h.live,
        advisor.username,
        now,
        rules.order,
        h.settings.callback_expiry_opening_days,
        h.flows.hours.timezone,
        advisor.welsh,
        welsh_speaker_on_duty(),
    )


# A caller just joined (or just given back) may not be in Twilio's queue yet: we note them
# before Twilio runs the <Enqueue> we answer with.
JOIN_GRACE = timedelta(seconds=30)


def reconcile_with_twilio(now: datetime) -> None:
    """Our list of callers against the members of the helpline's Twilio queues (GET
    Members): a caller Twilio holds whom our list dropped (their wait page stopped asking
    for SEEN_STALE) or never had gets their place back, never stranded out of reach of
    Take next; a waiting caller Twilio no longer holds hung up without Twilio telling us,
    and is not taken. When Twilio can't be asked, our list stands (docs/take-next.md)."""
    h = helpline()
    if h.twilio is None:
        return
    ours = {c.call_sid: c for c in h.live.waiting(now)}
    for lang in (ENGLISH, WELSH) if h.flows.welsh else (ENGLISH,):
        held = queue_members(h.twilio, twilio_queue(h.keys.helpline, lang))
        if held is None:
            continue
        for sid, waited in held.items():
            if sid not in ours and h.live.reconcile(
                sid, now, now - timedelta(seconds=waited), lang
            ):
                log.info("call %s: in Twilio's queue but not in our list: back in its place", sid)
        for sid, caller in ours.items():
            seen = caller.seen or caller.joined
            if (
                caller.language == lang
                and caller.state == ON_THE_LINE
                and sid not in held
                and now - seen > JOIN_GRACE
            ):
                h.live.end(sid, DROPPED, now)  # back in its place if its wait page asks
                log.info("call %s: no longer in Twilio's queue: dropped", sid)


def welsh_speaker_on_duty() -> bool:
    """Whether an advisor of this helpline who speaks Welsh is on duty (then Welsh callers
    wait for one: livequeue.for_advisor)."""
    h = helpline()
    return any(a.welsh and a.on_duty and h.serves(a) for a in accounts().all())


def claim_and_ring(advisor: Advisor) -> None:
    h = helpline()
    now = h.clock()
    taken = take(advisor)
    if taken is None:
        flash("Nobody is waiting right now: no caller on the line and no callback due.")
        return
    if h.settings.rehearsal:  # helpline demo: nobody's phone rings
        if taken.callback is not None:
            audit.record(
                h.redis,
                now,
                advisor.username,
                "claimed",
                taken.callback.id,
                taken.callback.number,
                keys=h.keys,
            )
        flash(
            "Rehearsal: your phone would ring now; press 1 to be put through to the caller. "
            "Then record what happened below."
        )
        return
    base = h.settings.public_base_url or request.url_root.rstrip("/")
    if taken.caller is not None:
        ring_for_caller(advisor, taken.caller, base)
        return
    callback = taken.callback
    assert callback is not None
    audit.record(
        h.redis, now, advisor.username, "claimed", callback.id, callback.number, keys=h.keys
    )
    try:
        call_advisor(h.twilio, h.settings, base, advisor.phone, callback.id, advisor.username)
    except (TwilioException, OSError) as exc:  # OSError: requests' connection errors
        log.error(
            "could not ring advisor %s for callback %s: %s",
            advisor.username,
            callback.id,
            twilio_error(exc),
        )
        h.queue.unclaim(callback.id, advisor.username)
        audit.record(
            h.redis,
            now,
            advisor.username,
            "phone not rung",
            callback.id,
            callback.number,
            twilio_error(exc),
            keys=h.keys,
        )
        flash(
            "Your phone could not be rung, so the callback is back in the queue. Try again "
            "in a minute; if it happens again, tell your supervisor.",
            ERROR,
        )
        return
    audit.record(
        h.redis, now, advisor.username, "called", callback.id, callback.number, keys=h.keys
    )
    flash("Ringing your phone: press 1 when you answer to connect to the caller.")


def ring_for_caller(advisor: Advisor, caller: Caller, base: str) -> None:
    """Ring the advisor to take a caller waiting on the line; if their phone can't be rung,
    the caller waits on, keeping their place."""
    h = helpline()
    now = h.clock()
    try:
        call_advisor_for_caller(
            h.twilio, h.settings, base, advisor.phone, caller.call_sid, advisor.username
        )
    except (TwilioException, OSError) as exc:
        log.error(
            "could not ring advisor %s for a queued caller: %s",
            advisor.username,
            twilio_error(exc),
        )
        h.live.give_back(caller.call_sid, advisor.username)
        flash("Your phone could not be rung. The caller is still waiting.")
        return
    audit.record(
        h.redis,
        now,
        advisor.username,
        "took a caller from the queue",
        detail=caller.masked,
        keys=h.keys,
    )
    flash("Ringing your phone: press 1 when you answer to take the caller who is waiting.")


@bp.route("/callbacks/<callback_id>/outcome", methods=["POST"])
def outcome(callback_id: str) -> Response:
    """Record what happened; no answer comes back later, up to the maximum attempts."""
    h = helpline()
    s = h.settings
    callback = h.queue.get(callback_id)
    result = request.form.get("outcome", "")
    if (
        callback is None
        or result not in OUTCOMES
        or (result == "voicemail_left" and not callback.voicemail)
    ):
        flash("Choose one of the outcomes shown.", ERROR)
        return redirect(url_for("console.queue"))
    now = h.clock()
    status, place = after_outcome(
        result,
        callback.attempts,
        s.max_attempts,
        now,
        h.flows.hours,
        timedelta(minutes=s.retry_delay_minutes),
        callback.plan,
    )
    if not h.queue.finish(
        callback.id, actor(me().username, me().supervisor), result, status, now, place
    ):
        flash("That callback is not yours to finish.", ERROR)
        return redirect(url_for("console.queue"))
    audit.record(
        h.redis,
        now,
        me().username,
        f"outcome {result}",
        callback.id,
        callback.number,
        status,
        keys=h.keys,
    )
    tz = h.flows.hours.timezone
    if result in ("reached", "voicemail_left"):
        stats.count(h.redis, now, tz, "cb:reached", keys=h.keys)
    if status == "expired":
        stats.count(h.redis, now, tz, "cb:expired", keys=h.keys)
    flash(
        f"Recorded: {OUTCOME_LABELS[result]}."
        + (" It will come back to the queue later." if status == "scheduled" else "")
    )
    return redirect(url_for("console.queue"))


# ------------------------------------------------------------------ supervisor


# The supervisor's words for calls_problem: what is wrong and where the fix is written, no
# setting names (those are in the log and `helpline check`).
NO_CALLS_FOR_STAFF = (
    "Advisors can't make calls from the console: the app is missing its Twilio account "
    "details or the helpline's phone number. Whoever runs the app can set them: see "
    "“Connecting a Twilio number, step by step” in the README."
)


def queue_rules() -> Rules:
    """The supervisor's queue rules, else QUEUE_MAX_WAIT_MINUTES and QUEUE_ORDER."""
    h = helpline()
    return h.live.rules(
        timedelta(minutes=h.settings.queue_max_wait_minutes), h.settings.queue_order
    )


def supervisor_view() -> dict[str, object]:
    """What the supervisor page's poll redraws: the queue (place, masked number, wait, who is
    being put through) and each advisor's state."""
    now = helpline().clock()
    return {"live": on_the_line(now, who=True), "advisors": advisors_now(now)}


@bp.route("/supervisor/")
@supervisor_only
def supervisor() -> str:
    h = helpline()
    now = h.clock()
    callbacks = list(h.queue.all(WAITING))
    waiting = [row(cb, now) for cb in callbacks]
    asked = {cb.id for cb in callbacks if decision_asked(cb)}
    for shown in waiting:
        shown["decide"] = shown["id"] in asked
    rules = queue_rules()
    override = h.closure()
    # a rehearsal (helpline demo) places no calls, so it misses no settings for them
    problem = None if h.settings.rehearsal else calls_problem(h.settings)
    if problem:  # the settings' names, for whoever runs the app; staff get plain words
        log.warning("supervisor page: %s", problem)
    return render_template(
        "console/supervisor.html",
        calls_problem=NO_CALLS_FOR_STAFF if problem else None,
        status=helpline().line_status(),
        override=override,
        advisors=[a for a in accounts().all() if h.serves(a)],
        close_form=CloseForm(),
        welsh=h.flows.welsh is not None,
        advisor_form=AdvisorForm(),
        waiting=waiting,
        overdue_count=sum(1 for shown in waiting if shown["overdue"]),
        decision_days=h.settings.callback_decision_opening_days,
        audit=audit_rows(
            audit.recent(h.redis, 50, h.keys),
            h.flows.hours.timezone,
            {a.username: a.name for a in accounts().all()},
        ),
        closed_until=(
            f"{override.until.astimezone(h.flows.hours.timezone):%A %-d %B %H:%M}"
            if override and override.until
            else ""
        ),
        view=supervisor_view(),
        rules_form=QueueRulesForm(
            data={"max_wait": int(rules.max_wait.total_seconds() // 60), "order": rules.order}
        ),
    )


@bp.route("/supervisor/queue.json")
@supervisor_only
def supervisor_json() -> Response:
    return jsonify(supervisor_view())


@bp.route("/supervisor/queue-rules", methods=["POST"])
@supervisor_only
def set_queue_rules() -> Response:
    """The longest wait on the line and the order advisors take in, for every process at
    once (read from the store on each wait and each "Take next")."""
    form = QueueRulesForm()
    if not form.validate_on_submit():
        low, high = MAX_WAIT_LIMITS
        if form.max_wait.errors:
            flash(
                f"Write the longest wait as a whole number of minutes from {low} to {high}: "
                "the queue rules were not changed.",
                ERROR,
            )
        if form.order.errors:
            flash("Choose who advisors take next: the queue rules were not changed.", ERROR)
        return redirect(url_for("console.supervisor"))
    minutes, order = int(form.max_wait.data), str(form.order.data)
    helpline().live.set_rules(minutes, order)
    words = "callers on the line first" if order == LIVE_FIRST else "strictly by waiting time"
    audited("set the queue rules", detail=f"longest wait {minutes} min, {words}")
    flash(f"Queue rules set: callers wait at most {minutes} min on the line; {words}.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/close", methods=["POST"])
@supervisor_only
def close() -> Response:
    h = helpline()
    form = CloseForm()
    if not form.validate_on_submit():
        flash("Write the message callers will hear.", ERROR)
        return redirect(url_for("console.supervisor"))
    until = None
    if form.until.data:
        try:
            until = parse_reopening(form.until.data, h.clock(), h.flows.hours.timezone)
        except ValueError:
            flash(
                "Write the time like 14:00 (today) or 2026-12-24 16:00, or leave it empty.",
                ERROR,
            )
            return redirect(url_for("console.supervisor"))
        if until <= h.clock():  # the line would not close at all: say so, don't pretend
            flash("That time has already passed: the line was not closed.", ERROR)
            return redirect(url_for("console.supervisor"))
    message = form.message.data.strip()
    message_cy = (form.message_cy.data or "").strip()
    problem = (
        closure_message_problem(message)
        or (closure_message_problem(message_cy, welsh=True) if message_cy else None)
        or closure_opening_problem(h.flows, h.clock(), message, until, message_cy)
    )
    if problem:
        flash(f"The line was not closed: the message can't be used, {problem}.", ERROR)
        return redirect(url_for("console.supervisor"))
    close_line(h.redis, message, until, h.keys.real, message_cy)
    h.override.invalidate()  # this process at once; the others hear it announced
    zone = h.flows.hours.timezone
    audited(
        "closed the line", detail=f"until {in_words(until, zone)}" if until else "until reopened"
    )
    flash("The line is closed: callers now hear your message.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/reopen", methods=["POST"])
@supervisor_only
def reopen() -> Response:
    reopen_line(helpline().redis, helpline().keys.real)
    helpline().override.invalidate()
    audited("reopened the line")
    flash("The line follows its usual hours again.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/callbacks/<callback_id>/plan", methods=["POST"])
@supervisor_only
def change_plan(callback_id: str) -> Response:
    """On the person's request, a supervisor changes when it is safe to call them: read as
    their text would be, and placed by the same rules."""
    h = helpline()
    form = PlanForm()
    callback = h.queue.get(callback_id)
    if not form.validate_on_submit() or callback is None or callback.status not in WAITING:
        flash("Write the safe time for a callback that is waiting.", ERROR)
        return redirect(url_for("console.supervisor"))
    now = h.clock()
    hours = h.flows.hours
    words = form.safe_time.data.strip()
    reading = read_safe_time(
        words, now.astimezone(hours.timezone).date(), usual_span(h.flows.hours_config)
    )
    window = (
        reading.window
        if reading.kind == "plan" and reading.window
        else (ANYTIME if reading.kind == "anytime" or words.upper() == "ANYTIME" else None)
    )
    if window is None:
        flash(
            f"Could not read {words!r} as a safe time: try e.g. after 2pm, before 11am, "
            "Tuesday, mornings or ANYTIME.",
            ERROR,
        )
        return redirect(url_for("console.supervisor"))
    if not meets_hours(window, now, hours):
        flash(f"{describe(window)} is never inside opening hours: nothing was changed.", ERROR)
        return redirect(url_for("console.supervisor"))
    promised = promise(now, window, hours, h.closure(), h.settings.min_slot)
    if h.queue.replan(callback.id, window, placement(promised, now, hours)) == "gone":
        flash("That callback is no longer waiting.", ERROR)
        return redirect(url_for("console.supervisor"))
    audited("changed the safe time", callback.id, callback.number, describe(window))
    flash(f"Safe time set: {describe(window)}.")
    return redirect(url_for("console.supervisor"))


def decision_asked(cb: Callback) -> bool:
    """Whether the supervisor is asked to keep or close this overdue callback now."""
    return cb.status in ("scheduled", "due") and to_decide(
        cb.count, cb.attempts, False, helpline().settings.limits
    )


DECISIONS = {
    "keep": "kept an overdue callback",
    "close": "closed an overdue callback without a text",
    "close_text": "closed an overdue callback with a text",
}


@bp.route("/supervisor/callbacks/<callback_id>/overdue", methods=["POST"])
@supervisor_only
def decide_overdue(callback_id: str) -> Response:
    """A supervisor's decision on a callback nobody has tried to call, once they are asked
    (expiry.to_decide): keep it (asked again after the decision days), or close it, quietly
    or with the discreet text of flows/sms.toml [ended] closed. Nothing else closes one."""
    h = helpline()
    decision = request.form.get("decision", "")
    callback = h.queue.get(callback_id)
    if decision not in DECISIONS:
        flash("Choose keep, close, or close with a text.", ERROR)
        return redirect(url_for("console.supervisor"))
    if callback is None or not decision_asked(callback):
        flash("That callback is not waiting for a decision: nothing was changed.", ERROR)
        return redirect(url_for("console.supervisor"))
    now = h.clock()
    if decision == "keep":
        if not h.queue.keep(callback.id):
            flash("That callback is no longer waiting: nothing was changed.", ERROR)
            return redirect(url_for("console.supervisor"))
        audited(DECISIONS[decision], callback.id, callback.number)
        flash("Kept: it stays first in line, and you will be asked again if nobody reaches it.")
        return redirect(url_for("console.supervisor"))
    outcome = "closed_unreached_texted" if decision == "close_text" else "closed_unreached"
    if not h.queue.end(callback.id, "cancelled", now, ("scheduled", "due"), outcome=outcome):
        flash("That callback is no longer waiting: nothing was changed.", ERROR)
        return redirect(url_for("console.supervisor"))
    audited(DECISIONS[decision], callback.id, callback.number)
    if decision == "close":
        flash("Closed, without a text.")
    elif text_closed(callback):
        flash("Closed, and a text was sent.")
    else:
        flash("Closed, but the text could not be sent.", ERROR)
    return redirect(url_for("console.supervisor"))


def text_closed(callback: Callback) -> bool:
    """Send the [ended] closed text, in the person's language; whether it went (a rehearsal
    sends nothing and says it did; a failure is logged and audited, never a number)."""
    h = helpline()
    if h.settings.rehearsal:
        return True
    body = h.flows.speaking(callback.language).ended_text("closed")
    if h.twilio is None or not h.settings.helpline_number or not body:
        log.error("could not text for closed callback %s: no Twilio settings", callback.id)
        return False
    try:
        send_sms(h.twilio, h.settings, callback.number, body)
    except (TwilioException, OSError) as exc:
        log.error("could not text for closed callback %s: %s", callback.id, twilio_error(exc))
        audited("could not send the closing text", callback.id, callback.number, twilio_error(exc))
        return False
    return True


@bp.route("/supervisor/advisors", methods=["POST"])
@supervisor_only
def add_advisor() -> Response:
    form = AdvisorForm()
    if not form.validate_on_submit():
        flash("Give a name, a phone number and a password of at least 10 characters.", ERROR)
        return redirect(url_for("console.supervisor"))
    try:
        advisor = accounts().add(
            form.name.data,
            form.phone.data,
            form.password.data,
            form.supervisor.data,
            helplines=_new_advisor_helplines(),
            welsh=form.welsh.data,
        )
    except AccountError as exc:
        flash(f"Not added: {exc}.", ERROR)
        return redirect(url_for("console.supervisor"))
    audited(f"added advisor {advisor.name}")
    flash(f"Added {advisor.name}.")
    return redirect(url_for("console.supervisor"))


def _new_advisor_helplines() -> tuple[str, ...]:
    """An advisor a supervisor adds serves the helpline shown (nothing stored for the
    default one: an account of a one-helpline deployment stays as it was)."""
    h = helpline()
    return () if h.line == h.lines.default else (h.line.name,)


@bp.route("/supervisor/advisors/<username>/remove", methods=["POST"])
@supervisor_only
def remove_advisor(username: str) -> Response:
    """From the helpline shown: an advisor who also serves others stays theirs."""
    h = helpline()
    advisor = managed(username)
    others = tuple(
        line.name
        for line in h.lines.all
        if line != h.line and advisor.serves(line.name, h.lines.default.name)
    )
    if username == me().username:
        flash("You can't remove yourself.", ERROR)
    elif others:
        accounts().set_helplines(username, others)
        audited(f"removed advisor {advisor.name} from this helpline")
        flash(f"Removed {advisor.name} from this helpline.")
    elif accounts().remove(username):
        audited(f"removed advisor {advisor.name}")
        flash(f"Removed {advisor.name}.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/advisors/<username>/sign-out", methods=["POST"])
@supervisor_only
def sign_out_everywhere(username: str) -> Response:
    """End every session of one account at once, e.g. for a lost phone."""
    advisor = managed(username)
    if accounts().end_sessions(username):
        audited(f"signed {advisor.name} out everywhere")
        flash(f"{advisor.name} is signed out on every device.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/advisors/<username>/trust", methods=["POST"])
@supervisor_only
def device_link(username: str) -> Response | str:
    """A one-time link for the advisor's new device, shown once, to this supervisor only."""
    advisor = managed(username)
    code = accounts().device_link(username)
    if code is None:
        abort(404)
    audited(f"made a device link for {advisor.name}")
    base = helpline().settings.public_base_url or request.url_root.rstrip("/")
    return render_template(
        "console/device_link.html",
        name=advisor.name,
        link=base + url_for("console.trust_device", code=code),
        minutes=DEVICE_LINK_SECONDS // 60,
    )


@bp.route("/supervisor/advisors/<username>/duty", methods=["POST"])
@supervisor_only
def set_duty(username: str) -> Response:
    advisor = managed(username)
    on = request.form.get("on_duty") == "1"
    accounts().set_on_duty(username, on)
    audited(f"put {advisor.name} {'on' if on else 'off'} duty")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/stats")
@supervisor_only
def stats_page() -> str:
    h = helpline()
    today = h.clock().astimezone(h.flows.hours.timezone).date()
    return render_template(
        "console/stats.html",
        today=stats.summary(h.redis, today, 1, h.keys),
        month=stats.summary(h.redis, today, 30, h.keys),
        day=today,
        seconds=seconds_text,
        scale=axis_ticks,
    )


@bp.route("/supervisor/report")
@supervisor_only
def report_page() -> Response | str:
    """A month's report for funders (last month unless ?month=2026-11), ready to print."""
    h = helpline()
    now = h.clock().astimezone(h.flows.hours.timezone)
    try:
        first = parse_month(request.args["month"]) if "month" in request.args else None
    except ValueError:
        return redirect(url_for("console.report_page"))
    first = first or last_month(now.date())
    counters = stats.month(h.redis, first, now.date(), h.keys)
    report = month_report(first, counters, now.date(), report_name(h.line, h.lines))
    return render_report(report, now, standalone=False)
