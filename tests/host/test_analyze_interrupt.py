"""A SIGINT that reaches the main process alone (`kill -INT PID`, not the terminal's Ctrl+C,
which the workers get too) stops a parallel batch at once: the finished files are written,
the running workers are ended, and none is left behind."""

import csv
import json
import os
import signal
import sys
import textwrap
import time

import pytest

from tests.host.batch_runs import end_all, launch, wait_for, write

psutil = pytest.importorskip("psutil")

#: how long a slow worker's file takes: a batch that waited for its workers took this long to stop
SLOW_S = 60

LAUNCHER = """
import os, sys, time
from myotwitch.host import analyze_cmd

real = analyze_cmd.analyze_one
marks = sys.argv[1]

def analyze_one(path, *a, **kw):  # (the workers are forked: they run this, by its name)
    name = os.path.basename(path)
    if name != "quick.csv":
        open(os.path.join(marks, "started-" + name), "w").close()
        time.sleep({slow})
    out = real(path, *a, **kw)
    open(os.path.join(marks, "done-" + name), "w").close()
    return out

analyze_cmd.analyze_one = analyze_one
from myotwitch.host.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to one process")
def test_kill_int_stops_the_workers_and_writes_what_is_done(tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(LAUNCHER.format(slow=SLOW_S)))
    files = [write(tmp_path / "quick.csv", 1), write(tmp_path / "slow1.csv", 2), write(tmp_path / "slow2.csv", 3)]
    out = tmp_path / "out"
    proc = launch(launcher, marks, "analyze", *files, "-j", "3", "--no-index", "--no-progress", "--out-dir", out,
                  capture=True)
    try:
        wait_for([marks / "done-quick.csv", marks / "started-slow1.csv", marks / "started-slow2.csv"])
        time.sleep(0.5)  # (the main process takes in the quick file's result)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) == 3
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)  # the main process alone
        _, err = proc.communicate(timeout=SLOW_S + 30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert took < 10, f"stopped {took:.1f} s after the SIGINT (the workers were waited for)"
    assert "Traceback" not in err and "interrupted after 1 of 3 files" in err
    left = [w.pid for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    for w in workers:
        try:
            w.kill()
        except psutil.NoSuchProcess:
            pass
    assert not left, f"workers left running: {left}"
    assert json.loads((out / "quick.json").read_text())["file"] == files[0]
    assert not (marks / "done-slow1.csv").exists()
    with open(out / "failed.csv", newline="", encoding="utf-8") as fh:
        assert sorted(r["file"] for r in csv.DictReader(fh)) == files[1:]


def _running(workers):
    """The workers still running (a zombie has ended: only its parent's wait is missing)."""
    out = []
    for w in workers:
        try:
            if w.is_running() and w.status() != psutil.STATUS_ZOMBIE:
                out.append(w)
        except psutil.NoSuchProcess:
            pass
    return out


#: LAUNCHER for any start method: the main module is run again in spawn's workers and in the
#: fork server, so the batch runs only under __main__; the start method is the third argument
ANY_START = """
import multiprocessing, os, sys, time
from myotwitch.host import analyze_cmd

real = analyze_cmd.analyze_one
marks = sys.argv[1]

def analyze_one(path, *a, **kw):
    open(os.path.join(marks, "started-" + os.path.basename(path)), "w").close()
    time.sleep({slow})
    out = real(path, *a, **kw)
    open(os.path.join(marks, "done-" + os.path.basename(path)), "w").close()
    return out

analyze_cmd.analyze_one = analyze_one
if __name__ == "__main__":
    if sys.argv[2] != "default":
        multiprocessing.set_start_method(sys.argv[2])
    from myotwitch.host.cli import main
    sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("start", ["default", "spawn", "forkserver"])
def test_workers_end_soon_after_the_main_process_is_killed(tmp_path, start):
    """A batch's main process killed outright (SIGKILL: nothing of its own runs, no Ctrl+C
    handling, no pool shutdown) had left its workers analysing on, orphans, for as long as their
    files took (two ran ~14 minutes). Each worker now ends itself when its parent dies, with
    every start method (forkserver, Python 3.14's default on Linux: there the fork server had
    lived on with them)."""
    import multiprocessing

    if start not in ("default", *multiprocessing.get_all_start_methods()):
        pytest.skip(f"no {start} here")
    marks = tmp_path / "marks"
    marks.mkdir()
    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(ANY_START.format(slow=SLOW_S)))
    files = [write(tmp_path / "slow1.csv", 2), write(tmp_path / "slow2.csv", 3)]
    proc = launch(launcher, marks, start, "analyze", *files, "-j", "2", "--no-index", "--no-progress",
                  "--out-dir", tmp_path / "out")
    workers = []
    try:
        wait_for([marks / "started-slow1.csv", marks / "started-slow2.csv"])
        # (with forkserver, the fork server and the workers it forked; spawn's resource tracker too)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert len(workers) >= 2
        proc.kill()  # SIGKILL
        proc.wait()
        killed = time.monotonic()
        while _running(workers) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        took = time.monotonic() - killed
        left = [w.pid for w in _running(workers)]
    finally:
        end_all(workers, proc)
    assert not left, f"processes left running {took:.1f} s after the batch was killed: {left}"
    assert took < 3, f"the workers ended {took:.1f} s after their parent was killed"
    assert not (marks / "done-slow1.csv").exists() and not (marks / "done-slow2.csv").exists()
