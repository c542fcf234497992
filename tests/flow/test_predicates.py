"""Tests for flowtrace/flow/predicates.py: the built-ins, name lookup and signatures."""

import pytest

from flowtrace.flow import predicates

RESULT = {"status": "ok", "items": [{"sku": 1}, {"sku": 2}], "count": 3, "tags": ["a", "b"], "none": None}


class TestBuiltins:
    def test_names(self):
        """The built-ins are the ones the issue lists, by Selinon's names."""
        assert ["alwaysTrue", "alwaysFalse", "fieldEqual", "fieldExist", "fieldLenEqual", "fieldLenGreater",
                "fieldLenLess", "fieldContain", "argsFieldEqual", "argsFieldExist"] == list(predicates.BUILTINS)

    def test_always(self):
        """alwaysTrue and alwaysFalse take nothing and return what they say."""
        assert (True, False) == (predicates.alwaysTrue(), predicates.alwaysFalse())

    def test_field_equal(self):
        """fieldEqual follows a key or a path of keys and indexes, and is false when the path is not there."""
        assert [True, False, True, False, False, True] == [
            predicates.fieldEqual(RESULT, "status", "ok"),
            predicates.fieldEqual(RESULT, "status", "failed"),
            predicates.fieldEqual(RESULT, ["items", 1, "sku"], 2),
            predicates.fieldEqual(RESULT, ["items", 5, "sku"], 2),
            predicates.fieldEqual(None, "status", "ok"),
            predicates.fieldEqual(RESULT, "none", None),
        ]

    def test_field_exist(self):
        """fieldExist is true for a key holding None, false for a missing key or a non-container."""
        assert [True, True, False, False] == [
            predicates.fieldExist(RESULT, "none"),
            predicates.fieldExist(RESULT, ["items", 0]),
            predicates.fieldExist(RESULT, "missing"),
            predicates.fieldExist("text", ["a"]),
        ]

    def test_field_length(self):
        """The length predicates compare the length of the value at the key; no length is false."""
        assert [True, False, True, False, True, False, False] == [
            predicates.fieldLenEqual(RESULT, "items", 2),
            predicates.fieldLenEqual(RESULT, "count", 3),
            predicates.fieldLenGreater(RESULT, "tags", 1),
            predicates.fieldLenGreater(RESULT, "tags", 2),
            predicates.fieldLenLess(RESULT, "tags", 3),
            predicates.fieldLenLess(RESULT, "missing", 3),
            predicates.fieldLenGreater(RESULT, "tags", "one"),
        ]

    def test_field_contain(self):
        """fieldContain tests membership, and is false for a value that is not a container."""
        assert [True, False, False, True] == [
            predicates.fieldContain(RESULT, "tags", "a"),
            predicates.fieldContain(RESULT, "tags", "z"),
            predicates.fieldContain(RESULT, "count", 3),
            predicates.fieldContain(RESULT, "status", "o"),
        ]

    def test_args_fields(self):
        """argsFieldEqual and argsFieldExist read the flow's arguments the same way."""
        node_args = {"order": {"id": 7}, "dry_run": False}
        assert [True, False, True, False] == [
            predicates.argsFieldEqual(node_args, ["order", "id"], 7),
            predicates.argsFieldEqual(None, "dry_run", False),
            predicates.argsFieldExist(node_args, "dry_run"),
            predicates.argsFieldExist(node_args, "missing"),
        ]


class TestResolve:
    def test_builtin(self):
        """Without a module, a name is a built-in."""
        assert predicates.fieldEqual is predicates.resolve("fieldEqual")

    def test_module_first(self):
        """The predicates module is searched first, then the built-ins."""
        from tests.flow import sample

        assert (sample.amountAbove, predicates.fieldExist) == (predicates.resolve("amountAbove", "tests.flow.sample"),
                                                                predicates.resolve("fieldExist", "tests.flow.sample"))

    def test_unknown(self):
        """An unknown name is a LookupError naming where it was looked for."""
        with pytest.raises(LookupError) as info:
            predicates.resolve("nope", "tests.flow.sample")
        assert "there is no predicate 'nope' in tests.flow.sample or among the built-ins" == str(info.value)

    def test_not_callable(self):
        """A module attribute that is not callable is not a predicate."""
        with pytest.raises(LookupError) as info:
            predicates.resolve("NOT_A_FUNCTION", "tests.flow.sample")
        assert "tests.flow.sample.NOT_A_FUNCTION is not callable, so it is not a predicate" == str(info.value)

    def test_private_and_dunder_names(self):
        """Names that are not plain identifiers starting with a letter are never looked up."""
        for name in ("__class__", "_field", "a.b", "", 3):
            with pytest.raises(LookupError):
                predicates.resolve(name, "tests.flow.sample")

    def test_module_that_fails(self):
        """A predicates module that cannot be imported is an ImportError."""
        with pytest.raises(ImportError):
            predicates.resolve("fieldEqual", "tests.flow.no_such_module")

    def test_names_for_suggestions(self):
        """names() lists the built-ins and the module's public functions."""
        assert ["alwaysFalse", "alwaysTrue", "amountAbove", "argsFieldEqual", "argsFieldExist", "each_parcel",
                "fieldContain", "fieldEqual", "fieldExist", "fieldLenEqual", "fieldLenGreater", "fieldLenLess",
                "isRush", "positional_only"] == predicates.names("tests.flow.sample")


class TestSignature:
    def test_result_predicate(self):
        """A predicate with ``message`` reads a result; its other parameters are its arguments."""
        sig = predicates.signature(predicates.fieldEqual)
        assert (True, False, ("key", "value"), (), False, None) == (
            sig.reads_result, sig.reads_node_args, sig.required, sig.optional, sig.any_args, sig.problem)

    def test_node_args_predicate_with_default(self):
        """A predicate with ``node_args`` reads the flow's arguments; a default makes an argument optional."""
        from tests.flow import sample

        sig = predicates.signature(sample.isRush)
        assert (False, True, (), ("hours",)) == (sig.reads_result, sig.reads_node_args, sig.required, sig.optional)

    def test_check_args(self):
        """check_args returns the missing required names and the unknown ones."""
        assert (["value"], ["vale"]) == predicates.signature(predicates.fieldEqual).check_args(["key", "vale"])

    def test_var_keyword(self):
        """A predicate with ``**kwargs`` accepts any argument name."""
        def anything(message, **kwargs):
            return True

        assert ([], []) == predicates.signature(anything).check_args(["x", "y"])

    def test_positional_only(self):
        """A positional-only parameter cannot be passed by keyword, so the function is not a predicate."""
        from tests.flow import sample

        assert "its parameter 'message' is positional-only, but predicates are called with keyword arguments" \
            == predicates.signature(sample.positional_only).problem
