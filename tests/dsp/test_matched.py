"""The twitch-shape matched filters (dsp/matched.py): exact for any chunking, against a float
correlation written out independently, the gate never hides a crossing, the noise each filter
sees matches its design, weak twitches found that the energy windows miss, and the rule for
the small potentials only the filters find."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from myotwitch.dsp import DetectorConfig, detect
from myotwitch.dsp.energy import MultiScaleEnergy, window_samples
from myotwitch.dsp.filters import bandpass_sos
from myotwitch.dsp.matched import MatchedBank, hermite_rodriguez, noise_through
from myotwitch.dsp.pipeline import _matched_bank, _threshold_table
from myotwitch.dsp.synth import hr_muap
from myotwitch.dsp.trains import SHAPE_ONLY

from .test_energy_detector import _found

FS = 1000.0
CFG = DetectorConfig(mains="off")


def _design(fs=FS, cfg=CFG, on=None):
    lo, hi = cfg.band_for(fs)
    windows = window_samples(fs, cfg.energy_windows_ms)
    noise_n = int(round(cfg.noise_window_s * fs))
    table, _ = _threshold_table(fs, lo, hi, cfg.band_order, windows, cfg.energy_on_threshold, noise_n,
                                cfg.noise_percentile)
    bank = MatchedBank(bandpass_sos(lo, hi, fs, cfg.band_order), fs, cfg.matched_lengths_ms,
                       on or (cfg.matched_on_threshold, cfg.matched_triphasic_on_threshold), windows, table, noise_n,
                       cfg.noise_percentile)
    return windows, table, bank


def _signal(seed, n=6000, size=7.0):
    """Band-passed white noise (RMS 1) with twitch shapes at about the filters' threshold."""
    rng = np.random.default_rng(seed)
    sos = bandpass_sos(20.0, 450.0, FS)
    y = signal.sosfilt(sos, rng.standard_normal(n))
    y /= np.std(y)
    for t in range(300, n - 300, 400):
        w = signal.sosfilt(sos, np.r_[hr_muap(rng.uniform(6, 20), FS, rng), np.zeros(30)])
        y[t:t + w.size] += w * size * rng.uniform(0.6, 1.4) / np.ptp(w)
    return y


def _stat(windows, table, bank, y, chunks):
    ms = MultiScaleEnergy(1, windows, table[:1], None, bank)  # the Gaussian row throughout
    parts, i = [], 0
    for c in chunks:
        yb = y[None, i:i + c]
        parts.append(ms.process(yb * yb, np.ones((1, c)), yb)[0])
        i += c
    parts.append(ms.drain()[0])
    return np.concatenate(parts)


@pytest.mark.parametrize("chunks", [[1, 7, 100, 392] * 10 + [1040], [13] * 461 + [7], [50] * 120])
def test_statistic_is_exact_for_any_chunking(chunks):
    windows, table, bank = _design(on=5.0)  # more lifted samples to check than at the default
    y = _signal(1)
    whole = _stat(windows, table, bank, y, [y.size])
    got = _stat(windows, table, bank, y, chunks)
    assert np.array_equal(whole, got)  # integer correlation: bit for bit
    assert (whole <= -1).sum() > 10  # the filters did lift samples here


def test_filters_agree_with_a_float_correlation():
    """Each filter's ratio written out with scipy's correlate on the float signal: the samples
    the bank marks (strong by shape alone) are the ones where the energy statistic is under 1
    and some filter's ratio reaches 1 (up to the quantisation, 1e-3 µV and 2**-15)."""
    windows, table, bank = _design(on=6.0)
    y = _signal(2)
    got = _stat(windows, table, bank, y, [y.size])
    plain = _stat(windows, table, None, y, [y.size])
    best = np.zeros(y.size)
    for j, h in enumerate(bank.taps):
        c = signal.correlate(y, h, mode="full")  # c[k]: window ending at k - len(h) + 1 + len(h) - 1
        half = int(bank.halves[j])
        # the template centred on t starts at t - half: its correlation is c[t - half + len(h) - 1]
        centred = c[np.arange(y.size) - half + h.size - 1]
        best = np.maximum(best, centred ** 2 / bank.table[0, j])
    want = (plain < 1.0) & (best >= 1.0)
    near = np.abs(best - 1.0) < 1e-3
    assert want.sum() >= 5
    assert np.array_equal((got <= -1.0)[~near], want[~near])
    assert np.allclose(-got[want & ~near], best[want & ~near], rtol=1e-3)
    assert np.array_equal(got[~want & ~near], plain[~want & ~near])  # elsewhere: the energy statistic


def test_the_gate_never_hides_a_crossing():
    windows, table, bank = _design(on=5.0)  # a low threshold: many crossings near the gate
    y = _signal(3, size=5.0)
    gated = _stat(windows, table, bank, y, [y.size])
    bank.gate = np.zeros_like(bank.gate)  # every sample looked at
    everywhere = _stat(windows, table, bank, y, [y.size])
    assert (everywhere <= -1).sum() > 10
    assert np.array_equal(gated <= -1, everywhere <= -1)


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_each_filter_sees_the_noise_its_design_says(fs):
    """The thresholds scale with each filter's output variance on band-passed white noise (not
    1: the band-pass colours the noise a template sees)."""
    lo, hi = CFG.band_for(fs)
    sos = bandpass_sos(lo, hi, fs, CFG.band_order)
    _, _, bank = _design(fs)
    y = signal.sosfilt(sos, np.random.default_rng(4).standard_normal(400_000))
    for h in bank.taps:
        measured = np.var(signal.correlate(y, h, mode="valid")) / np.var(y)
        assert measured == pytest.approx(noise_through(sos, h)[0], rel=0.03)


def _laplacian(rng, n, noise):
    """A heavy-tailed background (Laplacian samples): its kurtosis raises the energy windows'
    thresholds far more than a matched filter's, whose output is nearly Gaussian."""
    return rng.laplace(0.0, noise / np.sqrt(2.0), n)


def _weak_twitches(rng, sizes_x, noise, shape=lambda rng: hr_muap(rng.uniform(5.0, 20.0), FS, rng)):
    """Twitches of ``shape(rng)`` (5-20 ms potentials, bi- to triphasic) on a heavy-tailed background."""
    sos = bandpass_sos(20.0, 450.0, FS)
    noise_bp = float(np.std(signal.sosfilt(sos, _laplacian(rng, 20000, noise))))
    onsets = np.cumsum(rng.uniform(1.0, 2.5, sizes_x.size)) + 2.0
    x = _laplacian(rng, int((onsets[-1] + 2.0) * FS), noise)
    for t, size in zip(onsets, sizes_x):
        w = shape(rng)
        x[int(t * FS):int(t * FS) + w.size] += w * size * noise_bp / np.ptp(signal.sosfilt(sos, np.r_[w, np.zeros(50)]))
    return x, onsets


def test_weak_twitches_the_energy_windows_miss_are_found_without_false_alarms():
    windows_only = CFG.replace(matched_lengths_ms=())
    found = {True: 0, False: 0}
    total = 0
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        x, onsets = _weak_twitches(rng, rng.uniform(8.0, 10.0, 30), 4.0)
        total += onsets.size
        found[True] += _found(detect(x, FS, CFG).events, onsets)
        found[False] += _found(detect(x, FS, windows_only).events, onsets)
    assert found[True] >= found[False] + 0.08 * total
    # the background alone (20 min): no more false twitches than the energy windows give
    noise = _laplacian(np.random.default_rng(5), int(20 * 60 * FS), 4.0)
    assert len(detect(noise, FS, CFG).twitches) <= max(1, len(detect(noise, FS, windows_only).twitches))


def test_the_bank_follows_the_design_at_every_rate():
    for fs in (500.0, 1000.0, 2000.0):
        bank = _matched_bank(fs, *CFG.band_for(fs), CFG.band_order, CFG.matched_lengths_ms,
                             (CFG.matched_on_threshold, CFG.matched_triphasic_on_threshold),
                             window_samples(fs, CFG.energy_windows_ms), CFG.energy_on_threshold,
                             int(round(CFG.noise_window_s * fs)), CFG.noise_percentile)
        assert len(bank.taps) == 2 * len(CFG.matched_lengths_ms)
        assert bank.lens.max() <= max(window_samples(fs, CFG.energy_windows_ms))
        assert np.all(bank.gate > 0)  # every template is covered by an energy window
        assert np.all(np.diff(bank.table, axis=0) >= 0)  # heavier tails, higher thresholds


def test_biphasic_and_triphasic_shapes_each_have_their_own_threshold():
    """(biphasic, triphasic): each template's thresholds are those of a bank held wholly to
    its order's value."""
    _, _, both = _design(on=(6.4, 6.8))
    _, _, low = _design(on=6.4)
    _, _, high = _design(on=6.8)
    orders = np.array([order for order in (1, 2) for _ in CFG.matched_lengths_ms])
    assert len(both.taps) == orders.size
    np.testing.assert_array_equal(both.table[:, orders == 1], low.table[:, orders == 1])
    np.testing.assert_array_equal(both.table[:, orders == 2], high.table[:, orders == 2])
    assert np.all(low.table < high.table)
    assert np.all(low.gate <= both.gate) and np.all(both.gate <= high.gate)  # where any filter could cross


def _biphasic(rng):
    """A first-order Hermite-Rodriguez wave of 8-20 ms at 1 kHz, random polarity."""
    lam = rng.uniform(8.0, 20.0) / 5.0  # samples
    return hermite_rodriguez(np.arange(-3 * lam, 3 * lam + 1.0), lam, 1) * rng.choice([-1.0, 1.0])


def test_the_biphasic_shapes_lower_bar_finds_more_small_biphasic_twitches():
    """Biphasic shapes are held to a lower bar than triphasic ones (config): on 6-8x biphasic
    twitches it finds more than the triphasic shapes' bar would for them."""
    one_bar = CFG.replace(matched_on_threshold=CFG.matched_triphasic_on_threshold)
    assert CFG.matched_on_threshold < CFG.matched_triphasic_on_threshold
    found = {"own": 0, "one": 0}
    total = 0
    for seed in range(6):
        rng = np.random.default_rng(200 + seed)
        x, onsets = _weak_twitches(rng, rng.uniform(6.0, 8.0, 30), 4.0, _biphasic)
        total += onsets.size
        found["own"] += _found(detect(x, FS, CFG).events, onsets)
        found["one"] += _found(detect(x, FS, one_bar).events, onsets)
    assert found["own"] >= found["one"] + 0.05 * total


def test_a_small_potential_only_the_shape_finds_counts_alone_but_not_next_to_a_contraction():
    """The same weak twitch, alone or 0.6 s after a contraction (past the derecruitment margin):
    alone it counts; after the contraction, when only the shape filters found it, it is voluntary
    with its reason. With the rule off it would count there too."""
    def run(seed, cfg, after_contraction):
        rng = np.random.default_rng(seed)
        noise = 3.0
        x = _laplacian(rng, int(12 * FS), noise)
        if after_contraction:
            x[int(4 * FS):int(5 * FS)] += rng.standard_normal(int(FS)) * noise * 8  # a contraction
        sos = bandpass_sos(20.0, 450.0, FS)
        w = hr_muap(12.0, FS, rng)
        w *= 9.0 * np.std(signal.sosfilt(sos, _laplacian(rng, 20000, noise))) / np.ptp(signal.sosfilt(sos, w))
        x[int(5.6 * FS):int(5.6 * FS) + w.size] += w
        ev = [e for e in detect(x, FS, cfg).events if abs(e.onset_s - 5.6) < 0.03]
        return ev

    # (the twitch is 27 µV; a shape-only core reads as little as half that, under the smallest
    # twitch counted: this test is about the isolation rule, so that bar is at the candidates')
    cfg = CFG.replace(min_twitch_uv=10.0)
    shape_only, counted_alone, counted_off = 0, 0, 0
    for seed in range(30):
        near = run(seed, cfg, True)
        if any(e.reason == SHAPE_ONLY for e in near):
            shape_only += 1
            counted_off += any(e.kind == "twitch" for e in run(seed, cfg.replace(shape_only_isolation_s=0.0), True))
        assert not any(e.kind == "twitch" and e.reason for e in near)
        counted_alone += any(e.kind == "twitch" for e in run(seed, cfg, False))
    assert shape_only >= 3  # the case happens ...
    assert counted_off == shape_only  # ... and the rule is what turns those twitches down
    assert counted_alone >= 15  # alone, the same potential counts


@pytest.mark.parametrize("fs", [500.0, 2000.0])
def test_the_compiled_lift_gives_the_pure_lift(monkeypatch, fs):
    """``raise_stat`` through the compiled pass (dsp/kernels.py) equals the numpy path bit for
    bit, and so does the compiled scan that picks its own candidates where one row per channel
    holds: windows reaching past both ends of the signal (silence there), a huge sample (the
    quantisation's cap), two channels, the Gaussian row, a row per channel or a row per sample,
    candidates already strong (left alone) and under the gate."""
    from myotwitch.dsp import kernels

    _, _, bank = _design(fs)
    rng = np.random.default_rng(int(fs))
    m = 400
    lifted = 0
    for trial in range(30):
        first = int(rng.integers(0, bank.reach + 3))  # a block at the start of the signal, or later
        tail = int(rng.integers(0, bank.width + 3))  # the signal may end right after the block
        ys = rng.standard_normal((2, first + m + tail)) * rng.uniform(0.5, 30.0)
        # statistics under the gates (~0.4-0.8), between them and 1 (looked at), and strong already
        stat = rng.uniform(0.3, 1.1, (2, m))
        big = int(rng.integers(0, m))
        ys[1, first + big] = 1e9  # capped: the correlations stay exact integers
        stat[1, max(big - 3, 0): big + 4] = 0.95
        f2 = rng.uniform(0.3, 3.0, (2, m))
        gate = float(rng.choice([0.0, 0.6]))
        if trial % 3 == 0:  # a row per sample
            row_of = rng.integers(0, bank.table.shape[0], (2, m))
            rows_at, steady = (lambda ch, col, r=row_of: r[ch, col]), None
        elif trial % 3 == 1:  # the Gaussian row throughout
            rows_at, steady = (lambda ch, col: None), (0, 0)
        else:  # a row per channel throughout
            steady = tuple(int(r) for r in rng.integers(0, bank.table.shape[0], 2))
            rows_at = lambda ch, col, r=steady: np.array(r, dtype=np.intp)[ch]  # noqa: E731
        out = []
        for compiled, given in ((False, None), (True, None), (True, steady)):
            monkeypatch.setattr(kernels, "enabled", compiled)
            s = stat.copy()
            bank.raise_stat(s, ys, first, rows_at, f2, gate=gate, steady=given)
            out.append(s)
        for other in out[1:]:  # the compiled lift, and the compiled scan where the rows hold
            assert np.array_equal(out[0].view(np.int64), other.view(np.int64)), trial
        lifted += int((out[0] <= -1.0).sum())
    assert 50 < lifted < 30 * 2 * m // 2  # lifts happen, not everywhere
