"""Matched filters for twitch shapes: the sensitivity the energy windows leave on the table.

An energy window sums every degree of freedom in its span, the noise's as well as the
twitch's; a filter matched to the twitch's shape keeps one. At the false-alarm rates a night
of recording needs that is worth about a quarter in amplitude: a twitch at 8-10x the noise
RMS that no energy window lifts over its threshold stands clear of it after the right
matched filter. A twitch is a bi- or triphasic wave, so the bank holds the first- and
second-order Hermite-Rodriguez functions (the shapes of a motor-unit potential) at a few
lengths, band-passed like the signal and normalised; each is held to the per-look
false-alarm probability of one Gaussian sample beyond its own threshold (looks counted as for
the energy windows), its output's variance on band-passed noise and the background's kurtosis
(what of it survives the filter, widening the tails as ``energy.TAIL_EXPONENT`` does) taken
into account. A heavy-tailed background raises the energy windows' thresholds far more than
a filter's, whose output averages many samples: there the filters find what the windows miss.

A matched filter also answers less to what is not twitch-shaped: a single-sample impulse
fills a short energy window but correlates with a 5-30 ms wave only in part.

The bank runs only where the energy statistic already reaches ``gate``: by Cauchy-Schwarz a
filter's output squared is at most the energy under its support, and the smallest energy
window that covers that support, centred on the same sample, holds all of it; so where the
energy statistic is below the gate no filter can cross its threshold, and the bank costs time
only near candidates. The correlation is done on integers (the signal quantised to 1e-3 µV,
the taps to 2**-15, every sum below 2**53 so float64 holds it exactly), so the result is
exact whatever the chunking.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import signal, stats

from myotwitch.dsp import kernels
from myotwitch.dsp.energy import (
    KAPPA_GRID,
    TAIL_EXPONENT,
    effective_dof,
    kurtosis_floor_bias,
    look_probability,
)

#: the signal's quantum for the integer correlation (µV), as the energy sums use for y^2
Y_QUANTUM = 1e-3
#: the taps' quantum (a unit-norm template's taps are below 1)
TAP_SCALE = 2.0 ** 15


def hermite_rodriguez(t: np.ndarray, lam: float, order: int) -> np.ndarray:
    """First- (biphasic) or second-order (triphasic) Hermite-Rodriguez function, peak |value| 1."""
    u = t / lam
    g = np.exp(-u * u)
    if order == 1:
        return u * g / (math.sqrt(0.5) * math.exp(-0.5))
    return (1.0 - 2.0 * u * u) * g


def bandpassed_shape(sos: np.ndarray, fs: float, d_ms: float, order: int, tail: int | None = None) -> np.ndarray:
    """A Hermite-Rodriguez twitch of ``d_ms`` support (5 lambda) sampled at ``fs`` and passed
    through the band-pass ``sos``, followed by ``tail`` samples of its ringing (default: twice
    its half-length)."""
    d = d_ms / 1000.0
    half = max(1, int(math.ceil(d * fs)))
    t = np.arange(-half, half + 1) / fs
    return signal.sosfilt(sos, np.concatenate([hermite_rodriguez(t, d / 5.0, order),
                                               np.zeros(half * 2 if tail is None else tail)]))


def templates(sos: np.ndarray, fs: float, lengths_ms: tuple[float, ...], max_len: int) -> list[tuple[int, np.ndarray]]:
    """Band-passed, unit-norm twitch shapes with their orders: 1 (biphasic) and 2 (triphasic) at
    each length (the wave's support, 5 lambda), each cut to the span holding its energy (at
    most ``max_len`` samples)."""
    out = []
    for order in (1, 2):
        for d_ms in lengths_ms:
            w = bandpassed_shape(sos, fs, d_ms, order)
            e = np.cumsum(w * w) / np.sum(w * w)
            a, b = int(np.searchsorted(e, 0.005)), int(np.searchsorted(e, 0.995)) + 1
            if b - a > max_len:  # keep the most energetic max_len samples
                c = np.cumsum(np.r_[0.0, w * w])
                a = int(np.argmax(c[max_len:] - c[:-max_len]))
                b = a + max_len
            w = w[a:b]
            if len(w) >= 2:
                out.append((order, w / np.linalg.norm(w)))
    return out


def noise_through(sos: np.ndarray, h: np.ndarray, n: int = 4096) -> tuple[float, float]:
    """What the filter ``h`` makes of band-passed white noise: its output's variance in units
    of the band-passed noise's (not 1: the band-pass colours the noise a template sees), and
    the share of the band-passed noise's excess kurtosis that survives it (white noise of
    excess e gives e * sum(g^4) / sum(g^2)^2 through an impulse response g)."""
    b = signal.sosfilt(sos, np.r_[1.0, np.zeros(n - 1)])
    g = np.convolve(b, h[::-1])

    def flat(v: np.ndarray) -> float:
        return float(np.sum(v ** 4) / np.sum(v * v) ** 2)
    return float(np.sum(g * g) / np.sum(b * b)), flat(g) / flat(b)


class MatchedBank:
    """The twitch-shape filters for one design, with their thresholds per ``KAPPA_GRID`` row.

    ``raise_stat`` takes the energy statistic of the samples being emitted and, where it is
    under 1 but a filter's ratio reaches 1, sets it to minus that ratio: strong, and marked as
    found by its shape alone (``bursts.Burst.shape_only``)."""

    def __init__(self, sos: np.ndarray, fs: float, lengths_ms: tuple[float, ...],
                 on_threshold: float | tuple[float, float], windows: tuple[int, ...], energy_table: np.ndarray,
                 noise_window: int, percentile: float) -> None:
        """``on_threshold``: one for every shape, or (biphasic, triphasic)."""
        shaped = templates(sos, fs, lengths_ms, max(windows))
        self.taps = [h for _, h in shaped]
        both = on_threshold if isinstance(on_threshold, tuple) else (on_threshold, on_threshold)
        on = [both[order - 1] for order, _ in shaped]  # each template's threshold
        k = len(self.taps)
        self.lens = np.array([len(h) for h in self.taps])
        self.halves = self.lens // 2  # a template centred on c spans [c - half, c - half + len)
        width = int(self.lens.max())
        self.width, self.reach = width, int(self.halves.max())
        # all taps in one (width, k) integer matrix, each template left-aligned to its own start
        self.offsets = np.arange(width) - self.reach  # gather offsets around the centre
        taps = np.zeros((width, k), dtype=np.int64)
        norms = np.empty(k)
        #: per template: its first tap in the matrix, its number of taps, the sum of their squares
        self.support = np.empty((k, 3))
        for j, h in enumerate(self.taps):
            q = np.rint(h * TAP_SCALE).astype(np.int64)
            s = self.reach - int(self.halves[j])
            taps[s:s + len(q), j] = q
            square_sum = float(np.sum(q.astype(np.float64) ** 2))
            norms[j] = math.sqrt(square_sum)
            self.support[j] = (s, len(q), square_sum)
        self.taps_f = taps.astype(np.float64)  # integers: exact in float64
        #: the signal is capped at this many quanta (volts at any rate) so that every product and
        #: partial sum of a correlation is an integer below 2**53: float64 then computes it
        #: exactly, in any order, with BLAS
        self.y_max = float(2 ** (52 - int(math.log2(TAP_SCALE)) - int(math.ceil(math.log2(width)))))
        # thresholds: sum-free, one degree of freedom; looks counted like the energy windows
        nu_floor = effective_dof(sos, noise_window)
        var, ratios = zip(*(noise_through(sos, h) for h in self.taps))
        table = np.empty((len(KAPPA_GRID), k))
        for i, kap in enumerate(KAPPA_GRID):
            bias = kurtosis_floor_bias(nu_floor, kap, percentile)
            for j in range(k):
                p = look_probability(on[j], int(self.lens[j]), fs)
                e_out = (max(float(kap), 3.0) - 3.0) * ratios[j]
                shrink = (2.0 / (e_out + 2.0)) ** TAIL_EXPONENT
                table[i, j] = bias * var[j] * stats.chi2.isf(p, shrink) / shrink
        self.table = table
        # (<y, q> * Y_QUANTUM / |q|)^2 / table: the scale applied to each integer correlation squared
        self._scale = (Y_QUANTUM / norms[None, :]) ** 2 / table
        # the gate: the smallest energy statistic at which any filter could cross its threshold
        win = np.asarray(windows)
        gate = np.full(len(KAPPA_GRID), np.inf)
        for j in range(k):
            hl, ln = int(self.halves[j]), int(self.lens[j])
            cover = [i for i, w in enumerate(win) if hl <= w // 2 and ln - hl <= w - w // 2]
            if not cover:  # no window holds this template's support: the bank must look everywhere
                gate[:] = 0.0
                break
            i = cover[0]
            gate = np.minimum(gate, table[:, j] / (win[i] * energy_table[:, i]))
        self.gate = gate
        self.gate_min = float(gate.min())

    def raise_stat(self, stat: np.ndarray, ys: np.ndarray, first: int,
                   rows_at: Callable[[np.ndarray, np.ndarray], np.ndarray | None], f2: np.ndarray,
                   gate: float | None = None, top: float | None = None,
                   steady: tuple[int, ...] | None = None) -> None:
        """In place: ``stat`` (channels, m) for the samples at columns ``first ..`` of ``ys``
        (the signal, silence beyond its ends; quantised only where a filter is applied);
        ``rows_at(ch, col)`` gives the KAPPA_GRID rows of the samples that reach ``gate`` (None:
        the Gaussian row); ``f2`` their floor squared. ``gate``: the lowest gate of the rows in
        force in the block (``lowest_gate``; default: of any row), so a block whose rows all
        gate higher than the cautious row's is mostly passed over in one step. ``top``: the
        statistic's largest value (at least 0), when the caller has it already. ``steady``: the
        rows when one per channel holds for the whole block (what ``rows_at`` gives then), so
        the compiled scan can pick the candidates itself."""
        if gate is None:
            gate = self.gate_min
        if (np.maximum.reduce(stat, axis=None, initial=0.0) if top is None else top) < gate:  # a quiet block
            return
        if steady is not None and (scan := kernels.matched_scan()) is not None:
            scan(ys, first - self.reach, stat, f2, np.array(steady, dtype=np.intp), gate, self.gate, self.taps_f,
                 self.support, self._scale, self.y_max, 1.0 / Y_QUANTUM)
            return
        flat = np.flatnonzero(stat >= gate)  # (cheaper than a 2-D nonzero on long blocks)
        if not flat.size:
            return
        ch, col = np.divmod(flat, stat.shape[1]) if stat.shape[0] > 1 else (np.zeros_like(flat), flat)
        v = stat.take(flat)
        rows = rows_at(ch, col)
        keep = v < 1.0  # already strong: nothing to add
        if rows is not None:
            keep &= v >= self.gate[rows]
            rows = rows[keep]
        elif self.gate[0] > gate:
            keep &= v >= self.gate[0]
        ch, col = ch[keep], col[keep]
        if not ch.size:
            return
        kernel = kernels.matched_lift()
        if kernel is not None:  # the same numbers in one pass per candidate (dsp/kernels.py)
            kernel(ys, first - self.reach, ch, col, np.zeros_like(ch) if rows is None else rows, self.taps_f,
                   self.support, self._scale, self.y_max, 1.0 / Y_QUANTUM, f2, stat)
            return
        idx = col[:, None] + (first + self.offsets)[None, :]
        if first >= self.reach and first + stat.shape[1] + self.width - self.reach - 1 <= ys.shape[1]:
            inside = None  # (live blocks after the first) every window lies within ys
            y = ys[ch[:, None], idx]
        else:
            inside = (idx >= 0) & (idx < ys.shape[1])
            y = ys[ch[:, None], np.clip(idx, 0, ys.shape[1] - 1)]
        win = np.rint(np.clip(y * (1.0 / Y_QUANTUM), -self.y_max, self.y_max))
        if inside is not None:
            win[~inside] = 0.0
        c = win @ self.taps_f  # integers below 2**53 throughout: exact
        scale = self._scale[rows] if rows is not None else self._scale[0]
        ratio = (c * c * scale).max(axis=1) / f2[ch, col]
        lift = ratio >= 1.0
        stat[ch[lift], col[lift]] = -ratio[lift]  # negative: strong by its shape alone

    def lowest_gate(self, rows: tuple[int, ...] | np.ndarray) -> float:
        """The lowest gate among the KAPPA_GRID ``rows`` (a tuple or an array of them)."""
        if isinstance(rows, tuple):
            return float(min(self.gate[r] for r in rows))
        return float(self.gate[rows].min())
