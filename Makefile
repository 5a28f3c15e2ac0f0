# `make demo` and `make test` do all the set-up a fresh Debian 12 machine needs.
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_PKGS := ffmpeg
TEST_PKGS := ffmpeg slurmctld slurmd slurm-client munge chromium
PYTEST_ARGS ?=

.PHONY: setup system-deps test-deps demo test lint bench clean

system-deps:
	bash scripts/apt_install.sh $(RUNTIME_PKGS)

test-deps:
	bash scripts/apt_install.sh $(TEST_PKGS)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[all]'
	touch $@

setup: system-deps $(VENV)/.installed

demo: setup
	$(PY) -m curation.demo

test: test-deps $(VENV)/.installed
	$(VENV)/bin/ruff check curation subsamplers distributors tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check curation subsamplers distributors tests bench

bench: setup
	$(PY) bench/run_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-output .demo bench/work
