"""Shared by the tests of `analyze` batches run as real processes (Ctrl+C, SIGKILL, --out-dir):
small CSV recordings, the CLI in-process, and a launcher script run with the test's import path."""

import os
import subprocess
import sys
import time

import numpy as np

from myotwitch.host.cli import main

#: the repository root, put on a launched script's import path (for ``myotwitch`` as the tests see it)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(path, seed=1, n=3000, fs=1000.0):
    """A 3 s CSV recording of noise (``seed``) at ``path``; its path as a string."""
    x = np.random.default_rng(seed).normal(0, 5, n)
    np.savetxt(path, np.column_stack([np.arange(n) / fs, x]), delimiter=",", header="time_s,calf_uV", comments="")
    return str(path)


def analyse(*files, out):
    """``analyze FILES --out-dir OUT`` in this process, one job, quietly; its exit code."""
    return main(["analyze", *map(str, files), "--out-dir", str(out), "-j", "1", "--no-progress", "--no-index"])


def wait_for(paths, seconds=60.0):
    end = time.monotonic() + seconds
    while not all(os.path.exists(p) for p in paths):
        assert time.monotonic() < end, f"not there after {seconds:g} s: {paths}"
        time.sleep(0.05)


def launch(launcher, *args, capture=False):
    """``python LAUNCHER ARGS...`` with this test run's import path and the pure kernels (no
    compile in the child); its output piped as text when ``capture``, else discarded."""
    env = dict(os.environ, MYOTWITCH_PURE="1", PYTHONPATH=os.pathsep.join(p for p in sys.path if p) + os.pathsep + ROOT)
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, str(launcher), *map(str, args)], env=env, stdout=out, stderr=out,
                            text=capture)


def end_all(workers, proc):
    """Kill a launched run's worker processes (``psutil.Process``; first: they hold its output
    pipes open) and the run itself, and reap it."""
    import psutil

    for w in workers:
        try:
            w.kill()
        except psutil.NoSuchProcess:
            pass
    if proc.poll() is None:
        proc.kill()
    proc.communicate()
