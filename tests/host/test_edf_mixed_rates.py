"""EDF/BDF files as other recorders write them: signals that differ in rate (EMG at 1 kHz
beside an accelerometer at 50 Hz), chosen with --channels; signals that are no voltage (a
BioSemi 'Status', an accelerometer) left out unless chosen."""

import datetime as dt

import numpy as np
import pytest

from myotwitch.host.analysis import analyze_file
from myotwitch.host.cli import main
from myotwitch.host.errors import FormatError

pyedflib = pytest.importorskip("pyedflib")


@pytest.fixture
def mixed(tmp_path):
    path = tmp_path / "mixed.edf"
    rng = np.random.default_rng(0)

    def header(label, fs, dim="uV", top=5000.0):
        return dict(label=label, dimension=dim, sample_frequency=fs, physical_max=top, physical_min=-top,
                    digital_max=32767, digital_min=-32768, transducer="", prefilter="")

    f = pyedflib.EdfWriter(str(path), 3, file_type=pyedflib.FILETYPE_EDFPLUS)
    f.setSignalHeaders([header("EMG L", 1000), header("EMG R", 1000), header("Accel", 50, "uV", 8.0)])
    f.setStartdatetime(dt.datetime(2026, 12, 1, 22, 0))
    f.writeSamples([rng.normal(0, 5, 10000), rng.normal(0, 5, 10000), np.zeros(500)])
    f.close()
    return path


def test_choosing_the_channels_of_one_rate_reads_the_file(mixed):
    """The refusal said "choose channels of one rate", and --channels was refused all the same
    (the rates were compared before the channels were chosen)."""
    res = analyze_file(mixed, channels=["EMG L", "EMG R"])
    assert res["channels"] == ["EMG L", "EMG R"] and res["fs"] == 1000.0
    assert analyze_file(mixed, channels=["1"])["channels"] == ["EMG R"]


def test_the_refusal_names_the_channels_of_each_rate_and_the_way_out(mixed):
    with pytest.raises(FormatError) as e:
        analyze_file(mixed)
    assert str(e.value) == ("mixed.edf: signals have different sample rates (EMG L, EMG R: 1000 Hz; Accel: 50 Hz); "
                            "choose channels of one rate, e.g. --channels 'EMG L,EMG R'")


def test_the_report_draws_the_channels_analysed(mixed, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r.html"
    assert main(["analyze", str(mixed), "--channels", "EMG L,EMG R", "--no-index", "--report", str(out)]) == 0
    assert "EMG R" in out.read_text()


def test_signals_that_are_no_voltage_are_left_out_and_said(tmp_path):
    """A BioSemi BDF's 'Status' (Boolean) was read as a third EMG channel: 100 % "clipped",
    "saturated", and its steps counted as artefacts."""
    path = tmp_path / "biosemi.bdf"
    rng = np.random.default_rng(1)

    def header(label, dim, top):
        return dict(label=label, dimension=dim, sample_frequency=2048, physical_max=top, physical_min=-top - 1,
                    digital_max=8388607, digital_min=-8388608, transducer="", prefilter="")

    status = np.full(4096, -6815744.0)
    status[::512] += 255
    f = pyedflib.EdfWriter(str(path), 4, file_type=pyedflib.FILETYPE_BDF)
    f.setSignalHeaders([header("EXG1", "uV", 262143), header("EXG2", "uV", 262143),
                        header("Status", "Boolean", 8388607), header("Accel", "g", 8)])
    f.setStartdatetime(dt.datetime(2026, 12, 1, 22, 0))
    f.writeSamples([rng.normal(0, 5, 4096), rng.normal(0, 5, 4096), status, np.zeros(4096)])
    f.close()
    res = analyze_file(path)
    assert res["channels"] == ["EXG1", "EXG2"]
    assert res["quality"]["clipped_fraction"] == [0.0, 0.0]
    assert ("biosemi.bdf: left out 'Status', 'Accel' (unit 'Boolean', 'g', not a voltage: no EMG); --channels "
            "chooses them") in res["quality"]["warnings"]
    chosen = analyze_file(path, channels=["EXG1", "Status"])
    assert chosen["channels"] == ["EXG1", "Status"]
    # the report draws what was analysed: reopened without the choice, its "Status" panel had
    # drawn EXG2 (Status is read only when chosen)
    from myotwitch.host import report

    _, _, lo, hi, _, _ = report._signal_views(chosen)
    assert np.nanmax(hi[1]) > 50 > 30 > np.nanmax(hi[0]), (np.nanmax(hi[0]), np.nanmax(hi[1]))  # (Status: steps, EXG: 5 µV)


def test_a_micro_sign_written_in_utf_8_is_still_a_voltage(tmp_path):
    """'µV' written in UTF-8 (as some writers do, in a header meant for ASCII) reads 'ÂµV' byte
    by byte; the samples were always read as µV, but the EMG beside an 'mV' signal was left out
    as "not a voltage" and the other signal analysed alone."""
    path = tmp_path / "utf8.edf"
    rng = np.random.default_rng(2)

    def header(label, dim):
        return dict(label=label, dimension=dim, sample_frequency=1000, physical_max=5000.0, physical_min=-5000.0,
                    digital_max=32767, digital_min=-32768, transducer="", prefilter="")

    f = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    f.setSignalHeaders([header("EMG", "uV"), header("ECG", "mV")])
    f.setStartdatetime(dt.datetime(2026, 12, 1, 22, 0))
    f.writeSamples([rng.normal(0, 5, 10000), rng.normal(0, 0.005, 10000)])
    f.close()
    data = bytearray(path.read_bytes())
    ns = int(data[252:256])
    at = 256 + ns * (16 + 80)  # the first signal's physical dimension
    assert data[at:at + 8] == b"uV      "
    data[at:at + 8] = "µV".encode().ljust(8)
    path.write_bytes(bytes(data))
    res = analyze_file(path)
    assert res["channels"] == ["EMG", "ECG"]
    assert not any("left out" in w for w in res["quality"]["warnings"])


def test_signals_read_as_microvolts_in_another_unit_are_said_to_be(tmp_path):
    """A file whose only signal is in 'counts' (a raw ADC export) was analysed as µV without a
    word; so was a signal of another unit chosen with --channels."""
    rng = np.random.default_rng(4)

    def write(path, dims):
        f = pyedflib.EdfWriter(str(path), len(dims), file_type=pyedflib.FILETYPE_EDFPLUS)
        f.setSignalHeaders([dict(label=f"S{k}", dimension=d, sample_frequency=1000, physical_max=5000.0,
                                 physical_min=-5000.0, digital_max=32767, digital_min=-32768, transducer="",
                                 prefilter="") for k, d in enumerate(dims)])
        f.setStartdatetime(dt.datetime(2026, 12, 1, 22, 0))
        f.writeSamples([rng.normal(0, 5, 10000) for _ in dims])
        f.close()
        return path

    raw = analyze_file(write(tmp_path / "adc.edf", ["counts"]))
    assert raw["channels"] == ["S0"]
    assert ("adc.edf: 'S0' in 'counts', not a voltage: read as µV, so the sizes and noise floor given in µV are "
            "in that unit") in raw["quality"]["warnings"]
    mixed = write(tmp_path / "mixed.edf", ["uV", "g"])
    assert not any("read as µV" in w for w in analyze_file(mixed)["quality"]["warnings"])  # (S1 left out)
    chosen = analyze_file(mixed, channels=["S0", "S1"])
    assert any(w.startswith("mixed.edf: 'S1' in 'g', not a voltage: read as µV") for w in chosen["quality"]["warnings"])
    assert not any(w.startswith("mixed.edf: 'S0'") for w in chosen["quality"]["warnings"])
    plain = analyze_file(write(tmp_path / "uv.edf", ["uV", "mV"]))
    assert not any("not a voltage" in w for w in plain["quality"]["warnings"])
