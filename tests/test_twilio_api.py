"""Our outbound REST calls, checked against Twilio's published spec by a Prism mock."""

from __future__ import annotations

import json
from datetime import timedelta

from ivr.config import Settings
from ivr.jobs.tasks import Jobs
from ivr.store import purges
from ivr.store.keys import PURGE as PURGE_LIST
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


def test_a_request_twilio_would_reject_is_dropped_not_retried_forever(store, twilio_api):
    # Bypass enqueue_purge's own check to see what Prism (and so Twilio) says of a bad SID.
    store.rpush(PURGE_LIST, Purge("SM" + "z" * 32).dumps())
    run_purges(store, client_for(twilio_api))
    assert store.llen(PURGE_LIST) == 0


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
    Jobs(app.extensions["helpline"]).tick(clock.at)  # the scheduler's minute
    assert "helpline_twilio_purge_backlog 0.0" in metrics()
    assert "helpline_twilio_purge_oldest_seconds 0.0" in metrics()


def test_entries_queued_before_they_carried_a_time_are_still_deleted(store, twilio_api):
    store.rpush(PURGE_LIST, json.dumps({"m": MESSAGE, "media": [], "del": True}))
    assert purges.backlog(store, london(OPEN_AT)) == purges.Backlog(1, 0.0)
    assert run_purges(store, client_for(twilio_api)) == 1
