"""The command line's contract for what a new user runs into: bad outputs, missing extras and
out-of-range options are refused with one line before any work starts; `live` reports a bad
source or screenshot path on stderr with a non-zero exit."""

import json
import os
import subprocess
import sys

import pytest

from myotwitch.host.paths import data_dir

CSV = str(data_dir() / "examples" / "calf-30s.csv")


def run(*args, home, timeout=90):
    """A real process (for `live`, whose Qt event loop and exit code are the point); its Qt
    settings go to ``home``, not the user's."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "myotwitch.host.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """The CLI in this process (fast): its exit code and what it printed."""
    from myotwitch.host.cli import main

    def call(*args):
        capsys.readouterr()
        rc = main(list(args))
        out, err = capsys.readouterr()
        return Result(rc, out, err)

    return call


def one_error_line(r, *words):
    lines = r.stderr.strip().splitlines()
    assert r.returncode not in (0, 70), r.stderr
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("option", ["--json", "--csv", "--report"])
def test_an_unwritable_output_is_refused_before_the_analysis(option, _isolated_home, cli):
    r = cli("analyze", CSV, option, "/nope/dir/x.out")
    one_error_line(r, option, "/nope/dir")
    assert r.stdout == ""  # no summary: nothing was analysed
    assert not (_isolated_home / "myotwitch.sqlite").exists()  # nor indexed


def test_an_output_that_is_a_folder_is_refused(tmp_path, cli):
    one_error_line(cli("analyze", CSV, "--json", str(tmp_path)), "--json", "is a folder")


def test_simulate_link_in_a_missing_folder_is_refused(cli):
    one_error_line(cli("simulate", "--link", "/nope/dir/link", "--duration", "1s"), "--link", "/nope/dir")


def test_report_without_matplotlib_names_the_extra(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the report extra were not installed
    r = cli("analyze", CSV, "--report", str(tmp_path / "r.html"))
    one_error_line(r, "--report", "myotwitch[report]")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("args, words", [
    (("analyze", CSV, "-j", "0"), ["-j/--jobs 0"]),
    (("analyze", CSV, "-j", "-3"), ["-j/--jobs -3"]),
    (("advice", "--days", "-5"), ["--days -5"]),
    (("advice", "--days", "999999999"), ["--days 999999999"]),
    (("log", "--list", "--days", "0"), ["--days 0"]),
    (("record", "--source", "sim:", "--duration", "0s"), ["--duration '0s'", "longer than zero"]),
    (("record", "--source", "sim:", "--rotate", "weekly"), ["--rotate 'weekly'", "daily"]),
    (("log", "stress", "3", "--unit", "min"), ["stress takes no unit"]),
    (("log", "sleep", "7", "--unit", "days"), ["sleep unit 'days'", "h or min"]),
    (("log", "sleep", "7", "--at", "2099-01-01"), ["in the future"]),
])
def test_accepted_but_wrong_options_are_refused(args, words, cli):
    one_error_line(cli(*args), *words)


def test_sleep_in_minutes_is_converted(cli):
    r = cli("log", "sleep", "420", "--unit", "min")
    assert r.returncode == 0, r.stderr
    assert "sleep 7" in r.stdout


def test_log_help_example_uses_the_real_option(capsys):
    from myotwitch.host.cli import main

    with pytest.raises(SystemExit):
        main(["log", "--help"])
    out = capsys.readouterr().out
    assert "--edit 3 --set-value 200" in out and "--value 200" not in out.replace("--set-value", "")


@pytest.mark.parametrize("junk", ["random", "truncated", "folder", "wal"])
def test_a_corrupt_diary_does_not_stop_analysis(junk, tmp_path, _isolated_home, cli, caplog):
    import sqlite3

    db = _isolated_home / "myotwitch.sqlite"
    _isolated_home.mkdir(parents=True, exist_ok=True)
    if junk == "random":
        db.write_bytes(os.urandom(8192))
    elif junk == "folder":
        db.mkdir()
    else:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, x TEXT)")
        con.executemany("INSERT INTO sessions (x) VALUES (?)", [("y" * 500,)] * 200)
        con.commit()
        con.close()
        if junk == "truncated":
            db.write_bytes(db.read_bytes()[:3000])
        else:
            pathlib_wal = db.with_name(db.name + "-wal")
            pathlib_wal.write_bytes(b"\x37\x7f\x06\x82" + os.urandom(4000))
            db.write_bytes(db.read_bytes()[:100] + os.urandom(2000))
    out = tmp_path / "o.json"
    r = cli("analyze", CSV, "--json", str(out), "--no-index", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["stats"]["counts"]["twitch"] >= 0
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelname == "WARNING"]
    assert len(warnings) == 1 and "myotwitch.sqlite" in warnings[0], warnings
    assert "\n" not in warnings[0]


# -- live ------------------------------------------------------------------------------------------------
pytestmark_gui = pytest.mark.skipif(not __import__("importlib").util.find_spec("PySide6"), reason="needs PySide6")


@pytestmark_gui
@pytest.mark.parametrize("source, words", [
    ("bogus:", ["unknown kind 'bogus'"]),
    ("sim:foo=1", ["foo"]),
    ("serial:/dev/ttyNOPE", ["/dev/ttyNOPE"]),
    ("file:/nope.edf", ["nope.edf"]),
])
def test_live_with_a_bad_source_exits_non_zero_with_one_line(source, words, tmp_path):
    one_error_line(run("live", "--source", source, "--run-for", "0.5", home=tmp_path), *words)


@pytestmark_gui
def test_live_screenshot_to_a_missing_folder_is_one_line(tmp_path):
    one_error_line(run("live", "--source", "sim:", "--screenshot", "/nope/dir/x.png", "--run-for", "0.5",
                       home=tmp_path), "--screenshot", "/nope/dir")


@pytestmark_gui
def test_live_screenshot_is_confirmed(tmp_path):
    shot = tmp_path / "x.png"
    r = run("live", "--source", "sim:", "--screenshot", str(shot), "--run-for", "1", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 1000
    assert f"screenshot saved to {shot}" in r.stderr
