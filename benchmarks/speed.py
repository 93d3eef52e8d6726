"""Detector speed and memory.

- offline: 1 h of single-channel 1 kHz data through detect(), x real time, and its ratio to
  the floor (one scipy sosfilt band-pass over the same data);
- streaming: Pipeline.process in 50 ms blocks, x real time;
- memory: 24 h at 1 kHz processed in chunks in a fresh process, peak RSS.
Run: python benchmarks/speed.py   (single-threaded BLAS for one-core numbers)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from benchmarks.common import machine, write_section  # noqa: E402
from myotwitch.dsp import Pipeline, detect  # noqa: E402
from myotwitch.dsp.filters import bandpass_sos  # noqa: E402
from myotwitch.dsp.synth import case_spec, synthesize  # noqa: E402


def best_of(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def stream(x: np.ndarray, fs: float, block_s: float = 0.05) -> None:
    """Feed ``x`` to a fresh pipeline in live-sized blocks."""
    p = Pipeline(fs, x.shape[0])
    n = int(block_s * fs)
    for i in range(0, x.shape[1], n):
        p.process(x[:, i: i + n])
    p.flush()


MEMORY_CHILD = r"""
import resource, sys, numpy as np
from myotwitch.dsp import Pipeline
from myotwitch.dsp.synth import case_spec, synthesize
x, _ = synthesize(case_spec("mixed", 1000.0, 600.0, seed=3))
pipe = Pipeline(1000.0, 1)
n = 0
events = 0
for rep in range(144):  # 144 x 10 min = 24 h
    for i in range(0, x.shape[1], 60_000):
        events += len(pipe.process(x[:, i:i + 60_000]))
        n += min(60_000, x.shape[1] - i)
events += len(pipe.flush())
print(n, events, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    x, _ = synthesize(case_spec("clean_rest", 1000.0, 3600.0, seed=1))
    secs = x.shape[1] / 1000.0
    t_detect = best_of(lambda: detect(x, 1000.0))
    sos = bandpass_sos(20, 450, 1000.0, 2)
    xd = x[0].astype(np.float64)
    t_floor = best_of(lambda: signal.sosfilt(sos, xd))
    t_stream = best_of(lambda: stream(x[:, :600_000], 1000.0), 2)
    two, _ = synthesize(case_spec("clean_rest", 2000.0, 600.0, seed=1, n_channels=2))
    t_stream2 = best_of(lambda: stream(two, 2000.0), 2)
    # latency: from the end of a twitch to the end of the 50 ms block that reports it
    lat_x, _ = synthesize(case_spec("clean_rest", 1000.0, 600.0, seed=7).with_(twitch_rate=20.0))
    p = Pipeline(1000.0, 1)
    delays = []
    for i in range(0, lat_x.shape[1], 50):
        for e in p.process(lat_x[:, i: i + 50]):
            if e.kind == "twitch":
                delays.append((i + 50) / 1000.0 - e.offset_s)
    delays_ms = np.array(delays) * 1000
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    n, n_events, rss = out.stdout.split()
    rows = [
        "| measure | result | target |",
        "|---|---|---|",
        f"| offline detect(), 1 h x 1 ch x 1 kHz | {t_detect * 1000:.0f} ms = **{secs / t_detect:,.0f}x real time** | >= 20,000x |",
        f"| floor: one sosfilt band-pass over the same data | {t_floor * 1000:.0f} ms ({secs / t_floor:,.0f}x); detect = {t_detect / t_floor:.1f}x the floor | |",
        f"| streaming, 50 ms blocks, 1 ch x 1 kHz | **{600 / t_stream:,.0f}x real time** ({t_stream / 12000 * 1e6:.0f} us per block) | >= 500x |",
        f"| streaming, 50 ms blocks, 2 ch x 2 kHz | {600 / t_stream2:,.0f}x real time | |",
        f"| report latency after a twitch ends, 50 ms blocks ({len(delays)} twitches) | median {np.median(delays_ms):.0f} ms, "
        f"**max {delays_ms.max():.0f} ms** | <= 300 ms |",
        f"| 24 h x 1 kHz in 60 s chunks ({int(n) / 1000 / 3600:.0f} h, {n_events} events) | peak RSS **{float(rss):.0f} MB** | < 500 MB |",
    ]
    body = f"One core ({machine()}), best of 3.\n\n" + "\n".join(rows)
    print(body)
    write_section("Detector speed and memory", body)


if __name__ == "__main__":
    main()
