# The two commands of the README: `make demo` (set up, run the example pipeline) and
# `make test` (set up, run every check). Both work on a fresh machine with Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

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

clean:
	rm -rf $(VENV) .pauta .pytest_cache .ruff_cache
