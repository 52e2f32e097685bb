# omie-otel — every set-up step lives here so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit compat e2e venv stack-up stack-down bench clean fuzz

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
	$(BIN)/python benchmarks/bench_scrub.py

# The scrubber's property-based suite with many more examples and a fresh seed each run (make test runs a fixed set).
# FUZZ_EXAMPLES=N to change how many per property; a failure prints the seed and the shrunk example.
FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	OMIE_OTEL_FUZZ=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_scrub_properties.py

clean:
	rm -rf $(VENV) .nox
