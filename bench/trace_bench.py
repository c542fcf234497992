"""Per-event cost of ``Trace.log``: flowtrace against Selinon 1.4.0, in the same run.

Run ``python bench/trace_bench.py`` (``make bench``). Each case times the same
call, ``Trace.log(Trace.TASK_START, msg)``, on both libraries with the same
msg dict and the same kind of sink, and prints nanoseconds per event, the
ratio flowtrace / Selinon and the target for that ratio. The kwargs form,
``Trace.log(Trace.TASK_START, task_name=..., ...)``, is timed too.

Timings are interleaved (flowtrace, Selinon, Selinon, flowtrace, ...) so that
drift in the machine's speed hits both sides alike, and the minimum over the
repeats is reported (``--stat median`` for the median). Nothing is subtracted:
the loop overhead is in both figures. Speed is measured, never asserted: the
exit status is 0 whatever the ratios (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import sys
import time
import timeit

# Run from a checkout without installing: bench/ sits next to flowtrace/.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import flowtrace  # noqa: E402
from flowtrace import Trace as FlowTrace  # noqa: E402

try:
    import selinon
    from selinon.trace import Trace as SelinonTrace
except ImportError:  # pragma: no cover - the bench extra is missing
    sys.exit("trace_bench needs Selinon 1.4.0: pip install 'flowtrace[bench]' (or selinon==1.4.0)")

# A TASK_START as a worker emits it: six keys, one a small nested dict.
MSG = {
    "task_name": "fetch_metadata",
    "task_id": "5f0c8e7e-2a47-4c1b-9b8e-3f1d6c2a9e11",
    "flow_name": "analyse_package",
    "dispatcher_id": "0b9e3c52-7d1a-4e4f-8a4c-6c2f1e0d7b33",
    "queue": "analyses",
    "node_args": {"ecosystem": "pypi", "name": "requests", "version": "2.31.0"},
}

DICT_STMT = "Trace.log(Trace.TASK_START, msg)"
KWARGS_STMT = ("Trace.log(Trace.TASK_START, task_name=task_name, task_id=task_id, flow_name=flow_name,"
               " dispatcher_id=dispatcher_id, queue=queue, node_args=node_args)")
GUARDED_STMT = "if Trace.enabled: Trace.log(Trace.TASK_START, msg)"

LOGGER_NAME = "trace_bench"


def _noop_sink(event, msg_dict):
    pass


# --- the two sides of each case -------------------------------------------


def _logger(level):
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    logger.setLevel(level)
    return logger


def _reset_selinon():
    SelinonTrace._trace_functions = []
    SelinonTrace._logger = None


class Side:
    """One library in one case: its sink set-up and the statement timed."""

    def __init__(self, trace, setup, stmt, *, stdout_to_devnull=False):
        self.trace = trace
        self.setup = setup
        self.stmt = stmt
        self.stdout_to_devnull = stdout_to_devnull

    def timer(self):
        namespace = dict(MSG, Trace=self.trace, msg=dict(MSG))
        return timeit.Timer(self.stmt, globals=namespace, timer=time.perf_counter_ns)


def _flowtrace_side(sink, stmt):
    def setup():
        FlowTrace.reset()
        if sink == "func":
            FlowTrace.trace_by_func(_noop_sink)
        elif sink == "json":
            FlowTrace.trace_by_json(os.devnull)
        elif sink == "logging":
            FlowTrace.trace_by_logging(_logger(logging.INFO))
        elif sink == "logging-off":
            FlowTrace.trace_by_logging(_logger(logging.WARNING))

    return Side(FlowTrace, setup, stmt)


def _selinon_side(sink, stmt):
    def setup():
        _reset_selinon()
        if sink == "func":
            SelinonTrace.trace_by_func(_noop_sink)
        elif sink == "json":
            SelinonTrace.trace_by_json()
        elif sink == "logging":
            SelinonTrace.trace_by_logging(_logger(logging.INFO))
        elif sink == "logging-off":
            SelinonTrace.trace_by_logging(_logger(logging.WARNING))

    # Selinon's JSON sink prints to sys.stdout, so its case points that at /dev/null.
    return Side(SelinonTrace, setup, stmt, stdout_to_devnull=(sink == "json"))


# (key, label, sink, flowtrace statement, target or None for information only, counted)
CASES = (
    ("no_sink", "no sink", None, DICT_STMT, 0.5, True),
    ("no_sink_guarded", "no sink, guarded by `if Trace.enabled`", None, GUARDED_STMT, None, False),
    ("func", "no-op function sink", "func", DICT_STMT, 0.7, True),
    ("json", "JSON to /dev/null", "json", DICT_STMT, 0.2, True),
    ("logging", "logging, INFO into NullHandler", "logging", DICT_STMT, 0.35, True),
    ("logging_off", "logging, INFO disabled", "logging-off", DICT_STMT, 0.05, True),
    ("no_sink_kwargs", "no sink (kwargs)", None, KWARGS_STMT, 0.5, False),
    ("func_kwargs", "no-op function sink (kwargs)", "func", KWARGS_STMT, 0.7, False),
    ("json_kwargs", "JSON to /dev/null (kwargs)", "json", KWARGS_STMT, 0.2, False),
    ("logging_kwargs", "logging, INFO into NullHandler (kwargs)", "logging", KWARGS_STMT, 0.35, False),
    ("logging_off_kwargs", "logging, INFO disabled (kwargs)", "logging-off", KWARGS_STMT, 0.05, False),
)


# --- timing ----------------------------------------------------------------


@contextlib.contextmanager
def _stdout_to_devnull(active):
    if not active:
        yield
        return
    saved = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        try:
            yield
        finally:
            sys.stdout = saved


def _run(side, timer, number):
    """Return ns per event for ``number`` calls."""
    with _stdout_to_devnull(side.stdout_to_devnull):
        return timer.timeit(number) / number


def _calibrate(sides_timers, budget_ns):
    """Pick one loop count for both sides so that the slower one takes about ``budget_ns``."""
    slowest = 0.0
    for side, timer in sides_timers:
        _run(side, timer, 200)  # warm caches (redaction verdicts, logger level cache, clock)
        slowest = max(slowest, _run(side, timer, 2000))
    return max(200, int(budget_ns / max(slowest, 1.0)))


def measure_case(case, repeats, budget_ns):
    key, label, sink, flow_stmt, target, counted = case
    selinon_stmt = DICT_STMT if flow_stmt == GUARDED_STMT else flow_stmt
    flow = _flowtrace_side(sink, flow_stmt)
    seli = _selinon_side(sink, selinon_stmt)
    flow.setup()
    seli.setup()
    try:
        pairs = [(flow, flow.timer()), (seli, seli.timer())]
        number = _calibrate(pairs, budget_ns)
        times = {id(flow): [], id(seli): []}
        for repeat in range(repeats):
            # A B, B A, A B, ...: neither side is always the one that runs first.
            order = pairs if repeat % 2 == 0 else pairs[::-1]
            for side, timer in order:
                times[id(side)].append(_run(side, timer, number))
    finally:
        FlowTrace.reset()
        _reset_selinon()
    return {
        "case": key,
        "label": label,
        "flowtrace_ns": times[id(flow)],
        "selinon_ns": times[id(seli)],
        "target": target,
        "counted": counted,
        "number": number,
    }


def summarise(row, stat):
    pick = min if stat == "min" else statistics.median
    flow, seli = pick(row["flowtrace_ns"]), pick(row["selinon_ns"])
    ratio = flow / seli
    target = row["target"]
    if target is None:
        verdict = "info"
    else:
        verdict = "PASS" if ratio <= target else "MISS"
    return {
        "case": row["case"],
        "label": row["label"],
        "flowtrace_ns": round(flow, 1),
        "selinon_ns": round(seli, 1),
        "ratio": round(ratio, 3),
        "target": target,
        "result": verdict,
        "counted": row["counted"],
        "flowtrace_ns_min": round(min(row["flowtrace_ns"]), 1),
        "flowtrace_ns_median": round(statistics.median(row["flowtrace_ns"]), 1),
        "selinon_ns_min": round(min(row["selinon_ns"]), 1),
        "selinon_ns_median": round(statistics.median(row["selinon_ns"]), 1),
        "events_per_repeat": row["number"],
    }


def render(results, meta):
    lines = [
        "flowtrace %s vs Selinon %s, Python %s on %s; %s of %d interleaved repeats, ns per Trace.log call"
        % (meta["flowtrace"], meta["selinon"], meta["python"], meta["machine"], meta["stat"], meta["repeats"]),
        "",
    ]
    head = "%-42s %12s %12s %7s %7s  %s" % ("case", "flowtrace ns", "selinon ns", "ratio", "target", "result")
    lines += [head, "-" * len(head)]
    for row in results:
        target = "-" if row["target"] is None else "<=%.2f" % row["target"]
        lines.append("%-42s %12.1f %12.1f %7.3f %7s  %s" % (
            row["label"], row["flowtrace_ns"], row["selinon_ns"], row["ratio"], target, row["result"]))
    counted = [row for row in results if row["counted"]]
    missed = [row["label"] for row in counted if row["result"] == "MISS"]
    lines += ["", "targets met: %d of %d (call form: %s)" % (len(counted) - len(missed), len(counted), DICT_STMT)]
    if missed:
        lines.append("missed: " + "; ".join(missed))
    lines.append("kwargs rows and the guarded row are for information; they do not count towards the targets.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: few, short repeats")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per side (default 21, quick 3)")
    parser.add_argument("--stat", choices=("min", "median"), default="min", help="statistic over repeats")
    parser.add_argument("--case", action="append", choices=[case[0] for case in CASES],
                        help="run only this case (may be given more than once)")
    args = parser.parse_args(argv)

    repeats = args.repeats or (3 if args.quick else 21)
    budget_ns = 2e6 if args.quick else 20e6
    cases = [case for case in CASES if not args.case or case[0] in args.case]

    raw = [measure_case(case, repeats, budget_ns) for case in cases]
    results = [summarise(row, args.stat) for row in raw]
    meta = {
        "flowtrace": flowtrace.__version__,
        "selinon": getattr(selinon, "__version__", "?"),
        "python": platform.python_version(),
        "machine": "%s, %s CPUs" % (platform.machine(), os.cpu_count()),
        "stat": args.stat,
        "repeats": repeats,
        "quick": args.quick,
    }
    if args.json:
        print(json.dumps({"meta": meta, "results": results}, indent=2))
    else:
        print(render(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
