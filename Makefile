# The two commands a new user needs: `make demo` (the main job, on local files) and `make test`.
# Both create .venv and install hashwall into it first, so they work on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT := out

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed-dev

# The survivor's install: hashing and matching only, no server or ML packages.
$(VENV)/.installed-base: pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "hashwall needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# Everything: service, likeness, browser tests and the developer tools.
$(VENV)/.installed-dev: $(VENV)/.installed-base
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Fingerprint the "known" sample media, then check the "uploads" against that hash list.
demo: $(VENV)/.installed-base
	@mkdir -p $(OUT)
	$(BIN)/hashwall hash samples/known --output $(OUT)/known.jsonl
	@echo "--- hashes of samples/known written to $(OUT)/known.jsonl; now matching samples/uploads:"
	$(BIN)/hashwall match --against $(OUT)/known.jsonl samples/uploads

test: install
	$(BIN)/pytest -n auto

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

bench: install
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/hash_bench.py
	$(BIN)/python benchmarks/robustness_bench.py
	$(BIN)/python benchmarks/index_bench.py
	$(BIN)/python benchmarks/likeness_bench.py
	$(BIN)/python benchmarks/service_bench.py
	$(BIN)/python benchmarks/scan_bench.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info src/*.egg-info
