# One-command set-up: `make run` runs the app, `make test` installs and runs every test;
# `make fast` is the loop while changing code (lint, types, the tests not marked slow).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test fast lock chromium redis-server check bench bench-quick bench-abuse bench-caller load chaos wrk clean

# Installs come from the hash-checked lock in requirements/ ("Dependencies and the lock" in
# docs/architecture.md): pip itself first, then the app's lock (its build backend, setuptools,
# included), then the project with no dependencies of its own and no build isolation, since pip hash-checks
# neither editable installs (pypa/pip#4995) nor isolated build dependencies (pypa/pip#11974).
# PYTHONWARNINGS: setuptools explains editable installs in 20 lines each time; nothing to act on.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --require-hashes
SELF := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

# A stamp of its own, not $(BIN)/python: that is a link to the interpreter the venv was made
# from, which make follows (and `touch` would touch), so another venv of the same Python
# being made would have every later make here reinstall everything.
$(VENV)/.created: requirements/pip.txt
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements/pip.txt
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml requirements/app.txt
	$(PIP) -r requirements/app.txt
	$(SELF)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements/dev.txt
	$(PIP) -r requirements/app.txt -r requirements/dev.txt
	$(SELF)
	touch $@

# `make lock` refreshes every lock to the newest releases that pyproject.toml's ranges allow,
# for every Python from 3.11 on (uv's universal resolution writes markers where they differ),
# with uv itself installed from its own lock into .venv-lock. Then run `make test` on a fresh
# clone before committing the lock.
LOCK_BIN := .venv-lock/bin
COMPILE := $(LOCK_BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
  --upgrade --index-url https://pypi.org/simple
lock:
	[ -x $(LOCK_BIN)/python ] || $(PYTHON) -m venv .venv-lock
	PYTHONWARNINGS=ignore $(LOCK_BIN)/python -m pip install --quiet --require-hashes -r requirements/uv.txt
	$(COMPILE) requirements/pip.in -o requirements/pip.txt
	$(COMPILE) requirements/uv.in -o requirements/uv.txt
	$(COMPILE) pyproject.toml requirements/build.in -o requirements/app.txt
	$(COMPILE) pyproject.toml requirements/build.in --extra dev -c requirements/app.txt \
	  -o requirements/dev.txt

# Test-only: Prism, which mocks Twilio's REST API from its OpenAPI spec (needs Node.js + npm).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(VENV)/.installed
	$(BIN)/helpline run

# The browser tests drive a real Chromium, never Playwright's download: CHROMIUM_PATH, else
# /usr/bin/chromium or one on the PATH; when none is there, Debian's package (as root).
chromium:
	@{ [ -n "$$CHROMIUM_PATH" ] && [ -x "$$CHROMIUM_PATH" ]; } || [ -x /usr/bin/chromium ] \
	  || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && apt-get update -qq \
	       && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "The browser tests need Chromium: install it (e.g. apt-get install chromium," \
	         "as root) and set CHROMIUM_PATH to it unless it is /usr/bin/chromium" >&2; exit 1; }

# The failover tests run Debian's redis-server and redis-sentinel (7.0; TLS built in), started
# by the tests on ports of their own. Installed as root when missing, with the package's
# daemons kept from starting (a policy-rc.d that refuses, removed afterwards): only the
# binaries are used.
REDIS_BIN ?= /usr/bin
redis-server:
	@if [ -x $(REDIS_BIN)/redis-server ] && [ -x $(REDIS_BIN)/redis-sentinel ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1 || [ "$$(id -u)" != 0 ]; then \
	  echo "The failover tests need Debian's redis-server and redis-sentinel in $(REDIS_BIN):" \
	    "run make test as root once (it installs them without starting their services), or" \
	    "install them yourself: apt-get install redis-server redis-sentinel" >&2; exit 1; fi; \
	policy=/usr/sbin/policy-rc.d; saved=; \
	if [ -e $$policy ]; then saved=$$(mktemp); cp -p $$policy $$saved; fi; \
	printf '#!/bin/sh\n# make test: no service starts while redis-server is installed\nexit 101\n' \
	  > $$policy; chmod 755 $$policy; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  redis-server redis-sentinel; status=$$?; \
	if [ -n "$$saved" ]; then mv $$saved $$policy; else rm -f $$policy; fi; \
	[ $$status = 0 ] || echo "apt-get could not install redis-server and redis-sentinel" >&2; \
	exit $$status

# pytest caches the test modules it rewrites for its assertions in __pycache__, unless
# PYTHONDONTWRITEBYTECODE is set: then every run rewrites all of them again, half the time
# collection takes (5.5 s of CPU without the cache, 2.5 s with it). So it is unset for pytest.
LINT := ivr tests bench wsgi.py gunicorn.conf.py
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: $(VENV)/.installed-dev node_modules/.installed chromium redis-server
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)
	$(BIN)/mypy
	$(PYTEST)

# The loop while changing code: the same checks, and every test but those marked `slow`
# (real processes, Redis failover, chaos, the browser: registered in pyproject.toml, listed in
# tests/conftest.py). It needs Prism (the REST tests), not Chromium nor Debian's redis-server.
# The tests run in FAST_SHARDS processes at once (tests/shards.py; one a core by default),
# each with its own share, Redis and Prism.
# FAST_SAMPLE=k: of each big parametrized table, a stable one case in k (tests/conftest.py:
# keep_sample); `make fast FAST_SAMPLE=1` runs every case, as `make test` always does.
FAST_SAMPLE ?= 4
FAST_SHARDS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
fast: $(VENV)/.installed-dev node_modules/.installed
	$(BIN)/ruff check $(LINT)
	$(BIN)/ruff format --check $(LINT)
	$(BIN)/mypy
	PYTHONDONTWRITEBYTECODE= FAST_SAMPLE=$(FAST_SAMPLE) $(BIN)/python -m tests.shards $(FAST_SHARDS) -q -m "not slow"

# Benchmarks and the load test drive the app with wrk (Debian's package; brew on macOS).
wrk:
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && apt-get install -y -qq wrk; } \
	  || { echo "wrk is needed: apt-get install wrk (or brew install wrk)"; exit 1; }

# `make bench` writes bench/RESULTS.md (about 12 minutes); `make bench-quick` runs every part
# briefly and only prints. BENCH_SLOW_SECONDS sets how long slow clients are held (60),
# BENCH_FLOOD_SECONDS how long junk forms and badly signed calls are sent (30),
# BENCH_WORKER_CLASS=sync measures gunicorn's sync workers for comparison.
# `make bench-abuse` prints only the calls under pressure (BENCH_ABUSE=slow,junk,bad_signature,
# sign_in chooses which; BENCH_JUNK_CONNECTIONS, BENCH_BAD_SIGNATURE_CONNECTIONS and
# BENCH_STORM_ATTEMPTS scale them down); `make bench-caller` prints the caller's side of the
# content (speech, text segments, prices: bench/prices.toml) in a second, with no server.
bench: $(VENV)/.installed-dev wrk
	$(BIN)/python -m bench.run

bench-quick: $(VENV)/.installed-dev wrk
	BENCH_QUICK=1 $(BIN)/python -m bench.run

bench-abuse: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run abuse

bench-caller: $(VENV)/.installed-dev
	$(BIN)/python -m bench.caller

load: $(VENV)/.installed-dev wrk
	$(BIN)/python -m bench.load

# `make chaos`: 10 minutes (CHAOS_SECONDS) of traffic while workers, the scheduler and Redis
# are killed; writes its section of bench/RESULTS.md. `make test` runs a two-minute form.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m bench.chaos

check: $(VENV)/.installed
	$(BIN)/helpline check

clean:
	rm -rf $(VENV) .venv-lock var .pytest_cache .hypothesis
