"""Keeps benchmarks/heldout.py (the independent held-out check) working: its generator makes what
it says and its scorer counts right on hand-made detections. Not a test of detector quality."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import signal as sps

from benchmarks import heldout as h


@dataclass
class Ev:
    onset_s: float
    offset_s: float
    kind: str = "twitch"


@pytest.fixture(scope="module")
def case():
    spec = h.CaseSpec("smoke_mixed", 1000.0, 0.75, noise_uv=(3.0, 3.0), mains_uv=(50, 50), quant_lsb=0.5,
                      twitch_every_s=2.0, burst_runs_per_min=2, contractions_per_min=2, tonic_per_min=2,
                      pops_per_min=2)
    h.ORACLE_NOISE_H, old = 0.05, h.ORACLE_NOISE_H
    try:
        x, bg, truth = h.generate(spec, 900001)
    finally:
        h.ORACLE_NOISE_H = old
    return spec, x, bg, truth


def test_generator_labels_match_the_signal(case):
    spec, x, bg, truth = case
    assert x.dtype == np.float32 and len(x) == int(spec.minutes * 60 * spec.fs)
    assert len(truth.twitches) >= 10 and {k for k, _, _ in truth.confounders} >= {"contraction", "tonic"}
    sos = h.band_sos(spec.fs)
    # the labelled noise RMS is the background's in-band RMS (quantisation error included)
    assert np.std(sps.sosfilt(sos, bg)[1000:]) == pytest.approx(truth.noise_rms, rel=0.02)
    for tw in truth.twitches:
        assert 4 <= tw.size_x * truth.noise_rms / 3.0 < 61 * 1.01
        assert 0.005 <= tw.offset_s - tw.onset_s <= 0.030 + h.DOUBLET_MAX_S
        if tw.doublet:
            assert tw.potentials[1].centre_s - tw.potentials[0].centre_s < h.DOUBLET_MAX_S
        # the labelled size is the band-passed peak-to-peak of the waveform that was added
        _, w, _ = h.twitch_wave(tw, spec.fs, sos)
        assert np.ptp(w) == pytest.approx(tw.p2p_uv, rel=1e-6)
    assert all(b.onset_s > a.onset_s for a, b in zip(truth.twitches, truth.twitches[1:]))


def test_perfect_detection_scores_one(case):
    _, _, _, truth = case
    events = [Ev(tw.onset_s + 0.01, tw.offset_s) for tw in truth.twitches]
    events += [Ev(s, e, "contraction") for k, s, e in truth.confounders]  # other kinds never count
    sc = h.score("perfect", truth, events)
    assert (sc.tp, sc.fp, sc.fn, sc.f1) == (len(truth.twitches), 0, 0, 1.0)


def test_one_miss_one_late_one_false():
    truth = h.Truth(1000.0, 60.0, 3.0, confounders=[("contraction", 30.0, 35.0)])
    sizes = [7.0, 9.0, 12.0, 50.0]
    for i, s in enumerate(sizes):
        truth.twitches.append(h.Twitch(5.0 + 5 * i, 5.02 + 5 * i, [], size_x=s))
    events = [Ev(5.0, 5.02), Ev(10.024, 10.05), Ev(15.03, 15.05),  # third is 30 ms late: a miss and a false
              Ev(32.0, 32.01), Ev(50.0, 50.01), Ev(20.0, 20.2, "artifact")]
    sc = h.score("hand", truth, events)
    assert (sc.tp, sc.fn) == (2, 2)
    assert sc.recall == 0.5 and sc.precision == pytest.approx(2 / 5)
    assert sc.conf_fp["contraction"] == 1 and sc.rest_fp == 1 and sc.near_fp == 1
    assert sc.band_hits == {"6-8x": (1, 1), "8-10x": (1, 1), "10-15x": (0, 1), ">=40x": (0, 1)}
    assert sc.miss_as == {"twitch-offset": 1, "artifact": 1}
    s = h.summary([sc])
    assert s["recall_ge10"] == 0.0 and s["conf"]["contraction"][2] == pytest.approx(1 / (5.2 / 3600))
    # F1 from 8x up: the 7x twitch (found) is neither right nor false; the 3 false ones count
    assert sc.f1_from(2) == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert sc.f1_from(0) == sc.f1


def test_the_oracle_f1_charges_one_false_peak_an_hour():
    truth = h.Truth(1000.0, 1800.0, 3.0)
    for i, s in enumerate([5.0, 7.0, 9.0, 30.0]):
        truth.twitches.append(h.Twitch(5.0 + 5 * i, 5.02 + 5 * i, [], size_x=s, oracle_z=8.0 if s > 6 else 1.0,
                                       oracle_thr=6.0))
    sc = h.score("oracle", truth, [])
    # half an hour: half a false peak; every twitch of 6x and up found
    assert sc.f1_from(1, oracle=True) == pytest.approx(2 * (3 / 3.5) * 1.0 / (3 / 3.5 + 1.0))
    assert sc.f1_from(0, oracle=True) == pytest.approx(h.f1_score(3, 4, 0.5))
    s = h.summary([sc])
    assert s["macro_f1_oracle_ge6"] == pytest.approx(sc.f1_from(1, oracle=True)) and s["macro_f1_ge6"] == 0.0


def test_matching_is_one_to_one_nearest_first():
    pairs = h.match(np.array([1.0, 1.03]), np.array([1.02, 1.025]))
    assert sorted(pairs) == [(0, 0), (1, 1)]
    assert h.match(np.array([1.0]), np.array([0.97, 1.0, 1.02])) == [(0, 1)]


def test_carry_keeps_earlier_columns_and_adds_this_run(tmp_path, monkeypatch):
    """``--carry``: the comparison table already in RESULTS.md keeps its columns (the old "this
    run" relabelled, dropped prefixes left out) and gains the new run's, row by row."""
    import benchmarks.common as common
    results = tmp_path / "RESULTS.md"
    results.write_text("# r\n\n## Independent held-out check\n\ntext\n\n| a | b |\n|---|---|\n| x | 1 |\n\n"
                       "| | first | old stop | this run |\n|---|---|---|---|\n| macro F1 | 0.70 | 0.80 | 0.85 |\n"
                       "| false/h rest | 0.2 | 5.4 | 4.7 |\n\nafter the table\n\n| not | it |\n\n## Next\n\nkept\n")
    monkeypatch.setattr(common, "RESULTS", results)
    carried = h.carried_columns("start (abc)", ["old"])
    assert carried[0] == "| | first | start (abc) |"
    merged = h.merge_columns(carried, "| | this run |\n|---|---|\n| macro F1 | 0.90 |\n| false/h rest | 3.0 |")
    assert merged.splitlines() == ["| | first | start (abc) | this run |", "|---|---|---|---|",
                                   "| macro F1 | 0.70 | 0.85 | 0.90 |", "| false/h rest | 0.2 | 4.7 | 3.0 |"]
    # a row the new run adds goes where it stands in the new table, "–" for the older runs
    merged = h.merge_columns(carried, "| | this run |\n|---|---|\n| macro F1 | 0.90 |\n| new row | 0.5 |\n"
                                      "| false/h rest | 3.0 |")
    assert merged.splitlines()[2:] == ["| macro F1 | 0.70 | 0.85 | 0.90 |", "| new row | – | – | 0.5 |",
                                       "| false/h rest | 0.2 | 4.7 | 3.0 |"]
    results.write_text("# r\n\n## Independent held-out check\n\nno table\n")
    assert h.carried_columns("x", []) is None


def test_a_rerun_benchmark_keeps_the_analysis_written_below_its_tables(tmp_path, monkeypatch):
    """``write_section(..., keep_notes=True)``: fresh tables replace the old ones, the prose under
    them stays, and the sections around it are untouched."""
    from benchmarks import common

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Speed\n\nold head\n\n| a |\n|---|\n| 1 |\n\nWhy it is slow.\n\n"
                       "- a list\n\n## Other\n\nkept\n")
    monkeypatch.setattr(common, "RESULTS", results)
    common.write_section("Speed", "new head\n\n| a |\n|---|\n| 2 |", keep_notes=True)
    text = results.read_text()
    assert "| 2 |" in text and "| 1 |" not in text and "old head" not in text
    assert text.index("| 2 |") < text.index("Why it is slow.") < text.index("- a list") < text.index("## Other")
    assert text.endswith("## Other\n\nkept\n")
    common.write_section("Speed", "bare\n\n| a |\n|---|\n| 3 |")  # without keep_notes: the tables alone
    assert "Why it is slow." not in results.read_text()
