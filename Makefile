# The two commands of the README: `make plan [STACK=dev]` and `make test`.
STACK ?= dev
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: plan test setup tools neo4j-jars unit lint clean help

help:
	@echo "make plan [STACK=dev|prod|local]  offline plan: build/<stack>/plan.json and every rendered file"
	@echo "make test                          installs what the tests need, then runs them all"
	@echo "make unit                          only the fast tests (no real tools or servers)"
	@echo "make lint                          ruff"

# The virtualenv is rebuilt when requirements change.
$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

setup: $(VENV)/.installed

tools:
	scripts/install-tools.sh

# Neo4j Community from Maven Central (cached in ~/.m2) for the tests that run a real server.
neo4j-jars: setup
	$(PY) -c "from tests.support.neo4j_dist import neo4j_classpath as c; c(); print('neo4j-jars: ready')"

plan: setup
	$(PY) scripts/plan.py --stack $(STACK)

test: setup tools neo4j-jars
	$(PY) -m pytest

unit: setup
	$(PY) -m pytest -m "not integration"

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf build .pytest_cache
