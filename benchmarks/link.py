"""Serial link throughput and latency, and the recorder's CPU use.

- throughput: a writer thread plays an 8-channel, 4 kHz device into a pseudo-terminal in real
  time; the serial source reads it; samples lost must be 0;
- latency: 1 channel at 1 kHz, from the moment a sample is taken (frames hold <= 20 ms) to
  the moment its SampleBlock reaches the consumer;
- recorder CPU: `myotwitch simulate --pty` (2 ch x 2 kHz) in one process, `myotwitch record`
  reading it in another; CPU time of the recorder process only.
Run: python benchmarks/link.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import tty

import numpy as np

from benchmarks.common import machine, write_section
from myotwitch.host import protocol as P
from myotwitch.host.sources.base import LinkSource
from myotwitch.host.sources.serial import SerialLink
from myotwitch.host.stream import GapRecord, SampleBlock


def fake_device(master: int, fs: int, n_ch: int, per_frame: int, seconds: float, stamps: dict, stop: threading.Event):
    """Write INFO then real-time SAMPLES frames; remember when each frame's first sample was taken."""
    seq = 0
    os.write(master, P.encode_info(seq, firmware=(0, 1, 0), device_id=1, sample_rate_hz=fs, n_channels=n_ch,
                                   sample_format=P.FMT_INT16, uv_per_count=0.5, streaming=True,
                                   labels=[f"c{i}" for i in range(n_ch)]))
    rng = np.random.default_rng(0)
    block = rng.integers(-2000, 2000, size=(per_frame * n_ch,)).tolist()
    t0 = time.monotonic()
    first = 0
    while not stop.is_set() and first < seconds * fs:
        due = t0 + (first + per_frame) / fs  # the frame is complete when its last sample is taken
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        seq += 1
        frame = P.encode_samples(seq & 0xFFFF, first, n_ch, P.FMT_INT16, block)
        stamps[first] = t0 + first / fs
        view = memoryview(frame)
        while view:
            try:
                n = os.write(master, view)
                view = view[n:]
            except BlockingIOError:
                time.sleep(0.0005)
        first += per_frame


def measure(fs: int, n_ch: int, per_frame: int, seconds: float) -> dict:
    master, slave = os.openpty()
    tty.setraw(slave)
    stamps: dict[int, float] = {}
    stop = threading.Event()
    writer = threading.Thread(target=fake_device, args=(master, fs, n_ch, per_frame, seconds, stamps, stop),
                              daemon=True)
    src = LinkSource("bench", SerialLink(os.ttyname(slave)), start=False)
    writer.start()
    got, lost, lat = 0, 0, []
    deadline = time.monotonic() + seconds + 5
    while got + lost < seconds * fs and time.monotonic() < deadline:
        for r in src.read(0.05):
            now = time.monotonic()
            if isinstance(r, SampleBlock):
                got += r.n
                taken = stamps.get(r.first_sample)
                if taken is not None:
                    lat.append(now - taken)
            elif isinstance(r, GapRecord):
                lost += r.n_samples
    stop.set()
    writer.join()
    src.close()
    os.close(master)
    os.close(slave)
    lat_ms = np.array(lat) * 1000
    return {"got": got, "lost": lost, "median_ms": float(np.median(lat_ms)), "p99_ms": float(np.percentile(lat_ms, 99)),
            "max_ms": float(lat_ms.max()), "errors": src.decoder.stats.errors}


def recorder_cpu(seconds: float, tmp: str) -> float:
    import psutil

    link = os.path.join(tmp, "dev")
    sim = subprocess.Popen([sys.executable, "-m", "myotwitch.host.cli", "-q", "simulate", "--pty", "--link", link,
                            "--rate", "2000", "--channels", "2"], stdout=subprocess.DEVNULL)
    while not os.path.exists(link):
        time.sleep(0.05)
    rec = subprocess.Popen([sys.executable, "-m", "myotwitch.host.cli", "-q", "record", "--source", f"serial:{link}",
                            "--out", os.path.join(tmp, "rec"), "--events", "none"])
    try:
        p = psutil.Process(rec.pid)
        time.sleep(3.0)  # start-up (imports) excluded
        c0 = sum(p.cpu_times()[:2])
        t0 = time.monotonic()
        time.sleep(seconds)
        c1 = sum(p.cpu_times()[:2])
        return (c1 - c0) / (time.monotonic() - t0) * 100
    finally:
        rec.terminate()
        rec.wait(20)
        sim.terminate()
        sim.wait(10)


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    big = measure(4000, 8, 32, args.seconds)
    small = measure(1000, 1, 20, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        cpu = recorder_cpu(args.seconds * 2, tmp)
    rate = big["got"] / args.seconds
    rows = [
        "| measure | result | target |", "|---|---|---|",
        f"| serial (pty), 8 ch x 4 kHz int16, {args.seconds:g} s | {big['got']:,} samples received, "
        f"**{big['lost']} lost**, {big['errors']} decode errors ({rate * 8 * 2 / 1000:.0f} kB/s payload) | 0 lost |",
        f"| sample-to-consumer latency, 1 ch x 1 kHz, 20-sample frames | median {small['median_ms']:.1f} ms, "
        f"p99 {small['p99_ms']:.1f} ms, **max {small['max_ms']:.1f} ms** | <= 50 ms |",
        f"| recorder CPU, 2 ch x 2 kHz from a pty device (detect + EDF + events) | **{cpu:.1f}% of one core** | < 5% |",
    ]
    body = f"{machine()}.\n\n" + "\n".join(rows)
    print(body)
    write_section("Device link and recorder", body)


if __name__ == "__main__":
    main()
