"""QUEUE_ORDER: the order advisors take from until a supervisor chooses one in the console."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ivr.core.livequeue import BY_WAIT, LIVE_FIRST
from ivr.store.live import LiveQueue
from tests.common import SUPERVISOR_PHONE, add_advisor, signed_in

SUPERVISOR_PAGE = "/console/supervisor/"


def checked(page: str, order: str) -> bool:
    return bool(re.search(rf'checked[^>]*value="{order}"|value="{order}"[^>]*checked', page))


@pytest.mark.parametrize("order", [BY_WAIT, LIVE_FIRST])
def test_the_setting_is_the_order_until_a_supervisor_sets_one(make_app, store, order) -> None:
    app = make_app(cookie_secure=False, queue_order=order)
    add_advisor(store, "Sam", SUPERVISOR_PHONE, supervisor=True)
    page = signed_in(app, "Sam").get(SUPERVISOR_PAGE).get_data(as_text=True)
    assert checked(page, order)


def test_a_supervisors_choice_wins_over_the_setting(store) -> None:
    live = LiveQueue(store)
    assert live.rules(timedelta(minutes=10), BY_WAIT).order == BY_WAIT
    live.set_rules(10, LIVE_FIRST)
    assert live.rules(timedelta(minutes=10), BY_WAIT).order == LIVE_FIRST
