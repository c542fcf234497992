"""A predicates module whose attributes shadow built-ins: one with a function, one with a value."""


def isList(message):  # noqa: N802 (predicate names follow Selinon's)
    """Replaces the built-in isList: true for tuples too."""
    return isinstance(message, (list, tuple))


def sizeAbove(message, size):  # noqa: N802
    """A predicate of its own."""
    return len(message) > size


fieldGreater = "not a function"  # hides the built-in: resolve() refuses the name
SETTING = 3
