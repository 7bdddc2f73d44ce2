# Two commands do everything on a fresh machine:
#   make demo   creates .venv, installs trainlens, analyses an example run
#   make test   creates .venv, installs trainlens with test extras and torch (CPU), runs the suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench examples golden fuzz accuracy clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.base: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $@

# torch==2.13.0 first: it resolves to a local CPU build; any other spec would pull CUDA wheels.
$(VENV)/.test: $(VENV)/.base
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,replay,audit,live,mcp,fleet]'
	touch $@

demo: $(VENV)/.base
	$(BIN)/trainlens analyze examples/grpo_kl_episodes

test: $(VENV)/.test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m ruff check trainlens tests benchmarks examples
	$(BIN)/python -m ruff format --check trainlens tests benchmarks examples
	$(BIN)/python -m mypy trainlens

bench: $(VENV)/.test
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_replay.py
	$(BIN)/python benchmarks/bench_live.py

examples: $(VENV)/.test
	$(BIN)/python examples/generate.py

# The fuzz suite runs in `make test` with a fast profile (under a minute); this is the long one.
fuzz: $(VENV)/.test
	TRAINLENS_FUZZ=long $(BIN)/python -m pytest -q tests/fuzz

# The labelled scenario bank (benchmarks/accuracy): recall, false alarms, window error per rule.
# `make test` runs its ~60-run subset against benchmarks/accuracy/baseline_fast.json.
accuracy: $(VENV)/.test
	$(BIN)/python benchmarks/accuracy/run.py --lead-time --details

golden: $(VENV)/.test
	TRAINLENS_REGEN_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden_reports.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis
