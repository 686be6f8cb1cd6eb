# Herald: `make run` (try it) and `make test` (the whole suite). Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-fast test-faults test-security audit lint format bench statistics clean migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools

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

# the whole suite except the fault suite (tests/faults), which `make test-faults` runs
test: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/ruff check herald tests bench
	$(BIN)/lint-imports
	$(BIN)/pytest -q -p no:cacheprovider --ignore=tests/faults $(PYTEST_ARGS)

test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -x -m "not slow and not browser" --ignore=tests/faults $(PYTEST_ARGS)

# the fault suite of issue 15 (real workers, schedulers, web, a private PostgreSQL cluster and
# Redis server that it kills and restarts, aiosmtpd); each scenario leaves its figures in
# build/faults/, rendered into RELIABILITY.md's fault table whatever the outcome
test-faults: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/faults $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python scripts/fault_table.py build/faults RELIABILITY.md; exit $$status

# the security suite alone (tests/security: headers, sessions, route map, schemathesis, CSP in
# Chromium); `make test` runs it too. HERALD_SCHEMATHESIS_EXAMPLES bounds schemathesis (default 12).
test-security: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/pytest -q -p no:cacheprovider tests/security $(PYTEST_ARGS)

# known vulnerabilities in the installed dependencies; --strict fails when a package could not be
# checked (no vulnerability service reachable), so a clean result means clean. Not part of
# `make test`, which must pass offline.
# pip-audit first; where its vulnerability service is unreachable (it then skips every package
# as "not found on PyPI" or fails to connect), the offline audit against the PyPA
# advisory-database snapshot, which says how old its data is. Real findings fail either way.
ADVISORY_DB ?= /work/.mirror/pypa+advisory-database/repo
audit: $(TEST_STAMP)
	@log=$$(mktemp); status=0; \
	$(BIN)/pip-audit --strict --progress-spinner off --skip-editable >$$log 2>&1 || status=$$?; \
	cat $$log; \
	if [ $$status -ne 0 ] && grep -Eq 'could not be audited|ConnectionError|NameResolutionError|Max retries exceeded|Failed to establish' $$log; then \
	  rm -f $$log; \
	  if [ -e "$(ADVISORY_DB)" ]; then \
	    echo; echo "pip-audit could not reach its vulnerability service: falling back to the offline audit."; \
	    echo "Its data is a SNAPSHOT of the PyPA advisory database (date below), not live data."; \
	    $(BIN)/python scripts/offline_audit.py --db "$(ADVISORY_DB)"; \
	  else \
	    echo "pip-audit could not reach its service and no advisory snapshot at $(ADVISORY_DB)"; exit 1; \
	  fi; \
	else rm -f $$log; exit $$status; fi

lint: $(TEST_STAMP)
	$(BIN)/ruff check herald tests bench
	$(BIN)/lint-imports
	$(BIN)/ruff format --check herald tests bench

format: $(TEST_STAMP)
	$(BIN)/ruff format herald tests bench
	$(BIN)/ruff check --fix herald tests bench

# make bench ARGS='send tracking' runs some; ARGS=--full sends to 1,000,000 members
bench: $(TEST_STAMP)
	./scripts/ensure-services.sh
	$(BIN)/python -m bench $(ARGS)

# the A/B simulation alone: rewrites STATISTICS.md (also part of `make bench`)
statistics: $(TEST_STAMP)
	$(BIN)/python -m bench statistics

migration: $(STAMP)
	./scripts/regen_initial_migration.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
