"""The suite never writes into the real user's history: a test that undoes its monkeypatch
(which undoes its own home too) still has a throwaway one (a recorder test had added a session
to the machine's history at every run)."""

from myotwitch.host.index import data_dir


def test_a_test_that_undoes_its_monkeypatch_still_has_a_throwaway_home(monkeypatch, tmp_path_factory):
    mine = data_dir()
    monkeypatch.undo()
    fallback = data_dir()
    assert fallback != mine and fallback.is_relative_to(tmp_path_factory.getbasetemp())
