# mdkit — every target sets up .venv first (Python >= 3.11 as `python3`, or PYTHON=...).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types bench bench-peers bench-peers-env sandbox docs format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m mdkit demo

# Three workers on two cores (pytest-xdist; many tests wait on sockets, measured best);
# tests/conftest.py groups tests per worker, slowest first. TEST_WORKERS=0 runs in one
# process; TEST_ARGS adds pytest options.
TEST_WORKERS ?= 3
TEST_ARGS ?=
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(TEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check mdkit tests bench
	$(BIN)/ruff format --check mdkit tests bench

types: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

docs: $(STAMP)
	$(BIN)/python docs/make_pictures.py

# Peers for bench/bench_peers.py: ccxt in the `bench` extra of .venv; cryptofeed 3.0.1
# (the Bitget v2 feed) needs Python >= 3.13, so it gets its own venv.
PEERS_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13)
PEERS_VENV := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

$(PEERS_STAMP):
	test -x $(PEERS_VENV)/bin/python || $(PEERS_PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet 'cryptofeed==3.0.1' picows websockets orjson
	touch $(PEERS_STAMP)

bench-peers-env: $(STAMP) $(PEERS_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'

bench-peers: bench-peers-env
	$(BIN)/python bench/bench_peers.py

sandbox: $(STAMP)
	$(BIN)/python -m mdkit sandbox

format: $(STAMP)
	$(BIN)/ruff format mdkit tests bench
	$(BIN)/ruff check --fix mdkit tests bench

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
