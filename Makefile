# ccpdash: `make run` starts the whole system, `make test` runs the whole suite.
# Both create .venv/ and install requirements.txt when they are missing or changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test install lint clean

install: $(STAMP)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "ccpdash needs Python 3.11 or newer (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

DEMO_TRAFFIC ?= 1

run: $(STAMP)
	DEMO_TRAFFIC=$(DEMO_TRAFFIC) $(PY) -m ccpdash.devserver run

test: $(STAMP)
	$(PY) -m ccpdash.devserver test $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/ staticfiles/ .pytest_cache
