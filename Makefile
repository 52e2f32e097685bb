# omie-otel — every set-up step lives here so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit compat e2e venv stack-up stack-down bench capacity clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test]' nox
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo

# Every test: unit + integration on the newest FastMCP, the other FastMCP majors, then the real stack end to end.
test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not e2e" tests
	$(BIN)/nox -s compat
	$(BIN)/python -m pytest -q -m e2e tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" tests

compat: $(STAMP)
	$(BIN)/nox -s compat

e2e: $(STAMP)
	$(BIN)/python -m pytest -q -m e2e tests/e2e

stack-up:
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_overhead.py
	$(BIN)/python benchmarks/bench_omie_httpx.py

# Capacity of one Omie MCP server, bare vs instrumented, driven by Locust (not part of `make test`; ~10 min; uses or
# starts the stack of STACK_PORT_OFFSET). Writes docs/capacity/capacity-results.json and capacity.png.
capacity: $(STAMP)
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test,capacity]'
	$(BIN)/python benchmarks/capacity/run.py

clean:
	rm -rf $(VENV) .nox
