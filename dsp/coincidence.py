"""One twitch seen on several channels counts once.

Electrodes a few centimetres apart pick up the same motor unit within a few ms (volume
conduction). Twitch detections on different channels that overlap in time (or lie
within ``window_ms`` of each other) become a single twitch: the channel where it is
largest carries it, and it lists the band-passed peak-to-peak on every channel (its
spatial signature) and the channels whose detector fired.

Events are held until no channel can still report a partner (the pipeline's finalised
horizon has passed), then released in time order, so the result, and everything decided
from it downstream, is the same for any chunking.
"""

from __future__ import annotations

import bisect
from operator import attrgetter

import numpy as np

from myotwitch.dsp import kernels
from myotwitch.dsp.events import Event, evolve
from myotwitch.dsp.ring import SignalRing

_onset = attrgetter("onset_sample")


class CoincidenceMerger:
    """Streaming stage: classified events in (any order within the horizon), merged twitches out."""

    def __init__(self, fs: float, n_channels: int, window_ms: float = 4.0) -> None:
        self.fs = fs
        self.n_channels = n_channels
        self.window_n = max(1, round(window_ms * fs / 1000.0))
        self.reset()

    def reset(self) -> None:
        self._pending: list[Event] = []

    @property
    def earliest_pending(self) -> int | None:
        if not self._pending:
            return None
        return min(e.onset_sample for e in self._pending)

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    def process(self, events: list[Event], horizon: int, ring: SignalRing, final: bool = False) -> list[Event]:
        """Add ``events``; return the ones that are complete. No event starting before
        ``horizon`` (absolute sample) can arrive later; ``final`` releases everything."""
        if events:
            self._pending.extend(events)
        if not self._pending:
            return []
        if self.n_channels == 1:  # nothing to merge: each event is its own group in the loop below,
            # released while it ends (its onset plus the window) before the horizon
            self._pending.sort(key=_onset)  # (one channel: as by (onset, channel))
            i = len(self._pending) if final else bisect.bisect_left(self._pending, horizon - self.window_n, key=_onset)
            released, self._pending = self._pending[:i], self._pending[i:]
            return released
        self._pending.sort(key=lambda e: (e.onset_sample, e.channel))
        out: list[Event] = []
        i, n = 0, len(self._pending)
        while i < n:
            first = self._pending[i]
            group = [first]
            j = i + 1
            end = first.onset_sample + self.window_n
            if first.kind == "twitch" and self.n_channels > 1:
                seen = {first.channel}
                end = first.offset_sample + self.window_n
                while j < n and self._pending[j].onset_sample <= end:
                    e = self._pending[j]
                    if e.kind != "twitch" or e.channel in seen:
                        break
                    group.append(e)
                    seen.add(e.channel)
                    end = max(end, e.offset_sample + self.window_n)
                    j += 1
            if not final and end >= horizon:
                break
            if first.kind != "twitch":
                out.append(first)
            elif len(group) == 1:  # (the common case: a twitch on one channel only)
                out.append(self._single(first, ring))
            else:
                out.append(self._merge(group, ring))
            i = j
        self._pending = self._pending[i:]
        return out

    def _merge(self, group: list[Event], ring: SignalRing) -> Event:
        main = max(group, key=lambda e: (e.peak_to_peak_uv, -e.channel))
        lo = min(e.onset_sample for e in group) - self.window_n
        hi = max(e.offset_sample for e in group) + self.window_n
        return self._signed(main, ring, lo, hi, tuple(sorted(e.channel for e in group)))

    def _single(self, e: Event, ring: SignalRing) -> Event:
        """``_merge`` of a group of one twitch, without the reductions over the group (a
        twitch on one channel only is most of them, and this runs once a twitch)."""
        return self._signed(e, ring, e.onset_sample - self.window_n, e.offset_sample + self.window_n, (e.channel,))

    def _signed(self, main: Event, ring: SignalRing, lo: int, hi: int, hit: tuple[int, ...]) -> Event:
        """``main`` carrying the peak-to-peak on every channel over samples ``[lo, hi)`` (its own
        channel's as it was measured) and the channels ``hit``."""
        y, _ = ring.window(lo, hi)
        if y.shape[1]:
            kernel = kernels.ptp_rows()
            out = np.empty(self.n_channels)
            if kernel is not None and kernel(y, out):  # the same numbers in one pass (dsp/kernels.py)
                ptp = out.tolist()
            else:
                ptp = (y.max(axis=1) - y.min(axis=1)).tolist()
        else:
            ptp = [0.0] * self.n_channels
        ptp[main.channel] = main.peak_to_peak_uv
        return evolve(main, channels_peak_to_peak_uv=tuple(ptp), hit_channels=hit)


def channel_hits(events: list[Event], n_channels: int) -> list[int]:
    """Per channel: twitches its detector fired for (a twitch on two channels counts on both)."""
    hits = np.zeros(n_channels, dtype=int)
    for e in events:
        if e.kind == "twitch":
            for c in (e.hit_channels or (e.channel,)):
                hits[c] += 1
    return [int(v) for v in hits]
