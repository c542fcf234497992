"""Tests for flowtrace/flow/load: load_flows() on the sample files, and the problems it raises."""

from pathlib import Path

import pytest

import flowtrace
from flowtrace.flow.model import (
    ALWAYS_TRUE, And, Edge, Failure, Flow, FlowConfigError, Foreach, FrozenMap, Location, Not, Or, Predicate, Problem,
    Settings, Storage, Task,
)

DATA = Path(__file__).resolve().parent.parent / "data"
NODES = str(DATA / "nodes.yml")
ORDER = str(DATA / "flows" / "order.yml")
SHIPPING = str(DATA / "flows" / "shipping.yml")


def at(path, line):
    return Location(path, line)


class TestLoadSample:
    """load_flows() on tests/flow/data: nodes.yml and two flow definition files."""

    def test_tasks(self):
        """Every task key is read; the defaults fill the rest, queues from global."""
        config = flowtrace.load_flows(str(DATA))
        assert {
            "fetch_order": Task("fetch_order", "tests.flow.sample", "FetchOrder", max_retry=3, retry_countdown=10,
                                storage="orders_db", storage_task_name="fetch_order", queue="tasks",
                                location=at(NODES, 4)),
            "check_stock": Task("check_stock", "tests.flow.sample", "CheckStock", storage="orders_db",
                                storage_task_name="check_stock", queue="tasks", location=at(NODES, 11)),
            "charge_card": Task("charge_card", "tests.flow.sample", "ChargeCard", max_retry=2, retry_countdown=2.5,
                                storage="orders_db", storage_task_name="charge_card", queue="payments",
                                output_schema="schemas/charge.json", location=at(NODES, 16)),
            "refund": Task("refund", "tests.flow.sample", "Refund", storage_task_name="refund", queue="tasks",
                           location=at(NODES, 25)),
            "send_email": Task("send_email", "tests.flow.sample", "SendEmail", storage_task_name="send_email",
                               queue="tasks", location=at(NODES, 29)),
            "ship_item": Task("ship_item", "tests.flow.sample", "ShipItem", storage="orders_db",
                              storage_task_name="shipment", queue="tasks", location=at(NODES, 33)),
            "audit": Task("audit", "tests.flow.sample", "Audit", storage="orders_db", storage_readonly=True,
                          storage_task_name="audit", queue="tasks", location=at(NODES, 39)),
        } == config.tasks

    def test_storages_and_settings(self):
        """Storages and the global section are read, trace entries as plain data."""
        config = flowtrace.load_flows(str(DATA))
        assert {"orders_db": Storage("orders_db", "tests.flow.sample", "MemoryStorage",
                                     FrozenMap({"url": "memory://orders"}), at(NODES, 50))} == config.storages
        assert Settings(trace=({"logging": True},), predicates_module="tests.flow.sample", default_task_queue="tasks",
                        default_dispatcher_queue="dispatchers", location=at(NODES, 57)) == config.settings

    def test_order_flow(self):
        """Edges, conditions, foreach, failures, nowait and propagate options make one Flow."""
        config = flowtrace.load_flows(str(DATA))
        assert Flow(
            name="order_flow",
            edges=(
                Edge((), ("fetch_order",), ALWAYS_TRUE, None, at(ORDER, 6)),
                Edge(("fetch_order",), ("check_stock", "audit"),
                     Predicate("fieldEqual", "fetch_order", FrozenMap(key="status", value="new"), True, False,
                               at(ORDER, 11)),
                     None, at(ORDER, 8)),
                Edge(("check_stock", "fetch_order"), ("charge_card",),
                     And((Predicate("fieldExist", "check_stock", FrozenMap(key=["items", 0]), True, False,
                                    at(ORDER, 19)),
                          Not(Predicate("argsFieldExist", None, FrozenMap(key="dry_run"), False, True, at(ORDER, 23)),
                              at(ORDER, 22))),
                         at(ORDER, 18)),
                     None, at(ORDER, 15)),
                Edge(("charge_card",), ("shipping_flow",), ALWAYS_TRUE,
                     Foreach("tests.flow.sample", "each_parcel", True, at(ORDER, 28)), at(ORDER, 25)),
                Edge(("charge_card",), ("send_email",),
                     Or((Predicate("amountAbove", "charge_card", FrozenMap(limit=100), True, False, at(ORDER, 35)),
                         Predicate("isRush", None, FrozenMap(), False, True, at(ORDER, 37))),
                        at(ORDER, 34)),
                     None, at(ORDER, 31)),
            ),
            failures=(Failure(("charge_card",), ("refund",), False, at(ORDER, 39)),
                      Failure(("check_stock",), True, False, at(ORDER, 41))),
            nowait=("send_email",),
            max_retry=1,
            queue="orders",
            propagate_parent=("shipping_flow",),
            location=at(ORDER, 2),
        ) == config.flows["order_flow"]

    def test_shipping_flow_and_order(self):
        """Flows keep the order of the 'flows' listing; files are read sorted, sub-folders included."""
        config = flowtrace.load_flows(str(DATA))
        assert (["order_flow", "shipping_flow"], (ORDER, SHIPPING, NODES)) == (list(config.flows), config.files)
        assert Flow(
            name="shipping_flow",
            edges=(Edge((), ("ship_item",), ALWAYS_TRUE, None, at(SHIPPING, 5)),
                   Edge(("ship_item",), ("send_email",),
                        Predicate("fieldLenGreater", "ship_item", FrozenMap(key="labels", length=0), True, False,
                                  at(SHIPPING, 10)),
                        None, at(SHIPPING, 7))),
            queue="dispatchers",
            propagate_node_args=True,
            location=at(SHIPPING, 2),
        ) == config.flows["shipping_flow"]

    def test_files_in_any_order(self):
        """Files given one by one, in any order, load the same configuration."""
        by_folder = flowtrace.load_flows(str(DATA))
        by_files = flowtrace.load_flows(SHIPPING, NODES, ORDER)
        assert (by_folder.tasks, by_folder.flows, (SHIPPING, NODES, ORDER)) == (by_files.tasks, by_files.flows,
                                                                                 by_files.files)

    def test_no_path(self):
        """load_flows() needs a path."""
        with pytest.raises(ValueError):
            flowtrace.load_flows()


class TestLoadErrors:
    def test_raises_every_problem(self, tmp_path):
        """load_flows() raises FlowConfigError with every problem found."""
        path = tmp_path / "flows.yml"
        path.write_text("tasks:\n  - name: a\n    import: tests.flow.sample\n    clasname: Refund\nflows: []\n")
        with pytest.raises(FlowConfigError) as info:
            flowtrace.load_flows(str(path))
        assert [
            Problem(str(path), 3, "task 'a': module 'tests.flow.sample' has no 'a' (the task class: without a "
                                  "'classname', the name)"),
            Problem(str(path), 4, "task 'a': unknown key 'clasname'; did you mean 'classname'?"),
        ] == list(info.value.problems)


class TestLoadWarnings:
    TEXT = ("tasks:\n  - {name: a, import: tests.flow.sample, classname: Refund}\n"
            "  - {name: b, import: tests.flow.sample, classname: Refund}\n"
            "flows: [main]\nflow-definitions:\n  - {name: main, edges: [{from: , to: a}]}\n")

    def test_warns_and_loads(self, tmp_path):
        """A warning (here a task no flow uses) is issued as a FlowConfigWarning, and the configuration loads."""
        path = tmp_path / "flows.yml"
        path.write_text(self.TEXT)
        with pytest.warns(flowtrace.FlowConfigWarning) as caught:
            loaded = flowtrace.load_flows(str(path))
        assert (["a", "b"], ["%s:3: task 'b' is not used by any flow" % path],
                [Problem(str(path), 3, "task 'b' is not used by any flow")]) == (
            list(loaded.tasks), [str(one.message) for one in caught], [one.message.problem for one in caught])

    def test_strict(self, tmp_path):
        """strict=True makes the warning an error."""
        path = tmp_path / "flows.yml"
        path.write_text(self.TEXT)
        with pytest.raises(FlowConfigError) as info:
            flowtrace.load_flows(str(path), strict=True)
        assert [Problem(str(path), 3, "task 'b' is not used by any flow")] == list(info.value.problems)
