"""`python -m tests.shards N [pytest arguments]`: the tests in N pytest processes at once,
each running its share (TEST_SHARD, tests/conftest.py: keep_shard), so `make fast` uses
every core; each has its own test Redis and Prism, as any session does. The first shows its
progress as it goes; the others' output is printed whole after it, in turn. The exit status
is the first failure's (a shard dealt no test has not failed)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile

import pytest


def main(argv: list[str]) -> int:
    count, args = int(argv[0]), argv[1:]
    with contextlib.ExitStack() as stack:
        runs = []
        for i in range(count):
            out = stack.enter_context(tempfile.TemporaryFile()) if i else None  # 0: live
            env = {**os.environ, "TEST_SHARD": f"{i}/{count}"}
            command = [sys.executable, "-m", "pytest", *args]
            runs.append((subprocess.Popen(command, env=env, stdout=out, stderr=out), out))
        status = 0
        for i, (process, out) in enumerate(runs):
            code = process.wait()
            if out is not None:
                out.seek(0)
                sys.stdout.write(f"---------- shard {i + 1} of {count}\n")
                sys.stdout.flush()
                sys.stdout.buffer.write(out.read())
                sys.stdout.flush()
            status = status or (0 if code == pytest.ExitCode.NO_TESTS_COLLECTED else code)
        return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
