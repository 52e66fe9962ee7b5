# Kanal: `make run` (demo on the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test servers lint format bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(INSTALLED)
	$(BIN)/kanal demo

test: $(INSTALLED) servers lint
	$(BIN)/python -m pytest

# RabbitMQ and PostgreSQL from Debian's packages: the tests start private ones on loopback
servers:
	scripts/install-servers

lint: $(INSTALLED)
	$(BIN)/ruff check engine tests bench
	$(BIN)/ruff format --check engine tests bench
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format engine tests bench
	$(BIN)/ruff check --fix engine tests bench

bench: $(INSTALLED) servers
	$(BIN)/python bench/mllp_throughput.py
	$(BIN)/python bench/http_fhir.py
	$(BIN)/python bench/edifact_directory.py
	$(BIN)/python bench/mapping_throughput.py
	$(BIN)/python bench/medcom_throughput.py
	$(BIN)/python bench/scaleout.py
	$(BIN)/python bench/capacity.py
	$(BIN)/python bench/search.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
