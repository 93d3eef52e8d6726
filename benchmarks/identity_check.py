"""Bit-identity guard for speed work: every output of the detector, pickled once, compared exactly.

Speed changes must not move a single event. This runs the pipeline over synthetic cases
(both detectors, 1 and several channels, 50 ms / 1 s / offline chunks) and records events,
episodes, gaps, mains, quality, the final floor and the unit templates. ``--save`` writes the
reference; the default compares against it (floats by bit pattern, so NaN == NaN).

Run: python benchmarks/identity_check.py [--save] [--ref PATH] [--quick]
"""

from __future__ import annotations

import argparse
import pathlib
import pickle
import struct
import sys
import time

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.speed import twitching  # noqa: E402
from myotwitch.dsp import Pipeline  # noqa: E402
from myotwitch.dsp.config import DetectorConfig  # noqa: E402
from myotwitch.dsp.pipeline import OFFLINE_CHUNK, detect  # noqa: E402
from myotwitch.dsp.synth import (  # noqa: E402
    CASES,
    HARD_CASES,
    UnitSynthSpec,
    case_spec,
    hard_case,
    random_sources,
    synthesize,
    synthesize_units,
)
from myotwitch.dsp.unit_measures import unit_summaries  # noqa: E402

DEFAULT_REF = "/tmp/myotwitch_speed4_identity.pkl"


def cases(quick: bool) -> list[tuple[str, np.ndarray, float]]:
    out = []
    dur = 30.0 if quick else 60.0
    for i, name in enumerate(CASES):
        fs = (1000.0, 2000.0, 500.0)[i % 3]
        x, _ = synthesize(case_spec(name, fs, dur, seed=11 + i))
        out.append((f"{name}/1ch/{fs:g}", x, fs))
        x, _ = synthesize(case_spec(name, 1000.0, dur, seed=31 + i, n_channels=3))
        out.append((f"{name}/3ch/1000", x, 1000.0))
    for i, name in enumerate(HARD_CASES):
        fs = (1000.0, 2000.0, 500.0)[i % 3]
        x, _ = hard_case(name, fs, dur, seed=7001 + i)
        out.append((f"hard:{name}/1ch/{fs:g}", x, fs))
        if i % 3 == 0:
            x2, _ = hard_case(name, fs, dur, seed=8001 + i)
            out.append((f"hard:{name}/2ch/{fs:g}", np.concatenate([x, x2]), fs))
    for i, (n_src, n_ch, fs) in enumerate(((3, 1, 1000.0), (4, 2, 1000.0), (5, 4, 2000.0), (6, 8, 1000.0))):
        src = random_sources(np.random.default_rng(50 + i), n_src, n_ch, rate_per_min=(10.0, 30.0))
        x, _ = synthesize_units(UnitSynthSpec(src, fs=fs, duration_s=3 * dur, seed=60 + i, n_channels=n_ch,
                                              doublet_prob=0.1))
        out.append((f"units{n_src}/{n_ch}ch/{fs:g}", x, fs))
    out.append(("load1800/1ch/1000", twitching(1000.0, 4 * dur, 1800.0, 1), 1000.0))
    out.append(("load7200/2ch/1000", twitching(1000.0, 2 * dur, 7200.0, 2), 1000.0))
    out.append(("load1800/8ch/2000", twitching(2000.0, dur / 2, 1800.0, 8), 2000.0))
    return out


def run(x: np.ndarray, fs: float, cfg: DetectorConfig, chunk: int) -> dict:
    pipe = Pipeline(fs, x.shape[0], cfg)
    events = []
    for i in range(0, x.shape[1], chunk):
        events += pipe.process(x[:, i: i + chunk])
    events += pipe.flush()
    events.sort(key=lambda e: (e.onset_sample, e.channel))
    floor = pipe.current_floor()
    tmpl = {u: (d["n"], d["template"], [np.asarray(s) for s in d["snippets"]]) for u, d in pipe.units.tracker.units().items()}
    return {
        "events": events,
        "resolved": pipe.units.resolved(events),
        "episodes": list(pipe.episodes),
        "gaps": list(pipe.gaps),
        "mains": pipe.mains.to_dict() if pipe.mains else None,
        "quality": pipe.quality(),
        "floor": floor,
        "units": tmpl,
        "summaries": unit_summaries(events, pipe.units, x.shape[1] / fs),
        "horizon": pipe.latency_horizon_s,
    }


def same(a: object, b: object, path: str, diffs: list[str]) -> None:
    """Exact equality, floats by bit pattern, recursing into containers, arrays and dataclasses."""
    if len(diffs) > 20:
        return
    if type(a) is not type(b):
        diffs.append(f"{path}: type {type(a).__name__} != {type(b).__name__}")
    elif isinstance(a, float):
        if struct.pack("<d", a) != struct.pack("<d", b):  # type: ignore[arg-type]
            diffs.append(f"{path}: {a!r} != {b!r}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            diffs.append(f"{path}: arrays differ")
    elif isinstance(a, dict):
        assert isinstance(b, dict)
        if list(a) != list(b):
            diffs.append(f"{path}: keys {list(a)} != {list(b)}")
        for k in a:
            if k in b:
                same(a[k], b[k], f"{path}.{k}", diffs)
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        if len(a) != len(b):
            diffs.append(f"{path}: len {len(a)} != {len(b)}")
        for i, (u, v) in enumerate(zip(a, b)):
            same(u, v, f"{path}[{i}]", diffs)
    elif hasattr(a, "__dataclass_fields__"):
        for f in a.__dataclass_fields__:  # type: ignore[attr-defined]
            same(getattr(a, f), getattr(b, f), f"{path}.{f}", diffs)
        try:
            eq = a == b
        except Exception:  # noqa: BLE001
            eq = True
        if not eq and not any(isinstance(getattr(a, f), float) and getattr(a, f) != getattr(a, f)
                              for f in a.__dataclass_fields__):  # type: ignore[attr-defined]
            diffs.append(f"{path}: dataclass == is False")
    elif a != b:
        diffs.append(f"{path}: {a!r} != {b!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--save", action="store_true", help="write the reference instead of comparing")
    ap.add_argument("--ref", default=DEFAULT_REF)
    ap.add_argument("--quick", action="store_true", help="30 s cases (the reference must match)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results: dict = {}
    for name, x, fs in cases(args.quick):
        for det in ("envelope", "energy"):
            cfg = DetectorConfig(detector=det)
            for label, chunk in (("50ms", max(1, int(0.05 * fs))), ("1s", int(fs)), ("offline", OFFLINE_CHUNK)):
                results[(name, det, label)] = run(x, fs, cfg, chunk)
            d = detect(x, fs, cfg)
            results[(name, det, "detect")] = {"events": d.events, "episodes": d.episodes, "gaps": d.gaps,
                                               "quality": d.quality}
    n_ev = sum(len(r["events"]) for r in results.values())
    print(f"{len(results)} runs, {n_ev} events, {time.perf_counter() - t0:.1f} s")
    if args.save:
        with open(args.ref, "wb") as f:
            pickle.dump(results, f)
        print(f"saved {args.ref}")
        return
    with open(args.ref, "rb") as f:
        ref = pickle.load(f)
    bad = 0
    if set(ref) != set(results):
        print("run keys differ from the reference")
        bad += 1
    for key in ref:
        if key not in results:
            continue
        diffs: list[str] = []
        same(ref[key], results[key], "", diffs)
        if diffs:
            bad += 1
            print(key, *diffs[:5], sep="\n  ")
    print("IDENTICAL" if not bad else f"DIFFERENT in {bad} runs")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
