"""A request pays once for what it asks many times: its helpline is chosen once and then read
from a context variable (not through Flask's proxies), each route's metric label children
are looked up once, and the words a closed line opens with are worked out once for the
calls they are the same for. What is kept for that never keeps an app alive once unused."""

from __future__ import annotations

import functools
import gc
import logging
import threading
import time
import weakref

import pytest
from prometheus_client import REGISTRY

import ivr.web.context
from ivr.content.flows import Flows
from ivr.ops import metrics
from ivr.store.published import WATCH_SECONDS
from ivr.web.app import HelplineFlask
from ivr.web.context import Asked, asked, helpline
from tests.common import CLOSED_AT, HELPLINE, heard, london, twilio_client

CALL = {"CallSid": "CA" + "a" * 32, "From": "+447700900123", "To": HELPLINE}


class NoProxy:
    """Stands in for Flask's request, current_app and g: any use of them fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"Flask's proxy read again ({name})")


def no_call(*_args: object) -> bool:
    raise AssertionError("has_request_context() asked again")


def test_the_helpline_is_chosen_once_then_read_without_flasks_proxies(
    make_app, monkeypatch
) -> None:
    app = make_app()
    with app.test_request_context("/voice", method="POST", data=CALL):
        first = helpline()
        assert first is app.extensions["helpline"]
        for name in ("request", "current_app", "g"):
            monkeypatch.setattr(ivr.web.context, name, NoProxy(), raising=False)
        monkeypatch.setattr(ivr.web.context, "has_request_context", no_call)
        assert all(helpline() is first for _ in range(13))


def test_no_request_leaves_its_helpline_behind(make_app) -> None:
    app = make_app()
    with app.test_request_context("/voice", method="POST", data=CALL):
        chosen = helpline()
        state = asked()
        assert state is not None and state.chosen is chosen
    assert asked() is None
    assert twilio_client(app).post("/voice").status_code == 200
    assert asked() is None


def request_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ivr.requests"]


def test_a_request_never_hears_what_an_earlier_one_left(make_app, monkeypatch, caplog) -> None:
    """Found in review: a request whose teardown did not finish left its state to the next
    request on the same greenlet; one failing before its first hook (here, opening its
    session) then wrote the earlier caller's notes in its own line."""
    app = make_app()
    caplog.set_level("INFO", logger="ivr.requests")
    ivr.web.context._ASKED.set(Asked(0.0, notes=["from ***999: the caller before"]))

    def broken(*_args: object) -> None:
        raise RuntimeError("the session could not be opened")

    monkeypatch.setattr(app.session_interface, "open_session", broken)
    app.testing = False  # errors handled as in production, not raised into the test
    response = twilio_client(app).post("/voice")
    assert b"<Response>" in response.data  # the voice fallback, still TwiML
    assert request_lines(caplog) and not any("before" in line for line in request_lines(caplog))
    assert asked() is None


def test_a_request_is_counted_and_written_once_when_its_line_fails(
    make_app, monkeypatch, caplog
) -> None:
    """Flask runs the after-request hooks again after an error in one: the request line
    (here, a filter on its logger failing once) is not counted or written a second time."""
    app = make_app()
    caplog.set_level("INFO", logger="ivr.requests")
    failures = ["once"]

    def failing_once(_record: logging.LogRecord) -> bool:
        if failures:
            failures.pop()
            raise RuntimeError("a filter failed")
        return True

    logger = logging.getLogger("ivr.requests")
    logger.addFilter(failing_once)
    total = lambda: sum(  # noqa: E731
        REGISTRY.get_sample_value("helpline_requests_total", {"route": "/voice", "status": s})
        or 0.0
        for s in ("200", "500")
    )
    before = total()
    app.testing = False  # errors handled as in production, not raised into the test
    try:
        response = twilio_client(app).post("/voice")
    finally:
        logger.removeFilter(failing_once)
    assert b"<Response>" in response.data
    assert total() == before + 1
    assert request_lines(caplog) == []  # its one line was the one that failed


# ------------------------------------------------------------------ metrics


def test_a_routes_metric_children_are_looked_up_once(make_app, monkeypatch) -> None:
    app = make_app()
    looked_up: list[tuple[str, ...]] = []
    for metric in (metrics.REQUESTS, metrics.LATENCY):
        real = metric.labels

        def spy(*values: str, _real=real) -> object:
            looked_up.append(values)
            return _real(*values)

        monkeypatch.setattr(metric, "labels", spy)
    labels = {"route": "/voice", "status": "200"}
    before = REGISTRY.get_sample_value("helpline_requests_total", labels) or 0.0
    client = twilio_client(app)
    for _ in range(3):
        assert client.post("/voice").status_code == 200
    assert looked_up == [("/voice", "200"), ("/voice",)]
    assert REGISTRY.get_sample_value("helpline_requests_total", labels) == before + 3


# ------------------------------------------------------------------ the closed words


@pytest.fixture
def closed_words_made(monkeypatch) -> list[str]:
    made: list[str] = []
    real = Flows.closed_intro

    def spy(self: Flows, status: object) -> tuple[str, ...]:
        made.append("closed_intro")
        return real(self, status)

    monkeypatch.setattr(Flows, "closed_intro", spy)
    return made


def test_the_closed_words_are_made_once_for_the_calls_they_are_the_same_for(
    make_app, clock, closed_words_made
) -> None:
    clock.at = london(CLOSED_AT)  # Wednesday evening: "tomorrow at 10am"
    app = make_app(clock=clock)
    closed_words_made.clear()  # start-up checks every page's words
    client = twilio_client(app)
    first = heard(client.post("/voice"))
    clock.advance(3600)  # later the same evening: the same words
    assert all(heard(client.post("/voice")) == first for _ in range(3))
    assert closed_words_made == ["closed_intro"]


@pytest.mark.parametrize("later", ["2026-11-27T19:00", "2026-11-28T09:00"])
def test_another_day_hears_its_own_closed_words(make_app, clock, later: str) -> None:
    """Friday evening and Saturday morning say when the line opens as seen from that day."""
    clock.at = london(CLOSED_AT)
    app = make_app(clock=clock)
    twilio_client(app).post("/voice")
    clock.at = london(later)
    again = heard(twilio_client(app).post("/voice"))
    fresh = heard(twilio_client(make_app(at=later)).post("/voice"))
    assert again == fresh
    assert again != heard(twilio_client(make_app(at=CLOSED_AT)).post("/voice"))


def test_flask_asks_whether_a_view_is_async_once_per_function(make_app, monkeypatch) -> None:
    app = make_app(CLOSED_AT)
    twilio_client(app).post("/voice")
    asked: list[object] = []
    monkeypatch.setattr("flask.app.iscoroutinefunction", lambda func: asked.append(func) or False)
    assert isinstance(app, HelplineFlask)
    assert twilio_client(app).post("/voice").status_code == 200
    assert asked == []


def test_an_async_wrapper_of_a_view_already_seen_is_still_run_as_async(make_app) -> None:
    """Found in review: functools.wraps copies a function's attributes, the mark of a plain
    function seen included, onto its wrapper; an async wrapper was then called as if plain,
    and its coroutine returned as the answer."""
    app = make_app(CLOSED_AT)

    def view() -> str:
        return "plain"

    assert app.ensure_sync(view) is view  # seen, and marked

    @functools.wraps(view)
    async def wrapped() -> str:
        return "async"

    try:
        synced = app.ensure_sync(wrapped)
    except RuntimeError as refused:  # Flask without its async extra: it saw async all the same
        assert "async" in str(refused)
    else:
        assert synced is not wrapped


def test_an_app_no_longer_used_is_freed_and_its_watching_threads_end(make_app) -> None:
    """Found: the cache of functions Flask need not ask about held them, and with them every
    app they close over; and the thread watching for a supervisor's closure held its watch
    for ever. Each test's app and its threads lived on: 1 100 threads polling Redis halfway
    through the fast tests."""
    before = set(threading.enumerate())
    app = make_app(CLOSED_AT)
    twilio_client(app).post("/voice")
    started = [t for t in threading.enumerate() if t not in before and t.name.endswith("-watch")]
    assert {t.name for t in started} == {"content-watch", "override-watch"}
    gone = weakref.ref(app)
    del app
    # A watch thread holds its watch (and so the app) while it reads the store, as it does
    # once on starting: freed means freed once that read is over, within moments.
    deadline = time.monotonic() + WATCH_SECONDS
    gc.collect()
    while gone() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        gc.collect()
    assert gone() is None
    for thread in started:
        thread.join(timeout=WATCH_SECONDS + 5)
        assert not thread.is_alive(), thread.name
