"""Our outbound REST calls, checked against Twilio's published spec by a Prism mock."""

from __future__ import annotations

from ivr.config import Settings
from ivr.twilio.rest import PURGE_LIST, Purge, enqueue_purge, rest_client, run_purges
from tests.common import TOKEN

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
