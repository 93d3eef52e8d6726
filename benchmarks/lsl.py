"""Lab Streaming Layer in and out, on this machine.

- in: a pylsl outlet plays 8 ch x 1 kHz float32 µV in real time (20-sample chunks); the
  ``lsl:`` source reads it; samples lost must be 0; latency from the push to the SampleBlock;
- out: the publisher gets a synthetic twitch signal in real time and the detector's events;
  an independent inlet compares each marker's stamp with where its twitch visibly starts in
  the published samples (first steep slope), and how late the marker arrives.
Run: python -m benchmarks.lsl [--seconds S]   (needs myotwitch[lsl])
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid

import numpy as np
import pylsl

from benchmarks.common import machine, write_section
from myotwitch.dsp import Pipeline
from myotwitch.dsp.synth import SynthSpec, SynthStream
from myotwitch.host.lsl_publish import LslPublisher
from myotwitch.host.sources import open_source
from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock


def measure_in(seconds: float) -> dict:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    info = pylsl.StreamInfo(name, "EMG", 8, 1000.0, pylsl.cf_float32, name)
    info.set_channel_units("microvolts")
    out = pylsl.StreamOutlet(info, chunk_size=20)
    src = open_source(f"lsl:{name}", resolve_timeout_s=5)
    pushed: dict[int, float] = {}  # index of a chunk's last sample -> monotonic time pushed
    stop = threading.Event()

    def play() -> None:
        sent, t0 = 0, time.monotonic()
        while not stop.is_set() and sent < seconds * 1000:
            due = int((time.monotonic() - t0) * 1000)
            if due - sent >= 20:
                out.push_chunk(np.zeros((20, 8), np.float32))
                sent += 20
                pushed[sent - 1] = time.monotonic()
            time.sleep(0.001)

    src.read(0.5)  # connected + info
    th = threading.Thread(target=play, daemon=True)
    th.start()
    got = lost = 0
    lat: list[float] = []
    deadline = time.monotonic() + seconds + 5
    while got < seconds * 1000 and time.monotonic() < deadline:
        for r in src.read(0.1):
            if isinstance(r, SampleBlock):
                last = r.first_sample + r.n - 1
                if last in pushed:
                    lat.append((r.received_at - pushed[last]) * 1000)
                got += r.n
            elif isinstance(r, GapRecord):
                lost += r.n_samples
    stop.set()
    th.join()
    src.close()
    return {"got": got, "lost": lost, "median_ms": float(np.median(lat)), "max_ms": float(np.max(lat))}


def measure_out(seconds: float) -> dict:
    fs = 1000.0
    synth = SynthStream(SynthSpec(fs=fs, duration_s=10.0, seed=3, twitch_rate=90.0, twitch_ptp_uv=(300.0, 1500.0)))
    pipe = Pipeline(fs, 1)
    pub = LslPublisher(name=f"bench-{uuid.uuid4().hex[:6]}")
    dev = pub.name.split("-")[1]
    pub.record(DeviceInfo("sim:", dev, "bench", fs, 1, 1, 0.125, ("calf",)))
    emg = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", dev, 1, 5)[0])
    mk = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", dev + "-markers", 1, 5)[0])
    emg.open_stream(5)
    mk.open_stream(5)
    xs, ts, marks = [], [], []
    start, index = time.monotonic(), 0
    while index < seconds * fs:
        due = int((time.monotonic() - start) * fs)
        if due > index:
            arrived = time.monotonic()
            x = synth.read(due - index)
            pub.record(SampleBlock(index, fs, x, arrived))
            pub.events(pipe.process(x))
            index = due
        a, b = emg.pull_chunk(timeout=0.0, max_samples=20000, as_numpy=True)
        xs.append(a[:, 0])
        ts.append(b)
        m, mt = mk.pull_chunk(timeout=0.0)
        marks += [(stamp, json.loads(s[0]), pylsl.local_clock()) for s, stamp in zip(m, mt)]
        time.sleep(0.02)
    x, t = np.concatenate(xs), np.concatenate(ts)
    err, late = [], []
    for stamp, m, received in marks:
        if m["kind"] != "twitch":
            continue
        w = (t >= stamp - 0.1) & (t <= stamp + 0.1)
        d = np.abs(np.diff(x[w]))
        err.append((t[w][1:][np.argmax(d > 0.25 * d.max())] - stamp) * 1000)
        late.append((received - stamp) * 1000)
    return {"n": len(err), "err_median": float(np.median(np.abs(err))), "err_max": float(np.max(np.abs(err))),
            "late_median": float(np.median(late)), "late_max": float(np.max(late)),
            "rate": (len(t) - 1) / (t[-1] - t[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    i = measure_in(args.seconds)
    o = measure_out(args.seconds)
    rows = [
        "| measure | result | target |", "|---|---|---|",
        f"| `lsl:` in, 8 ch x 1 kHz float32, 20-sample chunks, {args.seconds:g} s | {i['got']:,} samples, "
        f"**{i['lost']} lost** | 0 lost |",
        f"| `lsl:` push-to-consumer latency (samples not held for a gap decision) | median {i['median_ms']:.1f} ms, **max {i['max_ms']:.1f} ms** | <= 50 ms |",
        f"| `--lsl` marker stamp vs the twitch's rise in the published samples ({o['n']} twitches) | "
        f"median {o['err_median']:.1f} ms, **max {o['err_max']:.1f} ms** | <= 20 ms |",
        f"| `--lsl` marker arrival after the twitch's onset (the detector's look-ahead) | "
        f"median {o['late_median']:.0f} ms, max {o['late_max']:.0f} ms | - |",
        f"| `--lsl` samples on the published time line | {o['rate']:.2f} Hz for 1000 Hz nominal | nominal |",
    ]
    body = f"{machine()}, pylsl {pylsl.__version__} (liblsl {pylsl.library_version()}), localhost.\n\n" + "\n".join(rows)
    print(body)
    write_section("Lab Streaming Layer", body)


if __name__ == "__main__":
    main()
