"""``--lsl``: publish what myotwitch sees as two Lab Streaming Layer outlets, so LabRecorder
(or any LSL client) records the EMG and the twitch markers next to its other streams.

- samples: type ``EMG``, µV, the channel labels, the device's name as source id;
- ``Markers``: one JSON string per event, stamped at the event's onset in LSL time.

Samples are stamped on a line (sample index / rate plus an offset). The offset aims at the
earliest arrival seen over the last seconds, because arrival times are only ever late; it
moves earlier by at most 0.1 % of the elapsed time, so stamps never run backwards. Markers
are stamped with the offset their onset sample was published with, so a marker sits on the
sample where its event starts, though the detector reports it a fraction of a second later.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections import deque

import numpy as np

from myotwitch.dsp.events import Event
from myotwitch.host.sources.lsl import OWN_UIDS, require_pylsl
from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock

log = logging.getLogger(__name__)

#: how long an arrival time may keep the stream's time line early (s)
CLOCK_WINDOW_S = 10.0
#: how fast the time line may move earlier (s per s): stamps stay in order
MAX_SLEW = 1e-3
#: how far back (s) an event's onset may lie behind the newest sample and still be stamped exactly
HISTORY_S = 120.0


def marker_text(e: Event, labels: tuple[str, ...]) -> str:
    """The JSON an event becomes on the Markers stream (strict JSON, no NaN)."""
    d: dict = {"kind": e.kind, "channel": e.channel,
               "label": labels[e.channel] if 0 <= e.channel < len(labels) else None,
               "onset_s": round(e.onset_s, 4), "duration_ms": round(e.duration_ms, 2),
               "peak_to_peak_uv": round(e.peak_to_peak_uv, 2) if np.isfinite(e.peak_to_peak_uv) else None,
               "snr_db": round(e.snr_db, 2) if np.isfinite(e.snr_db) else None}
    unit = getattr(e, "unit", None)
    if unit is not None:
        d["unit"] = unit
    if e.reason:
        d["reason"] = e.reason
    return json.dumps(d, allow_nan=False)


class LslPublisher:
    """Feed it the records and events the detector sees (same order); it keeps its own sample
    count, so event onsets (pipeline sample indices) map onto the samples it published."""

    def __init__(self, name: str = "myotwitch") -> None:
        self.pylsl = require_pylsl()
        self.name = name
        self.info: DeviceInfo | None = None
        self._samples = None
        self._markers = None
        self._index = 0  # samples (and gap samples) seen since the outlets were made
        self._offsets: deque[tuple[float, float]] = deque()  # (arrival, arrival - index/fs)
        self._history: deque[tuple[int, float]] = deque()  # (first index of a block, offset used)
        self._offset: float | None = None
        self._clock_offset = self.pylsl.local_clock() - time.monotonic()
        self.markers_sent = 0

    # -- outlets -------------------------------------------------------------------------------
    def _open(self, info: DeviceInfo) -> None:
        pylsl = self.pylsl
        self.close()
        sid = info.device_id
        s = pylsl.StreamInfo(f"{self.name} {sid}", "EMG", info.n_channels, info.fs, pylsl.cf_float32, sid)
        s.set_channel_labels(list(info.labels))
        s.set_channel_units("microvolts")
        s.set_channel_types("EMG")
        s.desc().append_child_value("manufacturer", "myotwitch")
        s.desc().append_child_value("source", info.source)
        m = pylsl.StreamInfo(f"{self.name} {sid} markers", "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string,
                             f"{sid}-markers")
        m.desc().append_child_value("format", "JSON: kind, channel, label, onset_s, duration_ms, "
                                    "peak_to_peak_uv, snr_db, unit (when known)")
        outlets = pylsl.StreamOutlet(s), pylsl.StreamOutlet(m)
        OWN_UIDS.update(o.get_info().uid() for o in outlets)  # never read back as a source
        self._samples, self._markers = outlets
        self.info = info
        self._index = 0
        self._restart_line()
        log.info("publishing LSL streams '%s %s' (EMG) and '%s %s markers' (Markers)", self.name, sid, self.name, sid)

    def close(self) -> None:
        self._samples = self._markers = None  # pylsl outlets close when released

    # -- feeding -------------------------------------------------------------------------------
    def record(self, rec: object) -> None:
        """A source record: DeviceInfo opens (or reopens) the outlets; samples are pushed."""
        if isinstance(rec, DeviceInfo):
            if self.info is None or not self.info.same_stream(rec):
                self._open(rec)
        elif isinstance(rec, SampleBlock) and self._samples is not None:
            self._push(rec)
        elif isinstance(rec, GapRecord) and self.info is not None:
            self._index += rec.n_samples
            if not rec.exact:  # the device restarted: its old time line no longer holds
                self._restart_line()

    def _restart_line(self) -> None:
        self._offsets.clear()
        self._offset = None

    def _push(self, block: SampleBlock) -> None:
        assert self.info is not None and self._samples is not None
        fs = self.info.fs
        arrived = (block.received_at or time.monotonic()) + self._clock_offset
        last = self._index + block.n - 1
        while self._offsets and self._offsets[0][0] < arrived - CLOCK_WINDOW_S:
            self._offsets.popleft()
        offset = arrived - last / fs
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()  # a later, earlier-or-equal offset makes older larger ones irrelevant
        self._offsets.append((arrived, offset))
        target = self._offsets[0][1]
        if self._offset is None or target > self._offset:
            self._offset = target
        else:
            self._offset = max(target, self._offset - MAX_SLEW * block.n / fs)
        self._history.append((self._index, self._offset))
        while len(self._history) > 1 and self._history[1][0] < self._index - HISTORY_S * fs:
            self._history.popleft()
        self._samples.push_chunk(np.ascontiguousarray(block.uv.T, dtype=np.float32), self.lsl_time(last))
        self._index += block.n

    def lsl_time(self, sample: int) -> float:
        """LSL time of a sample index, with the offset its block was published with."""
        assert self.info is not None
        if not self._history:
            return self.pylsl.local_clock()
        k = bisect.bisect_right(self._history, sample, key=lambda h: h[0]) - 1
        return self._history[max(k, 0)][1] + sample / self.info.fs

    def events(self, events: list[Event]) -> None:
        """Detector events: one marker each, stamped at its onset."""
        if self._markers is None or self.info is None:
            return
        for e in events:
            self._markers.push_sample([marker_text(e, self.info.labels)], self.lsl_time(e.onset_sample))
            self.markers_sent += 1
