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


@pytest.mark.parametrize("per_min, least", [(30.0, 0.99), (60.0, 0.985)])
def test_a_night_of_fasciculation_is_counted_whole(per_min, least):
    """A night of benign fasciculation (30-60 twitches a minute of 10-40x the noise, nothing
    else) must not trip the rules for voluntary activity: its runs of twitches look like a
    unit firing again, steps of a walk or an edge of a contraction only by chance. The
    generator knows nothing of those rules; its onsets are where each potential leaves the
    baseline."""
    from myotwitch.dsp.evaluate import matched_flags
    from myotwitch.dsp.synth import fasciculation_night
    counted = total = 0
    for fs in (500.0, 1000.0):
        x, onsets = fasciculation_night(per_min, fs, 300.0, HARD_TEST_SEEDS[0])
        twitches = np.array([e.onset_s for e in detect(x, fs).events if e.kind == "twitch"])
        hit, false = matched_flags(twitches, onsets)
        counted += int(hit.sum())
        total += onsets.size
        # nor split into more: the rest are the background's own (~16/h here, as in the hard suite)
        assert false.size <= 0.03 * onsets.size
    assert total > 250 and counted >= least * total


def test_the_night_generator_makes_what_it_says():
    from myotwitch.dsp.synth import fasciculation_night
    x, onsets = fasciculation_night(60.0, 1000.0, 600.0, 1)
    assert x.shape == (1, 600_000) and x.dtype == np.float32
    gaps = np.diff(onsets)
    # Poisson at 60/min, starts 150 ms apart at least (onsets: where each one leaves the baseline)
    assert gaps.min() >= 0.15 - 0.03 and 0.8 < gaps.mean() < 1.2
    assert 500 < onsets.size < 700
