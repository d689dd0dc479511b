# The commands of the README: `make server` (set up, serve the example flows), `make demo`
# (set up, run the example pipeline once) and `make test` (set up, run every check). They work
# on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup server demo test lint bench bench-peers bench-peers-quick clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

server: setup
	$(BIN)/pauta server --flows examples

demo: setup
	$(BIN)/pauta run examples/weekly_training.py

lint: setup
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
