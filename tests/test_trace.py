"""Tests for flowtrace/trace.py: constants, Trace.log, the registry, filters and fault isolation."""

import logging
import threading

import pytest

from flowtrace import Trace, events
from flowtrace.testing import capture_events

# The seed table (Selinon's selinon.trace page): these values never change.
SEED_VALUES = {
    "DISPATCHER_WAKEUP": 0, "FLOW_START": 1, "TASK_SCHEDULE": 2, "TASK_START": 3, "SUBFLOW_SCHEDULE": 4,
    "TASK_END": 5, "NODE_SUCCESSFUL": 6, "TASK_DISCARD_RESULT": 7, "TASK_FAILURE": 8, "TASK_RETRY": 9,
    "FLOW_FAILURE": 10, "DISPATCHER_FAILURE": 11, "NODE_FAILURE": 12, "FALLBACK_START": 13,
    "DISPATCHER_RETRY": 14, "FLOW_END": 15, "STORAGE_CONNECT": 16, "STORAGE_DISCONNECT": 17,
    "STORAGE_RETRIEVE": 18, "STORAGE_RETRIEVED": 19, "STORAGE_STORE": 20, "STORAGE_STORED": 21,
    "EDGE_COND_FALSE": 22, "FOREACH_RESULT": 23, "NODE_STATE_CACHE_GET": 24, "NODE_STATE_CACHE_ADD": 25,
    "NODE_STATE_CACHE_MISS": 26, "NODE_STATE_CACHE_HIT": 27, "TASK_RESULT_CACHE_GET": 28,
    "TASK_RESULT_CACHE_ADD": 29, "TASK_RESULT_CACHE_MISS": 30, "TASK_RESULT_CACHE_HIT": 31,
    "SELECTIVE_OMIT_EDGE": 32, "SELECTIVE_OMIT_NODE": 33, "SELECTIVE_RUN_FUNC": 34,
    "SELECTIVE_TASK_REUSE": 35, "STORAGE_STORE_ERROR": 36, "STORAGE_OMIT_STORE_ERROR": 37,
    "FALLBACK_COND_FALSE": 38, "FALLBACK_COND_TRUE": 39, "NODE_STATE_CACHE_ISSUE": 40,
    "TASK_RESULT_CACHE_ISSUE": 41, "STORAGE_ISSUE": 42, "RESULT_BACKEND_ISSUE": 43, "FLOW_RETRY": 44,
    "MIGRATION": 45, "MIGRATION_SKEW": 46, "MIGRATION_TAINTED_FLOW": 47, "MIGRATION_ERROR": 48,
    "EAGER_FAILURE": 49,
}
SEED_WARN_EVENTS = (12, 7, 9, 8, 10, 37, 40, 41, 42, 43, 44, 46, 48, 49)


class TestConstants:
    def test_seed_values_are_unchanged(self):
        """Every one of the seed's 50 constants has exactly the seed's value on Trace."""
        assert SEED_VALUES == {name: getattr(Trace, name) for name in SEED_VALUES}

    def test_selinon_additions_follow_the_seed(self):
        """FLOW_SCHEDULE, STORAGE_DELETE and STORAGE_DELETED are numbered from 50 upward."""
        assert (50, 51, 52) == (Trace.FLOW_SCHEDULE, Trace.STORAGE_DELETE, Trace.STORAGE_DELETED)

    def test_every_catalogue_row_is_a_constant(self):
        """Trace has a constant for every catalogue row, and event2str maps it back."""
        assert [(row.name, row.value) for row in events.EVENTS] == [
            (Trace.event2str(row.value), getattr(Trace, row.name)) for row in events.EVENTS
        ]

    def test_values_are_dense_and_unique(self):
        """Catalogue values run 0..N-1 without gaps, so appending is the only way to add one."""
        assert list(range(len(events.EVENTS))) == [row.value for row in events.EVENTS]

    def test_warn_events_begin_with_the_seed_tuple(self):
        """WARN_EVENTS starts with Selinon's tuple, in its order."""
        assert SEED_WARN_EVENTS == Trace.WARN_EVENTS[:len(SEED_WARN_EVENTS)]

    def test_warn_events_are_exactly_the_warning_level(self):
        """WARN_EVENTS holds every event at warning level and nothing else."""
        assert sorted(Trace.WARN_EVENTS) == sorted(r.value for r in events.EVENTS if r.level == events.WARNING)

    def test_dispatcher_failure_is_the_error(self):
        """DISPATCHER_FAILURE is at error level, as Selinon logs it."""
        assert "error" == Trace.level_of(Trace.DISPATCHER_FAILURE)

    @pytest.mark.parametrize("bad", [-1, 10_000, "TASK_START", None, 3.0j])
    def test_event2str_rejects_unknown_values(self, bad):
        """An unknown event value raises ValueError naming it."""
        with pytest.raises(ValueError) as info:
            Trace.event2str(bad)
        assert "unknown flowtrace event %r" % (bad,) == str(info.value)

    def test_trace_is_not_instantiated(self):
        """Trace is used through the class; making an instance is an error."""
        with pytest.raises(TypeError):
            Trace()


class TestLog:
    def test_no_sink_accepts_anything_and_is_disabled(self):
        """With no sink, Trace.log takes any arguments without touching them, and Trace.enabled is False."""
        mine = {"password": "p"}
        Trace.log(Trace.TASK_START, mine, {"b": 2}, c=3)
        Trace.log(12345, object(), key=object())
        assert ({"password": "p"}, False) == (mine, Trace.enabled)

    def test_merge_order_is_dicts_left_to_right_then_kwargs(self):
        """Later dicts override earlier ones and kwargs override all dicts, as in Selinon."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, {"a": 1, "b": 1, "c": 1}, {"b": 2, "c": 2}, c=3, d=4)
        assert [(Trace.TASK_START, {"a": 1, "b": 2, "c": 3, "d": 4})] == captured

    def test_kwargs_only_and_no_message(self):
        """Trace.log works with only kwargs and with no message at all."""
        with capture_events() as captured:
            Trace.log(Trace.FLOW_END, flow_name="f")
            Trace.log(Trace.FLOW_END)
        assert [(Trace.FLOW_END, {"flow_name": "f"}), (Trace.FLOW_END, {})] == captured

    def test_callers_dict_is_not_modified(self):
        """The emitter's dicts are never modified, even when redaction changes what sinks see."""
        mine = {"password": "p", "nested": {"token": "t"}}
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, mine)
        assert ({"password": "p", "nested": {"token": "t"}},
                [(Trace.TASK_START, {"password": "[redacted]", "nested": {"token": "[redacted]"}})]) == (mine, captured)

    def test_enabled_follows_registration(self):
        """Trace.enabled is True while a sink is registered and False after it is removed."""
        seen = []
        sink = Trace.trace_by_func(lambda e, m: None)
        seen.append(Trace.enabled)
        Trace.remove_sink(sink)
        seen.append(Trace.enabled)
        assert [True, False] == seen


class TestRegistry:
    def test_sinks_are_called_in_registration_order(self):
        """Each sink receives (event, msg_dict), in the order the sinks were registered."""
        calls = []
        Trace.trace_by_func(lambda e, m: calls.append(("first", e, dict(m))))
        Trace.trace_by_func(lambda e, m: calls.append(("second", e, dict(m))))
        Trace.log(Trace.TASK_END, x=1)
        assert [("first", 5, {"x": 1}), ("second", 5, {"x": 1})] == calls

    def test_remove_sink_reports_whether_it_was_there(self):
        """remove_sink returns True for a registered sink and False afterwards."""
        sink = Trace.trace_by_func(lambda e, m: None)
        assert (True, False, []) == (Trace.remove_sink(sink), Trace.remove_sink(sink), Trace.sinks())

    def test_non_callable_sink_is_rejected(self):
        """add_sink raises ValueError for something that cannot be called."""
        with pytest.raises(ValueError, match="a sink must be callable"):
            Trace.add_sink(42)

    def test_duplicate_names_are_made_unique(self):
        """Two sinks with the same name get distinct names in stats()."""

        def sink(event, msg):
            pass

        Trace.add_sink(sink, name="mine")
        Trace.add_sink(sink, name="mine")
        assert ["mine", "mine#2"] == list(Trace.stats())

    def test_reset_closes_sinks_and_restores_the_no_op(self):
        """reset() calls close() on sinks that have it and leaves no sink registered."""
        closed = []

        class Closing:
            def __call__(self, event, msg):
                pass

            def close(self):
                closed.append(True)

        Trace.add_sink(Closing())
        Trace.reset()
        assert ([True], [], False) == (closed, Trace.sinks(), Trace.enabled)

    def test_flush_reaches_sinks_with_flush(self):
        """flush(timeout) is passed to every sink that has a flush method."""
        flushed = []

        class Flushing:
            def __call__(self, event, msg):
                pass

            def flush(self, timeout):
                flushed.append(timeout)

        Trace.add_sink(Flushing())
        Trace.add_sink(lambda e, m: None)
        Trace.flush(2.5)
        assert [2.5] == flushed

    def test_registration_is_safe_while_other_threads_log(self):
        """Sinks added and removed while 4 threads log never break logging, and a steady sink sees every event."""
        steady = []
        Trace.trace_by_func(lambda e, m: steady.append(m["n"]))
        stop = threading.Event()
        errors = []

        def churn():
            while not stop.is_set():
                sink = Trace.trace_by_func(lambda e, m: None)
                Trace.remove_sink(sink)

        def emit(base):
            try:
                for n in range(2000):
                    Trace.log(Trace.TASK_START, n=base + n)
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)

        churner = threading.Thread(target=churn)
        churner.start()
        emitters = [threading.Thread(target=emit, args=(i * 10_000,)) for i in range(4)]
        for t in emitters:
            t.start()
        for t in emitters:
            t.join()
        stop.set()
        churner.join()
        expected = sorted(i * 10_000 + n for i in range(4) for n in range(2000))
        assert ([], expected) == (errors, sorted(steady))


class TestFilters:
    def test_event_set_filter(self):
        """A sink registered with events= only receives those events, given by value or by name."""
        with capture_events(events={Trace.TASK_START, "TASK_END"}) as captured:
            for event in (Trace.TASK_START, Trace.TASK_FAILURE, Trace.TASK_END, Trace.FLOW_START):
                Trace.log(event)
        assert [Trace.TASK_START, Trace.TASK_END] == [e for e, _ in captured]

    def test_min_level_filter(self):
        """A sink registered with min_level='warning' receives warning and error events only."""
        with capture_events(min_level="warning") as captured:
            for event in (Trace.TASK_START, Trace.TASK_FAILURE, Trace.DISPATCHER_FAILURE, Trace.FLOW_END):
                Trace.log(event)
        assert [Trace.TASK_FAILURE, Trace.DISPATCHER_FAILURE] == [e for e, _ in captured]

    def test_both_filters_intersect(self):
        """events= and min_level= together keep only events that pass both."""
        with capture_events(events=[Trace.TASK_START, Trace.TASK_FAILURE], min_level="warning") as captured:
            Trace.log(Trace.TASK_START)
            Trace.log(Trace.TASK_FAILURE)
        assert [Trace.TASK_FAILURE] == [e for e, _ in captured]

    @pytest.mark.parametrize("kwargs, message", [
        ({"events": [999]}, "unknown flowtrace event 999"),
        ({"events": ["NOPE"]}, "unknown flowtrace event name 'NOPE'"),
        ({"min_level": "debug"}, "unknown level 'debug'; expected one of info, warning, error"),
    ])
    def test_bad_filters_are_rejected(self, kwargs, message):
        """A filter naming an unknown event or level raises ValueError naming it."""
        with pytest.raises(ValueError) as info:
            Trace.trace_by_func(lambda e, m: None, **kwargs)
        assert (message, []) == (str(info.value), Trace.sinks())


class TestFaultIsolation:
    def test_raising_sink_reaches_neither_caller_nor_other_sinks(self, caplog):
        """A sink that raises is counted; the caller and the sinks after it carry on."""

        def broken(event, msg):
            raise RuntimeError("sink is down")

        Trace.add_sink(broken, name="broken")
        with capture_events() as captured:
            for n in range(3):
                Trace.log(Trace.TASK_START, n=n)
        stats = Trace.stats()
        assert ([0, 1, 2], {"errors": 3, "dropped": 0, "last_error": "RuntimeError: sink is down"}) == (
            [m["n"] for _, m in captured], stats["broken"])

    def test_failures_are_logged_at_most_once_a_minute(self, caplog, monkeypatch):
        """Repeated failures of one sink give one warning per minute, with the count of those not logged."""
        from flowtrace import _report

        clock = [1000.0]
        monkeypatch.setattr(_report.time, "monotonic", lambda: clock[0])
        Trace.add_sink(lambda e, m: 1 / 0, name="divider")
        caplog.set_level(logging.WARNING, logger="flowtrace")
        for _ in range(5):
            Trace.log(Trace.TASK_START)
        clock[0] += 61
        Trace.log(Trace.TASK_END)
        messages = [r.getMessage() for r in caplog.records if r.name == "flowtrace"]
        assert [
            "flowtrace: sink divider failed on TASK_START (1 failures so far, 0 not logged since the last report):"
            " ZeroDivisionError: division by zero",
            "flowtrace: sink divider failed on TASK_END (6 failures so far, 4 not logged since the last report):"
            " ZeroDivisionError: division by zero",
        ] == messages

    def test_sink_stats_are_merged(self):
        """A sink's own stats() (for example dropped events) appear in Trace.stats()."""

        class Queued:
            name = "queued"

            def __call__(self, event, msg):
                pass

            def stats(self):
                return {"dropped": 7, "queued": 2}

        Trace.add_sink(Queued())
        assert {"queued": {"errors": 0, "dropped": 7, "last_error": None, "queued": 2}} == Trace.stats()


class TestEventKeyword:
    def test_a_msg_key_named_event(self):
        """The event is positional-only, so a kwarg named event is an ordinary msg key."""
        with capture_events() as captured:
            Trace.log(Trace.FLOW_END, event="x", flow_name="f")
        assert [(Trace.FLOW_END, {"event": "x", "flow_name": "f"})] == captured

    @pytest.mark.parametrize("args, error", [((None,), "TypeError"), (({"a": 1}, None), "TypeError"),
                                             (("text",), "ValueError"), ((42,), "TypeError")])
    def test_a_msg_that_is_not_a_mapping_is_counted_not_raised(self, args, error):
        """Trace.log never raises for a msg argument that is not a mapping: the event is counted under "Trace.log"."""
        with capture_events() as captured:
            Trace.log(Trace.TASK_START, *args)
            Trace.log(Trace.TASK_END, ok=1)
        stats = Trace.stats()["Trace.log"]
        assert ([(Trace.TASK_END, {"ok": 1})], 1, error) == (
            captured, stats["errors"], stats["last_error"].split(":")[0])
