"""Local session index and symptom diary (SQLite in the user data directory).

The recorder and ``analyze`` add one row per session; ``myotwitch log`` writes diary
entries; the advice engine and ``myotwitch history`` read both. WAL mode and a busy timeout
let the recorder and the CLI write at the same time.

A session is keyed by the content of its file, not by the name it was given: analysing a
file again, by a relative path, a symlink or a copy, updates the one row instead of adding a
second (which would double its twitches in the advice). Sessions without a trustworthy start
time are kept but marked undated, and left out of trends."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Collection
from pathlib import Path

from myotwitch.host.device_id import device_key
from myotwitch.host.errors import HistoryError
from myotwitch.host.wording import counted, on_local_clock

log = logging.getLogger(__name__)

#: bumped when the sessions table changes; older databases are migrated on open (3: the
#: detector settings a session was counted with; 4: the device that recorded it; 5: the
#: seconds the detector searched, which the rates are over: NULL in older rows, whose
#: ``valid_s`` stands in)
SCHEMA_VERSION = 5

SESSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    file TEXT,
    start TEXT,
    dated INTEGER NOT NULL DEFAULT 1,
    duration_s REAL,
    valid_s REAL,
    twitches INTEGER,
    twitches_per_hour REAL,
    episodes INTEGER,
    per_channel TEXT,
    channels TEXT,
    units TEXT,
    added_at TEXT,
    counting TEXT,
    device TEXT,
    searched_s REAL
);
CREATE INDEX IF NOT EXISTS sessions_start ON sessions(start);
CREATE INDEX IF NOT EXISTS sessions_file ON sessions(file);
"""
DIARY_TABLE = """
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
"""
COLUMNS = ("key", "file", "start", "dated", "duration_s", "valid_s", "twitches", "twitches_per_hour", "episodes",
           "per_channel", "channels", "units", "added_at", "counting", "device", "searched_s")
#: the detector settings that change what a session counts (``summary["detector"]``): two
#: sessions counted with different ones cannot be compared rate for rate
COUNTING_SETTINGS = ("detector", "energy_on_threshold", "on_threshold", "min_twitch_uv", "max_rest_floor_uv",
                     "band_low_hz", "band_high_hz")

_SAMPLE = 1 << 20  # bytes read at the head, middle and tail of a large file


def data_dir() -> Path:
    """``$MYOTWITCH_HOME`` if set, else the platform's user data directory."""
    env = os.environ.get("MYOTWITCH_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("myotwitch", appauthor=False))


def database_path() -> Path:
    """The history database: session index, diary and unit registry in one SQLite file."""
    return data_dir() / "myotwitch.sqlite"


def resolved(path: str | os.PathLike) -> str:
    """One spelling per file: absolute, symlinks followed."""
    return os.path.realpath(os.fspath(path))


def content_key(path: str | os.PathLike) -> str | None:
    """A cheap, stable identity of a file's bytes: its size and a hash of all of it (small
    files) or of 1 MiB at its head, middle and tail (large ones; the header and the signal
    there differ between any two recordings). None when the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            h = hashlib.blake2b(digest_size=16)
            h.update(str(size).encode())
            if size <= 3 * _SAMPLE:
                h.update(fh.read())
            else:
                for offset in (0, size // 2 - _SAMPLE // 2, size - _SAMPLE):
                    fh.seek(offset)
                    h.update(fh.read(_SAMPLE))
    except OSError:
        return None
    return f"b2:{h.hexdigest()}"


def session_key(file: str | os.PathLike) -> str:
    """The index key of the recording at ``file``: its content identity, or its resolved path
    when the file is not there (a summary whose recording was moved, or a test row)."""
    return content_key(file) or "path:" + resolved(file)


def _local_naive(start: object) -> dt.datetime | None:
    if isinstance(start, dt.datetime):
        t = start
    elif isinstance(start, str) and start:
        try:
            t = dt.datetime.fromisoformat(start)
        except ValueError:
            return None
    else:
        return None
    return on_local_clock(t)


def is_dated(summary: dict) -> bool:
    """A summary has a start time the trends may use (not missing, not flagged ``dated: false``)."""
    return summary.get("dated", True) is not False and _local_naive(summary.get("start")) is not None


def summary_row(summary: dict) -> dict:
    """The session row an analysis summary gives, in the shape ``SessionIndex.sessions`` returns
    (``start`` None when undated)."""
    st = summary["stats"]
    file = summary.get("file") or ""
    units = summary.get("units")
    return {"key": session_key(file) if file else "", "file": resolved(file) if file else "",
            "start": _local_naive(summary.get("start")) if is_dated(summary) else None,
            "dated": is_dated(summary), "duration_s": st["duration_s"],
            "valid_s": st.get("valid_s", st["duration_s"]), "searched_s": st.get("searched_s"),
            "twitches": st["counts"]["twitch"],
            "twitches_per_hour": st.get("twitches_per_hour", 0.0), "episodes": st.get("episodes", 0),
            "per_channel": list(st.get("twitches_per_channel", [])), "channels": list(summary.get("channels", [])),
            "units": list(units) if isinstance(units, list) else [], "counting": counting_settings(summary),
            "device": device_of(summary)}


def device_of(summary: dict) -> str | None:
    """The id of the device that recorded a session (its INFO frame's, an LSL stream's, a
    BrainFlow board's), None when the summary does not say: two sensors recorded at once with
    the same channel names are two recordings, not one whose files take turns."""
    dev = summary.get("device")
    ident = dev.get("device_id") if isinstance(dev, dict) else None
    # in the form a recording's header keeps it (device_key: a long or non-ASCII id is encoded
    # there), so the recorder's row and its file analysed again name one device
    return device_key(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident) else None


def counting_settings(summary: dict) -> dict | None:
    """The settings of ``COUNTING_SETTINGS`` a summary was counted with (None: not recorded), as
    the detector used them: numbers as floats, the band's upper edge resolved at the summary's
    rate (the default, None, is 450 Hz or just under Nyquist), so equal settings compare equal."""
    det = summary.get("detector")
    if not isinstance(det, dict):
        return None
    out = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
           for k, v in ((k, det.get(k)) for k in COUNTING_SETTINGS)}
    fs = summary.get("fs")
    if out["band_high_hz"] is None and isinstance(fs, (int, float)) and fs > 0:
        out["band_high_hz"] = min(450.0, float(det.get("band_cap_fraction") or 0.45) * float(fs))
    return out


def same_session(row: dict, other: dict) -> bool:
    """Two session rows describe the same recording (same content, or the same file)."""
    if row.get("key") and row.get("key") == other.get("key"):
        return True
    a, b = row.get("file"), other.get("file")
    return bool(a) and bool(b) and resolved(str(a)) == resolved(str(b))


#: two files of one recording start within this many seconds of each other (``same_stretch``)
SAME_START_S = 1.0


def same_stretch(a: dict, b: dict) -> bool:
    """Two dated session rows of different files hold the same stretch of one recording: the
    same start (within ``SAME_START_S``) and channels (from the same device where both say
    which), over times that overlap by more than half the shorter one: a copy cut short (an
    interrupted download or card copy), the same night exported again (a BDF beside its EDF);
    adding both had counted its twitches and hours twice. Two people's nights recorded at once
    with the same channel names start apart, as two sensors' files do."""
    if a.get("start") is None or b.get("start") is None:
        return False
    if abs((a["start"] - b["start"]).total_seconds()) > SAME_START_S:
        return False
    if (a.get("channels") or []) != (b.get("channels") or []):
        return False
    da, db = a.get("device"), b.get("device")
    if da is not None and db is not None and da != db:
        return False
    la, lb = float(a.get("duration_s") or 0.0), float(b.get("duration_s") or 0.0)
    if min(la, lb) <= 0:
        return False
    end = min(a["start"] + dt.timedelta(seconds=la), b["start"] + dt.timedelta(seconds=lb))
    overlap = (end - max(a["start"], b["start"])).total_seconds()
    return overlap > 0.5 * min(la, lb)


_said_twice: set[tuple[str, str]] = set()


def distinct_sessions(rows: list[dict], outside: Collection[str] = ()) -> list[dict]:
    """``rows`` (in their order) with each recording once: of the rows that hold the same
    stretch (``same_stretch``), the one with the most data stays, and the others are said once
    with the command that removes them from the index; ``outside``: the files of rows that are
    not in it (a batch analysed with --no-index), for which there is none to give."""
    order = sorted(range(len(rows)), key=lambda i: -float(rows[i].get("valid_s") or 0.0))  # (stable: first wins ties)
    # the kept dated rows by start: a twin starts within SAME_START_S of a row (a year of hourly
    # files had asked every kept row of every other: a minute)
    starts: list[dt.datetime] = []
    kept: list[int] = []
    dropped: set[int] = set()
    near = dt.timedelta(seconds=SAME_START_S)
    for i in order:
        row, twin = rows[i], None
        start = row.get("start")
        if start is not None:
            lo, hi = bisect.bisect_left(starts, start - near), bisect.bisect_right(starts, start + near)
            twin = next((kept[j] for j in range(lo, hi) if same_stretch(rows[kept[j]], row)), None)
        if twin is None:
            if start is not None:
                j = bisect.bisect_right(starts, start)
                starts.insert(j, start)
                kept.insert(j, i)
            continue
        dropped.add(i)
        gone, stays = str(rows[i].get("file") or "?"), str(rows[twin].get("file") or "?")
        if (gone, stays) not in _said_twice:
            _said_twice.add((gone, stays))
            # (a file the index does not hold had been given the command, which then found no session)
            remove = ("" if gone in outside else
                      f"; `myotwitch history --forget {_shell_quoted(gone)}` removes the other")
            log.warning("%s holds the same stretch of recording as %s (the same channels from the same start: a copy "
                        "cut short, or another export of it): counted once, from %s, which has more data%s",
                        gone, stays, stays, remove)
    return [r for i, r in enumerate(rows) if i not in dropped]


#: how long a process waits for another one holding the file (a write, a migration, the
#: switch to WAL) before giving up
BUSY_WAIT_S = 30.0


def unusable(path: str | os.PathLike, e: BaseException) -> str:
    """One line on why the history database at ``path`` cannot be used, and what to do."""
    # (only a file SQLite finds damaged gets the advice that empties the history and diary)
    code = getattr(e, "sqlite_errorname", "")
    if code in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(e) or "not a database" in str(e):
        return (f"{path}: the history database is damaged ({e}); move it aside and the history and diary start "
                "again empty (`myotwitch analyze` on your recordings adds their sessions back)")
    if isinstance(e, OSError) or code in ("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM"):
        return (f"{path}: the history database cannot be opened or written there ({getattr(e, 'strerror', None) or e}); "
                "set MYOTWITCH_HOME to a folder you can write")
    return f"{path}: the history database cannot be used ({e})"


def _shell_quoted(path: str) -> str:
    """``path`` as one word of a command line on this system (spaces are common in Windows paths)."""
    if os.name == "nt":
        import subprocess

        return subprocess.list2cmdline([path])
    import shlex

    return shlex.quote(path)


def _decoded(d: dict) -> dict:
    """A session row as ``sessions`` returns it; ValueError naming the field that is not what the
    index writes (a row edited or damaged by hand)."""
    for k in ("duration_s", "valid_s", "searched_s", "twitches", "twitches_per_hour", "episodes"):
        v = d[k]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise ValueError(f"{k} is {v!r}, not a number")
    d["dated"] = bool(d["dated"]) and d["start"] is not None
    if d["device"] is not None:  # (a row from before ids were kept as headers keep them: a long id whole)
        d["device"] = device_key(d["device"])
    field = "start"
    try:
        d["start"] = dt.datetime.fromisoformat(d["start"]) if d["dated"] else None
        for field in ("per_channel", "channels", "units", "counting"):
            d[field] = json.loads(d[field]) if d[field] else (None if field == "counting" else [])
    except (ValueError, TypeError) as e:
        raise ValueError(f"{field}: {e}") from e
    return d


class SessionIndex:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=BUSY_WAIT_S, isolation_level=None)
            self.db.execute(f"PRAGMA busy_timeout={int(BUSY_WAIT_S * 1000)}")
            self._use_wal()
            self.db.executescript(DIARY_TABLE)
            self._upgrade()
        except (OSError, sqlite3.Error) as e:
            raise HistoryError(unusable(self.path, e)) from e

    def _use_wal(self) -> None:
        """Put the file in WAL mode (once: the mode is kept in the file). Switching needs the
        file to itself, and SQLite answers "database is locked" at once, without waiting, when
        other processes open it at the same moment (a recorder and ``myotwitch history`` at
        start-up), so this retries until one of them has switched it."""
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                if self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                    return
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _upgrade(self) -> None:
        """Create the sessions table, or migrate one keyed by file path (schema 1) to content keys."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait and find it done
        try:
            if self.db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                cols = [r[1] for r in self.db.execute("PRAGMA table_info(sessions)")]
                if cols and "key" not in cols:
                    self._migrate_from_paths()
                elif cols:  # schema 2 to 4: the rows stay, what they lack (settings, device, searched seconds) unknown
                    for col, kind in (("counting", "TEXT"), ("device", "TEXT"), ("searched_s", "REAL")):
                        if col not in cols:
                            self.db.execute(f"ALTER TABLE sessions ADD COLUMN {col} {kind}")
                else:
                    self._create_sessions()
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _create_sessions(self) -> None:
        for stmt in SESSIONS_TABLE.split(";"):  # not executescript: it would commit the open transaction
            if stmt.strip():
                self.db.execute(stmt)

    def _migrate_from_paths(self) -> None:
        old = self.db.execute("SELECT file, start, duration_s, valid_s, twitches, twitches_per_hour, episodes,"
                              " per_channel, channels, added_at FROM sessions ORDER BY added_at, id").fetchall()
        self.db.execute("ALTER TABLE sessions RENAME TO sessions_v1")
        self.db.execute("DROP INDEX IF EXISTS sessions_start")
        self._create_sessions()
        for file, start, *rest, added_at in old:
            path = resolved(file) if file and os.path.exists(file) else file
            # the same recording under two paths: the later row wins (one session, not two)
            self.db.execute("INSERT OR REPLACE INTO sessions(key, file, start, dated, duration_s, valid_s, twitches,"
                            " twitches_per_hour, episodes, per_channel, channels, units, added_at)"
                            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (session_key(file) if file else f"row:{added_at}:{start}", path, start,
                             int(start is not None), *rest, "[]", added_at))
        self.db.execute("DROP TABLE sessions_v1")
        merged = len(old) - self.db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        log.info("session index migrated to content keys (%d rows%s)", len(old),
                 f", {counted(merged, 'duplicate')} of the same file merged" if merged else "")

    @classmethod
    def default(cls) -> SessionIndex:
        return cls(database_path())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SessionIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions -----------------------------------------------------------------------------
    def add_summary(self, s: dict) -> bool:
        """Insert or update the session a summary describes. Keyed by the file's content, so a
        file analysed again under any path stays one session; a file whose content changed at
        the same path (a repaired recording) replaces its old row. True when the row is new."""
        if not s.get("file"):
            return False
        row = summary_row(s)
        values = (row["key"], row["file"], row["start"].isoformat() if row["start"] else None, int(row["dated"]),
                  row["duration_s"], row["valid_s"], row["twitches"], row["twitches_per_hour"], row["episodes"],
                  json.dumps(row["per_channel"]), json.dumps(row["channels"]), json.dumps(row["units"]),
                  dt.datetime.now().isoformat(timespec="seconds"),
                  None if row["counting"] is None else json.dumps(row["counting"], sort_keys=True), row["device"],
                  row["searched_s"])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM sessions WHERE file=? AND key<>?", (row["file"], row["key"]))
            new = self.db.execute("SELECT 1 FROM sessions WHERE key=?", (row["key"],)).fetchone() is None
            self.db.execute(
                f"INSERT INTO sessions({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
                " ON CONFLICT(key) DO UPDATE SET " + ", ".join(f"{c}=excluded.{c}" for c in COLUMNS[1:]), values)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return new

    def add_session(self, *, file: str, start: dt.datetime | None, duration_s: float, twitches: int,
                    per_channel: list[int] | None = None, channels: list[str] | None = None, episodes: int = 0,
                    units: list[dict] | None = None) -> bool:
        """A session from plain numbers (tests, imports); ``start=None`` adds it undated."""
        hours = duration_s / 3600
        summary: dict = {"file": file, "start": start.isoformat() if start else None, "channels": channels or ["ch0"],
                         "stats": {"duration_s": duration_s, "valid_s": duration_s, "counts": {"twitch": twitches},
                                   "twitches_per_hour": twitches / hours if hours else None, "episodes": episodes,
                                   "twitches_per_channel": per_channel or [twitches]}}
        if units is not None:
            summary["units"] = units
        return self.add_summary(summary)

    def sessions(self, since: dt.datetime | None = None, *, include_undated: bool = False) -> list[dict]:
        """Session rows, oldest first. Undated sessions only with ``include_undated`` (they come
        last, with ``start`` None): trends and advice must not place them in time."""
        keys = ["key", "file", "start", "dated", "duration_s", "valid_s", "twitches", "twitches_per_hour", "episodes",
                "per_channel", "channels", "units", "counting", "device", "searched_s"]
        q = f"SELECT {', '.join(keys)} FROM sessions WHERE (dated=1 AND start IS NOT NULL"
        args: tuple = ()
        if since is not None:
            q += " AND start >= ?"
            args = (since.isoformat(),)
        q += ")" + (" OR dated=0 OR start IS NULL" if include_undated else "")
        rows = self.db.execute(q + " ORDER BY start IS NULL, start, id", args).fetchall()
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            try:
                out.append(_decoded(d))
            except (ValueError, TypeError) as e:  # one damaged row must not hide the others
                remedy = (f"`myotwitch history --forget {_shell_quoted(d['file'])}` removes it" if d["file"] else
                          "it has no file name; `myotwitch history --before YYYY-MM-DD` removes dated sessions "
                          "before a day")
                log.warning("%s: the session of %s cannot be read (%s), so it is left out; %s", self.path,
                            d["file"] or "an unnamed file", e, remedy)
        return out

    def forget(self, file: str | os.PathLike) -> int:
        """Remove the session of ``file`` (matched by content, or by path if the file is gone)."""
        key = content_key(file)
        return self.db.execute("DELETE FROM sessions WHERE key=? OR file=? OR file=?",
                               (key or "", resolved(file), os.path.abspath(file))).rowcount

    def forget_before(self, when: dt.datetime) -> int:
        """Remove the dated sessions that started before ``when`` (undated ones have no date to compare)."""
        return self.db.execute("DELETE FROM sessions WHERE dated=1 AND start IS NOT NULL AND start < ?",
                               (when.isoformat(),)).rowcount

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
