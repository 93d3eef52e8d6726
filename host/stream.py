"""What sources yield: device info, sample blocks in µV, explicit gaps, status and link events.

``StreamAssembler`` turns decoded frames into these records. It owns the session's sample
timeline: every sample gets an index (and so a time) from the device's running sample
counter, and every missing stretch becomes a ``GapRecord`` with its exact length, or an
estimate from the host clock when the device restarted and its counter began again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from myotwitch.dsp.events import Gap
from myotwitch.host.channels import distinct_labels
from myotwitch.host.protocol import AckFrame, Frame, InfoFrame, PongFrame, SamplesFrame, StatusFrame
from myotwitch.host.wording import counted

log = logging.getLogger(__name__)
COUNTER_MOD = 1 << 32
#: an exact gap up to this long (lost frames, which the detector bridges) is logged at debug level only
QUIET_GAP_S = 0.1
#: A forward counter jump on a live link is believed up to this many seconds of samples, or
#: up to what the host clock says passed since the last samples (plus slack), whichever is
#: larger. A 16-bit CRC lets about 1 corrupt frame in 65,536 through, and its counter can
#: say anything; a larger jump has to be confirmed by the frames that follow.
MAX_JUMP_S = 10.0
JUMP_SLACK_S = 5.0
#: Frames that agree with each other (each starts where the previous ended) but not with the
#: timeline so far; this many confirm a restart or a counter jump. They are held, not dropped.
CONFIRM_FRAMES = 3
#: Seconds of recent samples kept to tell a true duplicate (same counter, same values) from a
#: device that restarted its counter (same counter, other values).
RECENT_S = 1.0


RESERVED_LABELS = ("edf annotations", "bdf annotations")


def safe_labels(labels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Channel labels as a device sent them, made safe for files and terminals: printable
    ASCII only (no escape sequences), never an EDF annotation signal's name, never empty
    (``chN`` stands in), and unique as analysis names them (a second 'calf' is 'calf #2', which
    had been ``chN``, its muscle's name lost), within an EDF label's 16 characters."""
    out: list[str] = []
    for i, raw in enumerate(labels):
        text = "".join(c if 32 <= ord(c) < 127 else "?" for c in str(raw)).strip()[:16]
        if not text.strip("?") or text.lower().strip() in RESERVED_LABELS:
            text = f"ch{i + 1}"
        out.append(text)
    return tuple(distinct_labels(out, max_len=16))


@dataclass(frozen=True)
class DeviceInfo:
    """What the device says about itself (from its INFO frame) plus where it was found."""

    source: str
    device_id: str
    firmware: str
    fs: float
    n_channels: int
    sample_format: int
    uv_per_count: float
    labels: tuple[str, ...]
    protocol_version: int = 1

    @classmethod
    def from_frame(cls, f: InfoFrame, source: str) -> DeviceInfo:
        return cls(source, f.device_id_hex, ".".join(map(str, f.firmware)), float(f.sample_rate_hz),
                   f.n_channels, f.sample_format, f.uv_per_count, safe_labels(f.labels), f.protocol_version)

    @property
    def bits(self) -> int:
        return 16 if self.sample_format == 1 else 24

    @property
    def range_uv(self) -> tuple[float, float]:
        """Physical range implied by the ADC width and scale."""
        half = 1 << (self.bits - 1)
        return -half * self.uv_per_count, (half - 1) * self.uv_per_count

    def same_stream(self, other: DeviceInfo) -> bool:
        """True when samples from ``other`` can continue this stream in the same file."""
        return (self.device_id, self.fs, self.n_channels, self.sample_format, self.uv_per_count) == (
            other.device_id, other.fs, other.n_channels, other.sample_format, other.uv_per_count)

    def to_dict(self) -> dict:
        return {"source": self.source, "device_id": self.device_id, "firmware": self.firmware, "fs": self.fs,
                "n_channels": self.n_channels, "sample_format": self.sample_format,
                "uv_per_count": self.uv_per_count, "labels": list(self.labels)}


@dataclass(frozen=True)
class SampleBlock:
    """``uv`` is float32 (channels, n); ``first_sample`` indexes the session timeline."""

    first_sample: int
    fs: float
    uv: np.ndarray
    received_at: float = 0.0  # time.monotonic() when the bytes arrived (latency measurement)

    @property
    def n(self) -> int:
        return self.uv.shape[1]

    @property
    def t0(self) -> float:
        return self.first_sample / self.fs


@dataclass(frozen=True)
class GapRecord(Gap):
    """A detector Gap plus why it happened. ``exact`` is False when the length comes from the
    host clock because the device restarted."""

    reason: str = ""
    exact: bool = True


@dataclass(frozen=True)
class StatusRecord:
    at_sample: int
    battery_mv: int | None  # None: not measured (sent as 0)
    battery_pct: int | None
    lead_off: bool
    saturated: bool
    streaming: bool
    overruns: int
    lead_off_mask: int = 0


@dataclass(frozen=True)
class LinkEvent:
    """Connection changes: connected, disconnected, reconnecting, stalled, error."""

    kind: str
    detail: str = ""
    at: float = field(default_factory=time.time)


Record = DeviceInfo | SampleBlock | GapRecord | StatusRecord | LinkEvent


@dataclass
class AssemblerStats:
    samples: int = 0
    samples_lost: int = 0
    gaps: int = 0
    duplicates: int = 0
    mismatched: int = 0
    before_info: int = 0
    device_overruns: int = 0
    restarts: int = 0  # the device's counter began again behind a live link
    implausible_jumps: int = 0  # frames whose counter jump was not believed (dropped)
    resyncs: int = 0  # implausible jumps confirmed by the frames that followed


class StreamAssembler:
    """Frames in, records out. One per source; survives reconnects and device restarts.

    A counter behind the timeline is a duplicate only when the values match what was
    received; otherwise the device restarted (a repeated INFO frame says so at once, or
    ``CONFIRM_FRAMES`` consecutive frames do) and the new data starts a new segment after a
    gap whose length comes from the host clock. An implausibly large forward jump is held
    the same way: confirmed, it becomes a clock-length gap; contradicted by the next normal
    frame, it was a corrupt frame and is dropped and reported."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.info: DeviceInfo | None = None
        self.stats = AssemblerStats()
        self.next_index = 0  # session sample index of the next sample
        self._expected: int | None = None  # device counter of the next sample
        self._reconnected = False  # the link came back: the next samples decide how many were lost
        self._info_repeated = False  # an INFO frame arrived mid-stream: a restart is likely
        self._last_rx: float | None = None  # host time of the last accepted samples
        self._last_link_t: float | None = None  # ... by the link's clock (``Link.device_time``): outages
        self._link_now = 0.0  # the link's clock at the frames being fed
        self._recent = np.empty((0, 0), dtype=np.int32)  # last samples' counts, ending at _expected
        self._suspects: list[tuple[SamplesFrame, float, float]] = []  # (frame, host time, link time)
        self.pongs: list[int] = []
        self.acks: list[AckFrame] = []
        #: (channels, sample format) of the last samples frame that disagreed with the INFO
        self.last_mismatch: tuple[int, int] | None = None

    @property
    def last_samples_at(self) -> float | None:
        """When the last samples arrived (``feed``'s clock), None before any."""
        return self._last_rx

    def on_reconnect(self) -> None:
        """The link was down; the next samples decide how many were lost, against the host
        clock's time from the last samples to the first new one (``_silence_s``: a board that
        resets as its port opens takes a second in its bootloader before it streams again, and
        that second is lost too)."""
        self._reconnected = True

    def _silence_s(self, f: SamplesFrame, received_at: float) -> float:
        """Seconds by the link's clock from the last samples to ``f``'s first one, which came a
        frame's length before ``f`` arrived (``received_at``, the link's clock; 0 before any samples)."""
        assert self.info is not None
        if self._last_link_t is None:
            return 0.0
        return max(received_at - f.n_samples / self.info.fs - self._last_link_t, 0.0)

    def feed(self, frames: list[Frame], received_at: float | None = None, link_time: float | None = None) -> list[Record]:
        """``received_at``: the host's clock when the bytes came (latency, LSL time stamps);
        ``link_time``: the link's clock then, by which outages are measured (the same when not given)."""
        out: list[Record] = []
        now = time.monotonic() if received_at is None else received_at
        self._link_now = now if link_time is None else link_time
        for f in frames:
            if isinstance(f, SamplesFrame):
                out.extend(self._samples(f, now))
            elif isinstance(f, InfoFrame):
                out.extend(self._info(f))
            elif isinstance(f, StatusFrame):
                self.stats.device_overruns = f.overruns
                out.append(StatusRecord(self.next_index, f.battery_mv or None, None if f.battery_pct == 255 else f.battery_pct,
                                        f.lead_off, f.saturated, f.streaming, f.overruns, f.lead_off_mask))
            elif isinstance(f, PongFrame):
                self.pongs.append(f.token)
            elif isinstance(f, AckFrame):
                self.acks.append(f)
        return out

    def _info(self, f: InfoFrame) -> list[Record]:
        info = DeviceInfo.from_frame(f, self.source)
        if self.info is not None and not self.info.same_stream(info):
            log.warning("device format changed: %s -> %s", self.info.to_dict(), info.to_dict())
            self._expected = None
            self._recent = np.empty((0, 0), dtype=np.int32)
            self._suspects.clear()
        elif self._expected is not None:
            self._info_repeated = True
        self.info = info
        return [info]

    def _samples(self, f: SamplesFrame, now: float) -> list[Record]:
        info = self.info
        if info is None:
            self.stats.before_info += 1
            return []
        if f.n_channels != info.n_channels or f.sample_format != info.sample_format:
            self.stats.mismatched += 1
            self.last_mismatch = (f.n_channels, f.sample_format)
            return []
        counts = np.asarray(f.counts, dtype=np.int32).reshape(-1, f.n_channels).T
        n = counts.shape[1]
        if self._expected is None:
            self._expected = f.first_sample
        diff = (f.first_sample - self._expected) % COUNTER_MOD
        if self._reconnected:
            out: list[Record] = self._drop_suspects()
            self._reconnected = self._info_repeated = False
            by_clock = int(round(self._silence_s(f, self._link_now) * info.fs))
            if diff < COUNTER_MOD // 2 and abs(diff - by_clock) <= max(2 * info.fs, 0.5 * by_clock):
                if diff:
                    out.append(self._gap(diff, "link down; device kept counting", True))
            else:
                out.append(self._gap(max(by_clock, 1), "device restarted; length from the host clock", False))
            return out + self._accept(f.first_sample, counts, now)
        if diff == 0:
            return self._drop_suspects() + self._accept(f.first_sample, counts, now)
        if diff < COUNTER_MOD // 2:
            elapsed = 0.0 if self._last_link_t is None else max(self._link_now - self._last_link_t, 0.0)
            if diff <= max(MAX_JUMP_S, elapsed + JUMP_SLACK_S) * info.fs:
                out = self._drop_suspects()
                out.append(self._gap(diff, "samples lost in transit or on the device", True))
                return out + self._accept(f.first_sample, counts, now)
            return self._suspect(f, counts, now, backward=False)
        behind = COUNTER_MOD - diff  # samples we may already have
        overlap = min(behind, n)
        have = self._recent.shape[1]
        if behind <= have and np.array_equal(counts[:, :overlap], self._recent[:, have - behind: have - behind + overlap]):
            if overlap >= n:
                self.stats.duplicates += 1
                return []
            return self._drop_suspects() + self._accept((f.first_sample + overlap) % COUNTER_MOD, counts[:, overlap:],
                                                        now)
        if self._info_repeated:
            return self._resync([(f, now, self._link_now)], backward=True)
        return self._suspect(f, counts, now, backward=True)

    def _suspect(self, f: SamplesFrame, counts: np.ndarray, now: float, backward: bool) -> list[Record]:
        """Hold a frame that does not fit the timeline until the next frames confirm it."""
        out: list[Record] = []
        if self._suspects:
            last = self._suspects[-1][0]
            if (last.first_sample + last.n_samples) % COUNTER_MOD != f.first_sample:
                out = self._drop_suspects()
        self._suspects.append((f, now, self._link_now))
        if len(self._suspects) >= CONFIRM_FRAMES:
            held, self._suspects = self._suspects, []
            return out + self._resync(held, backward)
        return out

    def _drop_suspects(self) -> list[Record]:
        """The timeline went on as before: the held frames were corrupt. Say so."""
        if not self._suspects:
            return []
        n = len(self._suspects)
        first = self._suspects[0][0].first_sample
        self._suspects.clear()
        self.stats.implausible_jumps += n
        why = f"{counted(n, 'frame')} with an implausible sample counter ({first}, expected {self._expected}) dropped"
        log.warning("%s: %s", self.source, why)
        return [LinkEvent("error", why)]

    def _resync(self, held: list[tuple[SamplesFrame, float, float]], backward: bool) -> list[Record]:
        """Start a new segment at the held frames, after a gap measured by the host clock."""
        assert self.info is not None
        f0, _, link_t0 = held[0]
        fs = self.info.fs
        # the samples a restarted board took before the host's START (its counter's start) were
        # never sent and lie in the gap too
        n_gap = max(int(round(self._silence_s(f0, link_t0) * fs)), 1)
        if backward:
            self.stats.restarts += 1
            reason = "device restarted (counter began again); length from the host clock"
        else:
            self.stats.resyncs += 1
            reason = "sample counter jumped; resynchronised, length from the host clock"
        log.warning("%s: %s", self.source, reason)
        self._info_repeated = False
        out: list[Record] = [self._gap(n_gap, reason, False)]
        self._recent = np.empty((0, 0), dtype=np.int32)
        for f, t, link_t in held:
            counts = np.asarray(f.counts, dtype=np.int32).reshape(-1, f.n_channels).T
            out += self._accept(f.first_sample, counts, t, link_t)
        return out

    def _accept(self, first_counter: int, counts: np.ndarray, now: float,
                link_t: float | None = None) -> list[Record]:
        assert self.info is not None
        n = counts.shape[1]
        self._expected = (first_counter + n) % COUNTER_MOD
        self._last_rx = now
        self._last_link_t = self._link_now if link_t is None else link_t
        self._info_repeated = False
        keep = max(int(RECENT_S * self.info.fs), 1)
        recent = counts if self._recent.shape[0] != counts.shape[0] else np.concatenate([self._recent, counts], axis=1)
        self._recent = recent[:, -keep:]
        uv = (counts * np.float32(self.info.uv_per_count)).astype(np.float32)
        block = SampleBlock(self.next_index, self.info.fs, uv, now)
        self.next_index += n
        self.stats.samples += n
        return [block]

    def _gap(self, n: int, reason: str, exact: bool) -> GapRecord:
        assert self.info is not None
        gap = GapRecord(self.next_index, n, self.info.fs, reason, exact)
        self.next_index += n
        self.stats.samples_lost += n
        self.stats.gaps += 1
        self._recent = np.empty((0, 0), dtype=np.int32)
        # a lost frame or a few (a busy radio) is only counted: at 5 % lost that was ~9,000 lines an
        # hour in a daemon's journal; the status line and the summary still count every gap, and
        # a gap the detector restarts after is said
        log.log(logging.DEBUG if exact and gap.duration_s <= QUIET_GAP_S else logging.INFO,
                "gap of %d samples (%.3f s) at %.3f s: %s", n, gap.duration_s, gap.onset_s, reason)
        return gap
