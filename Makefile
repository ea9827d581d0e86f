# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test lint format typecheck bench clean

help:
	@echo "make run        start the whole local stack (broker, enrollment :8001, settlement :8002)"
	@echo "make test       lint + mypy on the pure core + the whole test suite (SQLite, PostgreSQL)"
	@echo "make bench      benchmarks (ratios against a baseline in the same run)"
	@echo "make lint       ruff check + format check; make format to fix"
	@echo "make typecheck  mypy on the pure core"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.devstack

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The pure core: no database, web or broker inside, so strict typing is cheap and catches much.
PURE_CORE := shared/events.py shared/trusted.py shared/money.py shared/certno.py shared/errors.py shared/staff_tokens.py \
	shared/china_time.py shared/text.py \
	shared/console/svg.py shared/console/params.py shared/console/labels.py \
	services/settlement/engine services/settlement/domain services/enrollment/domain

typecheck: $(STAMP)
	$(BIN)/mypy $(PURE_CORE)

test: lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
