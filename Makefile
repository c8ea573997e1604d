# The two commands a newcomer needs: `make run` (the demo) and `make test` (the suite).
# Both work on a bare machine with Python 3.11; DATABASE_URL / REDIS_URL switch to
# PostgreSQL and Redis.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)

.PHONY: install run test bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo: SQLite and the filesystem broker under var/ unless DATABASE_URL / REDIS_URL say
# otherwise; web, worker and beat side by side; Ctrl-C stops all three.
run: export DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "Tessera is starting: admin at http://127.0.0.1:8000/admin/ (Ctrl-C stops web, worker and beat)"
	@echo
	$(BIN)/honcho -f Procfile.dev start

# Two processes (pytest-xdist). Tests are handed out one by one in collection order, so each
# process still runs pytest-django's transactional tests (which flush the tables) after its
# others, as one process does. Each has its own test database, Redis db and var/
# (config/settings_test.py). TEST_PROCESSES=0 runs the suite in this one process.
TEST_PROCESSES ?= 2
test: install
	$(BIN)/python -m pytest $(if $(filter-out 0,$(TEST_PROCESSES)),-n $(TEST_PROCESSES) --dist load)

# The benches need PostgreSQL and Redis (DATABASE_URL, REDIS_URL); each makes its own database.
bench: install
	cd bench && $(BIN)/python engine.py --subscribers 2000
	cd bench && $(BIN)/python drip.py
	cd bench && $(BIN)/python segment.py
	cd bench && $(BIN)/python member_pages.py
	cd bench && $(BIN)/python launch.py
	cd bench && $(BIN)/python launch.py --closed-loop
	cd bench && $(BIN)/python launch.py --purchases 100 --opt-in-password

# Style, formatting, the layering contract (pyproject's [tool.importlinter]) and the type
# checker (pyproject's [tool.mypy]: apps/core and every app's services).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/broker var/tessera.sqlite3* var/test.sqlite3*
