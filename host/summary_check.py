"""Validate a session summary read from disk (a recorder's ``.summary.json`` sidecar) before
anything uses it: a tampered or damaged file is refused with one line naming the field,
never trusted into reports, indexes or advice."""

from __future__ import annotations

import datetime as dt
import math

from myotwitch.host.errors import FormatError

KINDS = ("twitch", "contraction", "artifact")
#: the longest session a summary may describe, and ``record --duration`` may ask for (s): a century
LONGEST_S = 100 * 365 * 86400.0


class _Check:
    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, where: str, expected: str) -> FormatError:
        return FormatError(f"{self.name}: field '{where}' must be {expected}")

    def number(self, v: object, where: str, *, optional: bool = False, minimum: float | None = 0.0,
               maximum: float | None = None) -> None:
        if v is None and optional:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise self.fail(where, "a finite number" + (f" >= {minimum:g}" if minimum is not None else "")
                            + (f" and <= {maximum:g}" if maximum is not None else "")
                            + (" or null" if optional else ""))

    def integer(self, v: object, where: str) -> None:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise self.fail(where, "a whole number >= 0")

    def text(self, v: object, where: str, *, optional: bool = False, limit: int = 4096) -> None:
        if v is None and optional:
            return
        if not isinstance(v, str) or len(v) > limit:
            raise self.fail(where, f"text (at most {limit} characters)" + (" or null" if optional else ""))

    def table(self, v: object, where: str) -> dict:
        if not isinstance(v, dict):
            raise self.fail(where, "an object")
        return v

    def items(self, v: object, where: str, limit: int = 10_000_000) -> list:
        if not isinstance(v, list) or len(v) > limit:
            raise self.fail(where, "a list")
        return v


def validate_summary(s: object, name: str) -> dict:
    """The summary itself when it has the shape and types ``host.session.summarize`` writes."""
    from myotwitch.host.session import SCHEMA

    c = _Check(name)
    if not isinstance(s, dict) or s.get("schema") != SCHEMA:
        raise FormatError(f"{name}: not a myotwitch session summary (expected schema {SCHEMA})")
    c.text(s.get("file"), "file", optional=True)
    c.text(s.get("start"), "start", optional=True, limit=64)
    if s.get("start"):
        try:
            dt.datetime.fromisoformat(s["start"])
        except ValueError as err:
            raise c.fail("start", "an ISO date and time") from err
    c.number(s.get("fs"), "fs", minimum=1e-9)
    channels = c.items(s.get("channels"), "channels", limit=256)
    if not channels:
        raise c.fail("channels", "a non-empty list of names")
    for i, lab in enumerate(channels):
        c.text(lab, f"channels[{i}]", limit=256)
    if s.get("device") is not None:
        for k, v in c.table(s["device"], "device").items():
            if not isinstance(v, (str, int, float, bool, type(None), list)):
                raise c.fail(f"device.{k}", "a plain value")
    st = c.table(s.get("stats"), "stats")
    for key in ("duration_s", "valid_s"):  # (a century: what a recording's --duration may be at most)
        c.number(st.get(key), f"stats.{key}", maximum=LONGEST_S)
    c.number(st.get("twitches_per_hour"), "stats.twitches_per_hour", optional=True)  # (null: no usable data)
    if st["valid_s"] > st["duration_s"] + 1.0:
        raise c.fail("stats.valid_s", f"at most stats.duration_s ({st['duration_s']:g} s)")
    # (the seconds searched, which the rate is over: absent in a summary written before they
    # were kept, whose valid_s stands in)
    c.number(st.get("searched_s"), "stats.searched_s", optional=True, maximum=LONGEST_S)
    if st.get("searched_s") is not None and st["searched_s"] > st["valid_s"] + 1.0:
        raise c.fail("stats.searched_s", f"at most stats.valid_s ({st['valid_s']:g} s)")
    c.number(st.get("median_twitch_uv"), "stats.median_twitch_uv", optional=True)
    c.integer(st.get("episodes"), "stats.episodes")
    counts = c.table(st.get("counts"), "stats.counts")
    for kind in KINDS:
        c.integer(counts.get(kind), f"stats.counts.{kind}")
    per = c.items(st.get("twitches_per_channel"), "stats.twitches_per_channel", limit=256)
    if len(per) != len(channels):
        raise c.fail("stats.twitches_per_channel", "one count per channel")
    for i, n in enumerate(per):
        c.integer(n, f"stats.twitches_per_channel[{i}]")
    q = c.table(s.get("quality"), "quality")
    for i, v in enumerate(c.items(q.get("noise_floor_uv_rms"), "quality.noise_floor_uv_rms", limit=256)):
        c.number(v, f"quality.noise_floor_uv_rms[{i}]", optional=True)
    for i, v in enumerate(c.items(q.get("clipped_fraction", []), "quality.clipped_fraction", limit=256)):
        c.number(v, f"quality.clipped_fraction[{i}]", optional=True)
    c.integer(q.get("gaps"), "quality.gaps")
    c.number(q.get("gap_s"), "quality.gap_s")
    for i, w in enumerate(c.items(q.get("warnings", []), "quality.warnings", limit=1000)):
        c.text(w, f"quality.warnings[{i}]")
    if q.get("mains") is not None:
        mains = c.table(q["mains"], "quality.mains")
        c.number(mains.get("frequency_hz"), "quality.mains.frequency_hz", optional=True)
        c.number(mains.get("level_uv_rms"), "quality.mains.level_uv_rms", optional=True)
        for i, h in enumerate(c.items(mains.get("harmonics_hz") or [], "quality.mains.harmonics_hz", limit=64)):
            c.number(h, f"quality.mains.harmonics_hz[{i}]")
    det = c.table(s.get("detector"), "detector")
    c.number(det.get("band_low_hz"), "detector.band_low_hz")
    c.number(det.get("band_high_hz"), "detector.band_high_hz", optional=True)
    for i, item in enumerate(c.items(s.get("episodes", []), "episodes")):
        ev = c.table(item, f"episodes[{i}]")
        for key in ("start_s", "end_s", "max_peak_to_peak_uv"):
            c.number(ev.get(key), f"episodes[{i}].{key}")
        c.number(ev.get("duration_s"), f"episodes[{i}].duration_s", optional=True)
        c.integer(ev.get("n_twitches"), f"episodes[{i}].n_twitches")
    for i, item in enumerate(c.items(s.get("events", []), "events")):
        ev = c.table(item, f"events[{i}]")
        for key in ("onset_s", "offset_s", "duration_ms", "peak_to_peak_uv"):
            c.number(ev.get(key), f"events[{i}].{key}")
        c.number(ev.get("snr_db"), f"events[{i}].snr_db", optional=True, minimum=None)
        c.integer(ev.get("channel"), f"events[{i}].channel")
        if ev["channel"] >= len(channels):
            raise c.fail(f"events[{i}].channel", f"a channel index below {len(channels)}")
        if ev.get("kind") not in KINDS:
            raise c.fail(f"events[{i}].kind", "twitch, contraction or artifact")
        c.text(ev.get("reason"), f"events[{i}].reason", optional=True)
        c.text(ev.get("unit"), f"events[{i}].unit", optional=True, limit=32)
    _check_units(c, s.get("units", []), len(channels))
    for key in ("gaps", "unsearched"):  # (spans of the session; "unsearched" absent in older summaries)
        for i, item in enumerate(c.items(s.get(key, []), key)):
            g = c.table(item, f"{key}[{i}]")
            c.number(g.get("onset_s"), f"{key}[{i}].onset_s")
            c.number(g.get("duration_s"), f"{key}[{i}].duration_s")
    return s


def _check_units(c: _Check, units: object, n_channels: int) -> None:
    """The ``units`` list (dsp/unit_measures.py): names, counts, measures, template and snippets."""
    def waves(v: object, where: str) -> None:
        for j, row in enumerate(c.items(v, where, limit=n_channels)):
            for k, x in enumerate(c.items(row, f"{where}[{j}]", limit=100_000)):
                c.number(x, f"{where}[{j}][{k}]", optional=True, minimum=None)

    for i, item in enumerate(c.items(units, "units", limit=100_000)):
        u = c.table(item, f"units[{i}]")
        c.text(u.get("unit"), f"units[{i}].unit", limit=32)
        c.text(u.get("known_as"), f"units[{i}].known_as", optional=True, limit=32)
        c.integer(u.get("count"), f"units[{i}].count")
        c.integer(u.get("channel"), f"units[{i}].channel")
        if u["channel"] >= n_channels:
            raise c.fail(f"units[{i}].channel", f"a channel index below {n_channels}")
        for key in ("rate_per_hour", "median_peak_to_peak_uv", "duration_ms", "isi_median_s", "isi_cv",
                    "first_seen_s", "last_seen_s", "template_fs"):
            c.number(u.get(key), f"units[{i}].{key}", optional=True)
        for key in ("phases", "turns"):
            if u.get(key) is not None:
                c.integer(u[key], f"units[{i}].{key}")
        for k, x in enumerate(c.items(u.get("onsets_s", []), f"units[{i}].onsets_s")):
            c.number(x, f"units[{i}].onsets_s[{k}]", optional=True)
        if u.get("channels_peak_to_peak_uv") is not None:
            for k, x in enumerate(c.items(u["channels_peak_to_peak_uv"], f"units[{i}].channels_peak_to_peak_uv",
                                          limit=n_channels)):
                c.number(x, f"units[{i}].channels_peak_to_peak_uv[{k}]", optional=True)
        if u.get("template") is not None:
            waves(u["template"], f"units[{i}].template")
        for k, snip in enumerate(c.items(u.get("snippets", []), f"units[{i}].snippets", limit=1000)):
            waves(snip, f"units[{i}].snippets[{k}]")
