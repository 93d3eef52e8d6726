import pytest

from myotwitch.dsp import ConfigError, DetectorConfig, Pipeline


def test_default_band_is_capped_below_nyquist():
    assert DetectorConfig().band_for(500) == (20.0, 225.0)
    assert DetectorConfig().band_for(2000) == (20.0, 450.0)


@pytest.mark.parametrize("kw, fs, message", [
    ({"band_high_hz": 600.0}, 1000, r"above Nyquist \(500 Hz\)"),
    ({}, 200, "outside the supported 250-4000 Hz"),
    ({}, 8000, "outside the supported"),
    ({"merge_gap_ms": -1.0}, 1000, "merge_gap_ms must be > 0"),
    ({"twitch_max_ms": 1.0}, 1000, "twitch_min_ms"),
    ({"mains": 55}, 1000, "mains must be"),
    ({"off_threshold": 9.0}, 1000, "off_threshold"),
    ({"settle_s": -0.1}, 1000, "settle_s must be >= 0"),
    ({"train_share_least": 0.0}, 1000, "train_share_least is a share"),
    ({"dense_recent_spread": 0.8}, 1000, "dense_recent_spread is a ratio"),
    ({"dense_recent_s": -1.0}, 1000, "dense_recent_s must be >= 0"),
])
def test_invalid_config_names_the_field(kw, fs, message):
    with pytest.raises(ConfigError, match=message):
        DetectorConfig(**kw).validate(fs)


def test_pipeline_refuses_too_many_channels():
    with pytest.raises(ConfigError, match="channel count 9"):
        Pipeline(1000, 9)


def test_sensitivity_sets_the_threshold_of_the_detector_in_use():
    energy = DetectorConfig().with_sensitivity(4.5)
    assert energy.detector == "energy" and energy.energy_on_threshold == 4.5 and energy.sensitivity == 4.5
    assert energy.on_threshold == DetectorConfig().on_threshold
    envelope = DetectorConfig(detector="envelope").with_sensitivity(2.0)
    assert envelope.on_threshold == 2.0 and envelope.off_threshold == 2.0 and envelope.sensitivity == 2.0
    assert envelope.energy_on_threshold == DetectorConfig().energy_on_threshold
