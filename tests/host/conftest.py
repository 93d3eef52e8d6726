"""Fixtures shared by the live-app tests."""

import pytest


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
