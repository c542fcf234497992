"""What the tests need to know about the installed sentry-sdk major: the one place that looks at its version.

flowtrace supports sentry-sdk 2.x and 3.x. Where Sentry itself behaves
differently between them, a test states each major's full expected value with
:func:`by_major`, which picks the installed one (and fails on a major nobody
has written expectations for, rather than passing by accident).
"""

import sentry_sdk

SENTRY_MAJOR = int(sentry_sdk.VERSION.split(".")[0])


def by_major(v2, v3):
    """Return ``v2`` or ``v3``: what is expected of the installed sentry-sdk major."""
    try:
        return {2: v2, 3: v3}[SENTRY_MAJOR]
    except KeyError:
        raise AssertionError("no expectation written for sentry-sdk %s" % sentry_sdk.VERSION) from None


#: Whether a message event gets the current stack (the ``attach_stacktrace``
#: option's default): off in 2.x, on in 3.x. Computed here, so that importing
#: this module fails on a major the helpers below were not written for.
ATTACHES_STACKTRACE_BY_DEFAULT = by_major(False, True)


def no_sentry_filtering() -> dict:
    """``sentry_sdk.init`` options under which Sentry itself filters no frame local and no breadcrumb.

    2.x: an event scrubber with empty deny lists (later 2.x versions keep a
    separate PII deny list, which then needs emptying too). 3.x never filters
    breadcrumb data, and sends frame locals unfiltered unless
    ``data_collection`` says so.
    """
    if SENTRY_MAJOR == 2:
        import inspect

        from sentry_sdk.scrubber import EventScrubber

        lists = {"denylist": []}
        if "pii_denylist" in inspect.signature(EventScrubber).parameters:
            lists["pii_denylist"] = []
        return {"event_scrubber": EventScrubber(**lists)}
    return {"data_collection": {"stack_frame_variables": True}}


def strongest_sentry_filtering() -> dict:
    """``sentry_sdk.init`` options under which Sentry filters the most it can.

    2.x: a recursive event scrubber, which rewrites breadcrumb data in place,
    at every depth. 3.x has no breadcrumb filter at all; its strongest setting
    is the deny list for frame locals.
    """
    if SENTRY_MAJOR == 2:
        from sentry_sdk.scrubber import EventScrubber

        return {"event_scrubber": EventScrubber(recursive=True)}
    return {"data_collection": {"stack_frame_variables": {"mode": "denylist"}}}


def start_root_span(name: str):
    """Start a span with no parent, to use as a context manager: a transaction in 2.x, a segment span in 3.x."""
    if SENTRY_MAJOR == 2:
        return sentry_sdk.start_transaction(name=name)
    return sentry_sdk.start_span(name=name)
