"""Session index hygiene: one row per recording whatever path names it, schema-1 databases
migrated without losing rows, undated sessions kept but out of trends, sessions removable."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import sqlite3

import pytest

from myotwitch.host.advice import advise, load_rules
from myotwitch.host.index import SCHEMA_VERSION, SessionIndex, content_key


def _summary(file: str, start: str | None = "2026-11-01T23:00:00", twitches: int = 120, **extra) -> dict:
    return {"file": file, "start": start, "channels": ["gastrocnemius"],
            "stats": {"duration_s": 3600.0, "valid_s": 3600.0, "counts": {"twitch": twitches},
                      "twitches_per_hour": float(twitches), "episodes": 3, "twitches_per_channel": [twitches]},
            **extra}


def _recording(tmp_path, name="night.edf", payload=b"0       recording bytes"):
    path = tmp_path / name
    path.write_bytes(payload * 1000)
    return path


def test_same_file_by_any_path_is_one_session(tmp_path, monkeypatch):
    rec = _recording(tmp_path)
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "link.edf"
    link.symlink_to(rec)
    copy = tmp_path / "sub" / "copy.edf"
    copy.parent.mkdir()
    shutil.copy(rec, copy)
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        assert idx.add_summary(_summary("night.edf")) is True
        for name in (str(rec), "./night.edf", str(link), os.path.relpath(copy), "night.edf"):
            assert idx.add_summary(_summary(name)) is False
        rows = idx.sessions()
    assert len(rows) == 1 and rows[0]["twitches"] == 120 and rows[0]["key"] == content_key(rec)


def test_changed_content_at_the_same_path_replaces_the_row(tmp_path):
    rec = _recording(tmp_path)
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(_summary(str(rec), twitches=10))
        rec.write_bytes(b"0       repaired" * 900)  # e.g. an interrupted recording repaired in place
        assert idx.add_summary(_summary(str(rec), twitches=11)) is True
        assert [r["twitches"] for r in idx.sessions()] == [11]


def test_advice_counts_a_relative_path_once(tmp_path, monkeypatch):
    """Issue 18 item 3: analysing by relative path after an absolute one doubled the twitches."""
    rec = _recording(tmp_path)
    monkeypatch.chdir(tmp_path)
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(_summary(str(rec)))
        now = dt.datetime(2026, 11, 2, 8)
        a = advise(extra_session=_summary("night.edf"), index=idx, now=now)
        assert (a.metrics["sessions"], a.metrics["twitches_total"]) == (1, 120)
        b = advise(extra_session=_summary(str(rec)), index=idx, now=now)
        assert b.metrics == a.metrics


def test_undated_sessions_are_kept_out_of_trends(tmp_path):
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(_summary("/rec/a.csv", start=None))
        idx.add_summary(_summary("/rec/b.csv", start="2026-11-01T10:00:00", dated=False))
        idx.add_session(file="/rec/c.edf", start=dt.datetime(2026, 11, 1, 23), duration_s=3600, twitches=5)
        assert [r["file"] for r in idx.sessions()] == ["/rec/c.edf"]
        everything = idx.sessions(include_undated=True)
        assert [(r["file"], r["dated"], r["start"]) for r in everything[1:]] == [
            ("/rec/a.csv", False, None), ("/rec/b.csv", False, None)]
        a = advise(index=idx, now=dt.datetime(2026, 11, 2))
        assert a.metrics["sessions"] == 1
        # an undated file given to `analyze` is not placed at "now" either
        assert advise(extra_session=_summary("/rec/d.csv", start=None), index=idx,
                      now=dt.datetime(2026, 11, 2)).metrics["sessions"] == 1


def test_forget_and_before(tmp_path):
    rec = _recording(tmp_path)
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(_summary(str(rec)))
        for i in range(5):
            idx.add_session(file=f"/rec/{i}.edf", start=dt.datetime(2026, 11, 1 + i, 23), duration_s=3600, twitches=i)
        idx.add_session(file="/rec/undated.csv", start=None, duration_s=60, twitches=1)
        assert idx.forget(tmp_path / "link-that-does-not-exist.edf") == 0
        copy = tmp_path / "copy.edf"
        shutil.copy(rec, copy)
        assert idx.forget(copy) == 1  # by content
        assert idx.forget("/rec/4.edf") == 1  # by path: the file is gone
        assert idx.forget_before(dt.datetime(2026, 11, 3)) == 2
        assert [r["file"] for r in idx.sessions(include_undated=True)] == ["/rec/2.edf", "/rec/3.edf",
                                                                              "/rec/undated.csv"]


def test_units_column_round_trips(tmp_path):
    units = [{"unit": 1, "channel": "gastrocnemius", "count": 40}, {"unit": 2, "channel": "soleus", "count": 3}]
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(_summary("/rec/u.edf", units=units))
        idx.add_summary(_summary("/rec/v.edf", start="2026-11-02T23:00:00"))
        assert [r["units"] for r in idx.sessions()] == [units, []]


def test_schema_1_database_is_migrated_without_losing_rows(tmp_path):
    """A database from before content keys: rows keyed by absolute path, no units column."""
    rec = _recording(tmp_path)
    link = tmp_path / "link.edf"
    link.symlink_to(rec)
    db = sqlite3.connect(tmp_path / "old.sqlite")
    db.executescript("""
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, file TEXT UNIQUE, start TEXT, duration_s REAL, valid_s REAL,
            twitches INTEGER, twitches_per_hour REAL, episodes INTEGER, per_channel TEXT, channels TEXT, added_at TEXT);
        CREATE TABLE diary (id INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
            value REAL, note TEXT, created_at TEXT NOT NULL);
        CREATE INDEX sessions_start ON sessions(start);""")
    rows = [(f"/gone/{i}.edf", f"2026-10-{10 + i:02d}T23:00:00", 3600.0, 3500.0, 10 * i, 10 * i / 3500 * 3600, i,
             f"[{10 * i}]", '["ch0"]', f"2026-10-{10 + i:02d}T23:59:00") for i in range(6)]
    rows += [(str(rec), "2026-10-20T23:00:00", 60.0, 60.0, 1, 60.0, 0, "[1]", '["ch0"]', "2026-10-21T00:00:00"),
             (str(link), "2026-10-20T23:00:00", 60.0, 60.0, 1, 60.0, 0, "[1]", '["ch0"]', "2026-10-22T00:00:00")]
    db.executemany("INSERT INTO sessions(file, start, duration_s, valid_s, twitches, twitches_per_hour, episodes,"
                   " per_channel, channels, added_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.execute("INSERT INTO diary(time, kind, name, value, note, created_at) VALUES "
               "('2026-10-11T08:00', 'caffeine', 'caffeine', 300, NULL, '2026-10-11T08:00')")
    db.commit()
    db.close()
    with SessionIndex(tmp_path / "old.sqlite") as idx:
        got = idx.sessions()
        assert [(r["file"], r["twitches"], r["valid_s"], r["per_channel"]) for r in got[:6]] == [
            (r[0], r[4], r[3], [r[4]]) for r in rows[:6]]
        # the same recording under its path and a symlink was two rows: now one
        assert len(got) == 7 and got[6]["key"] == content_key(rec) and got[6]["units"] == []
        assert len(idx.entries()) == 1
        assert idx.add_summary(_summary(str(link), start="2026-10-20T23:00:00")) is False
    with SessionIndex(tmp_path / "old.sqlite") as idx:  # opening again is a no-op
        assert len(idx.sessions()) == 7


def test_rules_window_sees_only_dated_sessions_via_index(tmp_path):
    rules = load_rules()
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        for i in range(8):
            idx.add_session(file=f"/rec/{i}.edf", start=dt.datetime(2026, 11, 1 + i, 23), duration_s=8 * 3600,
                            twitches=8 * (10 + 10 * i))
            idx.add_session(file=f"/rec/{i}.csv", start=None, duration_s=600, twitches=0)
        a = advise(index=idx, ruleset=rules, now=dt.datetime(2026, 11, 10))
    assert a.metrics["sessions"] == 8 and a.metrics["worsening"]


def _open_and_add(path, who, barrier=None):
    if barrier is not None:
        barrier.wait()  # every process opens the file at the same moment
    with SessionIndex(path) as idx:
        idx.add_session(file=f"/rec/{who}.edf", start=dt.datetime(2026, 11, 3), duration_s=60, twitches=1)


@pytest.mark.parametrize("round_", range(2))
def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path, round_):
    """Eight processes open an old file at the same instant: one switches it to WAL and
    migrates it, none fails (SQLite answers "locked" at once to the others' switch; before
    the retry, 3 of 80 such processes failed)."""
    import multiprocessing

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, file TEXT UNIQUE, start TEXT, duration_s REAL,"
               " valid_s REAL, twitches INTEGER, twitches_per_hour REAL, episodes INTEGER, per_channel TEXT,"
               " channels TEXT, added_at TEXT)")
    db.executemany("INSERT INTO sessions(file, start, duration_s, valid_s, twitches, twitches_per_hour, episodes,"
                   " per_channel, channels, added_at) VALUES (?, '2026-11-01T23:00:00', 60, 60, 1, 60, 0, '[1]',"
                   " '[\"c\"]', '2026-11-02')", [(f"/old/{i}.edf",) for i in range(20)])
    db.commit()
    db.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_open_and_add, args=(path, f"p{i}", barrier)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 8
    with SessionIndex(path) as idx:
        assert len(idx.sessions()) == 28


def test_each_session_keeps_the_detector_settings_it_was_counted_with(tmp_path):
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.index import COUNTING_SETTINGS

    s = _summary("/rec/a.edf")
    s["detector"] = dataclasses.asdict(DetectorConfig(min_twitch_uv=12.0))
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(s)
        idx.add_summary(_summary("/rec/b.edf", start="2026-11-02T23:00:00"))  # a summary without them
        got = {os.path.basename(r["file"]): r["counting"] for r in idx.sessions()}
    assert set(got["a.edf"]) == set(COUNTING_SETTINGS) and got["a.edf"]["min_twitch_uv"] == 12.0
    assert got["b.edf"] is None


def test_schema_2_database_gains_the_settings_column_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v2.sqlite"
    with SessionIndex(path) as idx:
        idx.add_summary(_summary("/rec/old.edf"))
    db = sqlite3.connect(path)  # make it a schema-2 file: no settings or device column
    db.execute("ALTER TABLE sessions DROP COLUMN counting")
    db.execute("ALTER TABLE sessions DROP COLUMN device")
    db.execute("PRAGMA user_version=2")
    db.commit()
    db.close()
    with SessionIndex(path) as idx:
        rows = idx.sessions()
        assert [(os.path.basename(r["file"]), r["counting"]) for r in rows] == [("old.edf", None)]
        s = _summary("/rec/new.edf", start="2026-11-03T23:00:00")
        s["detector"] = {"min_twitch_uv": 15.0}
        idx.add_summary(s)
        assert idx.sessions()[-1]["counting"]["min_twitch_uv"] == 15.0
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_sessions_say_which_device_recorded_them_and_schema_3_gains_the_column(tmp_path):
    """Two sensors recorded at once with the same channel names are told apart by the device
    that recorded each file (advice.recordings); a schema-3 database keeps its rows."""
    path = tmp_path / "v3.sqlite"
    with SessionIndex(path) as idx:
        idx.add_summary(_summary("/rec/old.edf"))
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE sessions DROP COLUMN device")
    db.execute("PRAGMA user_version=3")
    db.commit()
    db.close()
    with SessionIndex(path) as idx:
        idx.add_summary(_summary("/rec/left.edf", start="2026-11-03T23:00:00",
                                 device={"device_id": "00c0ffee", "firmware": "1.2.0"}))
        idx.add_summary(_summary("/rec/lsl.edf", start="2026-11-04T23:00:00", device={"device_id": 7}))
        got = {os.path.basename(r["file"]): r["device"] for r in idx.sessions()}
    assert got == {"old.edf": None, "left.edf": "00c0ffee", "lsl.edf": "7"}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_long_device_id_a_row_kept_whole_compares_as_the_header_keeps_it(tmp_path):
    """A recorder's row from before ids were kept as a header keeps them holds a long id whole;
    the same file analysed again reads it from its header (its start and a hash): one device."""
    from myotwitch.host.device_id import header_form

    long_id = "openbci-cyton-" + "0123456789" * 10
    path = tmp_path / "db.sqlite"
    with SessionIndex(path) as idx:
        idx.add_summary(_summary("/rec/a.edf", device={"device_id": long_id}))
    db = sqlite3.connect(path)
    db.execute("UPDATE sessions SET device=?", (long_id,))  # (as an older recorder wrote it)
    db.commit()
    db.close()
    with SessionIndex(path) as idx:
        idx.add_summary(_summary("/rec/b.edf", start="2026-11-02T23:00:00",
                                 device={"device_id": header_form(long_id)}))
        a, b = (r["device"] for r in idx.sessions())
    assert a == b and len(a) < len(long_id)


def test_equal_settings_are_stored_alike_however_they_were_written(tmp_path):
    # the band's default upper edge (None) is 450 Hz at 1 kHz, as the live app writes it out;
    # a whole number is the same setting as its float
    a = _summary("/rec/a.edf", fs=1000.0, detector={"band_high_hz": None, "min_twitch_uv": 15})
    b = _summary("/rec/b.edf", start="2026-11-02T23:00:00", fs=1000.0,
                 detector={"band_high_hz": 450.0, "min_twitch_uv": 15.0})
    with SessionIndex(tmp_path / "db.sqlite") as idx:
        idx.add_summary(a)
        idx.add_summary(b)
        first, second = (r["counting"] for r in idx.sessions())
    assert first == second and first["band_high_hz"] == 450.0
