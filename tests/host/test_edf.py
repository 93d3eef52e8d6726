"""Our EDF+/BDF+ writer checked by independent readers (pyedflib, edfio), and our reader."""

import datetime as dt
import os

import edfio
import numpy as np
import pyedflib
import pytest

from myotwitch.host import edf as edf_module
from myotwitch.host.edf import EdfReader, EdfWriter, Subject, read_header, repair
from myotwitch.host.errors import FormatError


def write(path, x, fs=1000, uvpc=0.125, bits=16, gaps=(), annotations=()):
    w = EdfWriter(path, fs=fs, labels=[f"ch{i}" for i in range(x.shape[0])], uv_per_count=uvpc, bits=bits,
                  start=dt.datetime(2026, 11, 28, 23, 5, 7),
                  subject=Subject(code="P01", sex="F", birthdate=dt.date(1980, 2, 3), name="Test Person"))
    pos = 0
    for at, n in gaps:
        w.write(x[:, pos:at])
        w.gap(n)
        pos = at
    w.write(x[:, pos:])
    for a in annotations:
        w.annotate(*a)
    w.close()
    return w


def quantised(rng, shape, uvpc, bits=16):
    lim = (1 << (bits - 1)) - 2
    return (np.clip(np.rint(rng.normal(0, 300, shape) / uvpc), -lim, lim) * uvpc).astype(np.float64)


def test_pyedflib_reads_samples_annotations_and_header(tmp_path):
    rng = np.random.default_rng(0)
    x = quantised(rng, (2, 4500), 0.125)
    p = tmp_path / "a.edf"
    write(p, x, annotations=[(1.25, 0.012, "twitch ch0 120uV"), (3.5, None, "link disconnected")])
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.getSignalLabels() == ["ch0", "ch1"]
        assert list(f.getSampleFrequencies()) == [1000.0, 1000.0]
        assert f.getPhysicalDimension(0) == "uV"
        assert f.getStartdatetime() == dt.datetime(2026, 11, 28, 23, 5, 7)
        assert f.getPatientCode() == "P01" and f.getSex() in ("F", "Female")
        np.testing.assert_allclose(f.readSignal(0)[:4500], x[0], atol=1e-9)
        onsets, durations, texts = f.readAnnotations()
        assert ("twitch ch0 120uV" in list(texts)) and 1.25 in list(onsets)
        assert "end_padding" in list(texts)  # the last, partial record is padded and says so
    finally:
        f.close()


def test_edfio_reads_it_too(tmp_path):
    rng = np.random.default_rng(1)
    x = quantised(rng, (1, 3000), 0.5)
    p = tmp_path / "b.edf"
    write(p, x, uvpc=0.5, annotations=[(0.5, 0.01, "twitch")])
    e = edfio.read_edf(p)
    np.testing.assert_allclose(e.signals[0].data[:3000], x[0], atol=1e-9)
    assert [a.text for a in e.annotations if a.text == "twitch"] == ["twitch"]


def test_bdf_24_bit_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    uvpc = 0.0238418579
    x = quantised(rng, (2, 2500), uvpc, bits=24)
    p = tmp_path / "c.bdf"
    write(p, x, uvpc=uvpc, bits=24)
    y, fs = EdfReader(p).read_all()
    # the header's 8-character range limits the scale: within half a quantisation step
    np.testing.assert_allclose(y[:, :2500], x, atol=uvpc * 0.51)
    f = pyedflib.EdfReader(str(p))
    try:
        np.testing.assert_allclose(f.readSignal(1)[:2500], x[1], atol=uvpc * 0.51)
    finally:
        f.close()


def test_bdf_24_bit_takes_samples_in_the_order_a_source_gives_them(tmp_path):
    # a device's frames are interleaved (s0c0, s0c1, ...), so the stream hands the writer its
    # transpose (Fortran order): the 24-bit packing failed on it ("the last axis must be
    # contiguous"), and a 2-channel int24 board's recording died in its first second
    rng = np.random.default_rng(5)
    uvpc = 0.048
    x = quantised(rng, (2, 2600), uvpc, bits=24)
    interleaved = np.ascontiguousarray(x.T)
    p = tmp_path / "f.bdf"
    w = EdfWriter(p, fs=1000, labels=["a", "b"], uv_per_count=uvpc, bits=24, start=dt.datetime(2026, 11, 28, 23, 5, 7))
    for i in range(0, 2600, 25):  # (frames of 25 sample sets, as a 2 kHz board sends them)
        w.write(interleaved[i: i + 25].T)
    w.close()
    y, fs = EdfReader(p).read_all()
    np.testing.assert_allclose(y[:, :2600], x, atol=uvpc * 0.51)


def test_gaps_are_annotated_and_read_back_as_nan(tmp_path):
    rng = np.random.default_rng(3)
    x = quantised(rng, (1, 5000), 0.125)
    p = tmp_path / "d.edf"
    write(p, x, gaps=[(2000, 1500)])
    r = EdfReader(p)
    y, fs = r.read_all()
    assert np.isnan(y[0, 2000:3500]).all()
    np.testing.assert_array_equal(y[0, :2000], x[0, :2000].astype(np.float32))
    np.testing.assert_array_equal(y[0, 3500:6500], x[0, 2000:].astype(np.float32))
    assert np.isnan(y[0, 6500:]).all()  # the padded end of the last record
    assert (2.0, 1.5) in r.gaps


def test_torn_file_is_repaired_without_losing_complete_records(tmp_path):
    rng = np.random.default_rng(4)
    x = quantised(rng, (1, 6000), 0.125)
    p = tmp_path / "e.edf"
    w = write(p, x)
    size = os.path.getsize(p)
    with open(p, "r+b") as fh:  # a power cut: header says more, last record torn
        fh.seek(236)
        fh.write(b"99      ")
        fh.truncate(size - 700)
    before, after = repair(p)
    assert before == 99 and after == w.records - 1
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.datarecords_in_file == after
    finally:
        f.close()


@pytest.mark.parametrize("bits", [16, 24])
def test_repair_keeps_a_whole_record_the_count_lags_and_cuts_a_zero_filled_tail(tmp_path, bits):
    """A crash (or power cut) between a record's fsync and the count's update leaves the header
    one record behind: that record is whole on disk and stays (repair had cut it, 1 s lost on
    top of the record being filled). A tail a filesystem left zero-filled holds no time stamp
    and is cut off, also when the count is still -1."""
    rng = np.random.default_rng(5)
    x = quantised(rng, (2, 4000), 0.125, bits)
    p = tmp_path / "f.edf"
    w = EdfWriter(p, fs=1000, labels=["a", "b"], uv_per_count=0.125, bits=bits,
                  start=dt.datetime(2026, 11, 28, 23, 5, 7, 520000))
    w.write(x)  # 4 records, each fsynced before the count
    os.close(w._fd)
    whole = os.path.getsize(p)
    with open(p, "r+b") as fh:
        fh.seek(236)
        fh.write(b"3       ")  # the count's update for record 4 never reached the disk
        fh.seek(whole)
        fh.write(bytes(w.record_bytes + 100))  # and a zero-filled tail after it
    assert repair(p) == (3, 4)
    assert os.path.getsize(p) == whole
    y, _ = EdfReader(p).read_all()
    np.testing.assert_allclose(y, x, atol=0.07)  # (within half a 0.125 µV step: 24-bit scales round)
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.datarecords_in_file == 4
    finally:
        f.close()
    with open(p, "r+b") as fh:  # killed before the first count: -1, whole records then zeros
        fh.seek(236)
        fh.write(b"-1      ")
        fh.seek(whole)
        fh.write(bytes(2 * w.record_bytes))
    assert repair(p) == (-1, 4) and os.path.getsize(p) == whole
    # a record cut inside its annotations and zero-filled (its data whole, a TAL without its end)
    # is cut off: pyedflib refuses a file with such a TAL
    w = EdfWriter(tmp_path / "g.edf", fs=1000, labels=["a", "b"], uv_per_count=0.125, bits=bits)
    w.write(x[:, :3000])
    w.annotate(2.5, 0.1, "twitch ch0 120uV 20dB")
    w.write(x[:, 3000:])
    os.close(w._fd)
    raw = (tmp_path / "g.edf").read_bytes()
    cut = raw.rindex(b"twitch ch0") + 4
    raw = raw[:236] + b"3       " + raw[244:cut]  # (the count's update for it never came)
    (tmp_path / "g.edf").write_bytes(raw + bytes(w.record_bytes))
    assert repair(tmp_path / "g.edf") == (3, 3)
    f = pyedflib.EdfReader(str(tmp_path / "g.edf"))
    try:
        assert f.datarecords_in_file == 3
    finally:
        f.close()


def test_a_kill_while_the_close_writes_its_padding_leaves_the_padding_marked(tmp_path):
    """Annotations left at the close that need more than the last record are written into records
    of 0 µV padding that one ``end_padding`` annotation marks. Killed after the first of them, the
    mark had not been written yet (it went last) and the padding read as a second of 0 µV data,
    also in the summary the next start writes; it now goes first and marks what was written."""
    p = tmp_path / "h.edf"
    w = EdfWriter(p, fs=1000, labels=["a"], uv_per_count=0.125)
    x = quantised(np.random.default_rng(6), (1, 2000), 0.125)
    w.write(x)
    for k in range(40):  # a busy end: about 1 kB of annotations, two records of padding
        w.annotate(1.5 + k * 0.01, 0.02, f"twitch ch0 {100 + k}uV 20dB")
    real, written = w._write_record, []

    def killed_after_one(counts):
        if written:
            raise KeyboardInterrupt  # (the kill: nothing more is written)
        written.append(1)
        real(counts)

    w._write_record = killed_after_one
    with pytest.raises(KeyboardInterrupt):
        w.close()
    assert repair(p) == (3, 3)
    r = EdfReader(p)
    assert r.n_samples == 2000
    y, _ = r.read_all()
    np.testing.assert_array_equal(y, x.astype(np.float32))
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.datarecords_in_file == 3
    finally:
        f.close()


@pytest.mark.parametrize("content, message", [
    (b"", "only 0 bytes"),
    (b"NOTANEDF" + b" " * 300, "not an EDF/BDF file"),
    (b"0       " + b" " * 176 + b"abc     " + b" " * 300, "header field 'header size' is 'abc'; expected a whole number"),
    (b"0       " + b" " * 176 + b"512     " + b" " * 44 + b"abc     " + b" " * 300,
     "header field 'number of data records' is 'abc'; expected a whole number"),
])
def test_corrupt_headers_give_one_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.edf"
    p.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read_header(p)


def test_header_is_valid_while_recording(tmp_path):
    """Readers opening the file mid-recording (or after kill -9) see only complete records."""
    rng = np.random.default_rng(5)
    p = tmp_path / "live.edf"
    w = EdfWriter(p, fs=500, labels=["calf"], uv_per_count=0.25)
    w.write(quantised(rng, (1, 1700), 0.25))
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.datarecords_in_file == 3
    finally:
        f.close()
    w.close()


def test_a_file_read_while_it_is_written_never_counts_negative_records(tmp_path, monkeypatch):
    """A reader may open a recording whose writer has put down only part of the header (with the
    record count -1 of a recording in progress), and the writer goes on between the reader's steps.
    The reader sees an incomplete header or some whole records, never a negative count. (CI once
    caught read_header sizing the file before the writer finished its header.)"""
    rng = np.random.default_rng(6)
    done = tmp_path / "done.edf"
    write(done, quantised(rng, (1, 5000), 0.125))
    content = bytearray(done.read_bytes())
    content[236:244] = b"-1      "
    header_bytes = int(content[184:192])
    record_bytes = read_header(done).record_bytes
    growing = tmp_path / "growing.edf"
    writer = open(growing, "wb", buffering=0)
    piece = 61  # pieces that straddle every header field and record

    def open_as_the_writer_goes_on(path, *args, **kw):
        handle = open(path, *args, **kw)
        writer.write(bytes(content[writer.tell():writer.tell() + piece]))
        return handle

    monkeypatch.setattr(edf_module, "open", open_as_the_writer_goes_on, raising=False)
    try:
        while writer.tell() < len(content):
            before = writer.tell()
            try:
                n = read_header(growing).n_records
            except FormatError:
                assert before < header_bytes
                continue
            assert 0 <= n <= max(0, writer.tell() - header_bytes) // record_bytes
    finally:
        writer.close()
    monkeypatch.undo()
    assert read_header(growing).n_records == (len(content) - header_bytes) // record_bytes


def test_mne_reads_samples_and_annotations(tmp_path):
    mne = pytest.importorskip("mne")
    rng = np.random.default_rng(6)
    x = quantised(rng, (2, 3000), 0.125)
    p = tmp_path / "m.edf"
    write(p, x, gaps=[(1000, 500)], annotations=[(0.25, 0.01, "twitch ch1 88uV")])
    raw = mne.io.read_raw_edf(p, preload=True, verbose="error")
    data = raw.get_data() * 1e6  # MNE works in volts
    np.testing.assert_allclose(data[:, :1000], x[:, :1000], atol=1e-6)
    np.testing.assert_allclose(data[:, 1500:3500], x[:, 1000:], atol=1e-6)
    descriptions = list(raw.annotations.description)
    assert "gap" in descriptions and "twitch ch1 88uV" in descriptions


def test_annotations_after_a_full_last_record_do_not_lengthen_the_data(tmp_path):
    """Data that fills its last record exactly, with annotations still pending at close (events
    the detector reports just after the data): the extra record that carries them is padding."""
    p = tmp_path / "full.edf"
    w = EdfWriter(p, fs=250.0, labels=["a"], uv_per_count=0.125)
    w.write(np.zeros((1, 500), np.float32))
    w.annotate(1.5, 0.02, "twitch")
    w.close()
    r = EdfReader(p)
    assert r.n_samples == 500 and r.duration_s == 2.0
    assert any(a.text == "twitch" for a in read_header(p).annotations)


def test_a_signal_without_a_physical_range_is_refused_naming_it(tmp_path):
    """Physical minimum equal to maximum: every sample reads as one value, and the file was
    analysed as a channel "constant at 4095.88 (saturated or disconnected)" and indexed."""
    src = tmp_path / "ok.edf"
    write(src, np.zeros((1, 2000), dtype=np.int32))
    data = bytearray(src.read_bytes())
    ns = int(data[252:256])
    pmin = 256 + ns * (16 + 80 + 8)
    data[pmin: pmin + 8] = data[pmin + ns * 8: pmin + ns * 8 + 8]
    bad = tmp_path / "bad.edf"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="has physical minimum and maximum both .*; expected a range"):
        read_header(bad)


@pytest.mark.parametrize("ranges", ["per channel", "one for all", "symmetric"])
def test_a_range_that_is_the_data_s_own_extremes_is_no_clipping(tmp_path, ranges):
    """pyedflib (by default) and MNE's export set an EDF's range to the data's own extremes, per
    channel or one for all (others to +-the largest |value|): the largest twitch reached it with
    one sample and was "ADC clipping", each larger twitch beyond the nearer end of an asymmetric
    range too, and with ranges per channel the quietest channel's made every larger twitch of
    the others so."""
    from myotwitch.dsp.synth import SynthSpec, synthesize
    from myotwitch.host.analysis import analyze_file

    x, _ = synthesize(SynthSpec(fs=1000.0, duration_s=60.0, n_channels=2, twitch_rate=20.0, seed=11,
                                twitch_ptp_uv=(40.0, 400.0)))
    x[1] *= 0.2  # a quieter channel
    path = str(tmp_path / "export.edf")
    w = pyedflib.EdfWriter(path, 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    for c in range(2):
        lo, hi = (x[c].min(), x[c].max()) if ranges == "per channel" else (x.min(), x.max())
        if ranges == "symmetric":
            lo, hi = -np.abs(x).max(), np.abs(x).max()
        lo, hi = float(np.floor(float(lo) * 1000)) / 1000, float(np.ceil(float(hi) * 1000)) / 1000  # (8 characters)
        w.setSignalHeader(c, {"label": f"emg{c}", "dimension": "uV", "sample_frequency": 1000,
                              "physical_min": float(lo), "physical_max": float(hi),
                              "digital_min": -32768, "digital_max": 32767})
    w.writeSamples([np.ascontiguousarray(r, dtype=np.float64) for r in x])
    w.close()
    s = analyze_file(path)
    clipped = [e for e in s["events"] if (e["reason"] or "").startswith("ADC clipping")]
    assert not clipped, clipped
    assert s["quality"]["clipped_fraction"] == [pytest.approx(0.0, abs=1e-4)] * 2
    assert s["stats"]["counts"]["twitch"] >= 20
