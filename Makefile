# Boxoffice — `make run` serves the app (embedded mode by default), `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum requirements.lock | cut -d' ' -f1)

.PHONY: setup run test test-js check lint format bench chaos clean

$(STAMP): requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Boxoffice needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)

run: setup  ## migrate, load the demo event once, serve on http://$${HOST:-127.0.0.1}:$${PORT:-8000}
	$(BIN)/python -m backend.cli serve

# Three pytest workers (pytest-xdist): much of the suite waits on browsers, servers and
# hold timers rather than computing (with two, 1,036 tests took 738 s here; with three,
# 682 s, the same hour). Each takes whole units (`--dist loadgroup`, the groups are
# made in tests/conftest.py): a module, or all the browser tests of one run mode, so
# shared servers and accounts are made once; the longest units go first, in the order
# tests/conftest.py puts them (--no-loadscope-reorder). TEST_WORKERS=0 runs in one process.
# --durations: the slowest tests at the end of every run, to keep the suite in its budget.
TEST_WORKERS ?= 3
test: setup test-js  ## the whole suite (PostgreSQL/Redis/Chromium/Node parts skip loudly without them; fail when CI=true)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25 $(PYTEST_ARGS)

# The browser app's pure modules (frontend/tests/*.test.js) under Node's own test runner:
# no npm packages. Like the Chromium tests: without `node`, a loud SKIP, a failure in CI.
test-js:  ## unit tests of frontend/ with `node --test` (Node 20 or newer)
	@if command -v node >/dev/null 2>&1; then \
		node --test frontend/tests/; \
	elif [ "$$(printf '%s' "$${CI:-}" | tr 'A-Z' 'a-z')" = "true" ]; then \
		echo "!!! JS TESTS NOT RUN: node is missing and CI=true. Install Node 20 or newer." >&2; exit 1; \
	else \
		echo "!!! JS TESTS SKIPPED: node is missing. Install Node 20 or newer to run frontend/tests/." >&2; \
	fi

chaos: setup  ## every fault scenario under load, each judged by the history checker (results in tests/artifacts/chaos/), and a long schemathesis run
	BOXOFFICE_CHAOS=full $(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff format --check backend tests bench chaos
	$(BIN)/ruff check backend tests bench chaos
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache  # the layer contract in pyproject.toml

format: setup
	$(BIN)/ruff format backend tests bench chaos
	$(BIN)/ruff check --fix backend tests bench chaos

check: lint test

# The benchmarks (bench/): flash sale with its ceilings, live fan-out, huge venue. Needs
# PostgreSQL + Redis on 127.0.0.1 (and pgbench, Chromium for their parts); loopback only,
# about 5 minutes. BENCH_ARGS=--quick for a small run; `python -m bench --help` for flags.
# Scenarios may follow: `make bench book BENCH_ARGS="--peer-url http://127.0.0.1:3000"`,
# `make bench fanout BENCH_ARGS=--quick`.
BENCH_SCENARIOS := $(filter flash fanout huge book onsale,$(MAKECMDGOALS))
bench: setup  ## run every benchmark; figures in bench/results/*.json and summary.md
	$(BIN)/python -m bench $(BENCH_SCENARIOS) $(BENCH_ARGS)
ifneq ($(filter bench,$(MAKECMDGOALS)),)
flash fanout huge book onsale: ; @:
endif

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
