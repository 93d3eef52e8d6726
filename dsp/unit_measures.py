"""Per-unit measures: how often a recurring source fires, how regularly, and its waveform's
morphology (duration, phases, turns: the usual motor-unit potential descriptors)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from myotwitch.dsp.events import Event
from myotwitch.dsp.units import UnitStage


def morphology(wave: np.ndarray, fs: float) -> dict:
    """Duration (ms, where |w| >= 10% of its peak), phases (baseline crossings + 1) and turns
    (direction changes of at least 10% of the peak-to-peak) of one channel's waveform."""
    w = np.asarray(wave, dtype=float)
    ptp = float(w.max() - w.min()) if w.size else 0.0
    if ptp <= 0:
        return {"duration_ms": 0.0, "phases": 0, "turns": 0}
    support = np.flatnonzero(np.abs(w) >= 0.1 * np.abs(w).max())
    seg = w[support[0]: support[-1] + 1]
    signs = np.sign(seg[np.abs(seg) > 0.05 * ptp])
    phases = int(np.count_nonzero(signs[1:] != signs[:-1])) + 1 if signs.size else 0
    step = 0.1 * ptp
    turns, direction, extreme = 0, 0, seg[0]
    for v in seg[1:]:
        if direction == 0:
            if abs(v - extreme) >= step:
                direction, extreme = (1 if v > extreme else -1), v
        elif (v - extreme) * direction > 0:
            extreme = v  # still going the same way
        elif abs(v - extreme) >= step:
            turns += 1
            direction, extreme = -direction, v
    return {"duration_ms": float(support[-1] - support[0] + 1) / fs * 1000.0, "phases": phases, "turns": turns}


def _num(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


def unit_summaries(events: list[Event], stage: UnitStage, seconds: float,
                   keep_snippets: int = 12) -> list[dict]:
    """One dict per unit seen in ``events`` (labels as resolved by ``stage.resolved``): count,
    rate (over ``seconds``: a session's searched seconds, as its twitch rate), median peak-to-peak, morphology of its template, inter-twitch intervals, first and
    last seen, channel, and the template and a few member snippets for plots and matching."""
    members: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.kind == "twitch" and e.unit is not None:
            members[e.unit].append(e)
    info = stage.tracker.units()
    up = stage.tracker.up
    fs = stage.tracker.fs
    hours = seconds / 3600.0
    out = []
    for unit in sorted(members, key=lambda u: int(u[1:]) if u[1:].isdigit() else 0):
        evs = sorted(members[unit], key=lambda e: e.onset_sample)
        onsets = np.array([e.onset_s for e in evs])
        isi = np.diff(onsets)
        d = info.get(unit)
        tmpl = d["template"] if d is not None else None
        channel = int(np.argmax(np.ptp(tmpl, axis=1))) if tmpl is not None else evs[0].channel
        morph = morphology(tmpl[channel], fs * up) if tmpl is not None else {"duration_ms": None, "phases": None,
                                                                                "turns": None}
        row = {
            "unit": unit,
            "channel": channel,
            "count": len(evs),
            "rate_per_hour": _num(len(evs) / hours) if hours > 0 else None,
            "median_peak_to_peak_uv": _num(float(np.median([e.peak_to_peak_uv for e in evs]))),
            "duration_ms": _num(morph["duration_ms"]),
            "phases": morph["phases"],
            "turns": morph["turns"],
            "isi_median_s": _num(float(np.median(isi))) if isi.size else None,
            "isi_cv": _num(float(isi.std() / isi.mean())) if isi.size >= 2 and isi.mean() > 0 else None,
            "first_seen_s": _num(float(onsets[0])),
            "last_seen_s": _num(float(onsets[-1])),
            "onsets_s": [_num(float(v)) for v in onsets],
        }
        multi = [e.channels_peak_to_peak_uv for e in evs if e.channels_peak_to_peak_uv]
        row["channels_peak_to_peak_uv"] = ([_num(float(v)) for v in np.median(np.array(multi), axis=0)]
                                           if multi else None)
        if d is not None and tmpl is not None:
            row["template_fs"] = fs
            row["template"] = [[_num(float(v), 2) for v in ch[::up]] for ch in tmpl]
            row["snippets"] = [[[_num(float(v), 2) for v in ch] for ch in s] for s in d["snippets"][-keep_snippets:]]
        out.append(row)
    return out
