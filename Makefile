# Herald: `make run` (try it) and `make test` (the whole suite). Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-fast lint format bench clean migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(STAMP)
	$(BIN)/herald db upgrade
	$(BIN)/herald demo
	$(BIN)/herald run

test: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/ruff check herald tests bench
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -x -m "not slow and not browser" $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check herald tests bench
	$(BIN)/ruff format --check herald tests bench

format: $(TEST_STAMP)
	$(BIN)/ruff format herald tests bench
	$(BIN)/ruff check --fix herald tests bench

# make bench ARGS='send tracking' runs some; ARGS=--full sends to 1,000,000 members
bench: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/python -m bench $(ARGS)

migration: $(STAMP)
	./scripts/regen_initial_migration.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
