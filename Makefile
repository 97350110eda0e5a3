# Two commands do all set-up on a machine with only python3:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A CPU build of PyTorch for the porting tests and the benchmark reference; override for another build.
TORCH ?= torch==2.13.0

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q '$(TORCH)'
	$(BIN)/pip install -q -e '.[test,demo]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/stylejax demo -o demo-output --overwrite

test: $(VENV)/.test
	$(BIN)/ruff check stylejax tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup  # both cores: compiling is single-threaded

bench: $(VENV)/.test
	cd benchmarks && ../$(BIN)/python speed.py && ../$(BIN)/python throughput.py

clean:
	rm -rf $(VENV) demo-output
