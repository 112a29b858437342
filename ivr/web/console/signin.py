"""Signing in and out of the console, and the devices an account is trusted on."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ivr.ops.hashpool import Busy
from ivr.store import audit
from ivr.store.accounts import username_for
from ivr.store.throttle import Attempt, SignInThrottle, Verdict, address_key
from ivr.web.console.common import ERROR, User, accounts, audited, bp, me
from ivr.web.context import helpline

BUSY_RETRY_SECONDS = 2


class SignInForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


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
