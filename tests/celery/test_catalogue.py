"""Tests for the Celery integration's rows of the event catalogue and events.level_for()."""

import pytest

from flowtrace import Trace, events


class TestCeleryRows:
    """The events the Celery integration appended."""

    def test_values_levels_and_emitters(self):
        """TASK_PUBLISH..TASK_UNKNOWN are 53..58, with their levels and emitters."""
        rows = [(row.value, row.name, row.level, row.emitter) for row in events.EVENTS[53:]]
        assert [(53, "TASK_PUBLISH", "info", "producer"),
                (54, "TASK_RECEIVED", "info", "worker"),
                (55, "TASK_IGNORED", "info", "task"),
                (56, "TASK_REJECTED", "warning", "task/worker"),
                (57, "TASK_REVOKED", "info", "worker"),
                (58, "TASK_UNKNOWN", "error", "worker")] == rows

    def test_constants(self):
        """Each new event is a Trace constant."""
        assert (53, 54, 55, 56, 57, 58) == (Trace.TASK_PUBLISH, Trace.TASK_RECEIVED, Trace.TASK_IGNORED,
                                            Trace.TASK_REJECTED, Trace.TASK_REVOKED, Trace.TASK_UNKNOWN)

    def test_warn_events_keep_the_seed_first(self):
        """WARN_EVENTS is the seed's tuple, then TASK_REJECTED."""
        assert (12, 7, 9, 8, 10, 37, 40, 41, 42, 43, 44, 46, 48, 49, 56) == Trace.WARN_EVENTS

    def test_task_keys(self):
        """Every task event lists the identity keys the integration always sends."""
        identity = ("task_name", "task_id", "parent_id", "root_id", "group_id", "retries", "queue", "hostname",
                    "state")
        for name in ("TASK_START", "TASK_END", "TASK_FAILURE", "TASK_RETRY", "TASK_PUBLISH", "TASK_RECEIVED",
                     "TASK_IGNORED", "TASK_REJECTED", "TASK_REVOKED", "TASK_UNKNOWN"):
            assert [] == [key for key in identity if key not in events.BY_NAME[name].keys], name


class TestLevelFor:
    """events.level_for(): the catalogue level, or info for an expected outcome."""

    def test_catalogue_level(self):
        """Without expected, the level is the catalogue's."""
        assert ("warning", "info") == (events.level_for(Trace.TASK_FAILURE, {"expected": False}),
                                       events.level_for(Trace.TASK_END, {}))

    def test_expected_is_info(self):
        """An event marked expected: True is reported at info."""
        assert "info" == events.level_for(Trace.TASK_FAILURE, {"expected": True})

    def test_only_true_counts(self):
        """A truthy value other than True does not lower the level."""
        assert "warning" == events.level_for(Trace.TASK_FAILURE, {"expected": "yes"})

    def test_unknown_event(self):
        """An unknown event value is a ValueError."""
        with pytest.raises(ValueError, match="unknown flowtrace event 999"):
            events.level_for(999, {})
