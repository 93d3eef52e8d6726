"""Units across sessions: a unit seen again on a later day keeps its identity.

Each session's unit templates are compared with the ones stored from earlier sessions that
had the same channel names (resampled to a common rate, aligned, normalised correlation and
size ratio). A match gives the unit its lasting name ("P3"); otherwise it is stored as new.
Tables live in the session index's SQLite file (host/index.py ``database_path``), next to, not
inside, the index's own tables.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
from pathlib import Path

import numpy as np
from scipy import signal

from myotwitch.host.report_units import RECURRING_MIN

log = logging.getLogger(__name__)

COMMON_FS = 4000
SCHEMA = """
CREATE TABLE IF NOT EXISTS unit_templates (
    id INTEGER PRIMARY KEY,
    channels TEXT NOT NULL,
    channel INTEGER NOT NULL,
    template TEXT NOT NULL,
    ptp_uv REAL
);
CREATE TABLE IF NOT EXISTS unit_sightings (
    file TEXT NOT NULL,
    start TEXT,
    unit_id INTEGER NOT NULL,
    local_unit TEXT NOT NULL,
    count INTEGER,
    rate_per_hour REAL,
    PRIMARY KEY (file, local_unit)
);
CREATE INDEX IF NOT EXISTS unit_sightings_start ON unit_sightings(start);
"""


def resample_template(template: list[list[float]], fs: float) -> np.ndarray:
    """(channels, n) at ``COMMON_FS`` so sessions recorded at different rates compare."""
    x = np.asarray(template, dtype=float)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError("template must be a non-empty (channels, samples) list")
    if int(round(fs)) == COMMON_FS:
        return x
    return signal.resample_poly(x, COMMON_FS, int(round(fs)), axis=1)


def similarity(a: np.ndarray, b: np.ndarray, max_lag_ms: float = 4.0) -> tuple[float, float]:
    """(normalised correlation at the best common lag, size ratio |a|/|b|) of two templates."""
    lag = int(max_lag_ms * COMMON_FS / 1000)
    n = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, n - a.shape[1])))
    b = np.pad(b, ((0, 0), (lag, n - b.shape[1] + lag)))
    xc = sum(np.correlate(b[c], a[c], mode="valid") for c in range(a.shape[0]))
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0, 0.0
    return float(np.max(xc)) / (na * nb), na / nb


class UnitRegistry:
    """Stored unit templates and where each was seen."""

    def __init__(self, path: str | os.PathLike, min_corr: float = 0.9, max_ratio: float = 1.5,
                 min_count: int = RECURRING_MIN) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)
        self.min_corr, self.max_ratio, self.min_count = min_corr, max_ratio, min_count

    @classmethod
    def default(cls) -> UnitRegistry:
        from myotwitch.host.index import database_path

        return cls(database_path())

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> UnitRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(self, summary: dict) -> dict[str, str]:
        """Give the summary's units (with >= ``min_count`` twitches) lasting names, set
        ``known_as`` on them, and record the sighting. Returns local -> lasting name."""
        file = summary.get("file")
        units = [u for u in summary.get("units") or [] if u.get("count", 0) >= self.min_count and u.get("template")]
        if not file or not units:
            return {}
        file = os.path.abspath(file)
        channels = json.dumps(list(summary.get("channels") or []))
        stored = self.db.execute("SELECT id, channel, template FROM unit_templates WHERE channels=?",
                                 (channels,)).fetchall()
        known = [(sid, ch, np.asarray(json.loads(t))) for sid, ch, t in stored]
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM unit_sightings WHERE file=?", (file,))
            names: dict[str, str] = {}
            taken: set[int] = set()
            for u in sorted(units, key=lambda u: -u["count"]):
                tmpl = resample_template(u["template"], u["template_fs"])
                best, best_corr = None, self.min_corr
                for sid, ch, t in known:
                    if sid in taken or ch != u["channel"] or t.shape[0] != tmpl.shape[0]:
                        continue
                    corr, ratio = similarity(tmpl, t)
                    if corr >= best_corr and 1 / self.max_ratio <= ratio <= self.max_ratio:
                        best, best_corr = sid, corr
                ptp = float(np.ptp(tmpl[u["channel"]]))
                if best is None:
                    cur = self.db.execute("INSERT INTO unit_templates(channels, channel, template, ptp_uv) "
                                          "VALUES (?,?,?,?)", (channels, u["channel"],
                                                               json.dumps(np.round(tmpl, 2).tolist()), ptp))
                    best = int(cur.lastrowid or 0)
                    known.append((best, u["channel"], tmpl))
                else:  # follow slow change: the latest sighting is the reference from now on
                    self.db.execute("UPDATE unit_templates SET template=?, ptp_uv=? WHERE id=?",
                                    (json.dumps(np.round(tmpl, 2).tolist()), ptp, best))
                taken.add(best)
                self.db.execute("INSERT INTO unit_sightings(file, start, unit_id, local_unit, count, rate_per_hour) "
                                "VALUES (?,?,?,?,?,?)", (file, summary.get("start"), best, u["unit"], u["count"],
                                                         u.get("rate_per_hour")))
                names[u["unit"]] = f"P{best}"
                u["known_as"] = f"P{best}"
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return names

    def sightings(self) -> dict[str, list[dict]]:
        """file -> [{"known_as", "count"}] for every registered session."""
        out: dict[str, list[dict]] = {}
        for file, unit_id, count in self.db.execute("SELECT file, unit_id, count FROM unit_sightings"):
            out.setdefault(file, []).append({"known_as": f"P{unit_id}", "count": count})
        return out


def register_summary(summary: dict) -> None:
    """Best effort for the CLI and recorder: the registry is a convenience, never a failure."""
    try:
        with UnitRegistry.default() as reg:
            reg.register(summary)
    except (sqlite3.Error, OSError, ValueError) as e:
        log.warning("unit registry not updated: %s", e)


def attach_sightings(sessions: list[dict], path: str | os.PathLike | None = None) -> list[dict]:
    """Index session rows with their registered units (``units``) added where known
    (``path``: the index's database file; default: the user's)."""
    try:
        with (UnitRegistry(path) if path else UnitRegistry.default()) as reg:
            seen = reg.sightings()
    except (sqlite3.Error, OSError) as e:
        log.warning("unit registry unavailable: %s", e)
        return sessions
    return [{**s, "units": seen[os.path.abspath(s["file"])]} if s.get("file") and not _named(s.get("units"))
            and os.path.abspath(s["file"]) in seen else s for s in sessions]


def _named(units: object) -> bool:
    """Does a session's ``units`` entry already carry lasting names (whatever else it holds)?"""
    return isinstance(units, list) and any(isinstance(u, dict) and u.get("known_as") for u in units)


def new_unit_metrics(sessions: list[dict], span_days: int = 14, baseline_days: int = 7,
                     min_sessions: int = 2) -> dict:
    """From sessions (sorted by start) carrying ``units`` with lasting names: units first seen
    after the first ``baseline_days`` of unit data, seen in >= ``min_sessions`` sessions, and
    how many days the unit data span."""
    first: dict[str, dt.datetime] = {}
    n_sessions: dict[str, int] = {}
    twitches: dict[str, int] = {}
    starts = []
    for s in sessions:
        named = [u for u in s.get("units") or [] if isinstance(u, dict) and u.get("known_as")]
        if not named:
            continue
        starts.append(s["start"])
        for u in named:
            first.setdefault(u["known_as"], s["start"])
            n_sessions[u["known_as"]] = n_sessions.get(u["known_as"], 0) + 1
            twitches[u["known_as"]] = twitches.get(u["known_as"], 0) + int(u.get("count") or 0)
    if not starts:
        return {"units_known": 0, "units_new": 0, "units_span_days": 0, "units_new_detail": ""}
    cut = starts[0] + dt.timedelta(days=baseline_days)
    new = sorted((k for k, t in first.items() if t >= cut and n_sessions[k] >= min_sessions), key=lambda k: first[k])
    span = (starts[-1].date() - starts[0].date()).days + 1
    detail = ", ".join(f"{k} first recorded {first[k]:%d %b} ({twitches[k]} twitches in {n_sessions[k]} sessions)"
                       for k in new)
    return {"units_known": sum(1 for t in first.values() if t < cut), "units_new": len(new),
            "units_span_days": span, "units_new_detail": detail}
