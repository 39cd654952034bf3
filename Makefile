# HMS: `make run` serves the app, `make test` passes the whole suite. Both set up
# everything they need on a fresh machine: virtualenv, Python and front-end packages,
# bun (from the npm registry), Chromium for the browser tests, migrations, demo data.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
BUN_DIR := .tools/bun
BUN := $(BUN_DIR)/node_modules/.bin/bun
BUN_VERSION := 1.4.4
CHROMIUM := /usr/bin/chromium

export PATH := $(BIN):$(CURDIR)/$(BUN_DIR)/node_modules/.bin:$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_USE_GRANIAN := 1
export NPM_CONFIG_REGISTRY ?= $(shell npm config get registry 2>/dev/null)

.PHONY: run test test-fast test-e2e test-scaled-out bench lint setup setup-browser frontend clean

setup: $(VENV)/.installed $(BUN)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(BUN):
	npm install --silent --no-audit --no-fund --prefix $(BUN_DIR) bun@$(BUN_VERSION)

setup-browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

run: setup
	$(BIN)/hms serve --demo

# Browser tests and the attacker's probes of the running production build (tests/security)
# share one server and run in their own pytest process: pytest-playwright keeps an event
# loop running that would clash with the async service and state tests. The journeys marked
# scaled_out then run again on PostgreSQL, Redis and three workers, as a hospital scales out.
test: setup setup-browser
	$(BIN)/pytest -q -n auto -p no:playwright --ignore=tests/e2e --ignore=tests/security
	$(BIN)/pytest -q tests/e2e tests/security
	HMS_E2E_SCALED_OUT=1 $(BIN)/pytest -q -m scaled_out tests/e2e

test-scaled-out: setup setup-browser
	HMS_E2E_SCALED_OUT=1 $(BIN)/pytest -q -m scaled_out tests/e2e

test-fast: setup
	$(BIN)/pytest -q -n auto -p no:playwright --ignore=tests/e2e --ignore=tests/security

test-e2e: setup setup-browser
	$(BIN)/pytest -q tests/e2e tests/security

bench: setup
	$(BIN)/hms bench

lint: setup
	$(BIN)/ruff check hms_app tests bench
	$(BIN)/ruff format --check hms_app tests bench
	$(BIN)/lint-imports

clean:
	rm -rf .web .states $(VENV) .tools
