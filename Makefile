# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Parallel on every core; set PYTEST_ARGS= to run in one process.
PYTEST_ARGS ?= -n auto

PYBABEL := $(VENV)/bin/pybabel
CATALOGS := $(wildcard server/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: demo serve test test-postgres bench clean translations

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The gettext catalogs are compiled by the install step (never edited or committed as .mo).
server/translations/%/LC_MESSAGES/messages.mo: server/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(PYBABEL) compile --domain messages --input-file $< --output-file $@ --locale $* --statistics

## Extract the interface strings, merge them into the kk/ru/uz catalogs, compile (docs/i18n.md)
translations: $(VENV)/.installed
	$(PYBABEL) extract -F babel.cfg -k _m:1c,2 -k _mp:1c,2,3 --no-default-keywords \
	  --sort-by-file --no-location --width 100 --project Adal --version 1 \
	  --copyright-holder "Adal contributors" -o server/translations/messages.pot .
	$(PYBABEL) update -i server/translations/messages.pot -d server/translations --width 100 \
	  --no-fuzzy-matching --ignore-pot-creation-date
	$(PYBABEL) compile -d server/translations --statistics

## Install, migrate, load the demo data and serve on http://$(HOST):$(PORT)
demo: $(VENV)/.installed $(COMPILED)
	$(FLASK) adal demo
	@echo "Adal is serving on http://$(HOST):$(PORT) (Ctrl-C stops it)"
	$(FLASK) run --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed $(COMPILED)
	$(FLASK) run --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite; set ADAL_TEST_DATABASE_URL for PostgreSQL)
test: $(VENV)/.installed $(COMPILED)
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres:
	ADAL_TEST_DATABASE_URL=$${ADAL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/adal_test} $(MAKE) test

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
