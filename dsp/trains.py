"""Voluntary motor-unit trains: similar potentials firing regularly are not twitches.

A motor unit under voluntary control fires again and again at about 5-30 Hz with a steady
rhythm, even when the contraction is so weak that it never builds an envelope (tonic activity,
the first unit recruited at a contraction's onset, the last one at its offset). A
fasciculation fires once, at a random time. So a twitch candidate is looked at together with
the candidates around it on its channel: if it belongs to a chain of at least
``train_min_potentials`` potentials of the same shape and size whose intervals lie in the
voluntary range and change smoothly, the whole chain is voluntary activity.

Deciding needs a little of the future: a candidate is held until no further potential of its
shape can arrive within the longest voluntary interval (isolated twitches: about 0.2 s after
their onset), or, when one does, until the chain it starts is confirmed or broken.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from myotwitch.dsp.bursts import Burst
from myotwitch.dsp.events import Event


@dataclass
class _Potential:
    onset: int
    ptp: float
    snippet: np.ndarray  # unit-norm band-passed waveform centred on the peak


def similar(a: _Potential, b: _Potential, size_ratio: float, min_corr: float, max_lag: int = 2) -> bool:
    """Same size (within ``size_ratio``) and same shape (normalised correlation >= ``min_corr``
    at the best of a few samples' lag; polarity counts)."""
    if max(a.ptp, b.ptp) > size_ratio * min(a.ptp, b.ptp):
        return False
    x, y = a.snippet, b.snippet
    n = min(x.size, y.size)
    if n < 3:
        return False
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            best = max(best, float(np.dot(x[lag:n], y[: n - lag])))
        else:
            best = max(best, float(np.dot(x[: n + lag], y[-lag:n])))
    return best >= min_corr


def regular_chain(times: list[int], k: int, isi_min: float, isi_max: float, regularity: float,
                  min_len: int) -> tuple[int, int] | None:
    """The (first, last) time of a run of at least ``min_len`` consecutive times through
    ``times[k]`` whose intervals are within [isi_min, isi_max] and each within ``regularity`` of
    the one before; None when there is no such run."""
    n = len(times)
    ok = [isi_min <= times[i + 1] - times[i] <= isi_max for i in range(n - 1)]

    def smooth(i: int) -> bool:  # interval i and interval i+1 are alike
        a, b = times[i + 1] - times[i], times[i + 2] - times[i + 1]
        return max(a, b) <= regularity * min(a, b)
    lo = hi = k  # grow the run [lo, hi] of times around k
    while lo > 0 and ok[lo - 1] and (hi - lo < 1 or smooth(lo - 1)):
        lo -= 1
    while hi < n - 1 and ok[hi] and (hi - lo < 1 or smooth(hi - 1)):
        hi += 1
    return (times[lo], times[hi]) if hi - lo + 1 >= min_len else None


class TrainStage:
    """Holds twitch candidates until their neighbourhood is known, then relabels the ones that
    are part of a voluntary train. Events leave in onset order."""

    def __init__(self, fs: float, n_channels: int, *, min_hz: float, max_hz: float, regularity: float,
                 size_ratio: float, min_corr: float, min_len: int, context_s: float = 0.15) -> None:
        self.fs = fs
        self.n_channels = n_channels
        self.isi_min = fs / max_hz
        self.isi_max = fs / min_hz
        self.regularity, self.size_ratio, self.min_corr, self.min_len = regularity, size_ratio, min_corr, min_len
        self.memory = int(self.isi_max * (min_len + 1))
        #: potentials this close to a recognised train are part of the same voluntary activity
        #: (another unit joining, a firing whose shape the noise spoiled)
        self.margin = int(round(context_s * fs))
        self.reset()

    def reset(self) -> None:
        self._held: list[tuple[Event, _Potential | None]] = []
        self._recent: list[deque[_Potential]] = [deque() for _ in range(self.n_channels)]
        self._spans: list[deque[tuple[int, int]]] = [deque() for _ in range(self.n_channels)]

    def held_from(self, until: int) -> int:
        """No event released later starts before this sample."""
        return min([until] + [e.onset_sample for e, _ in self._held])

    def process(self, pairs: list[tuple[Burst, Event]], until: int, final: bool,
                pending: list[int | None] | None = None) -> list[Event]:
        """``until``: no later burst starts before this sample; ``pending[c]``: where activity
        not yet finalised starts on channel c (None: none)."""
        self._pending = pending or [None] * self.n_channels
        for b, e in sorted(pairs, key=lambda p: p[1].onset_sample):
            if e.kind == "contraction":
                self._spans[e.channel].append((e.onset_sample, e.offset_sample))
            pot = None
            if e.kind == "twitch" and b.snippet is not None:
                pot = _Potential(e.onset_sample, e.peak_to_peak_uv, b.snippet)
                self._recent[e.channel].append(pot)
            self._held.append((e, pot))
        self._held.sort(key=lambda p: p[0].onset_sample)
        out: list[Event] = []
        while self._held:
            e, pot = self._held[0]
            if pot is not None:
                verdict = self._decide(e.channel, pot, until, final)
                if verdict is None:
                    break
                if verdict:
                    e = replace(e, kind="contraction", reason=verdict)
            out.append(e)
            self._held.pop(0)
        for c, dq in enumerate(self._recent):
            horizon = self.held_from(until) - self.memory
            while dq and dq[0].onset < horizon:
                dq.popleft()
            spans = self._spans[c]
            while spans and spans[0][1] < horizon:
                spans.popleft()
        return out

    def _decide(self, c: int, pot: _Potential, until: int, final: bool) -> str | None:
        """Why the potential is voluntary, "" when it is not, None: wait for more data."""
        near = [p for p in self._recent[c] if abs(p.onset - pot.onset) <= self.memory]
        sim = [p for p in near if p is pot or similar(p, pot, self.size_ratio, self.min_corr)]
        times = sorted({p.onset for p in sim})
        k = times.index(pot.onset)
        span = regular_chain(times, k, self.isi_min, self.isi_max, self.regularity, self.min_len)
        if span is not None:
            self._spans[c].append(span)
            return "regular firing of one motor unit (similar potentials at a voluntary rate)"
        after = times[k + 1:]
        if not final:
            # could a later potential still complete a chain through this one? Wait for it.
            needed = self.isi_max if not after else min(after[-1] - pot.onset + self.isi_max,
                                                        self.isi_max * (self.min_len - 1))
            if until < pot.onset + needed:
                return None
        nxt = self._pending[c]
        if not final and nxt is not None and nxt - self.margin <= pot.onset:
            return None  # activity is building up right after it: wait to see what it is
        if any(a - self.margin <= pot.onset <= b + self.margin for a, b in self._spans[c]):
            return "at the edge of voluntary activity (recruitment or derecruitment)"
        return ""
