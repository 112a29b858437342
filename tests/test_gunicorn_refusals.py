"""The requests gunicorn refuses itself (a malformed header, say) are summed up and counted as
the app's refusals are: the first logged at once, the rest counted in
helpline_rejected_requests_total (group "other", reason "invalid_http"), never a line each."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import pytest
from gunicorn.config import Config
from prometheus_client import REGISTRY

from ivr.ops.logs import flush_summaries

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
REFUSED = "Invalid request from ip=203.0.113.9"
LABELS = {"group": "other", "reason": "invalid_http"}


@pytest.fixture
def conf(monkeypatch, tmp_path) -> ModuleType:
    """gunicorn.conf.py, loaded as gunicorn loads it, its folders under tmp_path."""
    monkeypatch.setenv("HELPLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    spec = importlib.util.spec_from_file_location("helpline_gunicorn_conf", CONF)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counted() -> float:
    return REGISTRY.get_sample_value("helpline_rejected_requests_total", LABELS) or 0.0


def test_300_bad_headers_are_one_line_and_300_counted(conf) -> None:
    """The finding: 300 raw requests with a header `Bad Header N: y` wrote 300 "Invalid
    request from ip=..." lines, and no count."""
    logger = conf.MaskedLogger(Config())
    out = io.StringIO()
    for handler in logger.error_log.handlers:
        handler.setStream(out)
    before = counted()
    for n in range(300):
        # as gunicorn's worker writes it (gunicorn/workers/base.py, handle_error)
        logger.warning(
            f"Invalid request from ip=203.0.113.9: Invalid HTTP Header: 'Bad Header {n}'"
        )
    logger.warning("Worker exiting for another reason")
    lines = [json.loads(line)["msg"] for line in out.getvalue().splitlines()]
    assert lines == [
        f"{REFUSED}: Invalid HTTP Header: 'Bad Header 0'",
        "Worker exiting for another reason",
    ]
    assert counted() == before + 300
    flush_summaries()  # as the worker exits: the count is written
    last = json.loads(out.getvalue().splitlines()[-1])["msg"]
    assert last.endswith("(and 298 more like it since the last such line)")


def test_a_number_in_a_refused_header_is_masked(conf) -> None:
    logger = conf.MaskedLogger(Config())
    out = io.StringIO()
    for handler in logger.error_log.handlers:
        handler.setStream(out)
    logger.warning(
        "Invalid request from ip=203.0.113.9: Invalid HTTP Header: 'Bad Header 07411222903'"
    )
    assert "07411222903" not in out.getvalue() and "***903" in out.getvalue()
