"""Twitches soon after a long outage under strong hum, against twitches far from any outage.

A continuous recording (hum: 50 or 60 Hz, up to 0.05 Hz off nominal, a 50-110 µV RMS
fundamental with harmonics of 0.35, 0.2 and 0.1 of it, swelling by 15 % over half a minute;
white noise of 4 µV RMS) loses G s of data after every 8 s of data. In each 8 s: one twitch
0-1 s after the data comes back (one only: two would be each other's background), counted by
how soon (0-0.15 s: the detector settles after a gap and finds nothing there; 0.15-0.5 s;
0.5-1 s), and two far from any outage (3-7 s after). Sizes are 15-30x the noise in the
detector's 20-450 Hz band. The data is fed 20 ms at a time, the lost frames as ``gap``, as a
link delivers them. Recall: onset within 25 ms, one-to-one. After an outage longer than the
noise floor's history (6 s) the floor from before it goes on when the first 0.1 s back is like
it (``noise_seed_ratio``), as here; else it is learnt again (0.5 s of data), hum or not.
Prints only. Run: python -m benchmarks.after_outage [--cycles N] [--seeds N] [--hum SCALE]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from benchmarks.common import machine
from myotwitch.dsp import Pipeline
from myotwitch.dsp.evaluate import matched_flags
from myotwitch.dsp.synth import muap

DATA_S = 8.0
NOISE_UV = 4.0
BUCKETS = ("0-0.15 s after", "0.15-0.5 s after", "0.5-1 s after", "far")


def make(fs: float, gap_s: float, cycles: int, seed: int, hum: float = 1.0
         ) -> tuple[np.ndarray, np.ndarray, list[tuple[float, str]]]:
    """The signal ``(1, n)``, which samples are lost, and the twitches' (onset s, bucket)."""
    rng = np.random.default_rng([seed, int(fs), int(gap_s * 1000)])
    period = DATA_S + gap_s
    n = int(round(cycles * period * fs))
    t = np.arange(n) / fs
    f0 = (50.0 if seed % 2 else 60.0) + rng.uniform(-0.05, 0.05)
    level = rng.uniform(50.0, 110.0) * hum
    swell = 1 + 0.15 * np.sin(2 * np.pi * t / 37.0 + rng.uniform(0, 2 * np.pi))
    x = rng.normal(0.0, NOISE_UV, n)
    for k, rel in enumerate((1.0, 0.35, 0.2, 0.1), start=1):
        x += np.sqrt(2) * level * rel * swell * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    band_rms = NOISE_UV * np.sqrt((min(450.0, 0.45 * fs) - 20.0) / (fs / 2))
    lost = np.zeros(n, bool)
    twitches = []
    for c in range(cycles):
        s0 = c * period  # data from s0 to s0 + DATA_S, then the outage
        lost[int(round((s0 + DATA_S) * fs)): int(round((s0 + period) * fs))] = True
        if c == 0:
            continue  # the recording's own start
        after = rng.uniform(0.0, 1.0)
        soon = BUCKETS[0] if after < 0.15 else BUCKETS[1] if after < 0.5 else BUCKETS[2]
        for at, bucket in ((s0 + after, soon), (s0 + rng.uniform(3.0, 4.5), "far"), (s0 + rng.uniform(5.5, 7.0), "far")):
            w = muap(rng.uniform(6.0, 15.0), fs, rng, False) * rng.uniform(15.0, 30.0) * band_rms
            i = int(at * fs)
            x[i: i + w.size] += w
            twitches.append(((i + np.argmax(np.abs(w) > 0.01 * np.abs(w).max())) / fs, bucket))
    return x[None, :], lost, twitches


def run(x: np.ndarray, lost: np.ndarray, fs: float) -> np.ndarray:
    """Twitch onsets (s), the data fed a 20 ms frame at a time."""
    fr = int(round(0.02 * fs))
    pipe = Pipeline(fs, 1)
    events = []
    for i in range(0, x.shape[1], fr):
        events += pipe.gap(min(fr, x.shape[1] - i)) if lost[i] else pipe.process(x[:, i: i + fr])
    events += pipe.flush()
    return np.array([e.onset_s for e in events if e.kind == "twitch"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=40, help="outages per recording (default 40)")
    ap.add_argument("--seeds", type=int, default=2, help="recordings per rate and outage (default 2)")
    ap.add_argument("--hum", type=float, default=1.0, help="scale of the hum (0: none)")
    ap.add_argument("--fs", default="1000,2000")
    ap.add_argument("--outages", default="1.5,3,10", help="outage lengths, s")
    args = ap.parse_args()
    t0 = time.perf_counter()
    lines = ["| rate | outage | " + " | ".join(BUCKETS) + " | false |", "|---|---|" + "---|" * (len(BUCKETS) + 1)]
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for fs in map(float, args.fs.split(",")):
        for gap in map(float, args.outages.split(",")):
            hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            false = 0
            for seed in range(args.seeds):
                x, lost, twitches = make(fs, gap, args.cycles, seed, args.hum)
                found, fl = matched_flags(run(x, lost, fs), np.array([t for t, _ in twitches]), 0.025)
                false += int(np.size(fl))
                for (_, bucket), f in zip(twitches, found):
                    for acc in (hits[bucket], total[bucket]):
                        acc[0] += int(f)
                        acc[1] += 1
            lines.append(f"| {fs:g} Hz | {gap:g} s | " + " | ".join(
                f"{hits[b][0]}/{hits[b][1]}" for b in BUCKETS) + f" | {false} |")
    lines.append("| all | | " + " | ".join(f"{total[b][0]}/{total[b][1]} ({total[b][0] / max(total[b][1], 1):.2f})"
                                           for b in BUCKETS) + " | |")
    print(f"{machine()}. Hum x{args.hum:g}; {args.seeds} recording(s) of {args.cycles} outages per rate and outage "
          f"length; `python -m benchmarks.after_outage` ({time.perf_counter() - t0:.0f} s).\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
