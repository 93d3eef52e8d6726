"""Shared fixtures: every test gets its own data directory; Qt runs offscreen."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True, scope="session")
def _never_the_users_home(tmp_path_factory):
    """Under every test's own home (below): a test that undoes its monkeypatch (which undoes the
    home too) still writes into a throwaway folder, never the real user's history."""
    saved = os.environ.get("MYOTWITCH_HOME")
    os.environ["MYOTWITCH_HOME"] = str(tmp_path_factory.mktemp("fallback-home"))
    yield
    if saved is None:
        os.environ.pop("MYOTWITCH_HOME", None)
    else:
        os.environ["MYOTWITCH_HOME"] = saved


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep the session index and diary of each test apart from the user's and each other's."""
    home = tmp_path / "myotwitch-home"
    monkeypatch.setenv("MYOTWITCH_HOME", str(home))
    return home


from tests.browser import chromium_page  # noqa: E402,F401 - shared headless-Chromium fixture
