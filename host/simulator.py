"""A virtual myotwitch device: synthetic calf EMG spoken over the real wire protocol.

It behaves like the firmware: answers commands, streams SAMPLES frames with a running
sample counter, sends STATUS once a second, and can inject faults (bit errors, dropped
frames, disconnects, stalls) so the host's recovery paths can be exercised without hardware.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from myotwitch.dsp.synth import SynthSpec, scene_stream
from myotwitch.host import protocol as P

log = logging.getLogger(__name__)

SIM_DEVICE_ID = 0x5107_0000_0000_0001
SIM_FIRMWARE = (0, 1, 0)
#: the sample timer's clock, as the XIAO's (1 MHz; the Uno's 2 MHz divides a superset of its
#: rates): SET_RATE refuses a rate it cannot divide exactly, as the firmware does
TIMER_HZ = 1_000_000


@dataclass(frozen=True)
class Faults:
    """Fault injection. Rates are per byte / per frame; intervals in seconds of device time."""

    bit_error_rate: float = 0.0
    drop_frame_rate: float = 0.0
    disconnect_every_s: float = 0.0
    disconnect_for_s: float = 1.0
    stall_every_s: float = 0.0
    stall_for_s: float = 3.0
    reset_every_s: float = 0.0  # the device restarts (counter back to 0, INFO again) while the link stays up
    seed: int = 1

    @property
    def any(self) -> bool:
        return bool(self.bit_error_rate or self.drop_frame_rate or self.disconnect_every_s or self.stall_every_s
                    or self.reset_every_s)


class VirtualDevice:
    """Firmware behaviour in Python. Feed host bytes to ``receive``; call ``step(n)`` to
    sample ``n`` more samples and get the bytes the device would send."""

    def __init__(self, spec: SynthSpec, *, uv_per_count: float = 0.125, sample_format: int = P.FMT_INT16,
                 frame_samples: int | None = None, device_id: int = SIM_DEVICE_ID, streaming: bool = False,
                 faults: Faults | None = None, labels: tuple[str, ...] | None = None) -> None:
        self.spec = spec
        self.synth = scene_stream(spec)  # with recurring sources / crosstalk if asked
        self.uv_per_count = uv_per_count
        self.sample_format = sample_format
        self.fs = int(spec.fs)
        self.n_channels = spec.n_channels
        # like the firmware: a frame fits one 244-byte BLE notification and spans at most 20 ms,
        # so no sample waits longer than that on the device (see PROTOCOL.md)
        width = P.SAMPLE_BYTES[sample_format]
        self.frame_samples = frame_samples or max(1, min(64, (244 - 16) // (width * self.n_channels),
                                                         int(self.fs) // 50))
        self.device_id = device_id
        self.labels = labels or tuple(["gastrocnemius", "soleus", "tibialis", "ch4", "ch5", "ch6", "ch7", "ch8"]
                                      [: self.n_channels])
        self.streaming = streaming
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._decoder = P.Decoder(max_encoded=P.CMD_MAX_ENCODED)  # (the firmware's command buffer)
        self._seq = 0
        self.sample_counter = 0  # the device's running counter: counts every sample taken
        self.streamed = 0  # samples taken while streaming (the synthetic signal's, and its truth's, length)
        self.overruns = 0
        self._since_status = 0
        self.time_s = 0.0
        self._pending = np.empty((self.n_channels, 0), dtype=np.int32)
        self._pending_first = 0
        self.sent_frames = 0
        self.dropped_frames: list[tuple[int, int]] = []  # (first_sample, n) of frames not sent
        self.resets = 0

    # -- host -> device ----------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        """Handle command bytes from the host; returns the device's replies."""
        out = bytearray()
        for frame in self._decoder.feed(data):
            if not isinstance(frame, P.CommandFrame):
                continue
            op = frame.opcode
            if op == P.CMD_START:
                self.streaming = True
                out += self._ack(op, P.ACK_OK)
            elif op == P.CMD_STOP:
                self.streaming = False
                out += self._flush_pending()
                out += self._ack(op, P.ACK_OK)
            elif op == P.CMD_SET_RATE:
                if self.streaming or not P.RATE_MIN_HZ <= frame.argument <= P.RATE_MAX_HZ \
                        or TIMER_HZ % frame.argument:
                    out += self._ack(op, P.ACK_BUSY if self.streaming else P.ACK_BAD_ARG)
                else:
                    self.spec = self.spec.with_(fs=float(frame.argument))
                    self.synth = scene_stream(self.spec)
                    self.fs = frame.argument
                    out += self._ack(op, P.ACK_OK) + self.info_frame()
            elif op == P.CMD_PING:
                out += P.encode_pong(self._next_seq(), frame.argument)
            elif op == P.CMD_GET_INFO:
                out += self.info_frame()
            elif op == P.CMD_GET_STATUS:
                out += self.status_frame()
            else:
                out += self._ack(op, P.ACK_UNKNOWN)
        return bytes(out)

    def _ack(self, op: int, status: int) -> bytes:
        return P.encode_ack(self._next_seq(), op, status)

    def _next_seq(self) -> int:
        s = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        return s

    def info_frame(self) -> bytes:
        return P.encode_info(self._next_seq(), firmware=SIM_FIRMWARE, device_id=self.device_id,
                             sample_rate_hz=self.fs, n_channels=self.n_channels, sample_format=self.sample_format,
                             uv_per_count=self.uv_per_count, streaming=self.streaming, labels=self.labels)

    def status_frame(self) -> bytes:
        flags = P.STATUS_STREAMING if self.streaming else 0
        return P.encode_status(self._next_seq(), battery_mv=3900, battery_pct=87, flags=flags, lead_off_mask=0,
                               overruns=self.overruns, sample_counter=self.sample_counter,
                               uptime_ms=int(self.time_s * 1000))

    # -- sampling -------------------------------------------------------------------------
    def to_counts(self, uv: np.ndarray) -> np.ndarray:
        half = 1 << (15 if self.sample_format == P.FMT_INT16 else 23)
        return np.clip(np.round(uv / self.uv_per_count), -half, half - 1).astype(np.int32)

    def step(self, n: int) -> bytes:
        """Advance device time by ``n`` samples; return the bytes sent meanwhile."""
        before = self.time_s
        self.time_s += n / self.fs
        out = bytearray()
        every = self.faults.reset_every_s
        if every and int(self.time_s // every) != int(before // every):
            out += self._reset()
        if not self.streaming:  # sampled all the same: the counter runs from power-up, as the firmware's
            self.sample_counter += n
        else:
            counts = self.to_counts(self.synth.read(n))
            if self._pending.shape[1] == 0:
                self._pending_first = self.sample_counter
            self._pending = np.concatenate([self._pending, counts], axis=1)
            self.sample_counter += n
            self.streamed += n
            k = self.frame_samples
            while self._pending.shape[1] >= k:
                out += self._samples_frame(self._pending[:, :k])
                self._pending = self._pending[:, k:]
            self._since_status += n
            if self._since_status >= self.fs:
                self._since_status -= self.fs
                out += self.status_frame()
        return self._corrupt(bytes(out))

    def _reset(self) -> bytes:
        """A watchdog or brown-out reset: RAM (unsent samples, counters) is gone; as the
        firmware, the board announces itself with INFO and waits for START (the host, wanting
        samples, sends it when it reads that INFO)."""
        self.resets += 1
        self.streaming = False
        self.sample_counter = 0
        self.overruns = 0
        self._since_status = 0
        self._seq = 0
        self._pending = self._pending[:, :0]
        self._pending_first = 0
        log.info("simulated device reset %d at %.2f s", self.resets, self.time_s)
        return self.info_frame()

    def _flush_pending(self) -> bytes:
        if self._pending.shape[1] == 0:
            return b""
        out = self._samples_frame(self._pending)
        self._pending = self._pending[:, :0]
        return out

    def _samples_frame(self, counts: np.ndarray) -> bytes:
        first = self._pending_first
        n = counts.shape[1]
        self._pending_first += n
        frame = P.encode_samples(self._next_seq(), first, self.n_channels, self.sample_format,
                                 counts.T.reshape(-1).tolist())
        if self.faults.drop_frame_rate and self._rng.random() < self.faults.drop_frame_rate:
            self.dropped_frames.append((first, n))
            return b""
        self.sent_frames += 1
        return frame

    def _corrupt(self, data: bytes) -> bytes:
        ber = self.faults.bit_error_rate
        if not ber or not data:
            return data
        buf = bytearray(data)
        k = np.random.default_rng(self._rng.getrandbits(32)).binomial(len(buf), min(ber, 1.0))
        for _ in range(k):
            i = self._rng.randrange(len(buf))
            buf[i] ^= 1 << self._rng.randrange(8)
        return bytes(buf)

    def fault_schedule(self) -> tuple[bool, bool]:
        """(disconnected, stalled) now, from the fault intervals and device time."""
        f = self.faults
        down = bool(f.disconnect_every_s) and (self.time_s % f.disconnect_every_s) > f.disconnect_every_s - f.disconnect_for_s
        stall = bool(f.stall_every_s) and (self.time_s % f.stall_every_s) > f.stall_every_s - f.stall_for_s
        return down, stall
