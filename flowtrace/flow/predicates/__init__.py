"""Edge conditions' predicates: Selinon 1.4's 67 built-ins, and finding and inspecting a predicate by its name.

A condition in YAML is a tree of predicates, as in Selinon (see
:mod:`flowtrace.flow.conditions`, which evaluates it). A predicate is a
plain function, called with keyword arguments only:

- one that reads a task's result takes ``message`` (the result, read from the
  task's storage): ``fieldEqual(message, key, value)``;
- one that reads the flow's arguments takes ``node_args``:
  ``argsFieldEqual(node_args, key, value)``;
- the rest of its parameters are filled from ``args``; ``alwaysTrue``,
  ``envExist``, ``envEqual`` and ``httpStatus`` take nothing else.

Names are looked up in the ``global: predicates_module`` first, then among the
built-ins here (:func:`resolve`), so a module written for Selinon (which
re-exports Selinon's predicates) keeps working.

The built-ins have Selinon's names, parameters and results, and never raise:

- the ``field...`` predicates follow a ``key`` into the result, and their
  ``argsField...`` twins into the flow's arguments. A list is a path of keys
  and indexes; anything else, a string with dots in it included, is one key.
  A key that leads nowhere, a value of a type the test cannot use, and
  values that cannot be compared make the predicate false;
- where Selinon raises (an environment variable name that is not a string,
  a value with no truth value), the built-in is false instead;
- two names mean what Selinon 1.4 makes them mean, not what they say:
  ``fieldLenGreaterEqual`` and ``argsFieldLenGreaterEqual`` test
  ``len(value) <= length``, and ``empty`` and ``argsEmpty`` are true when the
  value is *not* empty. Selinon 1.4 has no ``fieldLenLessEqual`` and no
  ``argsFieldLenLessEqual``, so neither has flowtrace.
"""

from __future__ import annotations

from flowtrace.flow.predicates._always import alwaysFalse, alwaysTrue
from flowtrace.flow.predicates._lengths import (
    argsFieldLenEqual, argsFieldLenGreater, argsFieldLenGreaterEqual, argsFieldLenLess, argsFieldLenNotEqual,
    fieldLenEqual, fieldLenGreater, fieldLenGreaterEqual, fieldLenLess, fieldLenNotEqual,
)
from flowtrace.flow.predicates._lookup import BUILTINS, Signature, import_module, names, resolve, signature
from flowtrace.flow.predicates._types import (
    argsFieldBool, argsFieldDict, argsFieldFloat, argsFieldInt, argsFieldList, argsFieldNone, argsFieldStr,
    fieldBool, fieldDict, fieldFloat, fieldInt, fieldList, fieldNone, fieldStr,
)
from flowtrace.flow.predicates._urls import (
    argsFieldUrlNetloc, argsFieldUrlPath, argsFieldUrlScheme, fieldUrlNetloc, fieldUrlPath, fieldUrlScheme,
)
from flowtrace.flow.predicates._values import (
    argsFieldContain, argsFieldEqual, argsFieldExist, argsFieldGreater, argsFieldGreaterEqual, argsFieldLess,
    argsFieldLessEqual, argsFieldNotEqual, fieldContain, fieldEqual, fieldExist, fieldGreater, fieldGreaterEqual,
    fieldLess, fieldLessEqual, fieldNotEqual,
)
from flowtrace.flow.predicates._whole import (
    argsEmpty, argsIsBool, argsIsDict, argsIsFloat, argsIsInt, argsIsList, argsIsNone, argsIsStr,
    empty, isBool, isDict, isFloat, isInt, isList, isNone, isStr,
)
from flowtrace.flow.predicates._world import envEqual, envExist, httpStatus

__all__ = [*BUILTINS, "BUILTINS", "Signature", "import_module", "names", "resolve", "signature"]

# Their public home is this package; say so in pickles and the API docs.
for _obj in (*BUILTINS.values(), Signature, import_module, names, resolve, signature):
    _obj.__module__ = __name__
del _obj
