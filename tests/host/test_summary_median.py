"""The summary's median twitch size is the median (of an even count: the mean of the middle two)."""

import pytest

from myotwitch.dsp import Pipeline
from myotwitch.dsp.events import Event
from myotwitch.host.session import summarize


def _twitch(at_s, ptp):
    n = int(at_s * 1000)
    return Event(onset_s=at_s, offset_s=at_s + 0.01, duration_ms=10.0, peak_to_peak_uv=ptp, snr_db=20.0, channel=0,
                 kind="twitch", reason=None, onset_sample=n, offset_sample=n + 10, unit=None,
                 channels_peak_to_peak_uv=None, hit_channels=None)


@pytest.mark.parametrize("sizes, median", [([124.0, 1247.0], 685.5), ([300.0, 100.0, 200.0], 200.0), ([], None)])
def test_median_twitch_size(sizes, median):
    """It was the upper middle value: 1247 µV for twitches of 124 and 1247."""
    pipe = Pipeline(1000.0, 1)
    events = [_twitch(1.0 + k, s) for k, s in enumerate(sizes)]
    got = summarize(events, [], pipe, file="x.csv", start=None, labels=["calf"])["stats"]["median_twitch_uv"]
    assert got == median
