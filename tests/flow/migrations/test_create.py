"""``create_migration`` (``flowtrace migrate``) writes the migrations Selinon's test data expects, as Selinon does.

The inputs and expected files are Selinon's ``test/data/migrations``
(tests/data/selinon, see its ORIGIN.md), laid out as Selinon's
``test/migrations/test_create.py`` reads them. The comparison is of what a
dispatcher reads: the flows listed, each one's ``translation`` as written and
its ``tainted_edges`` and ``tainting_nodes`` with node lists as sets (Selinon
writes them in set order); ``_meta`` is volatile and only checked for its keys.
Where Selinon is installed, its own generator is run on the same input and
must agree too.
"""

import json
import os
from pathlib import Path

import pytest

from flowtrace.errors import MigrationError, MigrationNotNeeded
from flowtrace.flow.migrations import create_migration, latest_version

DATA = Path(__file__).resolve().parent.parent.parent / "data" / "selinon" / "test" / "data" / "migrations"
INPUT = DATA / "input"
#: Selinon's symbolic links (not copied): add_edge is remove_edge backwards.
FOLDERS = {"add_edge": (INPUT / "new" / "remove_edge", INPUT / "old" / "remove_edge")}
#: test name -> the strategy Selinon's test_create.py uses for it.
CREATED = {"add_from": "IGNORE", "remove_from": "IGNORE", "remove_edge": "RETRY", "add_edge": "FAIL"}
NOT_NEEDED = ("add_to", "remove_to", "add_flow")


def _folders(name):
    return FOLDERS.get(name, (INPUT / "old" / name, INPUT / "new" / name))


def normalized(content):
    """What a dispatcher reads of a migration file, node lists as sets."""
    return {"tainted_flow_strategy": content["tainted_flow_strategy"],
            "migration": {flow: {"translation": entry["translation"],
                                 "tainted_edges": {index: {"from": set(edge["from"]), "to": set(edge["to"]),
                                                           "condition_str": edge["condition_str"]}
                                                   for index, edge in entry["tainted_edges"].items()},
                                 "tainting_nodes": {index: set(nodes) for index, nodes in entry["tainting_nodes"].items()}}
                          for flow, entry in content["migration"].items()}}


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _selinon_create(old_folder, new_folder, migration_dir, strategy):
    """Selinon's own generator on the same folders, as its test_create.py calls it."""
    migrations = pytest.importorskip("selinon.migrations")

    def files(folder, fallback):
        nodes = next(iter(sorted(folder.glob("nodes.y*ml"))), None) or next(iter(sorted(fallback.glob("nodes.y*ml"))))
        return str(nodes), sorted(str(path) for path in (folder / "flows").glob("*.y*ml"))

    old_nodes, old_flows = files(old_folder, new_folder)
    new_nodes, new_flows = files(new_folder, old_folder)
    migrator = migrations.Migrator(str(migration_dir))
    return migrator.create_migration_file(old_nodes, old_flows, new_nodes, new_flows,
                                          migrations.TaintedFlowStrategy[strategy])


class TestSelinonTestData:
    """Each case of Selinon's test_create.py, with flowtrace's generator and with Selinon's."""

    @pytest.mark.parametrize("name", sorted(CREATED))
    def test_matches_selinon_expected_file(self, name, tmp_path):
        """The file written is 1.json and reads as Selinon's expected output for that case."""
        old, new = _folders(name)
        path = create_migration([old], [new], tmp_path, CREATED[name])
        assert str(tmp_path / "1.json") == path
        written = _read(path)
        assert normalized(_read(DATA / "output" / (name + ".json"))) == normalized(written)
        assert {"datetime", "host", "user", "flowtrace_version"} == set(written["_meta"])

    @pytest.mark.parametrize("name", sorted(CREATED))
    def test_matches_selinon_generator(self, name, tmp_path):
        """Selinon 1.4's own generator writes the same migration from the same files."""
        old, new = _folders(name)
        ours = create_migration([old], [new], tmp_path / "ours", CREATED[name], meta=False)
        (tmp_path / "selinon").mkdir()
        theirs = _selinon_create(old, new, tmp_path / "selinon", CREATED[name])
        assert normalized(_read(theirs)) == normalized(_read(ours))

    @pytest.mark.parametrize("name", ("no_change",) + NOT_NEEDED)
    def test_not_needed(self, name, tmp_path):
        """A change that no queued message depends on writes nothing and says so."""
        old, new = _folders(name)
        if not new.exists():
            new = old  # Selinon's new/no_change is a link to old/no_change
        with pytest.raises(MigrationNotNeeded):
            create_migration([old], [new], tmp_path)
        assert [] == os.listdir(tmp_path)

    def test_chained_versions(self, tmp_path):
        """ver_1 to ver_2 to ver_3 writes 1.json and 2.json as Selinon's generate-migrations.sh did."""
        versions = DATA / "migration_dirs" / "_configuration"
        first = create_migration([versions / "ver_1"], [versions / "ver_2"], tmp_path)
        second = create_migration([versions / "ver_2"], [versions / "ver_3"], tmp_path)
        assert [str(tmp_path / "1.json"), str(tmp_path / "2.json")] == [first, second]
        assert normalized(_read(versions / "1.json")) == normalized(_read(first))
        assert normalized(_read(versions / "2.json")) == normalized(_read(second))
        assert 2 == latest_version(tmp_path)


class TestCreateMigration:
    """The generator's own rules and errors."""

    def test_folder_from_configuration(self, tmp_path):
        """Without a folder given, the new configuration's global: migration_dir is used."""
        new = tmp_path / "new.yml"
        target = tmp_path / "migrations"
        new.write_text((INPUT / "new" / "add_from" / "flows" / "flow1.yaml").read_text()
                       + "\n  global:\n    migration_dir: %s\n" % target)
        path = create_migration([INPUT / "old" / "add_from"], [new])
        assert str(target / "1.json") == path

    def test_folder_from_configuration_expanded(self, tmp_path, monkeypatch):
        """{VAR} in global: migration_dir is expanded as the workers' loader expands it."""
        monkeypatch.setenv("FLOWTRACE_TEST_MIGRATIONS", str(tmp_path / "deployed"))
        new = tmp_path / "new.yml"
        new.write_text((INPUT / "new" / "add_from" / "flows" / "flow1.yaml").read_text()
                       + "\n  global:\n    migration_dir: \"{FLOWTRACE_TEST_MIGRATIONS}/migrations\"\n")
        path = create_migration([INPUT / "old" / "add_from"], [new])
        assert str(tmp_path / "deployed" / "migrations" / "1.json") == path

    def test_folder_from_configuration_unset_variable(self, tmp_path, monkeypatch):
        """A {VAR} in global: migration_dir naming an unset variable is an error at its line."""
        monkeypatch.delenv("FLOWTRACE_TEST_MIGRATIONS", raising=False)
        new = tmp_path / "new.yml"
        text = (INPUT / "new" / "add_from" / "flows" / "flow1.yaml").read_text()
        new.write_text(text + "\n  global:\n    migration_dir: \"{FLOWTRACE_TEST_MIGRATIONS}/migrations\"\n")
        line = len((text + "\n  global:\n").splitlines()) + 1
        with pytest.raises(MigrationError) as caught:
            create_migration([INPUT / "old" / "add_from"], [new])
        assert ("%s:%d: global: 'migration_dir' refers to the environment variable FLOWTRACE_TEST_MIGRATIONS, "
                "which is not set" % (new, line)) == str(caught.value)

    def test_no_folder(self):
        """No folder given or configured is a ValueError naming the setting."""
        with pytest.raises(ValueError, match="global: migration_dir"):
            create_migration([INPUT / "old" / "add_from" / "flows"], [INPUT / "new" / "add_from" / "flows"])

    def test_unknown_strategy(self, tmp_path):
        """An unknown strategy is refused before anything is read."""
        with pytest.raises(ValueError, match="IGNORE, RETRY, FAIL"):
            create_migration([INPUT / "old" / "add_from"], [INPUT / "new" / "add_from"], tmp_path, "SKIP")

    def test_next_version(self, tmp_path):
        """The file written is one more than the newest; hidden and non-JSON files do not count."""
        for name in ("3.json", ".7.json", "9.txt"):
            (tmp_path / name).write_text("{}")
        path = create_migration([INPUT / "old" / "add_from"], [INPUT / "new" / "add_from"], tmp_path)
        assert str(tmp_path / "4.json") == path

    def test_badly_named_file(self, tmp_path):
        """A JSON file in the folder not named by a number is an error naming it."""
        (tmp_path / "latest.json").write_text("{}")
        with pytest.raises(MigrationError) as caught:
            create_migration([INPUT / "old" / "add_from"], [INPUT / "new" / "add_from"], tmp_path)
        assert "%s: not a migration file name: migrations are named 1.json, 2.json, ..." % (
            tmp_path / "latest.json") == str(caught.value)

    def test_bad_yaml(self, tmp_path):
        """An edge without to is reported at its file and line."""
        bad = tmp_path / "bad.yml"
        bad.write_text("flow-definitions:\n  - name: flow1\n    edges:\n      - from: Task1\n")
        with pytest.raises(MigrationError) as caught:
            create_migration([bad], [INPUT / "new" / "add_from"], tmp_path)
        assert "%s:4: an edge needs from and to" % bad == str(caught.value)

    def test_missing_path(self, tmp_path):
        """A path that does not exist is reported as flowtrace check reports it."""
        with pytest.raises(MigrationError) as caught:
            create_migration([tmp_path / "nope"], [INPUT / "new" / "add_from"], tmp_path)
        assert "%s:1: no such file or folder" % (tmp_path / "nope") == str(caught.value)
