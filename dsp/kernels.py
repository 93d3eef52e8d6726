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
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

#: set to False (or MYOTWITCH_PURE=1) to run the pure numpy/scipy path
enabled = os.environ.get("MYOTWITCH_PURE", "") in ("", "0")

_compiled: dict[str, Callable[..., Any]] = {}
_tried = False
#: called (no arguments) just before the kernels are compiled when no cached machine code is found
#: beside this module: the first run on a machine takes ~30 s there, which an application may say
on_compile: Callable[[], None] | None = None


def _cached() -> bool:
    """Whether numba's cache of these kernels seems to exist (its index files in the
    ``__pycache__`` beside this module, or anywhere under ``NUMBA_CACHE_DIR``)."""
    import pathlib

    root = os.environ.get("NUMBA_CACHE_DIR")
    here = pathlib.Path(__file__).resolve().parent / "__pycache__"
    found = pathlib.Path(root).rglob("kernels.*.nbi") if root else here.glob("kernels.*.nbi")
    return next(iter(found), None) is not None


def _cascade_py(sos: Any, z: Any, c: int, v: float) -> float:  # pragma: no cover - compiled
    """One sample through channel c's cascade of second-order sections, scipy's ``_sosfilt``
    step (``z``: the ``(channels, sections, 2)`` state, moved in place)."""
    for s in range(sos.shape[0]):
        out = sos[s, 0] * v + z[c, s, 0]
        z[c, s, 0] = sos[s, 1] * v - sos[s, 4] * out + z[c, s, 1]
        z[c, s, 1] = sos[s, 2] * v - sos[s, 5] * out
        v = out
    return v


_cascade = _cascade_py  # the compiled front end calls the compiled step (bound in _compile)


def _front_end_py(band: Any, env: Any, lf: Any, x: Any, zb: Any, ze: Any, zl: Any,
                  y: Any, y2: Any, e: Any, low: Any) -> None:  # pragma: no cover - compiled
    """Per sample: the band-pass (``y``), its square (``y2``), the envelope low-pass of the
    square, floored at 0 and rooted (``e``), and the low-frequency band of the input (``low``).
    The states ``zb``, ``ze``, ``zl`` are ``(channels, sections, 2)`` and move in place."""
    for c in range(x.shape[0]):
        for n in range(x.shape[1]):
            xn = x[c, n]
            v = _cascade(band, zb, c, xn)
            y[c, n] = v
            v = v * v
            y2[c, n] = v
            v = _cascade(env, ze, c, v)
            if v < 0.0:  # np.maximum(v, 0.0): NaN and -0.0 pass unchanged
                v = 0.0
            e[c, n] = math.sqrt(v)  # correctly rounded, as np.sqrt
            low[c, n] = _cascade(lf, zl, c, xn)


def _front_end_211_py(band: Any, env: Any, lf: Any, x: Any, zb: Any, ze: Any, zl: Any,
                      y: Any, y2: Any, e: Any, low: Any) -> None:  # pragma: no cover - compiled
    """``_front_end_py`` for the shipped design (a band-pass of two sections, one-section
    envelope and low band), written out with every coefficient and state in a local variable:
    the same operations in the same order, but the states no longer go through memory between
    samples (the compiler cannot tell the state arrays from the outputs, so the generic kernel
    stores and reloads them every sample, which lengthens each filter's recurrence)."""
    b00, b01, b02, b04, b05 = band[0, 0], band[0, 1], band[0, 2], band[0, 4], band[0, 5]
    b10, b11, b12, b14, b15 = band[1, 0], band[1, 1], band[1, 2], band[1, 4], band[1, 5]
    e0, e1, e2, e4, e5 = env[0, 0], env[0, 1], env[0, 2], env[0, 4], env[0, 5]
    f0, f1, f2, f4, f5 = lf[0, 0], lf[0, 1], lf[0, 2], lf[0, 4], lf[0, 5]
    for c in range(x.shape[0]):
        p0, p1, q0, q1 = zb[c, 0, 0], zb[c, 0, 1], zb[c, 1, 0], zb[c, 1, 1]
        r0, r1 = ze[c, 0, 0], ze[c, 0, 1]
        t0, t1 = zl[c, 0, 0], zl[c, 0, 1]
        for n in range(x.shape[1]):
            xn = x[c, n]
            out = b00 * xn + p0  # band-pass, first section (_cascade_py's step)
            p0 = b01 * xn - b04 * out + p1
            p1 = b02 * xn - b05 * out
            v = out
            out = b10 * v + q0  # second section
            q0 = b11 * v - b14 * out + q1
            q1 = b12 * v - b15 * out
            v = out
            y[c, n] = v
            v = v * v
            y2[c, n] = v
            out = e0 * v + r0  # envelope
            r0 = e1 * v - e4 * out + r1
            r1 = e2 * v - e5 * out
            v = out
            if v < 0.0:  # np.maximum(v, 0.0): NaN and -0.0 pass unchanged
                v = 0.0
            e[c, n] = math.sqrt(v)
            out = f0 * xn + t0  # low band
            t0 = f1 * xn - f4 * out + t1
            t1 = f2 * xn - f5 * out
            low[c, n] = out
        zb[c, 0, 0], zb[c, 0, 1], zb[c, 1, 0], zb[c, 1, 1] = p0, p1, q0, q1
        ze[c, 0, 0], ze[c, 0, 1] = r0, r1
        zl[c, 0, 0], zl[c, 0, 1] = t0, t1


def _stat_out_py(best: float, f: Any, f2: Any, stat: Any, ch: int, i: int,
                 mx: float) -> float:  # pragma: no cover - compiled
    """One sample's statistic: its best window power over the floor squared (0 where the floor
    is not positive), stored beside the floor squared; returns the running maximum (at least
    0, a NaN winning: ``np.maximum.reduce(stat, axis=None, initial=0.0)``)."""
    fl = f[ch, i]
    q = fl * fl
    f2[ch, i] = q
    v = best / q if fl > 0.0 else 0.0
    stat[ch, i] = v
    if mx == mx and (v != v or v > mx):
        mx = v
    return mx


_stat_out = _stat_out_py  # inlined into the window statistics (bound in _compile)


def _window_stat_py(c: Any, h: int, m: int, windows: Any, scale: Any, run_len: Any, f: Any,
                    stat: Any, f2: Any, top: Any) -> None:  # pragma: no cover - compiled
    """``energy.MultiScaleEnergy``'s statistic for ``m`` samples after ``h`` of history: per
    sample the largest window sum (``c``: the channels' cumulative quantised energies, windows
    reaching before the segment start see silence) times its scale (``scale[ch, run, window]``,
    each run holding ``run_len`` samples), over the floor squared (``f``; 0 where the floor is
    not positive). ``f2`` receives the floor squared, ``top[0]`` the largest statistic (at least
    0, a NaN winning: ``np.maximum.reduce(stat, axis=None, initial=0.0)``)."""
    mx = 0.0
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
                mx = _stat_out(best, f, f2, stat, ch, i, mx)
                i += 1
    top[0] = mx


def _window_stat_3_py(c: Any, h: int, m: int, windows: Any, scale: Any, run_len: Any, f: Any,
                      stat: Any, f2: Any, top: Any) -> None:  # pragma: no cover - compiled
    """``_window_stat_py`` for the shipped design's three windows, written out with the window
    lengths, starts and each run's scales in local variables: the same operations in the same
    order, without reloading them for every sample (the compiler cannot tell the scale array
    from the outputs)."""
    mx = 0.0
    w0, w1, w2 = windows[0], windows[1], windows[2]
    a0, a1, a2 = h - w0 // 2, h - w1 // 2, h - w2 // 2
    for ch in range(c.shape[0]):
        i = 0
        for r in range(run_len.shape[0]):
            s0, s1, s2 = scale[ch, r, 0], scale[ch, r, 1], scale[ch, r, 2]
            for _ in range(run_len[r]):
                a = a0 + i
                best = float(c[ch, a + w0] - c[ch, a if a > 0 else 0]) * s0
                a = a1 + i
                v = float(c[ch, a + w1] - c[ch, a if a > 0 else 0]) * s1
                if v > best:  # every product >= +0.0: as np.maximum
                    best = v
                a = a2 + i
                v = float(c[ch, a + w2] - c[ch, a if a > 0 else 0]) * s2
                if v > best:
                    best = v
                mx = _stat_out(best, f, f2, stat, ch, i, mx)
                i += 1
    top[0] = mx


def _pick_py(a: Any, k: int) -> float:  # pragma: no cover - compiled
    """The ``k``-th smallest value of a 1-D array without NaN, reordering it: quickselect whose
    partition moves every element whatever its side (a swap, and the boundary moved by the
    comparison), so nothing waits on a branch that noise makes unpredictable (3x faster on fresh
    windows than a quickselect whose partition branches); a pass that gathers the pivot's equals ends a
    run of ties, and the last few are ranked by counting."""
    lo, hi = 0, a.shape[0] - 1
    while hi - lo > 12:
        mid = (lo + hi) // 2
        x, y, z = a[lo], a[mid], a[hi]
        pivot = max(min(x, y), min(max(x, y), z))  # the median of three
        s = lo
        for i in range(lo, hi + 1):  # [lo, s) < pivot <= [s, hi]
            v = a[i]
            a[i] = a[s]
            a[s] = v
            s += v < pivot
        if k < s:
            hi = s - 1
        elif k == s:  # the least of [s, hi], which holds the pivot
            return pivot
        elif s > lo:
            lo = s
        else:  # nothing below the pivot: its equals next, [lo, e) == pivot
            e = s
            for i in range(s, hi + 1):
                v = a[i]
                a[i] = a[e]
                a[e] = v
                e += v <= pivot
            if k < e:
                return pivot
            lo = e
    r = k - lo
    for i in range(lo, hi + 1):  # the value with at most r below it and more than r up to it
        v = a[i]
        lt = 0
        le = 0
        for j in range(lo, hi + 1):
            w = a[j]
            lt += w < v
            le += w <= v
        if lt <= r < le:
            return v
    return a[k]  # not reached


_pick = _pick_py  # (bound in _compile)


def _select_py(a: Any, k: int, buf: Any) -> float:  # pragma: no cover - compiled
    """The ``k``-th smallest value of a 1-D array without NaN (``a`` left as it is; ``buf`` as
    long, scratch): the range of values that holds it is halved by counting the values below
    its middle (a pass without branches or stores) until a few dozen are left, or it cannot be
    halved, or after 48 halvings; those are copied out and ``_pick`` ranks them. An order
    statistic is a value, whatever the selection finds it by, so it is numpy's."""
    n = a.shape[0]
    lo = hi = a[0]
    for i in range(n):
        v = a[i]
        lo = v if v < lo else lo
        hi = v if v > hi else hi
    below = 0  # the answer lies in [lo, hi], ``below`` values under lo; about ``upto`` up to hi
    upto = n
    for _ in range(48):
        if upto - below <= 24:
            break
        p = 0.5 * lo + 0.5 * hi
        if not lo < p < hi:  # nothing between: no halving
            break
        c = 0
        for i in range(n):
            c += a[i] < p
        if c > k:
            hi, upto = p, c
        else:
            lo, below = p, c
    m = 0
    for i in range(n):
        v = a[i]
        buf[m] = v
        m += (v >= lo) & (v <= hi)
    return _pick(buf[:m], k - below)


_select = _select_py  # the compiled kernels call the compiled one (bound in _compile)


def _median_py(a: Any, buf: Any) -> float:  # pragma: no cover - compiled
    """``units.median_last`` of a 1-D array without NaN (n >= 1): the middle value, or the two
    middle ones added and halved. The lower middle one is the largest value below the upper
    one, or the upper one itself when fewer than n / 2 lie below it (ties)."""
    n = a.shape[0]
    h = n // 2
    m = _select(a, h, buf)
    if n % 2:
        return m
    below = 0
    lo = -math.inf
    for j in range(n):  # without branches (a loop the compiler can vectorise)
        v = a[j]
        below += v < m
        w = v if v < m else -math.inf
        lo = w if w > lo else lo
    return ((lo if below >= h else m) + m) / 2.0


_median = _median_py  # (bound in _compile)


def _robust_rms_py(y: Any, out: Any) -> bool:  # pragma: no cover - compiled
    """``units._robust_rms`` of windows ``y`` (B, C, n) into ``out`` (B, C): per row 1.4826 times
    the median absolute deviation from the median, floored at 1e-6. Returns False, leaving
    ``out`` unfinished, where a row holds a NaN or an infinity or n is 0 (the pure path's
    partition orders NaN its own way). A signed zero's sign cannot reach the result: the
    deviations go through ``abs``, and a zero median leaves every nonzero sample as it was."""
    B, C, n = y.shape
    if n == 0:
        return False
    a = np.empty(n)
    buf = np.empty(n)
    for b in range(B):
        for c in range(C):
            finite = True
            for j in range(n):
                v = y[b, c, j]
                finite &= v - v == 0.0  # not NaN, not infinite
                a[j] = v
            if not finite:
                return False
            med = _median(a, buf)
            for j in range(n):
                a[j] = abs(a[j] - med)
            v = 1.4826 * _median(a, buf)
            out[b, c] = v if v > 1e-6 else 1e-6  # np.maximum(v, 1e-6), v finite
    return True


def _robust_rms_sorted_py(s: Any, out: Any) -> bool:  # pragma: no cover - compiled
    """``_robust_rms_py`` from windows ``s`` (B, C, n) whose rows numpy has sorted (its SIMD sort
    of up to 256 values is ~4x faster than the selection): the median from the middle values;
    the deviations ``|s - med|`` of a sorted row are two sorted runs outward from the median
    (fl(x - med) is monotonic in x), so their middle values are found by bisecting how many
    come from the left run. Order statistics are values, and each deviation the same operation
    on the same numbers, so the figures are the selection's. False (``out`` unfinished) where a
    row holds a NaN or an infinity (its ends, sorted) or n is 0."""
    B, C, n = s.shape
    if n == 0:
        return False
    h = n // 2
    q = h if n % 2 else h - 1  # the rank of the (lower) middle deviation; for even n also q + 1
    for b in range(B):
        for c in range(C):
            r = s[b, c]
            if not (r[0] - r[0] == 0.0 and r[n - 1] - r[n - 1] == 0.0):
                return False
            med = r[h] if n % 2 else (r[h - 1] + r[h]) / 2.0  # (units.median_last's sum)
            p = np.searchsorted(r, med)  # left run r[p-1], r[p-2], ... (< med); right run r[p], r[p+1], ...
            nr = n - p
            lo = q + 1 - nr if q + 1 > nr else 0  # a: how many of the q + 1 smallest are the left run's
            hi = q + 1 if q + 1 < p else p
            while lo < hi:
                a = (lo + hi) // 2
                if abs(r[p - 1 - a] - med) < abs(r[p + q - a] - med):  # the left's (a+1)-th is needed
                    lo = a + 1
                else:
                    hi = a
            a = lo
            x = abs(r[p - a] - med) if a > 0 else -math.inf
            y = abs(r[p + q - a] - med) if q - a >= 0 else -math.inf
            v = x if x > y else y  # the (q+1)-th smallest
            if n % 2 == 0:  # and the next: the smaller of the two runs' next
                x = abs(r[p - 1 - a] - med) if a < p else math.inf
                y = abs(r[p + q + 1 - a] - med) if q + 1 - a < nr else math.inf
                v = (v + (x if x < y else y)) / 2.0
            v = 1.4826 * v
            out[b, c] = v if v > 1e-6 else 1e-6  # np.maximum(v, 1e-6), v finite
    return True


def _rest_select_py(row: Any, lo: int, hi: int, frac: float) -> float:  # pragma: no cover - compiled
    """``trains``' resting level in one call: the ``int(frac * (m - 1))``-th smallest of the
    ``m`` non-NaN values of ``row[lo:hi]`` (0.0 when there are none). The selection itself is
    cheap (~0.5 us for a minute of floors); the Python around it (filtering the NaN, the index,
    a sorted list slid a floor at a time) cost several times that. The values are copied out,
    so ``_pick`` may reorder them."""
    a = np.empty(max(hi - lo, 0))
    m = 0
    for j in range(lo, hi):
        v = row[j]
        if v == v:
            a[m] = v
            m += 1
    if m == 0:
        return 0.0
    return _pick(a[:m], int(frac * (m - 1)))

_rest_select = _rest_select_py  # the quiet-background kernel calls the compiled one (bound in _compile)


def _background_sums_py(y: Any, cuts: Any, k: int) -> tuple[int, float, int, float]:  # pragma: no cover - compiled
    """``trains``' background around a potential: over ``y`` less the spans
    ``[cuts[2i], cuts[2i+1])``, the count and the sum of squares from sample ``k`` on and before
    it, each sum added in index order, as ``np.add.accumulate`` adds the kept squares."""
    n = y.shape[0]
    keep = np.ones(n, dtype=np.bool_)
    for i in range(cuts.shape[0] // 2):
        for j in range(max(cuts[2 * i], 0), min(cuts[2 * i + 1], n)):
            keep[j] = False
    near_n, near_s, far_n, far_s = 0, 0.0, 0, 0.0
    for j in range(min(k, n)):
        if keep[j]:
            far_n += 1
            far_s += y[j] * y[j]
    for j in range(max(k, 0), n):
        if keep[j]:
            near_n += 1
            near_s += y[j] * y[j]
    return near_n, near_s, far_n, far_s


def _matched_lift_py(ys: Any, start: int, ch: Any, col: Any, rows: Any, taps: Any, support: Any, scale: Any,
                     y_max: float, inv_quantum: float, f2: Any, stat: Any) -> None:  # pragma: no cover - compiled
    """``matched.MatchedBank.raise_stat`` from its candidates on: for each (``ch``, ``col``), the
    signal's window from column ``start + col`` of ``ys`` (silence outside it) quantised as
    there, correlated with every template (integers below 2**53 throughout, so exact in any
    order: the same numbers as BLAS), the largest correlation squared times its row's scale over
    the floor squared; where that reaches 1 the statistic becomes minus it. ``support`` (k, 3):
    each template's first tap, its number of taps and the sum of their squares. A template is
    correlated only where Cauchy-Schwarz lets it reach 1 (the window's energy under its support
    times that sum bounds its correlation squared): one it skips is under 1, so it could
    neither lift the statistic nor be the largest of those that do, and the result is the same."""
    width, k = taps.shape
    n = ys.shape[1]
    # the quantised signal of the channel at hand, each sample quantised once: the candidates
    # (sorted by channel and column, as raise_stat gives them) come mostly in runs whose windows
    # overlap. Positions in q are offset by ``width``; outside the signal, silence. ``sq[u]``:
    # the sum of the squares of q from ``begin`` to before u (for the bounds only: its rounding,
    # at most one unit in the last place per addition, is allowed for below).
    q = np.empty(n + 2 * width)  # (filled before it is read)
    sq = np.empty(n + 2 * width + 1)
    first_tap = np.empty(k, dtype=np.int64)
    last_tap = np.empty(k, dtype=np.int64)  # (one past it)
    bound = np.empty(scale.shape)  # per row and template: the bound's factor on the energy
    for m in range(k):
        first_tap[m] = int(support[m, 0])
        last_tap[m] = first_tap[m] + int(support[m, 1])
        for r in range(scale.shape[0]):
            bound[r, m] = support[m, 2] * scale[r, m]
    c_done, begin, done = -1, 0, 0  # q holds channel c_done's samples at positions begin .. done
    for i in range(ch.shape[0]):
        c, a = ch[i], start + col[i]
        lo, hi = a + width, a + 2 * width  # the window in q
        if c != c_done or lo < begin or done < lo:  # (a new channel, or no overlap: start afresh)
            c_done, begin, done = c, lo, lo
            sq[lo] = 0.0
        for u in range(done, hi):
            j = u - width
            if 0 <= j < n:
                x = ys[c, j] * inv_quantum
                if x < -y_max:  # np.clip (the signal is finite)
                    x = -y_max
                elif x > y_max:
                    x = y_max
                x = np.rint(x)
            else:
                x = 0.0
            q[u] = x
            sq[u + 1] = sq[u] + x * x
        if hi > done:
            done = hi
        # every difference of sq below is off by at most this (4 ulp per addition, generously)
        slack = (hi - begin + 2) * 4.5e-16 * sq[hi]
        r = rows[i]
        floor2 = f2[c, col[i]]
        reach = floor2 * (1.0 - 1e-9)  # (a margin far above the bound's rounding)
        best = 0.0
        for m in range(k):
            s0, s1 = first_tap[m], last_tap[m]
            if (sq[lo + s1] - sq[lo + s0] + slack) * bound[r, m] < reach:
                continue
            # four running sums (exact integers, so their order does not matter): not one chain
            # of dependent additions
            a0 = a1 = a2 = a3 = 0.0
            t = s0
            while t + 4 <= s1:
                a0 += q[lo + t] * taps[t, m]
                a1 += q[lo + t + 1] * taps[t + 1, m]
                a2 += q[lo + t + 2] * taps[t + 2, m]
                a3 += q[lo + t + 3] * taps[t + 3, m]
                t += 4
            while t < s1:
                a0 += q[lo + t] * taps[t, m]
                t += 1
            acc = (a0 + a1) + (a2 + a3)
            v = acc * acc * scale[r, m]
            if v > best:
                best = v
        ratio = best / floor2
        if ratio >= 1.0:
            stat[c, col[i]] = -ratio  # negative: strong by its shape alone


_lift = _matched_lift_py  # the compiled scan calls the compiled lift (bound in _compile)


def _matched_scan_py(ys: Any, start: int, stat: Any, f2: Any, row_of: Any, gate: float, gates: Any, taps: Any,
                     support: Any, scale: Any, y_max: float, inv_quantum: float) -> None:  # pragma: no cover - compiled
    """``matched.MatchedBank.raise_stat`` for a block whose kurtosis rows hold throughout (one per
    channel, ``row_of``): the candidates it would pick (under 1, at ``gate`` and at their row's
    gate in ``gates``, in the same order), then ``_matched_lift_py`` on them. One call instead of
    a dozen numpy steps, for the live blocks where those steps cost more than the lift."""
    n_ch, m = stat.shape
    ch = np.empty(n_ch * m, dtype=np.intp)
    col = np.empty(n_ch * m, dtype=np.intp)
    rows = np.empty(n_ch * m, dtype=np.intp)
    n = 0
    for c in range(n_ch):
        r = row_of[c]
        bar = max(gate, gates[r])
        for t in range(m):
            v = stat[c, t]
            if v >= bar and v < 1.0:
                ch[n] = c
                col[n] = t
                rows[n] = r
                n += 1
    if n:
        _lift(ys, start, ch[:n], col[:n], rows[:n], taps, support, scale, y_max, inv_quantum, f2, stat)


def _term_py(a: Any, i: int, square: bool) -> float:  # pragma: no cover - compiled
    """One term of a sum: ``a[i]``, or its square (rounded as ``y * y`` rounds it)."""
    v = a[i]
    return v * v if square else v


_term = _term_py  # inlined into the sums (bound in _compile)


def _leaf_py(a: Any, lo: int, n: int, square: bool) -> float:  # pragma: no cover - compiled
    """numpy's pairwise summation of ``a[lo:lo+n]`` (of its squares with ``square``) for n <= 128:
    under 8 terms in order; else eight interleaved partial sums added as ((0+1)+(2+3))+((4+5)+(6+7)),
    then the rest in order."""
    if n < 8:
        res = _term(a, lo, square)
        for i in range(lo + 1, lo + n):
            res += _term(a, i, square)
        return res
    r0, r1, r2, r3 = _term(a, lo, square), _term(a, lo + 1, square), _term(a, lo + 2, square), _term(a, lo + 3, square)
    r4, r5, r6, r7 = _term(a, lo + 4, square), _term(a, lo + 5, square), _term(a, lo + 6, square), _term(a, lo + 7, square)
    m = n - n % 8
    for i in range(lo + 8, lo + m, 8):
        r0 += _term(a, i, square)
        r1 += _term(a, i + 1, square)
        r2 += _term(a, i + 2, square)
        r3 += _term(a, i + 3, square)
        r4 += _term(a, i + 4, square)
        r5 += _term(a, i + 5, square)
        r6 += _term(a, i + 6, square)
        r7 += _term(a, i + 7, square)
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(lo + m, lo + n):
        res += _term(a, i, square)
    return res


def _pairwise_py(a: Any, lo: int, n: int, square: bool) -> float:  # pragma: no cover - compiled
    """``np.add.reduce`` of ``a[lo:lo+n]`` (of its squares with ``square``), step for step: beyond
    128 terms numpy sums two halves (the first a multiple of 8) apart and adds them. Written as a
    loop over an explicit stack: numba's cache cannot hold a recursive function."""
    if n <= 128:
        return _leaf(a, lo, n, square)
    st_lo = np.empty(64, dtype=np.int64)
    st_n = np.empty(64, dtype=np.int64)
    st_stage = np.empty(64, dtype=np.int64)  # 0: not split yet, 1: left half pending, 2: right
    st_left = np.empty(64)
    top = 0
    st_lo[0], st_n[0], st_stage[0] = lo, n, 0
    while True:
        cl, cn = st_lo[top], st_n[top]
        if cn > 128 and st_stage[top] == 0:
            st_stage[top] = 1
            n2 = cn // 2
            n2 -= n2 % 8
            top += 1
            st_lo[top], st_n[top], st_stage[top] = cl, n2, 0
            continue
        v = _leaf(a, cl, cn, square)
        top -= 1
        while top >= 0:  # hand the sum up: a left half waits for its right one, a right one adds
            if st_stage[top] == 1:
                st_left[top] = v
                st_stage[top] = 2
                n2 = st_n[top] // 2
                n2 -= n2 % 8
                top += 1
                st_lo[top], st_n[top], st_stage[top] = st_lo[top - 1] + n2, st_n[top - 1] - n2, 0
                break
            v = st_left[top] + v
            top -= 1
        if top < 0:
            return v


_leaf = _leaf_py  # the compiled functions call compiled ones (bound in _compile)
_pairwise = _pairwise_py


def _window_sums_py(data: Any, k: int, win: int, s2: Any, s4: Any) -> None:  # pragma: no cover - compiled
    """``energy.TailWeight``'s sums of y^2 (``data``) and of its squares over ``k`` consecutive
    windows of ``win`` samples per channel, as ``.sum(axis=2)`` of the ``(channels, k, win)``
    view adds them."""
    for c in range(data.shape[0]):
        row = data[c]
        for j in range(k):
            s2[c, j] = _pairwise(row, j * win, win, False)
            s4[c, j] = _pairwise(row, j * win, win, True)


def _kurtosis_rows_py(all2: Any, all4: Any, ends: Any, h: int, window: int, kappa_hi: float,
                      cautious: int, min_windows: int, fresh: Any) -> None:  # pragma: no cover - compiled
    """``energy.TailWeight._refreshed`` for the histories of ``h`` windows ending at each column
    of ``ends`` (increasing): the windows in stable order of power (NaN last), the quietest three
    quarters of the valid ones pooled, the kurtosis of the pool as a KAPPA_GRID row (``cautious``
    when fewer than ``min_windows`` windows are valid). The order is kept from one history to the
    next: the windows that left are dropped (the rest keep their order) and the new ones are
    inserted in time order, each after every window it does not precede, which is where a stable
    sort of the new history puts them."""
    order = np.empty(h, dtype=np.int64)  # columns of the current history, in stable power order
    b2 = np.empty(h)
    b4 = np.empty(h)
    for c in range(all2.shape[0]):
        size = 0
        last_end = -1
        for u in range(ends.shape[0]):
            end = ends[u]
            lo = end - h + 1
            if u == 0 or end <= last_end or end - last_end >= h:
                size = 0  # sort this history afresh
                first_new = lo
            else:
                k = 0
                for i in range(size):  # drop the windows that left, keeping the others' order
                    if order[i] >= lo:
                        order[k] = order[i]
                        k += 1
                size = k
                first_new = last_end + 1
            for col in range(first_new, end + 1):  # insertion: stable, NaN after every number
                v = all2[c, col]
                j = size - 1
                while j >= 0:
                    w = all2[c, order[j]]
                    if not ((w != w and v == v) or w > v):  # w stays before v
                        break
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = col
                size += 1
            last_end = end
            n_win = 0
            for i in range(h):
                v = all2[c, lo + i]
                if v == v:
                    n_win += 1
            keep = max(1, (3 * n_win) // 4)
            for i in range(h):
                if i < keep:
                    b2[i] = all2[c, order[i]]
                    b4[i] = all4[c, order[i]]
                else:
                    b2[i] = 0.0
                    b4[i] = 0.0
            a2 = _pairwise(b2, 0, h, False)
            a4 = _pairwise(b4, 0, h, False)
            kap = float(keep * window) * a4 / (a2 * a2)
            if not np.isfinite(kap):
                kap = 3.0
            row = int(np.rint((min(max(kap, 3.0), kappa_hi) - 3.0) / 0.05))
            fresh[c, u] = cautious if n_win < min_windows else row


def _quantised_sums_py(old: Any, y2: Any, inv_quantum: float, q_max: float, q: Any,
                       c: Any) -> None:  # pragma: no cover - compiled
    """``energy.MultiScaleEnergy``'s integer energies and their running sums in one pass: ``q``
    is ``old`` (the energies kept from earlier blocks) followed by ``y2`` quantised as
    ``np.rint(np.minimum(y2 * inv_quantum, q_max)).astype(np.int64)``, and ``c`` its cumulative
    sum along each row (``np.add.accumulate``; int64, wrapping as numpy's does)."""
    h = old.shape[1]
    for ch in range(q.shape[0]):
        acc: Any = 0
        v: Any
        for i in range(h):
            v = old[ch, i]
            q[ch, i] = v
            acc += v
            c[ch, i] = acc
        for i in range(y2.shape[1]):
            x = y2[ch, i] * inv_quantum
            if x > q_max:  # np.minimum (a NaN stays NaN)
                x = q_max
            v = np.int64(np.rint(x))
            q[ch, h + i] = v
            acc += v
            c[ch, h + i] = acc


def _maybe_active_py(new: Any, env: int, floor: int, stat: int, off: float,
                     out: Any) -> None:  # pragma: no cover - compiled
    """``bursts.BurstSegmenter._maybe_active`` over rows ``(N_ROWS, channels, n)``, n > 0: per
    channel, not (max envelope <= off x min floor and max statistic < 1 and min statistic > -1),
    the maxima and minima as ``np.maximum``/``np.minimum`` reduce them (a NaN wins). Every
    partial maximum only grows and minimum only falls (a NaN stays), so once a stretch makes the
    test fail (with ``off`` >= 0) the whole block fails it: the scan stops there (a block with a
    twitch is read up to it, not to its end)."""
    n = new.shape[2]
    for c in range(new.shape[1]):
        e, f = new[env, c, 0], new[floor, c, 0]
        s = t = new[stat, c, 0]
        for i0 in range(1, n, 256):
            if off >= 0.0 and not (e <= off * f and s < 1.0 and t > -1.0):
                break
            for i in range(i0, min(i0 + 256, n)):
                v = new[env, c, i]
                if e == e and (v != v or v > e):
                    e = v
                v = new[floor, c, i]
                if f == f and (v != v or v < f):
                    f = v
                v = new[stat, c, i]
                if s == s and (v != v or v > s):
                    s = v
                if t == t and (v != v or v < t):
                    t = v
        out[c] = not (e <= off * f and s < 1.0 and t > -1.0)


def _fit_rows_py(dots: Any, tt: Any, e: Any, n: Any, par: Any, lag: Any, ratio: Any,
                 ok: Any) -> int:  # pragma: no cover - compiled
    """``units.UnitTracker._fit``'s figures per template from its products: ``dots`` (templates x
    lags), the whitened templates' energies ``tt``, the lag windows' ``e``. Per template the lag
    of the largest explained energy (d^2 / tt where d > 0, else -inf; the first of equals, a NaN
    first, as argmax), its residual over the allowance (``ratio``) and whether it passes (``ok``);
    returns the first template with the smallest passing ratio (-1: none). ``n``: each template's
    members, or (``par[7]`` = 0) the merge check's noise factors; ``par``: the member cap, up,
    n_dof, 1 + spread, shape_tol, amp_tol, amp_noise_k, whether ``n`` holds members. Python's
    float operations in the same order, so the same numbers."""
    cap, up, base, spread1, s, amp_tol, amp_k = par[0], par[1], par[2], par[3], par[4], par[5], par[6]
    by_n = par[7] != 0.0
    best = math.inf
    first = -1
    for i in range(dots.shape[0]):
        t = tt[i]
        j, mx = _top_lag(dots, i, t)
        d = dots[i, j]
        gain = d / t
        resid = (e[j] - (0.0 if 0.0 > mx else mx)) / up  # max(explained, 0.0)
        if by_n:
            c = n[i]
            nf = 1.0 + 1.0 / (cap if cap < c else c)  # min(n, cap)
        else:
            nf = n[i]
        sg = s * gain
        allowed = base * nf * spread1 + sg * sg * t / up
        r = resid / allowed
        q = t / up
        tol = amp_tol + amp_k / math.sqrt(1e-12 if 1e-12 > q else q)  # max(tt / up, 1e-12)
        passed = d > 0.0 and abs(gain - 1.0) <= tol and r <= 1.0
        lag[i] = j
        ratio[i] = r
        ok[i] = passed
        if passed and r < best:
            best = r
            first = i
    return first


def _join_py(wide: Any, x0: int, up: int, step: float, wave: Any, sig_old: Any, sig_new: Any, out: Any,
             out_sig: Any, snip: Any) -> None:  # pragma: no cover - compiled
    """``units.UnitTracker._join``'s update: the running mean ``out`` of the template ``wave``
    (channels concatenated) and the snippet ``wide[:, x0: x0 + L]`` (w + (a - w) x step), of
    the noise figures (``out_sig``), and the snippet kept: every ``up``-th sample as float32."""
    C = wide.shape[0]
    L = wave.shape[0] // C
    for c in range(C):
        for i in range(L):
            w = wave[c * L + i]
            out[c * L + i] = w + (wide[c, x0 + i] - w) * step
        for i in range(snip.shape[1]):
            snip[c, i] = wide[c, x0 + i * up]  # rounded to float32 as astype rounds
        s = sig_old[c]
        out_sig[c] = s + (sig_new[c] - s) * step


def _may_merge_py(sq: Any, k: int, inv: Any, ns: Any, par: Any, buf: Any) -> bool:  # pragma: no cover - compiled
    """``units.UnitTracker._may_merge_many``: the merge pre-check from the templates' per-channel
    energies ``sq`` (K x C), template k's 1/sigma per channel ``inv`` and every template's members
    ``ns``; ``par``: the member cap, up, n_dof x (1 + spread), amp_tol, amp_noise_k, shape_tol.
    The sums over channels add as numpy's reduction adds a row; ``buf`` (C) is scratch. (The
    check for a few templates x channels squares by ``** 2``, libm's pow, which can differ from
    x * x in the last bit: it stays in Python.)"""
    cap, up, base, amp_tol, amp_k, s = par[0], par[1], par[2], par[3], par[4], par[5]
    K, C = sq.shape
    n_k = ns[k]
    own = 1.0 / (cap if cap < n_k else n_k)
    for c in range(C):
        buf[c] = math.sqrt(sq[k, c]) * inv[c]
    tt_k = _pairwise(buf, 0, C, True)
    for o in range(K):
        if o == k:
            continue
        for c in range(C):
            buf[c] = math.sqrt(sq[o, c]) * inv[c]
        tt = _pairwise(buf, 0, C, True)
        q = tt / up
        tol = (amp_tol + amp_k / math.sqrt(q if q >= 1e-12 or q != q else 1e-12)) * (1 + 1e-6) + 1e-9
        g = 1.0 - tol
        if not (g >= 0.0 or g != g):  # np.maximum(1 - tol, 0.0)
            g = 0.0
        for c in range(C):  # what o's channels fall short of t's at the least gain
            v = g * buf[c] - math.sqrt(sq[k, c]) * inv[c]
            buf[c] = v if v >= 0.0 or v != v else 0.0
        low = _pairwise(buf, 0, C, True) / up
        sg = s * (1.0 + tol)
        n_o = ns[o]
        extra = 1.0 / (cap if cap < n_o else n_o) + own
        allowed = base * extra + sg * sg * tt / up
        if not low > allowed * 1.001 + 1e-9 * (tt + tt_k) / up:
            return True
    return False


def _may_merge_few_py(sq: Any, k: int, inv: Any, ns: Any, par: Any) -> int:  # pragma: no cover - compiled
    """``units.UnitTracker._may_merge``'s verdict for a few templates x channels (``_may_merge_py``'s
    inputs): 1 where it passes some template, 0 where it fails them all, -1 where it cannot tell
    (the caller asks Python). Python squares the shortfalls by ``** 2``, libm's pow, which can
    differ from x * x in the last bit; every other step is Python's, in its order. So a template
    whose shortfall is within a far wider band (1e-9 of the threshold and of the energies) of its
    threshold, or a NaN, answers -1."""
    cap, up, base, amp_tol, amp_k, s = par[0], par[1], par[2], par[3], par[4], par[5]
    K, C = sq.shape
    n_k = ns[k]
    own = 1.0 / (cap if cap < n_k else n_k)
    tt_k = 0.0
    for c in range(C):
        b = math.sqrt(sq[k, c]) * inv[c]
        tt_k += b * b
    unsure = False
    for o in range(K):
        if o == k:
            continue
        tt = 0.0
        for c in range(C):
            a = math.sqrt(sq[o, c]) * inv[c]
            tt += a * a
        q = tt / up
        tol = (amp_tol + amp_k / math.sqrt(q if q >= 1e-12 or q != q else 1e-12)) * (1 + 1e-6) + 1e-9
        g = 1.0 - tol
        if g < 0.0:  # max(1 - tol, 0.0)
            g = 0.0
        low = 0.0
        for c in range(C):  # what o's channels fall short of t's at the least gain
            v = g * (math.sqrt(sq[o, c]) * inv[c]) - math.sqrt(sq[k, c]) * inv[c]
            if v > 0.0 or v != v:  # max(v, 0.0)
                low += v * v
        low = low / up
        sg = s * (1.0 + tol)
        n_o = ns[o]
        allowed = base * (1.0 / (cap if cap < n_o else n_o) + own) + sg * sg * tt / up
        edge = allowed * 1.001 + 1e-9 * (tt + tt_k) / up
        band = 1e-9 * (abs(edge) + (tt + tt_k) / up)
        if low < edge - band:
            return 1
        if not low > edge + band:  # within the band, or a NaN
            unsure = True
    return -1 if unsure else 0


def _upsample_py(x: Any, h: Any, up: int, start: int, out: Any) -> None:  # pragma: no cover - compiled
    """``scipy.signal.upfirdn(h, x, up)`` along the last axis of ``x`` (B, C, n), outputs ``start``
    to ``start + m`` into ``out`` (B, C, m), ``h`` as upfirdn holds it (its phases, each reversed:
    ``_UpFIRDn._h_trans_flip``). Each output is upfirdn's sum, 0.0 plus the products of its
    phase's taps with the samples in order; the taps that reach before the signal, which upfirdn
    skips, come first, and the ones past its end, which it adds as zeros, last, so a signal
    padded with zeros both sides gives every sum in the same order. Sums run side by side, one
    output of a phase per lane (the order within each sum is kept)."""
    n = x.shape[2]
    m = out.shape[2]
    hpp = h.shape[0] // up
    q_lo = start // up  # the input index of the first output
    nq = (start + m - 1) // up + 1 - q_lo
    xp = np.zeros(nq + hpp - 1)  # xp[q + j] = x[q_lo + q - hpp + 1 + j], zero outside the signal
    acc = np.empty(nq)
    for b in range(x.shape[0]):
        for c in range(x.shape[1]):
            for q in range(nq + hpp - 1):
                i = q_lo - hpp + 1 + q
                xp[q] = x[b, c, i] if 0 <= i < n else 0.0
            for t in range(up):
                for q in range(nq):
                    acc[q] = 0.0
                for j in range(hpp):
                    hv = h[t * hpp + j]
                    for q in range(nq):
                        acc[q] = acc[q] + xp[q + j] * hv
                for q in range(nq):
                    i = (q_lo + q) * up + t - start
                    if 0 <= i < m:
                        out[b, c, i] = acc[q]


def _centroid_py(y: Any, sigma: Any) -> float:  # pragma: no cover - compiled
    """``units.UnitTracker._centre``'s sums for one twitch's window ``y`` (C, n >= 1), noise figures
    ``sigma`` (C): the energy moment over the total, 0.0 where the total is not positive. The
    energy of a sample is numpy's ``((y / sigma) ** 2).sum(axis=0)``, the channels added in order;
    the total and the moment (energy times index) add as ``np.add.reduce``, pairwise."""
    C, n = y.shape
    energy = np.empty(n)
    moment = np.empty(n)
    for j in range(n):
        v = y[0, j] / sigma[0]
        s = v * v
        for c in range(1, C):
            v = y[c, j] / sigma[c]
            s = s + v * v
        energy[j] = s
        moment[j] = s * float(j)  # energy * np.arange(n): the index converted exactly
    total = _pairwise(energy, 0, n, False)
    return _pairwise(moment, 0, n, False) / total if total > 0.0 else 0.0


_centroid = _centroid_py  # the batch calls the compiled one (bound in _compile)


def _centroids_py(y: Any, at: int, onsets: Any, offsets: Any, sigma: Any, have: Any, start: Any, ratio: Any,
                  ok: Any) -> None:  # pragma: no cover - compiled
    """``_centroid`` of many twitches over one stretch of the ring, ``y`` (C, N) from absolute
    sample ``at``: per twitch i with ``have[i]``, its window [onset, offset) cut to ``y`` as
    ``SignalRing.window`` cuts it, its noise figures ``sigma[i]``; ``ok[i]`` whether any of the
    window is left, ``start[i]`` its first sample, ``ratio[i]`` the centroid's offset from it."""
    N = y.shape[1]
    for i in range(onsets.shape[0]):
        a = max(onsets[i], at)
        n = min(offsets[i], at + N) - a
        if not have[i] or n <= 0:
            ok[i] = False
            continue
        ratio[i] = _centroid(y[:, a - at: a - at + n], sigma[i])
        start[i] = a
        ok[i] = True

def _ptp_rows_py(y: Any, out: Any) -> bool:  # pragma: no cover - compiled
    """``coincidence.CoincidenceMerger._merge``'s ``y.max(axis=1) - y.min(axis=1)`` of a window
    ``y`` (C, n >= 1) into ``out`` (C). Returns False, leaving ``out`` unfinished, for a row
    holding a NaN or only zeros (whose largest and smallest are the zeros numpy's reductions
    pick, and their difference's sign with them): there the pure path answers."""
    for c in range(y.shape[0]):
        hi = lo = y[c, 0]
        nan = False
        for j in range(y.shape[1]):
            v = y[c, j]
            nan |= v != v
            hi = v if v > hi else hi
            lo = v if v < lo else lo
        if nan or (hi == 0.0 and lo == 0.0):
            return False
        out[c] = hi - lo
    return True


def _phases_py(y: Any, step: float) -> int:
    """``classify.phase_count``'s count: the swings up and down of at least ``step`` in ``y`` (1-D),
    smaller wiggles belonging to the swing they sit on (a zigzag with ``step`` of hysteresis).
    Run as it is where numba is missing (a few µs for a twitch's samples)."""
    n = y.shape[0]
    if n == 0 or not step > 0.0:
        return 0
    lo = hi = y[0]
    rising = 0  # the swing under way: +1 up, -1 down, 0 none yet
    swings = 0
    for j in range(1, n):
        v = y[j]
        if rising == 0:
            lo = v if v < lo else lo
            hi = v if v > hi else hi
            if hi - lo >= step:
                rising = 1 if v == hi else -1
                swings = 1
                lo = hi = v
        elif rising > 0:
            if v > hi:
                hi = v
            elif hi - v >= step:
                rising, swings, lo = -1, swings + 1, v
        else:
            if v < lo:
                lo = v
            elif v - lo >= step:
                rising, swings, hi = 1, swings + 1, v
    return swings


_phases = _phases_py  # the compiled batch calls the compiled count (bound in _compile)


def _phases_many_py(ys: Any, y0: int, starts: Any, ends: Any, chans: Any, steps: Any, out: Any) -> None:
    """``_phases_py`` of many windows of the ring's kept samples ``ys`` (absolute index ``y0`` at
    column 0): window k is ``[starts[k], ends[k])`` of row ``chans[k]`` with ``steps[k]``; -1 for
    a window not wholly kept. One call a block of candidates instead of one a twitch."""
    n = ys.shape[1]
    for k in range(starts.shape[0]):
        a, b = starts[k] - y0, ends[k] - y0
        out[k] = _phases(ys[chans[k], a:b], steps[k]) if 0 <= a and b <= n else -1


def _tail_window_py(part: Any, y2: Any, m: int, sums: Any, at: int) -> bool:  # pragma: no cover - compiled
    """``energy.TailWeight.push`` for a live block that completes one window: the block's first
    samples end the window in ``part[0]`` (``m`` already there), its sums of y^2 and y^4 per
    channel (added as ``np.add.reduce`` adds a row) go to column ``at`` of ``sums``, and the
    rest of the block starts the next window. False, with only the window filled, when channel
    0's sum is NaN (the caller's general path then runs)."""
    C, win = part.shape[1], part.shape[2]
    n = y2.shape[1]
    first = win - m
    for c in range(C):
        for i in range(first):
            part[0, c, m + i] = y2[c, i]
    s0 = _pairwise(part[0, 0], 0, win, False)
    if s0 != s0:
        return False
    for c in range(C):
        sums[0, c, at] = s0 if c == 0 else _pairwise(part[0, c], 0, win, False)
        sums[1, c, at] = _pairwise(part[0, c], 0, win, True)
        for i in range(n - first):
            part[0, c, i] = y2[c, first + i]
    return True


_quantised = _quantised_sums_py  # the live statistic calls the compiled passes (bound in _compile)
_stat_3 = _window_stat_3_py
_stat_any = _window_stat_py


def _live_energy_py(old: Any, y2: Any, inv_quantum: float, q_max: float, ys_old: Any, y: Any, fl_old: Any,
                    floor: Any, h: int, m: int, windows: Any, scale: Any, run_len: Any, q: Any, ys: Any, fl: Any,
                    stat: Any, f2: Any) -> float:  # pragma: no cover - compiled
    """``energy.MultiScaleEnergy.process`` of a live block whose kurtosis rows hold throughout:
    the integer energies (``_quantised_sums_py``), the kept signal and floors followed by the
    block's (``ys``, ``fl``), and the statistic of the ``m`` samples it lets out
    (``_window_stat_py``) in one call; returns the statistic's largest value."""
    c = np.empty_like(q)
    _quantised(old, y2, inv_quantum, q_max, q, c)
    n, k, j = y2.shape[1], ys_old.shape[1], fl_old.shape[1]
    for ch in range(q.shape[0]):
        for i in range(k):
            ys[ch, i] = ys_old[ch, i]
        for i in range(n):
            ys[ch, k + i] = y[ch, i]
        for i in range(j):
            fl[ch, i] = fl_old[ch, i]
        for i in range(n):
            fl[ch, j + i] = floor[ch, i]
    top = np.empty(1)
    if windows.shape[0] == 3:
        _stat_3(c, h, m, windows, scale, run_len, fl, stat, f2, top)
    else:
        _stat_any(c, h, m, windows, scale, run_len, fl, stat, f2, top)
    return top[0]
def _rest_level_py(row: Any, lo: int, hi: int, frac: float, guess: float, cnt: Any) -> float:  # pragma: no cover - compiled
    """``_rest_select_py``'s order statistic, found from a ``guess`` (the last one asked for):
    the window slides a little between questions, so the answer is mostly the guess again
    (its counts tell: ~70 % of the questions at a twitch every 2 s) or a value or two
    beside it (a pass each); farther, the selection. The same value whatever the guess.
    ``cnt``: (value, lo, hi, finite, below, at or below) of the last window of this ``row``
    (value NaN: none), updated: when the guess is that value and the window only slid on,
    the floors that left and came are counted instead of the whole window."""
    if guess != guess:  # none yet
        cnt[0] = math.nan
        return _rest_select(row, lo, hi, frac)
    if cnt[0] == guess and cnt[1] <= lo <= cnt[2] <= hi:
        m, lt, le = int(cnt[3]), int(cnt[4]), int(cnt[5])
        for j in range(int(cnt[1]), lo):
            v = row[j]
            m -= v == v
            lt -= v < guess
            le -= v <= guess
        first = int(cnt[2])
    else:
        m, lt, le, first = 0, 0, 0, lo
    for j in range(first, hi):
        v = row[j]
        m += v == v
        lt += v < guess
        le += v <= guess
    cnt[0], cnt[1], cnt[2], cnt[3], cnt[4], cnt[5] = guess, lo, hi, m, lt, le
    if m == 0:
        return 0.0
    q = int(frac * (m - 1))
    if lt <= q < le:  # the guess is in the window, at rank q
        return guess
    # a little above (s = 1) or below (s = -1): the distinct values beyond it one by one (the
    # sign flips the comparisons exactly, a NaN still comparing false); each one's counts
    # follow from the last one's (none lies between them)
    for s, d, steps in ((1.0, q - le, q - le + 1), (-1.0, lt - 1 - q, lt - q)):
        if 0 <= d < 3:
            cur, below, upto = guess, lt, le
            for _ in range(steps):
                best = s * math.inf
                for j in range(lo, hi):
                    v = row[j]
                    x = v if s * v > s * cur else s * math.inf
                    best = x if s * x < s * best else best
                n = 0
                for j in range(lo, hi):
                    n += row[j] == best
                if s > 0.0:
                    below, upto = upto, upto + n
                else:
                    below, upto = below - n, below
                if d < n:
                    cnt[0], cnt[4], cnt[5] = best, below, upto
                    return best
                d, cur = d - n, best
    cnt[0] = math.nan
    return _rest_select(row, lo, hi, frac)


_rest_level = _rest_level_py  # (bound in _compile)


def _cut_out_py(keep: Any, onset: int, offset: int, ptp: float, two_rest: float, ring_n: float, pad0: int,
                lo: int) -> None:  # pragma: no cover - compiled
    """``keep`` (the window from sample ``lo``) false over a potential and its tail: its band-pass
    ring decays by e every ``ring_n`` samples, cut until it reaches twice the resting level
    (``TrainStage._busy_background``'s cut, the same operations)."""
    r = ptp / two_rest
    pad = pad0 + int(ring_n * math.log(r)) if r > 1.0 else pad0
    a, b = onset - pad - lo, offset + pad - lo
    n_y = keep.shape[0]
    if b > 0 and a < n_y:
        for i in range(max(a, 0), min(b, n_y)):
            keep[i] = False


_cut_out = _cut_out_py  # (bound in _compile)


def _quiet_background_py(ys: Any, c: int, y0: int, kept_from: int, fed_end: int, grid: Any, floors: Any,
                         cand: Any, blips: Any, own: int, onset: int, offset: int, ptp: float, floor: float, shape_only: bool,
                         par: Any, guess: Any, out: Any, cnt: Any) -> Any:  # pragma: no cover - compiled
    """``trains.TrainStage._busy_background`` in one call: 0 (at rest), 1 (busy) or 2 (only the
    bar for small potentials says so), with the resting level's grid positions ``[lo, hi)``.
    ``ys``: what the ring keeps, from absolute sample ``y0`` (channel ``c``), read in the stage's
    span ``[kept_from, fed_end)``; ``grid``, ``floors``: the floor grid's sample indices and
    channel c's floors on it; ``cand``: channel c's candidates in onset order as rows (onset,
    offset, peak to peak, weak shape-only 0/1), ``blips`` its short artifacts as rows (onset,
    offset, peak to peak; cut out as the candidates are), ``own`` the potential's row when it is
    found by its shape alone (else -1); then the potential's onset, offset, peak to peak, floor and
    whether it is found by its shape alone; ``par``: the stage's figures
    (``TrainStage._quiet_figures``); ``guess[c]``: the channel's last resting level (where the
    search for this one starts; updated) and ``cnt`` its counts (``_rest_level_py``; all NaN
    when the floors changed since). ``out`` receives the
    resting level and the background's count and sum of squares near and further back (-1
    where not reached), for the tests. The same operations on the same operands as the pure
    path, so every bit is the same: one call instead of a dozen, and the Python around them."""
    lookback_n, quiet_n, memory, rest_n = int(par[0]), int(par[1]), int(par[2]), int(par[3])
    frac, isi_max, margin, ring_n, pad0 = par[4], par[5], int(par[6]), par[7], int(par[8])
    cluster_min, quiet_limit, lookback_limit, cluster_limit = int(par[9]), par[10], par[11], par[12]
    small_snr, small_limit, isolation_n, isolation_snr = par[13], par[14], par[15], par[16]
    weak = isolation_n != 0.0 and shape_only and ptp < isolation_snr * floor  # _weak_shape_only(pot)
    # the resting level: rest_floor's order statistic of the finite floors in [at - rest_n, at]
    g_lo = int(np.searchsorted(grid, onset - rest_n, side="left"))
    g_hi = int(np.searchsorted(grid, onset, side="right"))
    level = _rest_level(floors, g_lo, g_hi, frac, guess[c], cnt)
    if g_hi > g_lo:
        guess[c] = level
    if level == 0.0:  # (``or pot.floor``)
        level = floor
    rest = floor if floor < level else level  # min(level, floor)
    out[0] = rest
    out[1] = out[2] = out[3] = out[4] = -1.0
    # the windows, clipped to the stage's span (_signal_span)
    start = y0 if y0 > kept_from else kept_from
    end = y0 + ys.shape[1]
    if fed_end < end:
        end = fed_end
    lo = onset - lookback_n
    if start > lo:
        lo = start
    hi = offset + quiet_n
    if end < hi:
        hi = end
    near_lo = onset - quiet_n
    if start > near_lo:
        near_lo = start
    if hi <= near_lo or not rest > 0:
        return 0, g_lo, g_hi
    # the candidates every block size has delivered by now that reach the window, cut out
    need = onset + isi_max  # _wait_until(pot, onset + isi_max)
    if onset + margin > need:
        need = onset + margin
    if offset + quiet_n > need:
        need = offset + quiet_n
    known = math.ceil(need) - 1
    top = hi + memory
    if known < top:
        top = known
    n_y = hi - lo
    keep = np.ones(n_y, dtype=np.bool_)
    two_rest = 2.0 * rest
    m = cand.shape[0]
    j = np.searchsorted(cand[:, 0], lo - memory, side="left")
    while j < m and cand[j, 0] <= top:
        if cand[j, 3] != 0.0 and j != own:  # (a weak one only the shape filters find is background)
            j += 1
            continue
        _cut_out(keep, int(cand[j, 0]), int(cand[j, 1]), cand[j, 2], two_rest, ring_n, pad0, lo)
        j += 1
    for q in range(blips.shape[0]):  # (the short artifacts: the same cut)
        if lo - memory <= blips[q, 0] <= top:
            _cut_out(keep, int(blips[q, 0]), int(blips[q, 1]), blips[q, 2], two_rest, ring_n, pad0, lo)
    k = near_lo - lo
    y = ys[c]
    off = lo - y0
    n, near_sum, n_far, far_sum = 0, 0.0, 0, 0.0
    for i in range(k):
        if keep[i]:
            v = y[off + i]
            n_far += 1
            far_sum += v * v
    for i in range(k, n_y):
        if keep[i]:
            v = y[off + i]
            n += 1
            near_sum += v * v
    out[1], out[2], out[3], out[4] = n, near_sum, n_far, far_sum
    if n < quiet_n // 2:
        return 0, g_lo, g_hi
    rest2 = rest * rest
    limit, lookback = quiet_limit, lookback_limit
    if cluster_min:
        crowd = (np.searchsorted(cand[:, 0], onset + quiet_n, side="right")
                 - np.searchsorted(cand[:, 0], onset - quiet_n, side="left"))
        if crowd > cluster_min:
            limit = cluster_limit
    if weak:
        limit = cluster_limit if cluster_limit < limit else limit  # min(limit, cluster_limit)
        lookback = cluster_limit if cluster_limit < lookback else lookback
    if near_sum > limit * rest2 * n:
        return 1, g_lo, g_hi
    if k <= 0:
        return 0, g_lo, g_hi
    n_all = n + n_far
    total = near_sum + far_sum
    if total > lookback * rest2 * n_all:
        return 1, g_lo, g_hi
    if ptp < small_snr * floor and total > small_limit * floor * floor * n_all:
        return 2, g_lo, g_hi
    return 0, g_lo, g_hi


_quiet_background = _quiet_background_py  # the batch calls the compiled one (bound in _compile)


def _quiet_backgrounds_py(ys: Any, c: int, y0: int, kept_from: int, fed_end: int, grid: Any, floors: Any,
                          cand: Any, blips: Any, owns: Any, pots: Any, par: Any, guess: Any, out: Any, codes: Any,
                          los: Any) -> None:  # pragma: no cover - compiled
    """``_quiet_background_py`` for the potentials of a block at once (rows of ``pots``: onset,
    offset, peak to peak, floor, found by its shape alone 0/1; ``owns`` their rows in ``cand``
    or -1), in order: the answers into ``codes``, the resting level's first grid positions into
    ``los``. Nothing a decision changes enters the check, so it can run ahead of them; one call
    per block instead of one per potential, whose resting levels share their counts."""
    cnt = np.full(6, np.nan)
    for i in range(pots.shape[0]):
        code, lo, _ = _quiet_background(ys, c, y0, kept_from, fed_end, grid, floors, cand, blips, owns[i], int(pots[i, 0]),
                                        int(pots[i, 1]), pots[i, 2], pots[i, 3], pots[i, 4] != 0.0, par, guess, out, cnt)
        codes[i] = code
        los[i] = lo


def _activity_py(env: Any, floor: Any, stat: Any, off: float, active: Any, strong: Any) -> None:  # pragma: no cover - compiled
    """``bursts.BurstSegmenter._activity`` in one pass: ``strong`` where |statistic| >= 1, ``active``
    where that holds or the envelope is above ``off`` x the floor (a NaN compares false)."""
    for i in range(env.shape[0]):
        s = abs(stat[i]) >= 1.0
        strong[i] = s
        active[i] = s or env[i] > off * floor[i]


def _burst_features_py(y: Any, env: Any, lf: Any, raw: Any, stat: Any, s: Any, e: Any, one: Any, floor: Any,
                       seg0: int, off: float, core_rel: float, ctx: int, sn: int, m: int, clip_uv: float,
                       clip_run: int, at: Any, fig: Any, flags: Any, snips: Any) -> bool:  # pragma: no cover - compiled
    """``bursts.BurstSegmenter._features_many``'s figures of the stretches ``[s[j], e[j])`` of the
    rows ``y`` .. ``stat`` (length L), each a single potential's core first where ``one[j]``
    (the envelope within ``core_rel`` of its peak and over ``off`` x ``floor[j]``), as its
    ``reduceat`` steps give them. Into ``at[j]``: the stretch's start, end and first largest
    |y|; ``fig[j]``: the envelope's peak, y's peak to peak, lf's over ``ctx`` more either side
    (within [seg0, L)), the spike ratio (raw samples ``sn`` either side of the peak, when they
    lie within [seg0, L)) and the snippet's norm (0 where none is cut, ``m`` samples either side
    of a single potential's peak); ``flags[j]``: shape only, clipped (``clip_uv`` >= 0: ``clip_run``
    samples in a row at or beyond that level; else a flat top possible, ``clip_run`` equal samples at an extreme), spike window
    inside; ``snips[j]``: the unit-norm snippet. False, unfinished, at a sample that is not
    finite or an extreme of zero (of the envelope, y or lf: numpy's reductions pick among signed
    zeros there): the pure path then answers."""
    L = y.shape[0]
    for j in range(s.shape[0]):
        a, b = s[j], e[j]
        f = floor[j]
        if f - f != 0.0:
            return False
        top = env[a]
        st = stat[a]
        for i in range(a, b):
            v = env[i]
            if v - v != 0.0:
                return False
            top = v if v > top else top
            v = stat[i]
            if v - v != 0.0:
                return False
            st = v if v > st else st
        if top == 0.0:
            return False
        flags[j, 0] = st < 1.0
        if one[j]:  # thr = min(max(off * f, top * core_rel), top), as the builtins pick
            lo, hi = off * f, top * core_rel
            thr = hi if hi > lo else lo
            thr = top if top < thr else thr
            first, last = b, a - 1
            for i in range(a, b):
                if env[i] >= thr:
                    if i < first:
                        first = i
                    last = i
            a, b = first, last + 1
        mx = mn = y[a]
        amax = abs(y[a])
        peak = a
        for i in range(a, b):
            v = y[i]
            if v - v != 0.0:
                return False
            mx = v if v > mx else mx
            mn = v if v < mn else mn
            v = abs(v)
            if v > amax:
                amax, peak = v, i
        if mx == 0.0 and mn == 0.0:
            return False
        at[j, 0], at[j, 1], at[j, 2] = a, b, peak
        fig[j, 0], fig[j, 1] = top, mx - mn
        lo, hi = max(a - ctx, seg0), min(b + ctx, L)
        mx = mn = lf[lo]
        for i in range(lo, hi):
            v = lf[i]
            if v - v != 0.0:
                return False
            mx = v if v > mx else mx
            mn = v if v < mn else mn
        if mx == 0.0 and mn == 0.0:
            return False
        fig[j, 2] = mx - mn
        mx = mn = raw[a]
        for i in range(a, b):
            v = raw[i]
            if v - v != 0.0:
                return False
            mx = v if v > mx else mx
            mn = v if v < mn else mn
        if clip_uv >= 0.0:  # (``clip_run`` samples in a row at or beyond that level: bursts.CLIP_LEVEL_SAMPLES)
            run = longest = 0
            for i in range(a, b):
                run = run + 1 if abs(raw[i]) >= clip_uv else 0
                longest = run if run > longest else longest
            flags[j, 1] = longest >= clip_run
        else:
            n_mx = n_mn = 0
            for i in range(a, b):
                n_mx += raw[i] == mx
                n_mn += raw[i] == mn
            flags[j, 1] = n_mx >= clip_run or n_mn >= clip_run
        full = peak - sn >= seg0 and peak + sn + 1 <= L
        flags[j, 2] = full
        if full:
            r = 0.0
            mx = mn = raw[peak - sn]
            for i in range(peak - sn, peak + sn + 1):
                v = raw[i]
                if v - v != 0.0:
                    return False
                mx = v if v > mx else mx
                mn = v if v < mn else mn
                if peak - sn < i < peak + sn:
                    d = abs(v - 0.5 * (raw[i - 1] + raw[i + 1]))
                    r = d if d > r else r
            span = mx - mn
            fig[j, 3] = r / span if span > 0.0 else 0.0
        fig[j, 4] = 0.0
        if one[j] and peak - m >= seg0 and peak + m + 1 <= L:
            norm = math.sqrt(_pairwise(y, peak - m, 2 * m + 1, True))  # as ``_unit_rows`` adds a row
            if norm - norm != 0.0:
                return False
            fig[j, 4] = norm
            for i in range(2 * m + 1):
                snips[j, i] = y[peak - m + i] / norm
    return True


def _bouts_py(hist: Any, rms: Any, c: int, first: int, count: int, level: float, gap: int, least: int) -> int:
    """``noise.activity_bouts`` of channel c's ``count`` windows from position ``first`` of its
    history ``hist[c]`` followed by the block's windows ``rms[c]``."""
    H = hist.shape[1]
    bouts, run, since = 0, 0, gap  # active windows in the stretch; inactive windows since the last active one
    for p in range(first, first + count):
        v = hist[c, p] if p < H else rms[c, p - H]
        if v > level:
            if since >= gap:
                run = 0
            since = 0
            run += 1
            if run == least:
                bouts += 1
        else:
            since += 1
    return bouts


_bouts = _bouts_py  # the compiled noise block calls the compiled one (bound in _compile)


def _lowered_py(hist: Any, rms: Any, c: int, end: int, f: float, recent: int, ratio: float, cap: float, bouts: int,
                level: float, gap: int, least: int) -> tuple[float, float]:
    """``noise.NoiseFloor._after_activity`` for channel c's floor ``f`` after the window at
    position ``end`` of its history ``hist[c]`` followed by the block's windows ``rms[c]`` (the
    history holds the ``hist.shape[1]`` windows up to it): the floor and the resting floor."""
    H = hist.shape[1]
    q = hist[c, end] if end < H else rms[c, end - H]  # the quietest of the last ``recent`` windows
    for t in range(end - recent + 1, end):
        v = hist[c, t] if t < H else rms[c, t - H]
        if v < q:
            q = v
    if not q * ratio < f:
        return f, f
    g = f / cap
    fr = q if q >= g else g
    if bouts == 0 or _bouts(hist, rms, c, end - H + 1, H, level * f, gap, least) < bouts:
        return fr, fr
    return f, fr


_lowered = _lowered_py  # (bound in _compile, after _bouts)


def _noise_block_py(part: Any, y2: Any, m: int, hist: Any, srt: Any, lo: int, hi: int, frac: float, recent: int,
                    ratio: float, cap: float, bouts: int, level: float, gap: int, least: int, edges: Any,
                    counts: Any, last: Any, out: Any, rests: Any) -> bool:  # pragma: no cover - compiled
    """``noise.NoiseFloor.process`` for a block that completes one window or more with the
    history full and kept sorted (``srt``: each channel's ``hist`` row in order), window after
    window: the window's RMS, the history's sorted copy moved as ``bisect`` would (the window
    leaving out, the new one in), the floor (the percentile's two sorted values, ``lo``, ``hi``
    and ``frac``), lowered after activity as ``NoiseFloor._after_activity`` lowers it (the
    quietest of the last ``recent`` windows, ``ratio``, ``cap``; not after ``bouts`` bouts of
    activity, ``_bouts`` with ``level`` x the floor, ``gap`` and ``least``: the resting floor,
    ``rests``, is lowered then too; one per stretch of the block with its own floor), and the
    quality histogram's bin (``edges``). The first
    window is finished in ``part`` (so its squares are added contiguously, as numpy adds the
    concatenated block's), the others straight from ``y2``; each window's floor holds from its
    end on (``out``; ``last``: the floor in force after the block). False, with only ``part``
    past ``m`` filled, when a window's RMS is NaN."""
    C, win = part.shape
    n = y2.shape[1]
    first = win - m
    k = (m + n) // win
    rest = m + n - k * win
    for c in range(C):
        for i in range(first):
            part[c, m + i] = y2[c, i]
    rms = np.empty((C, k))
    for c in range(C):
        for j in range(k):
            v = _pairwise(part[c], 0, win, False) if j == 0 else _pairwise(y2[c], first + (j - 1) * win, win, False)
            r = math.sqrt(v / win)
            if r != r:
                return False
            rms[c, j] = r
    H = hist.shape[1]
    nb = counts.shape[1]
    for c in range(C):
        f = srt[c, lo] + frac * (srt[c, hi] - srt[c, lo])  # the floor in force before the first window ends
        fr = f
        if recent > 0:
            f, fr = _lowered(hist, rms, c, H - 1, f, recent, ratio, cap, bouts, level, gap, least)
        rests[c, 0] = fr
        for i in range(first):
            out[c, i] = f
        for j in range(k):
            r = rms[c, j]
            old = hist[c, j] if j < H else rms[c, j - H]  # the window leaving the history
            a, b = 0, H
            while a < b:
                t = (a + b) // 2
                if srt[c, t] < old:
                    a = t + 1
                else:
                    b = t
            for t in range(a, H - 1):
                srt[c, t] = srt[c, t + 1]
            a, b = 0, H - 1
            while a < b:
                t = (a + b) // 2
                if r < srt[c, t]:
                    b = t
                else:
                    a = t + 1
            for t in range(H - 1, a, -1):
                srt[c, t] = srt[c, t - 1]
            srt[c, a] = r
            if r - r == 0.0:
                a, b = 0, edges.shape[0]
                while a < b:
                    t = (a + b) // 2
                    if r < edges[t]:
                        b = t
                    else:
                        a = t + 1
                g = a - 1
                if g < 0:
                    g = 0
                if g > nb - 1:
                    g = nb - 1
                counts[c, g] += 1
            f = srt[c, lo] + frac * (srt[c, hi] - srt[c, lo])
            fr = f
            if recent > 0:  # after the windows ending with this one (history, then block)
                f, fr = _lowered(hist, rms, c, H + j, f, recent, ratio, cap, bouts, level, gap, least)
            rests[c, j + 1] = fr
            end = first + (j + 1) * win if j + 1 < k else n
            for i in range(first + j * win, end):
                out[c, i] = f
        last[c] = f
        if k >= H:  # the history moves on by the k windows at once
            for t in range(H):
                hist[c, t] = rms[c, k - H + t]
        else:
            for t in range(H - k):
                hist[c, t] = hist[c, t + k]
            for t in range(k):
                hist[c, H - k + t] = rms[c, t]
        for i in range(rest):
            part[c, i] = y2[c, n - rest + i]
    return True
_fit_rows = _fit_rows_py  # the fused fit and join calls the compiled ones (bound in _compile)
_join = _join_py


def _fit_join_py(dots: Any, ww: Any, per: Any, par: Any, lag: Any, ok: Any, wide: Any, sigma: Any, stack: Any,
                 per_ch: Any, wave: Any, sig: Any, snip: Any) -> int:  # pragma: no cover - compiled
    """``units.UnitTracker._decide``'s common case in one call: ``_fit_rows`` (of the K = len(dots)
    templates: whitened energies ``per[0]``, members ``per[1]``, ratios into ``per[3]``; of the
    lag windows ``ww`` only the energies of the rows it reads for templates whose gain passes,
    added as ``np.add.reduce`` adds each row's squares, into ``per[4]``: the others' ratios are
    left unworked, as they cannot pass), and
    when a template k passes and it is not one that must out-fit an overlap first (``per[2, k]``
    and fewer than 3 members), ``_join`` of the snippet at its lag (``wide``, from column
    ``par[8]``, upsampled by ``par[9]``) into it: the new wave, noise figures and snippet into
    ``wave``, ``sig``, ``snip``, and the rows kept beside the templates (``stack``, members, and
    ``per_ch``'s noise figures and per-channel energies, each added as ``np.add.reduce`` adds a
    row's squares) moved with them. The rows come packed (``per``, ``per_ch``, ``par``) as numba's
    dispatch costs per argument. Returns k when it joined, -1 when nothing passes, -2 - k when k
    passes but the overlap check must come first (nothing joined)."""
    K = dots.shape[0]
    tt, ns, ratio, e = per[0, :K], per[1, :K], per[3, :K], per[4, :ww.shape[0]]
    par_up, amp_tol, amp_k = par[1], par[5], par[6]
    for i in range(K):
        t = tt[i]
        j, _ = _top_lag(dots, i, t)
        d = dots[i, j]
        q = t / par_up
        tol = amp_tol + amp_k / math.sqrt(1e-12 if 1e-12 > q else q)  # as _fit_rows
        if d > 0.0 and abs(d / t - 1.0) <= tol:  # the others fail whatever their window's energy
            e[j] = _pairwise(ww[j], 0, ww.shape[1], True)
    k = _fit_rows(dots, tt, e, ns, par, lag, ratio, ok)
    if k < 0:
        return -1
    if per[2, k] != 0.0 and ns[k] < 3.0:
        return -2 - k
    n = ns[k] + 1.0
    ns[k] = n
    cap = par[0]
    sigs, sq = per_ch[0], per_ch[1]
    _join(wide, int(par[8]) + lag[k], int(par[9]), 1.0 / (cap if cap < n else n), stack[k], sigs[k], sigma, wave, sig,
          snip)
    stack[k, :] = wave
    sigs[k, :] = sig
    L = wave.shape[0] // sq.shape[1]
    for c in range(sq.shape[1]):
        sq[k, c] = _pairwise(wave, c * L, L, True)
    return k


def _top_lag_py(dots: Any, i: int, t: float) -> tuple[int, float]:  # pragma: no cover - compiled
    """Row i's lag of the largest explained energy, d^2 / t where d > 0, else -inf (the first
    of equals, a NaN first, as argmax), and that energy."""
    j = 0
    mx = 0.0
    for m in range(dots.shape[1]):
        d = dots[i, m]
        v = d * d / t if d > 0.0 else -math.inf
        if m == 0 or not v <= mx:  # argmax: a larger value or a NaN takes over
            mx = v
            j = m
            if v != v:
                break
    return j, mx


_top_lag = _top_lag_py  # (bound in _compile)


def _whiten_py(stack: Any, wide: Any, inv: Any, x0: int, out: Any, tt: Any,
               ww: Any) -> None:  # pragma: no cover - compiled
    """A twitch's products' operands, whitened by ``inv`` (1 / its noise per channel): its lag
    windows ``ww`` (n_lags x C*L; row m is ``wide[:, x0 + m: x0 + m + L]`` with the channels
    concatenated, as ``units.UnitTracker._lag_windows`` cuts them), the templates ``out`` (K x
    C*L; ``stack * np.repeat(inv, L)``), and their energies ``tt``, each row's squares added as
    ``np.add.reduce`` adds them. Each element is one sample times its channel's 1/sigma, as the
    pure path's."""
    C = inv.shape[0]
    L = stack.shape[1] // C
    for m in range(ww.shape[0]):  # (through 1-D slices: the compiler vectorises the copies)
        row = ww[m]
        for c in range(C):
            v = inv[c]
            src = wide[c, x0 + m: x0 + m + L]
            dst = row[c * L: c * L + L]
            for i in range(L):
                dst[i] = src[i] * v
    for k in range(stack.shape[0]):
        row = out[k]
        for c in range(C):
            v = inv[c]
            src = stack[k, c * L: c * L + L]
            dst = row[c * L: c * L + L]
            for i in range(L):
                dst[i] = src[i] * v
        tt[k] = _pairwise(row, 0, row.shape[0], True)


def _sort_head_py(buf: Any, n: int) -> None:  # pragma: no cover - compiled
    """Sort ``buf[:n]`` in place (insertion: the canceller's rows hold 25-50 values)."""
    for i in range(1, n):
        v = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > v:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = v


_sort_head = _sort_head_py  # (bound in _compile)


def _middle_py(buf: Any, n: int) -> float:  # pragma: no cover - compiled
    """``noise.percentile_rows(row, 50.0)`` of the ``n`` finite values sorted in ``buf[:n]``:
    its linear interpolation, operation for operation (NaN when there are none)."""
    if n == 0:
        return math.nan
    pos = 0.5 * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    a = buf[lo]
    return a + (pos - lo) * (buf[hi] - a)


_middle = _middle_py  # (bound in _compile)


def _next_above_py(vals: Any, m: int, a: float, hi: int, le: int) -> float:  # pragma: no cover - compiled
    """The ``hi``-th smallest value (0-based) when ``a`` is the one just below it in rank and
    ``le`` values outside ``vals[:m]`` are at most ``a``: ``a`` itself when enough equal it,
    else the least value of ``vals[:m]`` above it."""
    b = math.inf
    for j in range(m):
        v = vals[j]
        le += v <= a
        if v > a and v < b:
            b = v
    return a if le > hi else b


_next_above = _next_above_py  # (bound in _compile)


def _middle_of_py(buf: Any, n: int, scratch: Any) -> float:  # pragma: no cover - compiled
    """``_middle`` of the ``n`` finite values in ``buf[:n]``, unsorted (left as they are): the
    lower middle value by ``_select``, the upper one the least value above it unless enough
    equal it (faster than sorting rows of 25-50; an order statistic is the same value)."""
    if n == 0:
        return math.nan
    pos = 0.5 * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    a = _select(buf[:n], lo, scratch)
    b = a if hi == lo else _next_above(buf, n, a, hi, 0)
    return a + (pos - lo) * (b - a)


_middle_of = _middle_of_py  # (bound in _compile)


def _middle_near_py(buf: Any, n: int, lo_v: float, hi_v: float, scratch: Any) -> float:  # pragma: no cover - compiled
    """``_middle`` of the ``n`` finite values in ``buf[:n]`` (left as they are) when both middle
    values lie in [``lo_v``, ``hi_v``]: one pass counts the values below it and copies out those
    in it, and ``_pick`` ranks the few copied. NaN when the middle is not inside (the caller
    then asks ``_middle_of``); the value otherwise is the same order statistic, so the same."""
    if n == 0:
        return math.nan
    pos = 0.5 * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    below = 0
    m = 0
    for j in range(n):  # (without branches)
        v = buf[j]
        below += v < lo_v
        scratch[m] = v
        m += (v >= lo_v) & (v <= hi_v)
    if not (below <= lo and hi < below + m):
        return math.nan
    a = _pick(scratch[:m], lo - below)
    b = a if hi == lo else _next_above(scratch, m, a, hi, below)  # (those below lie under lo_v)
    return a + (pos - lo) * (b - a)


_middle_near = _middle_near_py  # (bound in _compile)


def _middle_tracked_py(buf: Any, n: int, scratch: Any, track: Any, i: int) -> float:  # pragma: no cover - compiled
    """``_middle_of`` of ``buf[:n]`` for a row that is the next in a series whose medians move
    little (the canceller's update points, 0.1 s apart, share most of their blocks):
    ``track[:, i]`` holds the series' last median and a half-width. The window around the last
    median is tried first (``_middle_near``), which ranks the values in it instead of all;
    when the middle lies outside it, ``_middle_of`` answers. The width narrows after a hit
    and widens after a miss, so that about four in five hit (a median moves by a few of 50
    ranks from one update point to the next). Either way the value is the order statistic, so
    it is ``_middle_of``'s whatever the series before it (and whatever the chunking that cut
    it): the canceller's medians 15 % faster."""
    g, d = track[0, i], track[1, i]
    v = math.nan
    if g == g and d == d:
        v = _middle_near(buf, n, g - d, g + d, scratch)
        if v == v:
            d *= 0.9
    if v != v:
        v = _middle_of(buf, n, scratch)
        if v == v:
            d = 1.5 * d if 0.0 < d < math.inf else 0.05 * abs(v) + 1e-6
    track[0, i], track[1, i] = v, d
    return v


_middle_tracked = _middle_tracked_py  # (bound in _compile)


def _mains_halves_py(hre: Any, him: Any, ends: Any, m: int, h: int, ct: Any, st: Any, which: Any,
                     rre: Any, rim: Any, med: Any, apart: Any) -> None:  # pragma: no cover - compiled
    """``mains.MainsCanceller._at_updates`` up to the swell: per channel, update point and
    harmonic, the ``m`` history blocks before each update point (``hre``/``him``: the history's
    real and imaginary parts, ``(ch, blocks, H)``; ``ends``: each update point's block) turned
    by the rotations of its turn point (``ct``/``st`` ``(ch, rows, H, m)``, the row
    ``which[ch, u]``), into ``rre``/``rim`` ``(ch, U, H, m)``; the medians of the older and newer
    ``h`` of them, real and imaginary parts apart, into ``med`` ``(4, ch, U, H)`` (as
    ``noise.percentile_rows``: NaN skipped), and how far apart the two halves' blocks lie on
    average into ``apart`` ``(ch, U, H)`` (``mains._halves``)."""
    C, U = which.shape
    H = hre.shape[2]
    buf, scratch = np.empty(m), np.empty(m)
    track = np.empty((2, 4 * H))  # each median's series along the update points (_middle_tracked)
    for c in range(C):
        track[:] = math.nan
        for u in range(U):
            w = which[c, u]
            b0 = ends[u] - m
            for k in range(H):
                for j in range(m):
                    zr = hre[c, b0 + j, k]
                    zi = him[c, b0 + j, k]
                    cc = ct[c, w, k, j]
                    ss = st[c, w, k, j]
                    rre[c, u, k, j] = zr * cc - zi * ss
                    rim[c, u, k, j] = zr * ss + zi * cc
                n_old = 0
                n_new = 0
                p_old = 0.0
                p_new = 0.0
                for j in range(2 * h):
                    if math.isfinite(rre[c, u, k, j]):
                        if j < h:
                            n_old += 1
                            p_old += j
                        else:
                            n_new += 1
                            p_new += j
                apart[c, u, k] = p_new / n_new - p_old / n_old
                for half in range(2):
                    for part in range(2):
                        row = rre if part == 0 else rim
                        n = 0
                        for j in range(half * h, half * h + h):
                            v = row[c, u, k, j]
                            if not math.isnan(v):
                                buf[n] = v
                                n += 1
                        med[2 * half + part, c, u, k] = _middle_tracked(buf, n, scratch, track,
                                                                        4 * k + 2 * half + part)


def _mains_levels_py(rre: Any, rim: Any, sre: Any, sim: Any, med: Any) -> None:  # pragma: no cover - compiled
    """The level's medians of ``mains.MainsCanceller._at_updates``: every turned block
    (``rre``/``rim`` ``(ch, U, H, m)``) carried along the swell (``sre``/``sim`` ``(ch, U, H)``)
    to the update point, as numpy's complex product with the blocks' distance ``m - j`` does
    it, then the median of the real and of the imaginary parts into ``med`` ``(2, ch, U, H)``."""
    C, U, H, m = rre.shape
    buf, scratch = np.empty(m), np.empty(m)
    track = np.empty((2, 2 * H))  # (_middle_tracked)
    for c in range(C):
        track[:] = math.nan
        for u in range(U):
            for k in range(H):
                a = sre[c, u, k]
                b = sim[c, u, k]
                for part in range(2):
                    n = 0
                    for j in range(m):
                        t = float(m - j)
                        if part == 0:
                            v = rre[c, u, k, j] + (a * t - b * 0.0)
                        else:
                            v = rim[c, u, k, j] + (a * 0.0 + b * t)
                        if not math.isnan(v):
                            buf[n] = v
                            n += 1
                    med[part, c, u, k] = _middle_tracked(buf, n, scratch, track, 2 * k + part)


def _mains_subtract_py(out: Any, start: int, blocks: int, length: int, er: Any, ei: Any, re: Any, im: Any,
                       r0: int) -> None:  # pragma: no cover - compiled
    """``mains.MainsCanceller._subtract`` on ``blocks`` runs of ``length`` samples of ``out``
    ``(ch, n)`` from ``start``, run j with the estimate ``er``/``ei`` ``[:, j]`` ``(ch, k, H)``,
    from phase ``r0`` of the reconstruction rows ``re``/``im`` ``(H, block)``: each harmonic
    subtracted in turn, as the pure loop does."""
    C = out.shape[0]
    H = re.shape[0]
    for c in range(C):
        for j in range(blocks):
            at = start + j * length
            for k in range(H):
                a = er[c, j, k]
                b = ei[c, j, k]
                for i in range(length):
                    out[c, at + i] = out[c, at + i] - (a * re[k, r0 + i] - b * im[k, r0 + i])


def _sliding_middle_py(every: Any, k: int, m: int, out: Any) -> None:  # pragma: no cover - compiled
    """``noise.percentile_rows(every[:, j: j + m], 50.0)`` for j < k into ``out`` ``(ch, k)``:
    the window's finite values kept sorted as it slides (one removed, one put in its place)."""
    C = every.shape[0]
    buf = np.empty(m)
    for c in range(C):
        n = 0
        for j in range(m):
            v = every[c, j]
            if not math.isnan(v):
                buf[n] = v
                n += 1
        _sort_head(buf, n)
        for j in range(k):
            out[c, j] = _middle(buf, n)
            if j == k - 1:
                break
            old = every[c, j]
            if not math.isnan(old):  # out of the window: the first equal value goes
                i = 0
                while buf[i] != old:
                    i += 1
                for q in range(i, n - 1):
                    buf[q] = buf[q + 1]
                n -= 1
            new = every[c, j + m]
            if not math.isnan(new):
                i = n
                while i > 0 and buf[i - 1] > new:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = new
                n += 1


def _compile(name: str) -> Callable[..., Any] | None:
    global _tried
    if not enabled:
        return None
    if not _tried:
        _tried = True
        try:
            import numba
        except ImportError:
            return None
        if on_compile is not None and not _cached():
            on_compile()
        for cache in (True, False):  # no cache where numba finds nowhere to write one
            try:
                jit = numba.njit(cache=cache, nogil=True)
                # numpy's error model: x / 0.0 gives inf or NaN, as numpy does, instead of raising
                njit = numba.njit(cache=cache, nogil=True, error_model="numpy")
                global _cascade, _term, _leaf, _pairwise, _stat_out, _centroid, _pick, _select, _median, _quantised, _stat_3, _stat_any, _fit_rows, _join, _top_lag  # numba resolves these names when it compiles the callers
                _cascade = numba.njit(cache=cache, nogil=True, inline="always")(_cascade_py)
                _stat_out = numba.njit(cache=cache, nogil=True, inline="always", error_model="numpy")(_stat_out_py)
                _term = numba.njit(cache=cache, nogil=True, inline="always")(_term_py)
                _leaf = njit(_leaf_py)
                _pairwise = njit(_pairwise_py)
                _centroid = njit(_centroid_py)
                _pick = jit(_pick_py)
                _select = jit(_select_py)
                _median = jit(_median_py)
                _quantised = njit(_quantised_sums_py)
                _stat_3 = njit(_window_stat_3_py)
                _stat_any = njit(_window_stat_py)
                global _rest_select, _rest_level, _lift
                _lift = njit(_matched_lift_py)
                _rest_select = jit(_rest_select_py)
                _rest_level = jit(_rest_level_py)
                _top_lag = njit(_top_lag_py)
                _fit_rows = njit(_fit_rows_py)
                _join = jit(_join_py)
                global _bouts, _lowered, _sort_head, _middle, _middle_of
                _bouts = jit(_bouts_py)
                _lowered = jit(_lowered_py)
                _sort_head = jit(_sort_head_py)
                _middle = jit(_middle_py)
                global _next_above, _phases
                _next_above = jit(_next_above_py)
                _phases = jit(_phases_py)
                _middle_of = jit(_middle_of_py)
                global _middle_near, _middle_tracked
                _middle_near = jit(_middle_near_py)
                _middle_tracked = jit(_middle_tracked_py)
                _compiled.update(mains_halves=njit(_mains_halves_py), mains_levels=njit(_mains_levels_py),
                                 mains_subtract=jit(_mains_subtract_py), sliding_middle=jit(_sliding_middle_py))
                _compiled.update(front_end=jit(_front_end_py), front_end_211=jit(_front_end_211_py),
                                 window_stat=_stat_any, window_stat_3=_stat_3,
                                 window_sums=njit(_window_sums_py), kurtosis_rows=njit(_kurtosis_rows_py),
                                 quantised_sums=_quantised, maybe_active=njit(_maybe_active_py),
                                 rest_select=_rest_select, matched_lift=_lift, matched_scan=njit(_matched_scan_py),
                                 background_sums=jit(_background_sums_py),
                                 fit_rows=_fit_rows, join=_join,
                                 may_merge=njit(_may_merge_py), may_merge_few=njit(_may_merge_few_py),
                                 upsample=jit(_upsample_py),
                                 centroid=_centroid, centroids=njit(_centroids_py),
                                 robust_rms=jit(_robust_rms_py), robust_rms_sorted=jit(_robust_rms_sorted_py),
                                 ptp_rows=jit(_ptp_rows_py), phases_many=jit(_phases_many_py),
                                 tail_window=jit(_tail_window_py),
                                 live_energy=njit(_live_energy_py), activity=jit(_activity_py),
                                 burst_features=njit(_burst_features_py),
                                 noise_block=jit(_noise_block_py),
                                 fit_join=njit(_fit_join_py), whiten=jit(_whiten_py))
                global _quiet_background, _cut_out
                _cut_out = jit(_cut_out_py)
                _quiet_background = jit(_quiet_background_py)
                _compiled.update(quiet_background=_quiet_background, quiet_backgrounds=jit(_quiet_backgrounds_py))
                break
            except RuntimeError:
                continue
        try:
            _warm_up()
        except Exception as exc:  # a numba that cannot compile them: the pure path, not a failure mid-recording
            _compiled.clear()
            warnings.warn(f"myotwitch: compiled kernels unavailable ({type(exc).__name__}: {exc}); "
                          "using the pure numpy/scipy path", RuntimeWarning, stacklevel=2)
    return _compiled.get(name)


def prepare() -> bool:
    """Compile (or load from numba's cache) every kernel now; whether they are in use. A parent
    calls it before starting workers, which then load the cache (or inherit the machine code)
    instead of each compiling, and each saying so, at once."""
    return _compile("front_end") is not None


def _warm_up() -> None:
    """Compile every kernel now, on tiny inputs of the types the pipeline passes."""
    f = np.zeros((1, 4))
    sos = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    z = np.zeros((1, 1, 2))
    _compiled["front_end"](sos, sos, sos, f, z.copy(), z.copy(), z.copy(), f.copy(), f.copy(), f.copy(), f.copy())
    for out in (f, np.zeros((2, 2, 4))[:, 0]):  # outputs whole, or rows of a multi-channel offline chunk's arena
        _compiled["front_end_211"](np.vstack([sos, sos]), sos, sos, np.zeros((out.shape[0], 4)), np.zeros((out.shape[0], 2, 2)),
                                   np.zeros((out.shape[0], 1, 2)), np.zeros((out.shape[0], 1, 2)), out.copy() if out is f else out,
                                   np.zeros((out.shape[0], 4)), out.copy() if out is f else out, out.copy() if out is f else out)
    one = np.array([2], dtype=np.int64)
    _compiled["window_stat"](np.zeros((1, 8), dtype=np.int64), 2, 2, one, np.ones((1, 1, 1)), one,
                             np.ones((1, 4)), np.empty((1, 2)), np.empty((1, 2)), np.empty(1))
    _compiled["window_stat_3"](np.zeros((1, 8), dtype=np.int64), 2, 2, np.array([2, 2, 2], dtype=np.int64),
                               np.ones((1, 1, 3)), one, np.ones((1, 4)), np.empty((1, 2)), np.empty((1, 2)), np.empty(1))
    _compiled["window_sums"](f, 2, 2, np.empty((1, 2)), np.empty((1, 2)))
    _compiled["kurtosis_rows"](np.ones((1, 4)), np.ones((1, 4)), np.array([3], dtype=np.int64), 4, 2, 4.5, 30, 2,
                               np.empty((1, 1), dtype=np.intp))
    _compiled["quantised_sums"](np.zeros((1, 1), dtype=np.int64), f, 1000.0, 2.0 ** 52, np.empty((1, 5), dtype=np.int64),
                                np.empty((1, 5), dtype=np.int64))
    _compiled["background_sums"](np.ones(4), np.array([1, 2], dtype=np.int64), 2)
    for row in (np.ones(4), np.ones((2, 4))[:, 1:][0]):  # a floor row: whole, or of a trimmed grid
        _compiled["rest_select"](row, 0, 3, 0.1)
    at = np.zeros(1, dtype=np.intp)
    _compiled["matched_lift"](np.ones((1, 4)), -1, at, at, at, np.ones((3, 2)), np.ones((2, 3)), np.ones((1, 2)), 10.0,
                              1.0, np.ones((1, 4)), np.zeros((1, 4)))
    _compiled["matched_scan"](np.ones((1, 4)), -1, np.zeros((1, 4)), np.ones((1, 4)), at, 0.5, np.ones(1),
                              np.ones((3, 2)), np.ones((2, 3)), np.ones((1, 2)), 10.0, 1.0)
    k1 = np.ones(1)
    _compiled["fit_rows"](np.ones((1, 3)), k1, np.ones(3), k1, np.ones(8), np.empty(1, dtype=np.int64), np.empty(1),
                          np.empty(1, dtype=np.bool_))
    _compiled["join"](np.ones((1, 12)), 2, 2, 0.5, np.ones(4), k1, k1, np.empty(4), np.empty(1),
                      np.empty((1, 2), dtype=np.float32))
    _compiled["may_merge"](np.ones((20, 1)), 0, k1, np.ones(20), np.ones(6), np.empty(1))
    _compiled["may_merge_few"](np.ones((2, 1)), 0, k1, np.ones(2), np.ones(6))
    x3 = np.ones((1, 1, 8))
    for x in (x3, x3[:, :, 1:]):  # a batch, and one twitch's slice of the ring
        _compiled["upsample"](x, np.ones(4), 2, 1, np.empty((1, 1, 8)))
    pos = np.array([1], dtype=np.int64)
    for y in (f, np.zeros((2, 8))[:, 2:6]):  # the ring's kept stretch: whole, or a view into its buffer
        _compiled["centroid"](y, np.ones(y.shape[0]))
        _compiled["centroids"](y, 0, pos, pos + 2, np.ones((1, y.shape[0])), np.ones(1, dtype=np.bool_),
                               np.empty(1, dtype=np.int64), np.empty(1), np.empty(1, dtype=np.bool_))
    for y in (np.ones((1, 1, 8)), np.ones((1, 2, 8)).transpose(1, 0, 2)):  # stacked windows, a gather's view
        _compiled["robust_rms"](y, np.empty((y.shape[0], 1)))
    _compiled["robust_rms_sorted"](np.ones((2, 1, 8)), np.empty((2, 1)))  # (numpy's sort: contiguous)
    for y in (f, np.ones((2, 8))[:, 2:6]):  # a window of the ring: its whole buffer, or a view
        _compiled["ptp_rows"](y, np.empty(y.shape[0]))
    for ys in (np.ones((2, 8)), np.ones((2, 12))[:, 2:10]):  # the ring's kept samples: its buffer, or a view
        _compiled["phases_many"](ys, 0, pos, pos + 2, np.zeros(1, dtype=np.int64), np.ones(1), np.empty(1, dtype=np.int64))
    for y2 in (np.ones((2, 3)), np.ones((2, 6))[:, 1:4]):
        _compiled["tail_window"](np.ones((2, 2, 4)), y2, 2, np.ones((2, 2, 8)), 1)
    for c in (1, 2):  # one channel's kept rows are contiguous, several channels' are views
        kept_q, kept = np.zeros((c, 4), dtype=np.int64)[:, 1:], np.ones((c, 4))[:, 1:]
        for w in (np.array([2, 2, 2], dtype=np.int64), one):
            _compiled["live_energy"](kept_q, np.ones((c, 4)), 1000.0, 2.0 ** 52, kept, np.ones((c, 4)), kept[:, 1:],
                                     np.ones((c, 4)), 2, 2, w, np.ones((c, 1, w.size)), np.array([2], dtype=np.int64),
                                     np.empty((c, 7), dtype=np.int64), np.empty((c, 7)), np.empty((c, 6)), np.empty((c, 2)),
                                     np.empty((c, 2)))
    for y2 in (np.ones((2, 9)), np.ones((2, 12))[:, 1:10], np.ones((2, 6))[:, 1:4]):  # (long or live, whole or columns)
        _compiled["noise_block"](np.ones((2, 4)), y2, 2, np.ones((2, 4)), np.ones((2, 4)), 1, 2, 0.5, 2, 1.5, 3.0, 2,
                                 2.0, 5, 3, np.array([0.1, 1.0, 10.0]), np.zeros((2, 2), dtype=np.int64), np.empty(2),
                                 np.empty((2, 9)), np.empty((2, 9)))
    row = np.ones(8)
    _compiled["activity"](row, row, row, 3.0, np.empty(8, dtype=np.bool_), np.empty(8, dtype=np.bool_))
    hist = np.ones((1, 6, 2), dtype=complex)  # the canceller's history: its parts are strided views
    rot, two = np.ones((1, 1, 2, 4)), np.zeros((1, 1), dtype=np.int64)
    _compiled["mains_halves"](hist.real, hist.imag, np.array([5], dtype=np.int64), 4, 2, rot, rot, two,
                              np.empty((1, 1, 2, 4)), np.empty((1, 1, 2, 4)), np.empty((4, 1, 1, 2)), np.empty((1, 1, 2)))
    _compiled["mains_levels"](rot, rot, np.ones((1, 1, 2)), np.ones((1, 1, 2)), np.empty((2, 1, 1, 2)))
    for out in (np.ones((1, 8)), np.ones((2, 8))[:, 2:]):  # whole rows, or a block's columns of several channels
        _compiled["mains_subtract"](out, 0, 1, 2, np.ones((out.shape[0], 1, 2)), np.ones((out.shape[0], 1, 2)),
                                    np.ones((2, 4)), np.ones((2, 4)), 1)
    _compiled["sliding_middle"](np.ones((1, 6)), 2, 4, np.empty((1, 2)))
    two = np.array([1, 3], dtype=np.intp)
    _compiled["burst_features"](row, row, row, row, row, two, two + 3, np.array([True, False]), np.ones(2), 0, 3.0, 0.1,
                                2, 1, 1, 0.0, 2, np.empty((2, 3), dtype=np.intp), np.empty((2, 5)),
                                np.empty((2, 3), dtype=np.bool_), np.empty((2, 3)))
    for wide in (np.ones((1, 12)), np.ones((2, 2, 14))[0, :, 1:13]):  # whole, or an upsampled batch's trimmed row
        C = wide.shape[0]
        _compiled["fit_join"](np.ones((1, 3)), np.ones((3, 4 * C)), np.ones((5, 3)), np.array([1.0] * 8 + [2.0, 2.0]),
                              np.empty(1, dtype=np.int64), np.empty(1, dtype=np.bool_), wide, np.ones(C),
                              np.ones((1, 4 * C)), np.ones((2, 1, C)), np.empty(4 * C), np.empty(C),
                              np.empty((C, 2), dtype=np.float32))
    for wide in (np.ones((1, 12)), np.ones((2, 2, 14))[0, :, 1:13]):  # whole, or an upsampled batch's trimmed row
        C = wide.shape[0]
        _compiled["whiten"](np.ones((1, 4 * C)), wide, np.ones(C), 2, np.empty((1, 4 * C)), np.empty(1),
                            np.empty((3, 4 * C)))
    rows = np.ones((6, 1, 8))
    for layout in (rows, rows[:, :, :4]):  # the pipeline's rows: whole, or a block's first columns
        _compiled["maybe_active"](layout, 1, 4, 5, 3.0, np.empty(1, dtype=np.bool_))
    grid, cand = np.arange(0, 400, 100), np.array([[0.0, 9.0, 50.0, 0.0], [200.0, 209.0, 20.0, 1.0]])
    par = np.array([40.0, 15.0, 100.0, 300.0, 0.1, 20.0, 20.0, 1.1, 5.0, 2.0, 2.5, 2.5, 1.6, 12.0, 1.35, 100.0, 12.0])
    for ys in (np.ones((1, 300)), np.ones((2, 300))[:, 1:]):  # the ring's window: one channel, or a view of several
        _compiled["quiet_background"](ys, 0, 0, 0, 300, grid, np.ones((2, 4))[:, 1:][0], cand, np.ascontiguousarray(cand[:, :3]), -1, 200, 209, 20.0,
                                      1.0, True, par, np.full(1, np.nan), np.empty(5), np.full(6, np.nan))
        _compiled["quiet_backgrounds"](ys, 0, 0, 0, 300, grid, np.ones((2, 4))[:, 1:][0], cand, np.ascontiguousarray(cand[:, :3]), np.full(2, -1),
                                       np.ones((2, 5)), par, np.full(1, np.nan), np.empty(5), np.empty(2, dtype=np.int64),
                                       np.empty(2, dtype=np.int64))


def mains_halves() -> Callable[..., None] | None:
    return _compile("mains_halves")


def mains_levels() -> Callable[..., None] | None:
    return _compile("mains_levels")


def mains_subtract() -> Callable[..., None] | None:
    return _compile("mains_subtract")


def sliding_middle() -> Callable[..., None] | None:
    return _compile("sliding_middle")


def front_end(sections: tuple[int, int, int] | None = None) -> Callable[..., None] | None:
    """The compiled front end (``_front_end_py``'s signature), or None: no numba, or disabled.
    Given the band-pass's, envelope's and low band's section counts, the written-out kernel
    when they are the shipped design's (2, 1, 1)."""
    return _compile("front_end_211" if sections == (2, 1, 1) else "front_end")


def window_stat(n_windows: int | None = None) -> Callable[..., None] | None:
    """The compiled window statistic (``_window_stat_py``'s signature), or None; for three
    windows (the shipped design), the written-out kernel."""
    return _compile("window_stat_3" if n_windows == 3 else "window_stat")


def window_sums() -> Callable[..., None] | None:
    """The compiled window sums (``_window_sums_py``'s signature), or None."""
    return _compile("window_sums")


def kurtosis_rows() -> Callable[..., None] | None:
    """The compiled kurtosis refresh (``_kurtosis_rows_py``'s signature), or None."""
    return _compile("kurtosis_rows")


def quantised_sums() -> Callable[..., None] | None:
    """The compiled quantisation and running sums (``_quantised_sums_py``'s signature), or None."""
    return _compile("quantised_sums")


def maybe_active() -> Callable[..., None] | None:
    """The compiled quiet-block test (``_maybe_active_py``'s signature), or None."""
    return _compile("maybe_active")


def matched_lift() -> Callable[..., None] | None:
    """The compiled twitch-shape lift (``_matched_lift_py``'s signature), or None."""
    return _compile("matched_lift")


def matched_scan() -> Callable[..., None] | None:
    """The compiled twitch-shape lift with its own choice of candidates (``_matched_scan_py``'s
    signature), or None."""
    return _compile("matched_scan")


def background_sums() -> Callable[..., tuple[int, float, int, float]] | None:
    """The compiled background sums (``_background_sums_py``'s signature), or None."""
    return _compile("background_sums")


def rest_select() -> Callable[..., float] | None:
    """The compiled resting level (``_rest_select_py``'s signature), or None."""
    return _compile("rest_select")


def fit_rows() -> Callable[..., int] | None:
    """The compiled template fit figures (``_fit_rows_py``'s signature), or None."""
    return _compile("fit_rows")


def join() -> Callable[..., None] | None:
    """The compiled template update (``_join_py``'s signature), or None."""
    return _compile("join")


def may_merge() -> Callable[..., bool] | None:
    """The compiled merge pre-check (``_may_merge_py``'s signature), or None."""
    return _compile("may_merge")


def may_merge_few() -> Callable[..., int] | None:
    """The compiled merge pre-check for a few templates x channels (``_may_merge_few_py``'s
    signature), or None."""
    return _compile("may_merge_few")


def upsample() -> Callable[..., None] | None:
    """The compiled upsampling (``_upsample_py``'s signature), or None."""
    return _compile("upsample")


def robust_rms() -> Callable[..., bool] | None:
    """The compiled noise figures (``_robust_rms_py``'s signature), or None."""
    return _compile("robust_rms")


def robust_rms_sorted() -> Callable[..., bool] | None:
    """The compiled noise figures from sorted windows (``_robust_rms_sorted_py``'s signature), or None."""
    return _compile("robust_rms_sorted")


def phases_many() -> Callable[..., None] | None:
    """The compiled batch of phase counts (``_phases_many_py``'s signature), or None."""
    return _compile("phases_many")


def ptp_rows() -> Callable[..., bool] | None:
    """The compiled peak-to-peak per channel (``_ptp_rows_py``'s signature), or None."""
    return _compile("ptp_rows")


def centroid() -> Callable[..., float] | None:
    """The compiled energy centroid of one twitch (``_centroid_py``'s signature), or None."""
    return _compile("centroid")


def centroids() -> Callable[..., None] | None:
    """The compiled energy centroids (``_centroids_py``'s signature), or None."""
    return _compile("centroids")


def burst_features() -> Callable[..., bool] | None:
    """The compiled figures of many bursts (``_burst_features_py``'s signature), or None."""
    return _compile("burst_features")


def tail_window() -> Callable[..., bool] | None:
    """The compiled live kurtosis window (``_tail_window_py``'s signature), or None."""
    return _compile("tail_window")


def live_energy() -> Callable[..., float] | None:
    """The compiled live statistic (``_live_energy_py``'s signature), or None."""
    return _compile("live_energy")


def noise_block() -> Callable[..., bool] | None:
    """The compiled noise floor of a long block (``_noise_block_py``'s signature), or None."""
    return _compile("noise_block")


def activity() -> Callable[..., None] | None:
    """The compiled activity masks (``_activity_py``'s signature), or None."""
    return _compile("activity")


def quiet_background() -> Callable[..., tuple[int, int, int]] | None:
    """The compiled quiet-background check (``_quiet_background_py``'s signature), or None."""
    return _compile("quiet_background")


def quiet_backgrounds() -> Callable[..., None] | None:
    """The compiled quiet-background check of many potentials (``_quiet_backgrounds_py``'s
    signature), or None."""
    return _compile("quiet_backgrounds")


def fit_join() -> Callable[..., int] | None:
    """The compiled fit and join of one twitch (``_fit_join_py``'s signature), or None."""
    return _compile("fit_join")


def whiten() -> Callable[..., None] | None:
    """The compiled whitened templates and their energies (``_whiten_py``'s signature), or None."""
    return _compile("whiten")
