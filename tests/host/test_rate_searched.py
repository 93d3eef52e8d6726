"""The twitch rate is per hour *searched*: the detector finds nothing in its start-up (0.5 s, its
first noise floor) nor in the 0.15 s it settles after each gap too long to bridge, and those
seconds had counted as hours without a twitch. A link that dropped out every 2 s read 9% low,
a 60 s file 0.8% low. ``valid_s`` stays the seconds with data; ``searched_s`` is kept beside it,
and the history sums it (``valid_s`` where an older summary has none)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sqlite3

import numpy as np
import pytest

from myotwitch.dsp import Pipeline
from myotwitch.dsp.synth import case_spec, synthesize
from myotwitch.host.advice import load_rules, recordings
from myotwitch.host.errors import FormatError
from myotwitch.host.history import build_history
from myotwitch.host.index import SCHEMA_VERSION, SessionIndex
from myotwitch.host.session import SCHEMA, summarize
from myotwitch.host.summary_check import validate_summary


def _analysed(outage_every: int | None, seconds: float = 60.0):
    x, _ = synthesize(case_spec("clean_rest", 1000.0, seconds, seed=3).with_(twitch_rate=30.0))
    x = x.copy()
    if outage_every:
        for i in range(2000, x.shape[1], outage_every):
            x[:, i: i + 200] = np.nan  # 0.2 s outages: over the 0.1 s bridge, so 0.15 s of settling after each
    pipe = Pipeline(1000.0, 1)
    events = pipe.process(x) + pipe.flush()
    return pipe, summarize(events, pipe.episodes, pipe, file=None, start=None, labels=["calf"])


def test_a_lossy_link_s_rate_is_over_the_seconds_searched():
    clean_pipe, clean = _analysed(None)
    pipe, lossy = _analysed(2000)
    st, cst = lossy["stats"], clean["stats"]
    startup = cst["valid_s"] - cst["searched_s"]  # the start-up, the only blind time of a clean file
    assert startup == pytest.approx(clean_pipe.config.noise_min_history_s, abs=0.02)
    assert cst["twitches_per_hour"] == pytest.approx(cst["counts"]["twitch"] / (cst["searched_s"] / 3600))
    # the lossy file: blind for the start-up and settle_s after each of its gaps
    assert st["searched_s"] == pytest.approx(pipe.searched_s)
    assert st["searched_s"] == pytest.approx(st["valid_s"] - startup - pipe.config.settle_s * len(pipe.gaps), abs=0.02)
    n = st["counts"]["twitch"]
    assert st["twitches_per_hour"] == pytest.approx(n / (st["searched_s"] / 3600))
    per_data_hour = n / (st["valid_s"] / 3600)
    assert st["twitches_per_hour"] > 1.08 * per_data_hour  # (measured: 9.8% over; 29 gaps' 4.35 s of 54.2 s)


def test_a_rotated_file_s_rate_is_over_its_own_searched_seconds():
    x, _ = synthesize(case_spec("clean_rest", 1000.0, 60.0, seed=4).with_(twitch_rate=30.0))
    x = x.copy()
    for i in range(32_000, 60_000, 2000):
        x[:, i: i + 200] = np.nan  # the second half's link is lossy
    pipe = Pipeline(1000.0, 1)
    start = pipe.quality_tally()
    events = pipe.process(x[:, :30_000])
    middle = pipe.quality_tally()
    events += pipe.process(x[:, 30_000:]) + pipe.flush()
    first, second = (summarize([e for e in events if lo <= e.onset_s < hi], pipe.episodes, pipe, file=None, start=None,
                               labels=["calf"], span=span)["stats"]
                     for lo, hi, span in ((0, 30, (start, middle)), (30, 60, (middle, None))))
    assert first["searched_s"] == pytest.approx((middle.searched - start.searched) / 1000.0)
    assert first["searched_s"] + second["searched_s"] == pytest.approx(pipe.searched_s)
    assert second["searched_s"] < first["searched_s"] - 1.0  # (14 gaps' settling in the second half)
    for st in (first, second):
        assert st["twitches_per_hour"] == pytest.approx(st["counts"]["twitch"] / (st["searched_s"] / 3600))


def test_the_recorder_s_files_keep_their_searched_seconds_and_rate_over_them(tmp_path):
    from myotwitch.host.recorder import Recorder
    from myotwitch.host.sources import open_source

    rec = Recorder(open_source("sim:rate=1000,twitch_rate=40,seed=9,speed=0"), str(tmp_path / "rec"),
                   duration_s=25.0, rotate="10s", status_interval_s=999)
    rec.run()
    stats = [json.loads(pathlib.Path(p[:-4] + ".summary.json").read_text())["stats"] for p in sorted(rec.closed_files)]
    assert len(stats) == 3
    assert sum(st["searched_s"] for st in stats) == pytest.approx(rec.pipe.searched_s)
    # the first file holds the start-up; the files after it are searched throughout
    assert stats[0]["valid_s"] - stats[0]["searched_s"] == pytest.approx(rec.pipe.config.noise_min_history_s, abs=0.05)
    assert all(st["searched_s"] == pytest.approx(st["valid_s"], abs=0.05) for st in stats[1:])
    for st in stats:
        assert st["twitches_per_hour"] == pytest.approx(st["counts"]["twitch"] / (st["searched_s"] / 3600))


def _row_summary(file: str, start: dt.datetime, twitches: int, valid_s: float, searched_s: float | None) -> dict:
    st = {"duration_s": valid_s, "valid_s": valid_s, "counts": {"twitch": twitches}, "episodes": 0,
          "twitches_per_hour": twitches / ((searched_s or valid_s) / 3600), "twitches_per_channel": [twitches]}
    if searched_s is not None:
        st["searched_s"] = searched_s
    return {"file": file, "start": start.isoformat(), "channels": ["calf"], "stats": st}


def test_history_sums_searched_hours_and_valid_ones_for_older_summaries(_isolated_home):
    day = dt.datetime.combine(dt.date.today(), dt.time()) - dt.timedelta(days=1)
    with SessionIndex.default() as idx:
        # a lossy link's hour, 5 min of it blind; and a summary from before searched seconds were kept
        idx.add_summary(_row_summary("/rec/lossy.edf", day + dt.timedelta(hours=1), 110, 3600.0, 3300.0))
        idx.add_summary(_row_summary("/rec/old.edf", day + dt.timedelta(hours=3), 60, 1800.0, None))
        rows = idx.sessions()
    assert [r["searched_s"] for r in rows] == [3300.0, None]
    h = build_history(rows, [], load_rules(), days=28)
    [d] = h["days"]
    hours = (3300.0 + 1800.0) / 3600
    assert d["hours"] == pytest.approx(hours) and d["rate_per_hour"] == pytest.approx(170 / hours)
    assert d["per_channel"]["calf"]["rate_per_hour"] == pytest.approx(170 / hours)
    assert h["channels"]["calf"]["hours"] == pytest.approx(hours)
    assert [s["hours"] for s in h["sessions"]] == pytest.approx([3300 / 3600, 0.5])
    assert d["recorded_hours"] == pytest.approx(5400 / 3600)  # (the seconds with data: unchanged)


def test_a_recording_s_joined_files_give_a_rate_over_their_searched_seconds():
    t0 = dt.datetime(2026, 11, 1, 23, 0)
    files = [{"file": f"/rec/{i}.edf", "start": t0 + dt.timedelta(hours=i), "duration_s": 3600.0, "valid_s": 3600.0,
              "searched_s": s, "twitches": 100, "twitches_per_hour": 100 / (s / 3600), "channels": ["calf"],
              "per_channel": [100], "counting": None} for i, s in enumerate((3000.0, 3600.0))]
    [night] = recordings(files)
    assert night["searched_s"] == 6600.0 and night["valid_s"] == 7200.0
    assert night["twitches_per_hour"] == pytest.approx(200 / (6600 / 3600))


def test_an_index_from_before_searched_seconds_gains_the_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v4.sqlite"
    start = dt.datetime(2026, 11, 1, 23, 0)
    with SessionIndex(path) as idx:
        idx.add_summary(_row_summary("/rec/old.edf", start, 50, 3600.0, None))
    db = sqlite3.connect(path)  # make it a schema-4 file: no searched seconds
    db.execute("ALTER TABLE sessions DROP COLUMN searched_s")
    db.execute("PRAGMA user_version=4")
    db.commit()
    db.close()
    with SessionIndex(path) as idx:
        idx.add_summary(_row_summary("/rec/new.edf", start + dt.timedelta(days=1), 50, 3600.0, 3599.5))
        assert [(r["valid_s"], r["searched_s"]) for r in idx.sessions()] == [(3600.0, None), (3600.0, 3599.5)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5


def test_a_sidecar_without_searched_seconds_still_reads_and_one_over_its_data_is_refused():
    _, s = _analysed(None, seconds=10.0)
    s = json.loads(json.dumps(s))  # (as read from disk)
    assert s["schema"] == SCHEMA and validate_summary(s, "new.summary.json") is s
    del s["stats"]["searched_s"]
    assert validate_summary(s, "old.summary.json") is s
    s["stats"]["searched_s"] = s["stats"]["valid_s"] + 5.0
    with pytest.raises(FormatError, match="stats.searched_s"):
        validate_summary(s, "bad.summary.json")


def test_the_recorder_s_status_line_gives_the_rate_per_hour_searched(tmp_path, caplog):
    from myotwitch.host.recorder import Recorder
    from myotwitch.host.sources import open_source

    rec = Recorder(open_source("sim:rate=1000,twitch_rate=120,seed=9,speed=0"), str(tmp_path / "rec"),
                   duration_s=20.0, status_interval_s=999)
    rec.run()
    with caplog.at_level("INFO", logger="myotwitch.host.recorder"):
        rec._log_status()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status")]
    searched = rec.pipe.searched_s
    assert rec.twitches > 10 and searched < rec.samples / 1000.0
    assert f"twitches={rec.twitches} ({rec.twitches / (searched / 3600):.0f}/h)" in line, line
