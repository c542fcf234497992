"""The two predicates that read nothing: ``alwaysTrue`` and ``alwaysFalse``."""

from __future__ import annotations


def alwaysTrue() -> bool:  # noqa: N802 (Selinon's names)
    """Always true: the condition of an edge that gives none.

    Returns:
        True.

    .. versionadded:: 0.1.0
    """
    return True


def alwaysFalse() -> bool:  # noqa: N802
    """Always false: an edge that never fires, for switching one off.

    Returns:
        False.

    .. versionadded:: 0.1.0
    """
    return False


PREDICATES = (alwaysTrue, alwaysFalse)
