"""Tests for flowtrace/flow/model.py: the data model of a loaded configuration."""

import copy
import pickle
from pathlib import Path

import pytest

import flowtrace
from flowtrace.flow.model import FlowConfigError, Problem

DATA = Path(__file__).resolve().parent / "data"


class TestModel:
    def test_frozen(self):
        """Model objects and their mappings cannot be changed."""
        config = flowtrace.load_flows(str(DATA))
        with pytest.raises(AttributeError):
            config.tasks["refund"].max_retry = 5
        for change in (lambda: config.tasks.pop("refund"), lambda: config.flows.update({}),
                       lambda: config.storages["orders_db"].configuration.__setitem__("url", "x")):
            with pytest.raises(TypeError):
                change()

    def test_pickle_and_copy(self):
        """A configuration survives pickling and deep copying unchanged."""
        config = flowtrace.load_flows(str(DATA))
        assert (config, config) == (pickle.loads(pickle.dumps(config)), copy.deepcopy(config))

    def test_lookups(self):
        """node(), is_flow(), starting_edges, node_names() and iteration answer from the names."""
        config = flowtrace.load_flows(str(DATA))
        flow = config.flows["order_flow"]
        assert (config.tasks["refund"], config.flows["shipping_flow"]) == (config.node("refund"),
                                                                           config.node("shipping_flow"))
        assert (True, False) == (config.is_flow("shipping_flow"), config.is_flow("refund"))
        assert (flow.edges[:1], ("fetch_order", "check_stock", "audit", "charge_card", "shipping_flow", "send_email",
                                 "refund")) == (flow.starting_edges, flow.node_names())
        assert ["order_flow", "shipping_flow"] == [flow.name for flow in config]
        with pytest.raises(KeyError):
            config.node("nope")

    def test_propagates(self):
        """propagates() applies a propagate_* option that is true or lists the node."""
        config = flowtrace.load_flows(str(DATA))
        order, shipping = config.flows["order_flow"], config.flows["shipping_flow"]
        assert [True, False, False, True] == [order.propagates("parent", "shipping_flow"),
                                              order.propagates("parent", "refund"),
                                              order.propagates("node_args", "shipping_flow"),
                                              shipping.propagates("node_args", "anything")]
        with pytest.raises(ValueError):
            order.propagates("compound", "x")

    def test_loaded_classes(self):
        """Tasks, storages and foreach functions import what they name."""
        from tests.flow import sample

        config = flowtrace.load_flows(str(DATA))
        assert (sample.FetchOrder, sample.MemoryStorage, sample.each_parcel) == (
            config.tasks["fetch_order"].load_class(), config.storages["orders_db"].load_class(),
            config.flows["order_flow"].edges[3].foreach.load())

    def test_problem_text(self):
        """A Problem prints as file:line: message, and FlowConfigError lists them all."""
        problems = [Problem("a.yml", 3, "one"), Problem("b.yml", 1, "two")]
        assert ("a.yml:3: one", "2 errors in flow configuration\na.yml:3: one\nb.yml:1: two") == (
            str(problems[0]), str(FlowConfigError(problems)))
