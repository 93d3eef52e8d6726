import numpy as np

from myotwitch.dsp.synth import SynthSpec, SynthStream, muap, synthesize


def test_same_seed_same_signal():
    a, ta = synthesize(SynthSpec(seed=3, duration_s=5))
    b, tb = synthesize(SynthSpec(seed=3, duration_s=5))
    c, _ = synthesize(SynthSpec(seed=4, duration_s=5))
    np.testing.assert_array_equal(a, b)
    assert ta.twitches == tb.twitches
    assert not np.array_equal(a, c)


def test_noise_level_and_shape():
    x, _ = synthesize(SynthSpec(seed=1, duration_s=20, twitch_rate=0, noise_uv=4.0, baseline_uv=0.0))
    assert x.dtype == np.float32 and x.shape == (1, 20000)
    assert 3.6 < x.std() < 4.4


def test_muap_is_unit_peak_to_peak_and_short():
    rng = np.random.default_rng(0)
    w = muap(10.0, 1000.0, rng, doublet=False)
    assert np.ptp(w) == np.float64(1.0) or abs(np.ptp(w) - 1) < 1e-9
    assert len(w) < 30


def test_stream_is_continuous_and_keeps_truth_in_absolute_time():
    s = SynthStream(SynthSpec(seed=2, twitch_rate=30), segment_s=5.0)
    x = np.concatenate([s.read(n) for n in (1, 999, 7000, 12000)], axis=1)
    assert x.shape == (1, 20000)
    assert all(0 <= t.onset_s < 25 for t in s.truth.twitches)
    assert any(t.onset_s > 10 for t in s.truth.twitches)
