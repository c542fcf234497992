# Two commands for a new user: `make demo` and `make test`.
# Both build a virtual environment under the repository first, so nothing
# depends on what happens to be installed on the machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# A pip constraints file for every install, e.g. constraints/lowest.txt (the
# lowest versions setup.cfg allows), as .ci/run does; empty for the newest.
CONSTRAINTS ?=
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# The extras the tests install; .ci/run's unit runs on other Pythons leave out bench.
DEV_EXTRAS ?= all,dev,bench
# Two stamps: the demo needs flowtrace alone, the tests the extras too.
DEMO_STAMP := $(VENV)/.installed-demo
DEV_STAMP  := $(VENV)/.installed-dev

.PHONY: demo demo-outcomes tour test test-unit typecheck docs bench bench-worker bench-flow bench-flow-dag clean venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): setup.cfg pyproject.toml | $(PY)
	$(PIP) -e .
	touch $@

$(DEV_STAMP): setup.cfg pyproject.toml | $(PY)
	$(PIP) -e '.[$(DEV_EXTRAS)]'
	touch $@ $(DEMO_STAMP)

venv: $(DEV_STAMP)

# A flow (foreach, sub-flows, conditions, a fallback) through a real worker.
demo: $(DEMO_STAMP)
	$(PY) -m flowtrace demo

# One task for each outcome a Celery task can have, through a real worker.
demo-outcomes: $(DEMO_STAMP)
	$(PY) -m flowtrace demo outcomes

tour: $(DEV_STAMP)
	$(PY) examples/sinks_tour/tour.py

# The whole suite, real workers included, then the type check and the docs.
test: $(DEV_STAMP)
	$(PY) -m pytest
	$(MAKE) typecheck docs

# Every test but those that start real Celery workers (marked integration).
test-unit: $(DEV_STAMP)
	$(PY) -m pytest -m "not integration"

typecheck: $(DEV_STAMP)
	$(PY) -m mypy

docs: $(DEV_STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(DEV_STAMP)
	$(PY) bench/trace_bench.py

# Needs Redis at redis://127.0.0.1:6379 (or pass BROKER=redis://host:port/db).
BROKER ?= redis://127.0.0.1:6379/5
bench-worker: $(DEV_STAMP)
	$(PY) bench/worker_bench.py --broker $(BROKER)

# The embedded broker always; Redis and RabbitMQ on localhost when they answer.
bench-flow: $(DEV_STAMP)
	$(PY) bench/flow_latency.py

# flowtrace, Selinon and Celery canvas running the same DAG; needs Redis, two databases
# (or pass FLOW_BROKER=redis://host:port/db FLOW_BACKEND=redis://host:port/other-db).
FLOW_BROKER  ?= redis://127.0.0.1:6379/8
FLOW_BACKEND ?= redis://127.0.0.1:6379/9
bench-flow-dag: $(DEV_STAMP)
	$(PY) bench/flow_bench.py --broker $(FLOW_BROKER) --backend $(FLOW_BACKEND)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache build dist *.egg-info
