"""Tests for flowtrace/flow/task.py and flowtrace/flow/_taskclass.py: the task API, the contract, Selinon's classes.

Everything here runs in this process; tests/integration/test_selinon_tasks.py
runs the same classes in a real worker.
"""

import inspect

import pytest
from celery import Celery

import flowtrace
from flowtrace.errors import NoParentNodeError, RequestError, RetryTask
from flowtrace.flow import _taskclass
from flowtrace.flow.load.check import check_paths
from flowtrace.flow.task import FlowTask, check_task_class

# Selinon is in the bench extra, which the lowest-versions run does not install.
selinon = pytest.importorskip("selinon")


class Pool:
    """A storage pool that answers retrieve() from a dict."""

    def __init__(self, results):
        self.results = results

    def retrieve(self, flow_name, task_name, task_id):
        return self.results[(flow_name, task_name, task_id)]

    def storage_name_of(self, task_name):
        return "Results" if task_name == "T" else None

    def get_connected_storage(self, name):
        return "adapter of " + name


class Mine(flowtrace.FlowTask):
    def run(self, node_args):
        return node_args


class Theirs(selinon.SelinonTask):
    def run(self, node_args):
        return node_args


PARENT = {"A": "a-1", "sub": {"B": ["b-1", "b-2"], "deeper": {"C": ["c-1"]}}}
RESULTS = {("f", "A", "a-1"): "result of A", ("sub", "B", "b-1"): "first B", ("sub", "B", "b-2"): "second B",
           ("deeper", "C", "c-1"): "C deep down"}


def make(cls, parent=PARENT, app=None):
    return _taskclass.construct(cls, "f", "T", parent, "t-1", "d-1", Pool(RESULTS), app)


@pytest.fixture(params=[Mine, Theirs], ids=["FlowTask", "SelinonTask"])
def task(request):
    return make(request.param)


class TestTaskApi:
    def test_attributes(self, task):
        """The attributes Selinon's tasks read are set from the constructor's five arguments."""
        assert ("f", "T", PARENT, "t-1", "d-1") == (task.flow_name, task.task_name, task.parent, task.task_id,
                                                    task.dispatcher_id)

    def test_results_and_storage(self, task):
        """parent_task_result, parent_flow_result (index None, 0, nested) and storage read flowtrace's pool."""
        assert ["result of A", "second B", "second B", "first B", "C deep down", "adapter of Results"] == [
            task.parent_task_result("A"), task.parent_flow_result("sub", "B"),
            task.parent_flow_result("sub", "B", index=None), task.parent_flow_result("sub", "B", 0),
            task.parent_flow_result(["sub", "deeper"], "C"), task.storage]

    def test_compound_parent(self):
        """A compound parent is read by the outer sub-flow's name and an index, with that name, as Selinon reads it."""
        compound = {"sub": {"B": ["b-1", "b-2"], "C": ["c-1"]}}
        results = {("sub", "B", "b-1"): "first B", ("sub", "B", "b-2"): "second B", ("sub", "C", "c-1"): "C"}
        for cls in (Mine, Theirs):
            task = _taskclass.construct(cls, "f", "T", compound, "t-1", "d-1", Pool(results), None)
            assert ["second B", "first B", "C"] == [task.parent_flow_result("sub", "B"),
                                                    task.parent_flow_result("sub", "B", 0),
                                                    task.parent_flow_result("sub", "C")]

    def test_no_such_parent(self, task):
        """Asking for a node that did not run raises NoParentNodeError, flowtrace's, whatever the base class."""
        for call in (lambda: task.parent_task_result("Z"), lambda: task.parent_flow_result("sub", "B", 2),
                     lambda: task.parent_flow_result("nope", "B"), lambda: task.parent_task_exception("Z")):
            with pytest.raises(NoParentNodeError):
                call()

    @pytest.mark.parametrize("cls", [Mine, Theirs, FlowTask, selinon.SelinonTask])
    def test_retry_takes_its_countdown_in_every_form(self, cls):
        """retry(5), retry(countdown=5) on an instance and on the class all ask for 5 s (the class form gave 0)."""
        instance = make(Mine if cls in (Mine, FlowTask) else Theirs)
        countdowns = []
        for call in (lambda: instance.retry(5), lambda: instance.retry(countdown=5), lambda: cls.retry(5)):
            with pytest.raises(Exception) as caught:
                call()
            countdowns.append(_taskclass.retry_countdown(caught.value))
        assert [5, 5, 5] == countdowns


class TestParentException:
    @pytest.fixture
    def app(self):
        app = Celery("exceptions", broker="memory://", backend="cache+memory://", set_as_current=False)
        app.backend.mark_as_failure("a-1", ValueError("no stock"))
        app.backend.mark_as_failure("b-2", KeyError("gone"))
        app.backend.mark_as_done("b-1", {"fine": True})
        yield app
        app.close()

    @pytest.mark.parametrize("cls", [Mine, Theirs], ids=["FlowTask", "SelinonTask"])
    def test_the_failed_parents_exception(self, app, cls):
        """parent_task_exception and parent_flow_exception return what the failed node raised, from the backend."""
        task = make(cls, app=app)
        found = [task.parent_task_exception("A"), task.parent_flow_exception("sub", "B"),
                 task.parent_flow_exception("sub", "B", index=None)]
        assert [(ValueError, ("no stock",)), (KeyError, ("gone",)), (KeyError, ("gone",))] == [
            (type(exc), exc.args) for exc in found]

    def test_a_parent_that_succeeded(self, app):
        """A parent that did not fail has no exception: RequestError, naming it."""
        with pytest.raises(RequestError) as caught:
            make(Mine, app=app).parent_flow_exception("sub", "B", 0)
        assert ("task 'B' of sub-flow sub did not fail (its state is SUCCESS), so it has no exception; ask for it "
                "from a fallback of the failed node") == str(caught.value)


class Plain:
    """Fits the contract without any base class."""

    def __init__(self, flow_name, task_name, parent, task_id, dispatcher_id):
        self.flow_name, self.task_name, self.parent = flow_name, task_name, parent

    def run(self, node_args):
        return self.parent_task_result("A")


class Static:
    def __init__(self, *args):
        pass

    @staticmethod
    def run(node_args):
        return node_args


class NoRun:
    def __init__(self, *args):
        pass


class WrongRun(flowtrace.FlowTask):
    def run(self):
        return None


class WrongInit(flowtrace.FlowTask):
    def __init__(self, flow_name):
        super().__init__(flow_name, "", None, "", "")

    def run(self, node_args):
        return None


class TestContract:
    @pytest.mark.parametrize("cls", [Mine, Theirs, Plain, Static])
    def test_classes_that_qualify(self, cls):
        """FlowTask and SelinonTask subclasses, and any class with the constructor and run(node_args), qualify."""
        assert [] == check_task_class(cls)

    def test_classes_that_do_not(self):
        """Each broken part is named: not a class, abstract, no or a wrong run(), a wrong constructor."""
        assert [
            ["is not a class but function"],
            ["is abstract: it does not implement run"],
            ["has no run(self, node_args) method"],
            ["has a run() that cannot be called as run(node_args): its signature is (self) (too many positional "
             "arguments)"],
            ["cannot be constructed as WrongInit(flow_name, task_name, parent, task_id, dispatcher_id), as the "
             "worker does: its signature is (flow_name) (too many positional arguments)"],
        ] == [check_task_class(cls) for cls in (make, selinon.SelinonTask,
                                                NoRun, WrongRun, WrongInit)]

    def test_flowtrace_check_reports_a_wrong_class_at_its_line(self, tmp_path):
        """flowtrace check names the task, the class and what is wrong with it, at the line of its classname."""
        path = tmp_path / "flows.yml"
        path.write_text("tasks:\n  - name: a\n    import: tests.flow.test_task\n    classname: WrongRun\n"
                        "  - {name: b, import: tests.flow.test_task, classname: Theirs}\n"
                        "flows: [main]\nflow-definitions:\n  - name: main\n    edges:\n"
                        "      - {from: [], to: a}\n      - {from: a, to: b}\n", encoding="utf-8")
        assert ["%s:4: task 'a': tests.flow.test_task.WrongRun has a run() that cannot be called as run(node_args): "
                "its signature is (self) (too many positional arguments)" % path] == [
            str(problem) for problem in check_paths(str(path)).problems]

    def test_a_plain_class_gets_the_api(self):
        """A class with no base gets flowtrace's task API for the names it lacks."""
        assert "result of A" == make(Plain).run(None)

    def test_selinon_machinery_is_replaced_but_the_users_own_methods_are_not(self):
        """Names inherited from selinon.SelinonTask are flowtrace's; a name the user's class defines stays its own."""
        class Own(selinon.SelinonTask):
            def run(self, node_args):
                return None

            def parent_task_result(self, parent_name):
                return "own"

        runnable = _taskclass.runnable(Own)
        assert (True, "own", "second B", Own, True) == (
            issubclass(runnable, Own), make(Own).parent_task_result("A"), make(Own).parent_flow_result("sub", "B"),
            _taskclass.runnable(Own).__mro__[1], runnable is _taskclass.runnable(Own))

    def test_fatal(self):
        """flowtrace's and Selinon's FatalTaskError are fatal; other exceptions are not."""
        assert [True, True, False] == [_taskclass.is_fatal(exc) for exc in (
            flowtrace.FatalTaskError("x"), selinon.FatalTaskError("x"), ValueError("x"))]

    def test_retry_exceptions(self):
        """RetryTask, flowtrace.Retry and selinon.Retry ask for their countdown; others for none."""
        assert [3, 4, 5, None] == [_taskclass.retry_countdown(exc) for exc in (
            RetryTask(3), flowtrace.Retry(4), selinon.Retry(5), ValueError("x"))]


#: The names of ``selinon`` that task and storage code imports. (``run_flow`` is not among them: flowtrace's
#: takes the Celery app first, where Selinon's reads a global configuration.)
SELINON_NAMES = ["SelinonTask", "FatalTaskError", "NoParentNodeError", "RequestError", "Retry", "FlowError",
                 "StorageError", "CacheMissError", "SelectiveNoPathError", "UnknownFlowError", "UnknownStorageError",
                 "ConfigurationError", "UnknownError", "DataStorage"]


def _parameters(obj):
    """The parameters of a callable but ``self``, as (name, kind, default): what a caller's arguments bind to."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values() if p.name != "self"]


def _same_calls(theirs, ours):
    """Whether every call Selinon's callable accepts binds to flowtrace's the same way.

    The parameters must be the same, in order, with the same kinds and
    defaults; flowtrace may add keyword-only parameters with defaults, which
    no call written for Selinon passes. A builtin ``Exception.__init__``
    (Selinon's exceptions keep it) takes any positional arguments.
    """
    mine = _parameters(ours)
    if theirs in (Exception.__init__, BaseException.__init__):
        return any(kind is inspect.Parameter.VAR_POSITIONAL for _, kind, _ in mine)
    extra = mine[len(_parameters(theirs)):]
    return (_parameters(theirs) == mine[:len(_parameters(theirs))]
            and all(kind is inspect.Parameter.KEYWORD_ONLY and default is not inspect.Parameter.empty
                    for _, kind, default in extra))


class TestSelinonNames:
    def test_every_name_exists(self):
        """Each name that Selinon 1.4 task and storage code imports from selinon is in flowtrace's __all__."""
        assert [] == [name for name in SELINON_NAMES if name not in flowtrace.__all__]

    @pytest.mark.parametrize("name", SELINON_NAMES)
    def test_same_signature(self, name):
        """The constructor, and each public method and property of Selinon's, take the same arguments in flowtrace."""
        theirs, ours = getattr(selinon, name), getattr(flowtrace, name)
        assert _same_calls(theirs.__init__, ours.__init__)
        example = ours if inspect.isabstract(ours) else ours(*["x"] * sum(1 for _, kind, default in _parameters(ours.__init__)
                                    if kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                                    and default is inspect.Parameter.empty))
        for method, value in vars(theirs).items():
            if method.startswith("_"):
                continue
            if isinstance(value, property):
                assert hasattr(example, method), method
            elif callable(value) or isinstance(value, staticmethod):
                assert _same_calls(getattr(theirs, method), getattr(ours, method)), method

    def test_the_comparison_can_fail(self):
        """A missing parameter, another default or a new positional parameter each break the comparison."""
        def selinons(a, b=None):
            pass

        assert [False, False, False, True] == [_same_calls(selinons, other) for other in (
            lambda a: None, lambda a, b=-1: None, lambda a, b=None, c=None: None, lambda a, b=None, *, c=1: None)]

    def test_selinon_task_is_flow_task(self):
        """flowtrace.SelinonTask is FlowTask itself."""
        assert FlowTask is flowtrace.SelinonTask

    def test_fatal_errors_are_kinds_of_exception_selinon_code_catches(self):
        """CacheMissError is a LookupError, UnknownFlowError a ValueError (what run_flow raised), Retry a RetryTask."""
        assert (True, True, True, True) == (
            issubclass(flowtrace.CacheMissError, LookupError), issubclass(flowtrace.UnknownFlowError, ValueError),
            issubclass(flowtrace.Retry, RetryTask), issubclass(flowtrace.FlowConfigError, flowtrace.ConfigurationError))
