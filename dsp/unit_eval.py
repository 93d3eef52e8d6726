"""Scoring unit labels against the synthetic sources: adjusted Rand index over matched twitches."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def adjusted_rand_index(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Hubert & Arabie's adjusted Rand index of two labellings of the same items
    (1 = identical partitions, ~0 = chance). Two single-cluster labellings score 1."""
    if len(truth) != len(predicted):
        raise ValueError("labellings differ in length")
    n = len(truth)
    if n < 2:
        return 1.0
    _, ti = np.unique(np.asarray([repr(v) for v in truth]), return_inverse=True)
    _, pi = np.unique(np.asarray([repr(v) for v in predicted]), return_inverse=True)
    table = np.zeros((ti.max() + 1, pi.max() + 1), dtype=np.int64)
    np.add.at(table, (ti, pi), 1)

    def pairs(v: np.ndarray) -> float:
        return float((v * (v - 1) // 2).sum())

    index = pairs(table)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def pair_events(detected_onsets: Sequence[float], true_onsets: Sequence[float],
                tolerance_s: float = 0.030) -> list[tuple[int, int]]:
    """Greedy one-to-one pairing (closest first) of detected and true onsets: (det, true) indices."""
    d = np.asarray(detected_onsets, dtype=float)
    t = np.asarray(true_onsets, dtype=float)
    if d.size == 0 or t.size == 0:
        return []
    order = np.argsort(t)
    ts = t[order]
    cand = []
    for i, o in enumerate(d):
        lo, hi = np.searchsorted(ts, o - tolerance_s), np.searchsorted(ts, o + tolerance_s, side="right")
        cand += [(abs(ts[j] - o), i, int(order[j])) for j in range(lo, hi)]
    cand.sort()
    used_d, used_t, out = set(), set(), []
    for _, i, j in cand:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            out.append((i, j))
    return sorted(out)


def unit_labels_for_ari(units: Sequence[str | None]) -> list[str]:
    """Unlabelled twitches are each their own cluster (no unit is not a shared unit)."""
    return [u if u is not None else f"none-{i}" for i, u in enumerate(units)]
