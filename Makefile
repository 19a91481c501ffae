# The two commands a newcomer needs: `make demo` and `make test`.
# Both install what they need first, idempotently: a stamp file per dependency
# set means a second run installs nothing unless a manifest changed. npm installs
# with `npm ci`: exactly the tracked lockfile, which it never rewrites.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
CHAIN_STAMP := contracts/node_modules/.installed
SDK_STAMP := sdk-js/node_modules/.installed
# Debian chromium for the browser tests (never a downloaded build); stamped once it exists.
CHROMIUM_STAMP := .build/chromium.installed
NPM := npm --no-audit --no-fund --loglevel=error

# anvil (local chain) comes from the npm package in contracts/.
export PATH := $(CURDIR)/contracts/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)

.PHONY: setup demo serve test lint typecheck pytest sdk-test clean

# The built SDK the backend serves under /sdk/*; rebuilt when a source changes.
SDK_DIST := sdk-js/dist/cascade.js
SDK_SOURCES := $(shell find sdk-js/src sdk-js/scripts -type f 2>/dev/null)

setup: $(PY_STAMP) $(CHAIN_STAMP) $(SDK_DIST)

$(PY_STAMP): pyproject.toml
	@echo "==> python environment ($(VENV))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(CHAIN_STAMP): contracts/package.json contracts/package-lock.json
	@echo "==> local chain (npm @foundry-rs/anvil)"
	@cd contracts && $(NPM) ci
	@touch $@

$(SDK_STAMP): sdk-js/package.json sdk-js/package-lock.json
	@echo "==> sdk-js dependencies"
	@cd sdk-js && $(NPM) ci
	@touch $@

$(SDK_DIST): $(SDK_STAMP) $(SDK_SOURCES)
	@echo "==> sdk-js build"
	@cd sdk-js && npm run --silent build

demo: setup
	@$(BIN)/cascade demo

serve: setup
	@$(BIN)/cascade serve

lint: $(PY_STAMP)
	@echo "==> ruff"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	@echo "==> mypy"
	@$(BIN)/mypy

pytest: setup $(CHROMIUM_STAMP)
	@echo "==> pytest"
	@bash .ci/pytest.sh

$(CHROMIUM_STAMP):
	@test -x /usr/bin/chromium || { echo "==> chromium (Debian package)"; \
		apt-get update -qq && apt-get install -y -qq chromium; }
	@mkdir -p $(dir $@) && touch $@

sdk-test: $(SDK_STAMP)
	@echo "==> sdk-js tests"
	@cd sdk-js && npm test --silent

test: setup lint typecheck sdk-test pytest

clean:
	rm -rf $(VENV) contracts/node_modules sdk-js/node_modules .build .data
