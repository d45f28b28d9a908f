# Two commands a user needs: `make demo` and `make test`. Both bootstrap a
# virtual environment in .venv from nothing (Python 3.10+ and a C compiler).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch from PyPI; GPU users can preinstall their own CUDA build and set TORCH_SPEC= (empty).
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# llama.cpp compiles from source: a portable build, not one tuned to this CPU.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
CORES ?= all

.PHONY: demo test install-demo install-all system-deps lint clean-demo bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(if $(strip $(TORCH_SPEC)),$(BIN)/pip install -q $(TORCH_SPEC))
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.installed-all: pyproject.toml $(VENV)/.installed-demo
	$(BIN)/pip install -q -e '.[all]'
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

bench: install-all
	$(BIN)/python bench/generate.py

clean-demo:
	rm -rf results/demo
