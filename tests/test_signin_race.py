"""Sign-ins at the same moment from one address (an office behind one router, a tunnel) are
all free tries: found under gevent, where the second of two sign-ins was refused "wait 1
seconds" when it had read the clock a few milliseconds before the first, but reached Redis
after it (the first's try then lay in its future)."""

from __future__ import annotations

import redis

from ivr.store.throttle import ADDRESS_CAP, FREE_TRIES, Attempt, SignInThrottle, delay


def test_a_try_recorded_a_moment_later_is_no_reason_to_wait_while_tries_are_free() -> None:
    now = 1000.0
    for tries in range(1, FREE_TRIES):  # each read the clock just after this one
        assert delay([now + 0.005] * tries, ADDRESS_CAP, now) == 0, tries
    # Past the free tries the wait still counts from the latest try (1 s, from 5 ms ahead).
    assert delay([now + 0.005] * FREE_TRIES, ADDRESS_CAP, now) == 2


def test_two_sign_ins_from_one_address_reaching_redis_out_of_clock_order(
    store: redis.Redis,
) -> None:
    throttle = SignInThrottle(store)
    first = Attempt("bea", "192.0.2.7")
    second = Attempt("alex", "192.0.2.7")
    assert not throttle.begin(first, 1000.005)[0].refused  # reached Redis first
    assert not throttle.begin(second, 1000.000)[0].refused  # read the clock first
