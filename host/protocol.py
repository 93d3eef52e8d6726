"""The myotwitch wire protocol (see PROTOCOL.md): COBS framing, CRC-16, typed frames.

``encode_*`` build frames; ``Decoder`` turns an arbitrary byte stream into frames and
never raises on bad input: every problem is counted in ``Decoder.stats`` and decoding
resumes at the next 0x00 delimiter.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import asdict, dataclass, field

PROTOCOL_VERSION = 1
MAX_BODY = 2048  # bytes of header + payload + CRC before COBS (frames larger than this are rejected)
DELIMITER = b"\x00"

T_INFO, T_SAMPLES, T_STATUS, T_PONG, T_ACK = 0x01, 0x02, 0x03, 0x04, 0x05
T_COMMAND = 0x10
FMT_INT16, FMT_INT24 = 1, 2
SAMPLE_BYTES = {FMT_INT16: 2, FMT_INT24: 3}

CMD_START, CMD_STOP, CMD_SET_RATE, CMD_PING, CMD_GET_INFO, CMD_GET_STATUS = 1, 2, 3, 4, 5, 6
#: an INFO's scale must lie in (0, this) µV per count (PROTOCOL.md)
MAX_UV_PER_COUNT = 1e6
COMMAND_NAMES = {CMD_START: "start", CMD_STOP: "stop", CMD_SET_RATE: "set_rate", CMD_PING: "ping",
                 CMD_GET_INFO: "get_info", CMD_GET_STATUS: "get_status"}
ACK_OK, ACK_UNKNOWN, ACK_BAD_ARG, ACK_BUSY = 0, 1, 2, 3

STATUS_LEAD_OFF, STATUS_SATURATED, STATUS_STREAMING, STATUS_USB_POWER = 1, 2, 4, 8
MAX_LABEL = 16
INFO_FIXED = struct.calcsize("<BBBBQHBBfB")  # 21 bytes before the labels
STATUS_LEN = struct.calcsize("<HBBBIII")  # 17 bytes
RATE_MIN_HZ, RATE_MAX_HZ = 250, 4000
#: the firmware's command buffer (firmware/core/mt_config.h ``MT_CMD_MAX_ENCODED``): COBS bytes of
#: one command without its delimiter; a longer command is dropped unanswered (PROTOCOL.md)
CMD_MAX_ENCODED = 16
#: the longest COBS frame a body of ``MAX_BODY`` bytes encodes to, without its delimiter
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 2
MAX_CHANNELS = 8


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): check value 0x29B1 for b'123456789'."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the output has no 0x00 bytes."""
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Inverse of cobs_encode; None when the input is not valid COBS."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if code == 0 or end > n:
            return None
        chunk = data[i + 1: end]
        if 0 in chunk:
            return None
        out += chunk
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


# -- frame types --------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    seq: int

    def to_dict(self) -> dict:
        d = asdict(self)
        d["type"] = type(self).__name__
        return d


@dataclass(frozen=True)
class InfoFrame(Frame):
    protocol_version: int
    firmware: tuple[int, int, int]
    device_id: int
    sample_rate_hz: int
    n_channels: int
    sample_format: int
    uv_per_count: float
    streaming: bool
    labels: tuple[str, ...]

    @property
    def device_id_hex(self) -> str:
        return f"{self.device_id:016x}"


@dataclass(frozen=True)
class SamplesFrame(Frame):
    first_sample: int
    n_channels: int
    sample_format: int
    counts: tuple[int, ...]  # interleaved: s0c0, s0c1, ..., s1c0, ...

    @property
    def n_samples(self) -> int:
        return len(self.counts) // self.n_channels


@dataclass(frozen=True)
class StatusFrame(Frame):
    battery_mv: int
    battery_pct: int  # 255 = unknown
    flags: int
    lead_off_mask: int
    overruns: int
    sample_counter: int
    uptime_ms: int

    @property
    def lead_off(self) -> bool:
        return bool(self.flags & STATUS_LEAD_OFF)

    @property
    def saturated(self) -> bool:
        return bool(self.flags & STATUS_SATURATED)

    @property
    def streaming(self) -> bool:
        return bool(self.flags & STATUS_STREAMING)


@dataclass(frozen=True)
class PongFrame(Frame):
    token: int


@dataclass(frozen=True)
class AckFrame(Frame):
    opcode: int
    status: int


@dataclass(frozen=True)
class CommandFrame(Frame):
    opcode: int
    argument: int = 0  # rate in Hz for set_rate, token for ping


class FieldError(ValueError):
    """A frame passed its CRC but a field is impossible."""


class VersionError(FieldError):
    """A whole frame of another protocol version (firmware older or newer than this host)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"protocol version {version}, expected {PROTOCOL_VERSION}")
        self.version = version


# -- encoding ------------------------------------------------------------------------------
def _frame(ftype: int, seq: int, payload: bytes) -> bytes:
    body = struct.pack("<BBH", PROTOCOL_VERSION, ftype, seq & 0xFFFF) + payload
    body += struct.pack("<H", crc16(body))
    if len(body) > MAX_BODY:
        raise ValueError(f"frame body {len(body)} bytes exceeds {MAX_BODY}")
    return cobs_encode(body) + DELIMITER


def encode_info(seq: int, *, firmware: tuple[int, int, int], device_id: int, sample_rate_hz: int,
                n_channels: int, sample_format: int, uv_per_count: float, streaming: bool,
                labels: tuple[str, ...] | list[str], protocol_version: int = PROTOCOL_VERSION) -> bytes:
    if len(labels) != n_channels:
        raise ValueError("one label per channel")
    payload = struct.pack("<BBBBQHBBfB", protocol_version, *firmware, device_id, sample_rate_hz, n_channels,
                          sample_format, uv_per_count, 1 if streaming else 0)
    for label in labels:
        raw = label.encode("ascii")[:MAX_LABEL]
        payload += bytes([len(raw)]) + raw
    return _frame(T_INFO, seq, payload)


def pack_counts(counts, sample_format: int) -> bytes:
    if sample_format == FMT_INT16:
        return struct.pack(f"<{len(counts)}h", *counts)
    out = bytearray()
    for c in counts:
        out += int(c).to_bytes(3, "little", signed=True)
    return bytes(out)


def encode_samples(seq: int, first_sample: int, n_channels: int, sample_format: int, counts) -> bytes:
    counts = [int(c) for c in counts]
    if not counts or len(counts) % n_channels:
        raise ValueError("sample count must be a non-zero multiple of the channel count")
    n = len(counts) // n_channels
    if n > 255:
        raise ValueError("at most 255 samples per channel per frame")
    payload = struct.pack("<IBBB", first_sample & 0xFFFFFFFF, n_channels, sample_format, n)
    return _frame(T_SAMPLES, seq, payload + pack_counts(counts, sample_format))


def encode_status(seq: int, *, battery_mv: int, battery_pct: int, flags: int, lead_off_mask: int,
                  overruns: int, sample_counter: int, uptime_ms: int) -> bytes:
    payload = struct.pack("<HBBBIII", battery_mv, battery_pct, flags, lead_off_mask, overruns & 0xFFFFFFFF,
                          sample_counter & 0xFFFFFFFF, uptime_ms & 0xFFFFFFFF)
    return _frame(T_STATUS, seq, payload)


def encode_pong(seq: int, token: int) -> bytes:
    return _frame(T_PONG, seq, struct.pack("<I", token & 0xFFFFFFFF))


def encode_ack(seq: int, opcode: int, status: int) -> bytes:
    return _frame(T_ACK, seq, struct.pack("<BB", opcode, status))


def encode_command(seq: int, opcode: int, argument: int = 0) -> bytes:
    if opcode == CMD_SET_RATE:
        payload = struct.pack("<BH", opcode, argument)
    elif opcode == CMD_PING:
        payload = struct.pack("<BI", opcode, argument & 0xFFFFFFFF)
    else:
        payload = struct.pack("<B", opcode)
    return _frame(T_COMMAND, seq, payload)


def encode_frame(frame: Frame) -> bytes:
    """Encode any Frame object (used by the simulator and the test vectors)."""
    if isinstance(frame, InfoFrame):
        return encode_info(frame.seq, firmware=frame.firmware, device_id=frame.device_id,
                           sample_rate_hz=frame.sample_rate_hz, n_channels=frame.n_channels,
                           sample_format=frame.sample_format, uv_per_count=frame.uv_per_count,
                           streaming=frame.streaming, labels=frame.labels,
                           protocol_version=frame.protocol_version)
    if isinstance(frame, SamplesFrame):
        return encode_samples(frame.seq, frame.first_sample, frame.n_channels, frame.sample_format, frame.counts)
    if isinstance(frame, StatusFrame):
        return encode_status(frame.seq, battery_mv=frame.battery_mv, battery_pct=frame.battery_pct,
                             flags=frame.flags, lead_off_mask=frame.lead_off_mask, overruns=frame.overruns,
                             sample_counter=frame.sample_counter, uptime_ms=frame.uptime_ms)
    if isinstance(frame, PongFrame):
        return encode_pong(frame.seq, frame.token)
    if isinstance(frame, AckFrame):
        return encode_ack(frame.seq, frame.opcode, frame.status)
    if isinstance(frame, CommandFrame):
        return encode_command(frame.seq, frame.opcode, frame.argument)
    raise TypeError(f"not a frame: {frame!r}")


# -- decoding -----------------------------------------------------------------------------
def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise FieldError(f"{what} payload is {len(payload)} bytes, needs {n}")


def parse_body(body: bytes) -> Frame:
    """Parse a COBS-decoded body whose CRC was checked. Raises FieldError on impossible fields."""
    version, ftype, seq = struct.unpack_from("<BBH", body)
    if version != PROTOCOL_VERSION:
        raise VersionError(version)
    p = body[4:-2]
    if ftype == T_SAMPLES:
        _need(p, 7, "samples")
        first, nch, fmt, n = struct.unpack_from("<IBBB", p)
        if not 1 <= nch <= MAX_CHANNELS:
            raise FieldError(f"samples frame with {nch} channels")
        if fmt not in SAMPLE_BYTES:
            raise FieldError(f"unknown sample format {fmt}")
        width = SAMPLE_BYTES[fmt]
        if n == 0 or len(p) != 7 + n * nch * width:
            raise FieldError(f"samples frame length {len(p)} does not match {n} x {nch} x {width} bytes")
        data = p[7:]
        if fmt == FMT_INT16:
            counts = struct.unpack(f"<{n * nch}h", data)
        else:
            counts = tuple(int.from_bytes(data[i: i + 3], "little", signed=True) for i in range(0, len(data), 3))
        return SamplesFrame(seq, first, nch, fmt, counts)
    if ftype == T_INFO:
        _need(p, INFO_FIXED, "info")
        pv, fa, fb, fc, dev, rate, nch, fmt, uvpc, flags = struct.unpack_from("<BBBBQHBBfB", p)
        if not 1 <= nch <= MAX_CHANNELS:
            raise FieldError(f"info frame with {nch} channels")
        if fmt not in SAMPLE_BYTES:
            raise FieldError(f"unknown sample format {fmt}")
        if not RATE_MIN_HZ <= rate <= RATE_MAX_HZ:
            raise FieldError(f"sample rate {rate} Hz outside {RATE_MIN_HZ}-{RATE_MAX_HZ}")
        if not (uvpc > 0 and uvpc < MAX_UV_PER_COUNT):
            raise FieldError(f"µV per count {uvpc!r} is not a number above 0 and under {MAX_UV_PER_COUNT:g}")
        labels, i = [], INFO_FIXED
        for _ in range(nch):
            if i >= len(p) or p[i] > MAX_LABEL or i + 1 + p[i] > len(p):
                raise FieldError("channel labels truncated")
            try:
                labels.append(p[i + 1: i + 1 + p[i]].decode("ascii"))
            except UnicodeDecodeError as e:
                raise FieldError("channel label is not ASCII") from e
            i += 1 + p[i]
        if i != len(p):
            raise FieldError("trailing bytes after channel labels")
        return InfoFrame(seq, pv, (fa, fb, fc), dev, rate, nch, fmt, float(uvpc), bool(flags & 1), tuple(labels))
    if ftype == T_STATUS:
        if len(p) != STATUS_LEN:
            raise FieldError(f"status payload is {len(p)} bytes, expected {STATUS_LEN}")
        return StatusFrame(seq, *struct.unpack("<HBBBIII", p))
    if ftype == T_PONG:
        if len(p) != 4:
            raise FieldError(f"pong payload is {len(p)} bytes, expected 4")
        return PongFrame(seq, struct.unpack("<I", p)[0])
    if ftype == T_ACK:
        if len(p) != 2:
            raise FieldError(f"ack payload is {len(p)} bytes, expected 2")
        return AckFrame(seq, p[0], p[1])
    if ftype == T_COMMAND:
        _need(p, 1, "command")
        op = p[0]
        if op == CMD_SET_RATE and len(p) == 3:
            return CommandFrame(seq, op, struct.unpack_from("<H", p, 1)[0])
        if op == CMD_PING and len(p) == 5:
            return CommandFrame(seq, op, struct.unpack_from("<I", p, 1)[0])
        if op in (CMD_START, CMD_STOP, CMD_GET_INFO, CMD_GET_STATUS) and len(p) == 1:
            return CommandFrame(seq, op, 0)
        if op not in COMMAND_NAMES:  # (a command of a newer host: the device answers ACK "unknown")
            return CommandFrame(seq, op, 0)
        raise FieldError(f"command {op} with {len(p) - 1} argument bytes")
    raise FieldError(f"unknown frame type 0x{ftype:02x}")


@dataclass
class DecoderStats:
    frames: int = 0
    bytes_in: int = 0
    bytes_discarded: int = 0
    cobs_errors: int = 0
    crc_errors: int = 0
    length_errors: int = 0
    field_errors: int = 0
    oversize: int = 0
    seq_gaps: int = 0  # frames missing according to the sequence number
    last_error: str = ""
    other_version: int = 0  # the protocol version of the last whole frame of another version (0: none)

    @property
    def errors(self) -> int:
        return self.cobs_errors + self.crc_errors + self.length_errors + self.field_errors + self.oversize

    def to_dict(self) -> dict:
        d = asdict(self)
        d["errors"] = self.errors
        return d


@dataclass
class Decoder:
    """Incremental decoder: ``feed(chunk)`` returns the frames completed by that chunk. Frames
    longer than ``max_encoded`` COBS bytes are dropped (the simulator reads commands with the
    firmware's ``CMD_MAX_ENCODED``)."""

    stats: DecoderStats = field(default_factory=DecoderStats)
    max_encoded: int = MAX_ENCODED

    def __post_init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False  # an oversize frame: drop bytes until the next delimiter
        self._last_seq: int | None = None

    def reset(self) -> None:
        """Forget partial input and sequence state (a new connection)."""
        self._buf.clear()
        self._skipping = False
        self._last_seq = None

    def feed(self, chunk: bytes) -> list[Frame]:
        frames: list[Frame] = []
        self.stats.bytes_in += len(chunk)
        start = 0
        while True:
            end = chunk.find(0, start)
            if end < 0:
                self._append(chunk[start:])
                return frames
            self._append(chunk[start:end])
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._buf.clear()
                continue
            if self._buf:
                frame = self._decode(bytes(self._buf))
                self._buf.clear()
                if frame is not None:
                    frames.append(frame)

    def _append(self, data: bytes) -> None:
        if self._skipping:
            self.stats.bytes_discarded += len(data)
            return
        self._buf += data
        if len(self._buf) > self.max_encoded:
            self.stats.oversize += 1
            self.stats.bytes_discarded += len(self._buf)
            self.stats.last_error = "frame longer than the protocol maximum"
            self._buf.clear()
            self._skipping = True

    def _reject(self, counter: str, n: int, why: str) -> None:
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.stats.bytes_discarded += n + 1
        self.stats.last_error = why

    def _decode(self, raw: bytes) -> Frame | None:
        body = cobs_decode(raw)
        if body is None:
            self._reject("cobs_errors", len(raw), "invalid COBS encoding")
            return None
        if len(body) < 6:
            self._reject("length_errors", len(raw), f"frame of {len(body)} bytes is too short")
            return None
        if len(body) > MAX_BODY:  # (its COBS can fit the byte limit above when the body holds zeros)
            self._reject("oversize", len(raw), f"frame body of {len(body)} bytes is over the protocol's {MAX_BODY}")
            return None
        if crc16(body[:-2]) != struct.unpack_from("<H", body, len(body) - 2)[0]:
            self._reject("crc_errors", len(raw), "CRC mismatch")
            return None
        try:
            frame = parse_body(body)
        except FieldError as e:
            self._reject("field_errors", len(raw), str(e))
            if isinstance(e, VersionError):
                self.stats.other_version = e.version
            return None
        if self._last_seq is not None:
            missing = (frame.seq - self._last_seq - 1) & 0xFFFF
            if 0 < missing < 0x8000:
                self.stats.seq_gaps += missing
        self._last_seq = frame.seq
        self.stats.frames += 1
        return frame
