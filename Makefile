# Two entry points: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# pytest exits 5 when it collected nothing: that is a failure, there must be tests.
test: $(STAMP)
	$(BIN)/pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest ran no tests" >&2; exit 1; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check campaign_engine tests examples bench
	$(BIN)/ruff format --check campaign_engine tests examples bench

format: $(STAMP)
	$(BIN)/ruff format campaign_engine tests examples bench

clean:
	rm -rf $(VENV) var demo-run .pytest_cache
