# Session Lab: two commands set everything up on a fresh machine.
#   make run    the app on its embedded defaults (no GPU, no network, no model weights)
#   make test   the whole test suite (installs the system packages it needs when run as root)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch 2.13.0 has a CPU wheel on the build machines; an unpinned torch pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: run test lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev,ml]"
	touch $@

run: $(VENV)/.base
	@bash scripts/setup-system.sh
	$(BIN)/sessionlab

test: $(VENV)/.dev
	bash scripts/setup-system.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.dev
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/musicgen.py

screenshots: $(VENV)/.dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
