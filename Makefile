# The README's commands. Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FLASK := $(BIN)/flask --app app

.PHONY: run test scale bench lint setup db demo lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the dependency list or the pins change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

db: setup
	$(FLASK) db upgrade

demo: db
	$(FLASK) demo-data

## make run: set up, migrate, load demo data and serve on http://127.0.0.1:5000, with the
## escrow bank simulator on :5055 (stopped with the server) and the sample shop at /sample-shop/
## (its ReturnURL is http on loopback, which only this debug server may post notices to)
run: demo
	@echo "範例商店（以測試卡付款）: http://127.0.0.1:5000/sample-shop/"
	@$(BIN)/python -m app.escrow.simulator --port 5055 --state instance/bank.json \
	  > instance/bank-simulator.log 2>&1 & sim=$$!; trap 'kill $$sim 2>/dev/null' EXIT INT TERM; \
	ESCROW_BANK_URL=http://127.0.0.1:5055 ECTIX_DEMO_SHOP=1 ECTIX_NOTICE_ALLOW_LOOPBACK=1 \
	  $(FLASK) run --debug --host 127.0.0.1 --port 5000

## make test: set up and run the whole suite
test: setup
	$(BIN)/ruff check app demodata tests bench worker.py
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make scale: the scale harness (tests/scale) at full size: two gunicorn hosts and two workers
## with their schedulers on one PostgreSQL and Redis (ECTIX_TEST_PG_URL, ECTIX_TEST_REDIS_URL),
## killed workers resumed on the real clock (about 8 minutes); its figures are printed at the
## end. `make test` runs the same tests bounded.
scale: setup
	ECTIX_SCALE_FULL=1 ECTIX_REQUIRE_SERVICES=1 $(BIN)/python -m pytest tests/scale $(PYTEST_ARGS)

## make bench: benchmarks on PostgreSQL and Redis; figures go to bench/results/. The redemption
## benchmark drives HTTP with wrk and counts instructions with valgrind (Debian's packages),
## installed here when missing.
bench: setup
	@{ command -v wrk && command -v valgrind; } >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing wrk and valgrind"; export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq wrk valgrind >/dev/null; \
	  else \
	    echo "make bench needs wrk and valgrind: run 'sudo apt-get install wrk valgrind' (or make bench as root)" >&2; exit 1; \
	  fi; }
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: setup
	$(BIN)/ruff check app demodata tests bench worker.py

## Refresh constraints.txt from a clean resolve of pyproject.toml.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet --upgrade pip
	.lockvenv/bin/pip install --quiet '.[dev]'
	.lockvenv/bin/pip freeze --exclude ectix > constraints.txt
	rm -rf .lockvenv build *.egg-info

clean:
	rm -rf $(VENV) instance/*.sqlite3
