# Two commands do all set-up on a machine with only python3:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch for the porting tests and the benchmark reference; override for another build.
TORCH ?= torch==2.13.0
# Quiets Material for MkDocs' notice about its successor on every docs build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: demo test test-all test-fast docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q '$(TORCH)'
	$(BIN)/pip install -q -e '.[test,demo,docs]'
	touch $@

$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[docs]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/stylejax demo -o demo-output --overwrite

# The documentation site into site/ (MkDocs Material + mkdocstrings); warnings are errors.
docs: $(VENV)/.docs
	$(BIN)/mkdocs build --strict -d site

test: $(VENV)/.test
	$(BIN)/ruff check stylejax tests benchmarks
	$(BIN)/mkdocs build --strict -d site  # the docs too: a broken link or API reference fails it
	$(BIN)/lint-imports  # the layers (pyproject.toml's importlinter contract)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25 -m "not heavy"  # both cores: compiling is single-threaded

# Everything, the heavy multi-process tests too (Ray fleets, SIGTERM, two-process jobs): about 16 minutes on 2 cores.
test-all: $(VENV)/.test  # with XLA's own code generation (tests/conftest.py picks faster-compiling flags)
	XLA_FLAGS=--xla_force_host_platform_device_count=4 $(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=25

# The inner loop: the suite without the slow tests (whole runs, jobs, Ray, video, benchmarks).
test-fast: $(VENV)/.test
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not slow"

bench: $(VENV)/.test
	cd benchmarks && ../$(BIN)/python speed.py && ../$(BIN)/python throughput.py

clean:
	rm -rf $(VENV) demo-output site
