"""Optional compiled kernels: the numpy/scipy path's own arithmetic, fused into one pass.

Installed with ``pip install 'myotwitch[fast]'`` (numba). Each kernel repeats, operation for
operation, what the pure path computes, so every output is bit-for-bit the same (the tests
compare both paths); it only saves the passes over memory and the calls between them. Without
numba, or with ``MYOTWITCH_PURE=1`` in the environment, the pure path runs. Kernels compile on
first use (numba caches the machine code, so later processes load it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

#: set to False (or MYOTWITCH_PURE=1) to run the pure numpy/scipy path
enabled = os.environ.get("MYOTWITCH_PURE", "") in ("", "0")

_compiled: dict[str, Callable[..., None]] = {}
_tried = False


def _front_end_py(band: Any, env: Any, lf: Any, x: Any, zb: Any, ze: Any, zl: Any,
                  y: Any, y2: Any, e: Any, low: Any) -> None:  # pragma: no cover - compiled
    """Per sample: the band-pass (``y``), its square (``y2``), the envelope low-pass of the
    square, floored at 0 and rooted (``e``), and the low-frequency band of the input (``low``).
    The states ``zb``, ``ze``, ``zl`` are ``(channels, sections, 2)`` and move in place. Each
    cascade is scipy's ``_sosfilt`` step, written out (a shared helper compiled 2.5x slower)."""
    for c in range(x.shape[0]):
        for n in range(x.shape[1]):
            xn = x[c, n]
            v = xn
            for s in range(band.shape[0]):
                out = band[s, 0] * v + zb[c, s, 0]
                zb[c, s, 0] = band[s, 1] * v - band[s, 4] * out + zb[c, s, 1]
                zb[c, s, 1] = band[s, 2] * v - band[s, 5] * out
                v = out
            y[c, n] = v
            v = v * v
            y2[c, n] = v
            for s in range(env.shape[0]):
                out = env[s, 0] * v + ze[c, s, 0]
                ze[c, s, 0] = env[s, 1] * v - env[s, 4] * out + ze[c, s, 1]
                ze[c, s, 1] = env[s, 2] * v - env[s, 5] * out
                v = out
            if v < 0.0:  # np.maximum(v, 0.0): NaN and -0.0 pass unchanged
                v = 0.0
            e[c, n] = math.sqrt(v)  # correctly rounded, as np.sqrt
            v = xn
            for s in range(lf.shape[0]):
                out = lf[s, 0] * v + zl[c, s, 0]
                zl[c, s, 0] = lf[s, 1] * v - lf[s, 4] * out + zl[c, s, 1]
                zl[c, s, 1] = lf[s, 2] * v - lf[s, 5] * out
                v = out
            low[c, n] = v


def _window_stat_py(c: Any, h: int, m: int, windows: Any, scale: Any, run_len: Any, f: Any,
                    stat: Any, f2: Any) -> None:  # pragma: no cover - compiled
    """``energy.MultiScaleEnergy``'s statistic for ``m`` samples after ``h`` of history: per
    sample the largest window sum (``c``: the channels' cumulative quantised energies, windows
    reaching before the segment start see silence) times its scale (``scale[ch, run, window]``,
    each run holding ``run_len`` samples), over the floor squared (``f``; 0 where the floor is
    not positive). ``f2`` receives the floor squared."""
    for ch in range(c.shape[0]):
        i = 0
        for r in range(run_len.shape[0]):
            for _ in range(run_len[r]):
                best = 0.0
                for j in range(windows.shape[0]):
                    w = windows[j]
                    a = h - w // 2 + i
                    d = c[ch, a + w] - c[ch, a if a > 0 else 0]
                    v = float(d) * scale[ch, r, j]
                    if j == 0 or v > best:  # every product >= +0.0: as np.maximum
                        best = v
                fl = f[ch, i]
                q = fl * fl
                f2[ch, i] = q
                stat[ch, i] = best / q if fl > 0.0 else 0.0
                i += 1


def _compile(name: str) -> Callable[..., None] | None:
    global _tried
    if not enabled:
        return None
    if not _tried:
        _tried = True
        try:
            import numba
        except ImportError:
            return None
        for cache in (True, False):  # no cache where numba finds nowhere to write one
            try:
                jit = numba.njit(cache=cache, nogil=True)
                # numpy's error model: x / 0.0 gives inf or NaN, as numpy does, instead of raising
                _compiled.update(front_end=jit(_front_end_py),
                                 window_stat=numba.njit(cache=cache, nogil=True, error_model="numpy")(_window_stat_py))
                break
            except RuntimeError:
                continue
    return _compiled.get(name)


def front_end() -> Callable[..., None] | None:
    """The compiled front end (``_front_end_py``'s signature), or None: no numba, or disabled."""
    return _compile("front_end")


def window_stat() -> Callable[..., None] | None:
    """The compiled window statistic (``_window_stat_py``'s signature), or None."""
    return _compile("window_stat")
