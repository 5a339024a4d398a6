# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sample clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## run: prepare perfbot.db with the sample council (if empty) and start the bot server
run: $(STAMP)
	$(BIN)/perfbot db upgrade
	$(BIN)/perfbot sample load --if-empty
	$(BIN)/perfbot serve

## test: the whole suite (PostgreSQL tests run when PERFBOT_TEST_POSTGRES_URL is set)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff and mypy (installed on first use)
lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

## bench: run every benchmark in bench/
bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## sample: regenerate sample/council from sample/generate.py
sample: $(STAMP)
	$(BIN)/python -m sample.generate

clean:
	rm -rf $(VENV) perfbot.db *.egg-info
