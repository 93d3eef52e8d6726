"""Module structure: the live app depends on the sources, never on the CLI (no import cycle)."""

import ast
import pathlib
import subprocess
import sys

import pytest

HOST = pathlib.Path(__file__).resolve().parents[2] / "host"


def _imports(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_module_but_the_entry_point_imports_the_cli():
    offenders = [str(p.relative_to(HOST)) for p in HOST.rglob("*.py")
                 if p.name != "cli.py" and "myotwitch.host.cli" in _imports(p)]
    assert offenders == []


def test_the_live_window_runs_without_importing_the_cli():
    pytest.importorskip("PySide6")
    code = ("import sys, os\n"
            "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6 import QtWidgets, QtCore\n"
            "app = QtWidgets.QApplication([])\n"
            "from myotwitch.dsp import DetectorConfig\n"
            "from myotwitch.host.gui.window import MainWindow\n"
            "import tempfile\n"
            "s = QtCore.QSettings(tempfile.mktemp(suffix='.ini'), QtCore.QSettings.Format.IniFormat)\n"
            "w = MainWindow('auto', DetectorConfig(), settings=s)\n"
            "w.close()\n"
            "assert 'myotwitch.host.cli' not in sys.modules, 'the GUI imported the CLI'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
