"""The recorder: round trip against independent readers, faults (kill -9, SIGTERM, unplug,
disk full), rotation without losing a sample, recovery of interrupted files."""

import errno
import glob
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import edfio
import numpy as np
import pyedflib
import pytest

from myotwitch.dsp.synth import SynthStream
from myotwitch.host import edf as edf_mod
from myotwitch.host import recorder as recorder_mod
from myotwitch.host.analysis import analyze_file
from myotwitch.host.edf import EdfReader, read_header
from myotwitch.host.errors import FormatError, MyotwitchError
from myotwitch.host.eventlog import read_events
from myotwitch.host.recorder import Recorder, RecorderError
from myotwitch.host.simulator import VirtualDevice
from myotwitch.host.sources import open_source
from myotwitch.host.sources.sim import parse_sim_options

SIM = "sim:rate=1000,channels=2,twitch_rate=30,seed=12,speed=0"


def reference_uv(spec_text, n):
    """What the simulated device sampled, in µV (its own quantisation)."""
    opts = dict(p.split("=") for p in spec_text.split(":", 1)[1].split(","))
    spec, _, _ = parse_sim_options(opts)
    dev = VirtualDevice(spec)
    return dev.to_counts(SynthStream(spec).read(n)) * dev.uv_per_count


def record(tmp_path, spec=SIM, **kw):
    out = tmp_path / "rec"
    rec = Recorder(open_source(spec), str(out), events_path=str(tmp_path / "events.jsonl"),
                   status_interval_s=999, **kw)
    rec.run()
    return rec, out


def test_round_trip_samples_and_annotations(tmp_path):
    rec, out = record(tmp_path, duration_s=30.0)
    [path] = rec.closed_files
    ref = reference_uv(SIM, 30_000)
    ours, fs = EdfReader(path).read_all()
    np.testing.assert_allclose(ours[:, :30_000], ref, atol=1e-3)  # equal to the quantisation step
    f = pyedflib.EdfReader(path)
    try:
        np.testing.assert_allclose(f.readSignal(1)[:30_000], ref[1], atol=1e-3)
        onsets, durations, texts = f.readAnnotations()
    finally:
        f.close()
    e = edfio.read_edf(path)
    np.testing.assert_allclose(e.signals[0].data[:30_000], ref[0], atol=1e-3)
    # every twitch in the event log is an annotation at the same time
    events = [r for r in read_events(tmp_path / "events.jsonl") if r["type"] == "event"]
    twitches = [r for r in events if r["kind"] == "twitch"]
    assert len(twitches) > 10
    annotated = sorted(o for o, t in zip(onsets, texts) if t.startswith("twitch"))
    assert np.allclose(annotated, sorted(r["onset_s"] for r in twitches), atol=1e-3)
    summary = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    assert summary["stats"]["counts"]["twitch"] == len(twitches)
    assert summary["stats"]["duration_s"] == pytest.approx(30.0)
    assert not os.path.exists(path + ".recording")


def test_unplug_replug_is_a_gap_in_the_file(tmp_path):
    spec = "sim:rate=1000,twitch_rate=30,seed=3,speed=0,disconnect_every=6,disconnect_for=1.5"
    rec, out = record(tmp_path, spec=spec, duration_s=14.0)
    [path] = rec.closed_files
    r = EdfReader(path)
    gaps = [g for g in r.gaps if g[1] < 5]
    assert len([g for g in r.gaps]) >= 2
    y, fs = r.read_all()
    for onset, dur in gaps:
        assert np.isnan(y[:, int(onset * fs): int((onset + dur) * fs)]).all()
    texts = [a.text for a in r.edf.annotations]
    assert any(t.startswith("link disconnected") for t in texts)
    # each outage is annotated where it starts and where the data resumes (the "connected" note
    # had fallen at the gap's start, where the first samples after it were not yet written)
    gone = [a.onset_s for a in r.edf.annotations if a.text.startswith("link disconnected")]
    back = [a.onset_s for a in r.edf.annotations if a.text.startswith("link connected")]
    assert back and len(back) == len(gone)
    for g0, b0 in zip(gone, back):
        gap = next((o, d) for o, d in r.gaps if abs(o - g0) < 0.05)
        assert b0 == pytest.approx(gap[0] + gap[1], abs=0.01)
    summary = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    assert summary["quality"]["reconnects"] >= 1
    for ev in (x for x in read_events(tmp_path / "events.jsonl") if x["type"] == "event"):
        for onset, dur in gaps:
            assert ev["offset_s"] <= onset + 1e-9 or ev["onset_s"] >= onset + dur - 1e-9


def test_rotation_splits_without_losing_a_sample(tmp_path):
    rec, out = record(tmp_path, duration_s=25.0, rotate="10s")
    files = sorted(rec.closed_files)
    assert len(files) == 3
    data = np.concatenate([EdfReader(p).read_all()[0] for p in files], axis=1)
    # each file ends with its own padding (NaN); drop it and the pieces must join exactly
    pieces = []
    for p in files:
        y, _ = EdfReader(p).read_all()
        pieces.append(y[:, : int(json.loads(pathlib.Path(p[:-4] + ".summary.json").read_text())["stats"]["duration_s"] * 1000 + 0.5)])
    joined = np.concatenate(pieces, axis=1)
    np.testing.assert_allclose(joined, reference_uv(SIM, 25_000), atol=1e-3)
    assert data.shape[1] >= 25_000


def test_disk_full_stops_with_a_clear_error_and_a_valid_file(tmp_path, monkeypatch, caplog):
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd, data):
        if len(data) > 2000:  # data records (4.5 kB), not the header (1 kB)
            calls["n"] += 1
        if calls["n"] > 5:  # full: then the header's update at the close fails too
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    def no_room(path, summary):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(edf_mod.os, "write", failing_write)
    monkeypatch.setattr(recorder_mod, "write_summary", no_room)
    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path="auto", status_interval_s=999, duration_s=30.0)
    with caplog.at_level("ERROR"), pytest.raises(RecorderError, match="disk full"):
        rec.run()
    # the error says "disk full" once (the close's failure said it again); the close names the
    # file it could not close and why its marker stays
    said = [r.getMessage() for r in caplog.records]
    [path] = glob.glob(str(tmp_path / "rec" / "*.edf"))
    assert not [m for m in said if "disk full" in m] and len(said) == 1 and "writes its summary" in said[0], said
    assert said[0].startswith(path + " could not be closed"), said
    assert glob.glob(str(tmp_path / "rec" / "*.events.jsonl"))  # the log of what was recorded stays
    monkeypatch.setattr(edf_mod.os, "write", real_write)
    f = pyedflib.EdfReader(path)
    try:
        assert f.datarecords_in_file == 5  # everything that reached the disk is readable
    finally:
        f.close()


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MyotwitchError, match="cannot create output directory"):
        Recorder(open_source(SIM), str(blocker / "sub")).run()


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "myotwitch.host.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _records_on_disk(path):
    try:
        return read_header(path).n_records
    except FormatError:  # created but its header not yet written: the recorder is starting
        return 0


def _wait_for_file(out, minimum_records, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = glob.glob(str(out / "*.edf"))
        if files and _records_on_disk(files[0]) >= minimum_records:
            return files[0]
        time.sleep(0.1)
    raise AssertionError("recorder produced no file")


def test_kill_9_loses_at_most_a_second_and_is_repaired_on_restart(tmp_path):
    out = tmp_path / "rec"
    proc = _cli("record", "--source", "sim:rate=2000,channels=2,seed=5", "--out", str(out),
                "--status-interval", "999")
    try:
        path = _wait_for_file(out, 3)
        t_file = json.loads(pathlib.Path(path + ".recording").read_text())["started"]
        time.sleep(2.3)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    import datetime as dt

    recorded = killed_at - dt.datetime.fromisoformat(t_file).timestamp()
    f = pyedflib.EdfReader(path)  # an independent reader opens it as it is
    try:
        on_disk = f.datarecords_in_file
    finally:
        f.close()
    assert recorded - on_disk <= 1.5  # at most the record being filled (1 s) plus scheduling slack
    assert os.path.exists(path + ".recording")
    # the next start finds and repairs it, writes its summary, and never overwrites it
    size_before = os.path.getsize(path)
    rec = Recorder(open_source("sim:seed=6,speed=0"), str(out), duration_s=2.0, status_interval_s=999,
                   events_path=None)
    rec.run()
    assert not os.path.exists(path + ".recording")
    assert os.path.exists(path[:-4] + ".summary.json")
    repaired = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    assert repaired["device"]["source"].startswith("sim:rate=2000") and repaired["device"]["n_channels"] == 2  # (was null)
    assert os.path.getsize(path) == size_before
    assert path not in rec.closed_files and len(rec.closed_files) == 1
    # the repaired recording enters the history as a closed one does (it was left out before:
    # analyze keeps a file with a marker out, and the repair removed the marker)
    from myotwitch.host.index import SessionIndex

    indexed = {os.path.abspath(s["file"]) for s in SessionIndex.default().sessions(include_undated=True)}
    assert indexed == {os.path.abspath(path), os.path.abspath(rec.closed_files[0])}


def test_sigterm_closes_cleanly_without_loss(tmp_path):
    out = tmp_path / "rec"
    events = tmp_path / "ev.jsonl"
    proc = _cli("record", "--source", "sim:rate=1000,seed=5", "--out", str(out), "--events", str(events),
                "--status-interval", "999")
    try:
        path = _wait_for_file(out, 3)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    summary = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    r = EdfReader(path)
    y, fs = r.read_all()
    n_data = int(round(summary["stats"]["duration_s"] * fs))
    expected = np.ones(n_data, dtype=bool)
    for onset, dur in r.gaps:  # a stall under heavy load would be a (legitimate, annotated) gap
        expected[int(round(onset * fs)): int(round((onset + dur) * fs))] = False
    assert np.isfinite(y[:, :n_data][:, expected]).all()  # every received sample is in the file
    assert not np.isfinite(y[:, n_data:]).any()  # and the padding is marked as such
    assert any(e["type"] == "file_closed" for e in read_events(events))


def test_sighup_rotates(tmp_path):
    out = tmp_path / "rec"
    proc = _cli("record", "--source", "sim:rate=1000,seed=5", "--out", str(out), "--events", "none",
                "--status-interval", "999")
    try:
        _wait_for_file(out, 2)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while len(glob.glob(str(out / "*.edf"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert len(glob.glob(str(out / "*.edf"))) == 2
    assert len(glob.glob(str(out / "*.summary.json"))) == 2


def test_low_disk_space_warns_ahead(tmp_path, monkeypatch, caplog):
    import collections
    import shutil

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 50 * 10**6, 50 * 10**6))
    with caplog.at_level("WARNING"):
        record(tmp_path, duration_s=3.0)
    assert "low disk space" in caplog.text and "h of recording left" in caplog.text


def test_summary_sidecars_feed_a_batch(tmp_path, capsys):
    from myotwitch.host.cli import main

    rec, out = record(tmp_path, duration_s=20.0)
    summary = rec.closed_files[0][:-4] + ".summary.json"
    bad = tmp_path / "other.summary.json"
    bad.write_text('{"schema": "something-else"}')
    assert main(["analyze", summary, str(bad), "--no-progress", "--no-index"]) == 1
    captured = capsys.readouterr()
    assert "twitches" in captured.out and "not a myotwitch session summary" in captured.err


@pytest.mark.parametrize("episode_max_s", [3600.0, 3.0])
def test_rotated_summaries_use_file_relative_times(episode_max_s, tmp_path):
    """... and, with continuous twitching cut into parts (``episode_max_s``), a file's parts are
    cut from its own first twitch, as analysing it cuts them, and annotated once: the parts of
    a chain begun in the file before had been annotated as well, overlapping them."""
    from myotwitch.dsp import DetectorConfig

    config = DetectorConfig(episode_max_s=episode_max_s)
    rec, out = record(tmp_path, spec="sim:rate=1000,twitch_rate=40,seed=9,speed=0", duration_s=25.0, rotate="10s",
                      config=config)
    for path in sorted(rec.closed_files):
        s = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
        reader = EdfReader(path)
        annotated = sorted(a.onset_s for a in reader.edf.annotations if a.text.startswith("twitch"))
        assert np.allclose(sorted(e["onset_s"] for e in s["events"] if e["kind"] == "twitch"), annotated, atol=1e-3)
        assert all(0 <= e["onset_s"] <= s["stats"]["duration_s"] for e in s["events"])
        # episodes are the file's own, as analysing the file finds them: one running across a
        # rotation was all the first file's (ending past its end) and missing from the next
        episodes = [a for a in reader.edf.annotations if a.text.startswith("episode")]
        assert len(episodes) == s["stats"]["episodes"] == len(s["episodes"]) > 0
        assert all(0 <= a.onset_s and a.onset_s + a.duration_s <= s["stats"]["duration_s"] + 0.5 for a in episodes)
        assert sum(ep["n_twitches"] for ep in s["episodes"]) == s["stats"]["counts"]["twitch"]
        again = analyze_file(path, config)
        assert [ep["n_twitches"] for ep in again["episodes"]] == [ep["n_twitches"] for ep in s["episodes"]]
        spans = sorted((a.onset_s, a.onset_s + a.duration_s) for a in episodes)
        assert all(b[0] >= a[1] - 1e-3 for a, b in zip(spans, spans[1:])), spans  # no two overlap
        assert s["quality"]["samples"] == round(s["stats"]["duration_s"] * 1000)
        # times counted from the file's own first sample, as its analysis counts them: a later
        # file's had carried float noise (0.742999999999995 for 0.743)
        assert all(e["onset_s"] == e["onset_sample"] / 1000 and e["offset_s"] == e["offset_sample"] / 1000
                   for e in s["events"])
        onsets = {e["onset_s"] for e in s["events"]}
        assert all(ep["start_s"] in onsets for ep in s["episodes"])
        assert all(g["onset_s"] == g["start_sample"] / 1000 for g in s["gaps"])


def test_status_lines_carry_the_floor_and_say_when_nothing_can_count(tmp_path, caplog):
    """A headless recorder's only window is its log: the floor goes in the status line, and a
    floor over max_rest_floor_uv (a working muscle, or poor contact) is said as a warning."""
    from myotwitch.host.paths import data_dir

    needle = data_dir() / "recordings" / "tibialis-anterior-needle-healthy.edf"
    with caplog.at_level("INFO"):
        Recorder(open_source(f"file:{needle}?speed=0"), str(tmp_path / "busy"), duration_s=12.0,
                 status_interval_s=0.001).run()
    assert "floor=" in caplog.text
    assert "noise floor is over 25 µV RMS on tibialis_ant: no twitch counts there" in caplog.text
    assert caplog.text.count("noise floor is over") == 1  # said once, not on every status line
    caplog.clear()
    with caplog.at_level("INFO"):
        Recorder(open_source("sim:rate=1000,seed=3,speed=0"), str(tmp_path / "rest"), duration_s=12.0,
                 status_interval_s=0.001).run()
    assert "floor=" in caplog.text and "no twitch counts" not in caplog.text
    caplog.clear()  # a floor no muscle gives (a board's µV per count without its gain) says what to check
    with caplog.at_level("INFO"):
        Recorder(open_source("sim:rate=1000,seed=3,speed=0,noise=4000"), str(tmp_path / "scale"), duration_s=12.0,
                 status_interval_s=0.001).run()
    assert "more than a muscle gives at the skin: the device's µV per count is wrong" in caplog.text


def test_status_lines_give_no_rate_before_the_detector_has_searched(tmp_path, caplog):
    """The first status lines of a recording come while the detector starts up (0.5 s): they say
    "(-/h)", not a measured "(0/h)"; once it searches, a rate."""
    with caplog.at_level("INFO", logger="myotwitch.host.recorder"):
        Recorder(open_source("sim:rate=1000,seed=3,speed=0"), str(tmp_path / "rec"), duration_s=3.0,
                 status_interval_s=0.0001).run()
    rates = [m.split("twitches=", 1)[1].split(")", 1)[0] for m in (r.getMessage() for r in caplog.records)
             if m.startswith("status") and "twitches=" in m]
    assert rates[0].endswith("(-/h") and not rates[-1].endswith("(-/h"), rates


def test_a_gap_measured_by_the_host_clock_says_so_in_the_file(tmp_path):
    """A device that restarts its counter: the file names the gap and where its length came
    from in the source's own words (an LSL sender's stamps had been called "the host clock")."""
    rec, out = record(tmp_path, spec="sim:rate=1000,twitch_rate=0,seed=3,speed=1,reset_every=3", duration_s=7.0)
    texts = [a.text for p in rec.closed_files for a in EdfReader(p).edf.annotations]
    resets = [t for t in texts if t.startswith("device restarted")]
    assert resets and all("length from the host clock (gap of " in t for t in resets), texts


def test_the_recorder_s_summary_has_the_analysis_s_keys(tmp_path):
    """The sidecar left out `dated` and an empty `quality.warnings`, which `analyze --json` has."""
    rec, out = record(tmp_path, duration_s=5.0)
    [path] = rec.closed_files
    sidecar = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    analysed = analyze_file(path)
    missing = {k for k in analysed if k not in sidecar} | {f"quality.{k}" for k in analysed["quality"]
                                                          if k not in sidecar["quality"]}
    assert missing <= {"advice"}, missing
    assert sidecar["dated"] is True and sidecar["quality"]["warnings"] == []


def test_a_channel_whose_floor_keeps_every_twitch_out_is_named_in_the_summary(tmp_path):
    """A channel over the resting bar (--max-rest-floor) counts nothing; the recorder's log said
    so while recording, but the summary, and `analyze` of the file, said so only when some
    potential had been held out for it: a noisy input with none read "0 twitches" in silence."""
    rec, out = record(tmp_path, "sim:rate=1000,channels=2,twitch_rate=0,noise=40,seed=3,speed=0", duration_s=8.0)
    [path] = rec.closed_files
    sidecar = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    assert sidecar["stats"]["counts"]["contraction"] == 0  # (nothing was held out for it)
    for summary in (sidecar, analyze_file(path)):
        said = [w for w in summary["quality"]["warnings"] if "noise floor was over 25 µV RMS" in w]
        assert len(said) == 1 and "gastrocnemius, soleus" in said[0], summary["quality"]["warnings"]


def test_event_log_lines_name_their_file_and_two_recorders_never_share_a_log(tmp_path):
    # the log counts from the session's start, a rotated file from its own: event lines name
    # their file and where in it they lie; two recorders started in one second had written one
    # log; file_closed named the EDF as its summary
    out = tmp_path / "rec"
    recs = [Recorder(open_source(SIM), str(out), duration_s=25.0, rotate="10s", status_interval_s=999,
                     events_path="auto") for _ in range(2)]
    for rec in recs:
        rec._session_start = recs[0]._session_start  # (the same second)
        rec.run()
    assert len({rec.events_path for rec in recs}) == 2
    lines = read_events(recs[1].events_path)
    twitches = [e for e in lines if e["type"] == "event" and e["kind"] == "twitch"]
    later = [e for e in twitches if e["onset_s"] > 10.5]
    assert later and all(e["file"] != twitches[0]["file"] for e in later)
    for e in twitches:
        path = out / e["file"]
        onsets = [a.onset_s for a in EdfReader(path).edf.annotations if a.text.startswith("twitch")]
        assert min(abs(t - e["file_onset_s"]) for t in onsets) < 1e-3
        assert e["file_onset_s"] == pytest.approx(e["onset_s"] - 10.0 * int(e["onset_s"] // 10), abs=2e-3)
    closed = [e for e in lines if e["type"] == "file_closed"]
    assert len(closed) == 3 and all(e["summary"].endswith(".summary.json") and (out / e["summary"]).exists()
                                    for e in closed)


def test_a_recorder_that_never_got_a_sensor_leaves_no_log(tmp_path, caplog):
    from myotwitch.host.sources.base import LinkError, LinkSource

    class Absent:
        name = "absent"

        def open(self):
            raise LinkError("not there")

        def close(self):
            pass

    out = tmp_path / "rec"
    rec = Recorder(LinkSource("serial:auto", Absent(), wait=True), str(out), status_interval_s=999,
                   events_path="auto")
    rec.begin()
    rec.handle(next(iter(rec.source.read(0.01)), None))
    with caplog.at_level("INFO", logger="myotwitch.host.recorder"):
        rec.finish()
    assert os.listdir(out) == []
    # its status line says there is no data yet, not "rate=0Hz ... floor=-uV"
    [status] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status")]
    assert "no data yet (waiting for the device)" in status and "rate=" not in status


def test_a_start_without_its_sensor_still_repairs_the_folder(tmp_path, caplog):
    # without --wait a missing sensor ends the start (exit 3) before the recorder looked at the
    # folder, so last night's interrupted file stayed "interrupted" until a start that worked
    from myotwitch.host.cli import main

    rec, out = record(tmp_path, duration_s=3.0)
    [path] = rec.closed_files
    os.remove(path[:-4] + ".summary.json")
    pathlib.Path(path + ".recording").write_text(json.dumps({"pid": 2**22 + 1, "host": os.uname().nodename}))
    assert main(["record", "--source", "serial:/dev/no-such-sensor", "--out", str(out)]) == 3
    assert not os.path.exists(path + ".recording") and os.path.exists(path[:-4] + ".summary.json")


@pytest.mark.parametrize("chatter, words", [
    (b"", "not a byte came in"),
    (b"hello from another protocol\r\n" * 20, r"0 whole frames, \d+ damaged \(last: frame longer"),
    ("crc", r"0 whole frames, \d+ damaged \(last: [^)]*(crc|CRC)"),
    # firmware of another protocol version: whole frames with good CRCs, which the hint to try
    # another baud rate would only mislead
    ("v2", r"damaged \(last: protocol version 2, expected 1\); its frames are protocol version 2 and this "
           r"myotwitch reads version 1: update the older of the firmware and myotwitch\)$"),
])
def test_no_device_information_says_what_did_come_in(tmp_path, chatter, words):
    # a maker's board that sent its CRC big-endian got only "wrong device, or wrong baud rate?"
    from myotwitch.host import protocol as P
    from myotwitch.host.errors import SourceError
    from myotwitch.host.sources.base import Link, LinkSource

    if chatter == "crc":
        good = P.encode_info(0, firmware=(0, 1, 0), device_id=1, sample_rate_hz=1000, n_channels=1,
                             sample_format=P.FMT_INT16, uv_per_count=0.5, streaming=False, labels=("a",))
        body = bytearray(P.cobs_decode(good[:-1]))
        body[-2:] = body[-2:][::-1]  # the CRC sent big-endian
        chatter = P.cobs_encode(bytes(body)) + b"\x00"
    elif chatter == "v2":
        good = P.encode_info(0, firmware=(0, 1, 0), device_id=1, sample_rate_hz=1000, n_channels=1,
                             sample_format=P.FMT_INT16, uv_per_count=0.5, streaming=False, labels=("a",))
        body = bytearray(P.cobs_decode(good[:-1]))[:-2]
        body[0] = 2  # (the header's version byte, with a CRC of its own)
        chatter = P.cobs_encode(bytes(body) + P.crc16(bytes(body)).to_bytes(2, "little")) + b"\x00"

    class Board(Link):
        name = "board"

        def open(self):
            pass

        def read(self, timeout):
            time.sleep(0.01)
            return chatter

        def write(self, data):
            pass

        def close(self):
            pass

    rec = Recorder(LinkSource("serial:board", Board(), stall_timeout_s=60), str(tmp_path / "rec"),
                   info_timeout_s=0.3, status_interval_s=999, events_path=None)
    with pytest.raises(SourceError, match=words):
        rec.run()


def test_ctrl_c_pressed_again_while_the_recorder_stops_is_still_a_clean_stop(tmp_path):
    # presses after the first (a user pressing three times) met Python's default handler during
    # the shutdown, and a stop with every file closed ended as killed by SIGINT (exit 130)
    import threading

    proc = _cli("record", "--source", "sim:", "--out", str(tmp_path), "--status-interval", "999")
    try:
        for line in proc.stderr:
            if "recording to" in line:
                break
        time.sleep(1.5)

        def press():
            while proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGINT)
                except ProcessLookupError:
                    break
                time.sleep(0.002)

        threading.Thread(target=press, daemon=True).start()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    [path] = glob.glob(str(tmp_path / "*.edf"))
    assert os.path.exists(path[:-4] + ".summary.json") and not os.path.exists(path + ".recording")


def test_a_file_another_recorder_writes_is_said_once(tmp_path, caplog):
    # the CLI's repair before opening the source and the recorder's own both said it
    from myotwitch.host.cli import main

    out = tmp_path / "rec"
    out.mkdir()
    (out / "other.edf").write_bytes(b"0")
    (out / "other.edf.recording").write_text(json.dumps({"pid": 1, "host": os.uname().nodename}))
    with caplog.at_level("WARNING"):
        assert main(["record", "--source", "sim:speed=0", "--duration", "1s", "--out", str(out)]) == 0
    assert sum("is being recorded" in r.getMessage() for r in caplog.records) == 1


def test_a_recorder_waiting_for_its_sensor_dates_the_file_by_its_first_samples(tmp_path):
    # `record --wait` started by the service at boot, the sensor plugged in at bedtime: the night
    # had been dated at the recorder's start (here 2 s before the data; hours on a bedside board)
    import datetime as dt

    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path=None, status_interval_s=999,
                   duration_s=2.0)
    time.sleep(2.0)  # waiting for the sensor
    before = dt.datetime.now()
    rec.run()
    [path] = rec.closed_files
    start = read_header(path).data_start
    assert before - dt.timedelta(seconds=0.5) <= start <= dt.datetime.now()
    summary = json.loads(pathlib.Path(path[:-4] + ".summary.json").read_text())
    assert abs((dt.datetime.fromisoformat(summary["start"]) - start).total_seconds()) < 1e-3


def test_a_step_of_the_system_clock_dates_the_rest_in_a_new_file(tmp_path, monkeypatch, caplog):
    # a board without a real-time clock boots with a stale time and the network sets it minutes
    # later: the recording goes on, dated by the new clock, in a new file; no sample is lost
    import datetime as dt

    step = 3 * 3600.0
    real_time = time.time
    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path=str(tmp_path / "events.jsonl"),
                   status_interval_s=999, duration_s=20.0)
    handle = rec.handle

    def handle_then_set_the_clock(record):
        handle(record)
        if rec.samples >= 10_000 and time.time is real_time:
            monkeypatch.setattr(time, "time", lambda: real_time() + step)

    rec.handle = handle_then_set_the_clock
    t0 = dt.datetime.now()
    with caplog.at_level("WARNING", logger="myotwitch.host.recorder"):
        rec.run()
    first, second = sorted(rec.closed_files, key=lambda p: read_header(p).data_start)
    a, b = read_header(first), read_header(second)
    assert abs((a.data_start - t0).total_seconds()) < 1.0  # the first keeps the clock it began with
    n_first = json.loads(pathlib.Path(first[:-4] + ".summary.json").read_text())["quality"]["samples"]
    gap = (b.data_start - a.data_start).total_seconds() - n_first / 1000
    assert gap == pytest.approx(step, abs=0.01)  # the second is dated by the new clock
    pieces = [EdfReader(p).read_all()[0][:, :json.loads(pathlib.Path(p[:-4] + ".summary.json").read_text())
                                          ["quality"]["samples"]] for p in (first, second)]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), reference_uv(SIM, 20_000), atol=1e-3)
    said = [r.getMessage() for r in caplog.records if "system clock" in r.getMessage()]
    assert len(said) == 1 and "forward by 3:00:00" in said[0]
    assert any(x.text.startswith("system clock set forward") for x in EdfReader(first).edf.annotations)
    assert [e["step_s"] for e in read_events(tmp_path / "events.jsonl") if e["type"] == "clock"] == \
        [pytest.approx(step, abs=1)]


def test_a_marker_of_an_earlier_boot_is_interrupted_whatever_its_pid_now_is(tmp_path, caplog):
    # after a power cut the board boots the same way and gives its services much the same pids:
    # the process a marker names may be another one now, and the file was left "being recorded"
    # (never repaired, kept out of the history) for as long as that process ran
    boot = pathlib.Path("/proc/sys/kernel/random/boot_id")
    if not boot.exists():
        pytest.skip("no boot id on this system")
    rec, out = record(tmp_path, duration_s=3.0)
    [path] = rec.closed_files
    os.remove(path[:-4] + ".summary.json")
    other = os.getppid()  # a running process that is not this one
    pathlib.Path(path + ".recording").write_text(json.dumps(
        {"pid": other, "host": os.uname().nodename, "boot": "an-earlier-boot"}))
    assert recorder_mod.marker_state(path) == "interrupted"
    assert recorder_mod.recover(str(out)) == [path]
    # the same pid in a marker of this boot is a running recorder's
    pathlib.Path(path + ".recording").write_text(json.dumps(
        {"pid": other, "host": os.uname().nodename, "boot": boot.read_text().strip()}))
    assert recorder_mod.marker_state(path) == "live"


def test_the_marker_names_the_boot(tmp_path):
    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), events_path=None, status_interval_s=999, duration_s=1.5)
    rec.begin()
    while rec.current is None:
        for r in rec.source.read(0.2):
            rec.handle(r)
    marker = json.loads(pathlib.Path(rec.current.path + ".recording").read_text())
    rec.finish()
    assert marker["pid"] == os.getpid()
    boot = pathlib.Path("/proc/sys/kernel/random/boot_id")
    assert marker["boot"] == (boot.read_text().strip() if boot.exists() else None)


def test_a_rotated_file_has_its_last_samples_on_disk_while_it_waits_for_its_last_events(tmp_path):
    # a rotated file stays open ~30 s more for the detector's last events; its last partial
    # second had waited in memory all that time, so a kill -9 then lost it as well as the new
    # file's record being filled
    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path=None, status_interval_s=999)
    rec.begin()
    while rec.samples < 2_500:
        for r in rec.source.read(0.2):
            rec.handle(r)
            if rec.samples >= 2_500:
                break
    boundary = rec.samples
    assert boundary % 1000  # (a partial record at the rotation)
    rec.request_rotate()
    rec.tick()
    [old] = rec.closing
    for r in rec.source.read(0.2):  # the recording goes on in the new file: then "kill -9"
        rec.handle(r)
    assert os.path.exists(old.path + ".recording")
    f = pyedflib.EdfReader(old.path)  # the file as it is on disk
    try:
        x = f.readSignal(0)
        onsets, durations, texts = f.readAnnotations()
    finally:
        f.close()
    assert len(x) >= boundary
    np.testing.assert_allclose(x[:boundary], reference_uv(SIM, boundary)[0], atol=1e-3)
    [pad] = [(o, d) for o, d, t in zip(onsets, durations, texts) if t == "end_padding"]
    assert pad[0] == pytest.approx(boundary / 1000, abs=1e-3) and pad[0] + pad[1] == pytest.approx(len(x) / 1000)
    rec.source.close()
    # closed in the normal way, the file still holds exactly the data, and its late events
    rec2 = Recorder(open_source(SIM), str(tmp_path / "rec2"), events_path=None, status_interval_s=999,
                    duration_s=25.0, rotate="10.5s")
    rec2.run()
    pieces = [EdfReader(p).read_all()[0] for p in sorted(rec2.closed_files)]
    assert [p.shape[1] for p in pieces] == [10_500, 10_500, 4_000]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), reference_uv(SIM, 25_000), atol=1e-3)


def test_a_file_deleted_while_being_recorded_is_said_and_recording_goes_on_in_a_new_one(tmp_path, caplog):
    # the output folder removed mid-night: the recorder went on writing into the deleted file
    # (lost when it closed) until the next rotation, all night without one, and said nothing
    import shutil

    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), events_path="auto", status_interval_s=999)
    rec.begin()

    def feed_to(n):
        while rec.samples < n:
            for r in rec.source.read(0.2):
                rec.handle(r)
            rec.tick()

    feed_to(3_000)
    lost = rec.current.path
    shutil.rmtree(out)
    with caplog.at_level("ERROR", logger="myotwitch.host.recorder"):
        feed_to(4_000)
        boundary = rec.current.first_sample
        feed_to(8_000)
        rec.finish()
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len([t for t in said if "was deleted while being recorded" in t and os.path.basename(lost) in t]) == 1
    assert any("event log" in t and "deleted" in t for t in said)
    [path] = rec.closed_files
    assert os.path.dirname(path) == str(out) and not os.path.exists(lost)
    assert boundary <= 4_000  # (found within a second)
    y, _ = EdfReader(path).read_all()
    np.testing.assert_allclose(y, reference_uv(SIM, 8_000)[:, boundary:], atol=1e-3)
    assert os.path.exists(path[:-4] + ".summary.json") and not os.path.exists(path + ".recording")
    [log_path] = glob.glob(str(out / "*.events.jsonl"))
    kinds = [e["type"] for e in read_events(log_path)]
    assert "file_deleted" in kinds and "file_closed" in kinds
    assert sorted(os.listdir(out)) == sorted([os.path.basename(p) for p in (path, path[:-4] + ".summary.json",
                                                                              log_path)])


def test_status_lines_during_an_outage_say_for_how_long_no_data_came(tmp_path, monkeypatch, caplog):
    # a night unplugged printed the same status line every interval, as if all were well
    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path=None, status_interval_s=60)
    rec.begin()
    while rec.samples < 2_000:
        for r in rec.source.read(0.2):
            rec.handle(r)
    rec.source._lost("unplugged")  # the link goes away
    assert not rec.source.connected
    real = time.monotonic
    with monkeypatch.context() as m, caplog.at_level("INFO", logger="myotwitch.host.recorder"):
        # (only the clock is put back after: monkeypatch.undo() had also undone the test's own
        # MYOTWITCH_HOME, and the recorder's sessions went into the real user's history)
        m.setattr(time, "monotonic", lambda: real() + 3_700)
        rec.tick()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status")]
    assert re.search(r"; no data for 1:01:4\d \(since [-\d]+ [:\d]+\), waiting for the device$", line), line
    rec.finish()


def _recording_then_silent(out, samples=2_500):
    """A recorder on the simulator that has recorded ``samples`` and then gets no more samples
    (the records that are not samples still reach it): the sensor has gone quiet."""
    from myotwitch.host.stream import SampleBlock

    rec = Recorder(open_source(SIM), str(out), events_path=None, status_interval_s=999)
    rec.begin()
    while rec.samples < samples:
        for r in rec.source.read(0.2):
            if rec.samples < samples or not isinstance(r, SampleBlock):
                rec.handle(r)
    return rec


def test_a_rotation_during_a_long_outage_leaves_no_empty_file(tmp_path):
    # SIGHUP, the hour or midnight coming while the sensor is unplugged: the next file was begun
    # at once, and the outage's long gap then ended it with no data in it (a file of 0 s, with a
    # summary and a session in the history)
    from myotwitch.host.stream import GapRecord, SampleBlock

    rec = _recording_then_silent(tmp_path / "rec")
    n = rec.samples
    rec.request_rotate()  # the link is down from here
    rec.tick()
    rec.handle(GapRecord(n, 70_000, 1000.0, reason="link down; device kept counting"))
    rec.handle(SampleBlock(n + 70_000, 1000.0, np.ones((2, 5_000), dtype=np.float32)))
    rec.finish()
    durations = sorted(json.loads(pathlib.Path(p[:-4] + ".summary.json").read_text())["stats"]["duration_s"]
                       for p in rec.closed_files)
    assert durations == [pytest.approx(n / 1000), pytest.approx(5.0)]
    assert len(glob.glob(str(tmp_path / "rec" / "*.edf"))) == 2


def test_a_reload_while_the_recorder_starts_does_not_end_it(tmp_path):
    # `systemctl reload` (SIGHUP) while the start repairs last night's file (a minute on a small
    # board) ended the process, which Restart=on-failure takes for a clean stop
    code = f"""
import os, signal, sys
from myotwitch.host import recorder
real = recorder.recover
def recover(*a, **k):
    os.kill(os.getpid(), signal.SIGHUP)
    return real(*a, **k)
recorder.recover = recover
from myotwitch.host.cli import main
sys.exit(main(["record", "--source", "sim:speed=0", "--duration", "2s", "--out", {str(tmp_path / "rec")!r},
               "--events", "none"]))
"""
    os.makedirs(tmp_path / "rec")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert len(glob.glob(str(tmp_path / "rec" / "*.summary.json"))) == 1


def test_a_reload_while_the_recorder_imports_does_not_end_it(tmp_path):
    # the second the detector's imports take (numpy, scipy) came before any handler: a SIGHUP
    # then ended the process, which Restart=on-failure takes for a clean stop
    code = f"""
import importlib.abc, os, signal, sys
class Hangup(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "myotwitch.dsp":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGHUP)
        return None
sys.meta_path.insert(0, Hangup())
from myotwitch.host.cli import main
sys.exit(main(["record", "--source", "sim:speed=0", "--duration", "2s", "--out", {str(tmp_path / "rec")!r},
               "--events", "none"]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert len(glob.glob(str(tmp_path / "rec" / "*.summary.json"))) == 1


def test_a_disk_full_before_the_first_file_says_no_file_was_begun_and_leaves_no_marker(tmp_path, monkeypatch):
    # a restart into a full disk said "the file holds everything up to the last second" of a
    # file that was never begun, and left an empty marker of it behind at every restart
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder_mod.edf, "EdfWriter", full)
    rec = Recorder(open_source(SIM), str(tmp_path / "rec"), events_path=None, status_interval_s=999, duration_s=5.0)
    with pytest.raises(RecorderError) as info:
        rec.run()
    assert "could not begin" in str(info.value) and "holds everything" not in str(info.value)
    assert os.listdir(tmp_path / "rec") == []


def test_a_port_read_at_the_wrong_rate_is_told_the_rate_an_uno_talks_at(tmp_path, monkeypatch):
    # an Uno clone whose USB id is not in the list is read at 1 Mbaud: its 250000-baud frames
    # arrive as garbage, and the error said only "wrong baud rate?", not which rate to try
    import random
    import re

    from myotwitch.host.errors import SourceError
    from myotwitch.host.sources import serial as serial_mod
    from myotwitch.host.sources.base import LinkSource

    garbage = bytes(random.Random(3).choice([0, 0x80, 0xF8, 0xFE, 0xFF, 0x78, 0x06]) for _ in range(400))
    monkeypatch.setattr(serial_mod.SerialLink, "read", lambda self, timeout: (time.sleep(0.01), garbage)[1])
    monkeypatch.setattr(serial_mod.SerialLink, "write", lambda self, data: None)
    port = tmp_path / "ttyUSB0"
    port.write_text("")
    monkeypatch.setattr(serial_mod.serial, "serial_for_url", lambda *a, **k: None)
    for spec_tail, hint in (("", f"an Arduino Uno or Nano \\(clone\\) talks at 250000, serial:{port}\\?baud=250000"),
                            ("?baud=250000", None)):
        link = serial_mod.SerialLink(str(port), 250000 if spec_tail else None)
        rec = Recorder(LinkSource(f"serial:{port}{spec_tail}", link, stall_timeout_s=60), str(tmp_path / "rec"),
                       info_timeout_s=0.3, status_interval_s=999, events_path=None)
        with pytest.raises(SourceError) as e:
            rec.run()
        assert "wrong device, or wrong baud rate?" in str(e.value)
        assert (re.search(hint, str(e.value)) is not None) if hint else "talks at 250000" not in str(e.value)


@pytest.mark.parametrize("start, rotate, later", [
    ((2027, 3, 28, 1, 59, 50), "20s", (2027, 3, 28, 3, 0, 10)),  # clocks go forward at 02:00
    ((2026, 10, 25, 23, 59, 50), "daily", (2026, 10, 26, 0, 0, 0)),  # a midnight, no change
])
def test_files_are_dated_by_the_local_clock_of_their_own_first_sample(tmp_path, monkeypatch, start, rotate, later):
    """A session's start was kept as a local time and every later file dated by adding seconds
    to it: after a change to daylight saving time the night's later files (and a daily
    rotation's midnight) kept the evening's offset, an hour off the clock on the wall."""
    import datetime as dt
    import types

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        class Clock(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return dt.datetime(*start)

        monkeypatch.setattr(recorder_mod, "dt", types.SimpleNamespace(**{**vars(dt), "datetime": Clock}))
        rec, out = record(tmp_path, spec="sim:rate=1000,seed=2,speed=0", duration_s=30.0, rotate=rotate)
        starts = sorted(read_header(p).data_start for p in rec.closed_files)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert starts[0] == dt.datetime(*start)
    assert starts[1] == dt.datetime(*later)


def _feed(rec, n, stop=lambda: False):
    while rec.samples < n:
        for r in rec.source.read(0.2):
            rec.handle(r)
        rec.tick()
        if stop():
            return


def test_a_rotated_file_deleted_before_it_closes_gets_no_summary_and_no_history_row(tmp_path, caplog):
    # a rotated file waits ~30 s for its last events; deleted meanwhile (a clean-up script), it
    # had been summarised, indexed in the history and listed as recorded, with no word said
    from myotwitch.host.index import SessionIndex

    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), rotate="4s", events_path="auto", status_interval_s=999)
    rec.begin()
    _feed(rec, 4_500)
    [waiting] = [f.path for f in rec.closing]
    os.remove(waiting)
    with caplog.at_level("ERROR", logger="myotwitch.host.recorder"):
        _feed(rec, 45_000)
        rec.finish()
    assert waiting not in rec.closed_files and len(rec.closed_files) >= 10
    assert not os.path.exists(waiting[:-4] + ".summary.json") and not os.path.exists(waiting + ".recording")
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len([t for t in said if os.path.basename(waiting) in t and "deleted" in t]) == 1
    indexed = {os.path.abspath(s["file"]) for s in SessionIndex.default().sessions(include_undated=True)}
    assert os.path.abspath(waiting) not in indexed and os.path.abspath(rec.closed_files[0]) in indexed
    [log_path] = glob.glob(str(out / "*.events.jsonl"))
    assert {"type": "file_deleted", "path": waiting}.items() <= next(
        e for e in read_events(log_path) if e["type"] == "file_deleted").items()


def test_a_folder_removed_while_no_file_is_open_is_made_again_by_the_next_file(tmp_path, caplog):
    # between a rotation (or a long gap) and the next samples no file is open; the folder
    # removed then made the next file's marker fail to open, and the recording stopped
    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), rotate="4s", events_path="auto", status_interval_s=999)
    rec.begin()
    _feed(rec, 10_000, stop=lambda: rec.current is None)
    assert rec.current is None and rec.samples < 10_000
    shutil.rmtree(out)
    with caplog.at_level("ERROR", logger="myotwitch.host.recorder"):
        _feed(rec, 10_000)
        rec.finish()
    assert rec.error is None
    assert rec.closed_files and all(os.path.exists(p) for p in rec.closed_files)
    y, _ = EdfReader(rec.closed_files[-1]).read_all()
    assert y.shape[1] > 1_000


def test_a_short_outage_across_a_rotation_is_counted_in_the_next_file(tmp_path):
    # a rotation while the link is down left the next file to the next samples: the outage's
    # gap and reconnect then lay between two files and neither file's summary counted them (it
    # had been the next file's, begun at the rotation)
    from myotwitch.host.stream import GapRecord, LinkEvent, SampleBlock

    rec = _recording_then_silent(tmp_path / "rec")
    n = rec.samples_in_session()
    rec.handle(LinkEvent("disconnected", "unplugged"))
    rec.request_rotate()
    rec.tick()
    rec.handle(LinkEvent("connected", "scripted"))
    rec.handle(GapRecord(n, 5_000, 1000.0, reason="link down; device kept counting"))
    rec.handle(SampleBlock(n + 5_000, 1000.0, np.ones((2, 5_000), dtype=np.float32)))
    rec.finish()
    first, second = sorted(rec.closed_files)
    q = json.loads(pathlib.Path(second[:-4] + ".summary.json").read_text())["quality"]
    assert (q["gaps"], q["gap_s"], q["reconnects"], q["samples"]) == (1, 5.0, 1, 10_000)
    y, _ = EdfReader(second).read_all()
    assert np.isnan(y[:, :5_000]).all() and (y[:, 5_000:] == 1).all()
    a, b = read_header(first).data_start, read_header(second).data_start
    assert (b - a).total_seconds() == pytest.approx(n / 1000, abs=1e-3)  # (it begins where the first ends)
    # a long one ends no file of its own: the next file says what came before it
    rec = _recording_then_silent(tmp_path / "long")
    n = rec.samples_in_session()
    rec.request_rotate()
    rec.tick()
    rec.handle(GapRecord(n, 70_000, 1000.0, reason="link down; device kept counting"))
    rec.handle(SampleBlock(n + 70_000, 1000.0, np.ones((2, 5_000), dtype=np.float32)))
    rec.finish()
    second = sorted(rec.closed_files)[1]
    assert any(a.text.startswith("after a gap of 70 s") for a in EdfReader(second).edf.annotations)


def test_what_happens_while_no_file_is_open_is_said_at_the_start_of_the_next(tmp_path):
    # after a rotation in an outage the next samples begin the next file: a link lost or a lead
    # off in between had gone into no file, only the event log
    from myotwitch.host.stream import GapRecord, LinkEvent, SampleBlock, StatusRecord

    rec = _recording_then_silent(tmp_path / "rec")
    n = rec.samples_in_session()
    rec.request_rotate()
    rec.tick()
    rec.handle(LinkEvent("disconnected", "unplugged"))
    rec.handle(StatusRecord(n, 3900, 80, lead_off=True, saturated=False, streaming=True, overruns=0))
    for k in range(12):
        rec.handle(LinkEvent("stalled", f"no data for {k} s"))
    rec.handle(GapRecord(n, 70_000, 1000.0, reason="link down; device kept counting"))
    rec.handle(SampleBlock(n + 70_000, 1000.0, np.ones((2, 5_000), dtype=np.float32)))
    rec.finish()
    second = sorted(rec.closed_files)[1]
    notes = [a.text for a in EdfReader(second).edf.annotations if a.onset_s == 0.0]
    assert "before this file: link disconnected: unplugged" in notes
    assert "before this file: status lead_off=1 saturated=0" in notes
    assert sum(t.startswith("before this file: link stalled") for t in notes) == 8  # (ten held in all)
    assert "before this file: 4 more notes (in the event log)" in notes


def test_each_file_names_its_device_for_the_history_and_analyze_reads_it_back(tmp_path):
    # two sensors recorded at once with the same channel names are two recordings to the rules
    # (advice.recordings) only if each session row says which device recorded it: the
    # recorder's own rows, and a file analysed again later (its header says)
    from myotwitch.host.analysis import analyze_file
    from myotwitch.host.index import SessionIndex

    out = tmp_path / "rec"
    rec = Recorder(open_source(SIM), str(out), rotate="4s", events_path=None, status_interval_s=999)
    rec.begin()
    _feed(rec, 9_000)
    rec.finish()
    assert rec.info is not None and len(rec.closed_files) >= 2
    ident = rec.info.device_id
    rows = [s for s in SessionIndex.default().sessions(include_undated=True)
            if os.path.abspath(s["file"]) in {os.path.abspath(p) for p in rec.closed_files}]
    assert len(rows) == len(rec.closed_files) and {r["device"] for r in rows} == {ident}
    again = analyze_file(rec.closed_files[0])
    assert again["device"] == {"device_id": ident, "firmware": rec.info.firmware}


@pytest.mark.parametrize("duration, said", [("0.5s", "0.5 s"), ("2.5s", "2.5 s"), ("12s", "12 s")])
def test_a_closed_file_is_said_with_its_fraction_of_a_second(duration, said, tmp_path, _isolated_home):
    """`record --duration 0.5s` had closed with "(0 s, 0 twitches)"; whole seconds from 10 s on."""
    proc = _cli("record", "--source", "sim:speed=0", "--duration", duration, "--out", str(tmp_path / "r"),
                "--events", "none")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    closed = [line for line in err.splitlines() if line.startswith("myotwitch: closed ")]
    assert len(closed) == 1 and f"({said}, " in closed[0], err
