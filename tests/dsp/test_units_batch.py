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
