# Two commands for a new user: `make demo` and `make test`.
# Both build a virtual environment under the repository first, so nothing
# depends on what happens to be installed on the machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo demo-outcomes tour test docs bench bench-worker bench-flow clean venv

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[all,dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

# A flow (foreach, sub-flows, conditions, a fallback) through a real worker.
demo: $(STAMP)
	$(PY) -m flowtrace demo

# One task for each outcome a Celery task can have, through a real worker.
demo-outcomes: $(STAMP)
	$(PY) -m flowtrace demo outcomes

tour: $(STAMP)
	$(PY) examples/sinks_tour/tour.py

test: $(STAMP)
	$(PY) -m pytest
	$(MAKE) docs

docs: $(STAMP)
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

bench: $(STAMP)
	$(PY) bench/trace_bench.py

# Needs Redis at redis://127.0.0.1:6379 (or pass BROKER=redis://host:port/db).
BROKER ?= redis://127.0.0.1:6379/5
bench-worker: $(STAMP)
	$(PY) bench/worker_bench.py --broker $(BROKER)

# The embedded broker always; Redis and RabbitMQ on localhost when they answer.
bench-flow: $(STAMP)
	$(PY) bench/flow_latency.py

# flowtrace, Selinon and Celery canvas running the same DAG; needs Redis, two databases
# (or pass FLOW_BROKER=redis://host:port/db FLOW_BACKEND=redis://host:port/other-db).
FLOW_BROKER  ?= redis://127.0.0.1:6379/8
FLOW_BACKEND ?= redis://127.0.0.1:6379/9
bench-flow-dag: $(STAMP)
	$(PY) bench/flow_bench.py --broker $(FLOW_BROKER) --backend $(FLOW_BACKEND)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache build *.egg-info
