"""The unit stage labels all twitches of a block at once; it must equal labelling them one by one."""

from dataclasses import replace

import numpy as np
from scipy import signal

from myotwitch.dsp import Pipeline, detect
from myotwitch.dsp.ring import SignalRing
from myotwitch.dsp.synth import UnitSynthSpec, random_sources, synthesize_units
from myotwitch.dsp.units import UnitStage, UnitTracker


def reference_snippet(tr: UnitTracker, e, ring: SignalRing):
    """One twitch at a time, written out plainly: noise before the twitch (after it when too
    little is kept), energy centroid, the window around it, upsampled on its own."""
    lo_onset = e.onset_sample - tr.lag_n - tr.pad_n - tr.guard_n
    y, _ = ring.window(lo_onset - tr.noise_n, lo_onset)
    if y.shape[1] < tr.noise_n // 2:
        after = e.offset_sample + tr.lag_n + tr.pad_n + tr.guard_n
        y, _ = ring.window(after, after + tr.noise_n)
        if y.shape[1] < 8:
            return None
    sigma = np.maximum(1.4826 * np.median(np.abs(y - np.median(y, axis=1, keepdims=True)), axis=1), 1e-6)
    y, at = ring.window(e.onset_sample, e.offset_sample)
    if y.shape[1] == 0:
        return None
    energy = ((y / sigma[:, None]) ** 2).sum(axis=0)
    total = energy.sum()
    centre = at + (int(round(float((energy * np.arange(energy.size)).sum() / total))) if total > 0 else 0)
    lo = centre - tr.pre_n - tr.lag_n - tr.wide_n - tr.pad_n
    hi = centre + tr.post_n + tr.lag_n + tr.wide_n + tr.pad_n
    seg, at = ring.window(lo, hi)
    if at != lo or seg.shape[1] != hi - lo:
        return None
    if tr.up > 1:
        seg = signal.resample_poly(seg, tr.up, 1, axis=1, window=tr._fir)
    cut = tr.pad_n * tr.up
    return seg[:, cut: seg.shape[1] - cut], sigma


class OneByOneStage(UnitStage):
    """The unit stage with every twitch cut, measured and matched on its own."""

    def process(self, events, horizon, final=False):
        out = []
        for e in self.merger.process(events, horizon, self.ring, final):
            if e.kind == "twitch":
                e = replace(e, unit=self.tracker.observe_prepared(e, reference_snippet(self.tracker, e, self.ring)))
            out.append(e)
        self.ring.forget_before(self.held_from(horizon) - self.tracker.lookback_n - self.merger.window_n)
        return out


def recording(n_channels, fs, seed):
    src = random_sources(np.random.default_rng(seed), 4, n_channels=n_channels, rate_per_min=(20.0, 40.0))
    x, _ = synthesize_units(UnitSynthSpec(src, fs=fs, duration_s=150.0, seed=seed, n_channels=n_channels,
                                          doublet_prob=0.05))
    x[:, int(40.0 * fs): int(40.3 * fs)] = np.nan  # a gap: twitches right after it measure noise after them
    return x


def labelled(x, fs, stage_cls, block):
    pipe = Pipeline(fs, x.shape[0])
    if stage_cls is not None:
        pipe.units = stage_cls(fs, x.shape[0], band_high_hz=pipe.config.band_for(fs)[1])
        pipe.reset()
    events = []
    for i in range(0, x.shape[1], block):
        events += pipe.process(x[:, i: i + block])
    events += pipe.flush()
    return pipe.units.resolved(sorted(events, key=lambda e: (e.onset_sample, e.channel))), pipe.units.tracker


def test_batched_units_equal_one_twitch_at_a_time():
    for n_channels, fs, seed in [(1, 1000.0, 21), (2, 2000.0, 22)]:
        x = recording(n_channels, fs, seed)
        ref, ref_tracker = labelled(x, fs, OneByOneStage, 1 << 16)
        got, tracker = labelled(x, fs, None, 1 << 16)
        twitches = [e for e in ref if e.kind == "twitch"]
        assert len(twitches) > 100 and len({e.unit for e in twitches if e.unit}) >= 3
        assert got == ref
        # the templates (running means of the snippets) and their noise figures agree bit for bit
        assert len(tracker._templates) == len(ref_tracker._templates)
        for t, r in zip(tracker._templates, ref_tracker._templates):
            assert (t.n, t.unit) == (r.n, r.unit)
            assert np.array_equal(t.wave, r.wave) and np.array_equal(t.sigma, r.sigma)


def test_50_ms_blocks_equal_whole_array_detect():
    fs = 1000.0
    x = recording(1, fs, 23)
    whole = detect(x, fs).events
    assert sum(e.unit is not None for e in whole) > 100
    pipe = Pipeline(fs, 1)
    streamed = []
    for i in range(0, x.shape[1], 50):
        streamed += pipe.process(x[:, i: i + 50])
    streamed += pipe.flush()
    assert sorted(streamed, key=lambda e: (e.onset_sample, e.channel)) == whole


def test_fast_median_and_upsampler_equal_numpy_and_scipy_bit_for_bit():
    from myotwitch.dsp.units import median_last

    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 150, 151):
        y = rng.normal(size=(4, 3, n)) * 20.0
        assert np.array_equal(median_last(y), np.median(y, axis=-1))
    for fs in (500.0, 1000.0, 2000.0):
        tr = UnitTracker(fs, 2)
        width = tr.pre_n + tr.post_n + 2 * (tr.lag_n + tr.wide_n + tr.pad_n)
        x = rng.normal(size=(5, 2, width)) * 30.0
        assert np.array_equal(tr._upsampler(x), signal.resample_poly(x, tr.up, 1, axis=2, window=tr._fir))


def test_median_of_few_rows_and_of_many_equals_numpy_bit_for_bit():
    """``median_last`` equals np.median on one row, one twitch's rows and a batch's, also with
    ties (a quantised trace) and a window of 300 samples."""
    from myotwitch.dsp.units import median_last

    rng = np.random.default_rng(6)
    for rows in (1, 3, 8, 64, 65, 512):
        for n in (2, 8, 299, 300):
            y = rng.normal(size=(rows, n)) * rng.uniform(0.1, 50.0)
            if rows % 2:
                y = np.round(y)  # ties
            assert np.array_equal(median_last(y), np.median(y, axis=-1)), (rows, n)
            assert np.array_equal(median_last(y.reshape(1, rows, n)), np.median(y, axis=-1)[None])


def test_one_twitch_is_prepared_as_in_a_batch():
    """A lone twitch (live blocks) is cut with slices of the ring instead of the batch's
    gathering: the same noise figures and upsampled snippets bit for bit as in a batch of a few
    (slices) and of many (fancy indexing), and as the plain reference, also where the ring
    keeps too little before (noise after), too little around it, or a flat stretch (floored)."""
    from myotwitch.dsp.events import Event

    rng = np.random.default_rng(8)
    for fs, n_channels in [(2000.0, 8), (1000.0, 1), (4000.0, 2)]:
        tr = UnitTracker(fs, n_channels)
        ring = SignalRing(n_channels)
        x = rng.normal(size=(n_channels, 6000)) * rng.uniform(1.0, 30.0, (n_channels, 1))
        x[:, 3000:3700] = 0.0  # flat: the noise figure is floored
        ring.append(x, 1000)
        ring.forget_before(1300)  # kept: [1300, 7000)
        # one-sample twitches (centred on themselves) whose windows end just inside or outside the ring
        before = tr.lag_n + tr.pad_n + tr.guard_n + tr.noise_n
        back = tr.pre_n + tr.lag_n + tr.wide_n + tr.pad_n
        width = tr.pre_n + tr.post_n + 2 * (tr.lag_n + tr.wide_n + tr.pad_n)
        onsets = [at + d for at in (1300 + before, 1300 + back, 7000 - width + back) for d in (-1, 0, 1)]
        lengths = [1] * len(onsets)
        for _ in range(150):
            onsets.append(int(rng.integers(1000, 7200)))
            lengths.append(int(rng.choice([0, 1, 9, 60])))
        events = [Event(0.0, 0.0, 0.0, 1.0, 0.0, 0, "twitch", onset_sample=a, offset_sample=a + n)
                  for a, n in zip(onsets, lengths)]
        kinds = set()
        for i, e in enumerate(events):
            one = tr._prepare([e], ring)
            ref = reference_snippet(tr, e, ring)
            if ref is None:
                kinds.add(None)
            elif e.onset_sample - (tr.lag_n + tr.pad_n + tr.guard_n + tr.noise_n) < ring.start:
                kinds.add("noise after")
            else:
                kinds.add(bool(np.all(ref[1] == 1e-6)))
            for batch in ([e, events[i - 1]], [e, *events[i - 6: i]]):
                idx, seg, sig = tr._prepare(batch, ring)
                if 0 in idx:
                    assert one[0] == [0]
                    assert np.array_equal(one[1][0], seg[idx.index(0)])
                    assert np.array_equal(one[2][0], sig[idx.index(0)])
                else:
                    assert one[0] == [] and ref is None
            if ref is not None:
                assert np.array_equal(one[1][0], ref[0]) and np.array_equal(one[2][0], ref[1])
        assert kinds == {True, False, None, "noise after"}  # cut, cut over a flat stretch, not cut


def test_ring_gather_gives_each_kept_windows_samples():
    """``SignalRing.gather`` (windows picked from a strided view of its buffer) gives, for every
    window wholly kept, the samples ``window`` gives, in the ``(windows, channels, n)`` layout."""
    rng = np.random.default_rng(5)
    ring = SignalRing(3)
    for at in range(0, 5000, 250):
        ring.append(rng.normal(0.0, 1.0, (3, 250)), at)
        ring.forget_before(at - 700)
    starts = np.array([ring.start - 5, ring.start, ring.start + 17, ring.end - 40, ring.end - 39, 4200], dtype=np.int64)
    y, ok = ring.gather(starts, 40)
    assert y.shape == (6, 3, 40) and ok.tolist() == [False, True, True, True, False, True]
    for s, w, good in zip(starts.tolist(), y, ok.tolist()):
        if good:
            assert np.array_equal(w, ring.window(s, s + 40)[0])
