# Two commands a user needs: `make demo` and `make test`. Both bootstrap a
# virtual environment in .venv from nothing (Python 3.10+ and a C compiler).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Every install comes from the lock in envs/lock (exact versions and sha256 hashes, made by
# `make lock` from pyproject's ranges), never from whatever the registry serves that day.
LOCK := envs/lock
PIP_LOCKED := $(BIN)/pip install -q --require-hashes --no-deps --no-build-isolation
# llama.cpp compiles from source: a portable build, not one tuned to this CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
CORES ?= all

.PHONY: demo test install-demo install-all system-deps lint clean-demo bench lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Build tools first: the source-only packages in the lock build with them, not with whatever
# an isolated build environment would fetch. Then charfolio itself, without dependencies:
# its metadata carries the entry points the demo backends register through, so a changed
# pyproject.toml reinstalls it.
$(VENV)/.installed-demo: $(LOCK)/build.txt $(LOCK)/demo.txt pyproject.toml | $(BIN)/python
	$(PIP_LOCKED) -r $(LOCK)/build.txt
	$(PIP_LOCKED) -r $(LOCK)/demo.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-all: $(LOCK)/all.txt $(VENV)/.installed-demo
	$(PIP_LOCKED) -r $(LOCK)/all.txt
	touch $@

install-demo: $(VENV)/.installed-demo
install-all: $(VENV)/.installed-all

## Run the whole pipeline offline on the demo config (CPU, no downloads).
demo: install-demo
	$(BIN)/snakemake --profile profiles/default --configfile config/demo.yaml --cores $(CORES)

# Debian's Chromium renders the HTML report in the tests (SLURM is installed by tests/slurm).
system-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: the report tests will skip"; fi; }

## Install everything and run the whole test suite.
test: install-all system-deps
	$(BIN)/python -m pytest

lint: install-all
	$(BIN)/ruff check src tests bench workflow
	$(BIN)/ruff format --check src tests bench workflow
	$(BIN)/snakefmt --check Snakefile rules

bench: install-all system-deps
	$(BIN)/python bench/generate.py
	$(BIN)/python bench/review.py

## Regenerate the lock after changing dependencies in pyproject.toml or envs/lock/*.in, and
## commit both together (tests/unit/test_lock.py fails while they disagree).
UV_VERSION = $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' $(LOCK)/all.txt)
UV_COMPILE = UV_PYTHON_DOWNLOADS=never $(BIN)/uv pip compile --quiet --universal \
  --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' \
  --override $(LOCK)/overrides.in -c $(LOCK)/constraints.in
lock: | $(BIN)/python
	$(BIN)/pip install -q --no-deps $(if $(UV_VERSION),uv==$(UV_VERSION),uv)
	$(UV_COMPILE) --extra all -o $(LOCK)/all.txt pyproject.toml
	$(UV_COMPILE) --extra demo -c $(LOCK)/all.txt -o $(LOCK)/demo.txt pyproject.toml
	$(UV_COMPILE) -c $(LOCK)/all.txt -o $(LOCK)/build.txt $(LOCK)/build.in
	$(BIN)/python $(LOCK)/lockfile.py stamp

clean-demo:
	rm -rf results/demo
