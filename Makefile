# `make run` starts the whole stack on embedded defaults; `make test` runs every test.
# Both create .venv and install requirements-dev.txt (production's requirements.txt plus tests
# and tools, every package pinned with its hashes) on first use.

PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3 2>/dev/null || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean requirements messages

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=/path/to/python3.12")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/devstack.py run

test: $(STAMP)
	$(BIN)/python scripts/devstack.py test $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_sizes.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	BENCH_SMOKE=$(BENCH_SMOKE) $(BIN)/python bench/run_all.py

# After editing requirements.in or requirements-dev.in: pin every package again, with hashes.
requirements: $(STAMP)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links -o requirements-dev.txt requirements-dev.in

# After adding or changing a translatable string: bring the Arabic catalogue up to date, then
# translate what is new and compile it (GNU gettext needed; the .mo is committed).
messages: $(STAMP)
	$(BIN)/python manage.py makemessages -l ar --no-location --ignore=.venv --ignore=tests --ignore=bench
	$(BIN)/python manage.py compilemessages -l ar --ignore=.venv

clean:
	rm -rf $(VENV) .run staticfiles test-db.sqlite3
