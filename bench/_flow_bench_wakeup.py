"""The cost of one dispatcher wake-up when one node has changed, at flow sizes of 10, 100 and 1,000 nodes.

Part of ``bench/flow_bench.py``. Each flow of N nodes is in one of two shapes:

- ``fan-out``: Start, then N-2 parallel nodes, then End once all have
  finished (the DAG of the latency section, widened);
- ``foreach``: Start, then N-1 runs of one node from a ``foreach``.

The wake-up timed is the one after the first of the parallel nodes finished:
Start has finished, N-2 (or N-1) nodes are running, one of them has just
ended. Nothing new starts, so only the state changes. Two measurements:

- ``advance``: ``flowtrace.flow._wakeup.WakeUp`` on the state as it comes out
  of the message, with ports in memory (node outcomes in a dict), then the
  next state as data (``to_dict``): the dispatcher's own work, no I/O;
- ``dispatcher``: the real dispatcher task's ``run`` in this process on a
  real Redis result backend and broker, as a worker calls it: the message's
  state decoded from JSON, each node's outcome read from Redis, and the next
  wake-up's message (the new state, JSON) published to a queue that nothing
  consumes.

Each is timed as the wake-up a node's nudge causes (``nudged``: the worker
hands the dispatcher the ids of the nodes whose end nudged it) and as the
wake-up its countdown causes (``countdown``: no such ids, so every running node
is read), when the dispatcher knows the difference; a dispatcher that does not
reads every running node on every wake-up, and only ``countdown`` is given.
"""

from __future__ import annotations

import inspect
import json
import statistics
import time
import uuid

from celery import Celery
from celery.exceptions import Retry
from kombu.utils.json import dumps as kombu_dumps, loads as kombu_loads

from flowtrace.flow import _wakeup, register
from flowtrace.flow.model import Edge, Flow, FlowConfig, Foreach, FrozenMap, Task

SHAPES = ("fan-out", "foreach")
#: Whether this flowtrace's WakeUp takes the ids of the nodes that nudged it.
HINTS = "ended" in inspect.signature(_wakeup.WakeUp.__init__).parameters
#: The request attribute through which the worker hands the dispatcher those ids (see flowtrace.flow._nudge).
HINT_ATTR = "flowtrace_nudged"


def make_config(shape, size, queue):
    """A FlowConfig with one flow ``f`` of ``size`` nodes in ``shape``; returns (config, running node names)."""
    if shape == "fan-out":
        fans = tuple("Fan%d" % i for i in range(1, size - 1))
        names = ("Start",) + fans + ("End",)
        edges = (Edge((), ("Start",)), Edge(("Start",), fans), Edge(fans, ("End",)))
        running = fans
    else:
        names = ("Start", "Item")
        edges = (Edge((), ("Start",)), Edge(("Start",), ("Item",), foreach=Foreach("_flow_bench_tasks", "items")))
        running = ("Item",) * (size - 1)
    tasks = FrozenMap({name: Task(name, "_flow_bench_tasks", "Noop", queue=queue) for name in names})
    flows = FrozenMap({"f": Flow("f", edges, queue=queue)})
    return FlowConfig(tasks, flows, FrozenMap()), running


def make_state(running):
    """The message's state: Start finished, every ``running`` node active; returns (state, id of the first)."""
    active = [[name, str(uuid.uuid4())] for name in running]
    state = {"active_nodes": active, "finished_nodes": {"Start": [str(uuid.uuid4())]}, "failed_nodes": {}}
    return state, active[0][1]


class MemoryPorts(_wakeup.Ports):
    """Node outcomes from a dict, counted; sending is never needed (nothing starts)."""

    def __init__(self, ended):
        self.ended = ended
        self.reads = 0

    def outcome(self, name, node_id, is_flow):
        self.reads += 1
        return (_wakeup.SUCCESS, None) if node_id == self.ended else (None, None)

    def send_task(self, name, task_id, node_args, parent):
        raise AssertionError("the timed wake-up starts nothing")


def _median_us(samples):
    return statistics.median(samples) * 1e6


def time_advance(shape, size, hinted, number):
    """Mean µs per wake-up of each phase with ports in memory: ``{"state in": ..., "advance": ..., "state out": ...}``.

    ``state in`` builds the :class:`~flowtrace.flow._wakeup.WakeUp` and its
    state from the message's data, ``advance`` is ``run()``, ``state out``
    the next message's state as data (``to_dict()``).
    """
    config, running = make_config(shape, size, "q")
    flow = config.flows["f"]
    state, ended = make_state(running)
    ports = MemoryPorts(ended)
    extra = {"ended": [ended]} if hinted else {}
    check = _wakeup.WakeUp(config, flow, "D", None, None, state, ports, **extra)
    assert _wakeup.RUNNING == check.run() and len(check.state.to_dict()["active_nodes"]) == len(running) - 1
    reads, ports.reads = ports.reads, 0
    clock = time.perf_counter
    phases = [0.0, 0.0, 0.0]
    for _ in range(number):
        t0 = clock()
        wakeup = _wakeup.WakeUp(config, flow, "D", None, None, state, ports, **extra)
        t1 = clock()
        wakeup.run()
        t2 = clock()
        wakeup.state.to_dict()
        t3 = clock()
        phases[0] += t1 - t0
        phases[1] += t2 - t1
        phases[2] += t3 - t2
    found = {phase: 1e6 * value / number for phase, value in zip(ADVANCE_PHASES, phases)}
    found["reads"] = reads
    return found


ADVANCE_PHASES = ("state in", "advance", "state out")


def time_message(shape, size, number):
    """Mean µs of what Celery does with the state in each dispatcher message, at this size.

    The worker decodes the message's JSON, and the retry that sends the next
    wake-up encodes it again and makes the ``kwargsrepr`` Celery puts in its
    headers (``saferepr``, which walks the whole structure even though it
    keeps 1,024 characters).
    """
    from celery.utils.saferepr import saferepr

    _, running = make_config(shape, size, "q")
    state, _ = make_state(running)
    kwargs = {"flow_name": "f", "node_args": None, "parent": None, "state": state, "retried_count": 0,
              "countdown": 2.0, "parent_dispatcher_id": None, "polled_at": time.time()}
    body = kombu_dumps(kwargs)
    clock = time.perf_counter
    start = clock()
    for _ in range(number):
        decoded = kombu_loads(body)
        kombu_dumps(decoded)
        saferepr(decoded, 1024)
    return 1e6 * (clock() - start) / number


class RealDispatcher:
    """The dispatcher task of an app holding one flow, run in this process against Redis."""

    def __init__(self, broker, backend, prefix, shape, size):
        self.queue = "%s-wakeup-%s-%d" % (prefix, shape, size)
        self.app = Celery("flow_bench_wakeup", set_as_current=False)
        options = {"global_keyprefix": prefix + ":"}
        self.app.conf.update(broker_url=broker, result_backend=backend, broker_transport_options=options,
                             result_backend_transport_options=options, task_default_queue=self.queue,
                             accept_content=["json"], result_expires=600)
        config, running = make_config(shape, size, self.queue)
        register(self.app, config)
        self.task = self.app.tasks["flowtrace.dispatcher"]
        self.state, self.ended = make_state(running)
        # The node that ended has its SUCCESS in the backend; the others have no state yet (PENDING), as running tasks.
        self.app.backend.store_result(self.ended, None, "SUCCESS")
        # What arrives in the message: the state as JSON, decoded as the worker decodes it.
        self.body = kombu_dumps({"flow_name": "f", "node_args": None, "parent": None, "state": self.state,
                                 "retried_count": 0, "countdown": 2.0})
        self.redis = self.app.connection_for_write().default_channel.client

    def wake(self, hinted):
        kwargs = kombu_loads(self.body)
        if hinted:
            kwargs["polled_at"] = time.time()  # a recent full read: this wake-up may read the nudged nodes only
        request = {"id": "D-" + self.queue, "kwargs": kwargs, "args": [], "headers": {}, "retries": 0,
                   "called_directly": False, "is_eager": False,
                   "delivery_info": {"routing_key": self.queue, "exchange": ""}}
        if hinted:
            request[HINT_ATTR] = [self.ended]
        self.task.push_request(**request)
        try:
            self.task.run(**kwargs)
        except Retry:
            pass
        else:
            raise AssertionError("the timed wake-up must wait for the running nodes")
        finally:
            self.task.pop_request()

    def drain(self):
        """Drop the published wake-up messages (nothing consumes this queue)."""
        self.redis.delete(self.queue)

    def close(self):
        self.drain()
        self.app.backend.forget(self.ended)
        self.app.close()


def time_dispatcher(dispatcher, hinted, repeats, number):
    """Median µs of one real wake-up: decode, read outcomes from Redis, publish the next message."""
    samples = []
    clock = time.perf_counter
    dispatcher.wake(hinted)  # connections made, modules imported
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            dispatcher.wake(hinted)
        samples.append((clock() - start) / number)
        dispatcher.drain()
    return _median_us(samples)


def run(broker, backend, prefix, sizes=(10, 100, 1000), quick=False):
    """Every figure; returns a list of rows ``{shape, size, measure, mode, us}``.

    Sizes are interleaved within each repeat, so that a change in the
    machine's speed hits every size alike.
    """
    modes = ("nudged", "countdown") if HINTS else ("countdown",)
    advance_repeats, real_repeats = (3, 3) if quick else (15, 9)
    rows = []
    for shape in SHAPES:
        samples = {(size, mode, phase): [] for size in sizes for mode in modes for phase in ADVANCE_PHASES}
        for _ in range(advance_repeats):
            for size in sizes:
                for mode in modes:
                    number = max(3, min(2000, 20000 // size)) if not quick else 3
                    for phase, value in time_advance(shape, size, mode == "nudged", number).items():
                        samples.setdefault((size, mode, phase), []).append(value)
                number = max(3, min(500, 5000 // size)) if not quick else 2
                samples.setdefault((size, "either", "message"), []).append(time_message(shape, size, number))
        rows += [{"shape": shape, "size": size, "measure": phase, "mode": mode,
                  "us": round(statistics.median(samples[(size, mode, phase)]), 2)}
                 for mode in modes for phase in ADVANCE_PHASES for size in sizes]
        rows += [{"shape": shape, "size": size, "measure": "reads", "mode": mode,
                  "count": samples[(size, mode, "reads")][0]} for mode in modes for size in sizes]
        rows += [{"shape": shape, "size": size, "measure": "message", "mode": "either",
                  "us": round(statistics.median(samples[(size, "either", "message")]), 1)} for size in sizes]
        dispatchers = {size: RealDispatcher(broker, backend, prefix, shape, size) for size in sizes}
        try:
            samples = {(size, mode): [] for size in sizes for mode in modes}
            for _ in range(real_repeats):
                for size in sizes:
                    for mode in modes:
                        number = (max(3, min(200, 2000 // size)) if mode == "nudged" or size <= 100
                                  else 3) if not quick else 2
                        samples[(size, mode)].append(time_dispatcher(dispatchers[size], mode == "nudged", 1, number))
            rows += [{"shape": shape, "size": size, "measure": "dispatcher", "mode": mode,
                      "us": round(statistics.median(samples[(size, mode)]), 1)} for mode in modes for size in sizes]
        finally:
            for dispatcher in dispatchers.values():
                dispatcher.close()
    return rows


def render(rows, sizes):
    lines = []
    head = "%-9s %-11s %-10s" % ("shape", "measure", "wake-up") + "".join("%12s" % ("%d nodes" % s) for s in sizes)
    head += "%14s" % ("%d/%d" % (sizes[-1], sizes[0]))
    lines += [head, "-" * len(head)]
    keys = []
    for row in rows:
        key = (row["shape"], row["measure"], row["mode"])
        if key not in keys:
            keys.append(key)
    for key in keys:
        if key[1] == "reads":
            values = {row["size"]: row["count"] for row in rows if (row["shape"], row["measure"], row["mode"]) == key}
            line = "%-9s %-11s %-10s" % key + "".join("%12d" % values[size] for size in sizes)
        else:
            values = {row["size"]: row["us"] for row in rows if (row["shape"], row["measure"], row["mode"]) == key}
            line = "%-9s %-11s %-10s" % key + "".join("%10.1f µs" % values[size] for size in sizes)
        line += "%13.1fx" % (values[sizes[-1]] / values[sizes[0]])
        lines.append(line)
    return lines


if __name__ == "__main__":  # python bench/_flow_bench_wakeup.py: this section alone
    import sys

    sizes = (10, 100, 1000)
    prefix = "ftwake-" + uuid.uuid4().hex[:8]
    found = run("redis://127.0.0.1:6379/8", "redis://127.0.0.1:6379/9", prefix, sizes, quick="--quick" in sys.argv)
    print("\n".join(render(found, sizes)))
    print(json.dumps(found))
