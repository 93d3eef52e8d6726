"""The coincidence merger's path for a twitch on one channel only (``CoincidenceMerger._single``)
must give the very record the general merge gives for a group of one."""

import numpy as np
import pytest

from myotwitch.dsp import kernels
from myotwitch.dsp.coincidence import CoincidenceMerger
from myotwitch.dsp.events import Event
from myotwitch.dsp.ring import SignalRing


@pytest.mark.parametrize("pure", [False, True])
def test_a_lone_twitch_gets_what_a_group_of_one_gets(monkeypatch, pure):
    monkeypatch.setattr(kernels, "enabled", not pure)
    rng = np.random.default_rng(5)
    C = 3
    ring = SignalRing(C)
    # rising: the peak-to-peak of any window moves with either of its ends
    ring.append(np.cumsum(rng.uniform(0.5, 2.0, (C, 3000)), axis=1), 500)  # kept: samples 500 to 3500
    merger = CoincidenceMerger(1000.0, C)
    # inside, clipped at either end of what the ring keeps, and wholly outside it
    for a in (1000, 2200, 501, 3490, 10, 5000):
        for c in range(C):
            e = Event(0.0, 0.02, 20.0, float(rng.uniform(5.0, 50.0)), 0.0, c, "twitch",
                      onset_sample=a, offset_sample=a + 20)
            want, got = merger._merge([e], ring), merger._single(e, ring)
            assert got == want
            assert got.hit_channels == (c,)
            assert np.array_equal(np.array(got.channels_peak_to_peak_uv).view(np.int64),
                                  np.array(want.channels_peak_to_peak_uv).view(np.int64))
