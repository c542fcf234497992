"""The catalogue's claim about each event: emitted by some emitter of flowtrace, or marked as not emitted yet."""

import pathlib
import re

from flowtrace import events

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "flowtrace"
# Where the constants are defined and routed, not emitted.
DEFINING = {"events.py", "trace.py", "cli.py"}


def referenced_events():
    """The event names the package's emitters use as ``Trace.NAME``."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name in DEFINING and path.parent == PACKAGE:
            continue
        found.update(re.findall(r"\bTrace\.([A-Z][A-Z_]+)\b", path.read_text(encoding="utf-8")))
    return found & set(events.BY_NAME)


class TestEmitted:
    def test_every_event_is_emitted_or_marked(self):
        """The events no emitter uses are exactly those NOT_EMITTED lists."""
        assert sorted(events.NOT_EMITTED) == sorted(
            row.value for row in events.EVENTS if row.name not in referenced_events())

    def test_marked_events_say_so(self):
        """Each event not emitted says so, with its reason, in its description; no other description does."""
        assert ({value: "Not emitted yet: %s." % reason for value, reason in events.NOT_EMITTED.items()}
                == {row.value: row.description[row.description.index("Not emitted yet"):] for row in events.EVENTS
                    if "Not emitted yet" in row.description})

    def test_selinon_never_emitted_storage_events_are(self):
        """STORAGE_DISCONNECT, STORAGE_RETRIEVED and STORAGE_STORED, which Selinon defines and never emits, are emitted."""
        names = {"STORAGE_DISCONNECT", "STORAGE_RETRIEVED", "STORAGE_STORED"}
        assert (names, set()) == (names & referenced_events(),
                                  {events.BY_NAME[name].value for name in names} & set(events.NOT_EMITTED))
