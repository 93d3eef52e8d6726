"""`--out-dir` holds one run's results: manifest.csv lists them with their SHA-256, and the
results an earlier run wrote that this run did not (a file that failed this time, or was left
out of the batch) are removed, when they are still what that run wrote; nothing else is."""

import csv
import hashlib
import logging

from tests.host.batch_runs import analyse, write


def manifest(out):
    with open(out / "manifest.csv", newline="", encoding="utf-8") as fh:
        return {r["output"]: r for r in csv.DictReader(fh)}


def test_a_later_run_removes_only_the_results_an_earlier_run_wrote(tmp_path, caplog):
    a, b = write(tmp_path / "a.csv"), write(tmp_path / "b.csv", seed=2)
    out = tmp_path / "out"
    assert analyse(a, b, out=out) == 0
    listed = manifest(out) if (out / "manifest.csv").exists() else {}
    b_sha = hashlib.sha256((out / "b.json").read_bytes()).hexdigest()
    (out / "notes.json").write_text('{"mine": true}')  # the user's own, listed by no run
    broken = tmp_path / "c.csv"
    broken.write_text("time_s,calf_uV\n0,abc\n")
    # b left out of the batch, c failing: the folder is this run's, a.json and failed.csv
    assert analyse(a, broken, out=out) == 1
    assert sorted(p.name for p in out.glob("*.json")) == ["a.json", "notes.json"]
    assert set(listed) == {"a.json", "b.json"} and listed["b.json"]["recording"] == b
    assert listed["b.json"]["sha256"] == b_sha
    assert set(manifest(out)) == {"a.json"}
    assert [r["file"] for r in csv.DictReader((out / "failed.csv").read_text().splitlines())] == [str(broken)]
    # a result changed since its run wrote it is the user's now: it stays, and is said
    assert analyse(a, b, out=out) == 0
    with open(out / "b.json", "a") as fh:
        fh.write("\n")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert analyse(a, out=out) == 0
    assert (out / "b.json").exists() and (out / "notes.json").exists()
    assert "b.json" in caplog.text and "changed since" in caplog.text
    assert set(manifest(out)) == {"a.json"}


def test_a_manifest_that_is_not_ours_is_refused_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.csv").write_text("participant,age\nP01,40\n")
    assert analyse(write(tmp_path / "a.csv"), out=out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "manifest.csv" in err and "--out-dir" in err
    assert (out / "manifest.csv").read_text() == "participant,age\nP01,40\n"
    assert not (out / "a.json").exists()


def test_the_run_says_what_it_wrote_in_words(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="myotwitch"):
        assert analyse(write(tmp_path / "a.csv"), out=tmp_path / "out") == 0
    assert "1 JSON file, sessions.csv and manifest.csv (this run's results) written to" in caplog.text
