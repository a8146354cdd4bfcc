# The two commands: `make run` (embedded demo) and `make test` (the whole suite on real servers).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SANDBOX_PORT ?= 8100
export DEBUG ?= true

.PHONY: install run test test-fast lint format bench check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# requirements-dev.txt includes requirements.txt (runtime) and adds the test, lint and `make run` packages.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed ## create .venv and install the pinned requirements (runtime + development)

run: install ## migrate SQLite, seed the demo, start sandbox + web + worker + beat
	$(BIN)/python manage.py migrate --noinput -v 0
	SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/python manage.py seed_demo --prepare-inventory
	@echo ""
	@echo "  Open http://127.0.0.1:$(PORT)/accounts/login/  (Ctrl-C stops everything)"
	@echo "  Staff sign-in codes: $(BIN)/python manage.py demo_code"
	@echo ""
	WEB_PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/honcho -f Procfile.dev start

test: install ## lint, then the whole suite against PostgreSQL, Redis and Chromium
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	# --reuse-db: the PostgreSQL cluster is new on every run and thrown away after it, so there is
	# nothing to reuse and nothing to drop (dropping races Playwright's greenlet-held connection).
	bash scripts/with-test-services.sh $(BIN)/python -m pytest --reuse-db $(PYTEST_ARGS)

test-fast: install ## the quick loop: SQLite, no servers, no browser
	$(BIN)/python -m pytest -m "not e2e and not redis" -p no:playwright -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DEBUG=false SECRET_KEY=lint-only-$$(printf 'x%.0s' {1..60}) \
	  FIELD_ENCRYPTION_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  ALLOWED_HOSTS=example.com REDIS_URL=redis://lint-only:6379/0 CELERY_BROKER_URL=redis://lint-only:6379/0 \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## benchmarks under bench/ print their figures
	$(BIN)/python bench/run.py

clean:
	rm -rf var staticfiles
