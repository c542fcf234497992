"""Tests for flowtrace/flow/predicates/_urls.py: a part of the URL at a key."""

import pytest

from flowtrace.flow.predicates import _urls
from tests.flow.predicates._table import TWINS, call, coverage

PART = {"UrlScheme": "scheme", "UrlNetloc": "netloc", "UrlPath": "path"}

# (predicate without its field/argsField prefix, key, the part, expected);
# "url" is https://user@example.com:8080/orders/7?x=1#top
ROWS = [
    ("UrlScheme", "url", "https", True),
    ("UrlScheme", "status", "", True),             # text without a scheme has the scheme ""
    ("UrlScheme", "url", "HTTPS", False),          # urlparse gives it in lower case
    ("UrlScheme", "url", "http", False),
    ("UrlScheme", "raw", "http", False),           # bytes are not a string
    ("UrlScheme", "count", "", False),             # nor is a number
    ("UrlScheme", "none", "", False),
    ("UrlScheme", "missing", "", False),
    ("UrlNetloc", "url", "user@example.com:8080", True),
    ("UrlNetloc", "url", "example.com", False),    # the whole network location, port and user included
    ("UrlNetloc", "missing", "", False),
    ("UrlPath", "url", "/orders/7", True),         # without the query and the fragment
    ("UrlPath", "status", "ok", True),             # text that is no URL is all path
    ("UrlPath", "url", "/orders/7?x=1", False),
    ("UrlPath", "url", "/orders", False),
    ("UrlPath", "tags", "", False),
]


class TestUrls:
    @TWINS
    @pytest.mark.parametrize("suffix, key, part, expected", ROWS)
    def test_table(self, prefix, reads, suffix, key, part, expected):
        """Each predicate and its argsField twin give the row's result for the row's key and URL part."""
        assert expected is call(prefix, reads, suffix, key=key, **{PART[suffix]: part})

    def test_every_predicate_has_a_true_and_a_false_row(self):
        """The table reaches both results of every predicate of the family."""
        assert [] == coverage(ROWS, _urls)
