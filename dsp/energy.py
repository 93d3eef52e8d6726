"""Shape-aware detection statistic: the band-passed energy over windows matched to twitch lengths.

A twitch is a bi- or triphasic wave 3-30 ms long. A threshold on a short envelope only sees
its tallest peak, so a small twitch whose peak barely clears the noise is lost although its
energy, summed over its whole length, stands far above the noise summed over the same
length. Summing the squared band-passed signal over a window as long as the twitch is the
energy detector for a wave of that length; it comes within a few per cent of a matched
filter's sensitivity for these shapes without assuming the waveform, and a bank of a few
window lengths (about 3, 6, 12 and 24 ms) covers every twitch length to within a factor of
two, at the cost of one cumulative sum and one subtraction per window.

Each window's sum is divided by ``window x floor**2`` (floor: the robust noise RMS) and by its
own threshold: the level that noise alone crosses with the same small probability per look
that a single sample crosses ``on_threshold`` x floor. The statistic is the largest of these
ratios, so ``>= 1`` means "detected", the false-alarm rate is the same for every window, and
``on_threshold`` keeps its meaning (a single-sample spike must reach it). The thresholds come
from the chi-square law of band-limited Gaussian noise with the degrees of freedom the band-pass
leaves in each window.

Windows are centred: the value at sample t needs the signal up to ``t + lead``, so the output
lags the input by ``lead`` samples. Sums are taken over integer-quantised energies (1e-3 µV²
steps) so the result is exact whatever the chunking.
"""

from __future__ import annotations

import numpy as np
from scipy import signal, stats

#: energy quantum for the exact integer running sums (µV²); far below any noise floor
_QUANTUM = 1e-3
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


def floor_bias(sos: np.ndarray, noise_window: int, percentile: float) -> float:
    """true variance / floor^2 for Gaussian noise: the floor is a low percentile of windowed
    RMS, which sits below the true RMS by an amount set by the window's degrees of freedom."""
    nu = effective_dof(sos, noise_window)
    return float(nu / stats.chi2.ppf(percentile / 100.0, nu))


def window_thresholds(sos: np.ndarray, windows: tuple[int, ...], on_threshold: float, fs: float,
                      bias: float = 1.0) -> np.ndarray:
    """Per-window threshold on ``sum / (w floor^2)``: the chi-square level noise alone exceeds
    with probability ``p_w``, times ``bias`` (true variance over floor^2, see ``floor_bias``).

    ``p_w`` is a Gaussian sample's two-sided tail beyond ``on_threshold``, scaled by the window
    length in units of 3 ms: a window of w samples has w times fewer independent looks per hour
    than one sample, so every window and every sample rate gives the same false alarms per hour."""
    p0 = 2.0 * stats.norm.sf(on_threshold)
    out = []
    for w in windows:
        p = min(p0 * w / (REFERENCE_WINDOW_S * fs), 0.1)
        nu = effective_dof(sos, w)
        out.append(bias * stats.chi2.isf(p, nu) / nu)
    return np.array(out)


class MultiScaleEnergy:
    """Streaming detection statistic for ``(channels, n)`` blocks of the band-passed signal.

    ``process(y, floor)`` returns the statistic for the samples ``lead`` behind the input
    (the first call returns ``n - lead`` values); ``drain()`` returns the held ``lead`` samples
    at a gap or the end of data, with the missing future taken as silence."""

    def __init__(self, n_channels: int, windows: tuple[int, ...], thresholds: np.ndarray) -> None:
        self.n_channels = n_channels
        self.windows = windows
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.lead = max(windows) // 2
        self.back = max(windows) - self.lead  # samples of history each centred window may need
        # 1 / (w * threshold) per window: the scale applied to each window's sum
        self._scale = [1.0 / (w * t * _QUANTUM ** -1) for w, t in zip(windows, self.thresholds)]
        self.reset()

    def reset(self) -> None:
        """Start of a contiguous stretch: no history, no held samples."""
        self._q = np.zeros((self.n_channels, 0), dtype=np.int64)  # quantised energy, history + held
        self._floor = np.zeros((self.n_channels, 0))  # floor for the held samples
        self._hist = 0  # how many columns of _q are history before the held samples

    def process(self, y: np.ndarray, floor: np.ndarray) -> np.ndarray:
        q = np.rint(y * y * (1.0 / _QUANTUM)).astype(np.int64)
        return self._emit(q, floor, final=False)

    def drain(self) -> np.ndarray:
        out = self._emit(np.zeros((self.n_channels, 0), dtype=np.int64), np.zeros((self.n_channels, 0)), final=True)
        self.reset()
        return out

    def _emit(self, q_new: np.ndarray, floor_new: np.ndarray, final: bool) -> np.ndarray:
        q = np.concatenate([self._q, q_new], axis=1) if self._q.shape[1] else q_new
        fl = np.concatenate([self._floor, floor_new], axis=1) if self._floor.shape[1] else floor_new
        h = self._hist
        held = q.shape[1] - h  # samples not yet emitted
        m = held if final else max(held - self.lead, 0)  # samples we can emit now
        if final and self.lead:
            q = np.concatenate([q, np.zeros((self.n_channels, self.lead), dtype=np.int64)], axis=1)
        # cumulative sum with a zero in front: c[k] = sum of q[:k] (int64, exact; wraps harmlessly)
        c = np.zeros((self.n_channels, q.shape[1] + 1), dtype=np.int64)
        np.cumsum(q, axis=1, out=c[:, 1:])
        stat = np.zeros((self.n_channels, m))
        centre = np.arange(h, h + m)
        for w, scale in zip(self.windows, self._scale):
            a = centre - w // 2
            b = a + w
            lo = np.maximum(a, 0)  # a window reaching before the segment start sees silence there
            s = (c[:, b] - c[:, lo]).astype(np.float64)
            np.maximum(stat, s * scale, out=stat)
        f = fl[:, :m]
        with np.errstate(invalid="ignore", divide="ignore"):
            stat /= f * f
        stat[~(f > 0)] = 0.0  # floor not known yet (settling) or a digitally flat trace
        # keep: the last `back` emitted samples' energies as history, and everything not emitted
        keep_from = max(h + m - self.back, 0)
        if not final:
            self._q = q[:, keep_from:]
            self._floor = fl[:, m:]
            self._hist = h + m - keep_from
        return stat
