"""Single-sample glitches told from potentials by their band-passed shape.

A glitch (an ADC or cable fault, one sample off) passes the band-pass as that filter's impulse
response, scaled; a motor-unit potential lasts several milliseconds and has a shape of its own.
So how closely the band-passed waveform around a burst's peak follows the impulse response is a
test that ignores mains and baseline (the raw-sample spike test sees both). At 500 Hz a 5 ms
potential is itself only a few samples long and the two cannot be told apart, so the test is
used from ``MIN_FS`` up.

Noise lowers a small glitch's fit to the impulse response as much as it lowers a potential's,
so a fixed bar on that fit alone leaves small glitches through. ``contrast`` asks the
likelihood question instead: does the impulse response explain the waveform better than the
best of the twitch shapes (Hermite-Rodriguez waves of 3-30 ms, band-passed the same way) over
the same samples? Noise degrades both fits alike, so their difference keeps its sign where
either fit alone has fallen into the other's range.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from myotwitch.dsp.matched import bandpassed_shape

#: below this rate the shortest potentials are as sharp as an impulse through the band-pass
MIN_FS = 900.0
#: the twitch shapes the impulse response is weighed against (ms of support): the issue's
#: 3-30 ms potentials, denser where the shapes change fastest
TWITCH_LENGTHS_MS = (3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 15.0, 18.0, 22.0, 26.0, 30.0)
#: a waveform the impulse response fits worse than this is no glitch, whatever the twitch
#: shapes make of it (on the tuning seeds every waveform ``contrast`` called a glitch fitted the
#: impulse response at 0.72 or more, and four potentials in five fit it below 0.7)
CONTRAST_MIN_FIT = 0.7
#: a lobe of a twitch shape at least this share of its largest may be the snippet's peak
#: (noise decides which of two near-equal lobes comes out largest)
LOBE_SHARE = 0.6


class ImpulseFit:
    """Best normalised correlation of a burst's snippet with the band-pass's impulse response,
    over ``half`` samples either side of the peak (the response aligned on its own largest
    sample, give or take one). Given the sampling rate ``fs``, it also weighs that fit against
    the twitch shapes' (``contrast``)."""

    def __init__(self, sos: np.ndarray, half: int, fs: float | None = None) -> None:
        # a second of the response after the impulse: a narrow or low band (20-40 Hz, 5-10 Hz)
        # peaks tens of ms late, where a template cut at a default band's length had failed
        n = 4 * half + 8 + (int(fs) if fs else 4000)
        impulse = np.zeros(n)
        impulse[2 * half + 2] = 1.0  # zeros before: the response is causal
        h = signal.sosfilt(sos, impulse)
        j0 = int(np.argmax(np.abs(h)))
        self.half = half
        rows = []
        for j in (j0 - 1, j0, j0 + 1):
            w = h[j - half: j + half + 1]
            rows.append(w / np.sqrt(np.dot(w, w)))
        self._templates = np.array(rows)  # (3, 2 * half + 1), unit norm
        self._shapes = _twitch_windows(sos, fs, half) if fs else None

    def _window(self, snippet: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The ``half`` samples either side of the snippet's centre and their norm (None when
        the snippet is too short or silent)."""
        mid = snippet.size // 2
        if mid < self.half:
            return None
        seg = snippet[mid - self.half: mid + self.half + 1]
        norm = math.sqrt(float(np.add.reduce(seg * seg)))  # as ``fits`` adds a row
        return (seg, norm) if norm != 0.0 else None

    def __call__(self, snippet: np.ndarray) -> float:
        """``snippet``: the unit-norm band-passed waveform centred on the peak (odd length)."""
        got = self._window(snippet)
        if got is None:
            return 0.0
        seg, norm = got  # ``fits``' sums for one row, without the batch's steps
        return max(abs(v) for v in np.add.reduce(seg * self._templates, axis=1).tolist()) / norm

    def fits(self, snippets: np.ndarray) -> list[float]:
        """``self(s)`` for each row of ``snippets`` ``(n, odd length)``, at once (a burst's fit
        is the same alone or among others: every sum adds along one row, as for one)."""
        mid = snippets.shape[1] // 2
        if mid < self.half:
            return [0.0] * snippets.shape[0]
        seg = snippets[:, mid - self.half: mid + self.half + 1]
        norm = np.sqrt(np.add.reduce(seg * seg, axis=1))
        dots = np.add.reduce(seg[:, None, :] * self._templates[None], axis=2)  # (n, 3)
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.maximum.reduce(np.abs(dots), axis=1) / norm
        return np.where(norm != 0.0, fit, 0.0).tolist()

    def contrast(self, snippet: np.ndarray, fit: float | None = None) -> float:
        """The impulse response's fit (``self(snippet)``, when not given) minus the best twitch
        shape's fit to the same samples around the peak (normalised correlations, each shape
        aligned on any of its large lobes, give or take one sample): above 0 the glitch
        explains the waveform better."""
        if self._shapes is None:
            raise ValueError("contrast needs the sampling rate (ImpulseFit(..., fs=...))")
        got = self._window(snippet)
        if got is None:
            return 0.0
        seg, norm = got
        if fit is None:
            fit = self(snippet)
        return fit - float(np.max(np.abs(self._shapes @ seg))) / norm


def _twitch_windows(sos: np.ndarray, fs: float, half: int) -> np.ndarray:
    """Unit-norm windows of ``2 * half + 1`` samples of the band-passed twitch shapes, one per
    large lobe and shift of -1, 0, +1 sample (the snippet is centred on its largest sample)."""
    rows = []
    for order in (1, 2):
        for d_ms in TWITCH_LENGTHS_MS:
            w = bandpassed_shape(sos, fs, d_ms, order, tail=4 * half + 4)
            a = np.abs(w)
            peak = a.max()
            lobes = [j for j in range(1, len(w) - 1)
                     if a[j] >= LOBE_SHARE * peak and a[j] >= a[j - 1] and a[j] >= a[j + 1]]
            for j in lobes:
                for shift in (-1, 0, 1):
                    lo = j + shift - half
                    if lo < 0 or lo + 2 * half + 1 > len(w):
                        continue
                    seg = w[lo: lo + 2 * half + 1]
                    rows.append(seg / math.sqrt(float(np.dot(seg, seg))))
    return np.array(rows)
