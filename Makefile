# Two entry points: `make chat` (set up + run the app on the embedded models) and
# `make test` (set up with the test extras + run the whole suite, lint and type checks included).
PYTHON ?= python3.11
VENV ?= .venv
PORT ?= 8501
BIN := $(VENV)/bin

.PHONY: chat test install install-test lint models ingest ui eval bench-ingest bench-latency clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

models: install
	$(BIN)/chatbot models

ingest: install
	$(BIN)/chatbot ingest --if-empty seeds

ui: install
	$(BIN)/chatbot ui --port $(PORT)

chat: models ingest ui

lint: install-test
	$(BIN)/ruff check chatbot tests benchmarks
	$(BIN)/mypy

test: install-test lint
	$(BIN)/pytest

eval: install
	$(BIN)/chatbot eval prompts/eval/seed.yaml --json eval.json --html eval.html

bench-ingest: install
	$(BIN)/python benchmarks/ingest.py

bench-latency: install
	$(BIN)/python benchmarks/latency.py

clean:
	rm -rf $(VENV) .chatbot
