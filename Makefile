# Interforces — developer entry points. Only Python 3.11 and make are needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lock test lint typecheck unit schemas demo up bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## Create the virtual environment from the lock file

lock: ## Re-pin every dependency (needs uv on PATH)
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --output-file requirements.lock

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit ## Lint, type-check (mypy --strict) and run every test

schemas: $(STAMP) ## Regenerate the checked-in JSON Schemas from the models
	$(BIN)/interforces schemas write

demo: $(STAMP) ## Run the whole system on a festival evening and print its summary
	$(BIN)/interforces demo

up: $(STAMP) ## Start the servers and the seven services until Ctrl-C
	$(BIN)/interforces up

bench: $(STAMP)
	$(BIN)/interforces bench perimeter --json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis var
