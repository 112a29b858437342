"""Our outbound REST calls, checked against Twilio's published spec by a Prism mock."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest

from ivr.config import Settings
from ivr.core import deletion
from ivr.jobs.tasks import Jobs
from ivr.store import purges
from ivr.store.keys import PURGE as PURGE_LIST
from ivr.store.keys import SCHEDULER_HEARTBEAT
from ivr.twilio.rest import Purge, Throttle, enqueue_purge, rest_client, run_purges
from tests.common import ACCOUNT_SID, OPEN_AT, TOKEN, london

MESSAGE = "MM" + "a" * 32
MEDIA = ("ME" + "b" * 32, "ME" + "c" * 32)


def client_for(twilio_api: dict[str, object]):
    return rest_client(Settings(twilio_auth_token=TOKEN).override(twilio_api))


def test_media_and_message_deletion_match_twilios_spec(store, twilio_api):
    enqueue_purge(store, Purge(MESSAGE, MEDIA, delete_message=True))
    assert run_purges(store, client_for(twilio_api)) == 1
    assert store.llen(PURGE_LIST) == 0


def test_media_deleted_even_when_message_deletion_is_off(store, twilio_api):
    enqueue_purge(store, Purge(MESSAGE, MEDIA[:1], delete_message=False))
    assert run_purges(store, client_for(twilio_api)) == 1


def test_a_refusal_other_than_404_keeps_the_deletion_for_another_try(store, twilio_api):
    """Found: any 4xx but 404/429 dropped the deletion for good. Only "not found" ends one."""
    # Bypass enqueue_purge's own check to see what Prism (and so Twilio) says of a bad SID.
    store.rpush(PURGE_LIST, Purge("SM" + "z" * 32).dumps())
    run_purges(store, client_for(twilio_api))
    assert Purge.loads(purges.window(store, 0, 1)[0]).tries == 1


def test_junk_sids_are_never_queued(store):
    assert not enqueue_purge(store, Purge("SMnot-a-sid"))
    assert not enqueue_purge(store, Purge(MESSAGE, ("nope",)))
    assert store.llen(PURGE_LIST) == 0


def test_no_credentials_means_no_client():
    assert rest_client(Settings()) is None


# ------------------------------------------------------------------ keeping pace with a burst


def burst(store, count: int, at: float = 0.0) -> list[str]:
    sids = [f"SM{i:032x}" for i in range(count)]
    for sid in sids:
        assert enqueue_purge(store, Purge(sid, (), delete_message=True, queued_at=at))
    return sids


def test_a_burst_of_500_is_deleted_in_one_pass(store, twilio_proxy):
    settings, recorder = twilio_proxy()
    sids = burst(store, 500)

    assert run_purges(store, client_for(settings)) == 500

    assert purges.backlog(store, london(OPEN_AT)).size == 0
    deleted = recorder.deletes(status=204)  # Prism checked each path against the spec
    assert sorted(deleted) == sorted(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json" for sid in sids
    )


def test_twilio_saying_too_many_requests_is_waited_out_in_the_same_pass(store, twilio_proxy):
    settings, recorder = twilio_proxy(throttle_deletes=5)
    sids = burst(store, 40)

    done = run_purges(store, client_for(settings), throttle=Throttle(first=0.01))

    assert done == 40 and store.llen(PURGE_LIST) == 0
    assert len(recorder.deletes(status=429)) == 5
    assert len(recorder.deletes(status=204)) == len(sids)  # each once, after the pauses


def test_a_pause_longer_than_the_pass_leaves_the_rest_for_the_next(store, twilio_proxy):
    settings, recorder = twilio_proxy(throttle_deletes=1)
    burst(store, 3)

    done = run_purges(store, client_for(settings), budget_seconds=5, throttle=Throttle(first=60))

    assert done < 3 and store.llen(PURGE_LIST) == 3 - done
    assert run_purges(store, client_for(settings)) == 3 - done  # the next pass


def test_what_cannot_be_deleted_yet_stays_first_and_its_age_shows(store):
    unreachable = {"twilio_account_sid": ACCOUNT_SID, "twilio_api_base_url": "http://127.0.0.1:9"}
    queued = london(OPEN_AT)
    burst(store, 2, at=queued.timestamp())

    assert run_purges(store, client_for(unreachable)) == 0

    later = queued + timedelta(minutes=5)
    assert purges.backlog(store, later) == purges.Backlog(2, 300.0)


def test_the_backlog_and_its_age_are_metrics(make_app, store, twilio_api, clock):
    app = make_app(clock=clock, metrics_token="s3cret", **twilio_api)
    burst(store, 3, at=clock.at.timestamp())
    clock.advance(90)

    def metrics() -> str:
        return (
            app.test_client()
            .get("/metrics", headers={"Authorization": "Bearer s3cret"})
            .get_data(as_text=True)
        )

    assert "helpline_twilio_purge_backlog 3.0" in metrics()
    assert "helpline_twilio_purge_oldest_seconds 90.0" in metrics()
    Jobs(app.extensions["helpline"]).tick(clock.at)  # too young for Twilio to delete
    assert "helpline_twilio_purge_backlog 3.0" in metrics()
    clock.advance(60)
    Jobs(app.extensions["helpline"]).tick(clock.at)  # the scheduler's minute
    assert "helpline_twilio_purge_backlog 0.0" in metrics()
    assert "helpline_twilio_purge_oldest_seconds 0.0" in metrics()
    assert 'helpline_dependency_up{dependency="twilio_deletions"} 1.0' in metrics()


def test_entries_queued_before_they_carried_a_time_are_still_deleted(store, twilio_api):
    store.rpush(PURGE_LIST, json.dumps({"m": MESSAGE, "media": [], "del": True}))
    assert purges.backlog(store, london(OPEN_AT)) == purges.Backlog(1, 0.0)
    assert run_purges(store, client_for(twilio_api)) == 1


# ------------------------------------------------------------------ deletions Twilio accepts
# Twilio refuses to delete a message before it is complete: error 20009, "wait at least 1
# minute… If you receive this error after waiting 1 minute, wait several minutes and retry";
# "a message or call record may take up to 14 days to be finalized and able to be deleted"
# (https://www.twilio.com/docs/api/errors/20009). The double (tests/twilio_proxy.py) answers
# 20009 to a DELETE of a message under a minute old.

RECEIVED = london(OPEN_AT).timestamp()


def received(store, recorder, sid: str = MESSAGE, media: tuple[str, ...] = MEDIA) -> None:
    """A text with pictures, as Twilio received it and our webhook queued it."""
    recorder.received[sid] = RECEIVED
    assert enqueue_purge(store, Purge(sid, media, delete_message=True, queued_at=RECEIVED))


def purge_at(store, settings, recorder, seconds: float, **kwargs: object) -> int:
    """A pass `seconds` after the text came, Twilio's clock agreeing."""
    recorder.now = RECEIVED + seconds
    return run_purges(store, client_for(settings), now=recorder.now, **kwargs)


def waiting(store) -> list[Purge]:
    return [Purge.loads(entry) for entry in purges.window(store, 0, 100)]


def test_a_text_is_not_deleted_before_it_is_old_enough(store, twilio_proxy):
    """Found: a text was deleted at the next tick, seconds after it came (Twilio: 20009)."""
    settings, recorder = twilio_proxy()
    received(store, recorder)

    assert purge_at(store, settings, recorder, 30) == 0
    assert recorder.deletes() == []  # not even tried

    assert purge_at(store, settings, recorder, deletion.DEFAULT_MIN_AGE_SECONDS) == 1
    assert len(recorder.deletes(status=204)) == 3 and waiting(store) == []


def test_a_deletion_twilio_refuses_as_not_complete_is_tried_again_later(store, twilio_proxy):
    """Found: 20009 was taken as permanent and the deletion dropped, so the text and its
    pictures stayed in Twilio's log for good."""
    settings, recorder = twilio_proxy()
    received(store, recorder)

    assert purge_at(store, settings, recorder, 10, min_age=0) == 0
    assert recorder.deletes(status=400) == [recorder.deletes()[0]]  # the first picture: 20009
    [kept] = waiting(store)
    assert (kept.tries, kept.retry_at) == (1, RECEIVED + 10 + deletion.RETRY_FIRST_SECONDS)

    assert purge_at(store, settings, recorder, 100, min_age=0) == 0  # its next try not yet due
    assert len(recorder.deletes()) == 1

    assert purge_at(store, settings, recorder, 10 + deletion.RETRY_FIRST_SECONDS, min_age=0) == 1
    assert waiting(store) == []


@pytest.mark.parametrize(
    "status, why",
    [
        (500, "Twilio's own error"),
        (503, "Twilio unavailable"),
        (401, "a rotated auth token: fixed by staff, and the deletion still owed"),
        (400, "a refusal we can't read: never a reason to keep a body in Twilio's log"),
    ],
)
def test_any_refusal_but_404_is_tried_again_with_a_growing_wait(store, twilio_proxy, status, why):
    settings, recorder = twilio_proxy()
    received(store, recorder, media=())
    recorder.answers[MESSAGE] = status
    elapsed = 200.0

    for tries in (1, 2, 3):
        purge_at(store, settings, recorder, elapsed)
        [kept] = waiting(store)
        assert kept.tries == tries, why
        elapsed = kept.retry_at - RECEIVED
    assert [deletion.retry_delay(n) for n in (1, 2, 3)] == [120, 240, 480]
    assert len(recorder.deletes(status=status)) == 3


def test_only_not_found_ends_a_deletion_and_it_is_logged(store, twilio_proxy, caplog):
    settings, recorder = twilio_proxy()
    received(store, recorder, media=())
    recorder.answers[MESSAGE] = 404
    with caplog.at_level(logging.INFO, logger="ivr.twilio.rest"):
        assert purge_at(store, settings, recorder, 200) == 1
    assert waiting(store) == []
    assert f"{MESSAGE} was already gone from Twilio" in caplog.text


def test_the_wait_between_tries_grows_to_an_hour_and_stops_after_14_days():
    assert [deletion.retry_delay(n) for n in range(1, 9)] == [
        120, 240, 480, 960, 1920, 3600, 3600, 3600,
    ]  # fmt: skip
    day = 24 * 3600
    assert not deletion.given_up(RECEIVED, RECEIVED + 14 * day)
    assert deletion.given_up(RECEIVED, RECEIVED + 14 * day + 1)
    assert not deletion.given_up(0, RECEIVED)  # an entry of unknown age is never given up


def test_after_14_days_of_refusals_the_deletion_is_given_up_loudly(store, twilio_proxy, caplog):
    settings, recorder = twilio_proxy()
    received(store, recorder, media=())
    recorder.answers[MESSAGE] = 400
    with caplog.at_level(logging.ERROR, logger="ivr.twilio.rest"):
        purge_at(store, settings, recorder, 14 * 24 * 3600 - 10)
        assert len(waiting(store)) == 1 and caplog.text == ""
        purge_at(store, settings, recorder, 14 * 24 * 3600 + 3600)
    assert waiting(store) == []
    assert f"gave up deleting {MESSAGE} from Twilio" in caplog.text


def test_a_deletion_waiting_a_day_is_an_alarm_for_monitoring(make_app, store):
    """The backlog's oldest age is a metric; after a day it is also a named failure on the
    monitoring endpoint (and helpline_dependency_up{dependency="twilio_deletions"} 0)."""
    app = make_app(metrics_token="s3cret")
    client = app.test_client()
    store.set(SCHEDULER_HEARTBEAT, "2099-01-01T00:00:00+00:00")
    now = time.time()
    assert enqueue_purge(store, Purge(MESSAGE, queued_at=now - 23 * 3600))
    assert client.get("/healthz/dependencies").get_json()["twilio_deletions"] == "ok"

    store.delete(PURGE_LIST)
    assert enqueue_purge(store, Purge(MESSAGE, queued_at=now - 25 * 3600))
    response = client.get("/healthz/dependencies")
    assert response.status_code == 503
    assert response.get_json()["twilio_deletions"].startswith(
        "1 texts not yet deleted from Twilio, the oldest for 25 h"
    )
    scraped = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert 'helpline_dependency_up{dependency="twilio_deletions"} 0.0' in scraped.get_data(
        as_text=True
    )
