"""/metrics stays the same size whatever paths junk is sent to: its labels come from a fixed
set (the app's route rules and parts), never from the request, so no one can grow every
worker's metric files without bound or write their text (a phone number) into them."""

from __future__ import annotations

import random
import re
import string

import pytest

from ivr.ops.metrics import ROUTE_GROUPS, route_group

AUTH = {"Authorization": "Bearer s3cret"}


def junk_paths(n: int, seed: int = 7) -> list[str]:
    """Paths an attacker might try: beside our webhooks, phone-number-like, any text."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-._~%"
    shapes = [
        lambda s: f"/voice{s}",
        lambda s: f"/sms{s}",
        lambda s: f"/07{rng.randrange(10**9):09d}",
        lambda s: f"/{s}/voice",
        lambda s: f"/console{s}",
        lambda s: f"/{s}",
    ]
    return [
        rng.choice(shapes)("".join(rng.choices(alphabet, k=rng.randint(1, 24)))) for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/voice", "voice"),
        ("/voice/menu", "voice"),
        ("/voice07411222903", "other"),
        ("/sms", "sms"),
        ("/smsx", "other"),
        ("/07411222903", "other"),
        ("/console/supervisor", "console"),
        ("/", "other"),
        ("", "other"),
        ("/%2Fvoice", "other"),
    ],
)
def test_a_refused_request_is_counted_under_a_fixed_group(path: str, group: str):
    assert route_group(path) == group


def test_every_group_is_one_of_a_fixed_few():
    assert {route_group(p) for p in junk_paths(2_000)} <= ROUTE_GROUPS | {"other"}


def test_ten_thousand_junk_paths_leave_metrics_the_same_size(make_app):
    app = make_app(metrics_token="s3cret")
    client = app.test_client()
    paths = junk_paths(10_000)
    for path in paths[:50]:  # every kind of refusal has been counted once before measuring
        client.post(path, data={"From": "+447411222903"})
        client.get(path)
    client.get("/metrics", headers=AUTH)
    before = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    for i, path in enumerate(paths):
        if i % 2:
            client.post(path, data={"From": "+447411222903", "Body": "x"})
        else:
            client.get(path)
    after = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    series = re.compile(r"^\w+\{[^}]*\}", re.M)
    assert set(series.findall(after)) == set(series.findall(before))
    # no label a request chose: nothing like a phone number among the request metrics
    requests = [s for s in series.findall(after) if s.startswith("helpline_re")]
    assert requests and not re.search(r"\d{7,}", "".join(requests))
