# Two entry points: `make chat` (set up + run the app on the embedded models) and
# `make test` (set up with the test extras + run the whole suite, lint and type checks included).
# Every install comes from the hash-pinned locks in requirements/ (`make lock` regenerates them).
PYTHON ?= python3.11
VENV ?= .venv
PORT ?= 8501
BIN := $(VENV)/bin
# uv installs the locks about 4x faster than pip on a cold cache (README, Performance).
# INSTALLER=pip uses the venv's bundled pip instead; both check every hash.
INSTALLER ?= uv

ifeq ($(INSTALLER),pip)
INSTALL_TOOL := $(BIN)/python
LOCKED := $(BIN)/python -m pip install --disable-pip-version-check --require-hashes --no-deps -r
PROJECT := $(BIN)/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
else
INSTALL_TOOL := $(BIN)/uv
LOCKED := $(BIN)/uv pip install --python $(BIN)/python --require-hashes --no-deps -r
PROJECT := $(BIN)/uv pip install --python $(BIN)/python --no-deps --no-build-isolation -e .
endif

.PHONY: chat test install install-test install-bench install-ocr lock check-lock wheel-check doctor lint models ingest ui \
	eval bench-ingest bench-latency clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# uv itself comes from its own hashed lock, installed by the venv's bundled pip.
$(BIN)/uv: requirements/tools.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r requirements/tools.lock
	touch $@

$(VENV)/.installed: pyproject.toml requirements/runtime.lock | $(INSTALL_TOOL)
	$(LOCKED) requirements/runtime.lock
	$(PROJECT)
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements/test.lock | $(INSTALL_TOOL)
	$(LOCKED) requirements/test.lock
	$(PROJECT)
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml requirements/bench.lock | $(INSTALL_TOOL)
	$(LOCKED) requirements/bench.lock
	$(PROJECT)
	touch $@ $(VENV)/.installed

$(VENV)/.installed-ocr: pyproject.toml requirements/ocr.lock | $(INSTALL_TOOL)
	$(LOCKED) requirements/ocr.lock
	$(PROJECT)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
# benchmarks/scale.py's plot and benchmarks/keyword_engines.py (the `bench` extra)
install-bench: $(VENV)/.installed-bench
# OCR of scanned PDF pages (the `ocr` extra; the test lock includes it)
install-ocr: $(VENV)/.installed-ocr

lock: install $(BIN)/uv
	$(BIN)/python scripts/lock.py

check-lock: install
	$(BIN)/python scripts/lock.py --check
	$(BIN)/python -m pip check --disable-pip-version-check

# Build the wheel, install it non-editable into a clean venv from the runtime lock, and use it
# from outside the repository (CI runs this).
wheel-check: install $(BIN)/uv
	$(BIN)/python scripts/wheel_check.py

models: install
	$(BIN)/chatbot models

doctor: install
	$(BIN)/chatbot doctor

ingest: install
	$(BIN)/chatbot ingest --if-empty seeds

ui: install
	$(BIN)/chatbot ui --port $(PORT)

chat: models doctor ingest ui

lint: install-test check-lock
	$(BIN)/ruff check chatbot tests benchmarks scripts
	$(BIN)/mypy

test: install-test lint
	$(BIN)/pytest

eval: install
	$(BIN)/chatbot eval --json eval.json --html eval.html

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py

bench-latency: install
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .chatbot dist
