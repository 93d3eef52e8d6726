"""The linter configured in pyproject.toml passes on the whole tree."""

import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_is_clean():
    r = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout


@pytest.mark.skipif(shutil.which("mypy") is None, reason="mypy not installed")
def test_mypy_is_clean(tmp_path):
    # mypy does not run setuptools' editable import hook, so lay the installed namespace out
    # as the wheel does (myotwitch/dsp, myotwitch/host) with links to the checkout's folders.
    ns = tmp_path / "myotwitch"
    ns.mkdir()
    for name in ("dsp", "host", "data"):
        (ns / name).symlink_to(ROOT / name, target_is_directory=True)
    r = subprocess.run(["mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "myotwitch"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout


def test_dsp_never_imports_host_or_qt():
    forbidden = re.compile(r"import myotwitch\.host|from myotwitch\.host|from myotwitch import host|PySide6|pyqtgraph"
                           r"|threading|(?<![\w.])open\(")
    for path in (ROOT / "dsp").glob("*.py"):
        found = forbidden.search(path.read_text())
        assert found is None, f"{path.name} uses {found and found.group(0)}"


def test_headless_parts_do_not_import_qt():
    r = subprocess.run(["python3", "-c", "import sys, myotwitch.host.cli, myotwitch.host.recorder, myotwitch.host.analysis, myotwitch.host.sources.sim;"
                        "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr
