# The two commands of the README:
#   make run   installs everything into .venv and runs the product (web + worker, SQLite, local storage, CPU)
#   make test  installs everything into .venv and runs the whole test suite (lint, types, tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test install lint audit e2e clean i18n i18n-compile

# The stamp's name hashes both requirements files, so it needs no timestamps: a fresh clone with a
# ready .venv installs nothing.
$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) i18n-compile

# Dutch and English with gettext, managed with Babel: extract the messages from the code
# (babel.cfg), merge them into the Dutch catalog, compile. Translators edit core/locale/nl/LC_MESSAGES/vorm.po.
LOCALES := core/locale
KEYWORDS := -k _ -k N_ -k translate -k translate_plural:1,2 -k translate_in_context:1c,2
i18n: $(STAMP)
	PYTHONPATH=. $(BIN)/pybabel -q extract -F babel.cfg $(KEYWORDS) --no-wrap --sort-by-file \
		--project=Vorm --copyright-holder=Vorm -o $(LOCALES)/vorm.pot app.py pages core
	$(BIN)/pybabel -q update -i $(LOCALES)/vorm.pot -d $(LOCALES) -D vorm --no-wrap --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d $(LOCALES) -D vorm --statistics

i18n-compile: $(STAMP)
	$(BIN)/pybabel -q compile -d $(LOCALES) -D vorm

# The web app's port (honcho's base port: web gets it, the worker the next hundred). The web process
# prints the address to open and builds every link on it; `make run PORT=8600` moves all of them.
PORT ?= 8501

run: install
	$(BIN)/python -m core.manage migrate
	$(BIN)/python -m core.manage bootstrap-admin
	-$(BIN)/python -m core.manage models pull --if-missing --quiet-offline --timeout 5
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Known vulnerabilities in the pinned requirements, from PyPI's vulnerability data (pip-audit). Accepted
# ones are listed in .pip-audit-accepted with a reason each; CI can add AUDIT_FLAGS=--strict so that a
# dependency PyPI cannot answer for fails the run instead of being skipped.
AUDIT_FLAGS ?=
audit: install
	$(BIN)/pip-audit -r requirements.txt -r requirements-dev.txt $(AUDIT_FLAGS) \
		$$(sed -e 's/#.*//' .pip-audit-accepted | xargs -r -n1 printf -- '--ignore-vuln %s ')

test: install lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

e2e: install
	$(BIN)/pytest -q -m e2e $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
