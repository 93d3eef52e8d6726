"""Scoring detections against ground truth: one-to-one matching within a tolerance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int
    hours: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_per_hour(self) -> float:
        return self.fp / self.hours if self.hours else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.hours + other.hours)


def match(detected_onsets: np.ndarray, true_onsets: np.ndarray, tolerance_s: float = 0.030) -> tuple[int, int, int]:
    """Greedy one-to-one matching of onsets (s) in time order; returns (tp, fp, fn)."""
    d = np.sort(np.asarray(detected_onsets, dtype=float))
    t = np.sort(np.asarray(true_onsets, dtype=float))
    used = np.zeros(t.size, dtype=bool)
    tp = 0
    for onset in d:
        lo = np.searchsorted(t, onset - tolerance_s, side="left")
        hi = np.searchsorted(t, onset + tolerance_s, side="right")
        best, best_dist = -1, np.inf
        for j in range(lo, hi):
            if not used[j] and abs(t[j] - onset) < best_dist:
                best, best_dist = j, abs(t[j] - onset)
        if best >= 0:
            used[best] = True
            tp += 1
    return tp, d.size - tp, t.size - tp


def score(detected: dict[int, np.ndarray], truth: dict[int, np.ndarray], duration_s: float,
          tolerance_s: float = 0.030) -> Score:
    """Per-channel matching summed over channels. Inputs map channel -> onset times (s)."""
    tp = fp = fn = 0
    for c in set(detected) | set(truth):
        a, b, e = match(detected.get(c, np.empty(0)), truth.get(c, np.empty(0)), tolerance_s)
        tp, fp, fn = tp + a, fp + b, fn + e
    return Score(tp, fp, fn, duration_s / 3600.0)


#: size bands (peak-to-peak over background noise RMS) for recall reports
SIZE_BANDS = ((4.0, 6.0), (6.0, 8.0), (8.0, 10.0), (10.0, 15.0), (15.0, 20.0), (20.0, 40.0), (40.0, float("inf")))


def matched_flags(detected_onsets: np.ndarray, true_onsets: np.ndarray,
                  tolerance_s: float = 0.030) -> tuple[np.ndarray, np.ndarray]:
    """Like ``match`` but returns which true onsets were found and which detections were false
    (greedy, one-to-one, in time order)."""
    d = np.sort(np.asarray(detected_onsets, dtype=float))
    t = np.asarray(true_onsets, dtype=float)
    order = np.argsort(t)
    ts = t[order]
    used = np.zeros(t.size, dtype=bool)
    false = np.ones(d.size, dtype=bool)
    for i, onset in enumerate(d):
        lo = np.searchsorted(ts, onset - tolerance_s, side="left")
        hi = np.searchsorted(ts, onset + tolerance_s, side="right")
        cands = [j for j in range(lo, hi) if not used[j]]
        if cands:
            j = min(cands, key=lambda k: abs(ts[k] - onset))
            used[j] = True
            false[i] = False
    found = np.zeros(t.size, dtype=bool)
    found[order] = used
    return found, d[false]


def confounder_of(times: np.ndarray, confounders: list, margin_s: float = 1.0) -> list[str]:
    """For each time, the kind of the confounder it falls in or near (``margin_s``), else 'rest'."""
    out = []
    for t in times:
        kind = "rest"
        for c in confounders:
            if c[1] - margin_s <= t <= c[2] + margin_s:
                kind = c[0]
                break
        out.append(kind)
    return out


def confounder_hours(confounders: list, duration_s: float, margin_s: float = 1.0) -> dict[str, float]:
    """Hours of each confounder kind (with margins, merged) and of the rest."""
    n = int(np.ceil(duration_s * 10))
    owner = np.full(n, "", dtype=object)
    for c in confounders:
        a, b = max(0, int((c[1] - margin_s) * 10)), min(n, int((c[2] + margin_s) * 10))
        sel = owner[a:b] == ""
        owner[a:b][sel] = c[0]
    kinds, counts = np.unique(np.where(owner == "", "rest", owner).astype(str), return_counts=True)
    return {str(k): float(v) / 10 / 3600 for k, v in zip(kinds, counts)}
