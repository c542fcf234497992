"""The keys each part of flow YAML may have, and the Selinon keys flowtrace does not implement.

The checker reports any other key as unknown, with the nearest known one as a
suggestion; a key of :data:`SELINON_ONLY` is reported as a Selinon option
instead, not as a typo.
"""

from typing import Dict, Tuple

__all__ = ["KEYS", "SELINON_ONLY"]

#: The keys each part of the YAML may have, by part (``"top level"``, ``"global"``, ``"storage"``,
#: ``"task"``, ``"flow"``, ``"edge"``, ``"foreach"``, ``"failure"``, ``"predicate"``, ``"cache"``,
#: ``"sampling"``, ``"selective"``, ``"selective_run_function"``, ``"throttling"`` and
#: ``"trace storage"``): every key Selinon 1.4 accepts.
#:
#: .. versionadded:: 0.1.0
KEYS = {
    "top level": ("tasks", "flows", "storages", "global", "flow-definitions"),
    "global": ("trace", "predicates_module", "default_task_queue", "default_dispatcher_queue", "migration_dir"),
    "storage": ("name", "import", "classname", "configuration", "cache"),
    "task": ("name", "import", "classname", "max_retry", "retry_countdown", "storage", "storage_readonly",
             "storage_task_name", "queue", "output_schema", "throttling", "selective_run_function"),
    "flow": ("name", "edges", "failures", "max_retry", "retry_countdown", "queue", "nowait",
             "propagate_node_args", "propagate_parent", "propagate_finished", "propagate_failures",
             "propagate_parent_failures", "propagate_compound_finished", "propagate_compound_failures",
             "node_args_from_first", "eager_failures", "throttling", "cache", "sampling"),
    "edge": ("from", "to", "condition", "foreach", "selective"),
    "foreach": ("import", "function", "propagate_result"),
    "failure": ("nodes", "fallback", "propagate_failure", "condition"),
    "predicate": ("name", "node", "args"),
    "cache": ("name", "import", "configuration"),
    "sampling": ("name", "import", "args"),
    "selective": ("tasks", "run_subsequent", "follow_subflows"),
    "selective_run_function": ("name", "import"),
    "throttling": ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks"),
    "trace storage": ("name", "method"),
}

#: Keys Selinon knows that flowtrace does not implement, by part as in :data:`KEYS`: none since
#: every key of Selinon 1.4 loads. A key listed here is reported as a Selinon option, not as a typo.
#:
#: .. versionadded:: 0.1.0
SELINON_ONLY: Dict[str, Tuple[str, ...]] = {}
