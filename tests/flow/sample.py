"""What tests/flow/data/ names: task and storage classes, a foreach function and user predicates."""

import flowtrace


class MemoryStorage:
    """A storage that keeps results in a dict."""

    def __init__(self, url=None):
        self.url = url
        self.results = {}

    def connect(self):
        pass

    def is_connected(self):
        return True

    def disconnect(self):
        pass

    def retrieve(self, flow_name, task_name, task_id):
        return self.results[flow_name, task_name, task_id]

    def store(self, node_args, flow_name, task_name, task_id, result):
        self.results[flow_name, task_name, task_id] = result
        return task_id


class _Task(flowtrace.FlowTask):
    def run(self, node_args):
        return node_args


class FetchOrder(_Task):
    """Reads the order."""


class CheckStock(_Task):
    """Reserves the items."""


class ChargeCard(_Task):
    """Charges the customer."""


class Refund(_Task):
    """Gives the money back."""


class SendEmail(_Task):
    """Tells the customer."""


class ShipItem(_Task):
    """Hands a parcel to the carrier."""


class Audit(_Task):
    """Reads the order's results and writes nothing."""


def each_parcel(storage_pool, node_args):
    """The foreach function: one sub-flow per parcel."""
    return [{"parcel": parcel} for parcel in node_args.get("parcels", [])]


def amountAbove(message, limit):  # noqa: N802 (predicate names follow Selinon's)
    """A user predicate of a task result."""
    return message.get("amount", 0) > limit


def isRush(node_args, hours=24):  # noqa: N802
    """A user predicate of the flow arguments, with an optional argument."""
    return node_args.get("deadline_hours", hours) < hours


def positional_only(message, /):
    """Cannot be a predicate: it is called with keyword arguments."""
    return True


NOT_A_FUNCTION = 42


class TracingStorage(MemoryStorage):
    """A storage that also takes the trace: every event goes to its ``trace`` method (global: trace: storage)."""

    def trace(self, event, msg_dict):
        self.results.setdefault("trace", []).append((event, msg_dict))


class NotAStorage:
    """Names a storage class in YAML, but has none of an adapter's methods."""
