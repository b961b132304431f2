# Set-up contract: a fresh machine with Python 3.11 needs nothing but `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test browser docs bench accuracy data-accuracy clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build first: any later requirement on torch is then already satisfied.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,lightning,hf]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/traindoctor run examples/broken_no_zero_grad.py || true

# One worker per core (CI has 2); a file's tests stay on one worker, which keeps its cached runs.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The HTML report is tested in a real headless Chromium: Debian's package, installed when missing.
# Without it the browser tests are skipped (CI sets TRAINDOCTOR_REQUIRE_BROWSER=1: they fail instead).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } \
		|| echo "could not install chromium; the browser tests will be skipped"

docs: $(STAMP)
	$(BIN)/python -m traindoctor.docs_gen > docs/codes.md
	$(BIN)/python -m traindoctor.lint.docs > docs/rules.md
	$(BIN)/python -m traindoctor.judge.docs > docs/thresholds.md

bench: $(STAMP)
	$(BIN)/python bench/run_overhead.py
	$(BIN)/python bench/monitor_overhead.py --self-time
	$(BIN)/python bench/lint_speed.py
	$(BIN)/python bench/curves_speed.py
	$(BIN)/python bench/curves_validation.py

# The diagnosis benchmark (bench/diagnosis): every case under `traindoctor run`, scored per split and category.
accuracy: $(STAMP)
	$(BIN)/python bench/diagnosis/score.py

# The data benchmark (bench/data): planted data faults and healthy look-alikes under `traindoctor data`.
data-accuracy: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python bench/data/score.py

clean:
	rm -rf $(VENV) build src/*.egg-info
