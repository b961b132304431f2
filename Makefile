# Set-up contract: a fresh machine with Python 3.11 needs nothing but `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build first: any later requirement on torch is then already satisfied.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,lightning,hf]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/traindoctor run examples/broken_no_zero_grad.py || true

test: $(STAMP)
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python -m traindoctor.docs_gen > docs/codes.md
	$(BIN)/python -m traindoctor.lint.docs > docs/rules.md

bench: $(STAMP)
	$(BIN)/python bench/run_overhead.py
	$(BIN)/python bench/monitor_overhead.py --self-time
	$(BIN)/python bench/lint_speed.py
	$(BIN)/python bench/curves_speed.py
	$(BIN)/python bench/curves_validation.py

clean:
	rm -rf $(VENV) build src/*.egg-info
