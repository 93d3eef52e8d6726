"""What a device says about itself is sanitised before it reaches files and terminals (#16 item 10)."""

import numpy as np
import pyedflib
import pytest

from myotwitch.host import protocol as P
from myotwitch.host.edf import EdfReader, EdfWriter
from myotwitch.host.recorder import Recorder
from myotwitch.host.stream import DeviceInfo, SampleBlock, StreamAssembler


class _NoSource:
    spec = "test"
    closed = False

    def close(self):
        self.closed = True


def info_frame(labels, uvpc=0.5, fmt=P.FMT_INT16):
    return P.InfoFrame(0, 1, (0, 1, 0), 9, 1000, len(labels), fmt, uvpc, True, tuple(labels))


def test_labels_are_made_safe():
    a = StreamAssembler("t")
    [info] = a.feed([info_frame(["EDF Annotations", "\x1b[31mred\x07", "", "BDF annotations "])])
    assert isinstance(info, DeviceInfo)
    for label in info.labels:
        assert label and label.strip().lower() not in ("edf annotations", "bdf annotations")
        assert all(32 <= ord(c) < 127 for c in label)
    assert len(set(info.labels)) == 4


def _record(tmp_path, info, blocks):
    rec = Recorder(_NoSource(), str(tmp_path), status_interval_s=999)
    rec.handle(info)
    first = 0
    for uv in blocks:
        rec.handle(SampleBlock(first, info.fs, uv))
        first += uv.shape[1]
    rec.finish(close_source=False)
    [path] = rec.closed_files
    return path


def test_a_channel_called_edf_annotations_stays_readable(tmp_path):
    info = DeviceInfo.from_frame(info_frame(["EDF Annotations", "soleus"]), "t")
    x = np.rint(np.random.default_rng(0).normal(0, 20, (2, 3000)) / 0.5) * 0.5
    path = _record(tmp_path, info, [x.astype(np.float32)])
    r = EdfReader(path)
    assert len(r.channels) == 2
    np.testing.assert_allclose(r.read_all()[0], x, atol=1e-3)


@pytest.mark.parametrize("uvpc, fmt", [(400.0, P.FMT_INT16), (2.0, P.FMT_INT24), (1e5, P.FMT_INT24)])
def test_large_scales_choose_a_unit_that_fits_the_header(tmp_path, uvpc, fmt):
    info = DeviceInfo.from_frame(info_frame(["calf"], uvpc, fmt), "t")
    x = (np.rint(np.random.default_rng(1).normal(0, 2000, (1, 3000))) * uvpc).astype(np.float64)
    path = _record(tmp_path, info, [x.astype(np.float32)])
    ours = EdfReader(path).read_all()[0]
    np.testing.assert_allclose(ours, x, rtol=1e-5, atol=uvpc * 0.51)
    f = pyedflib.EdfReader(path)
    try:
        unit = f.getPhysicalDimension(0)
        k = {"uV": 1.0, "mV": 1e3, "V": 1e6}[unit]
        np.testing.assert_allclose(f.readSignal(0) * k, x[0], rtol=1e-5, atol=uvpc * 0.51)
    finally:
        f.close()


def test_writer_refuses_nothing_the_protocol_allows(tmp_path):
    for uvpc in (1e-6, 0.001, 999_999.0):
        for bits in (16, 24):
            with EdfWriter(tmp_path / f"w{uvpc}_{bits}.edf", fs=1000, labels=["EDF Annotations\x1b"],
                           uv_per_count=uvpc, bits=bits) as w:
                w.write(np.zeros((1, 1000)))
            assert EdfReader(w.path).labels[0] != "EDF Annotations"


@pytest.mark.parametrize("scale, said", [
    (1e-6, "they look like volts or millivolts"),  # a stream in volts labelled µV: a file of zeros
    (1e3, "beyond the file's range"),  # µV labelled mV: a file at the ends of its range
    (1.0, None),
])
def test_a_stream_that_does_not_look_like_emg_in_uv_is_said_at_once(tmp_path, caplog, scale, said):
    """Both wrong units recorded unusable files all night with no word and exit 0; analysing the
    files afterwards was the first to notice. The recorder's summary also said 0 % clipped of a
    file clipped throughout: it now counts clipping where the file clips."""
    import json
    import pathlib

    info = DeviceInfo.from_frame(info_frame(["calf"], 0.5), "t")  # ±16 mV range
    x = np.random.default_rng(2).normal(0, 20, (1, 12000)) * scale
    path = _record(tmp_path, info, [x[:, k:k + 500].astype(np.float32) for k in range(0, 12000, 500)])
    summary = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text(encoding="utf-8"))
    warnings = summary["quality"].get("warnings", [])
    if said is None:
        assert not warnings and "look like" not in caplog.text
        return
    assert said in caplog.text and any(said in w for w in warnings)
    assert caplog.text.count(said) == 1  # once, at the start, not at every block
    if scale > 1:
        assert summary["quality"]["clipped_fraction"][0] > 0.3  # (about 40 % beyond ±16 mV)


@pytest.mark.parametrize("device_id, tag", [("00c0ffee12345678", "_12345678.edf"), ("synthetic@COM3", "_synthetic-COM3.edf"),
                                            ("qa2-Micro", "_qa2-Micro.edf"), ("qa1-Micro", "_qa1-Micro.edf")])
def test_file_names_keep_a_readable_device_tag(tmp_path, device_id, tag):
    """The last 8 characters suit a device's hex id; of an LSL or BrainFlow id they cut words
    (``ynthetic``), and ids that differ only at the start got one name."""
    import dataclasses

    info = dataclasses.replace(DeviceInfo.from_frame(info_frame(["calf"]), "t"), device_id=device_id)
    path = _record(tmp_path, info, [np.zeros((1, 2000), dtype=np.float32)])
    assert path.endswith(tag)


def test_each_rotated_file_s_quality_figures_are_its_own(tmp_path):
    """A rotated file's noise floor, level and clipping were the session's so far: a daemon
    rotating daily for a month wrote the month's 10th percentile into every day's summary."""
    import json
    import pathlib

    info = DeviceInfo.from_frame(info_frame(["calf"], 0.5), "t")  # ±16 mV range
    rng = np.random.default_rng(3)
    rec = Recorder(_NoSource(), str(tmp_path), status_interval_s=999)
    rec.handle(info)
    first = 0
    for part, (sd, n) in enumerate(((5.0, 15_000), (50.0, 15_000))):
        if part:
            rec.request_rotate()
            rec.tick()
        x = rng.normal(0, sd, (1, n))
        if part:
            x[0, ::10] = 20_000.0  # a tenth of the second file beyond the range
        for k in range(0, n, 500):
            rec.handle(SampleBlock(first, info.fs, x[:, k:k + 500].astype(np.float32)))
            first += 500
    rec.finish(close_source=False)
    q = [json.loads(pathlib.Path(p[:-4] + ".summary.json").read_text())["quality"] for p in sorted(rec.closed_files)]
    assert len(q) == 2
    assert q[0]["noise_floor_uv_rms"][0] < 8 and q[1]["noise_floor_uv_rms"][0] > 30
    assert q[0]["raw_rms_uv"][0] < 8 and q[1]["raw_rms_uv"][0] > 1000
    assert q[0]["clipped_fraction"][0] == 0 and q[1]["clipped_fraction"][0] == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("device_id", [("lsl-calf-amplifier-left-" * 5)[:120],
                                       "Wadenmuskel-Gerät ü", "amp fw 2"])
def test_a_long_or_non_ascii_device_id_reads_back_as_the_index_keeps_it(tmp_path, device_id):
    """The header's prefilter field (80 characters of ASCII) had cut a long id and written
    ``?`` for the others, so ``analyze`` read back a device the recorder's index row did not
    name, and a file analysed again joined no recording of its device."""
    import dataclasses
    import json
    import os
    import pathlib

    from myotwitch.host.analysis import analyze_file
    from myotwitch.host.index import SessionIndex, device_of

    assert len(device_id) == 120 or not device_id.isascii() or " fw " in device_id
    info = dataclasses.replace(DeviceInfo.from_frame(info_frame(["calf"]), "t"), device_id=device_id,
                            firmware="lsl Wadenmuskel-Gerät ü@labor-rechner-" + "x" * 40)
    path = _record(tmp_path, info, [np.zeros((1, 3000), dtype=np.float32)])
    [row] = [s for s in SessionIndex.default().sessions(include_undated=True) if s["file"] == os.path.realpath(path)]
    again = analyze_file(path)
    assert again["device"]["device_id"] and device_of(again) == row["device"]  # one device to the history
    sidecar = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text(encoding="utf-8"))
    assert sidecar["device"]["device_id"] == device_id  # (the recorder's own summary keeps the id whole)
    if len(device_id) <= 40:  # an id that fits reads back as it is, firmware and all
        assert again["device"]["device_id"] == device_id
        assert again["device"]["firmware"].startswith("lsl Wadenmuskel-Gerät ü@")
    else:  # its start, and a hash of the whole: another id with the same start is another device
        assert row["device"].startswith(device_id[:40]) and row["device"] != device_id
        other = device_of({"device": {"device_id": device_id[:-1] + "X"}})
        assert other != row["device"]
    # the header stays valid EDF (printable ASCII, 80 characters): edflib reads it, and the field as written
    with pyedflib.EdfReader(path) as f:
        field = f.getPrefilter(0)
        assert f.getSignalLabels() == ["calf"]
    assert field.isascii() and len(field) <= 80 and field.startswith("device ")
    raw = pathlib.Path(path).read_bytes()[:256 * 3]
    assert all(32 <= b < 127 for b in raw)
