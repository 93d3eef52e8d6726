"""The optional compiled kernels (dsp/kernels.py, numba) give the pure path's numbers, bit for bit."""

import os
import subprocess
import sys
from collections import deque

import numpy as np
import pytest

from myotwitch.dsp import detect, kernels
from myotwitch.dsp.filters import StreamingSOS, bandpass_sos, front_end, lowpass_sos
from myotwitch.dsp.synth import case_spec, hard_case, synthesize

pytest.importorskip("numba")


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def _counting(monkeypatch, name: str, what=lambda *a: 1) -> list:
    """Turn the kernels on and have ``kernels.<name>()`` hand out its kernel wrapped so that
    every call appends ``what(*args)`` to the list returned (did the compiled path run?)."""
    monkeypatch.setattr(kernels, "enabled", True)
    kernel = getattr(kernels, name)()
    assert kernel is not None
    calls: list = []

    def counted(*a):
        calls.append(what(*a))
        return kernel(*a)

    monkeypatch.setattr(kernels, name, lambda: counted)
    return calls


def _stages(fs: float, channels: int, band_order: int) -> tuple[StreamingSOS, StreamingSOS, StreamingSOS]:
    return (StreamingSOS(bandpass_sos(20, min(450, 0.45 * fs), fs, band_order), channels),
            StreamingSOS(lowpass_sos(100, fs, 1), channels),
            StreamingSOS(bandpass_sos(1, 8, fs, 1), channels))


def stages_of(fs: float, band_order: int) -> tuple[int, int, int]:
    band, env, lf = _stages(fs, 1, band_order)
    return band.sos.shape[0], env.sos.shape[0], lf.sos.shape[0]


def _run(monkeypatch, compiled: bool, x: np.ndarray, cuts: np.ndarray, fs: float, band_order: int):
    monkeypatch.setattr(kernels, "enabled", compiled)
    stages = _stages(fs, x.shape[0], band_order)
    parts = [front_end(*stages, part) for part in np.split(x, cuts, axis=1)]
    outs = [np.concatenate([p[i] for p in parts], axis=1) for i in range(4)]
    return outs, [s.zi for s in stages]


@pytest.mark.parametrize("fs,band_order", [(500.0, 2), (1000.0, 2), (2000.0, 3)])
def test_front_end_kernel_gives_the_pure_paths_bits(monkeypatch, fs, band_order):
    rng = np.random.default_rng(int(fs) + band_order)
    n = 20_000
    x = rng.standard_normal((3, n)) * np.array([[2.0], [40.0], [1e-3]]) + 30.0
    x[1, 5000:5050] = 3e5  # a rail-to-rail swing
    x[2, 9000:9100] = 0.0  # an exactly flat stretch (envelope at zero, signed zeros)
    x[0, 12000:12400] = -0.0
    cuts = np.sort(rng.choice(np.arange(1, n), 30, replace=False))
    want, want_zi = _run(monkeypatch, False, x, cuts, fs, band_order)
    got, got_zi = _run(monkeypatch, True, x, cuts, fs, band_order)
    assert kernels.front_end() is not None  # the compiled path did run
    # the shipped design (two band-pass sections) runs the written-out kernel, others the generic
    written_out = kernels.front_end((2, 1, 1))
    assert (written_out is not kernels.front_end()) and (stages_of(fs, band_order) == (2, 1, 1)) == (band_order == 2)
    for name, a, b in zip(("band", "square", "envelope", "low band"), want, got):
        assert np.array_equal(_bits(a), _bits(b)), f"{name} differs"
    for a, b in zip(want_zi, got_zi):
        assert np.array_equal(_bits(a), _bits(b))
    # and the pure path is still scipy's band-pass (the kernel is not checked against itself)
    ref = StreamingSOS(bandpass_sos(20, min(450, 0.45 * fs), fs, band_order), 3).process(x)
    assert np.array_equal(_bits(want[0]), _bits(ref))


def _events(monkeypatch, compiled: bool, x: np.ndarray, fs: float) -> list[str]:
    monkeypatch.setattr(kernels, "enabled", compiled)
    return [repr(e) for e in detect(x, fs).events]  # every field; float reprs round-trip exactly


def test_detection_is_identical_with_and_without_the_kernels(monkeypatch):
    spec = case_spec("high_rate", 1000.0, 60.0, seed=3, n_channels=2)
    x, _ = synthesize(spec)
    hard, _ = hard_case("near_contraction", 2000.0, 60.0, seed=5)
    for sig, fs in ((x, 1000.0), (hard, 2000.0)):
        pure = _events(monkeypatch, False, sig, fs)
        assert sum(" kind='twitch'" in e for e in pure) > 10
        assert _events(monkeypatch, True, sig, fs) == pure


def test_myotwitch_pure_turns_the_kernels_off():
    code = "from myotwitch.dsp import kernels; print(kernels.front_end() is None)"
    env = dict(os.environ, MYOTWITCH_PURE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_a_negative_envelope_state_is_floored_as_the_pure_path_floors_it(monkeypatch):
    # a low-pass of a square stays >= 0 but for rounding; a state pushed below zero shows
    # that both paths floor the envelope at 0 (and keep NaN) the same way
    x = np.zeros((2, 400))
    x[1, 200:] = np.nan
    got = []
    for compiled in (False, True):
        monkeypatch.setattr(kernels, "enabled", compiled)
        stages = _stages(1000.0, 2, 2)
        front_end(*stages, np.ones((2, 50)))
        stages[1].zi[:] = -3.0
        got.append(front_end(*stages, x))
    assert (got[0][2][:, :5] == 0.0).all()  # floored (the band-pass then rings the step out)
    assert np.isnan(got[0][2][1, 200:]).all()
    for a, b in zip(*got):
        assert np.array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize("fs,live,windows_ms", [(500.0, False, (7.0, 14.0, 25.0)), (2000.0, False, (7.0, 14.0, 25.0)),
                                               (1000.0, True, (7.0, 14.0, 25.0)), (1000.0, False, (5.0, 25.0)),
                                               (1000.0, True, (4.0, 8.0, 16.0, 32.0))])
def test_window_statistic_kernel_gives_the_pure_paths_bits(monkeypatch, fs, live, windows_ms):
    """Both kernels: the written-out one for the shipped three windows, the generic for others."""
    from myotwitch.dsp.energy import MultiScaleEnergy, TailWeight, threshold_table, window_samples

    rng = np.random.default_rng(int(fs))
    n, ch = int(60 * fs), 2
    band = bandpass_sos(20, min(450, 0.45 * fs), fs, 2)
    noise_n = int(0.1 * fs)
    windows = window_samples(fs, windows_ms)
    table = threshold_table(band, windows, 5.8, fs, noise_n, 25.0)
    y = rng.standard_normal((ch, n)) * 4.0
    y[0, n // 3: n // 2] = rng.laplace(0, 6.0, n // 2 - n // 3)  # heavy tails: the kurtosis row moves
    y[1, 1000:1040] += 300.0  # a burst
    floor = np.full((ch, n), 4.0)
    floor[:, : noise_n * 3] = np.nan  # a settling floor
    floor[1, n // 4: n // 4 + 500] = 0.0  # a digitally flat stretch
    # blocks over 8,192 samples (the offline path), or live blocks of 50 ms (and a few odd ones)
    cuts = list(range(50, n, 50)) + [n // 3 + 7] if live else [n // 3 + 17, 2 * n // 3 + 5]
    cuts = sorted(set(cuts))
    stats = []
    for compiled in (False, True):
        monkeypatch.setattr(kernels, "enabled", compiled)
        en = MultiScaleEnergy(ch, windows, table, TailWeight(ch, noise_n, 60))
        parts = [en.process(p * p, f) for p, f in zip(np.split(y, cuts, axis=1), np.split(floor, cuts, axis=1))]
        stats.append(np.concatenate(parts + [en.drain()], axis=1))
    assert kernels.window_stat() is not None
    assert stats[0].shape == (ch, n)
    assert (stats[0] >= 1.0).any() and (stats[0] == 0.0).any()  # the burst fires; no floor, no statistic
    assert np.array_equal(_bits(stats[0]), _bits(stats[1]))


@pytest.mark.parametrize("m", [1, 50, 3000])
def test_window_statistic_kernel_reports_its_largest_value(m):
    """The kernel's ``top`` is what the matched bank's quiet-block test would reduce the
    statistic to (``np.maximum.reduce(stat, axis=None, initial=0.0)``), so the bank can skip it."""
    rng = np.random.default_rng(m)
    windows = np.array([7, 14, 25], dtype=np.int64)
    h = 30
    for floor_known in (True, False):
        q = rng.integers(0, 10**6, (2, h + m + 20)).astype(np.int64)
        c = np.add.accumulate(q, axis=1)
        f = rng.uniform(1.0, 5.0, (2, m)) if floor_known else np.zeros((2, m))  # no floor: all 0
        stat, f2, top = np.empty((2, m)), np.empty((2, m)), np.empty(1)
        for kernel in (kernels.window_stat(), kernels.window_stat(3)):  # generic, written out
            kernel(c, h, m, windows, rng.uniform(1e-9, 1e-6, (2, 1, 3)), np.array([m], dtype=np.int64), f, stat, f2, top)
            assert _bits(np.array([top[0]])) == _bits(np.array([np.maximum.reduce(stat, axis=None, initial=0.0)]))
            assert (top[0] > 0) == floor_known


@pytest.mark.parametrize("win", [5, 7, 8, 50, 100, 128, 129, 200, 257, 400, 1000])
def test_window_sums_kernel_adds_as_numpy_adds(win):
    # numpy's pairwise summation, repeated: under 8 terms, 8 partial sums up to 128, halves beyond
    rng = np.random.default_rng(win)
    k = 7
    data = rng.standard_normal((3, k * win + 3)) ** 2 * 10.0 ** rng.uniform(-3, 3, (3, 1))
    s2, s4 = np.empty((3, k)), np.empty((3, k))
    kernels.window_sums()(data, k, win, s2, s4)
    w2 = np.ascontiguousarray(data[:, : k * win]).reshape(3, k, win)
    assert np.array_equal(_bits(s2), _bits(w2.sum(axis=2)))
    assert np.array_equal(_bits(s4), _bits((w2 * w2).sum(axis=2)))


@pytest.mark.parametrize("h, n", [(0, 1), (0, 50), (37, 50), (300, 262_144), (5, 0)])
def test_quantised_sums_kernel_gives_numpys_integers_and_sums(h, n):
    from myotwitch.dsp.energy import _Q_MAX, _QUANTUM

    rng = np.random.default_rng(h + n)
    y2 = (rng.standard_normal((3, n)) * 10.0 ** rng.uniform(-4, 3, (3, 1))) ** 2
    if n > 3:  # exact halves (rint rounds them to even), a rail beyond 2**52 quanta, zeros, inf
        y2[0, :4] = np.array([0.5, 1.5, 2.5, 0.0]) * _QUANTUM
        y2[1, 1] = 1e40
        y2[2, 2] = np.inf
    old = rng.integers(0, 2**40, (3, h))
    q, c = np.empty((3, h + n), dtype=np.int64), np.empty((3, h + n), dtype=np.int64)
    kernels.quantised_sums()(old, y2, 1.0 / _QUANTUM, _Q_MAX, q, c)
    want = np.concatenate([old, np.rint(np.minimum(y2 * (1.0 / _QUANTUM), _Q_MAX)).astype(np.int64)], axis=1)
    np.testing.assert_array_equal(q, want)
    np.testing.assert_array_equal(c, np.add.accumulate(want, axis=1))


def test_maybe_active_kernel_gives_the_pure_flags(monkeypatch):
    from myotwitch.dsp.bursts import ENV, FLOOR, STAT, BurstSegmenter

    seg = BurstSegmenter(3, on=5.0, off=3.0, merge_n=12, cluster_n=120, context_n=100, max_n=5000,
                         clip_uv=None, clip_run=3)
    rng = np.random.default_rng(11)
    flags = set()
    for trial in range(400):
        n = int(rng.integers(1, 60)) if trial % 3 else int(rng.integers(200, 1500))  # live / long blocks
        rows = np.abs(rng.standard_normal((6, 3, n + 5)))
        rows[FLOOR] += 1.0
        rows[ENV] *= rng.uniform(0.5, 4.0, (3, 1))  # around the off-threshold x floor
        rows[STAT] *= rng.uniform(0.0, 1.3, (3, 1)) * rng.choice([-1.0, 1.0], (3, 1))
        if n >= 200:  # quiet but for one stretch somewhere (the kernel may stop at the first that fails)
            rows[ENV] *= 0.3
            rows[STAT] *= 0.5
            at = int(rng.integers(0, n))
            kind = (trial // 3) % 3  # the envelope, the statistic or the floor fails the test there
            rows[(ENV, STAT, FLOOR)[kind], int(rng.integers(0, 3)), at] = (20.0, 1.5, 0.01)[kind]
        if trial % 7 == 0:
            rows[FLOOR, 0, int(rng.integers(0, n))] = np.nan  # a settling floor
        if trial % 11 == 0:
            rows[ENV, 1, int(rng.integers(0, n))] = np.nan
        if trial % 13 == 0:  # the exact boundary: max envelope == off x min floor
            rows[ENV, 2, :n] = 3.0 * rows[FLOOR, 2, :n].min()
        new = rows[:, :, :n]  # a block's first columns, as the pipeline hands them over
        monkeypatch.setattr(kernels, "enabled", False)
        want = seg._maybe_active(new)
        monkeypatch.setattr(kernels, "enabled", True)
        assert seg._maybe_active(new) == want, trial
        assert seg._maybe_active(np.ascontiguousarray(new)) == want
        flags.update(want)
    assert flags == {True, False}


def test_kurtosis_rows_kernel_gives_the_pure_rows():
    from myotwitch.dsp.energy import KAPPA_GRID, MIN_WINDOWS, UPDATE_WINDOWS, TailWeight

    rng = np.random.default_rng(7)
    tail = TailWeight(2, 100, 60)
    refresh = kernels.kurtosis_rows()
    seen = set()
    for trial in range(300):
        all2 = rng.gamma(2.0, 1.0, (2, 130)) * rng.uniform(0.1, 10.0)
        # a window's sum of y^4 is about kurtosis x (sum of y^2)^2 / window
        all4 = all2 ** 2 * rng.uniform(2.8, rng.uniform(3.0, 5.0), (2, 130)) / 100.0
        if trial % 3 == 0:  # a history still filling (NaN: no window yet)
            all2[:, : rng.integers(1, 80)] = np.nan
        if trial % 5 == 0:  # tied powers with different fourth moments: the stable order decides
            all2[0, 50:90] = 1.0
        if trial % 7 == 0:  # a digitally flat channel (0 / 0)
            all2[1], all4[1] = 0.0, 0.0
        if trial % 2:  # histories anywhere, overlapping or not
            ends = np.sort(rng.choice(np.arange(59, 130), 6, replace=False)).astype(np.int64)
        else:  # a long block's refreshes: every UPDATE_WINDOWS windows (the order carries over)
            ends = np.arange(int(rng.integers(59, 70)), 130, UPDATE_WINDOWS, dtype=np.int64)
        cols = ends[:, None] + np.arange(-59, 1)[None, :]
        want = tail._refreshed(all2[:, cols], all4[:, cols])
        got = np.empty((2, ends.size), dtype=np.intp)
        refresh(all2, all4, ends, 60, 100, float(KAPPA_GRID[-1]), len(KAPPA_GRID) - 1, MIN_WINDOWS, got)
        assert np.array_equal(want, got), trial
        seen.update(want.ravel().tolist())
    assert len(seen) > 10  # the cases span many rows of the grid, the cautious one included
    assert len(KAPPA_GRID) - 1 in seen and 0 in seen


def test_kernels_that_cannot_compile_leave_the_pure_path_with_a_warning(monkeypatch):
    monkeypatch.setattr(kernels, "_tried", False)
    monkeypatch.setattr(kernels, "_compiled", {})

    def fails() -> None:
        raise RuntimeError("no LLVM here")
    monkeypatch.setattr(kernels, "_warm_up", fails)
    with pytest.warns(RuntimeWarning, match="pure numpy/scipy path"):
        assert kernels.front_end() is None
    assert kernels.window_stat() is None and kernels.kurtosis_rows() is None
    x, _ = synthesize(case_spec("clean_rest", 1000.0, 20.0, seed=1))
    assert any(e.kind == "twitch" for e in detect(x, 1000.0).events)  # detection runs on


def test_pick_selects_numpys_order_statistic():
    """The selection the resting level and the noise figures use (``kernels._pick``, compiled):
    ``np.partition(x, k)[k]`` for any k, counts down to one, many ties; the resting level's call
    leaves its floors as they were (it selects from a copy)."""
    rng = np.random.default_rng(8)
    rest_select = kernels.rest_select()
    assert rest_select is not None
    pick = kernels._pick  # bound to the compiled selection once the kernels are built
    assert pick is not kernels._pick_py
    for n in (1, 2, 3, 8, 61, 600, 601):
        for decimals in (0, 1, 3):
            x = rng.uniform(1.0, 5.0, n).round(decimals)
            before = x.copy()
            for k in {0, n // 10, n // 2, n - 1, int(rng.integers(0, n))}:
                assert pick(x.copy(), k) == np.partition(x, k)[k]
            assert rest_select(x, 0, n, 0.5) == np.partition(x, (n - 1) // 2)[(n - 1) // 2]
            assert np.array_equal(x, before)


def test_rest_select_kernel_gives_the_resting_levels_order_statistic():
    """The resting level (dsp/trains.py ``rest_floor``) in one compiled call: the same value as
    the pure path's order statistic of the window's floors with the NaN (a settling floor) left
    out, for any window of a row (empty, all NaN, one floor, many ties, a trimmed grid's row
    view), and the same as its pure twin."""
    rng = np.random.default_rng(21)
    select = kernels.rest_select()
    assert select is not None
    frac = 0.1
    for trial in range(400):
        n = int(rng.integers(1, 700))
        grid = rng.uniform(1.0, 5.0, (2, n + 3)).round(int(rng.integers(0, 3)))
        row = grid[1, 3:]  # a view, as after the grid's front is dropped
        row[rng.random(n) < rng.choice([0.0, 0.1, 0.9, 1.0])] = np.nan
        lo = int(rng.integers(0, n + 1))
        hi = int(rng.integers(lo, n + 1))
        x = row[lo:hi][row[lo:hi] == row[lo:hi]]
        want = float(np.partition(x, int(frac * (x.size - 1)))[int(frac * (x.size - 1))]) if x.size else 0.0
        before = row.copy()
        assert select(row, lo, hi, frac) == want, trial
        assert kernels._rest_select_py(row, lo, hi, frac) == want, trial
        assert np.array_equal(row, before, equal_nan=True)


def test_background_sums_kernel_gives_the_pure_paths_bits(monkeypatch):
    """The quiet-background check's sums (dsp/trains.py) in the compiled pass: the same counts and
    the same bits as the pure path, whatever spans are left out (overlapping, empty, reaching past
    either end, none) and wherever the near window starts; and both are the sums of the samples
    kept (against a masked float sum, to rounding)."""
    from myotwitch.dsp.trains import TrainStage

    rng = np.random.default_rng(12)
    assert kernels.background_sums() is not None
    for trial in range(300):
        n = int(rng.integers(1, 700))
        y = rng.standard_normal(n) * rng.uniform(0.1, 50.0)
        m = int(rng.integers(0, 4))
        cuts = [int(v) for v in rng.integers(-80, n + 80, 2 * m)]
        k = int(rng.integers(0, n + 1))
        got = TrainStage._background_sums(y, cuts, k)
        monkeypatch.setattr(kernels, "enabled", False)
        want = TrainStage._background_sums(y, cuts, k)
        monkeypatch.setattr(kernels, "enabled", True)
        assert got[0] == want[0] and got[2] == want[2], trial
        assert _bits(np.array([got[1], got[3]])).tolist() == _bits(np.array([want[1], want[3]])).tolist(), trial
        keep = np.ones(n, bool)
        for a, b in zip(cuts[::2], cuts[1::2]):
            keep[max(a, 0): max(b, 0)] = False
        assert got[0] == keep[k:].sum() and got[2] == keep[:k].sum(), trial
        assert got[1] == pytest.approx(float(np.sum(y[k:] ** 2 * keep[k:])), rel=1e-12, abs=1e-300)
        assert got[3] == pytest.approx(float(np.sum(y[:k] ** 2 * keep[:k])), rel=1e-12, abs=1e-300)


def test_front_end_writes_into_the_rows_it_is_given_with_the_same_bits():
    """An offline chunk's front end writes its rows where the segmenter keeps them (strided rows
    of a multi-channel arena): the same bits as into new arrays, the given arrays returned."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 5000)) * 20.0
    plain, given = _stages(1000.0, 3, 2), _stages(1000.0, 3, 2)
    for stages in (plain, given):
        front_end(*stages, x[:, :100])  # the first block sets the filter states (pure path)
    want = front_end(*plain, x[:, 100:])
    arena = np.full((3, 6, 5100), np.nan)  # (channels, rows, columns), as the segmenter's
    outs = (arena[:, 0, 100:5000], arena[:, 1, 100:5000], arena[:, 2, 100:5000])
    got = front_end(*given, x[:, 100:], outs)
    assert all(g is o for g, o in zip((got[0], got[2], got[3]), outs))
    for a, b in zip(want, got):
        assert np.array_equal(_bits(a), _bits(b))
    assert np.isnan(arena[:, :3, :100]).all() and np.isnan(arena[:, :3, 5000:]).all() and np.isnan(arena[:, 3:]).all()


def _fit_both(monkeypatch, tr, ww, wscale, templates, **kw):
    got = []
    for on in (False, True):
        monkeypatch.setattr(kernels, "enabled", on)
        first, lags, ratio, passes = tr._fit(ww, wscale, templates, **kw)
        got.append((first, lags, np.array(ratio).view(np.uint64).tolist(), passes))
    return got


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 2000.0), (8, 1000.0)])
def test_fit_rows_kernel_gives_the_pure_fit(monkeypatch, n_ch, fs):
    """The template fit's figures per template (dsp/units.py ``_fit``) in one compiled pass: the
    same best lag (the first of equal ones), ratios to the bit, verdicts and first best template,
    for twitches that fit, that fit at a gain too far from 1, that fit nothing, with twin
    templates and repeated lag windows (ties) and with the merge check's noise factors."""
    from myotwitch.dsp.units import UnitTracker, _Template

    assert kernels.fit_rows() is not None
    rng = np.random.default_rng(n_ch + int(fs))
    tr = UnitTracker(fs, n_ch)
    n_lags, width = tr.n_lags, n_ch * tr.L
    seen = {"pass": 0, "fail": 0, "tie": 0}
    for _ in range(150):
        K = int(rng.integers(1, 9))
        waves = rng.normal(0.0, 1.0, (K, width)) * rng.uniform(5.0, 300.0, (K, 1))
        if K > 1 and rng.random() < 0.3:
            waves[1] = waves[0]  # twin templates: equal ratios, the first wins
        templates = [_Template(w, int(rng.integers(1, 60)), i, (i, 0, 1.0), 0, np.ones(n_ch))
                     for i, w in enumerate(waves)]
        sigma = rng.uniform(2.0, 8.0, n_ch)
        wscale = np.repeat(1.0 / sigma, tr.L)
        src = waves[int(rng.integers(K))] * rng.choice([1.0, 1.05, 2.5, -1.0, 0.0])
        ww = rng.normal(0.0, 1.0, (n_lags, width)) + (src * wscale)[None, :] * rng.uniform(0.9, 1.0, (n_lags, 1))
        if rng.random() < 0.3:
            ww[n_lags // 2 + 1] = ww[n_lags // 2]  # a repeated window: equal explained energies
            seen["tie"] += 1
        kw: dict = {"stack": waves}
        if rng.random() < 0.3:
            kw["extra_n"] = rng.uniform(0.05, 2.0, K).tolist()
        if rng.random() < 0.5:
            kw["e"] = np.einsum("ij,ij->i", ww, ww)
        pure, compiled = _fit_both(monkeypatch, tr, ww, wscale, templates, **kw)
        assert pure == compiled
        seen["pass" if pure[0] is not None else "fail"] += 1
    assert min(seen.values()) > 10  # both verdicts and the ties were exercised


def test_fit_rows_kernel_follows_argmax_on_nan_and_silence(monkeypatch):
    """Products that are NaN (a NaN sample) or never positive (a silent or inverted twitch):
    argmax's choice (the first NaN; the first lag when none explains anything) in both paths."""
    from myotwitch.dsp.units import UnitTracker, _Template

    tr = UnitTracker(1000.0, 1)
    rng = np.random.default_rng(3)
    w = rng.normal(0.0, 50.0, tr.L)
    templates = [_Template(w, 5, 0, (0, 0, 1.0), 0, np.ones(1)), _Template(-w, 5, 1, (1, 0, 1.0), 0, np.ones(1))]
    wscale = np.full(tr.L, 0.2)
    for case in ("nan", "zero", "negative"):
        ww = rng.normal(0.0, 1.0, (tr.n_lags, tr.L)) + w * 0.2
        if case == "nan":
            ww[5:, 3] = np.nan
        elif case == "zero":
            ww[:] = 0.0
        pure, compiled = _fit_both(monkeypatch, tr, ww, wscale, templates, stack=np.stack([w, -w]))
        assert pure == compiled


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 500.0), (8, 2000.0), (2, 4000.0)])
def test_join_kernel_gives_the_pure_update(monkeypatch, n_ch, fs):
    """A twitch joining a template (dsp/units.py ``_join``) in one compiled pass: the running
    means of the waveform and noise and the kept snippet (float32, every up-th sample), to the
    bit, at every lag, before and after the member cap."""
    from myotwitch.dsp.events import Event
    from myotwitch.dsp.units import UnitTracker, _Template

    assert kernels.join() is not None
    rng = np.random.default_rng(n_ch + int(fs))
    tr = UnitTracker(fs, n_ch)
    width = tr.L + 2 * (tr.lag_n + tr.wide_n) * tr.up
    e = Event(0.0, 0.01, 10.0, 1.0, 0.0, 0, "twitch", onset_sample=1000, offset_sample=1010)
    wave = rng.normal(0.0, 80.0, n_ch * tr.L)
    for n in (1, 2, 29, 30, 31, 100):
        for lag in (0, 1, tr.n_lags // 2, tr.n_lags - 1):
            wide = rng.normal(0.0, 80.0, (n_ch, width)) * 10.0 ** rng.uniform(-3, 3)
            sigma = rng.uniform(2.0, 6.0, n_ch)
            got = []
            for on in (False, True):
                monkeypatch.setattr(kernels, "enabled", on)
                t = _Template(wave.copy(), n, 0, (0, 0, 1.0), 0, np.full(n_ch, 4.0), snippets=deque(maxlen=12))
                tr._templates, tr._stack = [t], np.stack([wave])
                tr._join(0, wide, lag, sigma, e)
                got.append((_bits(t.wave).tolist(), _bits(t.sigma).tolist(), _bits(tr._stack[0]).tolist(),
                            t.snippets[-1].dtype, t.snippets[-1].view(np.uint32).tolist(), t.n))
            assert got[0] == got[1]
            wave = t.wave


def _merge_state(rng: np.random.Generator, K: int, n_ch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """A random state for the merge pre-check: per-channel energies ``sq`` (K x n_ch), members
    ``ns``, 1 / noise ``inv``, the template ``k`` checked and the one ``o`` whose size the tests
    move (every other template is far bigger than k, so it fails by far)."""
    sq = rng.uniform(0.0, 1.0, (K, n_ch)) * rng.uniform(1e3, 1e6, (K, 1))
    ns = rng.integers(1, 60, K).astype(float)
    inv = 1.0 / rng.uniform(2.0, 6.0, n_ch)
    k = int(rng.integers(K))
    o = (k + 1) % K
    for j in range(K):
        if j not in (k, o):
            sq[j] = sq[k] * 1e4
    return sq, ns, inv, k, o


def _pure_edge(pure) -> tuple[float, float, bool]:  # type: ignore[no-untyped-def]
    """Where ``pure(f)`` (the merge pre-check with template o's energies scaled by f) turns from
    pass to fail: grow f until it fails, then bisect to the last float at which it passes
    (``lo``) and the next (``hi``); False when it fails already at 0."""
    lo, hi = 1.0, 1.0  # grow o until it fails (a template far larger than t cannot pass)
    while pure(hi):
        lo, hi = hi, hi * 4.0
    if lo == hi:
        lo = 0.0
    if not pure(lo):
        return lo, hi, False
    while np.nextafter(lo, hi) < hi:  # the last float at which it passes
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if pure(mid) else (lo, mid)
    return lo, hi, True


@pytest.mark.parametrize("n_ch,K", [(1, 2), (2, 2), (1, 16), (2, 8), (4, 4), (8, 2), (3, 5)])
def test_may_merge_few_kernel_gives_the_pure_verdict_or_says_it_cannot(n_ch, K):
    """The merge pre-check for a few templates x channels (dsp/units.py ``_may_merge``, whose
    squares are libm's pow) in one compiled pass: Python's verdict, or -1 (then Python decides),
    which it may say only next to the edge: where the template's size is moved to the last float
    at which Python's check still passes, and never a long way from it."""
    from myotwitch.dsp.units import UnitTracker

    rng = np.random.default_rng(n_ch * 100 + K + 7)
    tr = UnitTracker(1000.0, n_ch)
    kernel = kernels.may_merge_few()
    assert kernel is not None
    flips = unsure = 0
    for _ in range(40):
        sq, ns, inv, k, o = _merge_state(rng, K, n_ch)

        def scaled(f: float, sq=sq, o=o) -> np.ndarray:
            s = sq.copy()
            s[o] *= f
            return s

        def pure(f: float, k=k, inv=inv, ns=ns) -> bool:
            cap = tr.cfg.mean_cap
            own = 1.0 / min(int(ns[k]), cap)
            return tr._may_merge(scaled(f), k, inv, [1.0 / min(int(n), cap) + own for i, n in enumerate(ns) if i != k])

        def compiled(f: float, k=k, inv=inv, ns=ns) -> int:
            return kernel(scaled(f), k, inv, ns, tr._may_par)

        lo, hi, flipped = _pure_edge(pure)
        flips += flipped
        if flipped:  # a float apart, on either side of Python's edge: too near it to tell
            unsure += compiled(lo) == -1 and compiled(hi) == -1
        for f in (lo, hi):
            assert compiled(f) in (-1, int(pure(f))), f
        for f in (0.0, 0.5, 1.0, 2.0, 100.0, lo * (1 - 1e-6), hi * (1 + 1e-6)):
            if not lo * (1 - 1e-7) < f < hi * (1 + 1e-7):  # (away from the edge: sure)
                assert compiled(f) == int(pure(f)), f
    assert flips > 10 and unsure == flips


@pytest.mark.parametrize("n_ch,K", [(1, 17), (2, 9), (8, 3), (3, 6), (8, 8), (4, 12), (16, 2), (9, 2)])
def test_may_merge_kernel_gives_the_pure_verdict(n_ch, K):
    """The merge pre-check for many templates x channels (dsp/units.py ``_may_merge_many``) in
    one compiled pass: the same verdict, also at the very edge, where the template's size is
    moved to the last float at which the pure check still passes (an operation in another order
    moves the edge)."""
    from myotwitch.dsp.units import UnitTracker

    rng = np.random.default_rng(n_ch * 100 + K)
    tr = UnitTracker(1000.0, n_ch)
    kernel = kernels.may_merge()
    assert kernel is not None
    flips = 0
    for _ in range(40):
        sq, ns, inv, k, o = _merge_state(rng, K, n_ch)

        def pure(f: float, sq=sq, k=k, o=o, inv=inv, ns=ns) -> bool:
            s = sq.copy()
            s[o] *= f
            cap = tr.cfg.mean_cap
            own = 1.0 / min(int(ns[k]), cap)
            return tr._may_merge(s, k, inv, [1.0 / min(int(n), cap) + own for i, n in enumerate(ns) if i != k])

        def compiled(f: float, sq=sq, k=k, o=o, inv=inv, ns=ns) -> bool:
            s = sq.copy()
            s[o] *= f
            return kernel(s, k, inv, ns, tr._may_par, np.empty(n_ch))

        lo, hi, flipped = _pure_edge(pure)
        flips += flipped
        for f in (0.0, 0.5, 1.0, lo, hi, 2.0, 100.0):
            assert compiled(f) == pure(f), f
    assert flips > 10


@pytest.mark.parametrize("fs,n_ch", [(1000.0, 1), (1000.0, 8), (500.0, 3), (2000.0, 8), (250.0, 2), (3000.0, 1)])
def test_upsample_kernel_gives_upfirdns_bits(monkeypatch, fs, n_ch):
    """The snippets' upsampling (dsp/units.py ``_Upsampler``) in one compiled pass: scipy's
    ``resample_poly`` to the bit (and so the pure path), for a batch, for one twitch's slice of
    a wider buffer, at signed zeros, silence and a rail-to-rail swing."""
    from scipy import signal

    from myotwitch.dsp.units import UnitTracker

    assert kernels.upsample() is not None
    tr = UnitTracker(fs, n_ch)
    ups = tr._upsampler
    assert ups is not None
    n = tr.pre_n + tr.post_n + 2 * (tr.lag_n + tr.wide_n + tr.pad_n)
    rng = np.random.default_rng(int(fs) + n_ch)
    x = rng.normal(0.0, 50.0, (6, n_ch, n)) * 10.0 ** rng.uniform(-3, 3, (6, n_ch, 1))
    x[1] = 0.0
    x[2, :, ::3] = -0.0
    x[3, :, n // 2] = 3e5
    buf = rng.normal(0.0, 5.0, (n_ch, 3 * n))
    for batch in (x, buf[None, :, n: 2 * n]):
        monkeypatch.setattr(kernels, "enabled", True)
        got = ups(batch)
        monkeypatch.setattr(kernels, "enabled", False)
        pure = ups(batch)
        ref = signal.resample_poly(batch, ups.up, 1, axis=-1, window=tr._fir)
        assert np.array_equal(_bits(got), _bits(pure)) and np.array_equal(_bits(got), _bits(ref))


def _centroid_pure(y: np.ndarray, sigma: np.ndarray) -> float:
    energy = ((y / sigma[:, None]) ** 2).sum(axis=0)  # dsp/units.py ``_centre``'s sums
    total = energy.sum()
    return float((energy * np.arange(energy.size)).sum() / total) if total > 0 else 0.0


@pytest.mark.parametrize("n_ch", [1, 2, 3, 8])
def test_centroid_kernel_gives_numpys_sums(n_ch):
    """A twitch's energy centroid (dsp/units.py ``_centre``) in one compiled pass: the moment over
    the total to the bit (not only the rounded sample), for windows short and long (numpy's
    pairwise sums split beyond 8 and 128 terms), a wide dynamic range, views into a wider buffer,
    signed zeros, silence (no total: 0.0) and a NaN (no total either)."""
    kernel = kernels.centroid()
    assert kernel is not None
    rng = np.random.default_rng(40 + n_ch)
    for n in (1, 2, 7, 8, 9, 17, 64, 129, 300, 1000):
        for case in ("noise", "range", "view", "zeros", "silent", "nan"):
            y = rng.normal(0.0, 30.0, (n_ch, n))
            sigma = rng.uniform(2.0, 9.0, n_ch)
            if case == "range":
                y *= 10.0 ** rng.uniform(-6, 6, (n_ch, n))
            elif case == "view":
                y = np.ascontiguousarray(rng.normal(0.0, 30.0, (n_ch, n + 7)))[:, 3: 3 + n]
            elif case == "zeros":
                y[:, ::2] = -0.0
                y[:, 1::4] = 0.0
            elif case == "silent":
                y = np.where(rng.random((n_ch, n)) < 0.5, 0.0, -0.0)
            elif case == "nan":
                y[-1, n // 2] = np.nan
            got, want = kernel(y, sigma), _centroid_pure(y, sigma)
            assert np.array_equal(_bits(np.array([got])), _bits(np.array([want]))), (n, case)


@pytest.mark.parametrize("n_ch", [1, 3, 8])
def test_centroids_kernel_gives_the_pure_centres(monkeypatch, n_ch):
    """Many twitches' centroids (dsp/units.py ``_centres``, and ``_centre`` for one) from the ring
    in one compiled pass: the same samples as the pure path for windows wholly kept, cut at
    either end of what the ring keeps, wholly outside it, empty, of one length and of many,
    silent, and for twitches without noise figures (skipped)."""
    from myotwitch.dsp.events import Event
    from myotwitch.dsp.ring import SignalRing
    from myotwitch.dsp.units import UnitTracker

    assert kernels.centroids() is not None
    rng = np.random.default_rng(n_ch)
    tr = UnitTracker(1000.0, n_ch)
    ring = SignalRing(n_ch)
    x = rng.normal(0.0, 20.0, (n_ch, 5000)) * 10.0 ** rng.uniform(-2, 2, (n_ch, 5000))
    x[:, 2000:2100] = 0.0
    ring.append(x, 1000)
    ring.forget_before(1500)  # kept: [1500, 6000)
    spans = [(1400, 1440), (1480, 1530), (1500, 1540), (3000, 3040), (3000, 3040), (3100, 3100), (3010, 3090),
             (3050, 3050 + 40), (2990, 3110), (5980, 6030), (6100, 6140), (5999, 6000), (3500, 3501)]
    spans += [(int(a), int(a + d)) for a, d in zip(rng.integers(1450, 6050, 60), rng.integers(0, 120, 60))]
    events = [Event(0.0, 0.01, 10.0, 1.0, 0.0, 0, "twitch", onset_sample=a, offset_sample=b) for a, b in spans]
    sigma = rng.uniform(2.0, 8.0, (len(events), n_ch))
    have = rng.random(len(events)) < 0.9
    got = []
    for on in (False, True):
        monkeypatch.setattr(kernels, "enabled", on)
        got.append((tr._centres(events, ring, sigma, have), [tr._centre(e, ring, s) for e, s in zip(events, sigma)]))
    assert got[0] == got[1]
    assert None in got[0][0] and None in got[0][1]  # outside what is kept, or skipped
    onsets = np.array([e.onset_sample for e in events], dtype=np.int64)
    got_a = tr._centre_array(kernels.centroids(), events, onsets, ring, sigma, have)  # (_prepare's arrays)
    assert got_a is not None
    assert [c if ok else None for c, ok in zip(got_a[0].tolist(), got_a[1].tolist())] == got[0][0]


def test_centre_array_rounds_as_round_does():
    """``_centre_array`` rounds the centroids' offsets as ``int(round(r))`` does: halves to even,
    either sign; one that is not finite sends the batch the list way (None)."""
    from types import SimpleNamespace

    from myotwitch.dsp.ring import SignalRing
    from myotwitch.dsp.units import UnitTracker

    ratios = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999999999999996, 3.5000000000000004, 7.0, 1e15 + 0.5, 0.0]

    def fake(y, at, onsets, offsets, sigma, have, start, ratio, ok):  # type: ignore[no-untyped-def]
        start[:] = 100
        ratio[:] = ratios
        ok[:] = True

    ring = SignalRing(1)
    ring.append(np.zeros((1, 10)), 0)
    ev = [SimpleNamespace(onset_sample=0, offset_sample=5)] * len(ratios)
    B = len(ratios)
    sig, have = np.ones((B, 1)), np.ones(B, dtype=bool)
    centre, ok = UnitTracker._centre_array(fake, ev, np.zeros(B, dtype=np.int64), ring, sig, have)  # type: ignore[arg-type,misc]
    assert centre.tolist() == [100 + int(round(r)) for r in ratios] and ok.all()
    ratios[3] = float("nan")
    assert UnitTracker._centre_array(fake, ev, np.zeros(B, dtype=np.int64), ring, sig, have) is None  # type: ignore[arg-type]


def test_select_kernel_finds_numpys_order_statistic():
    """The noise figures' selection (dsp/kernels.py ``_select``, compiled with the kernels):
    ``np.partition(x, k)[k]`` for any k, for counts down to one, many ties (few distinct values,
    all equal, signed zeros), a range of values too wide to halve often, and the input left as
    it was."""
    assert kernels.robust_rms() is not None
    select = kernels._select
    rng = np.random.default_rng(9)
    for n in (1, 2, 3, 13, 14, 25, 26, 150, 151, 300):
        for case in ("normal", "ties", "few", "equal", "zeros", "range"):
            x = rng.normal(0.0, 5.0, n)
            if case == "ties":
                x = x.round()
            elif case == "few":
                x = rng.choice([-1.0, 2.0, 3.5], n)
            elif case == "equal":
                x[:] = 4.0
            elif case == "zeros":
                x = np.where(rng.random(n) < 0.5, -0.0, 0.0) + np.where(rng.random(n) < 0.3, x, 0.0)
            elif case == "range":
                x *= 10.0 ** rng.uniform(-300, 300, n)
            before = x.copy()
            for k in {0, n // 2, max(n // 2 - 1, 0), n - 1, int(rng.integers(0, n))}:
                assert select(x, k, np.empty(n)) == np.partition(x, k)[k], (n, case, k)
            assert np.array_equal(_bits(x), _bits(before))


def test_tracked_middle_is_the_middle_whatever_the_series_before_it():
    """The canceller's medians along its update points (``_middle_tracked``: a window around
    the last median tried first, ``_middle_near``, then the full selection): every value is
    ``noise.percentile_rows(row, 50)``'s, for series that drift slowly (the window holds), jump
    (it misses), shrink to one value or none, tie at the window's edges (values on a coarse
    grid), and for rows whose middle pair straddles the window's edge."""
    from myotwitch.dsp.noise import percentile_rows

    assert kernels.mains_levels() is not None
    tracked, near = kernels._middle_tracked, kernels._middle_near
    rng = np.random.default_rng(4)
    for case in ("drift", "jumps", "ties", "counts"):
        track = np.full((2, 1), np.nan)
        for step in range(400):
            n = 50 if case != "counts" else int(rng.integers(0, 6)) if step % 7 == 0 else int(rng.integers(20, 51))
            row = rng.normal(0.01 * step, 1.0, n)
            if case == "jumps" and step % 5 == 0:
                row += rng.normal(0.0, 30.0)
            if case == "ties":
                row = np.round(row * 2.0) / 2.0
            before = row.copy()
            want = float(percentile_rows(row[None, :].copy(), 50.0)[0]) if n else np.nan
            got = tracked(row, n, np.empty(max(n, 1)), track, 0)
            assert _bits(np.array(got)) == _bits(np.array(want)), (case, step, n)
            assert np.array_equal(_bits(row), _bits(before))
    # the two middle values either side of the window's edge: not inside, so NaN (not a guess)
    row = np.arange(10.0)
    assert np.isnan(near(row, 10, 4.5, 9.0, np.empty(10)))
    assert np.isnan(near(row, 10, 0.0, 4.5, np.empty(10)))
    assert near(row, 10, 4.0, 5.0, np.empty(10)) == 4.5


@pytest.mark.parametrize("n", [2, 3, 8, 9, 150, 151, 256, 300])
def test_robust_rms_kernel_gives_the_pure_noise_figures(monkeypatch, n):
    """The noise figures (dsp/units.py ``_robust_rms``: 1.4826 x the median absolute deviation,
    floored) in one compiled pass (a batch of windows of up to ``SORTED_MAX`` sorted by numpy
    first): the pure path's bits for odd and even counts, for stacked
    windows, a gather's transposed layout and one twitch's view of the ring, with ties, signed
    zeros, silence (the floor), a wide range, and a NaN or an infinity in a row (then the
    pure path's own answer)."""
    from myotwitch.dsp.units import _robust_rms

    assert kernels.robust_rms() is not None
    rng = np.random.default_rng(n)
    B, C = 7, 3
    x = rng.normal(0.0, 5.0, (B, C, n)) * 10.0 ** rng.uniform(-2, 2, (B, C, 1))
    x[0, 0] = x[0, 0].round()
    x[0, 1] = np.where(rng.random(n) < 0.5, -0.0, 0.0)
    x[0, 2, : n // 2] = -0.0
    x[1, 0] = 3.0
    x[1, 1, ::2] = 7.0
    x[1, 2] *= 10.0 ** rng.uniform(-200, 200, n)
    x[2, 0, n // 3] = 1e-310  # a subnormal
    cases = [x, x.transpose(1, 0, 2).copy().transpose(1, 0, 2), x[3], x[0], x[4, :, 1:]]
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[5, 1, n // 2] = bad
        y[6, 2, : n // 2 + 2] = bad  # more than half: the median itself
        cases += [y, y[5], y[6]]
    for y in cases:
        got = []
        for on in (False, True):
            monkeypatch.setattr(kernels, "enabled", on)
            with np.errstate(invalid="ignore"):  # inf - inf: NaN, as it comes
                got.append(_bits(_robust_rms(y)))
        assert got[0].shape == got[1].shape and np.array_equal(got[0], got[1])


def test_sorted_noise_figures_are_the_selections():
    """``kernels.robust_rms_sorted`` (the deviations' middle values bisected between the two
    sorted runs) gives the selection kernel's bits on sorted rows of every count up to 40 and
    a few longer, with ties, few distinct values, signed zeros and a wide range; a row with a
    NaN or an infinity is left to the pure path (False)."""
    by_sort, select = kernels.robust_rms_sorted(), kernels.robust_rms()
    assert by_sort is not None and select is not None
    rng = np.random.default_rng(3)
    for n in [*range(1, 41), 99, 150, 255, 256]:
        for case in range(12):
            y = rng.normal(0.0, 5.0, (6, 2, n))
            if case % 4 == 1:
                y = y.round()
            elif case % 4 == 2:
                y = rng.integers(0, 3, y.shape).astype(float) * np.where(rng.random(y.shape) < 0.5, -1.0, 1.0)
            elif case % 4 == 3:
                y *= 10.0 ** rng.uniform(-100, 100, y.shape)
            want, got = np.empty((6, 2)), np.empty((6, 2))
            assert select(y, want) and by_sort(np.sort(y, axis=-1), got)
            assert np.array_equal(_bits(want), _bits(got)), (n, case)
    y = rng.normal(0.0, 5.0, (2, 1, 9))
    for bad in (np.nan, np.inf, -np.inf):
        y[1, 0, 4] = bad
        assert not by_sort(np.sort(y, axis=-1), np.empty((2, 1)))


def test_ptp_rows_kernel_gives_the_merged_twitchs_spatial_signature(monkeypatch):
    """The coincident twitch's peak-to-peak per channel (dsp/coincidence.py ``_merge``) in one
    compiled pass: numpy's max - min per row, to the bit, for one sample, a view into the ring's
    buffer, infinities, and rows of zeros of either sign or a NaN (where the pure path answers);
    and the merged events are the same on both paths."""
    from myotwitch.dsp.coincidence import CoincidenceMerger
    from myotwitch.dsp.events import Event
    from myotwitch.dsp.ring import SignalRing

    kernel = kernels.ptp_rows()
    assert kernel is not None
    rng = np.random.default_rng(5)
    for n in (1, 2, 9, 60):
        for case in ("normal", "view", "inf", "zeros", "nan"):
            y = rng.normal(0.0, 30.0, (4, n)) * 10.0 ** rng.uniform(-5, 5, (4, 1))
            if case == "view":
                y = rng.normal(0.0, 30.0, (4, n + 5))[:, 2: 2 + n]
            elif case == "inf":
                y[1, -1], y[2, 0] = np.inf, -np.inf
            elif case == "zeros":
                y[1], y[2], y[3] = 0.0, -0.0, np.where(np.arange(n) % 2, 0.0, -0.0)
            elif case == "nan":
                y[2, n // 2] = np.nan
            out = np.full(4, 7.0)
            with np.errstate(invalid="ignore"):
                want = y.max(axis=1) - y.min(axis=1)
            if kernel(y, out):
                assert case not in ("zeros", "nan") and np.array_equal(_bits(out), _bits(want)), (n, case)
            else:
                assert case in ("zeros", "nan"), (n, case)
    C = 4
    ring = SignalRing(C)
    x = rng.normal(0.0, 20.0, (C, 3000))
    x[3, 1500:1600] = 0.0
    ring.append(x, 0)
    groups = [[Event(0.0, 0.01, 10.0, float(p), 0.0, c, "twitch", onset_sample=a + c, offset_sample=a + 30 + c)
               for c, p in zip(chs, rng.uniform(5.0, 50.0, len(chs)))]
              for a, chs in ((1000, [0, 2]), (1520, [1, 3]), (2990, [0]), (100, [3, 1, 2]))]
    got = []
    for on in (False, True):
        monkeypatch.setattr(kernels, "enabled", on)
        merger = CoincidenceMerger(1000.0, C)
        got.append([merger._merge(g, ring) for g in groups])
    assert got[0] == got[1]
    assert all(np.array_equal(_bits(np.array(a.channels_peak_to_peak_uv)), _bits(np.array(b.channels_peak_to_peak_uv)))
               for a, b in zip(*got))


@pytest.mark.parametrize("n_ch", [1, 3])
def test_units_are_the_same_with_and_without_the_kernels(monkeypatch, n_ch):
    """The unit stage end to end (dsp/units.py, its compiled fit keeping the templates' members
    beside their stack through joins, creations, merges and evictions): the same units and
    templates on both paths, in one offline pass and in live blocks."""
    from myotwitch.dsp import Pipeline
    from myotwitch.dsp.synth import UnitSynthSpec, random_sources, synthesize_units
    from myotwitch.dsp.units import UnitConfig

    src = random_sources(np.random.default_rng(70 + n_ch), 4, n_ch, rate_per_min=(10.0, 30.0))
    x, _ = synthesize_units(UnitSynthSpec(src, fs=1000.0, duration_s=120.0, seed=80 + n_ch, n_channels=n_ch))
    got = []
    for on in (False, True):
        monkeypatch.setattr(kernels, "enabled", on)
        runs = [[repr(e) for e in detect(x, 1000.0).events]]
        pl = Pipeline(1000.0, n_ch)
        pl.units.tracker.cfg = UnitConfig(max_templates=5)  # evictions too
        live = []
        for i in range(0, x.shape[1], 50):
            live += pl.process(x[:, i: i + 50])
        live += pl.flush()
        runs.append([repr(e) for e in live])
        runs.append([(t.n, _bits(t.wave).tolist()) for t in pl.units.tracker._templates])
        got.append(runs)
    assert sum(e.count("unit='U") for e in got[0][0]) > 20
    assert got[0] == got[1]


def test_best_template_keeps_its_members_in_step(monkeypatch):
    """``_best``'s compiled fit reads the templates' members from an array kept beside their
    stack: through joins (members grow, up to and past the cap), a new template and a rebuilt
    stack it gives the pure fit's template, lag and ratio to the bit."""
    from myotwitch.dsp.events import Event
    from myotwitch.dsp.units import UnitTracker, _Template

    rng = np.random.default_rng(21)
    tr = UnitTracker(1000.0, 2)
    width = tr.L + 2 * (tr.lag_n + tr.wide_n) * tr.up
    waves = rng.normal(0.0, 60.0, (3, 2 * tr.L))
    tr._templates = [_Template(w.copy(), n, i, (i, 0, 1.0), 0, np.full(2, 4.0), snippets=deque(maxlen=12))
                     for i, (w, n) in enumerate(zip(waves, (1, 2, 28)))]
    e = Event(0.0, 0.01, 10.0, 1.0, 0.0, 0, "twitch", onset_sample=1000, offset_sample=1010)
    checked = 0
    for step in range(60):
        if step == 30:  # a new template: the stack and its members are built anew
            tr._templates.append(_Template(rng.normal(0.0, 60.0, 2 * tr.L), 3, 3, (3, 0, 1.0), 0, np.full(2, 4.0),
                                           snippets=deque(maxlen=12)))
            tr._stack = None
        src = tr._templates[step % len(tr._templates)].wave.reshape(2, tr.L)
        wide = rng.normal(0.0, 4.0, (2, width))
        wide[:, tr.wide_n * tr.up + tr.lag_n * tr.up:][:, : tr.L] += src
        sigma = rng.uniform(3.5, 4.5, 2)
        inv = 1.0 / sigma
        ww = tr._lag_windows(wide * inv[:, None], tr.wide_n * tr.up, tr.n_lags)
        wscale = np.repeat(inv, tr.L)
        got = []
        for on in (False, True):
            monkeypatch.setattr(kernels, "enabled", on)
            best = tr._best(ww, wscale)
            got.append(None if best is None else (best[0], best[1], _bits(np.array([best[2]])).tolist()))
        assert got[0] == got[1], step
        if got[1] is not None:
            checked += 1
            tr._join(got[1][0], wide, got[1][1], sigma, e)  # with the kernels: the members move in step
    assert checked > 40 and max(t.n for t in tr._templates) > tr.cfg.mean_cap


@pytest.mark.parametrize("recent", [(0.5, 1.5, 3.0, 2), (0.5, 1.5, 3.0, 0), ()])
@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 500.0), (8, 2000.0)])
def test_noise_block_kernel_gives_the_pure_floor(monkeypatch, n_ch, fs, recent):
    """Live blocks, now and then a long one, a burst, a NaN window and an overflow: the floors,
    the history, the floor in force and the quality histogram come out the same bit for bit,
    and the compiled pass (``noise_block``) did the live windows and the long blocks."""
    from myotwitch.dsp.noise import NoiseFloor

    rng = np.random.default_rng(n_ch)
    y = rng.standard_normal((n_ch, int(90 * fs))) * rng.uniform(1, 20, (n_ch, 1))
    y[:, int(40 * fs): int(40 * fs) + 40] = 1e3  # a burst the floor must not follow
    y[:, int(10 * fs): int(15 * fs)] *= 6.0  # activity the floor drops after ...
    for t in np.arange(20.0, 34.0, 2.5):  # ... and activity that keeps coming back, after which only the resting floor does
        y[:, int(t * fs): int((t + 2.0) * fs)] *= 4.0 + 30.0 * np.hanning(int(2.0 * fs))
    y2 = y * y
    y2[n_ch - 1, int(60 * fs)] = np.nan  # a NaN window: the general path, then back
    y2[0, int(70 * fs)] = 1e308  # an overflowing window sum: an infinite RMS
    def run(compiled: bool):
        monkeypatch.setattr(kernels, "enabled", compiled)
        nf = NoiseFloor(fs, n_ch, 0.1, 6.0, 25.0, 0.5, *recent)
        n, i, k, out, rest = int(0.05 * fs), 0, 0, [], []
        with np.errstate(over="ignore", invalid="ignore"):
            while i < y2.shape[1]:
                m = n if k % 40 else int((1.3 if k % 80 else 7.3) * fs)  # long blocks: fewer windows than the history, and more
                out.append(nf.process(y2[:, i: i + m]))
                rest.append(nf.rest_at(np.arange(out[-1].shape[1])) if nf.guarded else out[-1])  # (asked for only then)
                i, k = i + m, k + 1
        return (np.concatenate(out, axis=1), np.concatenate(rest, axis=1), nf.histogram.copy(), nf._hist.copy(),
                nf._current.copy())

    want = run(False)
    calls = _counting(monkeypatch, "noise_block", lambda *a: a[1].shape[1])  # each block's length
    got = run(True)
    live = int(0.05 * fs)
    assert calls.count(live) > 100 and sum(c > 10 * live for c in calls) >= 1
    for a, b in zip(want, got):
        assert np.array_equal(_bits(a), _bits(b)) if a.dtype.kind == "f" else np.array_equal(a, b)
    if recent:  # the floor drops after activity; where activity keeps coming back only the resting floor does
        monkeypatch.setattr(kernels, "enabled", False)
        plain = NoiseFloor(fs, n_ch, 0.1, 6.0, 25.0, 0.5).process(y2[:, : int(36 * fs)])
        floor, rest = want[0][:, : int(36 * fs)], want[1][:, : int(36 * fs)]
        after, pauses = slice(int(15 * fs), int(17 * fs)), slice(int(27 * fs), int(36 * fs))
        assert (floor[:, after] < 0.7 * plain[:, after]).any(axis=1).all()
        assert ((rest < floor)[:, pauses].any(axis=1).all() if recent[3] else np.array_equal(rest, floor, equal_nan=True))
        assert (rest[:, pauses] < 0.7 * plain[:, pauses]).any(axis=1).all()


@pytest.mark.parametrize("n_ch,window", [(1, 100), (3, 50), (8, 200)])
def test_tail_window_kernel_gives_the_pure_kurtosis_rows(monkeypatch, n_ch, window):
    """Live blocks completing a window every other block, now and then a long one, sparse firing
    that moves the kurtosis rows and a NaN window: the rows in force, the kept window sums and
    the window being filled come out the same bit for bit, the compiled pass doing the windows."""
    from myotwitch.dsp.energy import TailWeight

    rng = np.random.default_rng(n_ch + window)
    n = 200 * window
    y = rng.standard_normal((n_ch, n)) * 5.0
    y[:, n // 3: n // 2: window // 3] *= 40.0  # sparse firing: heavy tails for a while
    y2 = y * y
    y2[0, 2 * n // 3] = np.nan

    def run(compiled: bool):
        monkeypatch.setattr(kernels, "enabled", compiled)
        tw = TailWeight(n_ch, window, 30)
        block, i, k = window // 2, 0, 0
        while i < n:
            m = block if k % 25 else 7 * window + 3
            tw.push(y2[:, i: i + m])
            i, k = i + m, k + 1
        return tw._rows, tw._sums[:, :, : tw._n_sums].copy(), tw._part[0, :, : tw._m].copy(), tw._done

    want = run(False)
    calls = _counting(monkeypatch, "tail_window")
    got = run(True)
    assert len(calls) > 50
    assert len(set(want[0])) > 2  # the rows did move
    assert want[0] == got[0] and want[3] == got[3]
    for a, b in zip(want[1:3], got[1:3]):
        assert np.array_equal(_bits(a), _bits(b))


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 2000.0)])
def test_live_energy_kernel_gives_the_pure_statistic(monkeypatch, n_ch, fs):
    """The shipped statistic (kurtosis rows and twitch-shape lift) over live blocks, now and
    then a long one, with a settling floor, bursts and small potentials: the same bits with the
    fused live call as without any kernel, the live call doing most blocks."""
    from myotwitch.dsp import Pipeline
    from myotwitch.dsp.synth import hr_muap

    rng = np.random.default_rng(n_ch)
    n = int(40 * fs)
    y = rng.standard_normal((n_ch, n)) * 4.0
    for t in rng.uniform(1.0, 39.0, 60):  # potentials from the lift's range up to large ones
        w = hr_muap(float(rng.uniform(5, 20)), fs, rng)
        i, c = int(t * fs), int(rng.integers(n_ch))
        y[c, i: i + w.size] += w / np.ptp(w) * rng.choice([25.0, 40.0, 400.0])
    y[0, n // 2: n // 2 + int(0.5 * fs)] += rng.laplace(0, 30.0, int(0.5 * fs))  # activity: the rows move
    floor = np.full((n_ch, n), 4.0)
    floor[:, : int(0.3 * fs)] = np.nan
    block = int(0.05 * fs)

    def run(compiled: bool):
        monkeypatch.setattr(kernels, "enabled", compiled)
        en = Pipeline(fs, n_ch)._energy
        out, i, k = [], 0, 0
        while i < n:
            m = block if k % 60 else 3 * block + 7
            s = slice(i, i + m)
            out.append(en.process(np.ascontiguousarray(y[:, s] ** 2), floor[:, s].copy(), y[:, s].copy()))
            i, k = i + m, k + 1
        return np.concatenate(out + [en.drain()], axis=1)

    want = run(False)
    calls = _counting(monkeypatch, "live_energy")
    got = run(True)
    assert len(calls) > 0.8 * n / block
    assert (want <= -1.0).any() and (want >= 1.0).any()  # the lift and the energy windows both fire
    assert np.array_equal(_bits(want), _bits(got))


def test_quiet_background_kernel_answers_as_the_pure_check(monkeypatch):
    """The quiet-background check (dsp/trains.py ``_busy_background``) in one compiled call, the
    resting level included: the same answer (at rest, busy, busy for a small potential) as the
    pure path and as its pure twin, asked potential by potential or worked out for all of them
    ahead (``_check_ahead``, compiled or its twin), over backgrounds at rest, loud near the potential or only
    further back, candidates cut out or crowding it, weak shape-only ones left in, settling
    (NaN) floors, windows clipped at the start of the signal, on either channel."""
    import copy
    from types import SimpleNamespace

    from myotwitch.dsp.trains import SMALL, TrainStage, _Potential
    from tests.dsp.test_trains_rest import feed

    rng = np.random.default_rng(19)
    assert kernels.quiet_background() is not None
    seen: dict[object, int] = {}
    weak_seen = 0
    got: dict[str, object] = {}  # the pure path's resting level and sums, as they come
    rest_floor, sums = TrainStage.rest_floor, TrainStage._background_sums
    for trial in range(120):
        stage = TrainStage(1000.0, 2, min_hz=5, max_hz=30, regularity=1.5, size_ratio=1.6, min_corr=0.7, min_len=3,
                           quiet_s=0.15, quiet_ratio=2.5, lookback_s=0.4, lookback_ratio=2.5, small_snr=12.0,
                           small_ratio=1.35, cluster_min=int(rng.integers(0, 3)), cluster_ratio=1.6, isolation_s=1.0,
                           isolation_snr=12.0, rest_s=float(rng.choice([1.0, 60.0])), rest_step=int(rng.choice([10, 25])),
                           ring_s=0.011)
        n = int(rng.integers(2000, 6000))
        y = rng.standard_normal((2, n)) * rng.uniform(0.8, 1.3)
        for _ in range(int(rng.integers(0, 4))):  # louder stretches: voluntary activity
            a = int(rng.integers(0, n))
            y[:, a: a + int(rng.integers(50, 800))] *= rng.uniform(1.2, 2.5)
        floors = rng.uniform(0.7, 1.3, (2, n)).round(int(rng.integers(1, 4)))
        floors[:, : int(rng.integers(0, 400))] = np.nan
        s = 0
        while s < n:
            b = int(rng.choice([50, 333, 2000]))
            feed(stage, y[:, s:s + b], floors[:, s:s + b], s)
            s += b
        stage._kept_from = int(rng.integers(0, 300))
        for c in range(2):
            at, pots, spread = 0, [], int(rng.choice([40, 700]))  # (crowded: cuts that end the windows exactly)
            while True:
                at += int(rng.integers(1, spread))
                if at >= n - 10:
                    break
                size = float(rng.choice([rng.uniform(2.0, 14.0), rng.uniform(14.0, 400.0)]))
                pots.append(_Potential(at, size, np.zeros(17), at + int(rng.integers(3, 25)), float(rng.uniform(0.8, 1.2)),
                                       shape_only=bool(rng.random() < 0.4)))
            stage._recent[c], stage._recent_on[c] = pots, [p.onset for p in pots]
        answers = []
        for way in ("pure", "compiled", "twin", "ahead", "ahead twin"):
            st = copy.deepcopy(stage)
            monkeypatch.setattr(kernels, "enabled", way != "pure")
            if way == "pure":
                monkeypatch.setattr(TrainStage, "rest_floor", lambda self, c, at: got.setdefault("rest", rest_floor(self, c, at)))
                monkeypatch.setattr(TrainStage, "_background_sums",
                                    staticmethod(lambda y, cuts, k: got.setdefault("sums", sums(y, cuts, k))))
            if way == "twin":
                monkeypatch.setattr(kernels, "quiet_background", lambda: kernels._quiet_background_py)
            # asked in onset order across the channels, as decisions go (the grid's old floors,
            # which all channels share, are dropped as questions move on)
            asked = sorted(((p.onset, c, p) for c in range(2) for p in st._recent[c][::3]), key=lambda a: a[0])
            if way.startswith("ahead"):  # every potential's answer worked out before any is asked for
                st._held = [(SimpleNamespace(channel=c), p) for _, c, p in asked]
                st._check_ahead(kernels._quiet_backgrounds_py if way == "ahead twin" else kernels.quiet_backgrounds(),
                                st._held_by_channel())
                assert all(p.ahead >= 0 for _, p in st._held)  # (each has its answer)
            figures = []
            for _, c, p in asked:
                got.clear()
                v = st._busy_background(c, p)
                if way == "pure":  # (the resting level as the check takes it)
                    rest, (n_near, near, n_far, far) = min(got["rest"] or p.floor, p.floor), got.get("sums", (-1, -1.0, -1, -1.0))
                else:
                    rest, n_near, near, n_far, far = st._quiet_out.tolist()
                figures.append((v, int(n_near), int(n_far), _bits(np.array([rest, near, far])).tolist()))
            answers.append(figures)
            monkeypatch.undo()
        assert answers[0] == answers[1] == answers[2], trial
        assert [f[0] for f in answers[0]] == [f[0] for f in answers[3]] == [f[0] for f in answers[4]], trial
        for c in range(2):
            weak_seen += sum(stage._weak_shape_only(p) for p in stage._recent[c][::3])
        for v, *_ in answers[0]:
            seen[v] = seen.get(v, 0) + 1
    assert set(seen) == {False, True, SMALL} and min(seen.values()) > 10 and weak_seen > 20, seen


def test_rest_level_from_a_guess_is_the_order_statistic():
    """The quiet-background kernel's resting level starts from the last one: whatever the guess
    (none, the answer, a value or a few beside it in either direction, far off, between the
    values, outside them all), the value is the order statistic of the window's finite floors,
    compiled and pure alike."""
    rng = np.random.default_rng(23)
    assert kernels.quiet_background() is not None  # (binds the compiled helpers)
    frac = 0.1
    for trial in range(600):
        n = int(rng.integers(1, 700))
        row = rng.uniform(1.0, 5.0, n + 3).round(int(rng.integers(0, 4)))[3:]
        row[rng.random(n) < rng.choice([0.0, 0.1, 1.0])] = np.nan
        lo = int(rng.integers(0, n + 1))
        hi = int(rng.integers(lo, n + 1))
        x = np.sort(row[lo:hi][row[lo:hi] == row[lo:hi]])
        want = float(x[int(frac * (x.size - 1))]) if x.size else 0.0
        q = int(frac * (x.size - 1))
        guesses = [np.nan, float(rng.uniform(0.0, 6.0)), -1.0, 9.0]
        if x.size:
            guesses += [float(x[min(max(q + d, 0), x.size - 1)]) for d in (-4, -3, -2, -1, 0, 1, 2, 3, 4)]
            guesses += [float(x[min(max(q + d, 0), x.size - 1)]) + 1e-9 for d in (-2, 0, 1)]
        for g in guesses:
            assert kernels._rest_level(row, lo, hi, frac, g, np.full(6, np.nan)) == want, (trial, g)
            assert kernels._rest_level_py(row, lo, hi, frac, g, np.full(6, np.nan)) == want, (trial, g)


def test_rest_level_counts_carried_along_a_sliding_window():
    """The resting levels of a block's potentials share their counts: along windows that slide
    on (by a little, by nothing, past the last one, or back), asked from the last answer or now
    and then from another guess, each value is still the order statistic of the window's finite
    floors, compiled and pure alike."""
    rng = np.random.default_rng(29)
    assert kernels.quiet_background() is not None  # (binds the compiled helpers)
    frac = 0.1
    for trial in range(150):
        n = int(rng.integers(50, 1500))
        row = rng.uniform(1.0, 5.0, n).round(int(rng.integers(0, 3)))
        row[rng.random(n) < rng.choice([0.0, 0.05, 0.5])] = np.nan
        width = int(rng.integers(1, 700))
        for level in (kernels._rest_level, kernels._rest_level_py):
            cnt, guess, lo = np.full(6, np.nan), np.nan, 0
            while lo < n:
                lo = max(0, lo + int(rng.choice([0, 1, 2, 5, -3, width + 3])))
                hi = min(n, lo + width + int(rng.integers(-2, 3)))
                x = np.sort(row[lo:max(hi, lo)][row[lo:max(hi, lo)] == row[lo:max(hi, lo)]])
                want = float(x[int(frac * (x.size - 1))]) if x.size else 0.0
                if rng.random() < 0.1:
                    guess = float(rng.uniform(0.5, 5.5))
                got = level(row, lo, hi, frac, guess, cnt)
                assert got == want, (trial, lo, hi)
                if hi > lo:
                    guess = got
                lo += 1


def test_activity_kernel_gives_the_pure_masks(monkeypatch):
    """The burst segmenter's active and strong masks: statistics of either sign, at the bar, NaN
    floors and statistics, an envelope at the off-threshold."""
    from myotwitch.dsp.bursts import BurstSegmenter

    rng = np.random.default_rng(9)
    n = 5000
    env, floor, stat = rng.uniform(0, 5, n), rng.uniform(0.5, 2, n), rng.normal(0, 1.5, n)
    stat[::97], stat[1::97], floor[::89], stat[::101] = 1.0, -1.0, np.nan, np.nan
    env[::83] = 3.0 * floor[::83]
    seg = BurstSegmenter(1, on=5.0, off=3.0, merge_n=12, cluster_n=120, context_n=100, max_n=1500,
                         clip_uv=None, clip_run=3, twitch_max_n=60)
    monkeypatch.setattr(kernels, "enabled", False)
    want = seg._activity(env, floor, stat)
    monkeypatch.setattr(kernels, "enabled", True)
    assert kernels.activity() is not None
    got = seg._activity(env, floor, stat)
    assert want[0].any() and not want[0].all() and want[1].any()
    for a, b in zip(want, got):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 2000.0), (8, 2000.0), (2, 500.0)])
def test_whiten_kernel_gives_the_pure_products_operands(n_ch, fs):
    """A twitch's whitened lag windows and the whitened templates with their energies (dsp/units.py
    ``observe_all`` and ``_products``) in one compiled pass, to the bit: the windows as
    ``_lag_windows`` cuts the whitened snippet (from a trimmed row of an upsampled batch, as
    ``_prepare`` gives it), ``stack * wscale``, and each row's squares added as ``np.add.reduce``
    adds them (pairwise beyond 8 and 128 terms), into rows of longer buffers."""
    from myotwitch.dsp.units import UnitTracker

    tr = UnitTracker(fs, n_ch)
    width = tr.L + 2 * (tr.lag_n + tr.wide_n) * tr.up
    x0 = tr.wide_n * tr.up
    rng = np.random.default_rng(n_ch * 100 + int(fs))
    for K in (1, 2, 5, 9):
        stack = rng.normal(0.0, 1.0, (K, n_ch * tr.L)) * 10.0 ** rng.uniform(-3, 3, (K, 1))
        batch = rng.normal(0.0, 50.0, (3, n_ch, width + 10)) * 10.0 ** rng.uniform(-3, 3)
        wide = batch[1, :, 5: 5 + width]
        inv = 1.0 / rng.uniform(0.5, 9.0, n_ch)
        out, tt = np.full((K + 2, n_ch * tr.L), np.nan), np.full(K + 2, np.nan)
        ww = np.full((tr.n_lags, n_ch * tr.L), np.nan)
        kernels.whiten()(stack, wide, inv, x0, out[:K], tt[:K], ww)
        T = stack * np.repeat(inv, tr.L)
        assert np.array_equal(_bits(ww), _bits(tr._lag_windows(wide * inv[:, None], x0, tr.n_lags)))
        assert np.array_equal(_bits(out[:K]), _bits(T))
        assert np.array_equal(_bits(tt[:K]), _bits(np.add.reduce(T * T, axis=1)))
        assert np.isnan(out[K:]).all() and np.isnan(tt[K:]).all()


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 2000.0), (8, 2000.0), (2, 500.0)])
def test_fused_products_are_the_pure_products(n_ch, fs):
    """``_fit_join``'s ``np.dot(T, ww.T, out=...)`` (dsp/units.py) gives ``_products``' ``T @ ww.T``
    to the bit, for one template (a matrix-vector product) and for many, into rows of a longer
    buffer: the same BLAS call."""
    from myotwitch.dsp.units import UnitTracker

    tr = UnitTracker(fs, n_ch)
    rng = np.random.default_rng(n_ch * 10 + int(fs))
    for K in range(1, tr.cfg.max_templates + 2):
        for _ in range(5):
            T = rng.normal(0.0, 1.0, (K, n_ch * tr.L)) * 10.0 ** rng.uniform(-3, 3, (K, 1))
            ww = rng.normal(0.0, 1.0, (tr.n_lags, n_ch * tr.L)) * 10.0 ** rng.uniform(-3, 3)
            buf = np.full((tr.cfg.max_templates + 1, tr.n_lags), np.nan)
            got = np.dot(T, ww.T, out=buf[:K])
            assert got.base is buf or got.base is buf.base
            assert np.array_equal(_bits(got), _bits(T @ ww.T))


def _best_bits(best: tuple[int, int, float] | None) -> tuple[int, int, list[int]] | None:
    return None if best is None else (best[0], best[1], _bits(np.array([best[2]])).tolist())


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (3, 2000.0), (8, 1000.0)])
def test_fit_join_kernel_gives_the_pure_decision_and_update(monkeypatch, n_ch, fs):
    """A twitch's fit and join in one compiled call (dsp/units.py ``_fit_join``) against the pure
    path's ``_best`` then ``_join``: the same template, lag and ratio to the bit; the join only
    where the pure path joins without an overlap check (not into a template started from an
    overlap with fewer than 3 members); and the same waves, noise figures, snippets, members
    and rows kept beside the stack, before and after the member cap. The kernel adds the lag
    windows' energies it reads itself, as the pure path adds them (given or not)."""
    from myotwitch.dsp.events import Event
    from myotwitch.dsp.units import UnitTracker, _Template

    rng = np.random.default_rng(n_ch * 7 + int(fs))
    tr_p, tr_c = UnitTracker(fs, n_ch), UnitTracker(fs, n_ch)
    width = tr_p.L + 2 * (tr_p.lag_n + tr_p.wide_n) * tr_p.up
    e = Event(0.0, 0.01, 10.0, 1.0, 0.0, 0, "twitch", onset_sample=1000, offset_sample=1010)
    seen = {"join": 0, "guard": 0, "none": 0}
    for trial in range(120):
        if trial % 8 == 0:  # a fresh set of templates (some from overlaps, few members)
            K = int(rng.integers(1, 7))
            waves = rng.normal(0.0, 60.0, (K, n_ch * tr_p.L))
            spec = [(int(rng.choice([1, 2, 2, 3, 29, 40])), bool(rng.random() < 0.5), rng.uniform(3.0, 5.0, n_ch))
                    for _ in range(K)]
            for tr in (tr_p, tr_c):
                tr._templates = [_Template(w.copy(), n, i, (i, 0, 1.0), 0, sig.copy(), snippets=deque(maxlen=12),
                                           from_overlap=fo) for i, (w, (n, fo, sig)) in enumerate(zip(waves, spec))]
                tr._stack = None
        src = tr_p._templates[int(rng.integers(len(tr_p._templates)))].wave.reshape(n_ch, tr_p.L)
        wide = rng.normal(0.0, 4.0, (n_ch, width))
        lag = int(rng.integers(tr_p.n_lags))
        wide[:, tr_p.wide_n * tr_p.up + lag:][:, : tr_p.L] += src * rng.choice([1.0, 1.02, 0.0, 3.0])
        sigma = rng.uniform(3.5, 4.5, n_ch)
        inv = 1.0 / sigma
        ww = tr_p._lag_windows(wide * inv[:, None], tr_p.wide_n * tr_p.up, tr_p.n_lags)
        wscale = np.repeat(inv, tr_p.L)
        energy = np.add.reduce(ww * ww, axis=-1) if rng.random() < 0.5 else None  # given, as observe_all gives it
        monkeypatch.setattr(kernels, "enabled", False)
        best = tr_p._best(ww, wscale, energy)
        k_p = -1
        if best is not None and not (tr_p._templates[best[0]].from_overlap and tr_p._templates[best[0]].n < 3):
            k_p = best[0]
            tr_p._join(best[0], wide, best[1], sigma, e)
        monkeypatch.setattr(kernels, "enabled", True)
        fused = tr_c._fused()
        assert fused is not None
        k_c, best_c = tr_c._fit_join(fused[0], fused[1], e, wide, sigma, inv)
        if k_c >= 0:
            tr_c._joined(k_c, e)
        assert k_c == k_p and (k_c >= 0 or _best_bits(best_c) == _best_bits(best))  # _best's answer where it did not join
        seen["join" if k_p >= 0 else "none" if best is None else "guard"] += 1
        for a, b in zip(tr_p._templates, tr_c._templates):
            assert (a.n, a.last_sample, a.unit) == (b.n, b.last_sample, b.unit)
            assert _bits(a.wave).tolist() == _bits(b.wave).tolist() and _bits(a.sigma).tolist() == _bits(b.sigma).tolist()
            assert [s.view(np.uint32).tolist() for s in a.snippets] == [s.view(np.uint32).tolist() for s in b.snippets]
        rows = tr_c._kept_rows()
        assert _bits(rows[0]).tolist() == _bits(np.stack([t.wave for t in tr_c._templates])).tolist()
        assert rows[1].tolist() == [float(t.n) for t in tr_c._templates]
        assert _bits(rows[2]).tolist() == _bits(np.stack([t.sigma for t in tr_c._templates])).tolist()
        assert _bits(rows[4]).tolist() == _bits(tr_p._energies()).tolist()  # kept through joins as built anew
        assert _bits(tr_p._kept_rows()[4]).tolist() == _bits(np.add.reduce(
            (rows[0] * rows[0]).reshape(len(rows[0]), n_ch, tr_c.L), axis=-1)).tolist()
    assert min(seen.values()) >= 5, seen


@pytest.mark.parametrize("n_ch,fs", [(1, 1000.0), (8, 2000.0), (3, 500.0)])
def test_upsampled_snippets_are_upfirdns_kept_outputs(monkeypatch, n_ch, fs):
    """``_upsampled`` asks the upsampling kernel for only the outputs it keeps (the padding's are
    not worked out): each the same sum, so the same bits as the pure path's upsampled and trimmed
    snippets, in a contiguous array (the windows kernels.whiten cuts from it)."""
    from myotwitch.dsp.units import UnitTracker

    tr = UnitTracker(fs, n_ch)
    n = tr.pre_n + tr.post_n + 2 * (tr.lag_n + tr.wide_n + tr.pad_n)
    seg = np.random.default_rng(n_ch).normal(0.0, 30.0, (5, n_ch, n + 3))[:, :, 2: 2 + n]  # a gather's view
    got = []
    for on in (False, True):
        monkeypatch.setattr(kernels, "enabled", on)
        got.append(tr._upsampled(seg))
    assert got[1].flags.c_contiguous and got[0].shape == got[1].shape
    assert np.array_equal(_bits(got[0]), _bits(got[1]))


def _burst_rows(rng: np.random.Generator, L: int, quantum: float | None) -> np.ndarray:
    """Segmenter rows (Y, ENV, LF, RAW, FLOOR, STAT) of noise with biphasic twitches and a
    contraction; ``quantum``: the raw trace on an ADC grid (extremes of equal samples)."""
    from myotwitch.dsp.bursts import ENV, FLOOR, LF, N_ROWS, RAW, STAT, Y

    rows = np.empty((N_ROWS, L))
    raw = rng.normal(0.0, 5.0, L)
    t = np.arange(-6, 7)
    for at in range(40, L - 40, 97):
        raw[at + t] += rng.uniform(20, 400) * -t / 2.0 * np.exp(0.5 - t**2 / 8.0)
    raw[L // 2: L // 2 + 150] += rng.normal(0.0, 60.0, 150)
    if quantum:
        raw = np.round(raw / quantum) * quantum
    rows[RAW] = raw
    rows[Y] = raw - np.convolve(raw, np.ones(9) / 9, mode="same") + rng.normal(0.0, 1e-3, L)  # (never exactly 0)
    rows[ENV] = np.sqrt(np.convolve(rows[Y] ** 2, np.ones(5) / 5, mode="same"))
    rows[LF] = np.convolve(raw, np.ones(31) / 31, mode="same")
    rows[FLOOR] = np.repeat(rng.uniform(4.0, 6.0, L // 100 + 1), 100)[:L]
    rows[STAT] = rows[ENV] / rows[FLOOR] / 4.0 - np.where(np.arange(L) % 53 == 0, 2.0, 0.0)
    return rows


@pytest.mark.parametrize("clip_uv,quantum", [(None, None), (None, 7.0), (150.0, None)])
def test_burst_features_kernel_gives_the_pure_figures(monkeypatch, clip_uv, quantum):
    """Many bursts' figures (dsp/bursts.py ``_features_many``) in one compiled pass: the stretches
    (single potentials' cores), peaks, peak to peak, low band, shape only, clipping or flat tops,
    spike ratios and snippets of the numpy path, to the bit, for stretches at the buffer's and
    the segment's edges and clusters; a NaN or an extreme of zero leaves the chunk to numpy; and
    detection runs the kernel."""
    from myotwitch.dsp.bursts import ENV, FLOOR, LF, RAW, STAT, BurstSegmenter, Y

    rng = np.random.default_rng(17 if quantum else 4)
    L = 3000
    buf = _burst_rows(rng, L, quantum)
    seg = BurstSegmenter(1, on=5.0, off=3.0, merge_n=12, cluster_n=120, context_n=100, max_n=1500,
                         clip_uv=clip_uv, clip_run=3, spike_n=4)
    kernel = kernels.burst_features()
    assert kernel is not None
    s = np.sort(rng.choice(np.arange(0, L - 30), 120, replace=False)).astype(np.intp)
    s[:2], s[-1] = (0, 2), L - 3  # the buffer's edges: no full spike window, no snippet
    s[s.size // 2] = 703  # (and the segment's, at seg0 = 700)
    e = np.minimum(s + rng.integers(1, 30, s.size), L).astype(np.intp)
    one = rng.uniform(size=s.size) < 0.8
    for seg0 in (0, 700):  # (a burst starts after its segment's start)
        keep = s >= seg0
        s, e, one = s[keep], e[keep], one[keep]
        floor = buf[FLOOR, s].tolist()
        want = seg._figures(buf, s, e, one, floor, seg0, L)
        got = seg._figures_compiled(kernel, buf, s, e, one, floor, seg0)
        assert got is not None
        assert any(v is None for v in want.spike) and any(want.shape_only) and not all(want.shape_only)
        assert quantum is None or any(want.clip)
        for name in ("start", "end", "peak", "shape_only", "clip", "spike"):
            assert getattr(got, name) == getattr(want, name), name
        for name in ("top", "ptp", "lf_ptp"):
            assert np.array_equal(_bits(np.array(getattr(got, name))), _bits(np.array(getattr(want, name)))), name
        for j, (k, k2) in enumerate(zip(want.row, got.row)):
            cut = k >= 0 and want.norms[k] > 0
            assert cut == (got.norms[k2] > 0), j
            if cut:
                assert np.array_equal(_bits(want.snips[k]), _bits(got.snips[k2])), j
                assert _bits(np.array(want.norms[k])) == _bits(np.array(got.norms[k2]))
    for row, value in ((Y, np.nan), (ENV, np.inf), (LF, np.nan), (RAW, np.nan), (STAT, np.nan), (Y, 0.0), (ENV, 0.0)):
        spoilt = buf.copy()
        spoilt[row, s[5]: e[5]] = value  # (zeros: y's, the envelope's extremes all zero)
        if value == 0.0 and row == Y:
            spoilt[Y, s[5] - 200: e[5] + 200] = 0.0
        assert seg._figures_compiled(kernel, spoilt, s, e, np.zeros_like(one), buf[FLOOR, s].tolist(), 0) is None
    calls = _counting(monkeypatch, "burst_features", lambda *a: a[5].size)
    res = detect(synthesize(case_spec("high_rate", 1000.0, 60.0, seed=3))[0], 1000.0)
    assert sum(calls) >= sum(e.kind == "twitch" for e in res.events) > 10


def _hum(fs: float, n: int, n_ch: int, seed: int) -> np.ndarray:
    """Off-nominal hum (50.03 Hz, four harmonics) swelling by 30 %, with 400 µV twitches whose
    blocks the canceller leaves out."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = 3.0 * rng.standard_normal((n_ch, n))
    for c in range(n_ch):
        for k, rel in ((1, 1.0), (2, 0.4), (3, 0.2), (4, 0.1)):
            x[c] += 80 * rel * (1 + 0.3 * np.sin(t / 2 + c)) * np.sin(2 * np.pi * k * 50.03 * t + k + c)
        for at in rng.integers(int(fs), n - int(fs), 20):
            w = np.arange(int(0.01 * fs))
            x[c, at: at + w.size] += 400 * np.sin(2 * np.pi * w / w.size)
    return x


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("n_ch", [1, 2])
def test_mains_kernels_give_the_pure_cancellers_bits(monkeypatch, fs, n_ch):
    """The canceller's update points (turned blocks, the halves' and the level's medians), its
    subtraction and its left-out test, compiled: the same bits as the pure path, whole and in
    live blocks of 1-120 samples, across a gap (where the turn falls back to the short window)."""
    from .test_mains import cancel_in_chunks

    x = _hum(fs, int(16 * fs), n_ch, int(fs) + n_ch)
    n = x.shape[1]
    rng = np.random.default_rng(5)
    monkeypatch.setattr(kernels, "enabled", False)
    pure = cancel_in_chunks(x, fs, lambda: n)
    calls = [_counting(monkeypatch, name) for name in ("mains_halves", "mains_levels", "mains_subtract", "sliding_middle")]
    assert np.array_equal(_bits(cancel_in_chunks(x, fs, lambda: n)), _bits(pure))
    assert np.array_equal(_bits(cancel_in_chunks(x, fs, lambda: int(rng.integers(1, 121)))), _bits(pure))
    assert all(calls)
    assert np.median(np.abs(pure[:, int(2 * fs):])) < 5  # (3 µV of noise left, not the 80 µV hum)


def test_prepare_says_whether_the_kernels_are_in_use(monkeypatch):
    """``kernels.prepare`` (a parent compiles before its workers) answers as the kernels do."""
    assert kernels.prepare() is True and kernels.front_end() is not None
    monkeypatch.setattr(kernels, "enabled", False)
    assert kernels.prepare() is False and kernels.front_end() is None


def test_phases_kernel_counts_as_the_pure_loop_does():
    """The phase count of a twitch candidate (dsp/classify.py ``phase_count``) compiled and
    run as Python give the same count: noise, potentials, plateaus, a strided row, NaN."""
    from myotwitch.dsp.classify import phase_count

    kernel = kernels.phases_many()
    assert kernel is not None
    one = np.zeros(1, dtype=np.int64)
    rng = np.random.default_rng(9)
    for n in (0, 1, 2, 7, 45, 300):
        for case in ("noise", "plateau", "strided", "nan"):
            y = rng.normal(0.0, 10.0, n)
            if case == "plateau":
                y = np.round(y / 8.0) * 8.0
            elif case == "strided":
                y = rng.normal(0.0, 10.0, (n, 2))[:, 1]
            elif case == "nan" and n:
                y[n // 2] = np.nan
            for step in (0.0, 5.0, 20.0, 1e9):
                out = np.empty(1, dtype=np.int64)
                kernel(y[None, :], 0, one, one + n, one, np.array([step]), out)
                assert out[0] == kernels._phases_py(y, step) == phase_count(y, step), (n, case, step)
    t = np.linspace(0.0, 1.0, 101)
    assert kernels._phases_py(np.sin(2 * np.pi * t), 0.5) == 3  # up, down, up again
    assert kernels._phases_py(np.array([0.0, 5.0, 5.0, 0.0]), 4.0) == 2  # a flat top is one extreme


def test_phases_many_kernel_counts_each_window_as_one_at_a_time():
    """The block's batch of phase counts (dsp/pipeline.py ``_note_bars``), compiled and as
    Python: each window's count as ``_phases_py`` alone, -1 for a window not wholly kept."""
    from myotwitch.dsp.classify import phase_counts

    kernel = kernels.phases_many()
    assert kernel is not None
    rng = np.random.default_rng(4)
    for ys in (rng.normal(0.0, 10.0, (3, 400)), rng.normal(0.0, 10.0, (3, 420))[:, 10:410]):
        y0 = 1000
        starts = np.array([1000, 1050, 1390, 990, 1200, 1395], dtype=np.int64)
        ends = np.array([1040, 1100, 1400, 1010, 1201, 1405], dtype=np.int64)
        chans = np.array([0, 2, 1, 0, 1, 2], dtype=np.int64)
        steps = np.array([5.0, 20.0, 1.0, 5.0, 3.0, 5.0])
        want = [kernels._phases_py(ys[c, a - y0:b - y0], st) if a >= y0 and b <= y0 + ys.shape[1] else -1
                for a, b, c, st in zip(starts, ends, chans, steps)]
        assert want[3] == -1 and want[5] == -1 and max(want) > 1
        out = np.empty(len(starts), dtype=np.int64)
        kernel(ys, y0, starts, ends, chans, steps, out)
        assert out.tolist() == want == phase_counts(ys, y0, starts, ends, chans, steps).tolist()
        pure = np.empty(len(starts), dtype=np.int64)
        kernels._phases_many_py(ys, y0, starts, ends, chans, steps, pure)
        assert pure.tolist() == want
