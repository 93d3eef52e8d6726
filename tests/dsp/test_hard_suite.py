"""The project's hard synthetic suite (dsp/synth.py HARD_CASES, test seeds only): twitches at
4-80x the noise RMS among recruited voluntary activity, walking, motion, 1/f and heavy-tailed
noise, quantisation and strong mains at 500, 1000 and 2000 Hz. The shape-aware detector must
find small twitches far more often than the envelope detector while counting less voluntary
activity; the figures it reaches are in benchmarks/RESULTS.md (benchmarks/accuracy.py)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from myotwitch.dsp import DetectorConfig, detect
from myotwitch.dsp.synth import HARD_CASES, HARD_RATES_HZ, HARD_TEST_SEEDS, hard_case

SECONDS = 60.0
BANDS = ((8.0, 10.0), (10.0, 20.0), (20.0, np.inf))


@cache
def scores(detector: str) -> dict:
    cfg = DetectorConfig(detector=detector)
    hits = {b: [0, 0] for b in BANDS}
    fp = {"rest": 0, "voluntary": 0}
    hours = {"rest": 0.0, "voluntary": 0.0}
    for name in HARD_CASES:
        for fs in HARD_RATES_HZ:
            x, truth = hard_case(name, fs, SECONDS, HARD_TEST_SEEDS[0])
            found = np.array([e.onset_s for e in detect(x, fs, cfg).events if e.kind == "twitch"])
            true = np.array([t.onset_s for t in truth.twitches])
            for t in truth.twitches:
                for lo, hi in BANDS:
                    if lo <= t.snr_x < hi:
                        hits[(lo, hi)][0] += bool(found.size and np.min(np.abs(found - t.onset_s)) < 0.03)
                        hits[(lo, hi)][1] += 1
            busy = sum(b - a for _, a, b in truth.confounders)
            hours["voluntary"] += busy / 3600
            hours["rest"] += (SECONDS - busy) / 3600
            for t in found:
                if true.size and np.min(np.abs(true - t)) < 0.03:
                    continue
                near = any(a - 0.1 <= t <= b + 0.1 for _, a, b in truth.confounders)
                fp["voluntary" if near else "rest"] += 1
    return {"recall": {b: h / n for b, (h, n) in hits.items()},
            "fp_per_h": {k: fp[k] / hours[k] for k in fp}}


@pytest.mark.slow
def test_small_twitches_are_found_far_more_often_than_by_the_envelope():
    new, old = scores("energy"), scores("envelope")
    assert new["recall"][(8.0, 10.0)] >= 0.55 and new["recall"][(8.0, 10.0)] >= old["recall"][(8.0, 10.0)] + 0.25
    assert new["recall"][(10.0, 20.0)] >= 0.85 and new["recall"][(10.0, 20.0)] >= old["recall"][(10.0, 20.0)] + 0.1
    assert new["recall"][(20.0, np.inf)] >= 0.95


@pytest.mark.slow
def test_less_voluntary_activity_is_counted_than_by_the_envelope():
    new, old = scores("energy"), scores("envelope")
    assert new["fp_per_h"]["voluntary"] <= 0.8 * old["fp_per_h"]["voluntary"]


@pytest.mark.slow
def test_false_twitches_at_rest_stay_bounded():
    # a known gap (issue #15 asks for <= 1/h): single-sample glitches and heavy-tailed
    # backgrounds still cross at 1 kHz and below; this keeps it from growing
    assert scores("energy")["fp_per_h"]["rest"] <= 30.0
