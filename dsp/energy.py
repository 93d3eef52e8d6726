"""Shape-aware detection statistic: the band-passed energy over windows matched to twitch lengths.

A twitch is a bi- or triphasic wave 3-30 ms long. A threshold on a short envelope only sees
its tallest peak, so a small twitch whose peak barely clears the noise is lost although its
energy, summed over its whole length, stands far above the noise summed over the same
length. Summing the squared band-passed signal over a window as long as the twitch is the
energy detector for a wave of that length; it needs no waveform, comes within about 10 % in
amplitude of a matched filter in Gaussian noise (less close where heavy tails raise its
thresholds: ``matched.py`` covers that), and a bank of a few window lengths covers every
twitch length to within a factor of two, at the cost of one cumulative sum and one
subtraction per window.

Each window's sum is divided by ``window x floor**2`` (floor: the robust noise RMS) and by its
own threshold: the level that noise alone crosses with the same small probability per look
that a single sample crosses ``on_threshold`` x floor. The statistic is the largest of these
ratios, so ``>= 1`` means "detected", the false-alarm rate is the same for every window, and
``on_threshold`` keeps its meaning (a single-sample spike must reach it). The thresholds come
from the chi-square law of band-limited Gaussian noise with the degrees of freedom the band-pass
leaves in each window.

Background noise is not always Gaussian: a Laplacian (heavy-tailed) background makes short
windows cross a Gaussian threshold hundreds of times an hour. The squared signal's spread
grows with the kurtosis k (variance (k - 1) sigma^4 against 2 sigma^4), so a window has
2 / (k - 1) times the Gaussian degrees of freedom; ``TailWeight`` tracks k of the background
(pooled over the quietest three quarters of the recent noise windows, so twitches do not move
it) and every threshold uses those degrees of freedom, for the floor's bias too. Gaussian noise
(k = 3) is unchanged.

Windows are centred: the value at sample t needs the signal up to ``t + lead``, so the output
lags the input by ``lead`` samples. Sums are taken over integer-quantised energies (1e-3 µV²
steps) so the result is exact whatever the chunking.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import signal, stats

from myotwitch.dsp import kernels

#: energy quantum for the exact integer running sums (µV²); far below any noise floor
_QUANTUM = 1e-3
#: blocks up to this many samples compute all windows at once (live sizes; bounded memory)
_LIVE_M = 8192
_Q_MAX = float(2 ** 52)
#: the window length whose per-look false-alarm probability ``on_threshold`` sets (s)
REFERENCE_WINDOW_S = 0.003


def window_samples(fs: float, windows_ms: tuple[float, ...]) -> tuple[int, ...]:
    """Distinct window lengths in samples (at least 2) for ``windows_ms`` at ``fs``."""
    return tuple(sorted({max(2, int(round(w * fs / 1000.0))) for w in windows_ms}))


def effective_dof(sos: np.ndarray, w: int, n_impulse: int = 4096) -> float:
    """Degrees of freedom of a ``w``-sample sum of squares of white noise through ``sos``:
    (w r0)^2 / sum_ij r(i-j)^2 (two-moment chi-square match)."""
    h = signal.sosfilt(sos, np.r_[1.0, np.zeros(n_impulse - 1)])
    r = np.correlate(h, h, mode="full")[n_impulse - 1:n_impulse - 1 + w]
    r0 = r[0]
    lags = np.arange(1, w)
    var = w * r0 * r0 + 2.0 * np.sum((w - lags) * r[1:] ** 2)
    return float((w * r0) ** 2 / var)


def _bias(nu: float, percentile: float) -> float:
    """true variance / floor^2 when each noise window's power has ``nu`` degrees of freedom."""
    return float(nu / stats.chi2.ppf(percentile / 100.0, nu))


def floor_bias(sos: np.ndarray, noise_window: int, percentile: float) -> float:
    """true variance / floor^2 for Gaussian noise: the floor is a low percentile of windowed
    RMS, which sits below the true RMS by an amount set by the window's degrees of freedom."""
    return _bias(effective_dof(sos, noise_window), percentile)


#: the two-moment chi-square match still underestimates how far a heavy-tailed window sum
#: reaches, so the degrees of freedom shrink by (2 / (k - 1)) ** TAIL_EXPONENT (measured: a
#: Laplacian background at 1 kHz gives 966 false twitches/h at exponent 0, 153 at 1, 12 at 2)
TAIL_EXPONENT = 2.0
#: kurtosis values at which the thresholds are tabulated (3: Gaussian). Capped at 4.5, about a
#: band-passed Laplacian background: sparse voluntary firing drives the estimate far higher,
#: and thresholds that follow it would hide the twitches next to that activity.
KAPPA_GRID = np.round(np.arange(3.0, 4.5001, 0.05), 2)


def threshold_table(sos: np.ndarray, windows: tuple[int, ...], on_threshold: float, fs: float,
                    noise_window: int, percentile: float, kappas: np.ndarray = KAPPA_GRID) -> np.ndarray:
    """``(len(kappas), len(windows))`` thresholds on ``sum / (w floor^2)``: per window, the
    chi-square level noise alone exceeds with probability ``p_w``, times the floor's bias (true
    variance over floor^2, ``floor_bias``), with every degree of freedom (the windows' and the
    noise floor's) scaled by (2 / (kurtosis - 1)) ** TAIL_EXPONENT.

    ``p_w`` is a Gaussian sample's two-sided tail beyond ``on_threshold``, scaled by the window
    length in units of 3 ms: a window of w samples has w times fewer independent looks per hour
    than one sample, so every window and every sample rate gives the same false alarms per hour."""
    nu_floor = effective_dof(sos, noise_window)
    nus = [effective_dof(sos, w) for w in windows]
    out = np.empty((len(kappas), len(windows)))
    for i, k in enumerate(kappas):
        shrink = tail_shrink(k)
        bias = kurtosis_floor_bias(nu_floor, k, percentile)
        for j, (w, nu) in enumerate(zip(windows, nus)):
            p = look_probability(on_threshold, w, fs)
            nw = nu * shrink
            out[i, j] = bias * stats.chi2.isf(p, nw) / nw
    return out


def _row_tuples(rows: np.ndarray, last: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The columns of ``rows`` ``(channels, k)`` as tuples, one per window, the same tuple object
    for a run of equal columns (``last``, the row before them, continues into the first run).
    Rows change at few refreshes (~100 of ~2,600 windows a long block), so this builds ~100
    tuples instead of one a window: fewer objects for the garbage collector to count and
    scan (at 7,200 twitches an hour they were over half of what triggered its collections)."""
    k = rows.shape[1]
    out: list[tuple[int, ...]] = []
    if k == 0:
        return out
    starts = (np.flatnonzero((rows[:, 1:] != rows[:, :-1]).any(axis=0)) + 1).tolist()
    at = 0
    for stop in [*starts, k]:
        row = tuple(rows[:, at].tolist())
        out += [last if row == last else row] * (stop - at)
        last, at = out[-1], stop
    return out


def tail_shrink(kappa: float) -> float:
    """The factor a background of kurtosis ``kappa`` (3 or below: Gaussian) applies to every
    degree of freedom of a power estimate (``TAIL_EXPONENT``)."""
    return (2.0 / (max(float(kappa), 3.0) - 1.0)) ** TAIL_EXPONENT


def kurtosis_floor_bias(nu_floor: float, kappa: float, percentile: float) -> float:
    """True variance / floor^2 on a background of kurtosis ``kappa``, the floor's windows
    holding ``nu_floor`` degrees of freedom in Gaussian noise."""
    return _bias(nu_floor * tail_shrink(kappa), percentile)


def look_probability(on_threshold: float, n: int, fs: float) -> float:
    """The false-alarm probability allowed per look spanning ``n`` samples: a Gaussian sample's
    two-sided tail beyond ``on_threshold``, scaled by the look's length in units of
    ``REFERENCE_WINDOW_S`` (n samples give n times fewer independent looks per hour), so every
    look and every sample rate gives the same false alarms per hour (at most 0.1)."""
    return min(2.0 * stats.norm.sf(on_threshold) * n / (REFERENCE_WINDOW_S * fs), 0.1)


#: the kurtosis is refreshed every this many windows (0.5 s at 100 ms): the background's tails
#: change slowly, and a refresh costs tens of µs per channel
UPDATE_WINDOWS = 5

#: until this many windows of background are seen (1 s at the default 100 ms), the thresholds
#: assume the heaviest tails tabulated: the first second after a start or a gap is not enough
#: to tell a heavy-tailed background from a Gaussian one
MIN_WINDOWS = 10


class TailWeight:
    """Running kurtosis of the background per channel, pooled over the quietest three quarters
    (by power) of the last ``history`` complete windows of ``window`` samples (counted from the
    segment start), so the windows holding twitches do not count; never below 3. Sparse
    voluntary firing in most windows raises it (up to the cap), and with it the thresholds. ``grid_rows``
    maps segment samples to the row of ``KAPPA_GRID`` in force there (from windows completed
    before the sample's window only, so the answer does not depend on block sizes)."""

    def __init__(self, n_channels: int, window: int, history: int) -> None:
        self.n_channels, self.window, self.history = n_channels, window, history
        self._index_cache: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._last_end = np.array([history - 1], dtype=np.int64)  # a live refresh's one history, for the kernel
        self.reset()

    def reset(self) -> None:
        # squares of the window being filled in the first _m columns of _part[0] (_part[1]: room
        # for their squares, so both sums of a live window are one reduction)
        self._part = np.empty((2, self.n_channels, self.window))
        self._m = 0
        self._done = 0  # complete windows so far
        # per past window: sum y^2 and sum y^4 (rows 0 and 1), the last ``history`` of them at the
        # end of the first _n_sums columns (twice the room, so a live window is appended in place)
        self._sums = np.empty((2, self.n_channels, 2 * self.history))
        self._n_sums = 0
        # KAPPA_GRID rows (one per channel) in force from window index _base + i on (at the
        # start: the cautious one)
        self._rows: list[tuple[int, ...]] = [(len(KAPPA_GRID) - 1,) * self.n_channels]
        self._base = 0
        #: the rows the last long block added, ``(list position of the first, (channels, k))``
        self._pushed: tuple[int, np.ndarray] | None = None

    def push(self, y2: np.ndarray) -> None:
        """``y2``: the squared band-passed block (channels, n)."""
        m, n, win = self._m, y2.shape[1], self.window
        if m + n < win:  # no window completes (live blocks shorter than a window)
            self._part[0, :, m: m + n] = y2
            self._m = m + n
            return
        h = self.history
        refresh = (self._done + 1) % UPDATE_WINDOWS == 0
        if m + n < 2 * win and (not refresh or self._n_sums >= h - 1):  # one completes, full history
            part = self._part
            first = win - m
            kernel = kernels.tail_window()
            if kernel is not None:  # the same sums, appended in place, in one compiled pass
                at = self._room(1)
                done = kernel(part, y2, m, self._sums, at)
                if done:
                    self._n_sums = at + 1
            else:
                part[0, :, m:] = y2[:, :first]
                np.multiply(part[0], part[0], out=part[1])
                sums = np.add.reduce(part, axis=2)  # (2, channels): sum y^2, sum y^4
                done = sums[0, 0] == sums[0, 0]  # (a NaN window, an overflow, takes the general path)
                if done:
                    self._append_sums(sums[:, :, None])
            if done:
                row = self._rows[-1]
                if refresh:  # from the last ``history`` windows, this one included
                    row = self._refreshed_last()
                self._rows.append(row)
                self._done += 1
                self._m = m + n - win
                if kernel is None:  # (the kernel has started the next window)
                    part[0, :, : self._m] = y2[:, first:]
                return
        data = np.concatenate([self._part[0, :, :m], y2], axis=1) if m else y2
        k = data.shape[1] // win
        self._m = data.shape[1] - k * win
        self._part[0, :, : self._m] = data[:, k * win:]
        sums = kernels.window_sums()
        if sums is not None:  # the same sums in one pass (dsp/kernels.py)
            new2, new4 = np.empty((self.n_channels, k)), np.empty((self.n_channels, k))
            sums(np.ascontiguousarray(data), k, win, new2, new4)
        else:
            w2 = data[:, : k * win].reshape(self.n_channels, k, win)
            new2, new4 = w2.sum(axis=2), (w2 * w2).sum(axis=2)
        old2, old4 = self._sums[:, :, max(self._n_sums - (h - 1), 0) if h > 1 else self._n_sums: self._n_sums]
        # every new window's history at once: (channels, k, history), NaN where none yet
        pad = np.full((self.n_channels, h - 1 - old2.shape[1]), np.nan)
        all2 = np.concatenate([pad, old2, new2], axis=1)
        all4 = np.concatenate([pad, old4, new4], axis=1)
        # the estimate is refreshed every UPDATE_WINDOWS windows (counted from the segment start,
        # so the same windows whatever the block sizes); the row in between carries over
        idx = np.arange(self._done + 1, self._done + k + 1)  # row index each new window sets
        upd = np.flatnonzero(idx % UPDATE_WINDOWS == 0)
        rows = np.empty((self.n_channels, k), dtype=np.intp)
        last = np.array(self._rows[-1], dtype=np.intp)
        if upd.size:
            ends = upd + all2.shape[1] - k  # column (in all2) of each updating window
            rows_kernel = kernels.kurtosis_rows()
            if rows_kernel is not None:  # the same rows, history by history (dsp/kernels.py)
                fresh = np.empty((self.n_channels, upd.size), dtype=np.intp)
                rows_kernel(all2, all4, ends.astype(np.int64), h, self.window, float(KAPPA_GRID[-1]),
                            len(KAPPA_GRID) - 1, MIN_WINDOWS, fresh)
            else:
                cols = ends[:, None] + np.arange(-h + 1, 1)[None, :]  # (u, h) history columns
                fresh = self._refreshed(all2[:, cols], all4[:, cols])
            # each new window takes the latest refresh at or before it
            which = np.searchsorted(upd, np.arange(k), side="right") - 1
            rows[:] = np.where(which >= 0, fresh[:, np.maximum(which, 0)], last[:, None])
        else:
            rows[:] = last[:, None]
        self._pushed = (len(self._rows), rows)  # (its first list position, before _forget moves it)
        self._rows.extend(_row_tuples(rows, self._rows[-1]))  # one per window, in force from _done + 1 on
        self._done += k
        kept = ~np.isnan(all2[0, -h:])
        self._n_sums = 0
        self._append_sums(np.array((all2[:, -h:][:, kept], all4[:, -h:][:, kept])))

    def _refreshed_last(self) -> tuple[int, ...]:
        """The rows (one per channel) from the last ``history`` windows' sums (a live refresh:
        the compiled refresh when there is one, the same rows as ``_refreshed``)."""
        n, h = self._n_sums, self.history
        rows_kernel = kernels.kurtosis_rows()
        if rows_kernel is None:
            last = self._sums[:, :, None, n - h: n]  # (2, channels, 1, h)
            return tuple(self._refreshed(last[0], last[1])[:, 0].tolist())
        fresh = np.empty((self.n_channels, 1), dtype=np.intp)
        rows_kernel(np.ascontiguousarray(self._sums[0, :, n - h: n]), np.ascontiguousarray(self._sums[1, :, n - h: n]),
                    self._last_end, h, self.window, float(KAPPA_GRID[-1]), len(KAPPA_GRID) - 1, MIN_WINDOWS, fresh)
        return tuple(fresh[:, 0].tolist())

    def _refreshed(self, win2: np.ndarray, win4: np.ndarray) -> np.ndarray:
        """The KAPPA_GRID rows ``(channels, u)`` from ``u`` histories of window sums
        ``(channels, u, history)`` (NaN: no window yet). (Live, this runs every fifth window
        on a single history: methods and ufuncs rather than numpy's Python-level wrappers.)"""
        order = win2.argsort(axis=2, kind="stable")  # NaN (no window yet) sorts last
        ch, u = self._grid_index(win2.shape[:2])
        s2, s4 = win2[ch, u, order], win4[ch, u, order]
        last = np.maximum.reduce(s2[..., -1], axis=None)
        full = last == last  # else some history is not full (NaN propagates through the maximum)
        if not full:
            n_win = np.sum(~np.isnan(win2), axis=2)
            keep = np.maximum(1, (3 * n_win) // 4)
            take = np.arange(self.history) < keep[..., None]
            s2, s4 = np.where(take, s2, 0.0), np.where(take, s4, 0.0)
        else:  # full histories (nearly always): the same sums over the same zeros, fewer steps
            n_win = self.history
            keep = max(1, (3 * self.history) // 4)
            s2[..., keep:] = 0.0
            s4[..., keep:] = 0.0
        a2, a4 = np.add.reduce(s2, axis=2), np.add.reduce(s4, axis=2)
        d = a2 * a2
        if np.minimum.reduce(d, axis=None) > 0:
            kap = keep * self.window * a4 / d
        else:  # no power (a flat trace): 3 below
            with np.errstate(invalid="ignore", divide="ignore"):
                kap = keep * self.window * a4 / d
        if not math.isfinite(np.add.reduce(kap, axis=None)):  # (a finite sum: every term finite)
            kap[~np.isfinite(kap)] = 3.0
        # clipped to the grid (no NaN here: as np.clip)
        fresh = np.rint((np.minimum(np.maximum(kap, 3.0), KAPPA_GRID[-1]) - 3.0) / 0.05).astype(np.intp)
        if not full or self.history < MIN_WINDOWS:  # too little background seen: the cautious row
            fresh[n_win < MIN_WINDOWS] = len(KAPPA_GRID) - 1
        return fresh

    def _grid_index(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Channel and history indices broadcasting against ``(channels, u, history)`` (kept:
        live refreshes repeat one shape)."""
        got = self._index_cache.get(shape)
        if got is None:
            got = (np.arange(shape[0])[:, None, None], np.arange(shape[1])[:, None])
            if len(self._index_cache) >= 16:
                self._index_cache.clear()
            self._index_cache[shape] = got
        return got

    def _append_sums(self, sums: np.ndarray) -> None:
        """Add ``j <= history`` windows' sums, ``(2, channels, j)`` (sum y^2, sum y^4)."""
        j = sums.shape[2]
        n = self._room(j)
        self._sums[:, :, n: n + j] = sums
        self._n_sums = n + j

    def _room(self, j: int) -> int:
        """Where ``j <= history`` more windows' sums go: after the kept ones, which move to the
        front when the buffer is out of room (the last history - j of them; ``_n_sums`` follows)."""
        n, h = self._n_sums, self.history
        if n + j > 2 * h:
            keep = max(h - j, 0)
            self._sums[:, :, :keep] = self._sums[:, :, n - keep: n]
            n = self._n_sums = keep
        return n

    def _forget(self, t0: int) -> None:
        drop = (t0 // self.window) - self._base  # rows before the first window asked for
        if drop > 64:
            del self._rows[:drop]
            self._base += drop
            if self._pushed is not None:
                at = self._pushed[0] - drop
                keep = self._pushed[1][:, max(-at, 0):]
                self._pushed = (max(at, 0), keep) if keep.shape[1] else None

    def grid_rows(self, t0: int, m: int) -> np.ndarray:
        """``(channels, m)`` KAPPA_GRID rows for segment samples t0 .. t0 + m - 1 (asked for
        in increasing order)."""
        runs, lengths = self.grid_runs(t0, m)
        return np.repeat(runs, lengths, axis=1)

    def grid_runs(self, t0: int, m: int) -> tuple[np.ndarray, np.ndarray]:
        """``grid_rows`` as runs: the rows ``(channels, runs)`` and how many samples each holds
        (a row holds for a whole window, so a long block needs a few thousand, not m)."""
        w = self.window
        first, last = t0 // w, (t0 + m - 1) // w
        if m <= 0:
            runs, lengths = np.zeros((self.n_channels, 0), dtype=np.intp), np.zeros(0, dtype=np.intp)
        else:
            starts = np.arange(first, last + 1) * w  # of the windows the block touches
            starts[0] = t0
            lengths = np.diff(starts, append=t0 + m)
            j = np.minimum(np.arange(first, last + 1), self._done) - self._base  # none beyond the last done
            lo, hi = int(j[0]), int(j[-1]) + 1
            pushed = self._pushed
            if pushed is not None and pushed[0] < hi <= pushed[0] + pushed[1].shape[1]:
                # the rows a long block pushed, as the array they came from (the same numbers as
                # the list holds; converting a few thousand tuples back costs more than the rest)
                at, arr = pushed[0], pushed[1]
                if lo >= at:
                    runs = arr[:, j - at]
                else:
                    head = np.array(self._rows[lo: at], dtype=np.intp).T
                    runs = np.concatenate([head, arr[:, : hi - at]], axis=1)[:, j - lo]
            else:
                runs = np.array(self._rows[lo: hi], dtype=np.intp).T[:, j - lo]
        self._forget(t0)
        return runs, lengths

    def block_rows(self, t0: int, m: int) -> tuple[int, ...] | None:
        """The rows (one per channel) in force for all of segment samples t0 .. t0 + m - 1 when
        they are the same throughout (a live block nearly always), else None."""
        j0 = min(t0 // self.window, self._done) - self._base
        j1 = min((t0 + m - 1) // self.window, self._done) - self._base
        rows = self._rows
        r0 = rows[j0]
        for j in range(j0 + 1, j1 + 1):  # (a live block spans one or two windows)
            if rows[j] != r0:
                return None
        self._forget(t0)
        return r0


class MultiScaleEnergy:
    """Streaming detection statistic for ``(channels, n)`` blocks of the band-passed signal.

    ``process(y, floor)`` returns the statistic for the samples ``lead`` behind the input
    (the first call returns ``n - lead`` values); ``drain()`` returns the held ``lead`` samples
    at a gap or the end of data, with the missing future taken as silence."""

    def __init__(self, n_channels: int, windows: tuple[int, ...], thresholds: np.ndarray,
                 tail: TailWeight | None = None, matched=None) -> None:
        """``thresholds``: one per window, or a ``(len(KAPPA_GRID), len(windows))`` table used
        with ``tail`` (the background's kurtosis picks the row). ``matched``: a
        ``matched.MatchedBank`` whose twitch-shape filters lift the statistic near candidates."""
        self.matched = matched
        self.n_channels = n_channels
        self.windows = windows
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        if self.thresholds.ndim == 1:
            self.thresholds = self.thresholds[None, :]
        self.tail = tail if self.thresholds.shape[0] > 1 else None
        self.lead = max(windows) // 2
        self.back = max(windows) - self.lead  # samples of history each centred window may need
        # 1 / (w * threshold) per kurtosis row and window: the scale applied to each window's sum
        self._scale = _QUANTUM / (np.asarray(windows, dtype=np.float64)[None, :] * self.thresholds)
        self._windows = np.array(windows, dtype=np.int64)  # (for the compiled statistic)
        self._bounds_cache: dict[tuple[int, int, int], np.ndarray] = {}
        self._scale_cache: dict[tuple[int, ...], np.ndarray] = {}
        self._gate_cache: dict[tuple[int, ...], float] = {}
        self._steady_cache: dict[tuple[tuple[int, ...], int], tuple[np.ndarray, np.ndarray]] = {}
        self.reset()

    def reset(self) -> None:
        """Start of a contiguous stretch: no history, no held samples."""
        # quantised energy: one column before the history (zero at the segment start: silence),
        # then the history and the held samples; the column in front makes the cumulative sums'
        # leading zero (or a constant offset, which the window sums' differences cancel)
        self._q = np.zeros((self.n_channels, 1), dtype=np.int64)
        self._ys = np.zeros((self.n_channels, 0))  # the signal (for ``matched``), the same columns
        self._floor = np.zeros((self.n_channels, 0))  # floor for the held samples
        self._hist = 0  # how many columns of _q are history before the held samples
        self._emitted = 0  # samples emitted since the segment start
        if self.tail is not None:
            self.tail.reset()

    def process(self, y2: np.ndarray, floor: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """``y2``: the squared band-passed block (channels, n); ``floor``: its noise floor; ``y``:
        the block itself (needed with ``matched``: its filters read the signal, not its square)."""
        if self.matched is not None and (y is None or y.shape != y2.shape):
            raise ValueError("MultiScaleEnergy with matched filters needs the block itself beside its square")
        if self.tail is not None:
            self.tail.push(y2)
        # the same integers and running sums in one compiled pass: six calls fewer on a live block,
        # five passes over memory fewer on a long one
        kernel = kernels.quantised_sums()
        if kernel is not None:
            h, n = self._q.shape[1], y2.shape[1]
            live = kernels.live_energy() if self.matched is not None else None
            if live is not None:  # a live block: the energies, the kept rows and the statistic in one call
                m = h + n - 1 - self._hist - self.lead  # (as _emit works it out)
                if 0 < m <= _LIVE_M:
                    rows = (0,) if self.tail is None else self.tail.block_rows(self._emitted, m)
                    if rows is not None:
                        C = self.n_channels
                        q, ys = np.empty((C, h + n), dtype=np.int64), np.empty((C, self._ys.shape[1] + n))
                        fl = np.empty((C, self._floor.shape[1] + n))
                        stat, f2 = np.empty((C, m)), np.empty((C, m))
                        scale3, run_len = self._steady_scale(rows, m)
                        top = live(self._q, y2, 1.0 / _QUANTUM, _Q_MAX, self._ys, y, self._floor, floor, self._hist, m,
                                   self._windows, scale3, run_len, q, ys, fl, stat, f2)
                        return self._finish(stat, f2, q, ys, fl, self._hist, m, False,
                                            (None if self.tail is None else rows,), rows, top)
            q, c = np.empty((self.n_channels, h + n), dtype=np.int64), np.empty((self.n_channels, h + n), dtype=np.int64)
            kernel(self._q, y2, 1.0 / _QUANTUM, _Q_MAX, q, c)
            return self._emit(q, floor, final=False, y_new=y, summed=c)
        # beyond 2**52 quanta (a 2 V swing) the energy is capped: the cast stays defined
        q = y2 * (1.0 / _QUANTUM)  # (in place after this: long offline blocks spare two temporaries)
        np.minimum(q, _Q_MAX, out=q)
        q = np.rint(q, out=q).astype(np.int64)
        return self._emit(q, floor, final=False, y_new=y)

    def drain(self) -> np.ndarray:
        out = self._emit(np.zeros((self.n_channels, 0), dtype=np.int64), np.zeros((self.n_channels, 0)), final=True)
        self.reset()
        return out

    def _bounds(self, h: int, m: int, width: int) -> np.ndarray:
        """Window ends and starts (clipped at the segment start: silence before it), ``(2,
        channels, windows, m)``, for emitting ``m`` samples after ``h`` of history, as flat
        indices into the C-contiguous ``(channels, width)`` cumulative sums (one ``take`` costs
        less than indexing by row and column); live blocks repeat the same few ``(h, m,
        width)``, so they are kept."""
        got = self._bounds_cache.get((h, m, width))
        if got is None:
            a = np.arange(h, h + m)[None, :] - np.array([w // 2 for w in self.windows])[:, None]
            rows = (np.arange(self.n_channels) * width)[:, None, None]
            got = np.array((a + np.array(self.windows)[:, None] + rows, np.maximum(a, 0) + rows))
            if len(self._bounds_cache) >= 16:
                self._bounds_cache.clear()
            self._bounds_cache[(h, m, width)] = got
        return got

    @staticmethod
    def _rows_at(rows: tuple[int, ...] | np.ndarray | None,
                 lengths: np.ndarray | None = None) -> Callable[[np.ndarray, np.ndarray], np.ndarray | None]:
        """``rows_at(ch, col)`` for the matched bank: the ``KAPPA_GRID`` rows of a few of the
        samples being emitted, from the rows in force: None (no kurtosis tracking: the Gaussian
        row), one per channel throughout, ``(channels, m)`` per sample, or ``(channels, runs)``
        holding for ``lengths`` samples each."""
        if rows is None:
            return lambda ch, col: None
        if isinstance(rows, tuple):
            return lambda ch, col: np.array(rows, dtype=np.intp)[ch]
        if lengths is None:
            return lambda ch, col: rows[ch, col]
        starts = np.cumsum(lengths) - lengths
        return lambda ch, col: rows[ch, np.searchsorted(starts, col, side="right") - 1]

    @staticmethod
    def _steady_rows(rows: tuple[int, ...] | np.ndarray | None, n_channels: int) -> tuple[int, ...] | None:
        """The rows in force (as ``_rows_at`` reads them) when one per channel holds for the
        whole block, the Gaussian row when there is no kurtosis tracking; None when they change
        within it."""
        if rows is None:
            return (0,) * n_channels
        if isinstance(rows, tuple) and len(rows) == n_channels:
            return rows
        return None

    def _lowest_gate(self, rows: tuple[int, ...] | np.ndarray) -> float:
        """The matched bank's lowest gate among the rows in force (kept per tuple of rows)."""
        if not isinstance(rows, tuple):
            return self.matched.lowest_gate(rows)
        got = self._gate_cache.get(rows)
        if got is None:
            got = self._gate_cache[rows] = self.matched.lowest_gate(rows)
            if len(self._gate_cache) > 64:
                self._gate_cache.clear()
        return got

    def _block_scale(self, m: int) -> tuple[np.ndarray, tuple[int, ...] | np.ndarray]:
        """The scale of each window's sum for the next ``m`` samples, ``(channels, windows, m)``
        or, when the kurtosis rows hold for the whole block, ``(channels, windows, 1)``; and the
        rows in force (a tuple, one per channel, or an array)."""
        if self.tail is None:
            return self._scale[0][:, None], (0,)
        rows = self.tail.block_rows(self._emitted, m)
        if rows is None:
            grid = self.tail.grid_rows(self._emitted, m)
            return self._scale[grid].transpose(0, 2, 1), grid
        got = self._scale_cache.get(rows)
        if got is None:
            got = self._scale[list(rows)][:, :, None]
            if len(self._scale_cache) >= 64:
                self._scale_cache.clear()
            self._scale_cache[rows] = got
        return got, rows

    def _steady_scale(self, rows: tuple[int, ...], m: int) -> tuple[np.ndarray, np.ndarray]:
        """The compiled statistic's scales ``(channels, 1, windows)`` for kurtosis ``rows`` in
        force over a whole block of ``m`` samples, and its one run length (kept: live blocks
        repeat both)."""
        key = (rows, m)
        got = self._steady_cache.get(key)
        if got is None:
            per_channel = rows if len(rows) == self.n_channels else rows * self.n_channels
            got = (np.ascontiguousarray(self._scale[list(per_channel)][:, None, :]), np.array([m], dtype=np.int64))
            if len(self._steady_cache) >= 64:
                self._steady_cache.clear()
            self._steady_cache[key] = got
        return got

    def _compiled_stat(self, kernel: Callable[..., None], c: np.ndarray, h: int, m: int, scale3: np.ndarray,
                       run_len: np.ndarray, fl: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """The statistic, the floor squared and the statistic's largest value (at least 0) for
        ``m`` samples by the compiled kernel (``kernels.window_stat``), from the cumulative sums
        ``c`` and the scales in runs."""
        stat, f2, top = np.empty((self.n_channels, m)), np.empty((self.n_channels, m)), np.empty(1)
        kernel(c, h, m, self._windows, scale3, run_len, np.ascontiguousarray(fl), stat, f2, top)
        return stat, f2, float(top[0])

    def _emit(self, q_new: np.ndarray, floor_new: np.ndarray, final: bool,
              y_new: np.ndarray | None = None, summed: np.ndarray | None = None) -> np.ndarray:
        """``q_new``: the new integer energies; with ``summed`` (their running sums), ``q_new``
        already holds the kept ones in front (``kernels.quantised_sums``)."""
        q = q_new if summed is not None else np.concatenate([self._q, q_new], axis=1)
        ys = None
        if self.matched is not None:
            if y_new is None:  # drain: no new samples
                y_new = np.zeros((self.n_channels, 0))
            ys = np.concatenate([self._ys, y_new], axis=1)  # a copy: the caller's block may be reused
        fl = np.concatenate([self._floor, floor_new], axis=1) if self._floor.shape[1] else floor_new
        h = self._hist
        held = q.shape[1] - 1 - h  # samples not yet emitted
        m = held if final else max(held - self.lead, 0)  # samples we can emit now
        if final and self.lead:
            q = np.concatenate([q, np.zeros((self.n_channels, self.lead), dtype=np.int64)], axis=1)
        # cumulative sums: c[k] - c[0] = the sum of the k samples after the column in front (int64,
        # exact; wraps harmlessly). (np.cumsum's wrapper costs more than the sums.)
        c = summed if summed is not None and not final else np.add.accumulate(q, axis=1)
        if 0 < m <= _LIVE_M:  # live blocks: every window at once, (channels, windows, m)
            kernel = kernels.window_stat(len(self.windows))
            if kernel is not None:  # one row per channel throughout (nearly always): one pass
                held_rows = (0,) if self.tail is None else self.tail.block_rows(self._emitted, m)
                if held_rows is not None:
                    stat, f2, top = self._compiled_stat(kernel, c, h, m, *self._steady_scale(held_rows, m), fl)
                    return self._finish(stat, f2, q, ys, fl, h, m, final,
                                        (None if self.tail is None else held_rows,), held_rows, top)
            scale, in_force = self._block_scale(m)
            rows_at: tuple = (None if self.tail is None else in_force,)
            ends = c.take(self._bounds(h, m, c.shape[1]))
            # int64 -> float64, then scaled: as astype then *; the same maximum as window by
            # window from zero
            # (the ufuncs' reduce, as every per-block reduction here: the ndarray methods add a
            # Python wrapper that costs more than the work on a live block)
            stat = np.maximum.reduce(np.multiply(np.subtract(ends[0], ends[1]), scale), axis=1, initial=0.0)
        else:  # long blocks: window by window (bounded memory); the windows are slices of c
            runs = self.tail.grid_runs(self._emitted, m) if self.tail is not None else None
            in_force = (0,) if runs is None else runs[0]
            rows_at = (None,) if runs is None else runs
            kernel = kernels.window_stat(len(self.windows)) if m else None
            if kernel is not None:  # the same numbers in one pass (dsp/kernels.py)
                scale3, run_len = (self._steady_scale((0,), m) if runs is None
                                   else (self._scale[runs[0]], np.asarray(runs[1], dtype=np.int64)))
                stat, f2, top = self._compiled_stat(kernel, c, h, m, scale3, run_len, fl)
                return self._finish(stat, f2, q, ys, fl, h, m, final, rows_at, in_force, top)
            # one kurtosis row per channel throughout (nearly always): a column of scales
            steady = runs is None or bool((runs[0] == runs[0][:, :1]).all())
            stat = np.empty((self.n_channels, m))
            diff = np.empty((self.n_channels, m), dtype=np.int64)
            s = np.empty((self.n_channels, m))
            for j, w in enumerate(self.windows):
                a = h - w // 2  # window start for the first sample emitted
                k = min(max(-a, 0), m)  # windows reaching before the segment start see silence there
                np.subtract(c[:, a + w + k: a + w + m], c[:, a + k: a + m], out=diff[:, k:])
                np.subtract(c[:, a + w: a + w + k], c[:, :1], out=diff[:, :k])
                if runs is None:
                    scale = self._scale[0, j]
                elif steady:
                    scale = self._scale[runs[0][:, :1], j]
                else:
                    scale = np.repeat(self._scale[runs[0], j], runs[1], axis=1)
                # int64 -> float64, then scaled: as astype then *. Every product is >= +0.0, so
                # the first window's stand in for the maximum from zero
                np.multiply(diff, scale, out=s if j else stat)
                if j:
                    np.maximum(stat, s, out=stat)
        f = fl[:, :m]
        f2 = f * f
        if not m or np.minimum.reduce(f2, axis=None) > 0:  # the floor is known everywhere (nearly every block)
            stat /= f2
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                stat /= f2
            stat[~(f > 0)] = 0.0  # floor not known yet (settling) or a digitally flat trace
        return self._finish(stat, f2, q, ys, fl, h, m, final, rows_at, in_force)

    def _finish(self, stat: np.ndarray, f2: np.ndarray, q: np.ndarray, ys: np.ndarray | None, fl: np.ndarray,
                h: int, m: int, final: bool, rows_at: tuple, in_force: tuple[int, ...] | np.ndarray,
                top: float | None = None) -> np.ndarray:
        """The matched bank's lift, then what the next block keeps (``rows_at``: ``_rows_at``'s
        arguments, built only for a block the lift may touch; ``top``: the statistic's largest
        value when the compiled statistic has it, so a quiet block skips the lift outright)."""
        if ys is not None and m:
            gate = self._lowest_gate(in_force)
            if top is None or top >= gate:  # (raise_stat itself returns at once below the gate)
                self.matched.raise_stat(stat, ys, h, self._rows_at(*rows_at), f2, gate, top,
                                        self._steady_rows(rows_at[0], self.n_channels))
        # keep: the last `back` emitted samples' energies as history, and everything not emitted
        keep_from = max(h + m - self.back, 0)
        self._emitted += m
        if not final:
            self._q = q[:, keep_from:]
            if ys is not None:
                self._ys = ys[:, keep_from:]
            self._floor = fl[:, m:]
            self._hist = h + m - keep_from
        return stat
