import numpy as np
import pytest

from myotwitch.dsp.mains import MainsCanceller, _block_length, estimate_mains


def _mains(fs, f0, n, amp=50.0, noise=3.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = noise * rng.standard_normal(n)
    for k, rel in ((1, 1.0), (2, 0.4), (3, 0.2)):
        x += amp * rel * np.sin(2 * np.pi * k * f0 * t + k)
    return x[None, :]


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("f0", [50.0, 60.0])
def test_estimate_finds_the_mains_frequency(fs, f0):
    est = estimate_mains(_mains(fs, f0, int(2 * fs)), fs)
    assert est.frequency_hz == f0
    assert est.harmonics_hz[0] == f0
    assert 2 * f0 in est.harmonics_hz
    assert est.level_uv == pytest.approx(50 / np.sqrt(2), rel=0.15)


def test_no_mains_is_reported_as_none():
    rng = np.random.default_rng(1)
    est = estimate_mains(rng.standard_normal((2, 2000)) * 5, 1000.0)
    assert est.frequency_hz is None


def test_forced_frequency_is_kept():
    rng = np.random.default_rng(2)
    assert estimate_mains(rng.standard_normal((1, 2000)), 1000.0, forced=60.0).frequency_hz == 60.0


def test_block_holds_whole_periods():
    assert _block_length(1000, 50) == (20, 50.0)
    assert _block_length(1000, 60) == (50, 60.0)
    n, f = _block_length(1024, 60)
    assert abs(f - 60) < 0.1 and abs(n * f / 1024 - round(n * f / 1024)) < 1e-9


def test_canceller_removes_mains_and_does_not_ring_after_a_big_twitch():
    fs, f0 = 1000.0, 50.0
    x = _mains(fs, f0, 10000, amp=100.0, noise=0.0)
    twitch = np.zeros(10000)
    twitch[6000:6010] = 3000 * np.sin(np.linspace(0, 2 * np.pi, 10))  # a 6 mV p-p twitch
    c = MainsCanceller(fs, 1, f0, (50.0, 100.0, 150.0))
    out = c.process(x + twitch)
    residual = out - twitch
    assert np.sqrt(np.mean(residual[0, 2000:6000] ** 2)) < 1.0  # > 40 dB down
    # after the twitch the residual stays small: the median ignores it (a notch would ring here)
    assert np.abs(residual[0, 6010:6500]).max() < 2.0


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("df", [-0.05, 0.02, 0.05])
def test_canceller_follows_a_grid_that_is_off_nominal(fs, df):
    """Grids run ±0.05 Hz off 50/60 Hz for minutes at a time; the fifth harmonic is then
    0.25 Hz off. The residual must stay far below the noise of a quiet calf (2-5 µV RMS)."""
    n = int(20 * fs)
    x = _mains(fs, 50.0 + df, n, amp=100.0, noise=0.0)
    t = np.arange(n) / fs
    harmonics = [50.0, 100.0, 150.0]
    if 250.0 < fs / 2 - 5:  # a fifth harmonic too, where it is below Nyquist
        x[0] += 20.0 * np.sin(2 * np.pi * 5 * (50.0 + df) * t)
        harmonics.append(250.0)
    c = MainsCanceller(fs, 1, 50.0, tuple(harmonics))
    out = np.concatenate([c.process(x[:, i:i + 37]) for i in range(0, n, 37)], axis=1)
    rms = np.sqrt(np.mean(out[0, int(3 * fs):] ** 2))
    assert rms < 1.0, f"residual {rms:.2f} µV RMS of 100 µV mains {df:+.2f} Hz off"


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
@pytest.mark.parametrize("tau_s", [0.15, 100.0])  # a pop that decays, and one that stays (a step)
def test_a_pop_in_the_probe_window_does_not_hide_the_mains(fs, tau_s):
    """An electrode pop of 10 mV in the first two seconds must not stop a 20 µV 50 Hz line
    from being found (before: the pop's spectrum buried the line, mains was never removed)."""
    x = _mains(fs, 50.0, int(2 * fs), amp=20.0 * np.sqrt(2), noise=2.4)
    t = np.arange(x.shape[1]) / fs
    k = int(1.14 * fs)
    x[0, k:] += 10000.0 * np.exp(-(t[k:] - t[k]) / tau_s)
    est = estimate_mains(x, fs)
    assert est.frequency_hz == 50.0
    assert est.level_uv == pytest.approx(20.0, rel=0.2)


def test_a_run_of_large_twitches_leaves_no_hum_behind():
    """A run of four twitches (13-58x the noise, 60-75 ms apart) on 140 µV of hum at 2 kHz, from
    the held-out suite's bursty case (seed 126), made once with its hum and once without. The
    twitches' own 60 Hz content filled a good share of the blocks the hum's turn and swell came
    from: 7 µV RMS of hum (peaks of 15 µV, three times the noise) stayed for 300 ms after the
    run and joined its members into one contraction. The blocks they spoil are left out now,
    and the turn is measured over 5 s."""
    from tests.dsp.heldout_cases import heldout_signal
    whole, fs = heldout_signal("bursty_2k", 126)  # (made once per run: test_energy_detector reads it too)
    a, b = int(60 * fs), int(80 * fs)
    x = whole[a:b].astype(float)
    clean = heldout_signal("bursty_2k", 126, mains_uv=(0, 0))[0][a:b].astype(float)
    est = estimate_mains(x[None, : int(2 * fs)], fs)
    c = MainsCanceller(fs, 1, est.frequency_hz, est.harmonics_hz)
    left = c.process(x[None, :])[0] - clean  # the hum not removed
    quiet = left[int(8 * fs): int(13.8 * fs)]
    after = left[int(14.1 * fs): int(14.4 * fs)]  # (the run: 73.86-74.09 s)

    def rms(v):
        return float(np.sqrt(np.mean(v ** 2)))
    assert rms(quiet) < 2.0
    assert rms(after) < 1.6 * rms(quiet), f"{rms(after):.1f} µV RMS of hum after the run against {rms(quiet):.1f} before"


@pytest.mark.parametrize("fs", [500.0, 1000.0, 2000.0])
def test_the_hum_is_removed_from_the_first_second_after_a_gap(fs):
    """After a gap the canceller starts again from few blocks. Unknown blocks were NaN in their
    real part only, so the imaginary parts' median counted them as 0 and the first second's hum
    came out at a wrong phase."""
    n = int(8 * fs)
    x = _mains(fs, 50.0, n, amp=100.0, noise=0.0)
    c = MainsCanceller(fs, 1, 50.0, (50.0, 100.0, 150.0))
    c.process(x[:, : int(4 * fs)])
    skip = int(0.5 * fs)
    c.restart(skip)
    rest = x[:, int(4 * fs) + skip:]
    out = np.concatenate([c.process(rest[:, i: i + 37]) for i in range(0, rest.shape[1], 37)], axis=1)
    first = out[0, int(0.3 * fs): int(1.0 * fs)]
    assert np.sqrt(np.mean(first ** 2)) < 2.0, f"{np.sqrt(np.mean(first ** 2)):.1f} µV of 100 µV hum left"


@pytest.mark.parametrize("fs", [500.0, 2000.0])
def test_the_canceller_gives_the_same_output_in_any_chunking(fs):
    """Offline the canceller works out every update point of a long chunk at once; live, 50 ms
    at a time, it keeps each update point's and each turn point's figures for the blocks that
    meet them again. Both must give the same bits: an off-nominal, swelling hum with large
    twitches (blocks left out), processed whole, in 37-sample chunks and in 1-80-sample chunks,
    with a gap between two halves."""
    n = int(14 * fs)
    rng = np.random.default_rng(3)
    x = _mains(fs, 50.03, n, amp=80.0, noise=3.0) * (1 + 0.3 * np.sin(np.arange(n) / fs / 2))
    for at in rng.integers(int(fs), n - int(fs), 12):  # 400 µV biphasic twitches, 10 ms long
        k = np.arange(int(0.01 * fs))
        x[0, at: at + k.size] += 400 * np.sin(2 * np.pi * k / k.size)

    whole = cancel_in_chunks(x, fs, lambda: n)
    assert np.array_equal(whole, cancel_in_chunks(x, fs, lambda: 37))
    assert np.array_equal(whole, cancel_in_chunks(x, fs, lambda: int(rng.integers(1, 81))))


def cancel_in_chunks(x: np.ndarray, fs: float, sizes) -> np.ndarray:
    """``x`` through a 50 Hz canceller (four harmonics) in chunks of ``sizes()`` samples, with
    a 333-sample gap halfway (the history starts again, the phase stays absolute)."""
    n = x.shape[1]
    c = MainsCanceller(fs, x.shape[0], 50.0, (50.0, 100.0, 150.0, 200.0))
    out = []
    for lo, hi in ((0, n // 2), (n // 2 + 333, n)):
        if lo:
            c.restart(333)
        i = lo
        while i < hi:
            m = min(sizes(), hi - i)
            out.append(c.process(x[:, i:i + m]))
            i += m
    return np.concatenate(out, axis=1)


def _hum(fs, f0, n, amp=90.0, seed=4):
    """An off-nominal grid's hum (0.03 Hz high: its blocks turn) with four harmonics."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    return sum(amp * rel * np.sqrt(2) * np.sin(2 * np.pi * k * (f0 + 0.03) * t + rng.uniform(0, 2 * np.pi))
               for k, rel in ((1, 1.0), (2, 0.35), (3, 0.2), (4, 0.1)))


@pytest.mark.parametrize("fs, f0", [(500.0, 60.0), (1000.0, 50.0), (2000.0, 60.0)])
@pytest.mark.parametrize("twitch", [False, True])
def test_after_a_long_gap_the_hum_is_learnt_from_the_first_data_and_removed_from_its_first_sample(fs, f0, twitch):
    """After a gap too long to keep the history, the canceller had started again empty: the hum
    stayed whole until its first update point (~0.1 s), then came back to 5-7 µV by 0.5 s as
    the off-nominal grid turned the few blocks' median away from it, and the twitches of the
    next half second read as activity. It now learns the hum from the first ``lead_s`` of data
    (a twitch among them left out) with the turn measured before the gap."""
    n = int(12 * fs)
    hum = _hum(fs, f0, n)
    x = (hum + np.random.default_rng(5).normal(0.0, 3.0, n))[None, :]
    a = int(7 * fs) + 7  # 3 s lost after the first 4 s; the data comes back mid-block
    if twitch:  # a 10 ms, 300 µV biphasic twitch 50 ms into what it learns from
        k = np.arange(int(0.01 * fs))
        x[0, a + int(0.05 * fs): a + int(0.05 * fs) + k.size] += 150 * np.sin(2 * np.pi * k / k.size)
    c = MainsCanceller(fs, 1, f0, tuple(f0 * k for k in range(1, 5)), 1.0, lead_s=0.15)
    c.process(x[:, : int(4 * fs)])
    c.skip(a - int(4 * fs))
    assert c.lead_n == int(0.15 * fs)
    c.learn([(0, x[:, a: a + c.lead_n])])
    assert c.lead_n == 0
    out = np.concatenate([c.process(x[:, i: i + 20]) for i in range(a, n, 20)], axis=1)
    left = (hum[None, a:] - (x[:, a:] - out))[0, : int(fs)]  # the hum not removed, its first second
    worst = max(np.sqrt(np.mean(left[i: i + int(0.05 * fs)] ** 2)) for i in range(0, left.size, int(0.05 * fs)))
    assert worst < 2.5, f"{worst:.1f} µV RMS of hum left in a 50 ms window of the first second"


def test_a_disconnected_lead_does_not_hide_the_mains_of_the_others():
    """The channels' spectra were averaged as they came: a loose lead's broadband noise (here
    200 times the good channel's) buried the good channel's 50 Hz line, mains was "not
    detected", and the hum left in read as a 49 µV floor on a 3.7 µV channel, where no twitch
    was found. Each channel's spectrum now counts at its own scale."""
    from myotwitch.dsp import detect
    from myotwitch.dsp.synth import SynthSpec, synthesize

    fs = 1000.0
    clean, truth = synthesize(SynthSpec(fs=fs, duration_s=60.0, noise_uv=3.7, twitch_rate=30.0, seed=7))
    t = np.arange(clean.shape[1]) / fs
    good = clean[0] + 40.0 * np.sqrt(2) * np.sin(2 * np.pi * 50.0 * t)
    loose = np.random.default_rng(8).normal(0.0, 800.0, t.size)
    x = np.stack([good, loose]).astype(np.float32)
    est = estimate_mains(x[:, :2000], fs)
    assert est.frequency_hz == 50.0
    together, alone = detect(x, fs), detect(x[:1], fs)
    assert together.quality["noise_floor_uv_rms"][0] == pytest.approx(alone.quality["noise_floor_uv_rms"][0], rel=0.05)
    found = [e for e in together.events if e.kind == "twitch" and e.channel == 0]
    assert len(found) == len([e for e in alone.events if e.kind == "twitch"]) > 0.8 * len(truth.twitches)


def test_a_band_far_below_the_mains_finds_no_mains_in_noise():
    """With the detector's band at 2-12 Hz the spectra's scale came from no bins at all (NaN),
    and a NaN score passed for a line: mains "detected" in white noise, a canceller run on it."""
    from myotwitch.dsp import DetectorConfig, detect

    x = np.random.default_rng(1).normal(0, 5, (1, 250 * 30)).astype(np.float32)
    assert detect(x, 250.0, DetectorConfig(band_low_hz=2, band_high_hz=12)).mains.frequency_hz is None
