"""Tests for flowtrace/flow/_runner.py's output_schema check: a result that does not match fails the node for good.

The task runs in this process (``Task.apply``): what is checked here is the
check itself, not anything that crosses a process.
"""

import json

import pytest
from celery import Celery

import flowtrace
from flowtrace.flow import _runner

CALLS = []


class Charge(flowtrace.FlowTask):
    """Returns what node_args say it should."""

    def run(self, node_args):
        CALLS.append(node_args)
        return node_args["result"]


SCHEMA = {"type": "object", "required": ["amount"],
          "properties": {"amount": {"type": "integer", "minimum": 0}, "card": {"type": "string"}}}


@pytest.fixture
def app(tmp_path):
    CALLS.clear()
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (tmp_path / "flows.yml").write_text("""
tasks:
  - {name: Charge, import: tests.flow.test_runner, storage: Results, max_retry: 2,
     output_schema: "%s"}
storages:
  - {name: Results, import: flowtrace.storages.memory, classname: InMemoryStorage}
flows: [pay]
flow-definitions:
  - name: pay
    edges:
      - {from: [], to: Charge}
""" % (tmp_path / "schema.json"), encoding="utf-8")
    app = Celery("runner", broker="memory://", backend="cache+memory://", set_as_current=False)
    flowtrace.load_flows(str(tmp_path / "flows.yml"), app=app)
    yield app
    flowtrace.uninstrument(app)
    app.close()


def run(app, result):
    return app.tasks["Charge"].apply(kwargs={"flow_name": "pay", "node_args": {"result": result},
                                             "dispatcher_id": "d-1", "parent": {}}, task_id="t-1")


class TestOutputSchema:
    def test_a_matching_result_passes(self, app):
        """A result that matches the schema ends the node in SUCCESS, run once."""
        outcome = run(app, {"amount": 12, "card": "visa"})
        assert ("SUCCESS", 1) == (outcome.state, len(CALLS))

    def test_a_mismatch_fails_without_retries(self, app):
        """A result that breaks the schema fails the node at once, though max_retry allows two more tries."""
        outcome = run(app, {"amount": "12 EUR", "card": "4111-1111-1111-1111"})
        assert ("FAILURE", "FatalTaskError", 1) == (outcome.state, type(outcome.result).__name__, len(CALLS))
        assert ("task 'Charge': its result does not match %s (1 problem); first at amount: 'type' must be \"integer\""
                % app.tasks["Charge"].flow_task.output_schema) == str(outcome.result)

    def test_the_message_never_shows_result_values(self, app):
        """The error names paths and schema keywords only; the values found (a card number here) stay out."""
        outcome = run(app, {"amount": -1, "card": 4111111111111111})
        # The schema's path is left out: a temporary folder's name may hold "-1".
        message = str(outcome.result).replace(str(app.tasks["Charge"].flow_task.output_schema), "<schema>")
        assert ("2 problems", False, False) == (
            message.split("(")[1].split(")")[0], "4111111111111111" in message, "-1" in message)

    def test_the_result_itself_may_be_wrong(self, app):
        """A result of the wrong type is reported at the result itself."""
        outcome = run(app, ["not", "an", "object"])
        assert str(outcome.result).endswith("first at the result itself: 'type' must be \"object\"")

    def test_an_unreadable_schema_fails_the_node(self, app, tmp_path):
        """A schema file that is not JSON fails the node with the file named, without retries."""
        (tmp_path / "schema.json").write_text("{not json", encoding="utf-8")
        _runner._validators.clear()
        outcome = run(app, {"amount": 1})
        assert ("FAILURE", 1, True) == (outcome.state, len(CALLS),
                                        str(outcome.result).startswith("output_schema %s is not JSON: " % (
                                            tmp_path / "schema.json")))

    def test_an_invalid_schema_fails_the_node(self, app, tmp_path):
        """A JSON document that is not a valid schema fails the node, naming what is wrong with it."""
        (tmp_path / "schema.json").write_text(json.dumps({"type": "integerish"}), encoding="utf-8")
        _runner._validators.clear()
        outcome = run(app, {"amount": 1})
        assert ("FAILURE", True) == (outcome.state, str(outcome.result).startswith(
            "output_schema %s is not a valid JSON schema: " % (tmp_path / "schema.json")))
