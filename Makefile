# Duet — run `make help` for the list of targets.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AXE := node_modules/axe-core/axe.min.js

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format typecheck migrations-check seed clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: $(STAMP) $(AXE) ## create .venv and install Duet with its development tools

# pip's own progress and "already satisfied" lines are noise on a first start; errors still show.
PIP_QUIET := --quiet --disable-pip-version-check --no-input

$(STAMP): pyproject.toml
	@echo "• Creating the virtualenv in $(VENV)…"
	@$(PYTHON) -m venv $(VENV)
	@echo "• Installing Duet and its tools (the first time takes a few minutes)…"
	@$(BIN)/python -m pip install $(PIP_QUIET) --upgrade pip
	@$(BIN)/python -m pip install $(PIP_QUIET) -e '.[dev]'
	@touch $(STAMP)
	@echo "• Installed."


# axe-core (pinned in package-lock.json) for the accessibility test; test-only, no build step.
$(AXE): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $(AXE); \
	else \
	  echo "npm not found: the accessibility test will be skipped (install Node.js to run it)"; \
	fi


run: install ## start Duet with demo data at http://127.0.0.1:8000 (another: make run PORT=8001 HOST=0.0.0.0)
	@$(BIN)/duet run --host $(HOST) --port $(PORT)

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
