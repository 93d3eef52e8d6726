"""`history --forget` / `--before` as a person uses them: one thing at a time, every file given
is dealt with, and each one not in the index is named."""

import datetime as dt

import pytest

from myotwitch.host.cli import main
from myotwitch.host.index import SessionIndex


@pytest.fixture
def three(tmp_path):
    files = []
    with SessionIndex.default() as idx:
        for i in range(3):
            f = tmp_path / f"n{i}.edf"
            f.write_bytes(b"x" * (100 + i))
            idx.add_session(file=str(f), start=dt.datetime(2026, 11, 1 + i, 23), duration_s=3600, twitches=10)
            files.append(str(f))
    return files


@pytest.mark.parametrize("extra", [["--report", "h.html"], ["--json", "h.json"], ["--csv", "d.csv"], ["--days", "7"]])
def test_an_output_beside_forget_is_refused_not_dropped(three, extra, tmp_path, capsys, monkeypatch):
    """`history --forget x --report h.html` removed x and wrote no page, without a word."""
    monkeypatch.chdir(tmp_path)
    assert main(["history", "--forget", three[0], *extra]) == 2
    err = capsys.readouterr().err
    assert f"{extra[0]} goes with showing the history, not with --forget" in err and err.count("\n") == 1
    with SessionIndex.default() as idx:
        assert len(idx.sessions()) == 3  # (nothing done)
    assert not (tmp_path / extra[1]).exists()


def test_every_file_given_to_forget_is_dealt_with(three, tmp_path, capsys):
    """`--forget a nope c`: a went, the error for nope stopped there, and c stayed."""
    nope = str(tmp_path / "nope.edf")
    assert main(["history", "--forget", three[0], nope, three[2]]) == 2
    out, err = capsys.readouterr()
    assert f"removed 1 session of {three[0]}" in out and f"removed 1 session of {three[2]}" in out
    assert err.strip() == (f"myotwitch: error: {nope}: no session of this file in the index (`myotwitch history "
                           "--json` lists the sessions' files)")
    with SessionIndex.default() as idx:
        assert [s["file"] for s in idx.sessions()] == [three[1]]
