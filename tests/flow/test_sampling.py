"""Tests for flowtrace.flow._sampling and the dispatcher's countdown: the flow's strategy, asked safely."""

import sys
import types

import pytest

from flowtrace.flow import _sampling, strategies
from flowtrace.flow.dispatcher import Dispatcher
from flowtrace.flow.model import Edge, Flow, FrozenMap, Sampling


@pytest.fixture(autouse=True)
def fresh():
    _sampling.reset()
    yield
    _sampling.reset()


def sampling(name, import_path=None, **args):
    return Sampling(name, import_path, FrozenMap(args))


def status(**changes):
    base = {"previous_retry": None, "active_nodes": [{"name": "A", "id": "a1"}], "failed_nodes": {},
            "finished_nodes": {}, "new_started_nodes": [], "new_fallback_nodes": []}
    return lambda: dict(base, **changes)


class TestResolve:
    """Which function a ``sampling`` names."""

    def test_without_import(self):
        """Without ``import``, flowtrace's function of that name."""
        assert strategies.constant is _sampling.resolve(sampling("constant", retry=1))

    def test_selinon_installed(self):
        """``import: selinon.strategies`` with Selinon installed: Selinon's own function."""
        selinon_strategies = pytest.importorskip("selinon.strategies")
        assert selinon_strategies.constant is _sampling.resolve(sampling("constant", "selinon.strategies", retry=1))

    def test_selinon_missing(self, monkeypatch):
        """``import: selinon.strategies`` without Selinon: flowtrace's function of that name stands in."""
        monkeypatch.setitem(sys.modules, "selinon.strategies", None)  # makes the import fail
        assert (strategies.linear_adapt, True) == (
            _sampling.resolve(sampling("linear_adapt", "selinon.strategies")), _sampling.stands_in("selinon.strategies"))

    def test_user_module(self):
        """Any other ``import``: that module's function."""
        assert sampling_module.every_second is _sampling.resolve(sampling("every_second", __name__))


class TestAsk:
    """What the dispatcher gets from ``ask``: ``(ok, countdown)``."""

    @pytest.mark.parametrize("returned, expected", [
        (5, (True, 5)), (0, (True, 0)), (2.5, (True, 2.5)), (None, (True, None)), (-1, (True, None))])
    def test_answers(self, returned, expected, monkeypatch):
        """A number of 0 or more is the countdown; None or a negative number stops retrying, as in Selinon."""
        monkeypatch.setattr(sampling_module, "answer", returned)
        assert expected == _sampling.ask(sampling("answering", __name__), "f", status())

    def test_called_with_status_and_args(self):
        """The strategy gets the status dict and the YAML ``args`` as keywords."""
        seen = []
        sampling_module.seen = seen
        _sampling.ask(sampling("recording", __name__, x=1, y="two"), "f", status(previous_retry=4))
        assert [(status(previous_retry=4)(), {"x": 1, "y": "two"})] == seen

    @pytest.mark.parametrize("name", ["raising", "texting", "truthy", "missing_function"])
    def test_a_failing_strategy_gives_way(self, name, caplog):
        """A strategy that raises, returns a non-number or is missing: ``(False, None)``, counted and logged once."""
        first = _sampling.ask(sampling(name, __name__), "f", status())
        second = _sampling.ask(sampling(name, __name__), "f", status())
        logged = [r for r in caplog.records if "sampling strategy" in r.getMessage()]
        assert ((False, None), (False, None), 2, 1) == (first, second, _sampling.failures.count, len(logged))


class TestStatus:
    """The status dict: Selinon's keys, built from the wake-up's state."""

    def test_keys(self):
        """Active nodes are records with their AsyncResult; new ones only those still active."""
        built = _sampling.status(4, [["A", "a1"], ["B", "b1"], ["C", "c1"]], {"X": ["x1"]}, {"Z": ["z1"]},
                                 ["b1", "gone"], ["c1"], lambda node_id: "result of " + node_id)
        records = [{"name": n, "id": i, "result": "result of " + i} for n, i in (("A", "a1"), ("B", "b1"), ("C", "c1"))]
        assert {"previous_retry": 4, "active_nodes": records, "failed_nodes": {"X": ["x1"]},
                "finished_nodes": {"Z": ["z1"]}, "new_started_nodes": [records[1]],
                "new_fallback_nodes": [records[2]]} == built


def dispatcher(countdown_setting=(2.0, 60.0)):
    app = types.SimpleNamespace(conf={"flowtrace_dispatcher_countdown": countdown_setting},
                                AsyncResult=lambda node_id: node_id)
    fake = types.SimpleNamespace(app=app)
    fake._backoff = lambda info, changed: Dispatcher._backoff(fake, info, changed)
    return fake


def wakeup(active=(("A", "a1"),), started=(), changed=True):
    state = types.SimpleNamespace(active={i: [n, i] for n, i in active}, failed={}, finished={"S": ["s1"]})
    return types.SimpleNamespace(state=state, started=list(started), fallback_started=[], changed=changed)


def flow(sampling_=None):
    return Flow("f", (Edge((), ("A",)),), sampling=sampling_)


class TestDispatcherCountdown:
    """Dispatcher._countdown(): the strategy's countdown, or the dispatcher's own."""

    @pytest.mark.parametrize("previous, changed, expected", [(None, False, 2.0), (2.0, True, 2.0), (2.0, False, 4.0),
                                                              (40.0, False, 60.0)])
    def test_without_sampling(self, previous, changed, expected):
        """No ``sampling``: 2 s after a change, doubled after each wake-up without one, up to 60 s."""
        assert expected == Dispatcher._countdown(dispatcher(), {"retry": previous}, flow(), wakeup(changed=changed))

    @pytest.mark.parametrize("previous, started, expected", [(None, ["a1"], 3), (3, ["a1"], 6), (3, [], 3),
                                                              (64, ["a1"], 100)])
    def test_with_sampling(self, previous, started, expected):
        """With ``sampling``: the strategy's answer, from the previous countdown and the nodes started."""
        chosen = sampling("biexponential_increase", start_retry=3, max_retry=100)
        assert expected == Dispatcher._countdown(dispatcher(), {"retry": previous}, flow(chosen),
                                                 wakeup(started=started))

    def test_strategy_stops(self):
        """A strategy that returns None: None, and the flow ends."""
        assert None is Dispatcher._countdown(dispatcher(), {"retry": 2}, flow(sampling("answering", __name__)),
                                             wakeup())

    def test_failing_strategy(self):
        """A strategy that raises: the dispatcher's own countdown."""
        assert 4.0 == Dispatcher._countdown(dispatcher(), {"retry": 2.0}, flow(sampling("raising", __name__)),
                                            wakeup(changed=False))


# The user's strategies of these tests: this module stands for a user's ``import``.
sampling_module = sys.modules[__name__]
answer = None
seen: list = []


def every_second(status):
    return 1


def answering(status):
    return answer


def recording(status, **args):
    seen.append((status, args))
    return 1


def raising(status):
    raise RuntimeError("strategy bug")


def texting(status):
    return "soon"


def truthy(status):
    return True


YAML = """
tasks:
  - {name: A, import: tests.flow.sample, classname: FetchOrder}
flows: [f]
flow-definitions:
  - name: f
    sampling: {name: linear_adapt, import: selinon.strategies, args: {start_retry: 1, max_retry: 9, step: 2}}
    edges: [{from: , to: A}]
"""


class TestLoad:
    """The YAML of a Selinon project that names ``selinon.strategies`` loads with or without Selinon."""

    @pytest.mark.parametrize("installed", [True, False])
    def test_selinon_strategies(self, installed, tmp_path, monkeypatch):
        """The flow's sampling keeps Selinon's module name, and resolves to a function of that name."""
        import flowtrace

        if not installed:
            monkeypatch.setitem(sys.modules, "selinon.strategies", None)
        path = tmp_path / "f.yml"
        path.write_text(YAML)
        chosen = flowtrace.load_flows(str(path)).flows["f"].sampling
        expected = strategies.linear_adapt if not installed else pytest.importorskip("selinon.strategies").linear_adapt
        assert (("linear_adapt", "selinon.strategies", {"start_retry": 1, "max_retry": 9, "step": 2}), expected) == (
            (chosen.name, chosen.import_path, dict(chosen.args)), _sampling.resolve(chosen))
