"""The command line: help teaches, version answers, user errors are one line without a traceback."""

import subprocess
import sys

import pytest


def run(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "myotwitch.host.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    for word in ("live", "record", "analyze", "simulate", "devices", "advice", "log", "sim:", "not a medical device"):
        assert word in r.stdout
    assert run("--version").stdout.startswith("myotwitch ")
    for sub in ("record", "analyze", "simulate", "live", "log"):
        assert run(sub, "--help").returncode == 0


def test_help_answers_without_loading_the_detector():
    """`--help` had loaded numpy and scipy first (1.3 s on a desktop, several on a small board):
    every sub-command's help, and a usage error, now come from the parser alone."""
    code = """
import sys
from myotwitch.host.cli import main
for argv in (["--help"], ["record", "--help"], ["analyze", "--help"], ["history", "--help"], ["record", "--bogus"]):
    try:
        main(argv)
    except SystemExit:
        pass
print(sorted(m for m in ("numpy", "scipy", "myotwitch.dsp") if m in sys.modules))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr


@pytest.mark.parametrize("args, message", [
    (("record", "--source", "serial:/dev/ttyNOPE", "--out", "/tmp/x"), "does not exist"),
    (("record", "--source", "sim:rate=abc"), "not a number"),
    (("record", "--source", "bogus:thing"), "unknown kind"),
    (("record", "--source", "sim:", "--duration", "soon"), "expected e.g. 90s"),
    (("record", "--source", "sim:", "--band", "20-x"), "--band 20-x"),
    (("record", "--source", "sim:", "--sensitivity", "-1"), "energy_on_threshold must be > 0"),
    (("record", "--source", "sim:", "--detector", "envelope", "--sensitivity", "-1"), "on_threshold must be > 0"),
    (("record", "--source", "sim:", "--min-twitch", "-3"), "min_twitch_uv must be >= 0"),
    (("analyze", "/nonexistent/file.edf"), "no such file"),
    (("simulate", "--rate", "100"), "expected 250-4000 Hz"),
    (("log", "symptom", "glitter"), "unknown symptom"),
])
def test_user_errors_are_one_line(args, message, tmp_path):
    r = run(*args)
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if "error" in ln]) == 1


def test_debug_shows_the_traceback():
    r = run("--debug", "record", "--source", "bogus:thing")
    assert "Traceback" in r.stderr


def test_record_on_the_simulator_from_the_command_line(tmp_path):
    r = run("record", "--source", "sim:speed=0,seed=4", "--out", str(tmp_path), "--duration", "20s",
            "--events", "-", timeout=120)
    assert r.returncode == 0, r.stderr
    assert '"type": "event"' in r.stdout  # the live event log on stdout
    assert list(tmp_path.glob("*.edf")) and list(tmp_path.glob("*.summary.json"))


def test_live_without_a_display_is_one_line(monkeypatch):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "myotwitch.host.cli", "live"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode != 0 and "no display" in r.stderr and "Traceback" not in r.stderr


def test_the_first_compile_of_the_kernels_is_announced(monkeypatch, tmp_path, caplog):
    """A machine without numba's cache of the kernels spends ~30 s compiling them on the first
    detection: the CLI says so before it starts, once, and not when the cache is there."""
    import logging

    pytest.importorskip("numba")
    from myotwitch.dsp import kernels
    from myotwitch.host.cli import main

    cache = tmp_path / "numba"
    cache.mkdir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))  # an empty cache: nothing compiled here yet
    monkeypatch.setattr(kernels, "enabled", True)
    warmed = []
    monkeypatch.setattr(kernels, "_warm_up", lambda: warmed.append(1))  # (the compile itself: not needed)
    before = dict(vars(kernels))  # _compile rebinds the kernels' helpers: put them all back after
    try:
        for cached in (False, True):
            if cached:
                (cache / "kernels._front_end_py-41.py311.nbi").write_bytes(b"")  # numba's index, as it names it
            monkeypatch.setattr(kernels, "_compiled", {})
            monkeypatch.setattr(kernels, "_tried", False)
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="myotwitch"):
                assert main([]) == 2  # any command line sets the announcement up
                kernels.front_end()
                kernels.front_end()
            said = [r for r in caplog.records if "compiling the detector's kernels" in r.getMessage()]
            assert len(said) == (0 if cached else 1)
        assert warmed == [1, 1]
    finally:
        for name, value in before.items():
            if vars(kernels).get(name) is not value:
                setattr(kernels, name, value)
