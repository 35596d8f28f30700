# classbench: `make demo` runs the offline demo end to end, `make test` runs the tests
# (`make test-fast`: all but the slow, Slurm and GPU ones), `make mutation` mutation-tests the
# modules that decide a number (slow; MODULES=... for some).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-fast mutation lint format clean-demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES) --profile profiles/local
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES) --profile profiles/local \
		--report results/report.html
	@echo "demo finished: results/ (summary, elo, tables, figures) and results/report.html"

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Everything but the slow (workflow runs, a real server), Slurm and GPU tests: minutes, not tens.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not slurm and not gpu"

# Not part of `make test` or CI: minutes per module. docs/testing.md records the scores.
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	$(BIN)/python tests/mutation.py $(MODULES)

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow/scripts bench
	$(BIN)/ruff format --check src tests workflow/scripts bench
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --configfile config/demo.yaml --lint
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests workflow/scripts bench
	$(BIN)/ruff check --fix src tests workflow/scripts bench
	$(BIN)/snakefmt Snakefile workflow/rules

clean-demo:
	rm -rf results resources logs benchmarks .snakemake
