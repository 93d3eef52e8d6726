"""Why injected twitches in the real quiet stretches are missed (issue #15, a diagnosis).

Injects twitches as benchmarks/real_recordings.py does (host.realdata.inject, same seeds) and
runs the detector four times on each injected signal: as it is; with the Gaussian threshold row
(the background's kurtosis, energy.TailWeight, not followed); with the noise floor fixed at the
stretches' true noise (the benchmark's noise RMS, less the floor's bias); and with both. Each
miss is charged to the first of these that finds it; a miss none of them finds is below the
detector's own sensitivity (or re-classified after the fix, with the reason). Also prints recall
by size against the noise around each twitch rather than over all stretches, and the natural
potentials of the quiet stretches that the detector with the true floor and Gaussian thresholds
reports (what any detector this sensitive will report there).
Run: python -m benchmarks.real_misses [--seeds N]
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys

import numpy as np
from scipy import signal

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from myotwitch.dsp.config import DetectorConfig  # noqa: E402
from myotwitch.dsp.pipeline import Pipeline, _threshold_table  # noqa: E402
from myotwitch.host.realdata import MATCH_TOLERANCE_S, inject, manifest, noise_rms, twitches_in  # noqa: E402

BANDS = ((6.0, 8.0), (8.0, 10.0), (10.0, 15.0), (15.0, 20.0))
VARIANTS = ("as is", "Gaussian thresholds", "true floor", "both")


def run(x: np.ndarray, fs: float, gaussian: bool = False, floor_uv: float | None = None) -> list:
    """The detector's events on ``x``; ``gaussian``: the Gaussian threshold row throughout;
    ``floor_uv``: the noise floor held there (once the real one is known)."""
    pipe = Pipeline(fs, 1)
    if gaussian:
        pipe._energy.tail = None  # the first row of the threshold table, the matched bank's too
    if floor_uv is not None:
        real = pipe._noise.process

        def fixed(y2: np.ndarray) -> np.ndarray:
            f = real(y2)
            return np.where(np.isnan(f), f, floor_uv)

        setattr(pipe._noise, "process", fixed)  # noqa: B010 (a diagnostic hook)
    events = pipe.process(x[None, :]) + pipe.flush()
    return sorted(events, key=lambda e: e.onset_sample)


def cause(events: list, onset_s: float, end_s: float) -> str:
    """"found", or what became of the injected twitch at ``onset_s``."""
    near = [e for e in events if e.onset_s < end_s + 0.02 and e.offset_s > onset_s - 0.02]
    if any(e.kind == "twitch" and abs(e.onset_s - onset_s) <= MATCH_TOLERANCE_S for e in near):
        return "found"
    if not near:
        return "below threshold"
    e = near[0]
    if e.kind == "twitch":
        return "twitch, onset off"
    reason = e.reason or "long activity"
    if "smaller than the smallest" in reason:
        reason = "under min_twitch_uv"
    elif "low-frequency" in reason:
        reason = "low-frequency transient"
    return f"{e.kind}: {reason[:60]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()
    cfg = DetectorConfig()
    causes: dict[tuple[float, float], collections.Counter] = {b: collections.Counter() for b in BANDS}
    local: list[tuple[float, bool]] = []
    for rec in manifest().recordings:
        if not rec.quiet:
            continue
        x, fs = rec.load()
        rms = noise_rms(x, fs, rec.quiet, cfg)
        lo, hi = cfg.band_for(fs)
        _, bias = _threshold_table(fs, lo, hi, cfg.band_order, (2,), cfg.energy_on_threshold,
                                   int(round(cfg.noise_window_s * fs)), cfg.noise_percentile)
        y = signal.sosfiltfilt(signal.butter(2, [lo, hi], "bandpass", fs=fs, output="sos"), x)
        floor = rms / np.sqrt(bias)
        natural = twitches_in(run(x, fs, True, floor), rec.quiet)
        print(f"{rec.file}: noise RMS {rms:.2f} µV; natural potentials in {rec.quiet_s:.1f} s of quiet that the "
              f"detector with the true floor and Gaussian thresholds reports: "
              f"{[(round(e.onset_s, 2), round(e.peak_to_peak_uv / rms, 1)) for e in natural]}")
        for band in BANDS:
            for seed in range(args.seeds):
                inj = inject(x, fs, rec.quiet, rms, seed=seed, size=band)
                runs = [run(inj.signal, fs, g, f) for g, f in ((False, None), (True, None), (False, floor), (True, floor))]
                added = np.abs(inj.signal - x)
                for t, ptp in zip(inj.onsets_s, inj.ptp_uv):
                    i = int(round(t * fs))  # the potential's end: where the added wave returns to baseline
                    end = (i + int(np.flatnonzero(added[i: i + int(0.04 * fs)] > 0.02 * ptp)[-1]) + 1) / fs
                    got = [cause(ev, t, end) for ev in runs]
                    a, b = int(t * fs), int(end * fs)
                    around = np.sqrt(np.mean(np.r_[y[max(a - 300, 0): a - 50], y[b + 50: b + 300]] ** 2))
                    local.append((ptp / around, got[0] == "found"))
                    if got[0] == "found":
                        key = "found"
                    elif got[0] != "below threshold":
                        key = f"re-classified ({got[0]})"
                    elif got[1] == "found" and got[2] == "found":
                        key = "below threshold: raised kurtosis OR high floor (either fix finds it)"
                    elif got[1] == "found":
                        key = "below threshold: raised kurtosis (Gaussian thresholds find it)"
                    elif got[2] == "found":
                        key = "below threshold: floor above the true noise (true floor finds it)"
                    elif got[3] == "found":
                        key = "below threshold: needs both"
                    elif got[3] == "below threshold":
                        key = "below threshold even with both (the detector's own sensitivity)"
                    else:
                        key = f"both fixed, then re-classified ({got[3]})"
                    causes[band][key] += 1
    for band, c in causes.items():
        print(f"\n{band[0]:g}-{band[1]:g}x the stretches' noise RMS: {sum(c.values())} injected")
        for k, n in c.most_common():
            print(f"  {n:4d}  {k}")
    print("\nrecall by size against the noise around each twitch (+-0.05-0.3 s, zero-phase pass band):")
    for a, b in ((0, 6), (6, 8), (8, 10), (10, 15), (15, 20), (20, 40)):
        hits = [f for s, f in local if a <= s < b]
        if hits:
            print(f"  {a}-{b}x: {np.mean(hits):.2f} ({sum(hits)}/{len(hits)})")


if __name__ == "__main__":
    main()
