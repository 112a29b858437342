"""A Prism mock of Twilio's REST API, from Twilio's own OpenAPI spec, for the tests.

Prism answers 422 for any request the real API would reject, so our outbound requests are
checked against Twilio's published schema. One known gap (stoplightio/prism#2473): list
parameters travel as repeated form keys, which Prism reads as one value and rejects as "must
be array". We don't drop lists to please the mock: we derive a copy of the spec in which each
array-typed form property also accepts a single item of the same schema.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Twilio's spec, kept in the repository (tests/twilio-oai/README.md: where from, how to
# refresh); TWILIO_OAI_SPEC points at another copy.
SPEC = Path(
    os.environ.get("TWILIO_OAI_SPEC") or ROOT / "tests" / "twilio-oai" / "twilio_api_v2010.json"
)
PRISM = ROOT / "node_modules" / ".bin" / "prism"
START_SECONDS = 60


def relax_form_arrays(spec: dict) -> dict:
    """A copy of `spec` where array form properties also accept one item."""
    spec = copy.deepcopy(spec)
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            content = operation.get("requestBody", {}).get("content", {})
            form = content.get("application/x-www-form-urlencoded", {})
            for name, prop in form.get("schema", {}).get("properties", {}).items():
                if prop.get("type") == "array" and "items" in prop:
                    form["schema"]["properties"][name] = {"anyOf": [prop, prop["items"]]}
    return spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prism_mock(workdir: Path) -> Iterator[str]:
    """Run Prism on a free loopback port; yields its base URL. Fails loudly if it can't."""
    if not PRISM.exists():
        raise RuntimeError(f"{PRISM} is missing: run `make test` (it runs npm ci)")
    if not SPEC.exists():
        raise RuntimeError(
            f"Twilio's OpenAPI spec is missing at {SPEC}: check out tests/twilio-oai/, "
            "or set TWILIO_OAI_SPEC to the file"
        )
    spec_file = workdir / "twilio_api_v2010.relaxed.json"
    spec_file.write_text(json.dumps(relax_form_arrays(json.loads(SPEC.read_text()))))
    port = free_port()
    log = (workdir / "prism.log").open("w")
    process = subprocess.Popen(
        [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Prism exited: {(workdir / 'prism.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Prism did not start within a minute") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
