# The commands of the README: `make server` (set up, serve the example flows), `make demo`
# (set up, run the example pipeline once) and `make test` (set up, run every check). They work
# on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup setup-dev server demo test lint bench bench-peers bench-peers-quick clean

# Two stamps, so that `make server` after `make test` (or the other way round) installs what
# the new target needs: `setup` is pauta and what the examples import, `setup-dev` adds the
# tools of `make test` (pytest, Playwright, schemathesis, ruff: several hundred MB).
setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

server: setup
	$(BIN)/pauta server --flows examples

demo: setup
	$(BIN)/pauta run examples/weekly_training.py

lint: setup-dev
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/overhead.py

# pauta next to Prefect, Dagster and Airflow (each installed in bench/peers/.venvs/ on first use).
bench-peers: setup
	$(BIN)/python bench/peers/run.py

bench-peers-quick: setup
	$(BIN)/python bench/peers/run.py --quick

clean:
	rm -rf $(VENV) .pauta .pytest_cache .ruff_cache
