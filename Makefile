# The two commands of the README:
#   make run   installs everything into .venv and runs the product (web + worker, SQLite, local storage, CPU)
#   make test  installs everything into .venv and runs the whole test suite (lint, types, tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test install lint e2e clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# The web app's port (honcho's base port: web gets it, the worker the next hundred). The web process
# prints the address to open and builds every link on it; `make run PORT=8600` moves all of them.
PORT ?= 8501

run: install
	$(BIN)/python -m core.manage migrate
	$(BIN)/python -m core.manage bootstrap-admin
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

e2e: install
	$(BIN)/pytest -q -m e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
