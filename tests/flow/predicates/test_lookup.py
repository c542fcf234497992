"""Tests for flowtrace/flow/predicates/_lookup.py: the table of built-ins, name lookup and signatures."""

import pytest

from flowtrace.flow import predicates

FAMILIES = {
    "always": ["alwaysTrue", "alwaysFalse"],
    "values": ["fieldExist", "fieldEqual", "fieldNotEqual", "fieldGreater", "fieldGreaterEqual", "fieldLess",
               "fieldLessEqual", "fieldContain", "argsFieldExist", "argsFieldEqual", "argsFieldNotEqual",
               "argsFieldGreater", "argsFieldGreaterEqual", "argsFieldLess", "argsFieldLessEqual", "argsFieldContain"],
    "lengths": ["fieldLenEqual", "fieldLenNotEqual", "fieldLenGreater", "fieldLenGreaterEqual", "fieldLenLess",
                "argsFieldLenEqual", "argsFieldLenNotEqual", "argsFieldLenGreater", "argsFieldLenGreaterEqual",
                "argsFieldLenLess"],
    "types": ["fieldBool", "fieldDict", "fieldFloat", "fieldInt", "fieldList", "fieldNone", "fieldStr",
              "argsFieldBool", "argsFieldDict", "argsFieldFloat", "argsFieldInt", "argsFieldList", "argsFieldNone",
              "argsFieldStr"],
    "urls": ["fieldUrlScheme", "fieldUrlNetloc", "fieldUrlPath", "argsFieldUrlScheme", "argsFieldUrlNetloc",
             "argsFieldUrlPath"],
    "whole": ["empty", "isBool", "isDict", "isFloat", "isInt", "isList", "isNone", "isStr",
              "argsEmpty", "argsIsBool", "argsIsDict", "argsIsFloat", "argsIsInt", "argsIsList", "argsIsNone",
              "argsIsStr"],
    "world": ["envExist", "envEqual", "httpStatus"],
}


class TestBuiltins:
    def test_names(self):
        """The built-ins are Selinon 1.4's 67 predicates, by Selinon's names, family by family."""
        assert [name for family in FAMILIES.values() for name in family] == list(predicates.BUILTINS)
        assert 67 == len(predicates.BUILTINS)

    def test_public_path(self):
        """Every built-in is importable from flowtrace.flow.predicates by its name, and says that is its home."""
        assert [(name, "flowtrace.flow.predicates") for name in predicates.BUILTINS] == [
            (fn.__name__, getattr(predicates, name).__module__) for name, fn in predicates.BUILTINS.items()]
        assert (["BUILTINS", "Signature", "import_module", "names", "resolve", "signature"]
                == predicates.__all__[67:])
        assert list(predicates.BUILTINS) == predicates.__all__[:67]

    def test_conventions(self):
        """Which built-ins read a result, which read the flow's arguments, and which read neither."""
        readers = {"message": [], "node_args": [], "neither": []}
        for name, fn in predicates.BUILTINS.items():
            sig = predicates.signature(fn)
            assert (None, False, ()) == (sig.problem, sig.any_args, sig.optional)
            assert not (sig.reads_result and sig.reads_node_args)
            readers["message" if sig.reads_result else "node_args" if sig.reads_node_args else "neither"].append(name)
        assert ["alwaysTrue", "alwaysFalse", "envExist", "envEqual", "httpStatus"] == readers["neither"]
        assert [name for name in predicates.BUILTINS if name.startswith("args")] == readers["node_args"]
        assert 31 == len(readers["message"]) and 31 == len(readers["node_args"])


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
        assert sorted([*predicates.BUILTINS, "amountAbove", "each_parcel", "isRush", "positional_only"]) \
            == predicates.names("tests.flow.sample")

    def test_names_only_what_resolves(self):
        """A module attribute that is not callable hides the built-in of its name, so names() leaves both out."""
        names = predicates.names("tests.flow.predicates.shadow")
        assert sorted({*predicates.BUILTINS, "sizeAbove"} - {"fieldGreater"}) == names
        for name in names:
            predicates.resolve(name, "tests.flow.predicates.shadow")
        with pytest.raises(LookupError):
            predicates.resolve("fieldGreater", "tests.flow.predicates.shadow")

    def test_names_of_a_module_that_fails(self):
        """A predicates module that cannot be imported adds no name."""
        assert sorted(predicates.BUILTINS) == predicates.names("tests.flow.no_such_module")


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


class TestDocs:
    def test_every_builtin_is_documented(self):
        """docs/api.rst's automodule lists every built-in, and docs/flows.rst's table names each one."""
        import re
        from pathlib import Path

        docs = Path(__file__).resolve().parents[3] / "docs"
        api = (docs / "api.rst").read_text(encoding="utf-8")
        members = api.split(".. automodule:: flowtrace.flow.predicates\n")[1].split("\n\n")[0]
        flows = (docs / "flows.rst").read_text(encoding="utf-8")
        table = flows.split("Built-in predicates\n")[1].split("User predicates\n")[0]
        in_table = set(re.findall(r"``(\w+)", table))
        covered_by_twin = {name for name in predicates.BUILTINS if name.startswith("args")}
        assert ([], []) == (
            [name for name in predicates.BUILTINS if name not in re.findall(r"\w+", members)],
            [name for name in predicates.BUILTINS if name not in in_table and name not in covered_by_twin])
