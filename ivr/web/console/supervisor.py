"""The supervisor's pages: the line (close and reopen), the queue's rules, callbacks' plans
and overdue decisions, the advisors, the day's numbers and the month's report."""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from twilio.base.exceptions import TwilioException
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ivr.actions import calling, closing
from ivr.core.callbacks import Callback
from ivr.core.clock import brief_in_words
from ivr.core.expiry import to_decide
from ivr.core.hours import usual_span
from ivr.core.livequeue import BY_WAIT, FREE, LIVE_FIRST, ON_CALL, RINGING, WRAP_UP
from ivr.core.promise import meets_hours, placement, promise
from ivr.core.report import axis_ticks, month_report, parse_month, seconds_text
from ivr.core.safetime import ANYTIME, describe, read_safe_time
from ivr.ops.checks import calls_problem
from ivr.store import audit, stats
from ivr.store.accounts import DEVICE_LINK_SECONDS, AccountError
from ivr.store.queue import WAITING
from ivr.twilio.rest import send_sms, twilio_error
from ivr.web.console.common import (
    ERROR,
    accounts,
    audited,
    bp,
    log,
    managed,
    me,
    on_the_line,
    row,
    supervisor_only,
)
from ivr.web.context import helpline
from ivr.web.report_page import last_month, render_report, report_name


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


# An instant as stored (ISO 8601, any offset), e.g. in an older audit entry's detail.
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[+-]\d\d:\d\d|Z)?")


def instants_in_words(text: str, zone: tzinfo) -> str:
    """`text` with every stored instant in it written in_words (a naive one is UK local)."""

    def words(found: re.Match[str]) -> str:
        at = datetime.fromisoformat(found[0])
        return brief_in_words(at if at.tzinfo else at.replace(tzinfo=zone), zone)

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


# The supervisor's words for calls_problem: what is wrong and where the fix is written, no
# setting names (those are in the log and `helpline check`).
NO_CALLS_FOR_STAFF = (
    "Advisors can't make calls from the console: the app is missing its Twilio account "
    "details or the helpline's phone number. Whoever runs the app can set them: see "
    "“Connecting a Twilio number, step by step” in the README."
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
    rules = calling.queue_rules(h)
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
    form = CloseForm()
    if not form.validate_on_submit():
        flash("Write the message callers will hear.", ERROR)
        return redirect(url_for("console.supervisor"))
    try:
        closing.close(
            helpline(),
            me().username,
            form.message.data,
            form.until.data or "",
            form.message_cy.data or "",
        )
    except closing.NotClosed as refused:
        flash(str(refused), ERROR)
        return redirect(url_for("console.supervisor"))
    flash("The line is closed: callers now hear your message.")
    return redirect(url_for("console.supervisor"))


@bp.route("/supervisor/reopen", methods=["POST"])
@supervisor_only
def reopen() -> Response:
    closing.reopen(helpline(), me().username)
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
