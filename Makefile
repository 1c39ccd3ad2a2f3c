# Two commands set everything up on a machine with only python3 and make:
#   make demo   build the warehouse offline from the bundled snapshot and print the story
#   make test   run the test suite (offline, deterministic)
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
INSTALLED := $(VENV)/.installed
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
PORT ?= 3000
export RESTORE_SIGINT_AND_EXEC := import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])
export PATH := $(BIN):$(PATH)

.PHONY: install demo lint test up bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED)

$(DAGSTER_HOME)/dagster.yaml: orchestration/dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp orchestration/dagster.yaml $@

demo: install $(DAGSTER_HOME)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/market-warehouse build --source snapshot

# ruff (lint and format) on the Python, sqlfluff on the dbt SQL; `make test` runs it first, so CI
# fails on a lint error.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models dbt_project/macros dbt_project/tests

test: lint
	$(BIN)/python -m pytest

# `dg dev` replaces the shell (exec), so Ctrl-C and a SIGTERM that make passes on reach it and it
# stops the webserver, daemon and code server it started. A job started in the background inherits
# SIGINT ignored, and Dagster then ignores SIGTERM too (it handles both alike): the python -c
# restores SIGINT's default before exec'ing dg.
up: install $(DAGSTER_HOME)/dagster.yaml
	exec env DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/python -c "$$RESTORE_SIGINT_AND_EXEC" \
		$(BIN)/dg dev --host 127.0.0.1 --port $(PORT)

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
