"""The linter configured in pyproject.toml passes on the whole tree."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_is_clean():
    r = subprocess.run(["ruff", "check", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout


@pytest.mark.skipif(shutil.which("mypy") is None, reason="mypy not installed")
def test_mypy_is_clean():
    r = subprocess.run(["mypy"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout


def test_dsp_never_imports_host_or_qt():
    for path in (ROOT / "dsp").glob("*.py"):
        text = path.read_text()
        for forbidden in ("import host", "from host", "PySide6", "pyqtgraph", "threading", "open("):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_headless_parts_do_not_import_qt():
    r = subprocess.run(["python3", "-c", "import sys, host.cli, host.recorder, host.analysis, host.sources.sim;"
                        "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr
