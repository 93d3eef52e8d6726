"""Adaptive noise floor that short bursts cannot inflate.

The band-passed signal's RMS is taken over fixed windows aligned to absolute sample
indices; the floor for a window is a low percentile of the preceding windows' RMS, so a
twitch (or even a few seconds of contraction) moves it little. Only completed windows
before a sample are used, which keeps the result independent of chunk size."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort

import numpy as np

from myotwitch.dsp import kernels

#: log-spaced bins (µV RMS) for the running noise-floor histogram used in quality reports.
_HIST_EDGES = np.logspace(-2, 5, 561)
_EDGES_LIST = _HIST_EDGES.tolist()


def percentile_rows(windows: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolated percentile along the last axis, ignoring NaN (all-NaN -> NaN).
    Written out so the same numbers come out whichever rows are batched together."""
    s = np.sort(windows, axis=-1)  # NaN sorts last
    if not np.isnan(s[..., -1]).any():  # full history everywhere: scalar positions, same arithmetic
        n = s.shape[-1]
        pos = (q / 100.0) * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        return s[..., lo] + (pos - lo) * (s[..., hi] - s[..., lo])
    count = np.sum(~np.isnan(s), axis=-1)
    pos = (q / 100.0) * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    frac = pos - lo
    a = np.take_along_axis(s, lo[..., None], axis=-1)[..., 0]
    b = np.take_along_axis(s, hi[..., None], axis=-1)[..., 0]
    out = a + frac * (b - a)
    out[count == 0] = np.nan
    return out


#: bouts of activity in a noise history (``activity_bouts``): windows over ``BOUT_LEVEL`` x the
#: floor are active; a stretch of activity ends at ``BOUT_GAP`` windows in a row that are not, and
#: it is a bout when it holds ``BOUT_LEAST`` active windows (a twitch fills one or two). Chosen on
#: the histories where the floor drops after activity (held-out seeds 123/124, real recordings):
#: a contraction or tonic bout with its slow ramp down gives one bout at any level 1.5-3x, gap
#: 3-8 windows and 2-3 windows; contractions every 2-3 s (the biceps files) give two.
BOUT_LEVEL = 2.0
BOUT_GAP = 5
BOUT_LEAST = 3


def activity_bouts(hist: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Bouts of activity in each history row (``hist`` (m, H), ``level`` (m,)): stretches of
    windows over ``level`` (NaN windows are not), parted by ``BOUT_GAP`` windows in a row under
    it, counted when they hold ``BOUT_LEAST`` active windows or more."""
    m, h = hist.shape
    with np.errstate(invalid="ignore"):
        active = hist > level[:, None]
    idx = np.arange(h)
    # the index of the last active window before each window (-BOUT_GAP - 1: none, a gap)
    last = np.maximum.accumulate(np.where(active, idx, -BOUT_GAP - 1), axis=1)
    before = np.empty_like(last)
    before[:, 0] = -BOUT_GAP - 1
    before[:, 1:] = last[:, :-1]
    start = active & (idx - before > BOUT_GAP)  # an active window after BOUT_GAP inactive ones
    seg = np.cumsum(start, axis=1)  # each active window's stretch (1, 2, ...)
    rows = np.broadcast_to(np.arange(m)[:, None], (m, h))
    counts = np.bincount((rows * (h + 1) + seg)[active], minlength=m * (h + 1)).reshape(m, h + 1)
    return np.count_nonzero(counts >= BOUT_LEAST, axis=1)


class NoiseFloor:
    """Per-channel robust noise floor (µV RMS of the band-passed signal)."""

    def __init__(self, fs: float, n_channels: int, window_s: float, history_s: float,
                 percentile: float, min_history_s: float, recent_s: float = 0.0, recent_ratio: float = 1.5,
                 recent_cap: float = 4.0, recent_bouts: int = 0, seed_ratio: float = 0.0) -> None:
        self.n_channels = n_channels
        self.win = max(1, int(round(window_s * fs)))
        self.hist_len = max(1, int(round(history_s / window_s)))
        #: the floor after activity (``_after_activity``): when the quietest of the last ``recent``
        #: windows is ``recent_ratio`` times under the history's percentile, activity has ended (or
        #: paused) while the percentile still remembers it, and the floor drops to that quietest
        #: window (but not under 1 / ``recent_cap`` of the percentile). 0 windows: the percentile only.
        self.recent = max(0, min(self.hist_len, int(round(recent_s / window_s))))
        self.recent_ratio = float(recent_ratio)
        self.recent_cap = float(recent_cap)
        #: ... unless the history holds ``recent_bouts`` separate bouts of activity or more
        #: (``activity_bouts``; 0: never withheld): activity that keeps coming back
        self.recent_bouts = int(recent_bouts)
        self.min_hist = max(1, min(self.hist_len, int(round(min_history_s / window_s))))
        #: after a gap as long as the history (``restart(forget=True)``), the first window of new
        #: data decides: on a channel where its RMS is within ``seed_ratio`` times (either way)
        #: the floor before the gap, the same skin and electrodes are back, and the history from
        #: before the gap goes on (the floor exists from that window's end, not after
        #: ``min_history_s`` of learning); elsewhere the floor is learnt again. 0: always learnt.
        self.seed_ratio = float(seed_ratio)
        self._seed: tuple[np.ndarray, int, np.ndarray] | None = None
        self.percentile = percentile
        self._partbuf = np.empty((n_channels, self.win))
        # the percentile's two positions in a full (NaN-free) history, as in percentile_rows
        pos = (percentile / 100.0) * (self.hist_len - 1)
        self._lo = int(np.floor(pos))
        self._hi = min(self._lo + 1, self.hist_len - 1)
        self._frac = pos - self._lo
        self.reset()

    def reset(self) -> None:
        self._forget()
        self._histogram = np.zeros((self.n_channels, len(_HIST_EDGES) - 1), dtype=np.int64)
        #: live windows' bins per channel, counted in plain ints and added to the array when it is
        #: read (a numpy element increment per channel and window cost more than the window)
        self._live_counts: list[list[int]] | None = None

    def _forget(self) -> None:
        """No history: the floor is learnt again (the quality figures' histogram stays)."""
        self._seed = None
        self._set_history(np.full((self.n_channels, self.hist_len), np.nan), 0)
        self._current: np.ndarray | None = None  # floor for the window being filled
        #: ... and the resting floor (``rest_at``), the same unless ``recent_bouts`` kept it up
        self._rest: np.ndarray | None = None
        #: this block's resting floors: one per stretch of the block with its own floor, and the
        #: first stretch's length (the others are a window long)
        self._block_rest: tuple[np.ndarray, int] = (np.empty((self.n_channels, 0)), 0)
        #: is the resting floor the floor itself, now (``_rest_same``) and over all of the last
        #: block (``_block_same``, then ``rest_at`` need not be asked; False when unsure)
        self._rest_same = True
        self._block_same = True
        self.restart()

    @property
    def histogram(self) -> np.ndarray:
        """Windows counted per channel and log-spaced RMS bin (``_HIST_EDGES``), so far."""
        if self._live_counts is not None:
            self._histogram += np.array(self._live_counts, dtype=np.int64)
            self._live_counts = None
        return self._histogram

    def _set_history(self, hist: np.ndarray, n_hist: int) -> None:
        self._hist = hist
        self._n_hist = n_hist
        # live blocks add one window at a time: the history is also kept sorted per channel, so
        # the percentile is an insertion away instead of a sort (None: rebuilt when next needed);
        # as lists on the pure path, as an array for the compiled step (each path drops the other's)
        self._sorted: list[list[float]] | None = None
        self._sorted_rows: np.ndarray | None = None

    def restart(self, forget: bool = False, seed: bool = True) -> None:
        """After a gap: drop the partial window but keep the history (same electrodes, same
        skin), unless the gap was as long as the history (``forget``): the floor is the
        percentile of the last ``history_s``, which then hold no data, so it is learnt again, as
        a file that starts after the gap would learn it; with ``seed`` (and ``seed_ratio``), the
        history before the gap goes on where the first window after it is like it (``_take_seed``)."""
        if forget:
            kept = None
            if seed and self.seed_ratio:
                floor = self._floor(self._hist, self._valid(self._hist))[0]
                if np.isfinite(floor).any():
                    kept = (self._hist.copy(), self._n_hist, floor)
            self._forget()
            self._seed = kept
            return
        self._m = 0  # samples of the window being filled, carried in _partbuf[:, :_m]

    def _take_seed(self) -> None:
        """The first window after a long gap is complete (the last in the history): on each
        channel where its RMS is within ``seed_ratio`` of the floor before the gap, the history
        before the gap goes on with this window after it; the others go on learning."""
        assert self._seed is not None
        old, old_n, floor = self._seed
        self._seed = None
        new = self._hist[:, -1]
        with np.errstate(invalid="ignore"):
            same = (new * self.seed_ratio >= floor) & (new <= floor * self.seed_ratio)
        if not same.any():
            return
        hist = self._hist.copy()
        hist[same, :-1] = old[same, 1:]
        self._set_history(hist, max(self._n_hist, min(old_n + 1, self.hist_len)))
        self._current, self._rest = self._floor(hist, self._valid(hist))
        self._rest_same = self._rest is self._current

    @staticmethod
    def _valid(hist: np.ndarray) -> np.ndarray:
        """Windows of data in each history (..., H): a window left out (NaN: it touched a bridged
        gap's fill while the floor was learnt) does not count toward ``min_history_s``."""
        return np.count_nonzero(~np.isnan(hist), axis=-1)

    def _floor(self, hist: np.ndarray, n_valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The floor after the history ``hist`` (..., H) and the resting floor (``_after_activity``)."""
        floors = percentile_rows(hist, self.percentile)
        floors[..., n_valid < self.min_hist] = np.nan
        return self._after_activity(floors, hist) if self.recent else (floors, floors)

    def _after_activity(self, floor: np.ndarray, hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The floor and the resting floor after the histories ``hist`` (..., H) whose percentile
        is ``floor``. Where the quietest of their last ``recent`` windows is ``recent_ratio`` times
        under it, the resting floor is that quietest window's RMS, but not under ``floor /
        recent_cap``, and so is the floor unless the history holds ``recent_bouts`` bouts of
        activity (``activity_bouts``); elsewhere (NaN in either too) both are ``floor``.
        Elementwise per history (the compiled pass does the same arithmetic)."""
        low = hist[..., self.hist_len - self.recent:].min(axis=-1)
        with np.errstate(invalid="ignore"):
            quiet = low * self.recent_ratio < floor
        if not quiet.any():
            return floor, floor
        rest = np.where(quiet, np.maximum(low, floor / self.recent_cap), floor)
        if not self.recent_bouts:
            return rest, rest
        at = np.nonzero(quiet)
        recurs = activity_bouts(hist[at], BOUT_LEVEL * floor[at]) >= self.recent_bouts
        if not recurs.any():
            return rest, rest
        kept = tuple(a[recurs] for a in at)
        out = rest.copy()
        out[kept] = floor[kept]
        return out, rest

    def level_sq(self) -> np.ndarray:
        """The floor squared per channel, ``(channels, 1)``, as a stand-in for samples that were
        not measured (a bridged gap); NaN where the floor is not known yet."""
        cur = self._current
        return np.full((self.n_channels, 1), np.nan) if cur is None else (cur ** 2)[:, None]

    @property
    def guarded(self) -> bool:
        """Can the resting floor (``rest_at``) differ from the floor?"""
        return bool(self.recent and self.recent_bouts)

    @property
    def rest_is_floor(self) -> bool:
        """Is the resting floor the floor itself over all of the last block (``rest_at`` would
        give the floor's own values, or is not kept: not ``guarded``)?"""
        return not self.guarded or self._block_same

    def rest_at(self, offsets: np.ndarray) -> np.ndarray:
        """The resting floor (channels, len(offsets)) at these samples of the last block: the
        floor lowered after activity even where activity keeps coming back (``recent_bouts``),
        which the floor is not. The level of the muscle at rest is the quiet between bouts.
        Kept up to date only while ``guarded`` (otherwise it is the floor)."""
        values, first = self._block_rest
        seg = np.maximum(offsets - first + self.win, 0) // self.win
        return values[:, seg]

    def process(self, y2: np.ndarray) -> np.ndarray:
        """``y2`` is the squared band-passed block (channels, n); returns the floor per sample.
        A block that completes the first window after a long gap (with ``seed``) is taken in two,
        at that window's end, where the floor before the gap may go on (``_take_seed``): as if
        the block had come so, which gives the same floors (the chunking does not matter)."""
        if self._seed is None or y2.shape[1] < self.win - self._m:
            return self._process(y2)
        first = self.win - self._m
        head = self._process(y2[:, :first])
        (values, start), same = self._block_rest, self._block_same
        self._take_seed()
        if y2.shape[1] == first:
            return head
        tail = self._process(y2[:, first:])
        if self.guarded:  # the resting floors of both parts (the head's second, from its end on, is the tail's)
            self._block_rest = (np.concatenate([values[:, :1], self._block_rest[0]], axis=1), start)
        self._block_same = same and self._block_same
        return np.concatenate([head, tail], axis=1)

    def _process(self, y2: np.ndarray) -> np.ndarray:
        """``process`` of a block (the floor per sample).

        The partial window's samples are carried (not their sum), so every window's sum is
        computed by the same code on the same numbers whatever the chunking: bit-exact.
        The floor is a percentile of the history, so it does not depend on the order in which
        the history is kept, and the floor of the window being filled is computed once."""
        ch, n = y2.shape
        m = self._m
        first = self.win - m
        if self._current is None:
            self._current, self._rest = self._floor(self._hist, self._valid(self._hist))
            self._rest_same = self._rest is self._current
        if n < first:
            self._block_rest = (self._rest[:, None], first)  # type: ignore[index]
            self._block_same = self._rest_same
            self._partbuf[:, m: m + n] = y2
            self._m = m + n
            out = np.empty((ch, n))
            out[...] = self._current[:, None]
            return out
        done = self._compiled_windows(y2, m)
        if done is not None:
            return done
        if n - first < self.win:  # one window completes (live blocks shorter than a window)
            buf = self._partbuf
            buf[:, m:] = y2[:, :first]
            win = self.win
            rms_l = [math.sqrt(v / win) for v in np.add.reduce(buf, axis=1).tolist()]  # as np.sqrt(sum / win)
            hist = self._hist
            srt = self._sorted
            if srt is None and self._n_hist >= self.hist_len and not np.isnan(hist).any():
                srt = self._sorted = [sorted(row) for row in hist.tolist()]
            if srt is not None:
                for row, old, r in zip(srt, hist[:, 0].tolist(), rms_l):
                    if r != r:  # a NaN window (overflow): back to the sort
                        srt = self._sorted = None
                        break
                    del row[bisect_left(row, old)]
                    insort(row, r)
            hist[:, :-1] = hist[:, 1:]
            hist[:, -1] = rms_l
            self._n_hist = min(self._n_hist + 1, self.hist_len)
            if srt is not None:  # percentile_rows' arithmetic on the same two sorted values
                lo, hi, frac = self._lo, self._hi, self._frac
                new = np.array([row[lo] + frac * (row[hi] - row[lo]) for row in srt])
            else:
                new = percentile_rows(hist, self.percentile)
            rest = new
            if self._n_hist < self.min_hist:
                new[:] = np.nan
            else:
                if srt is None:  # (a window left out, NaN, is no history)
                    new[self._valid(hist) < self.min_hist] = np.nan
                if self.recent:
                    new, rest = self._after_activity(new, hist)
            out = np.empty((ch, n))
            out[:, :first] = self._current[:, None]
            out[:, first:] = new[:, None]
            self._m = n - first
            buf[:, : self._m] = y2[:, first:]
            if self.guarded:  # (the pipeline asks for the resting floor only then)
                self._block_rest = (np.stack([self._rest, rest], axis=1), first)  # type: ignore[list-item]
            self._block_same = self._rest_same = self._rest_same and rest is new
            self._current, self._rest = new, rest
            counts = self._live_counts
            if counts is None:
                counts = self._live_counts = [[0] * (len(_EDGES_LIST) - 1) for _ in range(ch)]
            for tally, r in zip(counts, rms_l):  # the quality histogram, one window per channel
                if math.isfinite(r):
                    tally[min(max(bisect_right(_EDGES_LIST, r) - 1, 0), len(_EDGES_LIST) - 2)] += 1
            return out
        data = np.concatenate([self._partbuf[:, :m], y2], axis=1) if m else y2
        k = (m + n) // self.win
        rms = np.sqrt(data[:, : k * self.win].reshape(ch, k, self.win).sum(axis=2) / self.win)
        allh = np.concatenate([self._hist, rms], axis=1)
        # the history window ending at each of the k+1 windows this block touches: (ch, k+1, H);
        # as_strided directly (sliding_window_view's checks cost more than the work for k=1)
        s0, s1 = allh.strides
        views = np.lib.stride_tricks.as_strided(allh, (ch, k + 1, self.hist_len), (s0, s1, s1), writeable=False)
        n_valid = self._valid(views) if np.isnan(allh).any() else np.minimum(self._n_hist + np.arange(k + 1),
                                                                               self.hist_len)
        floors, rest = self._floor(views, n_valid)
        lengths = np.full(k + 1, self.win)
        lengths[0] = first
        lengths[-1] = m + n - k * self.win
        self._set_history(allh[:, -self.hist_len:].copy(), min(self._n_hist + k, self.hist_len))
        self._m = m + n - k * self.win
        self._partbuf[:, : self._m] = data[:, k * self.win:]
        self._current, self._rest = floors[:, -1], rest[:, -1]
        self._block_rest = (rest, first)
        self._rest_same = rest is floors
        self._block_same = False  # (a long block: ``rest_at`` once costs nothing)
        self._count(rms)
        return np.repeat(floors, lengths, axis=1)

    def _compiled_windows(self, y2: np.ndarray, m: int) -> np.ndarray | None:
        """The floors of a block that completes one window or more, window after window in one
        compiled pass (``kernels.noise_block``) on the history kept sorted as an array; None when
        the paths below answer (no kernel, a history not yet full or holding a NaN window), which
        then drop that sorted copy."""
        kernel = kernels.noise_block()
        if kernel is None or self._n_hist < self.hist_len:
            self._sorted_rows = None
            return None
        rows = self._sorted_rows
        if rows is None:
            if np.isnan(self._hist).any():
                return None
            rows = self._sorted_rows = np.sort(self._hist, axis=1)
        self._sorted = None
        ch, n = y2.shape
        out, last, rest = np.empty((ch, n)), np.empty(ch), np.empty((ch, (m + n) // self.win + 1))
        if not kernel(self._partbuf, y2, m, self._hist, rows, self._lo, self._hi, self._frac, self.recent,
                      self.recent_ratio, self.recent_cap, self.recent_bouts, BOUT_LEVEL, BOUT_GAP, BOUT_LEAST,
                      _HIST_EDGES, self._histogram, last, out, rest):
            self._sorted_rows = None  # a NaN window
            return None
        self._m = (m + n) % self.win
        self._current, self._rest = last, rest[:, -1]
        self._block_rest = (rest, self.win - m)
        # a live block completes one window: the resting floor is the floor when it was before
        # and is after (NaN compares unequal: unsure); longer blocks ask ``rest_at`` once
        same = self._rest.tolist() == last.tolist()
        self._block_same = self._rest_same and same and rest.shape[1] == 2
        self._rest_same = same
        return out

    def _count(self, rms: np.ndarray) -> None:
        """Add completed windows' RMS ``(ch, k)`` to the quality histogram."""
        finite = np.isfinite(rms)
        bins = np.clip(np.searchsorted(_HIST_EDGES, rms[finite], side="right") - 1, 0, len(_HIST_EDGES) - 2)
        hist = self.histogram
        nb = hist.shape[1]  # (bincount: the same counts as np.add.at, several times faster)
        hist += np.bincount(np.nonzero(finite)[0] * nb + bins, minlength=hist.size).reshape(hist.shape)

    def low_floor_uv(self, percentile: float = 10.0, hist: np.ndarray | None = None) -> np.ndarray:
        """A percentile of window RMS per channel so far (µV); a low one is the resting noise floor.
        ``hist``: of these counts instead (a part of the session: the difference of two copies of
        ``histogram``)."""
        out = np.full(self.n_channels, np.nan)
        centres = np.sqrt(_HIST_EDGES[:-1] * _HIST_EDGES[1:])
        hist = self.histogram if hist is None else hist
        for c in range(self.n_channels):
            h = hist[c]
            if h.sum():
                out[c] = centres[np.searchsorted(np.cumsum(h), h.sum() * percentile / 100)]
        return out
