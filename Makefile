# One command each for the developer loop. `make demo` and `make test` bootstrap .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What is installed, one stamp per extra: `make demo` needs only '.[demo]' (the emulator),
# not the dev toolchain; '.[dev]' includes everything '.[demo]' has, so it stamps both.
STAMP      := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: setup demo test lint format bench bench-peers clean

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

# The demo exits 1 because the sample fleet has failing instances; that is the point.
demo: $(DEMO_STAMP)
	$(BIN)/imdsguard demo; rc=$$?; [ $$rc -le 1 ] || exit $$rc

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

# Cloud Custodian and Prowler on the same fleet, each in a throwaway venv under bench/.peers.
bench-peers: $(STAMP)
	$(BIN)/python -m bench peers

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache bench/.peers
