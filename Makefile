# omie-otel — every set-up step lives here so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STACK_ENV ?= .stack/run/env

.PHONY: demo test lint unit compat e2e venv stack-up stack-down bench capacity clean dashboard-assets browser fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test]' nox
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo
	@url=$$(sed -n 's/^DASHBOARD_URL=//p' $(STACK_ENV) 2>/dev/null); \
	if [ -n "$$url" ] && curl -sf -o /dev/null -m 2 "$${url}healthz"; then echo "Painel web (omie-otel dashboard): $$url"; fi

# Every test: unit + integration on the newest FastMCP, the other FastMCP majors, then the real stack end to end.
test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not e2e" --cov --cov-report=term tests
	$(BIN)/nox -s compat
	scripts/install-browser.sh
	$(BIN)/python -m pytest -q -m e2e tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" tests

compat: $(STAMP)
	$(BIN)/nox -s compat

e2e: $(STAMP)
	scripts/install-browser.sh
	$(BIN)/python -m pytest -q -m e2e tests/e2e

stack-up:
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_overhead.py
	$(BIN)/python benchmarks/bench_omie_httpx.py
	$(BIN)/python benchmarks/bench_error_body.py
	$(BIN)/python benchmarks/bench_scrub.py

# The scrubber's property-based suite with many more examples and a fresh seed each run (make test runs a fixed set).
# FUZZ_EXAMPLES=N to change how many per property; a failure prints the seed and the shrunk example.
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	OMIE_OTEL_FUZZ=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_scrub_properties.py

# Capacity of one Omie MCP server, bare vs instrumented, driven by Locust (not part of `make test`; ~10 min; uses or
# starts the stack of STACK_PORT_OFFSET). Writes docs/capacity/capacity-results.json and capacity.png.
capacity: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,capacity]'
	$(BIN)/python benchmarks/capacity/run.py

clean:
	rm -rf $(VENV) .nox

# The dashboard's vendored front-end library (uPlot), refreshed from the npm registry (pinned in the script).
dashboard-assets:
	scripts/dashboard-assets.sh

# Debian's chromium for the dashboard's browser tests.
browser:
	scripts/install-browser.sh

# README.md's options table, written from the option table in src/omie_otel/_config.py (tests/test_options_table.py
# fails while they differ).
.PHONY: options-table
options-table: $(STAMP)
	$(BIN)/python scripts/options_table.py

# The telemetry pipeline's break points (not part of `make test`; ~10 min; uses or starts the stack of
# STACK_PORT_OFFSET): the collector on one core driven by telemetrygen (tools/telemetrygen, built and cached), and one
# process's SDK queue through instrument(). Writes docs/capacity/pipeline-results.json.
.PHONY: capacity-pipeline
capacity-pipeline: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,capacity]'
	$(BIN)/python benchmarks/capacity/pipeline.py
