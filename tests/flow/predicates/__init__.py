"""Tests for flowtrace/flow/predicates/, and the task result they read."""

#: A task result: the tables of the predicate tests and tests/flow/test_conditions.py read it.
RESULT = {
    "status": "ok",
    "items": [{"sku": 1}, {"sku": 2}],
    "count": 3,
    "price": 2.5,
    "tags": ["a", "b"],
    "none": None,
    "flag": True,
    "empty": "",
    "pair": (1, 2),
    "a.b": "dotted",
    "a": {"b": "nested"},
    ("a", "b"): "tuple",
    0: "zero",
    "url": "https://user@example.com:8080/orders/7?x=1#top",
    "raw": b"http://example.com/",
}
