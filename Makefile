# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Parallel on every core; set PYTEST_ARGS= to run in one process.
PYTEST_ARGS ?= -n auto

.PHONY: demo serve test test-postgres bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## Install, migrate, load the demo data and serve on http://$(HOST):$(PORT)
demo: $(VENV)/.installed
	$(FLASK) adal demo
	@echo "Adal is serving on http://$(HOST):$(PORT) (Ctrl-C stops it)"
	$(FLASK) run --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(FLASK) run --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite; set ADAL_TEST_DATABASE_URL for PostgreSQL)
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres:
	ADAL_TEST_DATABASE_URL=$${ADAL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/adal_test} $(MAKE) test

bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
