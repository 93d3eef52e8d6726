import numpy as np
from scipy import signal

from myotwitch.dsp.filters import StreamingSOS, bandpass_sos


def test_streaming_sos_equals_scipy_on_the_whole_signal():
    fs = 1000.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5000)) + 50.0  # DC offset: steady-state start must not ring
    sos = bandpass_sos(20, 450, fs, 2)
    zi = signal.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None]
    ref, _ = signal.sosfilt(sos, x, axis=-1, zi=zi)
    f = StreamingSOS(sos, 3)
    cuts = np.sort(rng.choice(np.arange(1, 5000), 40, replace=False))
    out = np.concatenate([f.process(part) for part in np.split(x, cuts, axis=1)], axis=1)
    np.testing.assert_array_equal(out, ref)


def test_bandpass_response_matches_design():
    fs = 2000.0
    sos = bandpass_sos(20, 450, fs, 2)
    w, h = signal.sosfreqz(sos, worN=[5, 100, 450, 900], fs=fs)
    mag = 20 * np.log10(np.abs(h))
    assert mag[1] > -0.5  # passband
    assert abs(mag[2] + 3.0) < 0.2  # -3 dB at the edge
    assert mag[0] < -20 and mag[3] < -10
