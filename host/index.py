"""Local session index and symptom diary (SQLite in the user data directory).

The recorder and ``analyze`` add one row per session; ``myotwitch log`` writes diary
entries; the advice engine reads both. WAL mode and a busy timeout let the recorder and
the CLI write at the same time."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    file TEXT UNIQUE,
    start TEXT,
    duration_s REAL,
    valid_s REAL,
    twitches INTEGER,
    twitches_per_hour REAL,
    episodes INTEGER,
    per_channel TEXT,
    channels TEXT,
    added_at TEXT
);
CREATE TABLE IF NOT EXISTS diary (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS diary_time ON diary(time);
CREATE INDEX IF NOT EXISTS sessions_start ON sessions(start);
"""


def data_dir() -> Path:
    """``$MYOTWITCH_HOME`` if set, else the platform's user data directory."""
    env = os.environ.get("MYOTWITCH_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("myotwitch", appauthor=False))


class SessionIndex:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)

    @classmethod
    def default(cls) -> SessionIndex:
        return cls(data_dir() / "myotwitch.sqlite")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SessionIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions -----------------------------------------------------------------------------
    def add_summary(self, s: dict) -> None:
        """Insert or update the session a summary describes (keyed by file path)."""
        if not s.get("file"):
            return
        st = s["stats"]
        start = s.get("start") or dt.datetime.now().isoformat()
        self.db.execute(
            "INSERT INTO sessions(file, start, duration_s, valid_s, twitches, twitches_per_hour, episodes, per_channel,"
            " channels, added_at) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(file) DO UPDATE SET start=excluded.start,"
            " duration_s=excluded.duration_s, valid_s=excluded.valid_s, twitches=excluded.twitches,"
            " twitches_per_hour=excluded.twitches_per_hour, episodes=excluded.episodes,"
            " per_channel=excluded.per_channel, channels=excluded.channels, added_at=excluded.added_at",
            (os.path.abspath(s["file"]), start, st["duration_s"], st.get("valid_s", st["duration_s"]),
             st["counts"]["twitch"], st.get("twitches_per_hour", 0.0), st.get("episodes", 0),
             json.dumps(st.get("twitches_per_channel", [])), json.dumps(s.get("channels", [])),
             dt.datetime.now().isoformat(timespec="seconds")))

    def add_session(self, *, file: str, start: dt.datetime, duration_s: float, twitches: int,
                    per_channel: list[int] | None = None, channels: list[str] | None = None, episodes: int = 0) -> None:
        hours = duration_s / 3600
        self.add_summary({"file": file, "start": start.isoformat(), "channels": channels or ["ch0"],
                          "stats": {"duration_s": duration_s, "valid_s": duration_s, "counts": {"twitch": twitches},
                                    "twitches_per_hour": twitches / hours if hours else 0.0, "episodes": episodes,
                                    "twitches_per_channel": per_channel or [twitches]}})

    def sessions(self, since: dt.datetime | None = None) -> list[dict]:
        q = "SELECT file, start, duration_s, valid_s, twitches, twitches_per_hour, episodes, per_channel, channels FROM sessions"
        args: tuple = ()
        if since is not None:
            q += " WHERE start >= ?"
            args = (since.isoformat(),)
        rows = self.db.execute(q + " ORDER BY start", args).fetchall()
        keys = ["file", "start", "duration_s", "valid_s", "twitches", "twitches_per_hour", "episodes", "per_channel",
                "channels"]
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            d["start"] = dt.datetime.fromisoformat(d["start"])
            d["per_channel"] = json.loads(d["per_channel"] or "[]")
            d["channels"] = json.loads(d["channels"] or "[]")
            out.append(d)
        return out

    # -- diary ----------------------------------------------------------------------------------
    def add_entry(self, time: dt.datetime, kind: str, name: str, value: float | None, note: str | None) -> int:
        cur = self.db.execute("INSERT INTO diary(time, kind, name, value, note, created_at) VALUES (?,?,?,?,?,?)",
                              (time.isoformat(timespec="minutes"), kind, name, value, note,
                               dt.datetime.now().isoformat(timespec="seconds")))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def entries(self, since: dt.datetime | None = None) -> list[dict]:
        q = "SELECT id, time, kind, name, value, note FROM diary"
        args: tuple = ()
        if since is not None:
            q += " WHERE time >= ?"
            args = (since.isoformat(timespec="minutes"),)
        rows = self.db.execute(q + " ORDER BY time, id", args).fetchall()
        return [{"id": r[0], "time": dt.datetime.fromisoformat(r[1]), "kind": r[2], "name": r[3], "value": r[4],
                 "note": r[5]} for r in rows]

    def update_entry(self, entry_id: int, **fields: object) -> bool:
        allowed = {"time", "kind", "name", "value", "note"}
        sets = {k: v for k, v in fields.items() if k in allowed and v is not None}
        if "time" in sets and isinstance(sets["time"], dt.datetime):
            sets["time"] = sets["time"].isoformat(timespec="minutes")
        if not sets:
            return self.db.execute("SELECT 1 FROM diary WHERE id=?", (entry_id,)).fetchone() is not None
        cur = self.db.execute(f"UPDATE diary SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?",
                              (*sets.values(), entry_id))
        return cur.rowcount > 0

    def delete_entry(self, entry_id: int) -> bool:
        return self.db.execute("DELETE FROM diary WHERE id=?", (entry_id,)).rowcount > 0
