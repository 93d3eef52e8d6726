"""A recording without usable data gives no rate ("no usable data", null, an empty cell), not a
measured 0/h that a batch's list, the report's trend, the history and the advice take as real."""

import csv
import json
import time

import numpy as np
import pytest

from myotwitch.host.cli import main

FS = 250.0


def chopped(path, start, pieces=130, piece_s=0.5, gap_s=65.0, fs=FS):
    """A dated CSV of ``pieces`` stretches of ``piece_s`` s of noise between gaps of ``gap_s``:
    over a minute of data (65 s) while every stretch is shorter than the detector's start-up
    after a gap too long to bridge or to carry the floor over (``noise_seed_max_gap_s``), so the
    detector searched none of it."""
    rng = np.random.default_rng(3)
    n = round(piece_s * fs)
    rows = []
    for i in range(pieces):
        t0 = start + i * (piece_s + gap_s)
        rows += [(t0 + k / fs, v) for k, v in enumerate(rng.normal(0, 5, n))]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "calf_uV"])
        w.writerows((f"{t:.4f}", f"{v:.3f}") for t, v in rows)
    return path


def noise(path, start, seconds=120.0, fs=FS):
    rng = np.random.default_rng(4)
    n = round(seconds * fs)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", "calf_uV"])
        w.writerows((f"{start + k / fs:.4f}", f"{v:.3f}") for k, v in enumerate(rng.normal(0, 5, n)))
    return path


def test_a_file_the_detector_could_not_search_has_no_rate_in_any_output(tmp_path, capsys):
    start = time.time() - 2 * 86400
    bad = chopped(tmp_path / "chopped.csv", start)
    short = noise(tmp_path / "short.csv", start + 3 * 3600, seconds=0.3)  # (shorter than the start-up)
    good = noise(tmp_path / "good.csv", start + 4 * 3600)
    out = tmp_path / "out"
    code = main(["analyze", str(bad), str(short), str(good), "-j", "1", "--no-progress", "--json",
                 str(tmp_path / "all.json"), "--out-dir", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    sessions = {s["file"].rsplit("/", 1)[-1]: s for s in json.loads((tmp_path / "all.json").read_text())["sessions"]}
    assert sessions["chopped.csv"]["stats"]["valid_s"] > 60  # (long enough to count, were it searched)
    assert sessions["chopped.csv"]["stats"]["twitches_per_hour"] is None
    assert sessions["short.csv"]["stats"]["twitches_per_hour"] is None
    assert sessions["good.csv"]["stats"]["twitches_per_hour"] is not None
    block = text[text.index(str(bad)):].split("\n\n")[0]
    assert "no usable data" in block and "0.0 per hour" not in block
    listing = text[text.index("sessions (oldest first):"):].split("\n\n")[0].splitlines()
    assert any("no usable data" in ln and ln.rstrip().endswith("chopped.csv") for ln in listing)
    assert len({ln.index(" twitches ") for ln in listing[1:]}) == 1  # (the columns line up)
    with open(out / "sessions.csv", newline="") as fh:
        rows = {r["file"].rsplit("/", 1)[-1]: r for r in csv.DictReader(fh)}
    assert rows["chopped.csv"]["twitches_per_hour"] == "" and rows["short.csv"]["twitches_per_hour"] == ""
    assert float(rows["good.csv"]["twitches_per_hour"]) >= 0
    # the history: the chopped file's 65 s of data are no hours at 0/h on its day
    from myotwitch.host.advice import load_rules
    from myotwitch.host.history import build_history
    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:
        rows_ = idx.sessions(include_undated=True)
        diary = []
    assert {r["file"].rsplit("/", 1)[-1]: r["twitches_per_hour"] for r in rows_}["chopped.csv"] is None
    h = build_history(rows_, diary, load_rules(), days=28)
    assert "chopped.csv" in h["short"]["files"]
    assert all(not s["file"].endswith("chopped.csv") for s in h["sessions"])
    # (the hours the rates are over: the good file's searched ones)
    assert sum(d["hours"] for d in h["days"]) * 3600 == pytest.approx(sessions["good.csv"]["stats"]["searched_s"])
    from myotwitch.host.history import format_history

    assert "2 files give no rate and are left out (2 without usable data)" in format_history(h)


def test_the_advice_says_why_a_file_alone_gives_no_rate(tmp_path, capsys):
    bad = chopped(tmp_path / "chopped.csv", time.time() - 86400)
    assert main(["analyze", str(bad), "--no-progress"]) == 0
    assert "1 recording in the last 28 days, not giving a rate (no usable data)" in capsys.readouterr().out


def test_the_report_says_no_usable_data(tmp_path):

    pytest.importorskip("matplotlib")
    bad = noise(tmp_path / "short.csv", time.time() - 86400, seconds=0.3)
    page = tmp_path / "r.html"
    assert main(["analyze", str(bad), "--no-index", "--no-progress", "--report", str(page)]) == 0
    html = page.read_text()
    assert "no usable data" in html and "0.0 per hour" not in html


def test_a_file_without_usable_data_adds_no_hours_to_the_recording_it_joins():
    """A night's file after an unplug that the detector could not search (65 s of stretches too
    short for its start-up) joins the night's recording, but its seconds are no hours of it."""
    import datetime as dt

    from myotwitch.host.advice import rule_recordings

    t0 = dt.datetime(2026, 11, 30, 22, 0)

    def row(start, valid_s, twitches, rate):
        return {"file": f"{start:%H%M}.edf", "start": start, "duration_s": valid_s, "valid_s": valid_s,
                "twitches": twitches, "twitches_per_hour": rate, "episodes": 0, "per_channel": [twitches],
                "channels": ["calf"], "units": [], "counting": None, "device": None}

    night = row(t0, 3600.0, 60, 60.0)
    after = row(t0 + dt.timedelta(hours=1, minutes=2), 65.0, 0, None)
    [rec] = rule_recordings([night], [after], {"min_session_minutes": 1.0})
    assert rec["files"] == ["2200.edf", "2302.edf"]
    assert rec["valid_s"] == 3600.0 and rec["twitches_per_hour"] == pytest.approx(60.0)
