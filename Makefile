# Meridian control plane: `make up` to run it, `make test` to prove it. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
BIN := $(VENV)/bin
MERIDIAN := $(BIN)/meridian
PYTEST_ARGS ?=
# The admission webhook starts with `make up`; `make up WEBHOOKS=0` leaves it out.
WEBHOOKS ?= 1

.PHONY: help install up down status test lint unit integration e2e crds images bench clean

help:
	@echo "make up      install everything, start the platform + operators, apply the examples"
	@echo "make down    stop every process the platform started"
	@echo "make test    install everything, lint, run unit, integration and e2e tests"
	@echo "make crds    regenerate crds/*.yaml from the API models, policies/*.yaml from core/policy"
	@echo "make images  build the service images that changed (no Docker); import into real nodes"
	@echo "make bench   run the benchmarks (not part of make test)"

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Python venv, Debian packages (PostgreSQL, Redis, RabbitMQ) and the Go-built Kubernetes binaries.
install: $(VENV)/.installed
	$(MERIDIAN) dev install

# REAL_NODE=1 (root): a real node, the order pipeline on it as ServiceReleases (README).
up: install
	$(MERIDIAN) dev up $(if $(DR),--dr --pg-standby) $(if $(REAL_NODE),--real-node) $(if $(filter 1,$(WEBHOOKS)),--webhooks) --search --prometheus --crds crds --operators --apply crds/examples --services
	@echo
	@echo 'Platform is up. Next:'
	@echo '  eval "$$($(MERIDIAN) dev env)"      # KUBECONFIG, kubectl 1.36 on PATH, DSNs, URLs'
	@echo '  kubectl get meridian -A             # the examples, with their printer columns'
	@echo '  kubectl explain tenant.spec         # field documentation'
	@echo '  README "Ordering through the gateway": login, order, watch it fulfilled with curl'
	@echo '  $(MERIDIAN) dev status              # processes; logs in $$MERIDIAN_RUN_DIR/logs'
	@echo '  make down'

down:
	@if [ -x $(MERIDIAN) ]; then $(MERIDIAN) dev down; fi

status:
	$(MERIDIAN) dev status

# deploy/Dockerfile's images, built here without Docker (cached by content; `make up REAL_NODE=1`
# builds the missing ones too and imports them into the real nodes).
images: $(VENV)/.installed
	$(MERIDIAN) dev images

crds: $(VENV)/.installed
	$(MERIDIAN) crds generate --out crds
	$(MERIDIAN) policies generate --out policies

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint
	$(BIN)/pytest tests/unit tests/integration tests/e2e --durations=40 $(PYTEST_ARGS)

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m pytest tests/bench -s -p no:cacheprovider $(PYTEST_ARGS)

clean: down
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
