"""One `analyze --out-dir` run writes into a folder at a time: a second run started while
another writes there is refused at once and touches nothing, and the hold ends with its
process however it ends (Ctrl+C, or killed outright with its workers still alive)."""

import os
import signal
import sys
import textwrap
import time

import pytest

from myotwitch.host.outputs import LOCK_NAME
from tests.host.batch_runs import analyse, end_all, launch, wait_for, write

psutil = pytest.importorskip("psutil")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals to one process")

#: how long the holder's slow files take: a run that waited for the lock would take this long
SLOW_S = 60

LAUNCHER = """
import os, sys, time
from myotwitch.host import analyze_cmd

real = analyze_cmd.analyze_one
marks = sys.argv[1]

def analyze_one(path, *a, **kw):  # (the workers are forked: they run this, by its name)
    open(os.path.join(marks, "started-" + os.path.basename(path)), "w").close()
    time.sleep({slow})
    return real(path, *a, **kw)

analyze_cmd.analyze_one = analyze_one
if {orphans}:  # (workers that outlive a killed run, as they did before they ended with it)
    analyze_cmd._end_with_parent = lambda *a: None
from myotwitch.host.cli import main
sys.exit(main(sys.argv[2:]))
"""


def holder(tmp_path, files, out, jobs, orphans=False):
    """The real CLI analysing ``files`` into ``out``, each file taking ``SLOW_S``; its marks folder.
    ``orphans``: its workers do not end when it is killed (``analyze_cmd._end_with_parent``)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(LAUNCHER.format(slow=SLOW_S, orphans=orphans)))
    proc = launch(launcher, marks, "analyze", *files, "-j", jobs, "--no-index", "--no-progress", "--out-dir", out,
                  capture=True)
    return proc, marks


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_second_run_into_a_folder_being_written_is_refused_and_touches_nothing(tmp_path, capsys):
    a, b = write(tmp_path / "a.csv"), write(tmp_path / "b.csv", seed=2)
    out = tmp_path / "out"
    assert analyse(a, b, out=out) == 0
    assert not (out / LOCK_NAME).exists()  # (a run that ended leaves no lock file)
    capsys.readouterr()
    proc, marks = holder(tmp_path, [write(tmp_path / "slow.csv", seed=3)], out, jobs=1)
    try:
        wait_for([marks / "started-slow.csv"])
        before = contents(out)
        # unguarded, this run (b left out) removed b.json and wrote its manifest over the holder's
        started = time.monotonic()
        assert analyse(a, out=out) == 2
        took = time.monotonic() - started
        err = capsys.readouterr().err.strip()
        assert proc.poll() is None  # (the first run still writes there)
        assert contents(out) == before
        os.kill(proc.pid, signal.SIGINT)
        _, first_err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"--out-dir {out}: another myotwitch analyze run (process {proc.pid}) is writing there" in err
    assert took < 10, f"refused {took:.1f} s after its start (it waited for the lock)"
    # stopped by Ctrl+C, the first run writes what it has and lets go of the folder
    assert proc.returncode == 130, first_err
    assert not (out / LOCK_NAME).exists()
    assert analyse(a, out=out) == 0
    assert sorted(p.name for p in out.glob("*.json")) == ["a.json"]


def test_a_lock_file_left_by_a_killed_run_blocks_nothing(tmp_path):
    out = tmp_path / "out"
    files = [write(tmp_path / "s1.csv", seed=3), write(tmp_path / "s2.csv", seed=4)]
    proc, marks = holder(tmp_path, files, out, jobs=2, orphans=True)  # (the lock must not rest on their end)
    workers = []
    try:
        wait_for([marks / "started-s1.csv", marks / "started-s2.csv"])
        workers = psutil.Process(proc.pid).children(recursive=True)
        proc.kill()  # SIGKILL: no clean-up runs, and its forked workers live on
        proc.wait()
        assert (out / LOCK_NAME).exists()
        assert any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
        a = write(tmp_path / "a.csv")
        assert analyse(a, out=out) == 0
        assert (out / "a.json").exists() and not (out / LOCK_NAME).exists()
    finally:
        end_all(workers, proc)
