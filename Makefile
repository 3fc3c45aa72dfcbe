# Duet — run `make help` for the list of targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AXE := node_modules/axe-core/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format typecheck migrations-check seed clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) $(AXE) ## create .venv and install Duet with its development tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# axe-core (pinned in package-lock.json) for the accessibility test; test-only, no build step.
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $(AXE); \
	else \
	  echo "npm not found: the accessibility test will be skipped (install Node.js to run it)"; \
	fi

run: install ## start Duet on the embedded default at http://127.0.0.1:8000 (Ctrl-C stops it)
	$(BIN)/duet run

# Tests run in parallel (pytest-xdist, one worker per core); TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --dist loadgroup --durations=15

test: install ## run the whole test suite (real PostgreSQL, dramatiq, headless Chromium)
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: install ## the suite without browser tests
	$(BIN)/python -m pytest $(PARALLEL) -m "not browser"

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install ## mypy on the packages
	$(BIN)/mypy

migrations-check: install ## upgrade an empty database to head, then check models match migrations
	$(BIN)/python -m pytest tests/marketplace/test_migrations.py

seed: install ## (re)create demo data in the embedded database
	$(BIN)/duet seed-demo

clean: ## remove the virtualenv and caches (keeps var/, your local data)
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache *.egg-info
