# dbarena: `make bench` and `make test` are all a fresh machine needs (Python 3.11+).
VENV     ?= .venv
PYTHON   ?= python3
DBARENA  := $(VENV)/bin/dbarena
PY       := $(VENV)/bin/python

# bench knobs: make bench ENGINE=redis WORKLOAD=kv-cache DURATION=30s USERS=16 RATE=2000 PROCESSES=2
ENGINE    ?=
WORKLOAD  ?=
PRESET    ?=
SUITE     ?=
DURATION  ?=
WARMUP    ?=
USERS     ?=
RATE      ?=
PROCESSES ?=
SCALE     ?=
PROVISION ?= auto
URL       ?=

BENCH_ARGS = $(if $(SUITE),--suite $(SUITE)) $(if $(ENGINE),--engine $(ENGINE)) \
	$(if $(WORKLOAD),--workload $(WORKLOAD)) $(if $(PRESET),--preset $(PRESET)) \
	$(if $(DURATION),--duration $(DURATION)) $(if $(WARMUP),--warmup $(WARMUP)) \
	$(if $(USERS),--users $(USERS)) $(if $(RATE),--rate $(RATE)) \
	$(if $(PROCESSES),--processes $(PROCESSES)) $(if $(SCALE),--scale $(SCALE)) \
	--provision $(PROVISION) $(if $(URL),--url $(URL))

.PHONY: setup bench test test-unit lint engines-up engines-down engines-status bench-overhead bench-bulkload bench-pacing bench-tpcb validate clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

bench: setup
	$(DBARENA) bench $(BENCH_ARGS)

test: setup
	$(PY) -m pytest -p no:cacheprovider

test-unit: setup
	$(PY) -m pytest -p no:cacheprovider -m "not engine"

lint: setup
	$(VENV)/bin/ruff check harness tests benchmarks
	$(VENV)/bin/mypy

validate: setup
	$(DBARENA) validate workloads benchmarks

engines-up: setup
	$(DBARENA) engines up $(ENGINE)

engines-down: setup
	$(DBARENA) engines down $(ENGINE)

engines-status: setup
	$(DBARENA) engines status

bench-overhead: setup
	$(PY) benchmarks/overhead.py

bench-bulkload: setup
	$(PY) benchmarks/bulkload.py

bench-pacing: setup
	$(PY) benchmarks/pacing.py

bench-tpcb: setup
	$(PY) benchmarks/tpcb.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
