"""Calling people back, as the application does it without a web page (actions/calling.py):
Take next refuses, takes, rings and gives back; an outcome is recorded only by whoever may;
one Take next at a time per advisor. The real store, Twilio's REST API as Prism serves it."""

from __future__ import annotations

import ast
import socket
from collections.abc import Callable
from datetime import timedelta
from itertools import product
from pathlib import Path

import pytest
import redis

from ivr.actions import calling
from ivr.config import Settings
from ivr.core.claims import why_not_call_next
from ivr.core.clock import fixed_clock
from ivr.services import Services, build_services
from ivr.store import audit
from ivr.store.accounts import Advisor
from ivr.store.closures import close_line
from ivr.store.keys import calling as calling_key
from ivr.store.locks import held, taking_next
from tests.common import HELPLINE, TOKEN, add_advisor, london, request_callback

NOW = london("2026-11-25T11:00")  # a Wednesday, open
BASE = "https://helpline.example.org"
NUMBER = "+447400123456"
ServicesAt = Callable[..., Services]


@pytest.fixture
def services_at(store, store_settings, twilio_api) -> ServicesAt:
    """services_at(**settings): one helpline's services at NOW, able to call (Prism)."""

    def make(**settings: object) -> Services:
        config = {
            "helpline_number": HELPLINE,
            "twilio_auth_token": TOKEN,
            **store_settings,
            **twilio_api,
            **settings,
        }
        return build_services(Settings().override(config), fixed_clock(NOW), upgrade=False)

    return make


def due_callback(services: Services, number: str = NUMBER, minutes_ago: int = 30) -> str:
    asked = NOW - timedelta(minutes=minutes_ago)
    return request_callback(services.queue, number, "sms", asked, asked).callback_id


def advisor(store: redis.Redis, name: str = "Alex", **options: object) -> Advisor:
    return add_advisor(store, name, "+447400000111", **{"on_duty": True, **options})


def nowhere() -> str:
    """An address nothing listens on: Twilio out of reach."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{unused.getsockname()[1]}"


def actions(store: redis.Redis, callback_id: str) -> list[str]:
    return [e["action"] for e in reversed(audit.recent(store)) if e["callback"] == callback_id]


def test_take_next_claims_the_longest_waiting_and_rings_the_advisor(services_at, store):
    services = services_at()
    first, later = due_callback(services, minutes_ago=40), due_callback(services, "+447400123457")
    alex = advisor(store)
    assert calling.call_next(services, alex, BASE, NOW) == calling.RINGING_FOR_CALLBACK
    taken = services.queue.get(first)
    assert taken is not None and (taken.status, taken.claimed_by) == ("claimed", alex.username)
    assert services.queue.get(later).status == "due"
    assert actions(store, first) == ["claimed", "called"]


def test_with_nobody_waiting_take_next_says_so(services_at, store):
    assert calling.call_next(services_at(), advisor(store), BASE, NOW) == calling.NOBODY


@pytest.mark.parametrize(
    ("situation", "refused"),
    [
        ("closed", "closed"),
        ("off duty", "off_duty"),
        ("no Twilio", "no_twilio"),
        ("holding a call", "holding"),
    ],
)
def test_take_next_refuses_and_takes_nothing(services_at, store, situation, refused):
    services = services_at(**({"helpline_number": ""} if situation == "no Twilio" else {}))
    held_id = due_callback(services, "+447400123457", minutes_ago=60)
    alex = advisor(store, on_duty=situation != "off duty")
    if situation == "holding a call":
        assert services.queue.claim(alex.username, NOW) is not None
    if situation == "closed":
        close_line(store, "Closed today.", None, services.keys.real)
    waiting = due_callback(services)
    assert calling.call_next(services, alex, BASE, NOW) == refused
    assert services.queue.get(waiting).status == "due"
    assert services.queue.get(held_id).status == ("claimed" if refused == "holding" else "due")


def test_a_phone_that_cant_be_rung_gives_the_callback_back(services_at, store):
    services = services_at(twilio_api_base_url=nowhere())
    callback_id = due_callback(services)
    alex = advisor(store)
    assert calling.call_next(services, alex, BASE, NOW) == calling.CALLBACK_NOT_RUNG
    callback = services.queue.get(callback_id)
    assert (callback.status, callback.claimed_by) == ("due", None)
    assert actions(store, callback_id) == ["claimed", "phone not rung"]


def test_a_rehearsal_claims_and_rings_nobody(services_at, store):
    services = services_at(rehearsal=True, twilio_api_base_url=nowhere())
    callback_id = due_callback(services)
    assert calling.call_next(services, advisor(store), BASE, NOW) == calling.REHEARSED
    assert services.queue.get(callback_id).status == "claimed"
    assert actions(store, callback_id) == ["claimed"]


def test_one_take_next_at_a_time_per_advisor(services_at, store):
    """Found: a double click claimed two callbacks. While one Take next runs, another of the
    same advisor's is refused; another advisor's is not; after it, the advisor may again."""
    services = services_at()
    due_callback(services, minutes_ago=40)
    alex, sam = advisor(store), advisor(store, "Sam")
    with taking_next(store, alex.username) as mine:
        assert mine
        assert calling.call_next(services, alex, BASE, NOW) == calling.BUSY
        assert calling.call_next(services, sam, BASE, NOW) == calling.RINGING_FOR_CALLBACK
    assert not store.exists(calling_key(alex.username))
    due_callback(services, "+447400123457")
    assert calling.call_next(services, alex, BASE, NOW) == calling.RINGING_FOR_CALLBACK


def test_a_lock_is_released_by_its_holder_only(store):
    """A holder that outlived its lock (it expired, someone else took it) leaves the new
    holder's lock alone."""
    with held(store, "hl:test:lock", 30) as first:
        assert first
        store.set("hl:test:lock", "someone else's", ex=30)  # as if it expired and was retaken
    assert store.get("hl:test:lock") == "someone else's"


@pytest.mark.parametrize(
    ("who", "result", "voicemail", "said"),
    [
        ("alex", "reached", False, "done"),
        ("alex", "no_answer", False, "scheduled"),
        ("alex", "voicemail_left", True, "done"),
        ("alex", "voicemail_left", False, calling.NOT_SHOWN),  # not offered: no voicemail
        ("alex", "shouted", False, calling.NOT_SHOWN),
        ("sam", "reached", False, calling.NOT_YOURS),
        ("sam, a supervisor", "reached", False, "done"),
    ],
)
def test_an_outcome_is_recorded_by_whoever_may(services_at, store, who, result, voicemail, said):
    services = services_at()
    callback_id = due_callback(services)
    services.queue.set_voicemail(callback_id, voicemail)
    alex = advisor(store)
    assert calling.call_next(services, alex, BASE, NOW) == calling.RINGING_FOR_CALLBACK
    by = alex if who == "alex" else advisor(store, "Sam", supervisor="supervisor" in who)
    assert calling.record_outcome(services, by, callback_id, result, NOW) == said
    callback = services.queue.get(callback_id)
    assert callback.status == (
        "claimed" if said in (calling.NOT_SHOWN, calling.NOT_YOURS) else said
    )
    assert (f"outcome {result}" in actions(store, callback_id)) == (callback.status != "claimed")


def test_an_outcome_for_no_such_callback_is_not_shown(services_at, store):
    assert calling.record_outcome(services_at(), advisor(store), "nope", "reached", NOW) == (
        calling.NOT_SHOWN
    )


def test_the_console_says_everything_take_next_can_do():
    """Every result of call_next (its own words and why_not_call_next's) has the console's
    sentence: an unknown one would be an error page instead."""
    from ivr.web.console.advisor import TAKE_NEXT_SAID

    own = {calling.BUSY, calling.NOBODY, calling.REHEARSED, calling.RINGING_FOR_CALLBACK}
    own |= {calling.RINGING_FOR_CALLER, calling.CALLBACK_NOT_RUNG, calling.CALLER_NOT_RUNG}
    refusals = {why_not_call_next(*case) for case in product((True, False), repeat=4)} - {None}
    assert TAKE_NEXT_SAID.keys() == own | refusals


def imported(node: ast.AST) -> list[str]:
    """The top-level packages an import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module.split(".")[0]]
    return []


@pytest.mark.parametrize("folder", ["actions", "web/console"])
def test_the_actions_and_the_console_never_name_redis(folder):
    """They reach the store through its functions and catch store.Unavailable."""
    package = Path(calling.__file__).resolve().parent.parent
    wrong = [
        f"{path.relative_to(package)}:{node.lineno}"
        for path in (package / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if "redis" in imported(node)
    ]
    assert wrong == []
