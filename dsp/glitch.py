"""Single-sample glitches told from potentials by their band-passed shape.

A glitch (an ADC or cable fault, one sample off) passes the band-pass as that filter's impulse
response, scaled; a motor-unit potential lasts several milliseconds and has a shape of its own.
So how closely the band-passed waveform around a burst's peak follows the impulse response is a
test that ignores mains and baseline (the raw-sample spike test sees both). At 500 Hz a 5 ms
potential is itself only a few samples long and the two cannot be told apart, so the test is
used from ``MIN_FS`` up.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

#: below this rate the shortest potentials are as sharp as an impulse through the band-pass
MIN_FS = 900.0


class ImpulseFit:
    """Best normalised correlation of a burst's snippet with the band-pass's impulse response,
    over ``half`` samples either side of the peak (the response aligned on its own largest
    sample, give or take one)."""

    def __init__(self, sos: np.ndarray, half: int) -> None:
        n = 4 * half + 8
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

    def __call__(self, snippet: np.ndarray) -> float:
        """``snippet``: the unit-norm band-passed waveform centred on the peak (odd length)."""
        mid = snippet.size // 2
        if mid < self.half:
            return 0.0
        seg = snippet[mid - self.half: mid + self.half + 1]
        norm = math.sqrt(float(np.dot(seg, seg)))
        if norm == 0.0:
            return 0.0
        return max(abs(v) for v in (self._templates @ seg).tolist()) / norm  # three fits: plain floats
