"""What every console page shares: the blueprint, who is signed in, the checks before each
page, the error pages, and the way a callback or a caller is shown."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

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
from flask_login import LoginManager, UserMixin, current_user, logout_user
from flask_wtf.csrf import CSRFProtect
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ivr.core.callbacks import Callback
from ivr.core.clock import brief_in_words
from ivr.core.conditions import has_condition
from ivr.core.expiry import last_day, overdue
from ivr.core.phone import console_mask
from ivr.core.safetime import describe
from ivr.store import Unavailable, audit
from ivr.store.accounts import Accounts, Advisor
from ivr.store.live import WAITING as ON_THE_LINE
from ivr.web.context import CHOSEN, Helpline, helpline, helplines

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
NEWS = "message"  # flash's own category: good news, or news that needs nothing done
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


# The language a callback was asked in, as the console shows it (a Welsh speaker takes it).
LANGUAGE_LABELS = {"en": "English", "cy": "Cymraeg (Welsh)"}


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
    elif isinstance(error, Unavailable):
        log.error("the console could not reach the store on %s: %r", request.path, error)
        (heading, advice), status = STORE_TROUBLE, 503
    else:
        log.exception("error on %s", request.path)
        (heading, advice), status = BUG_TROUBLE, 500
        h = current_app.extensions["helpline"]  # not helpline(): choosing may be what failed
        advice = advice.format(time=brief_in_words(h.clock(), h.flows.hours.timezone))
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
# "any time" beside "text first" read as leave to call however: the label says there is more.
ON_CONDITIONS = "{when}, on their conditions: read their words"


def plan_label(cb: Callback) -> str:
    """The safe time in words for advisors; a time with a condition the person put on how
    we call ("text first", "no voicemail") says so, since the time alone reads as none."""
    if cb.plan is None:
        return HELD_LABEL
    when = describe(cb.plan)
    if any(has_condition(said) for said in cb.words):
        return ON_CONDITIONS.format(when=when)
    return when


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
        "plan": plan_label(cb),
        # Their own words about when (their last few such texts), beside the window read
        # from them, so a misreading is caught by the advisor. Escaped where shown.
        "words": " / ".join(f'"{said}"' for said in cb.words),
        "status": cb.status,
        "due": brief_in_words(due, zone),
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
