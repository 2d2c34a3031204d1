# dv_analysis — set-up, demo and tests. Two commands do everything on a fresh machine:
#   make demo   # environment + synthetic Taipei exports 2015Q1–2020Q4 + every notebook for 2020Q4
#   make test   # environment + lint + the test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
BIN         := $(VENV)/bin
# Python 3.12 (esda 2.10 needs it): pyenv's, else one on PATH; override with `make PYTHON=/path/to/python3.12`.
PYTHON      ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
# Debian packages the suite needs: a CJK font so Chinese labels render, Chromium for the browser test.
SYSTEM_PACKAGES ?= fonts-noto-cjk chromium
STAMPS      := .make

DEMO_CITY   ?= 63000
DEMO_START  ?= 2015Q1
DEMO_END    ?= 2020Q4
DEMO_SEED   ?= 42
# pytest-xdist workers of `make test`: one per core, at most 4 (tests sharing built data stay
# on one worker: tests/conftest.py)
TEST_JOBS   ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: help env system venv demo synth backfill run test lint unit e2e bench soak clean-outputs

help:
	@echo "make demo   — set up, generate synthetic exports $(DEMO_START)–$(DEMO_END), clean them, run all notebooks for $(DEMO_END)"
	@echo "make test   — set up, lint (ruff) and run the tests (pytest)"
	@echo "make env    — only the set-up (system packages + $(VENV) with Python 3.12)"
	@echo "make bench  — the benchmarks of benchmarks/timing/run_benchmarks.py; results in benchmarks/results.json"
	@echo "make soak   — 30 random synthetic worlds run end to end (benchmarks/timing/soak.py)"

env: system venv

system: $(STAMPS)/system
$(STAMPS)/system:
	@mkdir -p $(STAMPS)
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then \
	  echo "system packages: $(SYSTEM_PACKAGES) present"; \
	else \
	  echo "system packages: installing$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "could not install$$missing; install them by hand (Debian/Ubuntu package names)"; exit 1; }; \
	fi
	@touch $@

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml constraints.txt
	@mkdir -p $(STAMPS)
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 not found: install it (pyenv install 3.12) or pass PYTHON=/path/to/python3.12"; exit 1; fi
	@echo "environment: $(VENV) with $$($(PYTHON) --version)"
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $@

synth: env
	$(BIN)/dv-analysis synth --city $(DEMO_CITY) --start $(DEMO_START) --end $(DEMO_END) --seed $(DEMO_SEED)

backfill: env
	$(BIN)/dv-analysis clean --city $(DEMO_CITY) --start $(DEMO_START) --end $(DEMO_END)

run: env
	$(BIN)/dv-analysis run --city $(DEMO_CITY) --period $(DEMO_END) --seed $(DEMO_SEED)

demo: synth backfill run
	@echo
	@echo "Demo finished. Staff pages (open in a browser): reports/$(DEMO_END)/staff/"
	@ls -1 reports/$(DEMO_END)/staff/
	@echo "Executed notebooks (internal, analysts only): reports/$(DEMO_END)/internal/"
	@echo "Clean tables (internal): data_clean/$(DEMO_END)/"

lint: env
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests notebooks benchmarks

unit: env
	$(BIN)/python -m pytest -m "not e2e" -q

e2e: env
	$(BIN)/python -m pytest -m e2e -q

test: lint
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadgroup --no-loadscope-reorder --durations=12

bench: env
	$(BIN)/python benchmarks/timing/run_benchmarks.py

soak: env
	$(BIN)/python benchmarks/timing/soak.py --out benchmarks/timing/soak.json

clean-outputs:
	find data_raw data_clean data_truth reports -mindepth 1 ! -name README.md -exec rm -rf {} +
