# Session Lab: two commands set everything up on a fresh machine.
#   make run    the app on its embedded defaults (no GPU, no network, no model weights)
#   make test   the whole test suite (installs the system packages it needs when run as root)
# Both install the versions pinned in requirements/lock.txt (`make lock` remakes it);
# `make test-latest` runs the suite on the newest releases instead, in .venv-latest.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/lock.txt
LATEST := .venv-latest
# torch 2.13.0 has a CPU wheel on the build machines; an unpinned torch pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: run test test-latest lock lint bench bench-scale screenshots clean

# A stamp, not bin/python: a set-up stopped half way (Ctrl-C while pip upgrades itself
# leaves a venv without pip) is made again from scratch by the next run.
$(VENV)/.created:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

# The stamps depend on the lock: a changed lock reinstalls (pip -c moves each package to its pin).
$(VENV)/.base: $(VENV)/.created pyproject.toml $(LOCK)
	$(BIN)/pip install --quiet -c $(LOCK) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base $(LOCK)
	$(BIN)/pip install --quiet -c $(LOCK) "$(TORCH)"
	$(BIN)/pip install --quiet -c $(LOCK) -e ".[dev,ml]"
	touch $@

run: $(VENV)/.base
	@bash scripts/setup-system.sh
	$(BIN)/sessionlab

test: $(VENV)/.dev
	bash scripts/setup-system.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The newest releases the ranges in pyproject.toml allow (torch stays pinned: a newer
# one is a CUDA download), so drift is found on purpose; prints how they differ from the lock.
# PYTEST_ARGS narrows the run (e.g. make test-latest PYTEST_ARGS=tests/core).
test-latest:
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager "$(TORCH)" -e ".[dev,ml]"
	@echo "test-latest: versions that differ from $(LOCK) ('<' locked, '>' here):"
	@bash scripts/lock.sh --diff $(LATEST)
	bash scripts/setup-system.sh
	$(LATEST)/bin/python -m pytest $(PYTEST_ARGS)

# Remake the lock from the newest releases (a fresh venv; a few minutes), then commit it.
lock:
	PYTHON="$(PYTHON)" TORCH="$(TORCH)" bash scripts/lock.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.dev
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/musicgen.py

bench-scale: $(VENV)/.dev  # builds 1k and 10k clip sessions once (minutes), cached in ~/.cache/sessionlab-bench
	$(BIN)/python bench/scale.py

screenshots: $(VENV)/.dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .ruff_cache
