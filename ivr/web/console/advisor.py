"""The advisor's console: the queue, going on duty, "Take next" and the outcome of a call."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr.actions import calling
from ivr.web.console.common import (
    ERROR,
    NEWS,
    accounts,
    audited,
    bp,
    me,
    on_the_line,
    row,
)
from ivr.web.context import helpline

OUTCOME_LABELS = {
    "reached": "Reached",
    "no_answer": "No answer",
    "voicemail_left": "Voicemail left",
    "wrong_number": "Wrong number",
    "declined": "Asked not to be called",
}


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
    base = h.settings.public_base_url or request.url_root.rstrip("/")
    said, category = TAKE_NEXT_SAID[calling.call_next(h, me(), base, h.clock())]
    flash(said, category)
    return redirect(url_for("console.queue"))


# What the advisor is told of each thing Take next can do (actions/calling.py).
TAKE_NEXT_SAID = {
    calling.BUSY: ("Already calling: one call at a time.", ERROR),
    "closed": ("The helpline is closed: nobody is called while it is closed.", ERROR),
    "off_duty": ("Go on duty first.", ERROR),
    "no_twilio": ("Calls can't be made right now: tell your supervisor.", ERROR),
    "holding": ("Record the outcome of your current call first.", ERROR),
    calling.NOBODY: (
        "Nobody is waiting right now: no caller on the line and no callback due.",
        NEWS,
    ),
    calling.REHEARSED: (
        "Rehearsal: your phone would ring now; press 1 to be put through to the caller. "
        "Then record what happened below.",
        NEWS,
    ),
    calling.RINGING_FOR_CALLBACK: (
        "Ringing your phone: press 1 when you answer to connect to the caller.",
        NEWS,
    ),
    calling.CALLBACK_NOT_RUNG: (
        "Your phone could not be rung, so the callback is back in the queue. Try again "
        "in a minute; if it happens again, tell your supervisor.",
        ERROR,
    ),
    calling.RINGING_FOR_CALLER: (
        "Ringing your phone: press 1 when you answer to take the caller who is waiting.",
        NEWS,
    ),
    calling.CALLER_NOT_RUNG: ("Your phone could not be rung. The caller is still waiting.", NEWS),
}


@bp.route("/callbacks/<callback_id>/outcome", methods=["POST"])
def outcome(callback_id: str) -> Response:
    """Record what happened; no answer comes back later, up to the maximum attempts."""
    h = helpline()
    result = request.form.get("outcome", "")
    status = calling.record_outcome(h, me(), callback_id, result, h.clock())
    if status == calling.NOT_SHOWN:
        flash("Choose one of the outcomes shown.", ERROR)
    elif status == calling.NOT_YOURS:
        flash("That callback is not yours to finish.", ERROR)
    else:
        flash(
            f"Recorded: {OUTCOME_LABELS[result]}."
            + (" It will come back to the queue later." if status == "scheduled" else "")
        )
    return redirect(url_for("console.queue"))
