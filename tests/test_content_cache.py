"""A copy of flows/ that passed its checks is not parsed again (content/published.py:
load_files keeps it by version and day), yet a changed file is read afresh and a mistake is
named, with its file and line, every time it is met."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from ivr.content.flows import DEFAULT_DIR
from ivr.content.published import load_files, snapshot, version_of
from ivr.content.tomlfile import FlowFileError
from tests.common import london

WEDNESDAY = london("2026-11-25T11:00")


def copy_of_flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(DEFAULT_DIR, folder)
    return folder


def test_the_same_files_on_the_same_day_are_checked_once_and_placed_where_they_stand(
    tmp_path: Path,
) -> None:
    folder = copy_of_flows(tmp_path)
    first = load_files(snapshot(DEFAULT_DIR), DEFAULT_DIR, WEDNESDAY)
    later = load_files(snapshot(folder), folder, london("2026-11-25T15:59"))
    assert later.flows["main"].voice is first.flows["main"].voice  # not parsed again
    assert first.flows["main"].directory == DEFAULT_DIR
    assert later.flows["main"].directory == folder
    assert later.lines.default.directory == folder
    welsh = later.flows["main"].welsh
    assert welsh is not None and welsh.directory == folder / "cy"


def test_another_day_is_checked_again() -> None:
    files = snapshot(DEFAULT_DIR)
    wednesday = load_files(files, DEFAULT_DIR, WEDNESDAY)
    thursday = load_files(files, DEFAULT_DIR, london("2026-11-26T11:00"))
    assert thursday.flows["main"].voice is not wednesday.flows["main"].voice


def test_a_changed_file_is_read_afresh(tmp_path: Path) -> None:
    folder = copy_of_flows(tmp_path)
    load_files(snapshot(folder), folder, WEDNESDAY)
    (folder / "hours.toml").write_text(
        (folder / "hours.toml").read_text(encoding="utf-8")
        + '\n[[closures]]\nfrom = 2026-11-25\nto = 2026-11-25\nmessage = "Closed for training."\n',
        encoding="utf-8",
    )
    changed = load_files(snapshot(folder), folder, WEDNESDAY)
    assert [c.message for c in changed.flows["main"].hours_config.closures][-1] == (
        "Closed for training."
    )
    assert not changed.flows["main"].hours.status(WEDNESDAY).open


def test_a_mistake_is_named_with_its_file_and_line_every_time(tmp_path: Path) -> None:
    folder = copy_of_flows(tmp_path)
    text = (folder / "hours.toml").read_text(encoding="utf-8")
    (folder / "hours.toml").write_text(text + "\nthis is not toml\n", encoding="utf-8")
    line = len((text + "\nthis is not toml\n").splitlines())
    for _ in range(2):
        with pytest.raises(FlowFileError) as caught:
            load_files(snapshot(folder), folder, WEDNESDAY)
        assert caught.value.path == folder / "hours.toml"
        assert caught.value.line == line


def test_a_version_is_the_hash_of_the_text_even_after_the_files_change() -> None:
    """version_of keeps its last few answers: a copy changed in place, or equal text read
    again, still gets the hash of what it holds."""
    files = snapshot(DEFAULT_DIR)
    version = version_of(files)
    assert version_of(snapshot(DEFAULT_DIR)) == version
    files["hours.toml"] += "\n"
    changed = version_of(files)
    canonical = json.dumps(dict(sorted(files.items())), ensure_ascii=False).encode("utf-8")
    assert changed == hashlib.sha256(canonical).hexdigest() != version
    del files["hours.toml"]
    assert version_of(files) not in (version, changed)
