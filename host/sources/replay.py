"""``file:`` — replay a recording (EDF/BDF/CSV) as if it were a device, at N x real time."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import numpy as np

from myotwitch.host.sources.base import Source
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, Record, SampleBlock

#: the firmware a replay reports: how a consumer (the recorder) tells a copy from a device
REPLAY_FIRMWARE = "replay"


class ReplaySource(Source):
    """Yields DeviceInfo, then SampleBlocks (~50 ms each) and GapRecords where the file has
    no data, paced at ``speed`` x real time (0 = as fast as the consumer reads)."""

    def __init__(self, path: str, speed: float = 1.0, block_s: float = 0.05) -> None:
        super().__init__()
        from myotwitch.host.analysis import open_reader

        self.spec = f"file:{path}"
        self.path = path
        self.speed = speed
        self.reader = open_reader(path)
        fs = self.reader.fs
        edf = getattr(self.reader, "edf", None)
        uvpc = 1.0
        if edf is not None:
            uvpc = abs(edf.signals[self.reader.channels[0]].gain)
        self._info = DeviceInfo(self.spec, os.path.basename(path), REPLAY_FIRMWARE, fs, len(self.reader.channels),
                                1, uvpc, tuple(self.reader.labels))
        self.block = max(1, int(round(block_s * fs)))
        self._it = self._records()
        self._t0: float | None = None
        self._sent = 0
        self._announced = False

    @property
    def info(self) -> DeviceInfo | None:
        return self._info

    def _records(self) -> Iterator[Record]:
        fs = self._info.fs
        pos = 0
        for first, x in self.reader.iter_records():
            if first > pos:
                yield GapRecord(pos, first - pos, fs, "no data in file")
                pos = first
            finite = np.isfinite(x).all(axis=0)
            bounds = [0, *(np.flatnonzero(finite[1:] != finite[:-1]) + 1).tolist(), x.shape[1]]
            for a, b in zip(bounds[:-1], bounds[1:]):
                if not finite[a]:
                    yield GapRecord(pos + a, b - a, fs, "gap in recording")
                    continue
                for i in range(a, b, self.block):
                    j = min(b, i + self.block)
                    yield SampleBlock(pos + i, fs, x[:, i:j], time.monotonic())
            pos = first + x.shape[1]

    def read(self, timeout: float = 0.5) -> list[Record]:
        if self.closed:
            return []
        out: list[Record] = []
        if not self._announced:
            self._announced = True
            self._t0 = time.monotonic()
            return [LinkEvent("connected", self.spec), self._info]
        deadline = time.monotonic() + timeout
        while True:
            if self.speed > 0:
                due = (time.monotonic() - self._t0) * self.speed * self._info.fs  # type: ignore[operator]
                if self._sent > due:
                    wait = (self._sent - due) / (self.speed * self._info.fs)
                    if out or time.monotonic() + wait > deadline:
                        time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
                        return out
                    time.sleep(wait)
            try:
                rec = next(self._it)
            except StopIteration:
                self.closed = True
                out.append(LinkEvent("end", "end of file"))
                return out
            out.append(rec)
            self._sent += rec.n if isinstance(rec, SampleBlock) else rec.n_samples  # type: ignore[union-attr]
            if self.speed == 0 and len(out) >= 64:
                return out
