"""The detector on the shipped real recordings (data/recordings/, issue #15 item 4).

Per file: twitches found where the right answer is 0; the noise floor; and the recall of
synthetic twitches injected into the real quiet stretches, by size as a multiple of the
stretches' noise RMS (dsp.synth.muap waveforms, 5-30 ms; several seeds pooled).
Run: python benchmarks/real_recordings.py [--seeds N] [--write]
(--write replaces the "Real recordings" section of benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
from scipy import signal

if __package__ in (None, ""):  # run as a script: make the checkout's benchmarks package importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, write_section  # noqa: E402
from myotwitch.host.realdata import evaluate, manifest  # noqa: E402

SIZE_BANDS = ((6.0, 8.0), (8.0, 10.0), (10.0, 15.0), (15.0, 20.0), (20.0, 40.0))


def floor_uv(x: np.ndarray, fs: float) -> float:
    """5th percentile of the 100 ms RMS of the 20-450 Hz band: a quiet-floor estimate that
    needs no hand-picked stretches, so every file gets one."""
    y = signal.sosfiltfilt(signal.butter(2, [20, min(450, 0.45 * fs)], "bandpass", fs=fs, output="sos"), x)
    w = int(0.1 * fs)
    return float(np.percentile(np.sqrt(np.mean(y[: len(y) // w * w].reshape(-1, w) ** 2, axis=1)), 5))


def run(seeds: int) -> str:
    m = manifest()
    seed_list = tuple(range(seeds))
    head = ("| file | activity | duration (s) | twitches found | expected | floor p5 (µV RMS) | quiet (s) | "
            "twitches in quiet | tonic (s) | twitches in tonic | noise RMS in quiet (µV) | " + " | ".join(f"recall {a:g}-{b:g}x" for a, b in SIZE_BANDS)
            + " | extra twitches with injection |")
    rows = [head, "|" + "---|" * (11 + len(SIZE_BANDS) + 1)]
    total = {"found": 0, "expected": 0, "quiet_s": 0.0, "quiet_tw": 0, "tonic_s": 0.0, "tonic_tw": 0}
    pooled = {band: [0, 0] for band in SIZE_BANDS}
    extra_all = 0
    t0 = time.perf_counter()
    for rec in m.recordings:
        x, fs = rec.load()
        base = evaluate(rec, seeds=())
        cells = []
        extra = 0
        for band in SIZE_BANDS:
            if not rec.quiet:
                cells.append("-")
                continue
            r = evaluate(rec, seeds=seed_list, size=band)
            pooled[band][0] += r.found
            pooled[band][1] += r.injected
            extra += r.extra
            cells.append(f"{r.recall:.2f} ({r.found}/{r.injected})")
        extra_all += extra
        total["found"] += base.twitches
        total["expected"] += rec.expected_max_twitches
        total["quiet_s"] += rec.quiet_s
        total["quiet_tw"] += base.quiet_twitches
        tonic_s = sum(b - a for a, b in rec.tonic)
        total["tonic_s"] += tonic_s
        total["tonic_tw"] += base.tonic_twitches
        rms = f"{base.noise_rms_uv:.2f}" if rec.quiet else "-"
        rows.append(f"| {rec.file} | {rec.activity} | {rec.duration_s:.1f} | {base.twitches} | "
                    f"{rec.expected_max_twitches} | {floor_uv(x, fs):.2f} | {rec.quiet_s:.1f} | "
                    f"{base.quiet_twitches if rec.quiet else '-'} | {tonic_s:.1f} | "
                    f"{base.tonic_twitches if rec.tonic else '-'} | {rms} | " + " | ".join(cells)
                    + f" | {extra if rec.quiet else '-'} |")
    pooled_cells = [f"{f / n:.2f} ({f}/{n})" if n else "-" for f, n in pooled.values()]
    rows.append(f"| **all** | | {sum(r.duration_s for r in m.recordings):.1f} | {total['found']} | "
                f"{total['expected']} | | {total['quiet_s']:.1f} | {total['quiet_tw']} | {total['tonic_s']:.1f} | "
                f"{total['tonic_tw']} | | "
                + " | ".join(pooled_cells) + f" | {extra_all} |")
    took = time.perf_counter() - t0
    return "\n".join([
        f"{len(m.recordings)} real recordings (see data/recordings/SOURCES.md), {seeds} injection seeds per size band; "
        f"{machine()}; {took:.1f} s.",
        "Targets (issue #15): 0 twitches on voluntary activity, movement and walking (single-unit trains included); "
        "<= 2 per 100 s of quiet; "
        "recall >= 0.90 at 8-10x and >= 0.98 at >= 10x the noise RMS; no extra twitches.",
        "Noise RMS: the detector's pass band (zero-phase) over the manifest's quiet stretches; injected sizes are "
        "peak-to-peak multiples of it, 5-30 ms potentials 0.45-0.9 s apart (irregular). Floor p5: 5th percentile of the "
        "100 ms RMS of the 20-450 Hz band, for every file. Quiet and tonic (single-motor-unit train) stretches "
        "are listed in data/recordings/manifest.toml.",
        "", *rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=4, help="injection runs per file and size band")
    ap.add_argument("--write", action="store_true", help="update the section in benchmarks/RESULTS.md")
    args = ap.parse_args()
    body = run(args.seeds)
    print(body)
    if args.write:
        write_section("Real recordings", body, keep_notes=True)


if __name__ == "__main__":
    main()
