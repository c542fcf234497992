"""The keys each part of flow YAML may have, and the Selinon keys flowtrace does not implement.

The checker reports any other key as unknown, with the nearest known one as a
suggestion; a key of :data:`SELINON_ONLY` is reported as a Selinon option
instead, not as a typo.
"""

__all__ = ["KEYS", "SELINON_ONLY"]

#: The keys each part of the YAML may have, by part (``"top level"``, ``"global"``, ``"storage"``,
#: ``"task"``, ``"flow"``, ``"edge"``, ``"foreach"``, ``"failure"`` and ``"predicate"``).
#:
#: .. versionadded:: 0.1.0
KEYS = {
    "top level": ("tasks", "flows", "storages", "global", "flow-definitions"),
    "global": ("trace", "predicates_module", "default_task_queue", "default_dispatcher_queue"),
    "storage": ("name", "import", "classname", "configuration"),
    "task": ("name", "import", "classname", "max_retry", "retry_countdown", "storage", "storage_readonly",
             "storage_task_name", "queue", "output_schema"),
    "flow": ("name", "edges", "failures", "max_retry", "retry_countdown", "queue", "nowait",
             "propagate_node_args", "propagate_parent", "propagate_finished", "propagate_failures"),
    "edge": ("from", "to", "condition", "foreach"),
    "foreach": ("import", "function", "propagate_result"),
    "failure": ("nodes", "fallback", "propagate_failure", "condition"),
    "predicate": ("name", "node", "args"),
}

#: Keys Selinon knows that flowtrace does not implement, by part as in :data:`KEYS`.
#:
#: .. versionadded:: 0.1.0
SELINON_ONLY = {
    "global": ("migration_dir",),
    "storage": ("cache",),
    "task": ("throttling", "selective_run_function"),
    "flow": ("cache", "sampling", "throttling", "node_args_from_first", "eager_failures",
             "propagate_parent_failures", "propagate_compound_finished", "propagate_compound_failures"),
    "edge": ("selective",),
}
