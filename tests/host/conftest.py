"""Fixtures shared by the live-app tests, the example recording's analysis, and a clock with
daylight saving time."""

import copy
import pathlib
import time

import pytest

EXAMPLE_EDF = pathlib.Path(__file__).resolve().parents[2] / "data" / "examples" / "calf-10min.edf"


@pytest.fixture(scope="session")
def _example_edf_analysis_once():
    from myotwitch.host.analysis import analyze_file

    return analyze_file(EXAMPLE_EDF)


@pytest.fixture
def example_edf_analysis(_example_edf_analysis_once):
    """``analyze_file(EXAMPLE_EDF)`` (calf-10min.edf, default settings: the same as passing
    ``DetectorConfig()``): the reference seven tests compare another path with (3.2 s each on
    this machine). It is worked out once per run, and each test gets its own deep copy, so a
    test that changes its copy changes no other test's."""
    return copy.deepcopy(_example_edf_analysis_once)


@pytest.fixture
def berlin(monkeypatch):
    """This computer's clock in Berlin: CET until 02:00 on 29 March 2026, which is then 03:00
    CEST (02:30 never comes), until 03:00 on 25 October 2026, which is then 02:00 CET again
    (02:30 comes twice). Put back after the test (``time.tzset`` reads TZ only when called)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def settings(tmp_path):
    """The app's remembered settings, in a file of the test's own (never the user's)."""
    QtCore = pytest.importorskip("PySide6.QtCore")
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    yield s
    s.sync()


@pytest.fixture
def report_views(monkeypatch):
    """What the HTML report's plots read from each file (``report._signal_views``' results, in
    order): the report reads the files again, so a test can see what it drew from."""
    from myotwitch.host import report

    seen: list = []
    original = report._signal_views

    def spy(r, *a, **kw):
        out = original(r, *a, **kw)
        seen.append(out)
        return out

    monkeypatch.setattr(report, "_signal_views", spy)
    return seen
