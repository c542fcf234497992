"""The catalogue's claim about each event: emitted by some emitter of flowtrace, or marked as not emitted yet."""

import pathlib
import re

import pytest

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


class TestSelinonValues:
    """Selinon 1.4's value of each event, beside flowtrace's."""

    def test_match_selinon_1_4_itself(self):
        """SELINON_VALUES is exactly the constants of the installed Selinon 1.4 (the bench extra)."""
        trace = pytest.importorskip("selinon.trace", reason="Selinon is in the bench extra").Trace
        assert {name: value for name, value in vars(trace).items() if name.isupper() and isinstance(value, int)
                and not isinstance(value, bool)} == events.SELINON_VALUES

    def test_values_shift_by_one_after_dispatcher_wakeup(self):
        """Selinon 1.4 is one higher from FLOW_START to EAGER_FAILURE; FLOW_SCHEDULE is its 1; 0, 51, 52 agree."""
        pairs = {row.name: (row.value, row.selinon_value) for row in events.EVENTS}
        expected = {name: (value, value + 1) for name, (value, _) in pairs.items() if 1 <= value <= 49}
        expected.update(DISPATCHER_WAKEUP=(0, 0), FLOW_SCHEDULE=(50, 1), STORAGE_DELETE=(51, 51),
                        STORAGE_DELETED=(52, 52))
        expected.update({row.name: (row.value, None) for row in events.EVENTS if row.value > 52})
        assert expected == pairs

    def test_from_selinon_maps_every_stored_id(self):
        """Each of Selinon 1.4's 53 values maps to the flowtrace event of the same name."""
        by_value = sorted((value, name) for name, value in events.SELINON_VALUES.items())
        assert by_value == [(value, events.NAMES[events.from_selinon(value)]) for value in range(53)]

    @pytest.mark.parametrize("value", [-1, 53, True, "1", None, 1.0])
    def test_from_selinon_refuses_what_selinon_never_wrote(self, value):
        """A value Selinon 1.4 has no event for is a ValueError naming the range."""
        with pytest.raises(ValueError) as caught:
            events.from_selinon(value)
        assert "Selinon 1.4 has no event %r; its values are 0 to 52" % (value,) == str(caught.value)
