"""``myotwitch simulate``: the virtual device on a pseudo-terminal, paced in real time.

A replug is simulated by closing the pty and opening a new one (a new path, like a real
USB re-enumeration); ``--link`` keeps a stable symlink to whichever pty is current."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import select
import signal
import sys
import time
import tty

from myotwitch.dsp.synth import SynthSpec
from myotwitch.host import protocol as P
from myotwitch.host.errors import MyotwitchError, UsageError
from myotwitch.host.simulator import Faults, VirtualDevice

log = logging.getLogger(__name__)


class PtyServer:
    def __init__(self, device: VirtualDevice, link: str | None = None) -> None:
        self.device = device
        self.link = link
        self.master = self.slave = -1
        self.path = ""
        self.bytes_dropped = 0

    def open(self) -> str:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # binary-clean: no echo, no newline translation
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        if self.link:
            tmp = self.link + ".tmp"
            if os.path.lexists(tmp):
                os.remove(tmp)
            os.symlink(self.path, tmp)
            os.replace(tmp, self.link)
        return self.path

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = -1
        if self.link and os.path.lexists(self.link):
            os.remove(self.link)

    def send(self, data: bytes) -> None:
        while data:
            try:
                n = os.write(self.master, data)
            except BlockingIOError:
                self.bytes_dropped += len(data)  # nobody reading: the device's buffer overflows
                return
            except OSError as e:
                if e.errno in (errno.EIO, errno.EAGAIN):
                    self.bytes_dropped += len(data)
                    return
                raise
            data = data[n:]

    def receive(self, timeout: float) -> bytes:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""


#: simulate's options -> the ``sim:`` option whose range they share (host/sources/sim.py)
_SHARED_RANGES = {"--twitch-rate": "twitch_rate", "--seed": "seed", "--bit-errors": "ber", "--drop": "drop",
                  "--unplug-every": "disconnect_every", "--unplug-for": "disconnect_for",
                  "--stall-every": "stall_every", "--stall-for": "stall_for"}


def streamed_truth(truth: dict, end_s: float) -> dict:
    """The ground truth of what was streamed: the signal is made 10 s ahead, so its truth had
    also listed the twitches (and confounders) of the seconds never sent (a 17.1 s stream's file
    named one at 18.8 s, which a maker comparing it with the recording would take for a miss)."""
    return {k: [t for t in v if t["onset_s"] < end_s] for k, v in truth.items()}


def _check_faults(args: argparse.Namespace) -> None:
    """The signal and fault options in the ranges ``sim:`` accepts, so that data still flows
    and a recording with a duration always ends."""
    from myotwitch.host.sources.sim import mains_hz, out_of_range, outage_too_long

    for flag, key in _SHARED_RANGES.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        expected = out_of_range(key, value)
        if expected is not None:
            raise UsageError(f"{flag} {value:g}: expected {expected}")
    # (off as sim:'s mains=off takes it: it had been "invalid float value: 'off'"; "50Hz" and "0.0" too)
    if args.mains is not None:
        try:
            args.mains = mains_hz(args.mains.strip().lower().removesuffix("hz").removesuffix(".0"))
        except ValueError:
            raise UsageError(f"--mains {args.mains}: expected 50, 60 (Hz) or off") from None
    for every, length in (("--unplug-every", "--unplug-for"), ("--stall-every", "--stall-for")):
        e, f = (getattr(args, o[2:].replace("-", "_")) for o in (every, length))
        if outage_too_long(e, f):
            raise UsageError(f"{length} {f:g} must be under half of {every} {e:g} (the device must stream "
                             "some of the time)")


def run_simulator(args: argparse.Namespace) -> int:
    from myotwitch.host.recorder import parse_duration

    if not 250 <= args.rate <= 4000:
        raise UsageError(f"--rate {args.rate:g}: expected 250-4000 Hz")
    if not 1 <= args.channels <= 8:
        raise UsageError(f"--channels {args.channels}: expected 1-8")
    duration = parse_duration(args.duration, "--duration")
    if not 0 < args.uv_per_count < P.MAX_UV_PER_COUNT:
        raise UsageError(f"--uv-per-count {args.uv_per_count:g}: expected a scale above 0 and under "
                         f"{P.MAX_UV_PER_COUNT:g} µV per count")
    _check_faults(args)
    from myotwitch.host.outputs import check_writable

    for option, path in (("--link", args.link), ("--truth", args.truth)):
        if path is not None:  # ('' is refused: an empty variable had gone without a word)
            check_writable(option, path)
    spec = SynthSpec(fs=args.rate, n_channels=args.channels, twitch_rate=args.twitch_rate, mains_hz=args.mains,
                     seed=args.seed, duration_s=10.0)
    faults = Faults(bit_error_rate=args.bit_errors, drop_frame_rate=args.drop, stall_every_s=args.stall_every,
                    stall_for_s=args.stall_for, seed=args.seed)
    device = VirtualDevice(spec, faults=faults, uv_per_count=args.uv_per_count,
                           sample_format=P.FMT_INT24 if args.int24 else P.FMT_INT16)
    server = PtyServer(device, args.link)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    path = server.open()
    print(path, flush=True)
    log.info("virtual device on %s (%g Hz, %d ch)%s; Ctrl-C to stop", path, args.rate, args.channels,
             f", link {args.link}" if args.link else "")
    t_start = last = time.monotonic()
    carry = 0.0
    next_unplug = t_start + args.unplug_every if args.unplug_every else None
    try:
        while not stop:
            if duration is not None and device.time_s >= duration:
                break
            data = server.receive(0.005)
            if data:
                server.send(device.receive(data))
            now = time.monotonic()
            due = (now - last) * device.fs + carry
            n = int(due)
            carry, last = due - n, now
            if n:
                out = device.step(n)
                _, stalled = device.fault_schedule()
                if stalled:
                    device.overruns += n if device.streaming else 0
                else:
                    server.send(out)
            if next_unplug is not None and now >= next_unplug:
                server.close()
                log.info("simulated unplug for %g s", args.unplug_for)
                t_end = now + args.unplug_for
                while time.monotonic() < t_end and not stop:  # the device keeps sampling, unheard
                    time.sleep(0.01)
                    now = time.monotonic()
                    k = int((now - last) * device.fs + carry)
                    carry = (now - last) * device.fs + carry - k
                    last = now
                    device.step(k)
                path = server.open()
                print(path, flush=True)
                log.info("replugged as %s", path)
                next_unplug = time.monotonic() + args.unplug_every
    finally:
        server.close()
        if args.truth:
            try:
                with open(args.truth, "w", encoding="utf-8") as fh:
                    json.dump({"fs": device.fs, "samples": device.streamed,
                               **streamed_truth(device.synth.truth.to_dict(), device.streamed / device.fs)}, fh)
            except OSError as e:  # (checked writable at the start; the disk can still fill)
                raise MyotwitchError(f"--truth {args.truth}: could not be written ({e.strerror or e})") from e
    log.info("stopped after %.1f s; streamed %.1f s of it (%s samples a channel: a device streams only while a "
             "program has asked it to)%s", device.time_s, device.streamed / device.fs,
             f"{device.streamed:,}", f"; {server.bytes_dropped:,} bytes were sent while no program had the "
             "port open, and are lost" if server.bytes_dropped else "")
    sys.stdout.flush()
    return 0
