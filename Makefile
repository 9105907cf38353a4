# Two commands do everything from a fresh clone:
#   make demo   create .venv, install, run the whole retraining loop on the embedded default
#   make test   the same set-up, check/start Postgres and Redis, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test services browser lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python run_retraining.py

services:
	bash scripts/ensure_services.sh

browser:
	bash scripts/ensure_browser.sh

test: install services browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .retraining .pytest_cache
