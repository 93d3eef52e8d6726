"""The command line's contract for what a new user runs into: bad outputs, missing extras and
out-of-range options are refused with one line before any work starts; `live` reports a bad
source or screenshot path on stderr with a non-zero exit."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's /sys")
@pytest.mark.parametrize("args, option", [
    (("analyze", CSV, "--json", "/sys/myotwitch-test.json"), "--json"),
    (("analyze", CSV, "--out-dir", "/sys/kernel/myotwitch-test"), "--out-dir"),
    (("history", "--report", "/sys/myotwitch-test.html"), "--report"),
    (("simulate", "--truth", "/sys/myotwitch-test.json", "--duration", "1s"), "--truth"),
])
def test_an_output_the_system_will_not_take_is_refused_before_the_work(args, option, _isolated_home, cli):
    """/sys takes no new files, even from root, whose permission bits always pass: the check
    makes a file there instead of trusting them (it was an "internal error" after the work)."""
    r = cli(*args)
    one_error_line(r, option, "not writable" if option != "--out-dir" else "--out-dir")
    assert r.stdout == ""


def test_an_output_that_fails_after_the_analysis_is_named_and_the_others_are_written(tmp_path, _isolated_home, cli,
                                                                                    monkeypatch):
    """A disk that fills up while the results are written: the events table fails, the JSON is
    still written and the summary printed, and one line names the file that failed."""
    import errno

    from myotwitch.host import analyze_cmd

    def full(path, sessions):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(analyze_cmd, "write_events_csv", full)
    out, table = tmp_path / "a.json", tmp_path / "events.csv"
    r = cli("analyze", CSV, "--json", str(out), "--csv", str(table))
    one_error_line(r, str(table), "No space left on device")
    assert json.loads(out.read_text())["stats"]["counts"]["twitch"] >= 0
    assert "twitches" in r.stdout


@pytest.mark.parametrize("args, words", [
    (("--status-interval", "0"), ["--status-interval 0: expected"]),  # (it said "0.0")
    (("--events", "/nope/dir/ev.jsonl"), ["--events", "/nope/dir"]),
    (("--out", "/sys/kernel/myotwitch-test"), ["--out"]),
])
def test_record_refuses_bad_options_and_outputs_before_opening_the_device(args, words, tmp_path, cli):
    """The source named here does not exist: the option's error comes first, so nothing waits
    for (or talks to) a device before a mistake in the command line is known."""
    if "/sys/" in " ".join(args) and not os.path.isdir("/sys/kernel"):
        pytest.skip("needs Linux's /sys")
    base = ["record", "--source", "serial:/nope/tty", "--duration", "1s"]
    if "--out" not in args:
        base += ["--out", str(tmp_path)]
    one_error_line(cli(*base, *args), *words)


@pytest.mark.parametrize("args, words", [
    (("--drop", "2"), ["--drop 2", "0 to 0.5"]),
    (("--bit-errors", "5"), ["--bit-errors 5"]),
    (("--mains", "55"), ["--mains 55", "50, 60 (Hz) or off"]),
    (("--twitch-rate", "-3"), ["--twitch-rate -3"]),
    (("--unplug-every", "0.5"), ["--unplug-every 0.5", "0 (off)"]),
    (("--unplug-every", "1", "--unplug-for", "5"), ["--unplug-for 5", "half of --unplug-every 1"]),
])
def test_simulate_refuses_faults_that_would_stop_the_data(args, words, cli):
    """The ranges ``sim:`` takes: beyond them no frame may get through, and a recording
    against it with a duration never ended."""
    one_error_line(cli("simulate", *args, "--duration", "1s"), *words)


def test_live_without_a_display_says_so_before_loading_the_detector(cli, monkeypatch):
    """On a headless machine the first run compiled the kernels (~30 s) before this line."""
    pytest.importorskip("PySide6")
    from myotwitch.host import cli as cli_module

    def loading(*a):
        raise AssertionError("the detector was loaded before the display was checked")

    monkeypatch.setattr(cli_module, "prepare_detector", loading)
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    one_error_line(cli("live"), "no display")


def test_a_shipped_example_is_analysed_but_kept_out_of_the_history(tmp_path, _isolated_home, cli):
    """The demo recording is nobody's session: analysing it shows its figures without adding
    it to the history (whose advice rules would then read the demo's rate as the user's);
    the same file copied elsewhere is the user's own and is added."""
    from myotwitch.host.index import SessionIndex

    r = cli("analyze", CSV)
    assert r.returncode == 0, r.stderr
    assert "twitches" in r.stdout
    with SessionIndex.default() as idx:
        assert idx.sessions(include_undated=True) == []
    mine = tmp_path / "mine.csv"
    shutil.copyfile(CSV, mine)
    assert cli("analyze", str(mine)).returncode == 0
    with SessionIndex.default() as idx:
        assert [os.path.basename(s["file"]) for s in idx.sessions(include_undated=True)] == ["mine.csv"]


def test_a_json_file_or_a_folder_given_to_analyze_is_named_as_such(tmp_path, cli):
    """An event log is not a recording (it was read as a CSV whose 'time' column held JSON),
    and a folder is named by the path typed, not its last part."""
    log = tmp_path / "night.events.jsonl"
    log.write_text('{"type": "device"}\n{"type": "twitch"}\n')
    one_error_line(cli("analyze", str(log), "--no-index"), "night.events.jsonl", "event log, not a recording")
    one_error_line(cli("analyze", str(tmp_path), "--no-index"), str(tmp_path), "is a directory")
    fifo = tmp_path / "stream.edf"
    os.mkfifo(fifo)  # (reading it waited for a writer forever, and stalled the whole batch)
    one_error_line(cli("analyze", str(fifo), "--no-index"), str(fifo), "is a pipe or socket")


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
    (("analyze", CSV, "--band", "500-20"), ["--band 500-20", "below the upper edge"]),
    (("analyze", CSV, "--sensitivity", "-1"), ["--sensitivity -1"]),
    (("analyze", CSV, "--episode-gap", "0"), ["--episode-gap 0"]),
    (("analyze", CSV, "--max-rest-floor", "-1"), ["--max-rest-floor -1", ">= 0"]),
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
@pytest.mark.parametrize("name", ["shot.txt", "shot"])
def test_live_screenshot_without_an_image_ending_is_refused_at_once(name, tmp_path):
    """Qt reads the format from the ending: the window had run its seconds, then said only "the
    image could not be saved"."""
    r = run("live", "--source", "sim:", "--screenshot", str(tmp_path / name), "--run-for", "3", home=tmp_path)
    one_error_line(r, "--screenshot", name, ".png")
    assert "connected" not in r.stderr and not (tmp_path / name).exists()


@pytestmark_gui
def test_live_screenshot_is_confirmed(tmp_path):
    shot = tmp_path / "x.png"
    r = run("live", "--source", "sim:", "--screenshot", str(shot), "--run-for", "1", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 1000
    assert f"screenshot saved to {shot}" in r.stderr
    assert "connected to sim:" in r.stderr and "sim::" not in r.stderr  # no doubled colon


@pytest.mark.parametrize("command", ["analyze", "history"])
@pytest.mark.parametrize("name", ["r.txt", "r.pdf", "report"])
def test_a_report_named_as_something_else_is_refused(command, name, tmp_path, _isolated_home, cli):
    """The report is an HTML page: ``--report r.txt`` was written as HTML under a text name."""
    args = (command, CSV) if command == "analyze" else (command,)
    one_error_line(cli(*args, "--report", str(tmp_path / name)), "--report", name, ".html")
    assert not (tmp_path / name).exists()


def test_units_for_an_edf_file_are_said_to_be_unused(tmp_path, _isolated_home, cli, caplog):
    """``--units`` scales CSV samples; an EDF header gives its own, so the option was silently
    ignored. It still is (the header is right), but the user is told, naming the file."""
    import logging

    edf = str(data_dir() / "examples" / "calf-10min.edf")
    with caplog.at_level(logging.WARNING):
        r = cli("analyze", CSV, edf, "--units", "mV", "--no-index", "--no-progress", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    said = [m for m in caplog.messages if "--units mV" in m]
    assert len(said) == 1 and "calf-10min.edf" in said[0] and "calf-30s.csv" not in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert cli("analyze", CSV, "--units", "mV", "--no-index", "--json", str(tmp_path / "r.json")).returncode == 0
    assert not [m for m in caplog.messages if "--units" in m]


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_and_debug_work_after_the_command_too(where, tmp_path, _isolated_home, cli):
    """``myotwitch analyze x.csv -q`` was refused ('unrecognized arguments'): the common options
    are taken on either side of the command, and one given before is not undone after."""
    out = str(tmp_path / "r.json")
    args = ["-q", "analyze", CSV, "--json", out] if where == "before" else ["analyze", CSV, "--json", out, "-q"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8") as fh:
        assert "stats" in json.load(fh)
    assert r.stderr == ""
    from myotwitch.host.cli import build_parser

    assert build_parser().parse_args(["--debug", "analyze", CSV]).debug is True
    assert build_parser().parse_args(["analyze", CSV, "--debug"]).debug is True
    assert build_parser().parse_args(["analyze", CSV]).debug is False


def test_the_terminal_summary_names_units_in_words(tmp_path, _isolated_home, cli):
    """Recurring waveforms were listed as 'U5 6 (= P1)'; they read 'U5 with 6 twitches'."""
    edf = str(data_dir() / "examples" / "calf-10min.edf")
    r = cli("analyze", edf, "--no-index")
    line = next((ln for ln in r.stdout.splitlines() if ln.strip().startswith("units")), "")
    assert " with " in line and " twitches" in line and "(=" not in line, r.stdout


def _dated_recording(path, seed, hours_ago):
    """A 60 s EDF+ of resting calf with twitches, started ``hours_ago`` before now."""
    import datetime as dt

    import numpy as np

    from myotwitch.dsp.synth import case_spec, synthesize
    from myotwitch.host.edf import EdfWriter

    x, _ = synthesize(case_spec("clean_rest", 1000.0, 60.0, seed=seed))
    start = (dt.datetime.now() - dt.timedelta(hours=hours_ago)).replace(microsecond=0)
    with EdfWriter(str(path), fs=1000.0, labels=["calf"], uv_per_count=0.125, start=start) as w:
        w.write(np.nan_to_num(x))
    return str(path)


def test_the_advice_of_a_run_counts_every_file_it_analysed(tmp_path, _isolated_home, cli):
    """With several files, the advice (printed once, and in each file's JSON) was built from
    the history and the last file only: the others were left out until the next run."""
    a = _dated_recording(tmp_path / "a.edf", 1, hours_ago=3)
    b = _dated_recording(tmp_path / "b.edf", 2, hours_ago=2)
    out = tmp_path / "r.json"
    r = cli("analyze", a, b, "--json", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    with open(out, encoding="utf-8") as fh:
        results = json.load(fh)["sessions"]
    twitches = sum(x["stats"]["counts"]["twitch"] for x in results)
    assert twitches > 0
    for x in results:
        m = x["advice"]["metrics"]
        assert m["sessions"] == 2 and m["twitches_total"] == twitches


@pytest.mark.parametrize("args, words", [
    (("log", "sleep", "7", "--list"), ["an entry to add and --list"]),
    (("log", "--delete", "3", "--edit", "4", "--set-value", "8"), ["--edit and --delete"]),
    (("log", "--edit", "3"), ["--edit 3: nothing to change"]),
    (("log", "--set-value", "3"), ["--set-value goes with --edit"]),
    (("log", "sleep", "7", "--at", "1900-01-01"), ["--at '1900-01-01'", "years ago"]),
])
def test_diary_commands_that_would_drop_part_of_what_was_typed_are_refused(args, words, _isolated_home, cli):
    """`log sleep 7 --list` listed and dropped the entry; `--delete 3 --edit 4` deleted and
    dropped the edit; `--edit 3` alone said 'updated'. Each is one line now, and nothing is
    written."""
    from myotwitch.host.index import SessionIndex

    one_error_line(cli(*args), *words)
    with SessionIndex.default() as idx:
        assert idx.entries() == []


def test_diary_values_carry_their_unit(_isolated_home, cli):
    """`log caffeine 2 --unit cups` said 'caffeine 190': the stored unit (mg) is shown, in the
    confirmation and in the list."""
    r = cli("log", "caffeine", "2", "--unit", "cups")
    assert r.returncode == 0 and "caffeine 190 mg" in r.stdout
    cli("log", "sleep", "90", "--unit", "min")
    listed = cli("log", "--list").stdout
    assert "190 mg" in listed and "1.5 h" in listed
    assert "--set-value/--at/--note" in " ".join(cli_help("log").split())


def cli_help(command):
    import contextlib
    import io

    from myotwitch.host.cli import build_parser

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        build_parser().parse_args([command, "--help"])
    return buf.getvalue()


@pytest.mark.parametrize("speed", ["-1", "100000", "nan", "inf"])
def test_a_replay_speed_out_of_range_is_refused(speed, tmp_path, cli):
    """`file:...?speed=-1` was taken, and `--duration 2s` then recorded 4 s."""
    one_error_line(cli("record", "--source", f"file:{CSV}?speed={speed}", "--duration", "2s", "--out", str(tmp_path)),
                   f"speed {float(speed):g} must be 0 to 1000")
    assert not list(tmp_path.iterdir())


def test_recording_a_replay_keeps_it_out_of_the_history(tmp_path, _isolated_home, cli):
    """Recording a file's replay made a new session dated now: the same data counted again
    (a CSV without a date became a dated one). The copy is written, named after the file
    replayed, and left out of the index."""
    from myotwitch.host.index import SessionIndex

    mine = tmp_path / "my night.csv"
    shutil.copyfile(CSV, mine)
    out = tmp_path / "out"
    r = cli("record", "--source", f"file:{mine}?speed=0", "--duration", "5s", "--out", str(out), "--events", "none")
    assert r.returncode == 0, r.stderr
    written = sorted(p.name for p in out.iterdir() if p.suffix == ".edf")
    assert len(written) == 1 and written[0].endswith("_replay-my-night.edf"), written
    with SessionIndex.default() as idx:
        assert idx.sessions(include_undated=True) == []


def test_a_recording_still_being_written_is_said_to_be_and_left_to_its_recorder(tmp_path, _isolated_home, cli):
    """`analyze` on a file the recorder still writes reported its first seconds as if whole, and
    indexed them; the recorder then added the finished file as well."""
    from myotwitch.host.index import SessionIndex

    rec = _dated_recording(tmp_path / "night.edf", 3, hours_ago=1)
    (tmp_path / "night.edf.recording").write_text("{}")
    out = tmp_path / "r.json"
    assert cli("analyze", rec, "--json", str(out)).returncode == 0
    with open(out, encoding="utf-8") as fh:
        warnings = json.load(fh)["quality"]["warnings"]
    assert "still being recorded" in warnings[0]
    with SessionIndex.default() as idx:
        assert idx.sessions(include_undated=True) == []


def test_the_session_list_tells_files_of_the_same_name_apart(tmp_path, _isolated_home, cli):
    """Two folders' recordings of the same name were listed under one base name each."""
    (tmp_path / "left").mkdir()
    (tmp_path / "right").mkdir()
    a = _dated_recording(tmp_path / "left" / "night.edf", 4, hours_ago=3)
    b = _dated_recording(tmp_path / "right" / "night.edf", 5, hours_ago=2)
    c = _dated_recording(tmp_path / "other.edf", 6, hours_ago=1)
    out = cli("analyze", a, b, c, "--no-index", "--no-progress").stdout
    listed = out[out.index("sessions (oldest first):"):]
    assert a in listed and b in listed and "  other.edf" in listed and str(tmp_path / "other.edf") not in listed


def test_max_rest_floor_keeps_a_working_muscle_out_of_the_twitch_count(tmp_path, _isolated_home, cli):
    """A needle recording of a working muscle has no quiet background: its larger units stood
    out of their own activity as twitches. The default bar keeps them out; --max-rest-floor 0
    turns it off (for a front end noisier than that at rest) and they come back."""
    needle = str(data_dir() / "recordings" / "tibialis-anterior-needle-healthy.edf")

    def run(*options):
        out = tmp_path / f"r{len(options)}.json"
        r = cli("analyze", needle, "--json", str(out), *options)
        assert r.returncode == 0, r.stderr
        result = json.loads(out.read_text())
        return [e for e in result["events"] if e["kind"] == "twitch"], result["quality"]["warnings"]

    twitches, warnings = run()
    assert twitches == []
    assert any("noise floor was over 25 µV RMS on tibialis_ant" in w for w in warnings)  # and why
    twitches, warnings = run("--max-rest-floor", "0")
    assert len(twitches) >= 1 and not any("noise floor was over" in w for w in warnings)


def test_analyze_prints_the_note_on_sessions_counted_differently(_isolated_home, cli):
    import dataclasses
    import datetime as dt

    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:
        for i, least in enumerate((10.0, 15.0)):
            idx.add_summary({"file": f"/rec/{i}.edf", "start": (dt.datetime.now() - dt.timedelta(days=2 - i)).isoformat(),
                             "channels": ["ch0"], "fs": 1000.0,
                             "detector": dataclasses.asdict(DetectorConfig(min_twitch_uv=least)),
                             "stats": {"duration_s": 7200.0, "valid_s": 7200.0, "counts": {"twitch": 40},
                                       "twitches_per_hour": 20.0, "episodes": 1, "twitches_per_channel": [40]}})
    r = cli("analyze", CSV)
    assert r.returncode == 0, r.stderr
    assert "note: these files were counted with different detector settings (smallest twitch counted 10 / 15 µV" in \
        r.stdout.replace("\n", " ")


def test_analyze_says_what_the_window_held_when_there_is_no_advice(tmp_path, _isolated_home, cli):
    """With no advice item, analyze said "No recordings from the last 28 days" about a run of
    recordings from today: the advice it printed had been rebuilt without the numbers."""
    import datetime as dt

    import numpy as np

    from myotwitch.host.edf import EdfWriter

    files = []
    for i in range(2):  # quiet skin, no twitch: nothing calls for advice
        path = str(tmp_path / f"quiet{i}.edf")
        start = (dt.datetime.now() - dt.timedelta(hours=3 - i)).replace(microsecond=0)
        with EdfWriter(path, fs=1000.0, labels=["calf"], uv_per_count=0.125, start=start) as w:
            w.write(np.random.default_rng(i).normal(0.0, 3.0, 60_000))
        files.append(path)
    out = tmp_path / "r.json"
    r = cli("analyze", *files, "--json", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["sessions"][0]["advice"]["items"] == []
    text = r.stdout.replace("\n", " ")
    assert "No recordings from the last" not in text
    assert "2 recordings in the last 28 days (no twitches): nothing in them" in text


def test_a_copy_of_a_shipped_example_under_its_own_name_is_kept_out_of_the_history(tmp_path, _isolated_home, cli):
    """README's example names the demo in a source checkout; with the package installed
    (not editable) that is another path than the package's, and the demo became the user's
    session, its units given lasting names."""
    from myotwitch.host.index import SessionIndex

    checkout = tmp_path / "myotwitch" / "data" / "examples"
    checkout.mkdir(parents=True)
    shutil.copyfile(CSV, checkout / os.path.basename(CSV))
    assert cli("analyze", str(checkout / os.path.basename(CSV))).returncode == 0
    with SessionIndex.default() as idx:
        assert idx.sessions(include_undated=True) == []
    edited = tmp_path / os.path.basename(CSV)  # the same name, other samples: the user's own
    edited.write_text(Path(CSV).read_text(encoding="utf-8").replace(",-17.875,", ",-17.5,", 1), encoding="utf-8")
    assert cli("analyze", str(edited)).returncode == 0
    with SessionIndex.default() as idx:
        assert len(idx.sessions(include_undated=True)) == 1


@pytest.mark.parametrize("option", ["--json", "--csv", "--report"])
def test_an_output_that_is_a_recording_is_refused_and_the_recording_kept(tmp_path, option, _isolated_home, cli):
    """`analyze --json x.edf y.edf` took x.edf as the JSON file and wrote over the recording
    (exit 0); so did `analyze x.csv --csv x.csv`."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    shutil.copyfile(CSV, a)
    shutil.copyfile(CSV, b)
    before = a.read_bytes()
    edf = tmp_path / "night.edf"
    edf.write_bytes(b"0" * 256)
    r = cli("analyze", option, str(edf), str(a))
    one_error_line(r, option, "night.edf", "recording")
    assert edf.read_bytes() == b"0" * 256
    r = cli("analyze", str(a), str(b), option, str(a))
    line = one_error_line(r, option, "a.csv")
    assert "would be overwritten" in line or option == "--report"  # (a report must be .html anyway)
    assert a.read_bytes() == before
    r = cli("analyze", option, str(a), str(b))  # `--json a.csv b.csv`: a.csv taken as the output
    one_error_line(r, option, "a.csv")
    assert a.read_bytes() == before


def test_json_and_csv_cannot_both_go_to_stdout(_isolated_home, cli):
    one_error_line(cli("analyze", CSV, "--json", "-", "--csv", "-"), "--json - and --csv -", "only one")


def test_out_dir_keeps_one_result_per_file_when_names_repeat(tmp_path, _isolated_home, cli):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        shutil.copyfile(CSV, tmp_path / d / "x.csv")
    out = tmp_path / "out"
    r = cli("analyze", str(tmp_path / "d1" / "x.csv"), str(tmp_path / "d2" / "x.csv"), "--out-dir", str(out),
            "--no-progress", "--no-index")
    assert r.returncode == 0, r.stderr
    results = sorted(p.name for p in out.glob("*.json"))
    assert results == ["d1__x.csv.json", "d2__x.csv.json"]
    from myotwitch.host.analyze_cmd import (
        _out_names,  # names that differ only in case are one file on some systems
    )

    assert len(set(_out_names(["d1/Rec.edf", "d2/rec.edf"]).values())) == 2
    assert {json.loads((out / n).read_text())["file"] for n in results} == {
        str(tmp_path / d / "x.csv") for d in ("d1", "d2")}


def test_live_without_the_gui_extra_says_which_extra(monkeypatch):
    """Without pyqtgraph the live app failed with an internal error after the checks."""
    import argparse
    import importlib.util

    from myotwitch.host.errors import MyotwitchError
    from myotwitch.host.gui.app import check_live

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyqtgraph" else real(name, *a))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    args = argparse.Namespace(window=None, run_for=None, screenshot=None)
    with pytest.raises(MyotwitchError, match=r"live needs pyqtgraph.*pip install 'myotwitch\[gui\]'"):
        check_live(args)


def test_a_failing_event_log_does_not_stop_the_recording(tmp_path, caplog):
    """`record --events /dev/full` ended in an internal error (the log's close raised again
    after the recorder had said 'disk full', naming the recording)."""
    from myotwitch.host.eventlog import EventLog

    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    log = EventLog("/dev/full")
    log.write("event", kind="twitch")
    log.write("event", kind="twitch")  # (said once; later writes go nowhere)
    log.close()
    said = [r.getMessage() for r in caplog.records if "event log" in r.getMessage()]
    assert len(said) == 1 and "/dev/full" in said[0] and "recording goes on" in said[0]


def test_the_json_of_several_files_is_a_session_list_however_many_were_read(tmp_path, _isolated_home, cli):
    """With one of two files unreadable the JSON was the one session's object, not the list
    README gives for several files."""
    out = tmp_path / "r.json"
    r = cli("analyze", CSV, str(tmp_path / "nothere.csv"), "--json", str(out), "--no-index")
    assert r.returncode == 1
    result = json.loads(out.read_text())
    assert result["schema"] == "myotwitch.analysis/1" and len(result["sessions"]) == 1
    one = tmp_path / "one.json"
    assert cli("analyze", CSV, "--json", str(one), "--no-index").returncode == 0
    assert "events" in json.loads(one.read_text())  # one file: its result itself


def test_csv_dash_is_stdout(tmp_path, monkeypatch, _isolated_home, cli):
    """`--csv -` made a file named '-' (while `--json -` meant stdout)."""
    monkeypatch.chdir(tmp_path)
    r = cli("analyze", CSV, "--csv", "-", "--no-index")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("file,channel,channel_label,kind,onset_s")
    assert "twitches" not in r.stdout.splitlines()[1]  # the table alone, no summary text
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("args, words", [
    (("devices", "--scan-time", "-1", "--no-lsl"), ("--scan-time -1", "0.1-600 seconds")),
    (("devices", "--lsl-wait", "-1", "--no-ble"), ("--lsl-wait -1", "0-600 seconds")),
    (("record", "--source", "sim:", "--out", "OUT", "--duration", "2s", "--birthdate", "2090-01-01"),
     ("--birthdate 2090-01-01", "future")),
    (("analyze", CSV, "--channels", "0,0", "--no-index"), ("calf-30s.csv", "chosen twice")),
    (("record", "--source", "sim:", "--out", "OUT", "--duration", "-5s"), ("--duration '-5s'", "expected e.g.")),
    (("simulate", "--duration", "-1m"), ("--duration", "-1m")),
    (("analyze", CSV, "--min-twitch", "nan", "--no-index"), ("--min-twitch nan", "finite number")),
    (("analyze", CSV, "--max-rest-floor", "inf", "--no-index"), ("--max-rest-floor inf", "finite number")),
    (("record", "--source", "sim:", "--out", "", "--duration", "2s"), ("--out", "empty name")),
    (("analyze", CSV, "--out-dir", " ", "--no-index"), ("--out-dir", "empty name")),
])
def test_values_that_cannot_be_meant_are_refused_in_one_line(args, words, tmp_path, _isolated_home, cli):
    """Accepted before: a negative scan or wait, a birth date in the future, one channel twice
    (analysed and listed twice). A negative duration written as its own word ("--duration -5s")
    was "expected one argument", as if the value were missing."""
    r = cli(*[str(tmp_path / "out") if a == "OUT" else a for a in args])
    one_error_line(r, *words)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.edf"))


def test_a_recording_renamed_csv_is_read_as_what_it_is(tmp_path, _isolated_home, cli):
    """An EDF renamed .csv was read as a CSV and its error printed binary junk."""
    edf = str(data_dir() / "examples" / "calf-10min.edf")
    renamed = tmp_path / "night.csv"
    shutil.copyfile(edf, renamed)
    out = tmp_path / "r.json"
    r = cli("analyze", str(renamed), "--json", str(out), "--no-index")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["stats"]["counts"]["twitch"] > 0


@pytest.mark.parametrize("args, words", [
    (("analyze", "x.edf", "--mains", "55"), ("--mains", "invalid choice: '55'", "see myotwitch analyze --help")),
    (("simulate", "--seed", "abc"), ("--seed", "'abc'", "see myotwitch simulate --help")),
    (("bogus",), ("invalid choice: 'bogus'",)),
])
def test_option_errors_are_one_line_without_the_usage(args, words, capsys):
    """argparse printed 5-10 lines of usage above its one line of error."""
    from myotwitch.host.cli import main

    with pytest.raises(SystemExit) as stop:
        main(list(args))
    assert stop.value.code == 2
    one_error_line(Result(2, "", capsys.readouterr().err), *words)


def test_csv_writes_over_its_own_event_table_again(tmp_path, _isolated_home, cli):
    table = tmp_path / "events.csv"
    assert cli("analyze", CSV, "--csv", str(table), "--no-index").returncode == 0
    assert cli("analyze", CSV, "--csv", str(table), "--no-index").returncode == 0  # (a rerun is no recording)
    assert table.read_text().startswith("file,channel,")


def test_ctrl_c_while_the_kernels_compile_stops_the_command(monkeypatch):
    """On a first run, a Ctrl+C during the ~30 s compile was raised inside the compiler's
    cleanup code, printed as ignored, and the recorder went on to record until stopped again."""
    import os
    import signal
    import time

    from myotwitch.dsp import kernels
    from myotwitch.host.cli import prepare_detector

    def compile_that_swallows_interrupts():
        try:  # (where the interrupt used to land: a destructor, whose exceptions Python drops)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        except KeyboardInterrupt:
            pass

    monkeypatch.setattr(kernels, "front_end", compile_that_swallows_interrupts)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        prepare_detector()
    assert signal.getsignal(signal.SIGINT) is before
    monkeypatch.setattr(kernels, "front_end", lambda: None)
    prepare_detector()  # no Ctrl+C: nothing raised


@pytest.mark.parametrize("command", [("history",), ("log", "--list"), ("advice",)])
def test_a_damaged_history_database_is_named_with_what_to_do(command, _isolated_home, cli):
    """It was "internal error: DatabaseError: file is not a database", naming no file."""
    _isolated_home.mkdir(parents=True, exist_ok=True)
    db = _isolated_home / "myotwitch.sqlite"
    db.write_bytes(b"this is not an SQLite file " * 200)
    one_error_line(cli(*command), str(db), "damaged", "move it aside")
    assert db.read_bytes().startswith(b"this is not")  # left as it was: the user decides


def test_a_home_that_is_a_file_is_named_with_what_to_do(tmp_path, monkeypatch, cli):
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    monkeypatch.setenv("MYOTWITCH_HOME", str(home))
    one_error_line(cli("history"), "myotwitch.sqlite", "cannot be opened or written", "MYOTWITCH_HOME")


def test_analyze_says_the_sessions_did_not_reach_a_damaged_history(tmp_path, _isolated_home, cli, caplog):
    """The analysis stands (exit 0); before, nothing said the session was not indexed."""
    _isolated_home.mkdir(parents=True, exist_ok=True)
    (_isolated_home / "myotwitch.sqlite").write_bytes(b"\x00garbage" * 500)
    r = cli("analyze", CSV, "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert "not added to the history" in caplog.text and "damaged" in caplog.text
    assert json.loads((tmp_path / "r.json").read_text())["stats"]["counts"]["twitch"] > 0


@pytest.mark.parametrize("column, value", [("per_channel", "{not json"), ("start", "yesterday-ish"),
                                           ("valid_s", "abc"), ("units", "[1,")])
def test_one_damaged_session_row_leaves_the_others_in_the_history(column, value, _isolated_home, cli, caplog):
    """One malformed row made `history` and `advice` fail with an internal error."""
    import datetime as dt

    from myotwitch.host.index import SessionIndex

    now = dt.datetime.now().replace(microsecond=0)
    with SessionIndex.default() as idx:
        for k in range(3):
            idx.add_session(file=f"/data/my night{k}.edf", start=now - dt.timedelta(days=k + 1), duration_s=3600,
                            twitches=10 * (k + 1))
        idx.db.execute(f"UPDATE sessions SET {column}=? WHERE file=?", (value, "/data/my night1.edf"))
    r = cli("history", "--json", "-")
    assert r.returncode == 0, r.stderr
    assert "night1.edf cannot be read" in caplog.text
    if os.name != "nt":  # (the command it suggests, quoted for this system's shell)
        assert "`myotwitch history --forget '/data/my night1.edf'` removes it" in caplog.text
    listed = json.dumps(json.loads(r.stdout))
    assert "night0.edf" in listed and "night2.edf" in listed and "night1.edf" not in listed
    assert cli("advice").returncode == 0
    assert cli("history", "--forget", "/data/my night1.edf").returncode == 0
    caplog.clear()
    assert cli("history").returncode == 0 and "cannot be read" not in caplog.text


@pytest.mark.parametrize("args", [("record", "--source", "sim:", "--out", "OUT", "--duration", "soon"),
                                  ("record", "--source", "sim:", "--out", "OUT", "--rotate", "hourly"),
                                  ("simulate", "--duration", "0s")])
def test_a_bad_time_option_exits_as_any_bad_option(args, tmp_path, _isolated_home, cli):
    """They exited 1 (a failure) where every other option error exits 2 (usage)."""
    r = cli(*[str(tmp_path / "out") if a == "OUT" else a for a in args])
    one_error_line(r, "expected")
    assert r.returncode == 2


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_truth_file_the_disk_will_not_hold_is_one_line(_isolated_home, cli):
    """/dev/full passes the start-up check (it opens for writing) and fails when written: it was
    "internal error: OSError"."""
    r = cli("simulate", "--truth", "/dev/full", "--duration", "1s")
    one_error_line(r, "--truth /dev/full", "could not be written")


def test_patient_fields_the_header_cannot_hold_are_written_near_as_typed_and_said(tmp_path, _isolated_home, cli,
                                                                                 caplog):
    """A non-ASCII name became underscores, and long fields were cut, without a word."""
    from myotwitch.host.edf import read_header

    out = tmp_path / "out"
    r = cli("record", "--source", "sim:speed=0", "--out", str(out), "--duration", "2s",
            "--patient-name", "Jürgen Groß", "--patient-code", "P" * 70)
    assert r.returncode == 0, r.stderr
    assert "--patient-name 'Jürgen Groß' is written as 'Jurgen_Gro_'" in caplog.text
    assert "the patient fields take 86 characters and an EDF header keeps 80" in caplog.text
    [edf] = out.glob("*.edf")
    assert read_header(edf).patient == "P" * 70 + " X X Jurge"  # (80 characters)


@pytest.mark.parametrize("args, option", [
    (("analyze", CSV, "--no-index", "--json", ""), "--json"),
    (("analyze", CSV, "--no-index", "--csv", ""), "--csv"),
    (("analyze", CSV, "--no-index", "--report", ""), "--report"),
    (("analyze", CSV, "--no-index", "--out-dir", ""), "--out-dir"),
    (("history", "--json", ""), "--json"),
    (("history", "--csv", ""), "--csv"),
    (("history", "--report", ""), "--report"),
    (("history", "--forget", "x.edf", "--json", ""), "--json goes with showing the history"),
    (("record", "--source", "sim:", "--duration", "1s", "--events", ""), "--events"),
    (("simulate", "--duration", "1s", "--truth", ""), "--truth"),
    (("simulate", "--duration", "1s", "--link", ""), "--link"),
])
def test_an_empty_output_name_is_refused_not_skipped(args, option, _isolated_home, tmp_path, monkeypatch, cli):
    """An output given as '' (a shell variable left unset: `--out-dir "$OUT"`) had been taken as
    not given: the analysis ran and its results were written nowhere, without a word."""
    monkeypatch.chdir(tmp_path)
    r = cli(*args)
    line = one_error_line(r, option)
    assert "empty" in line or "--forget" in args, line
    assert r.stdout == ""  # refused before any work
    assert os.listdir(tmp_path) == []  # (record had made ./recordings, its --out, before it refused --events)


@pytest.mark.parametrize("events", ["", "nope/ev.jsonl", "new/sub/ev.jsonl"])
def test_a_refused_record_leaves_no_folder_behind(events, _isolated_home, tmp_path, cli):
    r = cli("record", "--source", "sim:", "--duration", "1s", "--out", str(tmp_path / "new"), "--events",
            events and str(tmp_path / events))
    one_error_line(r, "--events")
    assert os.listdir(tmp_path) == []


def test_record_events_inside_the_out_folder_it_makes(_isolated_home, tmp_path, cli):
    """The --out folder is made after the checks; an --events file in it is taken as it will be."""
    r = cli("record", "--source", "sim:speed=0", "--duration", "1s", "--out", str(tmp_path / "new"), "--events",
            str(tmp_path / "new" / "ev.jsonl"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "new" / "ev.jsonl").is_file() and list((tmp_path / "new").glob("*.edf"))


def test_analyze_outputs_inside_the_out_dir_it_makes(_isolated_home, tmp_path, cli):
    """`analyze ... --out-dir res --csv res/events.csv --json res/all.json --report res/r.html`
    had been refused, "folder res does not exist", though --out-dir makes res before they are
    written; a folder under it that nothing makes is still refused."""
    out = tmp_path / "res"
    r = cli("analyze", CSV, "--no-index", "--no-progress", "--out-dir", str(out), "--csv", str(out / "events.csv"),
            "--json", str(out / "all.json"))
    assert r.returncode == 0, r.stderr
    assert (out / "events.csv").is_file() and (out / "all.json").is_file() and (out / "sessions.csv").is_file()
    r = cli("analyze", CSV, "--no-index", "--out-dir", str(tmp_path / "res2"), "--csv", str(tmp_path / "res2" / "a" / "e.csv"))
    assert r.returncode == 2 and "does not exist" in r.stderr and not (tmp_path / "res2").exists()


def test_an_empty_file_name_in_a_batch_is_named_as_such(_isolated_home, tmp_path, cli):
    r = cli("analyze", CSV, "", "--no-index", "--out-dir", str(tmp_path / "o"))
    assert r.returncode == 1
    assert "'': an empty file name" in r.stderr
    assert ": no such file" not in r.stderr
    assert "'': an empty file name" in (tmp_path / "o" / "failed.csv").read_text()


def test_myotwitch_s_own_json_given_as_a_recording_is_named_for_what_it_is(_isolated_home, tmp_path, cli):
    """analyze's own results read back in (an --out-dir NAME.json, a batch's --json) had been
    guessed to be "an event log or a report?"; a recorder's sidecar given to a `file:` replay
    was told a sidecar was what it expected."""
    out = tmp_path / "out"
    assert cli("analyze", CSV, CSV.replace("30s.csv", "10min.edf"), "--no-index", "--out-dir", str(out),
               "--json", str(tmp_path / "all.json")).returncode == 0
    line = one_error_line(cli("analyze", str(out / "calf-30s.json"), "--no-index"), "calf-30s.json")
    assert "analysis of a recording" in line and "of calf-30s.csv" in line and "event log" not in line
    line = one_error_line(cli("analyze", str(tmp_path / "all.json"), "--no-index"), "all.json")
    assert "results of a batch" in line and "event log" not in line
    sidecar = tmp_path / "night.summary.json"
    sidecar.write_bytes((out / "calf-30s.json").read_bytes())
    line = one_error_line(cli("record", "--source", f"file:{sidecar}", "--duration", "1s", "--out",
                              str(tmp_path / "rec")), "night.summary.json")
    assert "analysis of a recording" in line and "expected" not in line


@pytest.mark.parametrize("indexed", [False, True])
def test_a_copy_cut_short_is_offered_forget_only_when_it_is_in_the_history(indexed, _isolated_home, tmp_path, cli,
                                                                          caplog):
    """A batch holding a night and a copy of it cut short counts it once and says so; it had
    also offered `history --forget COPY` under --no-index, where the copy is in no history (the
    command then found no session of it)."""
    night = Path(CSV.replace("30s.csv", "10min.edf")).read_bytes()
    (tmp_path / "night.edf").write_bytes(night)
    (tmp_path / "copy.edf").write_bytes(night[:len(night) // 3])  # (an interrupted card copy)
    r = cli("analyze", str(tmp_path / "night.edf"), str(tmp_path / "copy.edf"), "-j", "1",
            *(() if indexed else ("--no-index",)))
    assert r.returncode == 0, r.stderr
    said = [m for m in caplog.messages if "holds the same stretch" in m]
    assert len(said) == 1 and "copy.edf" in said[0].split(" holds")[0], caplog.messages
    assert ("history --forget" in said[0]) == indexed, said[0]
    if indexed:
        from myotwitch.host.index import SessionIndex

        with SessionIndex.default() as idx:  # (the command it gives finds what it is to remove)
            assert str(tmp_path / "copy.edf") in [s["file"] for s in idx.sessions(include_undated=True)]


@pytest.mark.parametrize("args", [("analyze", CSV, "--no-index", "--out-dir"),
                                  ("record", "--source", "sim:", "--duration", "1s", "--out")])
def test_a_file_given_as_an_output_folder_is_named_so(args, _isolated_home, tmp_path, cli):
    """`--out-dir results.json` (or `--out /dev/null`) had been refused as "cannot create the
    folder (File exists)"."""
    taken = tmp_path / "results.json"
    taken.write_text("{}")
    line = one_error_line(cli(*args, str(taken)), str(taken), "is a file, not a folder")
    assert "File exists" not in line
    assert taken.read_text() == "{}"


@pytest.mark.parametrize("units", ["counts:0", "counts:-0.5", "counts:nan", "counts:inf", "counts:1:nan",
                                   "counts:1:2:3"])
def test_a_csv_scale_that_cannot_be_is_refused_once_before_the_batch(units, _isolated_home, tmp_path, cli):
    """`--units counts:0` had read every channel as zeros ("electrode not connected?") and
    counted nothing; a bad --units was refused by each file of a batch in turn, not once."""
    other = tmp_path / "other.csv"
    shutil.copy(CSV, other)
    r = cli("analyze", CSV, str(other), "--no-index", "--units", units)
    one_error_line(r, f"--units {units}", "expected")
    assert r.returncode == 2 and r.stdout == ""


def test_a_csv_scale_in_counts_still_reads(_isolated_home, cli):
    r = cli("analyze", CSV, "--no-index", "--units", "counts:0.125:-2048", "--json", "-")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stats"]["duration_s"] == 30.0


def test_a_closed_recording_with_one_twitch_says_one_twitch(_isolated_home, tmp_path, cli, caplog):
    """The recorder's closing line had read "(4 s, 1 twitches)"."""
    import logging

    caplog.set_level(logging.INFO)
    r = cli("record", "--source", "sim:speed=0", "--duration", "4s", "--out", str(tmp_path), "--events", "none")
    assert r.returncode == 0, r.stderr
    (summary,) = tmp_path.glob("*.summary.json")
    n = json.loads(summary.read_text())["stats"]["counts"]["twitch"]
    assert n == 1  # (this seed's first 4 s hold one twitch)
    (line,) = [m for m in caplog.messages if m.startswith("closed ")]
    assert line.endswith("(4 s, 1 twitch)"), line


@pytest.mark.parametrize("args, option", [
    (("history", "--csv", "{edf}"), "--csv"),
    (("history", "--json", "{edf}"), "--json"),
    (("history", "--report", "{edf_html}"), "--report"),
    (("history", "--csv", "{csv}"), "--csv"),
    (("history", "--json", "{csv}"), "--json"),
    (("record", "--source", "sim:speed=0", "--duration", "1s", "--out", "{tmp}/rec", "--events", "{edf}"), "--events"),
    (("simulate", "--duration", "1s", "--truth", "{edf}"), "--truth"),
    (("analyze", CSV, "--no-index", "--json", "{edf_json}"), "--json"),
])
def test_no_output_is_written_over_a_recording(args, option, _isolated_home, tmp_path, cli):
    """`history --csv night.edf` (or --json, record --events, simulate --truth) had replaced the
    recording with its output, without a word; analyze refused this by name only."""
    night = Path(CSV.replace("30s.csv", "10min.edf")).read_bytes()
    names = {"edf": "night.edf", "edf_html": "night.html", "edf_json": "night.json", "csv": "night.csv"}
    for key, name in names.items():
        (tmp_path / name).write_bytes(Path(CSV).read_bytes() if key == "csv" else night)
    given = [a.format(tmp=tmp_path, **{k: str(tmp_path / n) for k, n in names.items()}) for a in args]
    one_error_line(cli(*given), option, "it would be overwritten")
    for key, name in names.items():
        assert (tmp_path / name).read_bytes() == (Path(CSV).read_bytes() if key == "csv" else night), name


def test_history_overwrites_its_own_daily_table(_isolated_home, tmp_path, cli):
    out = tmp_path / "days.csv"
    for _ in range(2):  # (the second run finds the first's table there)
        r = cli("history", "--csv", str(out))
        assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("date,hours,twitches,")


@pytest.mark.parametrize("args", [("log", "caffeine", "100", "--days", "5"), ("log", "--delete", "1", "--days", "5"),
                                  ("log", "--edit", "1", "--note", "x", "--days", "5")])
def test_log_days_beside_another_action_is_refused(args, _isolated_home, cli):
    """`log caffeine 100 --days 5` had added the entry and dropped --days without a word, where
    every other option that does not go with the action is refused."""
    one_error_line(cli(*args), "--days goes with --list")
    assert cli("log", "--list").stdout.startswith("no diary entries in the last 28 days")  # nothing was added
    r = cli("log", "--days", "5")  # (`log` alone lists)
    assert r.returncode == 0 and "last 5 days" in r.stdout


def test_one_file_given_by_two_paths_is_analysed_once(_isolated_home, tmp_path, monkeypatch, cli, caplog):
    """`analyze c.csv ./c.csv /abs/c.csv` analysed the file three times: three rows in
    sessions.csv and the --json, "3 JSON files written" where one NAME.json was written over twice."""
    import logging

    caplog.set_level(logging.INFO)
    monkeypatch.chdir(tmp_path)
    shutil.copy(CSV, tmp_path / "c.csv")
    r = cli("analyze", "c.csv", "./c.csv", str(tmp_path / "c.csv"), str(tmp_path / "*.csv"), "--no-index",
            "--out-dir", "out", "--json", "all.json")
    assert r.returncode == 0, r.stderr
    assert [s["file"] for s in json.loads((tmp_path / "all.json").read_text())["sessions"]] == ["c.csv"]
    assert len((tmp_path / "out" / "sessions.csv").read_text().splitlines()) == 2  # (header and one row)
    assert any(m.startswith("1 JSON file,") for m in caplog.messages), caplog.messages
    assert any(m.startswith("./c.csv: the same file as c.csv") for m in caplog.messages)


@pytest.mark.parametrize("mains", ["off", "50", "60"])
def test_simulate_takes_mains_off_as_sim_does(mains, cli):
    """`simulate --mains off` (as `sim:mains=off`) was refused as "invalid float value: 'off'"."""
    r = cli("simulate", "--mains", mains, "--duration", "1s")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("/dev/")


def test_advice_json_takes_a_file_as_history_json_does(_isolated_home, tmp_path, cli):
    """`advice --json advice.json` was "unrecognized arguments: advice.json", where history's and
    analyze's --json take a PATH; `advice --json` alone still prints it."""
    out = tmp_path / "advice.json"
    r = cli("advice", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    printed = cli("advice", "--json")
    assert printed.returncode == 0
    written, shown = json.loads(out.read_text()), json.loads(printed.stdout)
    assert written.keys() == shown.keys() and written["items"] == shown["items"]
    one_error_line(cli("advice", "--json", str(tmp_path / "nope" / "a.json")), "--json", "does not exist")


def test_myotwitch_s_own_tables_given_as_recordings_are_named_for_what_they_are(_isolated_home, tmp_path, cli):
    """`analyze out/sessions.csv` (its own table fed back) had been refused as "column 'file':
    'calf-30s.csv' is not a number of seconds", as if a recording's time column were bad."""
    out = tmp_path / "out"
    assert cli("analyze", CSV, str(tmp_path / "gone.csv"), "--no-index", "--out-dir", str(out), "--csv",
               str(tmp_path / "events.csv")).returncode == 1  # (gone.csv: a failed.csv)
    assert cli("history", "--csv", str(tmp_path / "days.csv")).returncode == 0
    for path, what in [(out / "sessions.csv", "table of analysed sessions"), (out / "failed.csv", "could not analyse"),
                       (out / "manifest.csv", "list of a batch's results"), (tmp_path / "events.csv", "detected events"),
                       (tmp_path / "days.csv", "daily table")]:
        line = one_error_line(cli("analyze", str(path), "--no-index"), path.name, what, "not a recording")
        assert "number of seconds" not in line and "sample rate" not in line, line
    one_error_line(cli("record", "--source", f"file:{out / 'sessions.csv'}", "--duration", "1s", "--out",
                       str(tmp_path / "rec")), "sessions.csv", "table of analysed sessions")
    # (the file is read before --out is made: a refused one had left an empty folder behind)
    assert not (tmp_path / "rec").exists()


def test_a_narrow_band_is_analysed(tmp_path, _isolated_home, cli):
    """`--band 20-40` at 1 kHz is a band the settings allow: it had failed inside the detector
    with numpy's "setting an array element with a sequence" (its glitch template, cut short)."""
    import numpy as np

    p = tmp_path / "r.csv"
    np.savetxt(p, np.column_stack([np.arange(3000) / 1000, np.random.default_rng(1).normal(0, 4, 3000)]),
               delimiter=",", header="time_s,calf", comments="")
    r = cli("analyze", str(p), "--band", "20-40", "--no-index", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["detector"]["band_high_hz"] == 40.0


def test_record_without_a_sensor_leaves_no_folder_it_made(tmp_path, _isolated_home, cli, monkeypatch):
    """`record` with no sensor attached fails once the folder is made (the sensor is looked for
    last): the empty folder it made for nothing had stayed behind; one that was there stays."""
    import myotwitch.host.sources.serial as serial_source

    monkeypatch.setattr(serial_source.list_ports, "comports", lambda *a, **k: [])  # (no USB serial port)
    one_error_line(cli("record", "--out", str(tmp_path / "rec"), "--duration", "1s"), "no myotwitch device")
    assert not (tmp_path / "rec").exists()
    (tmp_path / "kept").mkdir()
    one_error_line(cli("record", "--out", str(tmp_path / "kept"), "--duration", "1s"), "no myotwitch device")
    assert (tmp_path / "kept").is_dir()
