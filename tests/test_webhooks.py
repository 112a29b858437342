"""The URLs the layers beneath the web give Twilio (and staff) are built in one place,
ivr/twilio/webhooks.py, from the web's route names: each name there is a route the web
registers, at that path, and no module outside ivr/web writes a route's path by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ivr import create_app
from ivr.config import Settings
from ivr.twilio import webhooks
from ivr.twilio.rest import call_advisor, call_advisor_for_caller
from ivr.twilio.setup import Wanted

PACKAGE = Path(__file__).resolve().parent.parent / "ivr"
TABLE = PACKAGE / "twilio" / "webhooks.py"


@pytest.fixture(scope="module")
def routes() -> dict[str, str]:
    app = create_app({"log_level": "ERROR"}, serving=False)
    return {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}


@pytest.mark.parametrize("endpoint", sorted(webhooks.PATHS))
def test_every_named_webhook_is_a_route_the_web_registers_at_that_path(routes, endpoint):
    assert routes.get(endpoint) == webhooks.PATHS[endpoint]


def test_the_number_is_pointed_at_the_webs_entry_routes(routes):
    wanted = Wanted.for_base("https://help.example/", None)
    assert wanted.voice_url == "https://help.example" + routes["voice.incoming"]
    assert wanted.sms_url == "https://help.example" + routes["sms.incoming"]
    assert wanted.status_url == "https://help.example" + routes["voice_callbacks.call_ended"]


def route_paths(routes: dict[str, str]) -> set[str]:
    """The web's Twilio-facing and console paths, without their <variables>."""
    return {
        rule.split("<")[0].rstrip("/") or "/"
        for rule in routes.values()
        if rule.startswith(("/voice", "/sms", "/console"))
    }


def written_paths(path: Path, known: set[str]) -> list[tuple[int, str]]:
    """String pieces in `path` (docstrings aside) that write one of the web's paths."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.split("?")[0].rstrip("/") in known
    ]


def test_no_module_outside_the_web_writes_a_route_by_hand(routes):
    """Twilio-facing routes the lower layers and the commands reach are all in the table."""
    known = route_paths(routes)
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "web" not in path.relative_to(PACKAGE).parts and path != TABLE
        for line, text in written_paths(path, known)
    ]
    assert wrong == []


def test_the_check_would_catch_a_route_written_by_hand(routes, tmp_path):
    copy = tmp_path / "tasks.py"
    copy.write_text(
        (PACKAGE / "jobs" / "tasks.py").read_text()
        + 'LINK = f"{BASE}/console/"\nHOOK = f"/voice/queue/advisor?sid={1}"\n'
    )
    found = sorted(text for _, text in written_paths(copy, route_paths(routes)))
    assert found == ["/console/", "/voice/queue/advisor?sid="]


class Calls:
    """Twilio's calls.create, as far as the URLs given to it go."""

    def __init__(self) -> None:
        self.made: list[dict[str, object]] = []
        self.calls = self

    def create(self, **fields: object) -> object:
        self.made.append(fields)
        return type("Call", (), {"sid": "CA1"})()


def test_advisors_are_rung_on_the_webs_routes(routes):
    client, settings = Calls(), Settings.from_env()
    call_advisor(client, settings, "https://help.example", "+447700900001", "cb1", "ann lee")
    call_advisor_for_caller(client, settings, "https://help.example", "+447700900001", "CA9", "ann")
    assert [(m["url"], m["status_callback"]) for m in client.made] == [
        (
            f"https://help.example{routes['outbound.advisor']}?cb=cb1",
            f"https://help.example{routes['outbound.advisor_status']}?cb=cb1&adv=ann%20lee",
        ),
        (
            f"https://help.example{routes['voice_queue.advisor']}?sid=CA9&adv=ann",
            f"https://help.example{routes['voice_queue.advisor_status']}?sid=CA9&adv=ann",
        ),
    ]
