"""Detector speed and memory under the load the product is for: a calf that keeps twitching.

- offline: ``detect()`` on 1 h at 1 kHz with 0, 180, 1,800 and 7,200 twitches per hour per
  channel, for 1, 2 and 8 channels, each beside the floor (one 4th-order 20-450 Hz Butterworth
  band-pass, ``sosfilt``, over the same array) and the marginal cost per twitch;
- streaming: ``Pipeline.process`` in 50 ms blocks (1 ch x 1 kHz, 8 ch x 2 kHz) with twitching;
- session length: 4 h at 1 kHz with a twitch every 2 s in 60 s blocks; the last half hour's
  blocks must cost no more than 1.5x the first half hour's;
- report latency and 24 h peak memory.

Run: python benchmarks/speed.py [--quick]   (single-threaded BLAS: one-core numbers)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, write_section  # noqa: E402
from myotwitch.dsp import Pipeline, detect, kernels  # noqa: E402
from myotwitch.dsp.config import DetectorConfig  # noqa: E402
from myotwitch.dsp.synth import case_spec, hard_case, synthesize  # noqa: E402

FLOOR_SOS = signal.butter(2, [20, 450], btype="bandpass", fs=1000.0, output="sos")  # 4th order overall


def best_of(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def twitching(fs: float, seconds: float, per_hour: float, n_channels: int = 1, seed: int = 0) -> np.ndarray:
    """5 µV RMS white noise with a 300 µV biphasic twitch (8 ms) at a fixed interval, the
    channels' twitches staggered. Built here, not by the project's simulator, so the load is
    the same whatever the detector's tuning."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    x = rng.normal(0.0, 5.0, (n_channels, n)).astype(np.float32)
    if per_hour <= 0:
        return x
    t = np.arange(-int(0.004 * fs), int(0.004 * fs) + 1) / fs
    sigma = 0.0015
    wave = (-t / sigma * np.exp(0.5 - t**2 / (2 * sigma**2)) * 150.0).astype(np.float32)  # 300 µV p-p
    step = 3600.0 / per_hour
    for ch in range(n_channels):
        starts = ((np.arange(step * (0.5 + ch / max(n_channels, 1)), seconds - 0.05, step)) * fs).astype(int)
        idx = starts[:, None] + np.arange(len(wave))[None, :]
        x[ch, idx] += wave
    return x


def stream(x: np.ndarray, fs: float, block_s: float = 0.05, config: DetectorConfig | None = None) -> float:
    """Feed ``x`` to a fresh pipeline in live-sized blocks; returns the seconds it took."""
    p = Pipeline(fs, x.shape[0], config)
    n = int(block_s * fs)
    t = time.perf_counter()
    for i in range(0, x.shape[1], n):
        p.process(x[:, i: i + n])
    p.flush()
    return time.perf_counter() - t


def report_delays(x: np.ndarray, fs: float, config: DetectorConfig, block_s: float = 0.05,
                  after_s: float = 0.0) -> np.ndarray:
    """Seconds from each twitch's end to the end of the live block that reports it (twitches
    ending after ``after_s``)."""
    p = Pipeline(fs, x.shape[0], config)
    n = int(block_s * fs)
    out = []
    for i in range(0, x.shape[1], n):
        end = min(i + n, x.shape[1]) / fs
        out += [end - e.offset_s for e in p.process(x[:, i: i + n]) if e.kind == "twitch" and e.offset_s > after_s]
    return np.array(out)


def session_growth(hours: float, config: DetectorConfig | None = None) -> tuple[float, float, float, int]:
    """Stream ``hours`` at 1 kHz with a twitch every 2 s in 60 s blocks; cost of the first and
    last half hour's blocks, the total, and the events found."""
    fs = 1000.0
    p = Pipeline(fs, 1, config)
    block = int(60 * fs)
    costs = []
    n_events = 0
    for k in range(int(hours * 60)):
        x = twitching(fs, 60.0, 1800.0, seed=k)
        t = time.perf_counter()
        n_events += len(p.process(x))
        costs.append(time.perf_counter() - t)
        assert x.shape[1] == block
    n_events += len(p.flush())
    half = 30
    return sum(costs[:half]), sum(costs[-half:]), sum(costs), n_events


MEMORY_CHILD = r"""
import resource, sys, numpy as np
from myotwitch.dsp import Pipeline
from myotwitch.dsp.config import DetectorConfig
from myotwitch.dsp.synth import case_spec, synthesize
x, _ = synthesize(case_spec("mixed", 1000.0, 600.0, seed=3))
pipe = Pipeline(1000.0, 1, DetectorConfig(detector=sys.argv[1]))
n = 0
events = 0
for rep in range(144):  # 144 x 10 min = 24 h
    for i in range(0, x.shape[1], 60_000):
        events += len(pipe.process(x[:, i:i + 60_000]))
        n += min(60_000, x.shape[1] - i)
events += len(pipe.flush())
try:  # this process's own peak (ru_maxrss keeps the parent's peak across fork + exec on Linux)
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(n, events, peak)
"""


def _numba_version() -> str:
    import numba
    return str(numba.__version__)


def load_table(seconds: float, repeats: int, config: DetectorConfig) -> tuple[list[str], dict]:
    rows = ["| channels | twitches / h / channel | events found | detect() | x real time | floor (x real time) "
            "| detect / floor |", "|---|---|---|---|---|---|---|"]
    figures: dict = {}
    for n_ch in (1, 2, 8):
        for per_hour in (0, 180, 1800, 7200):
            x = twitching(1000.0, seconds, per_hour, n_ch)
            xd = x.astype(np.float64)
            res = detect(x, 1000.0, config)
            t_det = best_of(lambda x=x: detect(x, 1000.0, config), repeats)
            t_floor = best_of(lambda xd=xd: signal.sosfilt(FLOOR_SOS, xd, axis=-1), repeats)
            n_tw = sum(e.kind == "twitch" for e in res.events)
            figures[(n_ch, per_hour)] = (t_det, t_floor, n_tw)
            rows.append(f"| {n_ch} | {per_hour:,} | {n_tw:,} | {t_det * 1000:.0f} ms | **{seconds / t_det:,.0f}x** "
                        f"| {seconds / t_floor:,.0f}x | {t_det / t_floor:.1f} |")
    return rows, figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 min instead of 1 h per case, 1 h session test")
    ap.add_argument("--detector", default=DetectorConfig().detector, choices=("envelope", "energy"),
                    help="detector to measure (default: the shipped default)")
    ap.add_argument("--repeats", type=int, default=None, help="best of N per figure (default 2 quick, 3 full)")
    args = ap.parse_args()
    cfg = DetectorConfig(detector=args.detector)
    seconds = 600.0 if args.quick else 3600.0
    repeats = args.repeats or (2 if args.quick else 3)

    rows, fig = load_table(seconds, repeats, cfg)
    # marginal cost per event: extra time over the quiet hour, divided by the extra events
    marg = []
    for n_ch in (1, 2, 8):
        t0, _, _ = fig[(n_ch, 0)]
        t1, _, n1 = fig[(n_ch, 7200)]
        marg.append(f"{n_ch} ch: **{(t1 - t0) / max(n1, 1) * 1e6:.1f} us**")
    fs2 = 2000.0
    load1 = twitching(1000.0, 600.0, 1800.0, 1)
    load8 = twitching(fs2, 120.0, 1800.0, 8)
    t_s1 = min(stream(load1, 1000.0, config=cfg) for _ in range(repeats))
    t_s8 = min(stream(load8, fs2, config=cfg) for _ in range(repeats))
    hours = 1.0 if args.quick else 4.0
    first, last, total, n_sess = session_growth(hours, cfg)
    # the same hours through the pure numpy/scipy path, when the table above ran compiled kernels:
    # both paths timed in turn here, so the ratio is not skewed by load that changed since
    compiled = kernels.front_end() is not None
    pure_rows = []
    if compiled:
        for per_hour in (0, 1800):
            x = twitching(1000.0, seconds, per_hour, 1)
            best = {True: np.inf, False: np.inf}
            for _ in range(repeats):
                for on in (True, False):
                    kernels.enabled = on
                    best[on] = min(best[on], best_of(lambda x=x: detect(x, 1000.0, cfg), 1))
            kernels.enabled = True
            pure_rows.append(f"| 1 ch, {per_hour:,} twitches/h: compiled kernels against the pure numpy/scipy "
                             f"path (`MYOTWITCH_PURE=1`), timed in turn | {seconds / best[True]:,.0f}x against "
                             f"{seconds / best[False]:,.0f}x real time (**{best[False] / best[True]:.2f}x**) | - |")

    # latency: from the end of a twitch to the end of the 50 ms block that reports it; isolated
    # twitches, and twitches in runs (3-8 potentials 60-150 ms apart) and near contractions
    # (isolated: 5 rest recordings of 5 min per rate, after the first 3 s: the first 2 s are held
    # while the mains frequency is decided)
    lat_rows = []
    for fs_lat in (500.0, 1000.0, 2000.0):
        d = np.concatenate([report_delays(synthesize(case_spec("clean_rest", fs_lat, 300.0, seed=seed)
                                                     .with_(twitch_rate=20.0))[0], fs_lat, cfg, after_s=3.0)
                            for seed in range(7, 12)]) * 1000
        lat_rows.append(f"| report latency after a twitch ends, 50 ms blocks, {fs_lat:g} Hz ({d.size} isolated "
                        f"twitches) | median {np.median(d):.0f} ms, 99th percentile {np.percentile(d, 99):.0f} ms, "
                        f"**max {d.max():.0f} ms** | <= 300 ms |")
    for name in ("bursty_high_rate", "near_contraction"):
        d = report_delays(hard_case(name, 1000.0, 600.0, seed=7)[0], 1000.0, cfg) * 1000
        lat_rows.append(f"| report latency, hard suite's `{name}` (10 min, {d.size} twitches) | median {np.median(d):.0f} ms, "
                        f"95th percentile {np.percentile(d, 95):.0f} ms, max {d.max():.0f} ms; **{np.mean(d > 300):.0%} "
                        f"over 300 ms** | <= 300 ms |")
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, args.detector], capture_output=True, text=True, check=True)
    n, n_events, rss = out.stdout.split()

    summary = [
        "| measure | result | target |",
        "|---|---|---|",
        f"| marginal cost per twitch (7,200/h vs quiet) | {', '.join(marg)} | <= 20 us (1 ch) |",
        f"| streaming 50 ms blocks, 1 ch x 1 kHz, 1,800 twitches/h | **{600 / t_s1:,.0f}x real time** | >= 1,000x |",
        f"| streaming 50 ms blocks, 8 ch x 2 kHz, 1,800 twitches/h/ch | **{120 / t_s8:,.0f}x real time** | >= 300x |",
        f"| {hours:.0f} h stream, twitch every 2 s, 60 s blocks ({n_sess:,} events, {hours * 3600 / total:,.0f}x real "
        f"time) | last half hour / first half hour = **{last / first:.2f}** | <= 1.5 |",
        *lat_rows,
        f"| 24 h x 1 kHz in 60 s chunks ({int(n) / 1000 / 3600:.0f} h, {n_events} events) | peak RSS "
        f"**{float(rss):.0f} MB** | < 500 MB |",
        *pure_rows,
    ]
    head = (f"Detector `{args.detector}`. One core ({machine()}), best of {repeats}; {seconds / 3600:g} h per case at 1 kHz. Load: 5 µV RMS "
            "noise with a 300 µV biphasic twitch at a fixed interval per channel. Floor: one 4th-order (2 x 2 poles) "
            "20-450 Hz Butterworth `sosfilt` over the same float64 array, timed in the same run. "
            "Targets (1 ch): >= 20,000x real time and <= 7.5x the floor at 1,800/h; >= 10,000x at 7,200/h. "
            + (f"Compiled kernels (`myotwitch[fast]`, numba {_numba_version()}, dsp/kernels.py) on; the pure path "
               "is in the last rows." if compiled else "Pure numpy/scipy path (no compiled kernels installed)."))
    body = head + "\n\n" + "\n".join(rows) + "\n\n" + "\n".join(summary)
    print(body)
    if not args.quick and args.detector == DetectorConfig().detector:
        write_section("Detector speed and memory", body, keep_notes=True)  # the analysis below the tables stays


if __name__ == "__main__":
    main()
