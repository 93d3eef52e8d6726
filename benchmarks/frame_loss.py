"""Twitches found when a link loses frames, with short gaps bridged and with the detector's
filters restarted after every gap (``bridge_gap_s`` 0; the mains canceller keeps its history
across gaps of up to 1 s either way).

The hard suite's twitch cases (``dsp.synth.hard_case``: mains, 1/f and heavy-tailed noise,
runs of twitches, contractions, walking, motion) are fed a frame at a time, as a link delivers
them, with a share of the frames lost at random from the start on (while the floor is learnt
and the mains decided): 20 ms frames one at a time, or runs of 1-5 of them (up to 100 ms, the
longest gap bridged), and 3.5 ms frames (an 8-channel 4 kHz board's). Recall counts the twitches no sample of which
was lost, against the same detector on the whole trace; false twitches are detections that
match no true twitch (one-to-one, onset within 25 ms).
Run: python -m benchmarks.frame_loss [--minutes M] [--seeds N]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from benchmarks.common import machine, write_section
from myotwitch.dsp import DetectorConfig, Pipeline
from myotwitch.dsp.evaluate import matched_flags
from myotwitch.dsp.synth import HARD_CASES, hard_case

CASES = [name for name in HARD_CASES if not name.startswith("no_twitch")]
RATES = (500.0, 1000.0, 2000.0)
#: (label, share of frames lost, longest run of frames lost, frame length s)
LOSSES = (("none", 0.0, 1, 0.02), ("1 % of 20 ms frames, one at a time", 0.01, 1, 0.02),
          ("5 % of 20 ms frames", 0.05, 1, 0.02), ("10 % of 20 ms frames", 0.10, 1, 0.02),
          ("2 % of 20 ms frames start a run of 1-5 lost", 0.02, 5, 0.02), ("5 % of 3.5 ms frames", 0.05, 1, 0.0035))


def _lose(n: int, fr: int, share: float, longest: int, rng: np.random.Generator) -> np.ndarray:
    gone = np.zeros(n, bool)
    for i in np.flatnonzero(rng.random(n // fr) < share):
        gone[i * fr: (i + int(rng.integers(1, longest + 1))) * fr] = True
    return gone


def _run(x: np.ndarray, fs: float, fr: int, cfg: DetectorConfig) -> np.ndarray:
    pipe = Pipeline(fs, x.shape[0], cfg)
    events = [e for i in range(0, x.shape[1], fr) for e in pipe.process(x[:, i: i + fr])] + pipe.flush()
    return np.array([e.onset_s for e in events if e.kind == "twitch"])


def one(args: tuple[str, float, int, float]) -> list[tuple]:
    """Every loss pattern, bridged and restarted, on one case: rows of (loss, mode, hits...)."""
    name, fs, seed, minutes = args
    x, truth = hard_case(name, fs, minutes * 60.0, seed)
    x = x.astype(np.float64)
    on = np.array([t.onset_s for t in truth.twitches])
    size = np.array([t.snr_x for t in truth.twitches])
    bands = (size >= 10, (size >= 8) & (size < 10), size >= 10)  # the last: lost samples or not
    rows = []
    for li, (_, share, longest, frame_s) in enumerate(LOSSES):
        fr = max(1, int(round(frame_s * fs)))
        gone = _lose(x.shape[1], fr, share, longest, np.random.default_rng([seed, int(fs), li]))
        whole = np.array([not gone[int(t.onset_s * fs): int(t.offset_s * fs) + 1].any() for t in truth.twitches])
        lossy = x.copy()
        lossy[:, gone] = np.nan
        for mode, cfg in (("bridged", DetectorConfig()), ("restarted", DetectorConfig(bridge_gap_s=0.0))):
            if share == 0 and mode == "restarted":
                continue
            t0 = time.perf_counter()
            found, false = matched_flags(_run(lossy, fs, fr, cfg), on, 0.025)
            seen = (whole, whole, np.ones_like(whole))
            rows.append((li, mode, [int((found & w & b).sum()) for w, b in zip(seen, bands)],
                         [int((w & b).sum()) for w, b in zip(seen, bands)],
                         int(np.size(false)), x.shape[1] / fs / 3600.0, float(gone.mean()), time.perf_counter() - t0))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=3.0, help="per case and rate (default 3)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per case and rate (default 1)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as it is")
    args = ap.parse_args()
    jobs = [(name, fs, 4100 + s, args.minutes) for name in CASES for fs in RATES for s in range(args.seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = [r for rows in pool.map(one, jobs) for r in rows]
    total: dict[tuple[int, str], list] = {}
    for li, mode, hit, n, false, hours, lost, _ in results:
        acc = total.setdefault((li, mode), [np.zeros(3), np.zeros(3), 0, 0.0, 0.0])
        acc[0] += hit
        acc[1] += n
        acc[2] += false
        acc[3] += hours
        acc[4] += lost * hours
    base = total[(0, "bridged")]
    lines = [f"{machine()}. {len(CASES)} hard-suite twitch cases x {len(RATES)} rates ({', '.join(f'{r:g}' for r in RATES)} Hz) "
             f"x {args.seeds} seed(s), {args.minutes:g} min each ({base[3]:.1f} h), fed a frame at a time; "
             f"`python -m benchmarks.frame_loss` ({time.perf_counter() - t0:.0f} s).", "",
             "| frames lost | data lost | detector after a gap | recall >= 10x | recall 8-10x | recall >= 10x, all twitches | false twitches/h |",
             "|---|---|---|---|---|---|---|"]
    for li, (label, *_) in enumerate(LOSSES):
        for mode in ("bridged", "restarted"):
            if (li, mode) not in total:
                continue
            hit, n, false, hours, lost = total[(li, mode)]
            what = "(no gaps)" if li == 0 else ("bridged up to 0.1 s" if mode == "bridged" else "restarted after every gap")
            lines.append(f"| {label} | {100 * lost / hours:.1f} % | {what} | {hit[0] / n[0]:.3f} | {hit[1] / n[1]:.3f} "
                         f"| {hit[2] / n[2]:.3f} | {false / hours:.1f} |")
    lines += ["", "Recall is over the twitches no sample of which was lost (the rows' counts differ a little "
              "for that), and in the next to last column over all of them: a twitch that lost samples is "
              "found only when they were a small part of it. A burst shorter than a contraction is not counted when the bridged gaps in it or "
              "within 5 ms of it add up to over a quarter of its length (and over 4 ms, for one of 16 noise "
              "floors and more): it may have lost a part there. With runs of frames lost, some gaps exceed "
              "0.1 s and restart the detector."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("Lost frames", body)


if __name__ == "__main__":
    main()
