"""Min/max envelopes for display: each pixel column keeps the extremes of its samples, so a
3 ms twitch stays visible however many seconds the window holds. Pure numpy."""

from __future__ import annotations

import numpy as np


def minmax_envelope(y: np.ndarray, t0: float, dt: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for a line that zig-zags through each column's min and max (NaN gaps kept)."""
    n = y.size
    if n <= 2 * columns:
        return t0 + np.arange(n) * dt, y
    per = n // columns
    m = per * columns
    blocks = y[n - m:].reshape(columns, per)
    with np.errstate(all="ignore"):
        finite = np.isfinite(blocks).any(axis=1)
        lo = np.where(finite, np.nanmin(np.where(np.isfinite(blocks), blocks, np.inf), axis=1), np.nan)
        hi = np.where(finite, np.nanmax(np.where(np.isfinite(blocks), blocks, -np.inf), axis=1), np.nan)
    x = t0 + (n - m + np.arange(columns) * per + per / 2) * dt
    return np.repeat(x, 2), np.column_stack([lo, hi]).ravel()
