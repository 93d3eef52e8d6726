"""Fixtures shared by the live-app tests."""

import pytest


@pytest.fixture
def settings(tmp_path):
    """The app's remembered settings, in a file of the test's own (never the user's)."""
    QtCore = pytest.importorskip("PySide6.QtCore")
    s = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    yield s
    s.sync()
