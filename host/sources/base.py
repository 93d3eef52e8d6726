"""One source interface for every transport, and the shared byte-link policy.

A ``Source`` yields records (``host.stream``): DeviceInfo, SampleBlock, GapRecord,
StatusRecord, LinkEvent. Byte transports (serial, BLE, simulator) only implement a small
``Link`` (open/read/write/close); ``LinkSource`` holds the policy they share: decoding,
sample accounting, stall detection and reconnecting with backoff, never hiding a gap.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

from myotwitch.dsp.config import FS_MAX_HZ, FS_MIN_HZ
from myotwitch.host import protocol as P
from myotwitch.host.errors import SourceError
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, Record, StreamAssembler

log = logging.getLogger(__name__)


def rate_problem(fs: float) -> str:
    """Why samples at this nominal rate cannot be read ("" when it can): an LSL stream's
    ``plan_stream`` and a BrainFlow board refuse it so, and ``lsl.list_streams`` marks it."""
    if abs(fs - round(fs)) > 1e-6:
        return "myotwitch needs a whole-number rate"
    if not FS_MIN_HZ <= fs <= FS_MAX_HZ:
        return f"the twitch detector needs {FS_MIN_HZ:g}-{FS_MAX_HZ:g} Hz (twitch energy lies above 20 Hz up to ~450 Hz)"
    return ""


#: while a connected device has not said what it is, GET_INFO is asked again this often: the INFO
#: an Uno says after the bootloader that swallowed the first ask may be lost or spoilt, and it
#: then waits for START in silence (a stall, whose reopening resets it into the same again)
INFO_RETRY_S = 1.0
#: seconds a connected device that has said what it is (INFO) may send nothing usable before
#: the source says why: frames spoilt by text on the port, samples that disagree with its INFO
UNUSABLE_AFTER_S = 5.0


class LinkError(Exception):
    """The transport failed (unplugged, dropped, closed). LinkSource reconnects."""


class Source(ABC):
    """Base class for all sources. ``read`` returns whatever records are ready (possibly none)
    within ``timeout`` seconds. ``close`` is idempotent; ``with source:`` closes it."""

    spec: str = ""

    def __init__(self) -> None:
        self.closed = False

    @property
    @abstractmethod
    def info(self) -> DeviceInfo | None: ...

    @abstractmethod
    def read(self, timeout: float = 0.5) -> list[Record]: ...

    def send_command(self, opcode: int, argument: int = 0) -> None:
        raise SourceError(f"{self.spec}: this source does not accept commands")

    def stats(self) -> dict:
        return {}

    def heard(self) -> str:
        """What came in so far, in words, for an error when nothing usable did ("" if unknown)."""
        return ""

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Record]:
        while not self.closed:
            yield from self.read()


class Link(ABC):
    """A byte transport. ``open`` raises SourceError for problems a user must fix (no such
    port, permission denied) and LinkError for ones that may go away (device not there yet)."""

    name: str = ""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, timeout: float) -> bytes: ...

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def hint(self) -> str:
        """What to try when nothing readable comes over this link ("" if nothing to say)."""
        return ""

    def device_time(self) -> float:
        """Seconds on the device's side of the link, by which an outage is measured when the
        device's counter cannot say: the host's clock, except where the device keeps its own
        time at another pace (a simulator run faster than real time)."""
        return time.monotonic()


class Backoff:
    """When to try a lost device again: soon after a loss, then doubling up to a ceiling.
    One policy for every source that reconnects (serial, BLE, LSL, BrainFlow)."""

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.delay = lo
        self.next_try = 0.0

    def connected(self) -> None:
        self.delay = self.lo

    def failed(self) -> None:
        """A try failed: wait the current delay, and twice as long next time."""
        self.next_try = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, self.hi)

    def lost(self) -> None:
        """A working link went away: the first try comes after the shortest delay."""
        self.delay = self.lo
        self.next_try = time.monotonic() + self.delay

    def wait(self, timeout: float) -> bool:
        """Sleep toward the next try (at most ``timeout``); True while it is not due yet."""
        left = self.next_try - time.monotonic()
        if left > 0:
            time.sleep(min(left, timeout))
            return True
        return False


class ReconnectingSource(Source):
    """A source that waits for its device to come back (serial/BLE link, LSL, BrainFlow): the
    bookkeeping every loss shares, in one place."""

    spec: str
    reconnect: bool
    retry: Backoff
    _pending: list[Record]

    def _announce_loss(self, why: str, headline: str, waiting: str) -> None:
        """Queue the disconnect, say it once, and either schedule the first retry or close."""
        self._pending.append(LinkEvent("disconnected", why))
        log.warning("%s: %s%s", self.spec, headline, f"; {waiting}" if self.reconnect else "")
        if not self.reconnect:
            self.closed = True
        self.retry.lost()


class ChunkSource(ReconnectingSource):
    """A reconnecting source over a library that hands over chunks of samples with time stamps
    (LSL, BrainFlow): it numbers the samples itself, so the read loop, the stall check, the gap
    records and the counters are the same for each; a subclass says how to open, pull and lose."""

    stall_timeout_s: float
    _next_index: int
    _last_rx: float
    _down_since: float | None

    def _setup(self, *, wait: bool, reconnect: bool, stall_timeout_s: float,
               backoff_s: tuple[float, float]) -> None:
        self.wait = wait
        self.reconnect = reconnect
        self.stall_timeout_s = stall_timeout_s
        self.retry = Backoff(*backoff_s)
        self._pending = []
        self._next_index = 0
        self._down_since = None
        self._last_rx = time.monotonic()
        self.samples = self.samples_lost = self.gaps = self.reconnects = 0

    def stats(self) -> dict:
        return {"samples": self.samples, "samples_lost": self.samples_lost, "gaps": self.gaps,
                "reconnects": self.reconnects}

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether a session with the stream or board is open (the recorder's status lines say
        "waiting for the device" otherwise)."""

    @abstractmethod
    def _reopen(self, timeout: float) -> bool:
        """Try once to open it again (saying why it failed); whether it did."""

    @abstractmethod
    def _pull(self, timeout: float) -> list[Record] | None:
        """The records of what came in within ``timeout`` (``_last_rx`` moved when samples
        did), ``[]`` after calling ``_lost``, None when nothing came."""

    @abstractmethod
    def _lost(self, why: str) -> None:
        """End the session and announce the loss (``_announce_loss``)."""

    def read(self, timeout: float = 0.5) -> list[Record]:
        out, self._pending = self._pending, []
        if self.closed:
            return out
        if not self.connected:
            if self.retry.wait(timeout):
                return out
            if not self._reopen(timeout):
                self.retry.failed()
            return out + self._drain()
        got = self._pull(timeout)
        if got is not None:
            out += got
        elif (quiet := time.monotonic() - self._last_rx) > self.stall_timeout_s:
            self._pending.append(LinkEvent("stalled", f"no samples for {quiet:.1f} s"))
            self._lost("stalled")
        return out + self._drain()

    def _drain(self) -> list[Record]:
        out, self._pending = self._pending, []
        return out

    def _gap(self, n: int, fs: float, reason: str, exact: bool) -> GapRecord:
        """``n`` samples lost at the next sample number: numbered, counted and logged."""
        gap = GapRecord(self._next_index, n, fs, reason, exact)
        self._next_index += n
        self.samples_lost += n
        self.gaps += 1
        log.info("gap of %d samples (%.3f s) at %.3f s: %s", n, gap.duration_s, gap.onset_s, reason)
        return gap


class LinkSource(ReconnectingSource):
    """Decoder + assembler + reconnect policy over a Link."""

    def __init__(self, spec: str, link: Link, *, reconnect: bool = True, stall_timeout_s: float = 3.0,
                 backoff_s: tuple[float, float] = (0.25, 5.0), start: bool = True, wait: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.link = link
        self.reconnect = reconnect
        self.stall_timeout_s = stall_timeout_s
        self.retry = Backoff(*backoff_s)
        self.start = start
        self.wait = wait
        self.decoder = P.Decoder()
        self.assembler = StreamAssembler(spec)
        self.reconnects = 0
        self._seq = 0
        self._connected = False
        self._down_since: float | None = None
        self._last_rx = time.monotonic()
        self._pending: list[Record] = []
        self._since: tuple[float, int, int, int] = (self._last_rx, 0, 0, 0)  # (``_connect``)
        self._said_unusable = False  # (``unusable``, said once a connection after INFO)
        self._said_no_info = False  # (... and once before it)
        self._info_heard = False  # an INFO frame came on this connection
        self._info_at: float | None = None  # when it first came
        self._info_asked = self._last_rx
        self._connect(first=True)

    @property
    def info(self) -> DeviceInfo | None:
        return self.assembler.info

    @property
    def connected(self) -> bool:
        return self._connected

    def stats(self) -> dict:
        a = self.assembler.stats
        return {"samples": a.samples, "samples_lost": a.samples_lost, "gaps": a.gaps, "reconnects": self.reconnects,
                "duplicates": a.duplicates, "device_overruns": a.device_overruns, "device_restarts": a.restarts,
                "implausible_jumps": a.implausible_jumps, "resyncs": a.resyncs, **{
                    f"decoder_{k}": v for k, v in self.decoder.stats.to_dict().items() if k != "last_error"}}

    def heard(self) -> str:
        d = self.decoder.stats
        if not d.bytes_in:
            return "not a byte came in; wrong device, or wrong baud rate?"
        text = f"{d.bytes_in} bytes came in, {d.frames} whole frames"
        verdict = "wrong device, or wrong baud rate?"
        if d.errors:
            text += f", {d.errors} damaged (last: {d.last_error})"
        elif not d.frames:
            text += " (no frame delimiters: another protocol, or the wrong baud rate)"
            verdict = ""
        if self.assembler.info is not None:
            return text
        if d.other_version:  # (whole frames, CRC and all: the rate is right, the firmware is not)
            return text + (f"; its frames are protocol version {d.other_version} and this myotwitch reads version "
                           f"{P.PROTOCOL_VERSION}: update the older of the firmware and myotwitch")
        return "; ".join(t for t in (text, self.link.hint(), verdict) if t)

    def unusable(self) -> str:
        """Why a device sent no usable samples since the connection ("" when it did): no INFO, or frames
        that cannot be used after it."""
        at, samples, errors, mismatched = self._since
        a, d, info = self.assembler.stats, self.decoder.stats, self.assembler.info
        if info is None:  # (`record` says this itself, as an error, at its info_timeout_s)
            return f"no device information (INFO) came in {time.monotonic() - at:.0f} s ({self.heard()})"
        if a.samples > samples:
            return ""
        why = []
        if a.mismatched > mismatched and self.assembler.last_mismatch is not None:
            nch, fmt = self.assembler.last_mismatch
            why.append(f"{a.mismatched - mismatched} sample frames of {nch} channels in sample format {fmt}, where "
                       f"its INFO says {info.n_channels} channels in format {info.sample_format}: the firmware's INFO "
                       "and its frames disagree")
        if d.errors > errors:
            why.append(f"{d.errors - errors} frames damaged (last: {d.last_error}): text the firmware prints on the "
                       "port (boot or debug lines) spoils the frame it comes before")
        if not why:
            why.append("it sent no samples after START")
        return (f"the device said it sends {info.n_channels} ch at {info.fs:g} Hz, but none of its samples could be "
                f"used in {time.monotonic() - at:.0f} s: " + "; ".join(why))

    def send_command(self, opcode: int, argument: int = 0) -> None:
        frame = P.encode_command(self._seq, opcode, argument)
        self._seq = (self._seq + 1) & 0xFFFF
        try:
            self.link.write(frame)
        except LinkError as e:
            self._lost(str(e))

    def _connect(self, first: bool = False) -> None:
        try:
            self.link.open()
        except LinkError as e:
            if first and not self.wait:
                raise SourceError(f"{self.spec}: {e}") from e
            if first:
                self._down_since = time.monotonic()
                self._pending.append(LinkEvent("reconnecting", str(e)))
            self.retry.failed()
            return
        now = time.monotonic()
        self._connected = True
        self._last_rx = now
        self.decoder.reset()
        last = self.assembler.last_samples_at
        if self._down_since is not None and not first and last is not None:  # (no samples yet: none lost,
            self.reconnects += 1                                                # as while --wait waits)
            # the outage runs from the last samples (a stall is noticed stall_timeout_s later) to
            # the first new ones (an Uno spends a second in its bootloader after the reopen)
            self.assembler.on_reconnect()
        self._down_since = None
        # (connected at, samples, damaged frames, mismatched frames): what came since, for ``unusable``
        a = self.assembler.stats
        self._since = (now, a.samples, self.decoder.stats.errors, a.mismatched)
        self._said_unusable = self._said_no_info = False
        self._info_heard = False
        self._info_at = None
        self._info_asked = now
        self.retry.connected()
        self._pending.append(LinkEvent("connected", self.link.name))
        log.info("connected to %s (%s)", self.spec, self.link.name)
        self.send_command(P.CMD_GET_INFO)
        if self.start:
            self.send_command(P.CMD_START)

    def _lost(self, why: str) -> None:
        if not self._connected:
            return
        self._connected = False
        self._down_since = time.monotonic()
        try:
            self.link.close()
        except Exception:  # noqa: BLE001 - closing a dead link may fail any way it likes
            log.debug("close after loss failed", exc_info=True)
        self._announce_loss(why, f"link lost ({why})", "reconnecting")

    def read(self, timeout: float = 0.5) -> list[Record]:
        out, self._pending = self._pending, []
        if self.closed:
            return out
        if not self._connected:
            if self.retry.wait(timeout):
                return out + self._pending
            self._connect()
            out += self._pending
            self._pending = []
            return out
        try:
            data = self.link.read(timeout)
        except LinkError as e:
            self._lost(str(e))
            return out + self._drain()
        now = time.monotonic()
        if data:
            self._last_rx = now
            frames = self.decoder.feed(data)
            if not self._info_heard and any(type(f) is P.InfoFrame for f in frames):
                self._info_heard, self._info_at = True, now
            if self.start and any(type(f) is P.InfoFrame and not f.streaming for f in frames):
                # a device that says it is not streaming while we want samples: an Arduino the
                # port's opening reset, whose bootloader swallowed the START sent at connect
                # (its firmware then says INFO), or a board that restarted behind the link
                self.send_command(P.CMD_START)
            out += self.assembler.feed(frames, now, self.link.device_time())
            # (an INFO that came late gives its samples as long to come as one at the connection)
            info = self.assembler.info
            if self.start and not self._said_unusable and now - self._since[0] > UNUSABLE_AFTER_S and (
                    info is None or now - (self._info_at or self._since[0]) > UNUSABLE_AFTER_S):
                why = self.unusable()
                if why and (info is not None or not self._said_no_info):  # (said once a connection
                    if info is not None:     # before INFO and once after it, as a warning: the link is up)
                        self._said_unusable = True
                        log.warning("%s: %s", self.spec, why)
                    else:
                        self._said_no_info = True
                    self._pending.append(LinkEvent("unusable", why))
        elif now - self._last_rx > self.stall_timeout_s:
            self._pending.append(LinkEvent("stalled", f"no data for {now - self._last_rx:.1f} s"))
            self._lost("stalled")
            return out + self._drain()
        if not self._info_heard and now - self._info_asked >= INFO_RETRY_S:
            self._info_asked = now
            self.send_command(P.CMD_GET_INFO)
        return out + self._drain()

    def _drain(self) -> list[Record]:
        out, self._pending = self._pending, []
        return out

    def close(self) -> None:
        if self.closed and not self._connected:
            return
        if self._connected:
            try:
                self.link.write(P.encode_command(self._seq, P.CMD_STOP))
            except Exception:  # noqa: BLE001
                pass
            try:
                self.link.close()
            except Exception:  # noqa: BLE001
                log.debug("close failed", exc_info=True)
        self._connected = False
        self.closed = True
