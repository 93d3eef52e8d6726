"""Min/max envelopes for display: each pixel column keeps the extremes of its samples, so a
3 ms twitch stays visible however many seconds the window holds. Pure numpy."""

from __future__ import annotations

import numpy as np


def minmax_envelope(y: np.ndarray, t0: float, dt: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) for a line that zig-zags through each column's min and max (NaN gaps kept)."""
    n = y.size
    if n <= 2 * columns:
        return t0 + np.arange(n) * dt, y
    # every sample drawn: the oldest column is padded (with NaN) to a whole one, where cutting
    # ``n mod columns`` samples had left the window's left edge empty (0.3 s of a 10 s window)
    per = -(-n // columns)
    cols = -(-n // per)
    pad = cols * per - n
    blocks = (np.concatenate([np.full(pad, np.nan), y]) if pad else y).reshape(cols, per)
    with np.errstate(all="ignore"):
        finite = np.isfinite(blocks).any(axis=1)
        lo = np.where(finite, np.nanmin(np.where(np.isfinite(blocks), blocks, np.inf), axis=1), np.nan)
        hi = np.where(finite, np.nanmax(np.where(np.isfinite(blocks), blocks, -np.inf), axis=1), np.nan)
    x = t0 + np.maximum(np.arange(cols) * per + per / 2 - pad, 0.0) * dt
    return np.repeat(x, 2), np.column_stack([lo, hi]).ravel()
