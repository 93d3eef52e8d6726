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
