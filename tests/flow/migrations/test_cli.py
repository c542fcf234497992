"""``flowtrace migrate``: the path written on stdout, or one line on stderr and exit code 1, never a traceback."""

from pathlib import Path

from flowtrace import cli

INPUT = Path(__file__).resolve().parent.parent.parent / "data" / "selinon" / "test" / "data" / "migrations" / "input"


class TestMigrateCommand:
    """flowtrace migrate --old ... --new ... -o DIR."""

    def test_writes_and_prints(self, tmp_path, capsys):
        """Two runs write 1.json then 2.json, with the strategy asked for, and print their paths."""
        argv = ["migrate", "--old", str(INPUT / "old" / "add_from"), "--new", str(INPUT / "new" / "add_from"),
                "-o", str(tmp_path), "-t", "FAIL", "--no-meta"]
        assert 0 == cli.main(argv)
        assert 0 == cli.main(argv)
        assert ("%s\n%s\n" % (tmp_path / "1.json", tmp_path / "2.json"), "") == capsys.readouterr()
        text = (tmp_path / "2.json").read_text()
        assert '"tainted_flow_strategy": "FAIL"' in text and "_meta" not in text

    def test_not_needed(self, tmp_path, capsys):
        """A change no queued message depends on: exit code 1, the reason on stderr, nothing written."""
        argv = ["migrate", "--old", str(INPUT / "old" / "add_to"), "--new", str(INPUT / "new" / "add_to"),
                "-o", str(tmp_path)]
        assert 1 == cli.main(argv)
        assert ("", "flowtrace migrate: error: no flow's edges changed: queued dispatcher messages need no "
                    "migration\n") == capsys.readouterr()
        assert [] == list(tmp_path.iterdir())

    def test_bad_yaml(self, tmp_path, capsys):
        """A YAML error is file:line: message on stderr."""
        bad = tmp_path / "bad.yml"
        bad.write_text("flow-definitions: [\n")
        assert 1 == cli.main(["migrate", "--old", str(bad), "--new", str(bad), "-o", str(tmp_path / "m")])
        out, err = capsys.readouterr()
        assert ("", True, False) == (out, err.startswith("flowtrace migrate: error: %s:2: " % bad),
                                     "Traceback" in err)

    def test_needs_old_and_new(self, capsys):
        """--old and --new are both required: exit code 2."""
        assert 2 == cli.main(["migrate", "--new", str(INPUT / "new" / "add_to")])
        assert "the following arguments are required: --old" in capsys.readouterr().err
