"""The entry webhook ignores its query: whatever the configured URL says (`lang`, `offer`,
anything), every call starts with the greeting and the 999 line, and Welsh is heard only
where the helpline switched it on (or a simulation in this process asks for it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ivr.content.flows import DEFAULT_DIR
from tests.common import CLOSED_AT, OPEN_AT, assert_999_first, twilio_client
from tests.conftest import AppFactory

SAFETY = "If you are in immediate danger"
QUERIES = ["lang=en", "lang=xx", "lang=", "lang=cy", "offer=1", "lang=cy&offer=1", "tries=3"]


def answer(app, url: str) -> ElementTree.Element:
    response = twilio_client(app).post(url)
    assert response.status_code == 200
    return ElementTree.fromstring(response.get_data(as_text=True))


def safety_line(root: ElementTree.Element) -> str:
    return next(v.text or "" for v in root.iter("Say") if (v.text or "").startswith(SAFETY))


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("at", [OPEN_AT, CLOSED_AT])
def test_any_query_on_the_entry_url_still_gives_the_999_line_first(
    make_app: AppFactory, query: str, at: str
) -> None:
    root = answer(make_app(at), f"/voice?{query}")
    assert_999_first(root, safety_line(root))
    assert all(v.get("language", "en-GB") == "en-GB" for v in root.iter("Say"))


@pytest.mark.parametrize("query", QUERIES)
def test_with_welsh_off_no_query_makes_a_page_welsh(make_app: AppFactory, query: str) -> None:
    app = make_app(OPEN_AT)
    for url in (f"/voice?{query}", f"/voice/chosen?{query}", f"/voice/menu?menu=open&{query}"):
        root = answer(app, url)
        assert all(v.get("language", "en-GB") == "en-GB" for v in root.iter("Say")), url


def test_with_welsh_on_the_entry_still_asks_for_the_language(
    make_app: AppFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    (folder / "languages.toml").write_text("welsh = true\n")
    root = answer(make_app(OPEN_AT, flows_dir=folder), "/voice?lang=cy")
    languages = [v.get("language") for v in root.iter("Say")]
    assert "cy-GB" in languages and "en-GB" in languages  # the bilingual opening, both 999s
    assert root.find("Redirect") is not None
    assert "language" in (root.find("Redirect").text or "")
