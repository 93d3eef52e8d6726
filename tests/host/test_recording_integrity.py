"""Recording files hold exactly the samples received (#18 item 1, padding item 10) and stay
whole when the disk fills (#16 item 2) or the recorder is killed in its first second (#16 item 3).
Checked with independent readers: pyedflib, edfio and MNE."""

import datetime as dt
import errno
import json
import logging
import os
import socket
import subprocess
import sys
import time

import edfio
import numpy as np
import pyedflib
import pytest

from myotwitch.host import edf as edf_mod
from myotwitch.host import session as session_mod
from myotwitch.host.analysis import analyze_file
from myotwitch.host.edf import EdfReader, EdfWriter, read_header
from myotwitch.host.recorder import MARKER_SUFFIX, Recorder, RecorderError, recover
from myotwitch.host.sources import open_source

SIM = "sim:rate=1000,channels=1,twitch_rate=120,seed=4,speed=0"


def pyedflib_read(path):
    f = pyedflib.EdfReader(str(path))
    try:
        return f.datarecords_in_file, f.readSignal(0), f.readAnnotations()
    finally:
        f.close()


def test_record_20s_holds_exactly_20s_and_nothing_clipped(tmp_path):
    rec = Recorder(open_source(SIM), str(tmp_path), duration_s=20.0, status_interval_s=999)
    rec.run()
    [path] = rec.closed_files
    records, signal, (onsets, _, texts) = pyedflib_read(path)
    assert records == 20 and len(signal) == 20_000  # no extra record at the digital minimum
    assert signal.min() > -4000
    with open(path[:-4] + ".summary.json", encoding="utf-8") as fh:
        summary = json.load(fh)
    # every annotation the recorder made (twitches, the episode open at the end) is in the file
    assert sum(t.startswith("twitch") for t in texts) == summary["stats"]["counts"]["twitch"] > 0
    assert sum(t.startswith("episode") for t in texts) == summary["stats"]["episodes"] > 0
    result = analyze_file(path)
    assert result["stats"]["duration_s"] == pytest.approx(20.0)
    assert max(result["quality"]["clipped_fraction"]) == 0
    assert edfio.read_edf(path).duration == pytest.approx(20.0)
    mne = pytest.importorskip("mne")
    assert mne.io.read_raw_edf(path, verbose="error").n_times == 20_000


def test_partial_last_record_is_padded_with_zero_and_excluded(tmp_path):
    p = tmp_path / "p.edf"
    x = np.full((1, 1500), 100.0)
    with EdfWriter(p, fs=1000, labels=["calf"], uv_per_count=0.125) as w:
        w.write(x)
        for k in range(60):  # more annotations at close than one record's annotation signal holds
            w.annotate(1.4, 0.01, f"twitch ch0 {k}uV 20dB")
    records, signal, (onsets, durations, texts) = pyedflib_read(p)
    assert records >= 3
    np.testing.assert_allclose(signal[:1500], 100.0)
    assert np.all(signal[1500:] == 0.0)  # 0 µV, never a step to -4096
    assert sum(t.startswith("twitch") for t in texts) == 60 and "end_padding" in texts
    r = EdfReader(p)
    assert r.n_samples == 1500
    assert edfio.read_edf(p).num_signals == 1
    mne = pytest.importorskip("mne")
    mne.io.read_raw_edf(p, verbose="error")


def _short_then_full(real_write, good_records):
    calls = {"n": 0}

    def write(fd, data):
        if len(data) > 2000:  # data records, not the header
            calls["n"] += 1
            if calls["n"] == good_records + 1:
                return real_write(fd, bytes(data[:1536]))  # the disk had room for 1,536 more bytes
            if calls["n"] > good_records + 1:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)
    return write


def test_disk_full_mid_record_leaves_whole_records_and_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "rec"
    real_write, real_dump = os.write, json.dump
    monkeypatch.setattr(edf_mod.os, "write", _short_then_full(real_write, 16))

    def full_dump(obj, fh, *a, **k):
        if str(getattr(fh, "name", "")).endswith(".summary.json.tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_dump(obj, fh, *a, **k)
    monkeypatch.setattr(session_mod.json, "dump", full_dump)
    with pytest.raises(RecorderError, match="disk full"):
        Recorder(open_source("sim:rate=1000,channels=2,seed=2,speed=0"), str(out), duration_s=30.0,
                 status_interval_s=999).run()
    [path] = out.glob("*.edf")
    h = read_header(path)
    assert h.n_records == 16 and h.truncated_bytes == 0
    assert os.path.getsize(path) == h.header_bytes + 16 * h.record_bytes
    assert pyedflib_read(path)[0] == 16
    # restarting on the still-full disk: no crash, no temp file, the file stays readable
    recover(str(out))
    assert not list(out.glob("*.tmp"))
    assert pyedflib_read(path)[0] == 16
    # once there is room again, the summary is written and the marker cleared
    monkeypatch.setattr(session_mod.json, "dump", real_dump)
    monkeypatch.setattr(edf_mod.os, "write", real_write)
    assert recover(str(out)) == [str(path)]
    assert not list(out.glob("*" + MARKER_SUFFIX)) and not list(out.glob("*.tmp"))


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_kill_in_the_first_second_is_recovered_once(tmp_path, caplog):
    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    w = EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 29, 1, 2, 3))
    w.write(np.zeros((1, 400)))  # killed before the first record was complete: header only, count -1
    os.close(w._fd)
    (out / (path.name + MARKER_SUFFIX)).write_text(json.dumps({"pid": _dead_pid()}))
    with caplog.at_level(logging.WARNING):
        recover(str(out))
    assert not any("could not recover" in r.message for r in caplog.records)
    assert not list(out.glob("*" + MARKER_SUFFIX))
    if path.exists():  # either removed, or a valid empty recording
        assert read_header(path, allow_truncated=False).n_records == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert recover(str(out)) == []
    assert not caplog.records


@pytest.mark.parametrize("left", ["empty", "zeros", "half header"])
def test_a_crash_before_the_header_was_on_disk_leaves_nothing_behind(tmp_path, caplog, left):
    """Killed (or the power cut) between the new file's creation and its header's fsync: the file
    is empty, zero-filled or shorter than its header. It held no sample, so the next start removes
    it as it does a header-only file; it had been said unrecoverable and left in the folder, an
    error in every ``analyze`` of the folder's files. A file that is no EDF at all stays."""
    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    with EdfWriter(tmp_path / "h.edf", fs=1000, labels=["calf"], uv_per_count=0.125):
        pass
    content = {"empty": b"", "zeros": bytes(4096), "half header": (tmp_path / "h.edf").read_bytes()[:300]}[left]
    path.write_bytes(content)
    (out / (path.name + MARKER_SUFFIX)).write_text(json.dumps({"pid": _dead_pid()}))
    other = out / "myotwitch_20261129-020000_00000001.edf"
    other.write_bytes(b"# notes\n" * 100)
    (out / (other.name + MARKER_SUFFIX)).write_text(json.dumps({"pid": _dead_pid()}))
    with caplog.at_level(logging.WARNING):
        recover(str(out))
    assert not path.exists() and other.exists()
    assert not list(out.glob("*" + MARKER_SUFFIX))
    assert [r.message for r in caplog.records if "could not recover" in r.message] == [
        f"could not recover {other}: {other.name}: not an EDF/BDF file (version field is b'# notes\\n', expected '0')"]


def test_an_interrupted_recording_is_said_to_be_interrupted_and_repaired_without_that_note(tmp_path, caplog):
    """`analyze` of a file whose recorder died said 'still being recorded'; so did the summary
    the next start writes when it repairs the file (the marker is still there then)."""
    from myotwitch.host.analysis import still_recording
    from myotwitch.host.recorder import marker_state
    from myotwitch.host.session import summary_path

    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    with EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 29, 1, 2, 3)) as w:
        w.write(np.random.default_rng(1).normal(0.0, 3.0, (1, 5000)))
    marker = out / (path.name + MARKER_SUFFIX)
    marker.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    assert marker_state(str(path)) == "live"
    marker.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert marker_state(str(path)) == "interrupted"  # (our own number: a previous process's, after a restart)
    for odd in ("[]", "null", "{\"pid\": \"x\"}", "{"):  # a marker that cannot say: the file is new, so live
        marker.write_text(odd)
        assert marker_state(str(path)) == "live"
    marker.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    assert marker_state(str(path)) == "interrupted" and still_recording(str(path))  # (kept out of the history)
    warnings = analyze_file(str(path))["quality"]["warnings"]
    assert "was interrupted" in warnings[0] and "still being recorded" not in warnings[0]
    assert recover(str(out)) == [str(path)]
    with open(summary_path(path), encoding="utf-8") as fh:
        assert not any("recording" in w for w in json.load(fh)["quality"]["warnings"])
    assert marker_state(str(path)) is None


def test_a_recording_made_on_another_computer_is_left_alone(tmp_path, caplog):
    """A folder shared with the bedside recorder: its marker's pid means nothing here, and the
    next local start repaired (truncated) a file another computer was still writing."""
    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    with EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 29, 1, 2, 3)) as w:
        w.write(np.zeros((1, 3000)))
    marker = out / (path.name + MARKER_SUFFIX)
    marker.write_text(json.dumps({"pid": _dead_pid(), "host": "bedside-pi-" + socket.gethostname()}))
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        assert recover(str(out)) == []
    assert marker.exists() and path.read_bytes() == before
    assert any("is being recorded" in r.message and "another computer" in r.message for r in caplog.records)
    from myotwitch.host.recorder import STALE_S, marker_state

    assert marker_state(str(path)) == "live"
    # ... until the file has not changed for a while: its recorder is gone (or the computer's
    # name changed since the crash), and the next start repairs it
    old = path.stat().st_mtime - STALE_S - 5
    os.utime(path, (old, old))
    assert marker_state(str(path)) == "interrupted"
    assert recover(str(out)) == [str(path)] and not marker.exists()


@pytest.mark.parametrize("marker, replay", [
    ({"replay": False, "source": "sim:"}, False),
    ({"replay": True, "source": "file:/data/night.edf"}, True),
    ({"source": "file:/data/night.edf"}, True),  # (a marker of the version before "replay")
    ({"source": "serial:auto"}, False),
    (None, True),  # a marker torn by the crash: the header's "fw replay" tells
])
def test_a_repaired_recording_enters_the_history_unless_it_replays_a_file(marker, replay, tmp_path):
    """A recording repaired after a crash got its summary but never reached the history (analyze
    leaves a file with a marker out, and the repair removed the marker); a replay's recording is
    a copy of a session, kept out as at a normal close."""
    from myotwitch.host.index import SessionIndex

    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    w = EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 29, 1, 2, 3),
                  prefilter="device night.edf fw replay" if replay else "device 0000beef fw 1.2")
    w.write(np.random.default_rng(1).normal(0, 3, (1, 5500)))
    os.close(w._fd)  # killed: the header still says the record count is unknown
    (out / (path.name + MARKER_SUFFIX)).write_text(
        json.dumps({"pid": _dead_pid(), **marker}) if marker else '{"pid": 12')
    if marker is None:  # (a marker that cannot say whose it is waits until the file is old)
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert recover(str(out)) == [str(path)]
    indexed = [os.path.abspath(s["file"]) for s in SessionIndex.default().sessions(include_undated=True)]
    assert indexed == ([] if replay else [os.path.abspath(path)])


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names an fd's file through /proc")
def test_a_new_files_marker_and_name_are_on_disk_before_its_data(tmp_path, monkeypatch):
    """A power cut must not leave a recording whose marker is empty (the next start leaves it
    alone as one being written) or whose name never reached the disk. The marker was written
    without fsync and the folder never synced: what reached the disk was up to the file system."""
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), duration_s=2.0, status_interval_s=999, events_path=None)
    rec.run()
    [path] = rec.closed_files
    first_data = synced.index(os.path.realpath(path))
    assert os.path.realpath(path + MARKER_SUFFIX) in synced[:first_data]
    assert os.path.realpath(out) in synced[first_data:synced.index(os.path.realpath(path), first_data + 1)]


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/stat"), reason="process start times from /proc")
def test_a_crashed_recorders_number_given_to_another_process_does_not_keep_its_file_live(tmp_path):
    """The marker names the recorder's process; a crashed recorder's number given to another
    process before the next start (a small pid_max, as a 32-bit Raspberry Pi's 32768) had kept the
    file 'being recorded': never repaired, left out of analyze and the history while that process
    ran. The marker also names when its process started, which tells the two apart."""
    from myotwitch.host.recorder import boot_id, marker_state, process_start

    out = tmp_path / "rec"
    out.mkdir()
    path = out / "myotwitch_20261129-010203_00000001.edf"
    w = EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 29, 1, 2, 3))
    w.write(np.random.default_rng(1).normal(0, 3, (1, 2500)))
    os.close(w._fd)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        began = process_start(other.pid)
        assert began is not None
        marker = {"pid": other.pid, "host": socket.gethostname(), "boot": boot_id()}
        (out / (path.name + MARKER_SUFFIX)).write_text(json.dumps({**marker, "pid_start": began}))
        assert marker_state(str(path)) == "live"  # (that process is the one that wrote it)
        (out / (path.name + MARKER_SUFFIX)).write_text(json.dumps({**marker, "pid_start": began - 1}))
        assert marker_state(str(path)) == "interrupted"
        assert recover(str(out)) == [str(path)]
        assert read_header(path, allow_truncated=False).n_records == 2
    finally:
        other.kill()
        other.wait()


class _Killed(BaseException):
    """A kill -9 at this point of the close: nothing after it runs."""


def test_a_kill_as_a_closed_file_enters_the_history_leaves_it_for_the_next_start(tmp_path, monkeypatch):
    """The close writes the summary, then adds the session to the history: a crash between them
    must leave the marker, so the next start indexes the file. The marker had been removed before
    the history was written, and such a recording never reached the history."""
    from myotwitch.host import recorder as recorder_mod
    from myotwitch.host.index import SessionIndex

    def killed(summary):
        raise _Killed

    monkeypatch.setattr(recorder_mod, "_index", killed)
    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), duration_s=3.0, status_interval_s=999, events_path=None)
    with pytest.raises(_Killed):
        rec.run()
    [path] = [str(p) for p in out.glob("*.edf")]
    assert os.path.exists(path + MARKER_SUFFIX) and os.path.exists(path[:-4] + ".summary.json")
    monkeypatch.undo()
    monkeypatch.setattr(recorder_mod, "_state", lambda path, marker: "interrupted")  # (this process wrote it)
    assert recover(str(out)) == [path]
    indexed = [os.path.abspath(s["file"]) for s in SessionIndex.default().sessions(include_undated=True)]
    assert indexed == [os.path.abspath(path)]
    assert read_header(path, allow_truncated=False).n_records == 3


def test_a_start_between_seconds_is_kept_to_the_tenth_of_a_millisecond(tmp_path):
    """The header holds whole seconds and the writer cut the rest, so every reader placed the
    data up to 1 s early. EDF+ puts the fraction in the first record's time-keeping TAL and
    counts every onset from the header's start; edflib, edfio and MNE read it so."""
    p = tmp_path / "s.edf"
    start = dt.datetime(2026, 12, 7, 2, 32, 14, 520000)
    x = np.zeros((1, 5500))
    x[0, 2000:2010] = 100.0
    with EdfWriter(p, fs=1000, labels=["calf"], uv_per_count=0.125, start=start) as w:
        w.write(x[:, :3000])
        w.gap(500)
        w.write(x[:, 3500:])
        w.annotate(2.0, 0.01, "twitch ch0 100uV 20dB")
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.starttime_subsecond == 5_200_000  # (edflib's unit: 100 ns)
        onsets, _, texts = f.readAnnotations()
        assert onsets[list(texts).index("twitch ch0 100uV 20dB")] == pytest.approx(2.0)
        assert int(np.argmax(f.readSignal(0))) == 2000
    finally:
        f.close()
    e = edfio.read_edf(p)
    assert dt.datetime.combine(e.startdate, e.starttime) == start
    assert [a.onset for a in e.annotations if a.text.startswith("twitch")] == [pytest.approx(2.0)]
    mne = pytest.importorskip("mne")
    raw = mne.io.read_raw_edf(p, verbose="error")
    assert raw.annotations.onset[list(raw.annotations.description).index("twitch ch0 100uV 20dB")] == pytest.approx(2.0)
    h = read_header(p)
    assert h.start == start.replace(microsecond=0) and h.data_start == start and h.duration_s == pytest.approx(6.0)
    r = EdfReader(p)
    assert r.gaps == [(3.0, 0.5)] and r.n_samples == 5500
    y, _ = r.read_all()
    assert np.isnan(y[0, 3000:3500]).all() and not np.isnan(y[0, :3000]).any() and int(np.nanargmax(y[0])) == 2000
    assert analyze_file(p)["start"].startswith("2026-12-07T02:32:14.52")


def test_a_start_a_hair_before_the_next_second_stays_in_its_second(tmp_path):
    """Rounded to 0.1 ms, 0.99996 s became a time stamp of "+1", which pyedflib refuses."""
    p = tmp_path / "h.edf"
    start = dt.datetime(2024, 5, 1, 10, 0, 0, 999960)
    with EdfWriter(p, fs=1000, labels=["calf"], uv_per_count=0.125, start=start) as w:
        w.write(np.zeros((1, 2000)))
    f = pyedflib.EdfReader(str(p))
    try:
        assert f.starttime_subsecond == 9_999_000 and f.datarecords_in_file == 2
    finally:
        f.close()
    assert read_header(p).data_start == start.replace(microsecond=999900)
