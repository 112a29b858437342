"""`helpline run`'s own lines ("[run] redis exited (0); restarting in 1 s") are log records, in
the log format the children write (JSON by default), not text printed in among them."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.ops.processes import Child, supervise

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@pytest.fixture
def own_signals() -> Iterator[None]:
    """supervise() ignores the stop signals as it ends: the test's process gets its own back."""
    saved = {each: signal.getsignal(each) for each in SIGNALS}
    yield
    for each, handler in saved.items():
        signal.signal(each, handler)


def test_a_child_that_exits_is_logged_not_printed(
    own_signals, caplog, capsys, tmp_path: Path
) -> None:
    """The finding: under the JSON default, "[run] redis exited (0); restarting in 1 s" was a
    plain line in the JSON stream."""
    child = Child("brief", [sys.executable, "-c", "pass"])
    stop = threading.Timer(1.5, signal.raise_signal, (signal.SIGTERM,))
    with caplog.at_level(logging.INFO, logger="ivr.ops.processes"):
        stop.start()
        try:
            assert supervise([child], cwd=tmp_path, env={}) == 0
        finally:
            stop.cancel()
    out = capsys.readouterr()
    assert "[run]" not in out.out and "[run]" not in out.err
    lines = [r.getMessage() for r in caplog.records if r.name == "ivr.ops.processes"]
    assert "[run] brief exited (0); restarting in 1 s" in lines
