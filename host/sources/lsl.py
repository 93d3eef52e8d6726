"""``lsl:`` — read a Lab Streaming Layer stream, so any amplifier or tool that publishes one
(OpenBCI GUI, BITalino, Chords, research amplifiers) feeds the same recorder and detector.

The stream's nominal rate is the rate; its timestamps only decide where samples are missing:
a jump between chunks of N sample periods becomes a gap of N samples. A sender that goes away
is waited for and picked up again (a new instance of the same query), like a serial replug.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from myotwitch.dsp.config import MAX_CHANNELS
from myotwitch.host.channels import distinct_labels, select_channels
from myotwitch.host.errors import FormatError, SourceError, UsageError
from myotwitch.host.sources.base import ChunkSource, rate_problem
from myotwitch.host.stream import DeviceInfo, LinkEvent, Record, SampleBlock

log = logging.getLogger(__name__)

#: unit spellings seen in LSL metadata (XDF convention "microvolts", short forms, and the
#: power-of-ten factors pylsl/MNE write) -> µV per unit
UNIT_TO_UV = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microvolt": 1.0, "microvolts": 1.0, "-6": 1.0,
    "mv": 1e3, "millivolt": 1e3, "millivolts": 1e3, "-3": 1e3,
    "v": 1e6, "volt": 1e6, "volts": 1e6,
}
#: how files of foreign streams are written: (bits, µV per count). 16 bits at 0.125 µV is the
#: simulator's scale (EDF, ±4.1 mV; the real boards' steps are in hardware.md); 24 bits keeps
#: DC-coupled amplifiers' offsets (BDF, ±168 mV).
FILE_FORMATS = {16: (1, 0.125), 24: (2, 0.02)}
QUERY_KEYS = ("name", "type", "source_id")
#: a lateness shared by this much of the following signal (s) is a loss, not a late push
CONFIRM_S = 0.25
#: samples wait at most this long (s) for that decision
HOLD_S = 0.5
#: how long (s) a query that found one stream waits for others that match it too
MORE_S = 0.5
LSL_OPTIONS = "unit=uV|mV|V, channels=A,B, bits=16|24, timeout=S"


_quieted = False
#: uids of the outlets this process publishes (``--lsl``): never read back as a source. A query
#: such as ``type=EMG`` matches them too, and after the sender's outage myotwitch had latched
#: onto its own copy, which sends nothing while the sender is gone, and kept it when it came back.
OWN_UIDS: set[str] = set()


def require_pylsl() -> ModuleType:
    """pylsl, or one line saying which extra to install."""
    global _quieted
    try:
        import pylsl
    except (ImportError, OSError, RuntimeError) as e:  # OSError/RuntimeError: liblsl itself missing
        raise SourceError(f"Lab Streaming Layer needs the lsl extra: pip install 'myotwitch[lsl]' ({e})") from e
    if not _quieted:
        _quieted = True
        _quiet_liblsl(pylsl)
    return pylsl


def _quiet_liblsl(pylsl: ModuleType) -> None:
    """liblsl logs on stderr in its own format (a time, its uptime, a thread, its source file):
    keep to its fatal lines unless --debug asks for all or the user has an LSL config of their
    own (which may hold network settings we must not replace). Its INFO lines said nothing for
    a user, and its errors are the losses myotwitch says in its own words: "ERR| Stream
    transmission broke off (Input stream error.); re-connecting..." had stood above "LSL stream
    lost (the sender went away); waiting for it" whenever a sender went away."""
    own = [os.environ.get("LSLAPICFG", ""), "lsl_api.cfg", os.path.expanduser("~/lsl_api/lsl_api.cfg"),
           "/etc/lsl_api/lsl_api.cfg"]
    if log.isEnabledFor(logging.DEBUG) or any(p and os.path.exists(p) for p in own):
        return
    try:
        pylsl.set_config_content("[log]\nlevel = -3\n")  # (loguru: -3 fatal, -2 error, -1 warning)
    except Exception:  # noqa: BLE001 - only cosmetic; older pylsl has no set_config_content
        log.debug("could not quiet liblsl", exc_info=True)


def unit_scale(unit: str | None) -> float | None:
    """µV per unit for a unit string, None when it is not a voltage we know."""
    if unit is None:
        return None
    return UNIT_TO_UV.get(unit.strip().lower().replace(" ", ""))


def parse_query(target: str) -> tuple[str, str]:
    """``'type=EMG'`` -> ``('type', 'EMG')``; a bare name -> ``('name', NAME)``."""
    key, eq, value = target.partition("=")
    if eq and key.strip() in QUERY_KEYS:
        return key.strip(), value.strip()
    if eq:
        raise UsageError(f"lsl:{target}: expected lsl:NAME, lsl:type=TYPE or lsl:source_id=ID")
    return "name", target


def file_format(spec: str, bits: str | int) -> tuple[int, float]:
    try:
        return FILE_FORMATS[int(bits)]
    except (KeyError, ValueError) as e:
        raise UsageError(f"{spec}: bits={bits} must be 16 (EDF) or 24 (BDF)") from e


@dataclass(frozen=True)
class StreamPlan:
    """What a resolved stream means for us: rate, channels kept, their labels and µV factors."""

    fs: float
    keep: list[int]
    labels: tuple[str, ...]
    uv_scale: np.ndarray  # (len(keep), 1) µV per stream unit
    device_id: str


def plan_stream(spec: str, info, unit: str | None, channels: list[str] | None) -> StreamPlan:
    """Check a stream's full info (with metadata) and decide how to read it. Raises one-line
    errors for what cannot work: irregular or unsupported rates, text streams, unknown units."""
    fs = float(info.nominal_srate())
    name = info.name()
    if fs <= 0:
        raise SourceError(f"{spec}: stream '{name}' has an irregular rate (markers or events, not samples); "
                          "myotwitch needs a stream with a fixed nominal rate")
    why = rate_problem(fs)
    if why:
        raise SourceError(f"{spec}: stream '{name}' runs at {fs:g} Hz; {why}")
    if info.channel_format() == 3:  # cf_string
        raise SourceError(f"{spec}: stream '{name}' carries text, not samples")
    labels = [lab or f"ch{i + 1}" for i, lab in enumerate(channel_info(info, "label"))]
    units = channel_info(info, "unit")
    try:
        keep = select_channels(labels, channels, spec, option="?channels=")
    except FormatError as e:
        raise UsageError(str(e)) from e
    if len(keep) > MAX_CHANNELS:
        log.warning("%s: %d channels; using the first %d (pick others with ?channels=A,B)", spec, len(keep),
                    MAX_CHANNELS)
        keep = keep[:MAX_CHANNELS]
    if unit is not None:
        factor = unit_scale(unit)
        if factor is None:
            raise UsageError(f"{spec}: unit={unit} must be uV, mV or V")
        scales = [factor] * len(keep)
    else:
        scales = []
        for i in keep:
            factor = unit_scale(units[i])
            if factor is None:
                said = f"unit '{units[i]}'" if units[i] else "no unit"
                raise SourceError(f"{spec}: channel '{labels[i]}' of stream '{name}' has {said} in its metadata; "
                                  "say what it is with ?unit=uV (or mV, V)")
            scales.append(factor)
    names = distinct_labels(labels)  # (two channels of one label: 'EMG calf', 'EMG calf #2', as a file's)
    return StreamPlan(fs, keep, tuple(names[i] for i in keep),
                      np.asarray(scales, dtype=np.float64)[:, None], info.source_id() or name)


def channel_info(info, key: str) -> list[str | None]:
    """One ``desc/channels/channel/KEY`` per channel of the stream (None where missing). A
    description listing fewer or more channels than the stream has is padded or cut: it had
    dropped the channels it did not list (or read ones the stream does not have), and pylsl's
    own getter prints its complaint on stdout, where ``--events -`` writes."""
    found: list[str | None] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(found) < info.channel_count():
        found.append(ch.child_value(key).strip() or None)
        ch = ch.next_sibling("channel")
    return found + [None] * (info.channel_count() - len(found))


class LslSource(ChunkSource):
    """Resolves the stream, pulls chunks, converts to µV and accounts for every sample."""

    def __init__(self, spec: str, target: str, opts: dict[str, str], *, wait: bool = False,
                 reconnect: bool = True, stall_timeout_s: float = 3.0, resolve_timeout_s: float | None = None,
                 backoff_s: tuple[float, float] = (0.25, 2.0)) -> None:
        super().__init__()
        self.pylsl = require_pylsl()
        self.spec = spec
        self.prop, self.value = parse_query(target)
        opts = dict(opts)
        self.unit = opts.pop("unit", None)
        if self.unit is not None and unit_scale(self.unit) is None:
            raise UsageError(f"{spec}: unit={self.unit} must be uV, mV or V")
        chans = opts.pop("channels", None)
        self.channels = [c.strip() for c in chans.split(",") if c.strip()] if chans else None
        self.sample_format, self.uv_per_count = file_format(spec, opts.pop("bits", "16"))
        try:
            timeout = float(opts.pop("timeout", resolve_timeout_s if resolve_timeout_s is not None else 5.0))
        except ValueError as e:
            raise UsageError(f"{spec}: timeout must be seconds") from e
        if opts:
            raise UsageError(f"{spec}: unknown option(s) {', '.join(opts)} (lsl takes {LSL_OPTIONS})")
        self.resolve_timeout_s = timeout
        self._setup(wait=wait, reconnect=reconnect, stall_timeout_s=stall_timeout_s, backoff_s=backoff_s)
        self._inlet = None
        self._info: DeviceInfo | None = None
        self._picked: tuple | None = None  # who the stream read is (source id, host, channels, rate)
        self._plan: StreamPlan | None = None
        self._t_next: float | None = None  # LSL time the next sample is expected at
        self._held: tuple[np.ndarray, np.ndarray] | None = None  # (samples, stamps) awaiting a decision
        self._held_since = 0.0
        self._early = 0  # samples in a row earlier than the line
        self._after_reconnect = False
        self._jitter_s = 0.005  # mean deviation from that line; starts generous, learns the sender
        if not self._connect(self.resolve_timeout_s):
            if not wait:
                raise SourceError(f"{spec}: no LSL stream with {self.prop} '{self.value}' found within "
                                  f"{self.resolve_timeout_s:g} s (`myotwitch devices` lists the streams it sees)")
            self._down_since = time.monotonic()
            self._pending.append(LinkEvent("reconnecting", f"waiting for LSL stream {self.prop}={self.value}"))

    @property
    def info(self) -> DeviceInfo | None:
        return self._info

    @property
    def connected(self) -> bool:
        """A stream is being read (the recorder's status lines say "waiting for the device"
        otherwise; without this they had said "the link is up" while the sender was gone)."""
        return self._inlet is not None

    @property
    def tolerance_s(self) -> float:
        """Timestamp deviations up to this are the sender's jitter, not lost samples: 4 ms (at
        least 2 samples), or 4 x the jitter seen, whichever is more."""
        fs = self._info.fs if self._info else 1000.0
        return max(2.0 / fs, 0.004, 4.0 * self._jitter_s)

    # -- connecting ------------------------------------------------------------------------------
    def _connect(self, timeout: float) -> bool:
        pylsl = self.pylsl
        def resolve(minimum: int, wait: float) -> list:
            got = pylsl.resolve_byprop(self.prop, self.value, minimum=minimum, timeout=wait)
            return [s for s in got if s.uid() not in OWN_UIDS]

        found = resolve(1, timeout)
        if not found:
            return False
        if len(found) == 1:  # the first answer came alone: give other matches a moment to answer too
            found += resolve(2, MORE_S)
        chosen = self._choose(found)
        inlet = pylsl.StreamInlet(chosen, max_buflen=360, recover=False,
                                  processing_flags=pylsl.proc_clocksync)
        try:
            full = inlet.info(timeout=max(timeout, 2.0))
            plan = plan_stream(self.spec, full, self.unit, self.channels)
            inlet.open_stream(timeout=max(timeout, 2.0))
        except (pylsl.util.TimeoutError, pylsl.util.LostError) as e:
            inlet.close_stream()
            log.info("%s: stream found but not readable yet (%s)", self.spec, e)
            return False
        except Exception:
            inlet.close_stream()
            raise
        info = DeviceInfo(self.spec, plan.device_id, f"lsl {full.name()}@{full.hostname()}", plan.fs, len(plan.keep),
                          self.sample_format, self.uv_per_count, plan.labels)
        if self._info is not None and not self._info.same_stream(info):
            log.warning("%s: the stream came back with another format (%s)", self.spec, info.to_dict())
            self._t_next, self._jitter_s = None, 0.005
        first = self._info is None
        self._inlet, self._plan, self._info = inlet, plan, info
        self._picked = _identity(chosen)
        self._last_rx = time.monotonic()
        self.retry.connected()
        if self._down_since is not None and not first:
            self.reconnects += 1
            self._after_reconnect = True
        self._pending.append(LinkEvent("connected", f"LSL stream '{full.name()}' on {full.hostname()}"))
        self._pending.append(info)
        log.info("%s: connected to LSL stream '%s' (%s, %d ch at %g Hz)", self.spec, full.name(), full.hostname(),
                 len(plan.keep), plan.fs)
        return True

    def _choose(self, found: list):
        """One stream of those that match: the one read before (a sender back after an outage),
        else the oldest. Several matching is said, with how to pick one."""
        streams = list({s.uid() or id(s): s for s in found}.values())  # one answer per stream
        streams.sort(key=lambda s: (_identity(s) != self._picked, s.created_at()))
        chosen = streams[0]
        if len(streams) > 1:
            others = ", ".join(f"'{s.source_id()}'" if s.source_id() else f"none ({s.channel_count()} ch on "
                               f"{s.hostname()})" for s in streams[1:])
            log.warning("%s: %d LSL streams match; using '%s' on %s (source_id '%s'; others: %s); "
                        "pick one with lsl:source_id=ID", self.spec, len(streams), chosen.name(),
                        chosen.hostname(), chosen.source_id(), others)
        return chosen

    def _lost(self, why: str) -> None:
        if self._held is not None:
            self._pending += self._samples(None, None, time.monotonic(), force=True)
        if self._inlet is not None:
            try:
                self._inlet.close_stream()
            except Exception:  # noqa: BLE001 - closing a lost inlet may fail any way it likes
                log.debug("close after loss failed", exc_info=True)
        self._inlet = None
        self._down_since = time.monotonic()
        self._announce_loss(why, f"LSL stream lost ({why})", "waiting for it")

    # -- reading ------------------------------------------------------------------------------
    def _reopen(self, timeout: float) -> bool:
        try:
            return self._connect(min(max(timeout, 0.2), 1.0))
        except (SourceError, UsageError) as e:  # it came back unusable: say so, keep waiting
            log.warning("%s", e)
            return False

    def _pull(self, timeout: float) -> list[Record] | None:
        assert self._inlet is not None
        try:
            x, ts = self._inlet.pull_chunk(timeout=timeout, max_samples=4096, min_samples=1, as_numpy=True)
        except self.pylsl.util.LostError:
            self._lost("the sender went away")
            return []
        now = time.monotonic()
        if len(ts):
            self._last_rx = now
            return self._samples(np.asarray(x), np.asarray(ts, dtype=np.float64), now)
        if self._held is not None and now - self._held_since > HOLD_S:
            return self._samples(None, None, now, force=True)
        return None

    def _samples(self, x: np.ndarray | None, ts: np.ndarray | None, now: float, force: bool = False) -> list[Record]:
        """New samples (and any held back) -> records. Samples whose lateness is not yet
        explained (a loss, or a push that came late?) wait for the next ones, up to HOLD_S."""
        assert self._plan is not None and self._info is not None
        fs = self._info.fs
        parts = [] if self._held is None else [self._held]
        if x is not None and ts is not None:
            parts.append((x, ts))
        if not parts:
            return []
        xs = np.concatenate([p[0] for p in parts])
        stamps = np.concatenate([p[1] for p in parts])
        out: list[Record] = []
        down, self._down_since = self._down_since, None
        if down is not None and self._t_next is not None and stamps[0] < self._t_next:
            self._t_next = None  # back with a clock that is behind the old one: its stamps cannot tell
        if down is not None and self._t_next is None and self._next_index:
            # the stream came back in another format or clock: only the host clock knows the outage
            out.append(self._gap(max(1, int(round((now - down) * fs))), fs,
                                 "LSL stream lost; length from the host clock", False))
            self._after_reconnect = False
        segments, held_from = self._timeline(stamps, force)
        uv = (xs[:held_from, self._plan.keep].T.astype(np.float64) * self._plan.uv_scale).astype(np.float32)
        for a, b, missing in segments:
            if missing:
                exact = not self._after_reconnect
                out.append(self._gap(missing, fs, "LSL timestamps jump (samples lost)" if exact else
                                     "LSL sender was gone; length from its timestamps", exact))
            self._after_reconnect = False
            out.append(SampleBlock(self._next_index, fs, uv[:, a:b], now))
            self._next_index += b - a
            self.samples += b - a
        if held_from < len(stamps):
            if self._held is None or held_from > 0:
                self._held_since = now
            self._held = (xs[held_from:], stamps[held_from:])
        else:
            self._held = None
        return out

    def _timeline(self, ts: np.ndarray, force: bool) -> tuple[list[tuple[int, int, int]], int]:
        """Split samples where some are missing: ([(start, end, missing before start)], index
        from which the decision has to wait for more samples).

        The next sample is expected at ``_t_next``; runs of samples on that line nudge it by a
        tenth of their mean deviation (following the sender's clock and averaging the jitter of
        senders that stamp bursts). Earlier samples are never a loss; when they stay early for
        CONFIRM_S the line moves to them. Later ones are either the first after a loss, or a
        push that came late (stamped on arrival): the samples after them tell. Back on the old
        line within CONFIRM_S, it was lateness; late all along, it was a loss of round(median
        lateness x rate) samples. After HOLD_S without more samples, only a lateness above twice
        the tolerance counts as a loss."""
        assert self._info is not None
        fs = self._info.fs
        out: list[tuple[int, int, int]] = []
        a, n, missing = 0, len(ts), 0
        while a < n:
            if self._t_next is None:
                self._t_next = float(ts[a])
            tol = self.tolerance_s
            dev = ts[a:] - (self._t_next + np.arange(n - a) / fs)
            off = np.flatnonzero(np.abs(dev) > tol)
            if not off.size or off[0] > 0:  # a run on the line
                b = a + (int(off[0]) if off.size else n - a)
                run = dev[: b - a]
                self._jitter_s = 0.9 * self._jitter_s + 0.1 * float(np.mean(np.abs(run)))
                self._t_next += (b - a) / fs + 0.1 * float(np.mean(run))
                out.append((a, b, missing))
                a, missing, self._early = b, 0, 0
                continue
            late = float(dev[0])
            if late < 0:  # earlier than the line: never a loss; a line that stays late is moved
                rest = np.flatnonzero(np.abs(dev - late) > tol)
                run_end = a + (int(rest[0]) if rest.size else n - a)
                out.append((a, run_end, missing))
                self._t_next += (run_end - a) / fs
                self._early += run_end - a
                if self._early >= CONFIRM_S * fs or (rest.size and dev[rest[0]] < late - tol):
                    if late < -1.0:
                        log.warning("%s: LSL timestamps went back %.3f s; no gap", self.spec, -late)
                    self._t_next = float(ts[run_end - 1]) + 1 / fs
                    self._early = 0
                a, missing = run_end, 0
                continue
            # late: a push that came late (samples come back to the line) or a loss (they stay late)
            confirm = int(CONFIRM_S * fs)
            window = dev[:confirm]
            back = np.flatnonzero(window <= tol)
            if back.size or (len(window) < confirm and (not force or window.min() <= 2 * tol)):
                if not back.size and not force:
                    return out, a  # wait for what follows
                b = a + (int(back[0]) if back.size else len(window))
                out.append((a, b, missing))  # lateness, not loss: the line stays
                self._t_next += (b - a) / fs
                a, missing = b, 0
                continue
            loss = float(np.median(window))  # the line sits amid the jitter, so does the median
            missing += int(round(loss * fs))
            self._t_next += loss
        return out, n

    def close(self) -> None:
        if self._inlet is not None:
            try:
                self._inlet.close_stream()
            except Exception:  # noqa: BLE001
                log.debug("close failed", exc_info=True)
            self._inlet = None
        self.closed = True


def _identity(s) -> tuple:
    """What tells a sender apart when it comes back as a new outlet (its uid is new)."""
    return (s.source_id(), s.hostname(), s.channel_count(), s.nominal_srate())


def list_streams(wait_s: float = 1.0, usable_only: bool = False) -> list[dict]:
    """Visible LSL streams as ``myotwitch devices`` rows (empty without pylsl); with
    ``usable_only`` just those the detector can take (a fixed, whole-number rate in its range;
    not marker streams)."""
    try:
        pylsl = require_pylsl()
    except SourceError as e:
        log.info("%s", e)
        return []
    rows = []
    streams = pylsl.resolve_streams(wait_time=wait_s)
    names = [s.name() for s in streams]
    for s in streams:
        if s.uid() in OWN_UIDS:  # what this process publishes (the live app's --lsl) is no source
            continue
        rate = s.nominal_srate()
        why = rate_problem(rate) if rate > 0 else ""
        if usable_only and (rate <= 0 or why):
            continue
        shared = names.count(s.name()) > 1
        spec = _spec_for(s.name(), s.source_id(), shared)
        rows.append({"spec": spec,
                     "description": f"LSL {s.type() or '?'} stream on {s.hostname()}",
                     "lsl": f"{s.channel_count()} ch @ {rate:g} Hz" + (f" (not usable: {why})" if why else "")
                     if rate > 0 else
                     f"{s.channel_count()} ch, irregular rate (not usable)",
                     "source_id": s.source_id()})
        if shared and not spec.startswith("lsl:source_id="):  # nothing else tells it apart
            rows[-1]["lsl"] += (f"; {names.count(s.name())} streams share this name and this one has no "
                                "usable source_id: the spec reads the oldest of them")
    return rows


#: characters of a stream name that a source spec reads as its own syntax (options, values)
SPEC_SYNTAX = set("?&,=")


def _spec_for(name: str, source_id: str, shared: bool) -> str:
    """The spec that opens this stream: by name, unless the name is shared by another stream
    or holds the spec's own syntax (``lsl:weird?x=1`` was read as an option); then by its
    source id, when that is usable."""
    if (shared or not name or SPEC_SYNTAX & set(name)) and source_id and not SPEC_SYNTAX & set(source_id):
        return f"lsl:source_id={source_id}"
    return f"lsl:{name}"
