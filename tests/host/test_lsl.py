"""Lab Streaming Layer in and out, with real pylsl outlets and inlets on this machine."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl", reason="pylsl (myotwitch[lsl]) is not installed")

from myotwitch.dsp import Pipeline  # noqa: E402
from myotwitch.dsp.evaluate import match  # noqa: E402
from myotwitch.dsp.synth import SynthSpec, SynthStream  # noqa: E402
from myotwitch.host.errors import SourceError, UsageError  # noqa: E402
from myotwitch.host.lsl_publish import LslPublisher  # noqa: E402
from myotwitch.host.sources import open_source, parse_spec  # noqa: E402
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, SampleBlock  # noqa: E402

CLI = [sys.executable, "-m", "myotwitch.host.cli"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def outlet(name: str, n_ch: int = 1, fs: float = 1000.0, units=None, labels=None, fmt=None, source_id=None):
    info = pylsl.StreamInfo(name, "EMG", n_ch, fs, fmt if fmt is not None else pylsl.cf_float32,
                            source_id or name + "-sid")
    if labels:
        info.set_channel_labels(labels)
    if units:
        info.set_channel_units(units)
    return pylsl.StreamOutlet(info)


def collect(src, until, timeout_s: float = 10.0) -> list:
    """Read records until ``until(records)`` holds."""
    out: list = []
    deadline = time.monotonic() + timeout_s
    while not until(out):
        assert time.monotonic() < deadline, f"gave up; last records: {out[-4:]}"
        out += src.read(0.05)
    return out


def n_samples(records) -> int:
    return sum(r.n for r in records if isinstance(r, SampleBlock))


def samples_of(records) -> np.ndarray:
    return np.concatenate([r.uv for r in records if isinstance(r, SampleBlock)], axis=1)


def test_specs_parse():
    assert parse_spec("lsl:type=EMG?unit=uV") == ("lsl", "type=EMG", {"unit": "uV"})
    assert parse_spec("lsl:My Amp?channels=L,R&unit=mV") == ("lsl", "My Amp", {"channels": "L,R", "unit": "mV"})
    with pytest.raises(UsageError, match="needs a stream name"):
        parse_spec("lsl:")


def test_round_trip_labels_and_unit_conversion():
    name = unique("rt")
    out = outlet(name, 2, units=["millivolts", "uV"], labels=["left calf", "right calf"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        info = next(x for x in head if isinstance(x, DeviceInfo))
        assert (info.fs, info.n_channels, info.labels) == (1000.0, 2, ("left calf", "right calf"))
        x = np.stack([np.arange(1500) * 1e-3, np.arange(1500) * 1.0], axis=1).astype(np.float32)
        t0 = pylsl.local_clock()
        for i in range(0, 1500, 100):  # stamped like an amplifier does: sample i at t0 + i/fs
            out.push_chunk(x[i:i + 100], t0 + (i + 99) / 1000.0)
        recs = collect(src, lambda r: n_samples(r) >= 1500)
    got = samples_of(recs)
    assert not any(isinstance(r, GapRecord) for r in recs)
    assert [r.first_sample for r in recs if isinstance(r, SampleBlock)][0] == 0
    np.testing.assert_allclose(got[0], np.arange(1500), atol=1e-3)  # mV -> µV
    np.testing.assert_array_equal(got[1], np.arange(1500))


def test_unknown_unit_is_refused_in_one_line_unless_given():
    name = unique("nounit")
    out = outlet(name, 1)  # no units in the metadata
    with pytest.raises(SourceError, match=r"has no unit .*\?unit=uV"):
        open_source(f"lsl:{name}", resolve_timeout_s=3)
    odd = unique("odd")
    out2 = outlet(odd, 1, units=["furlongs"])
    with pytest.raises(SourceError, match="unit 'furlongs'"):
        open_source(f"lsl:{odd}", resolve_timeout_s=3)
    with open_source(f"lsl:{name}?unit=V", resolve_timeout_s=3) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        out.push_chunk(np.full((50, 1), 2e-6, dtype=np.float32))
        recs = collect(src, lambda r: n_samples(r) >= 50)
    np.testing.assert_allclose(samples_of(recs), 2.0, rtol=1e-5)  # V -> µV
    del out2


def test_a_description_listing_fewer_or_more_channels_than_the_stream_keeps_every_channel(capsys):
    """A 3-channel stream whose metadata named one channel was read as 1 channel (the others
    silently dropped), and pylsl's complaint about it went to stdout (where --events - writes)."""
    for listed, n_ch in ((1, 3), (3, 2)):
        name = unique("partial")
        info = pylsl.StreamInfo(name, "EMG", n_ch, 1000.0, pylsl.cf_float32, name + "-sid")
        chans = info.desc().append_child("channels")
        for i in range(listed):
            c = chans.append_child("channel")
            c.append_child_value("label", f"L{i}")
            c.append_child_value("unit", "microvolts")
        out = pylsl.StreamOutlet(info)
        with open_source(f"lsl:{name}?unit=uV", resolve_timeout_s=3) as src:
            head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
            got = next(x for x in head if isinstance(x, DeviceInfo))
            out.push_chunk(np.tile(np.arange(1, n_ch + 1, dtype=np.float32), (100, 1)))
            recs = collect(src, lambda r: n_samples(r) >= 100)
        assert got.n_channels == n_ch
        assert got.labels == tuple(f"L{i}" if i < listed else f"ch{i + 1}" for i in range(n_ch))
        assert samples_of(recs)[:, 0].tolist() == list(range(1, n_ch + 1))
        if listed < n_ch:  # without ?unit=, the unlisted channels have no unit: refused in one line
            with pytest.raises(SourceError, match="channel 'ch2' .* has no unit"):
                open_source(f"lsl:{name}", resolve_timeout_s=3)
        del out
    assert capsys.readouterr().out == ""


def test_irregular_and_slow_streams_are_refused():
    name = unique("irr")
    _keep = outlet(name, 1, fs=pylsl.IRREGULAR_RATE, units=["uV"])
    with pytest.raises(SourceError, match="irregular rate"):
        open_source(f"lsl:{name}", resolve_timeout_s=3)
    slow = unique("slow")
    _keep2 = outlet(slow, 1, fs=200.0, units=["uV"])
    with pytest.raises(SourceError, match="200 Hz.*250-4000 Hz"):
        open_source(f"lsl:{slow}", resolve_timeout_s=3)


def test_resolves_by_type_and_source_id():
    name, sid = unique("bysid"), unique("sid")
    _keep = outlet(name, 1, units=["uV"], source_id=sid)
    with open_source(f"lsl:source_id={sid}", resolve_timeout_s=3) as src:
        assert src.info is not None and src.info.device_id == sid
    with pytest.raises(SourceError, match="no LSL stream with source_id"):
        open_source(f"lsl:source_id={unique('none')}", resolve_timeout_s=0.3)


def test_timestamp_jump_becomes_an_exact_gap():
    name = unique("jump")
    out = outlet(name, 1, units=["uV"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        t0 = pylsl.local_clock()
        out.push_chunk(np.zeros((500, 1), np.float32), t0 + 499 / 1000)
        # 250 samples never arrive: the next chunk starts 0.25 s later than due
        out.push_chunk(np.ones((300, 1), np.float32), t0 + (750 + 299) / 1000)
        recs = collect(src, lambda r: n_samples(r) >= 800)
    gaps = [r for r in recs if isinstance(r, GapRecord)]
    assert [(g.start_sample, g.n_samples, g.exact) for g in gaps] == [(500, 250, True)]
    after = [r for r in recs if isinstance(r, SampleBlock) and r.first_sample >= 750]
    assert after and after[0].first_sample == 750 and np.all(after[0].uv == 1)


def test_a_jump_inside_one_chunk_is_a_gap_too():
    name = unique("inchunk")
    out = outlet(name, 1, units=["uV"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        t0 = pylsl.local_clock()
        stamps = [t0 + i / 1000 for i in range(100)] + [t0 + (100 + 67 + i) / 1000 for i in range(400)]
        out.push_chunk(np.arange(500, dtype=np.float32)[:, None], stamps)  # 67 samples missing after #99
        recs = collect(src, lambda r: n_samples(r) >= 500)
    assert [(g.start_sample, g.n_samples) for g in recs if isinstance(g, GapRecord)] == [(100, 67)]
    blocks = [(b.first_sample, b.uv[0, 0]) for b in recs if isinstance(b, SampleBlock)]
    assert (167, 100.0) in blocks


def test_a_late_push_is_not_a_loss():
    """A sender that stamps chunks when it pushes them: one push 15 ms late, then on time again,
    and a last one 6 ms late with nothing after it. No sample is missing, so no gap."""
    name = unique("late")
    out = outlet(name, 1, units=["uV"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        t0 = pylsl.local_clock()
        recs = []
        for k in range(40):  # 20-sample chunks every 20 ms; stamp = last sample's time (+ lateness)
            lateness = 0.015 if k == 30 else 0.006 if k == 39 else 0.0
            out.push_chunk(np.full((20, 1), k, np.float32), t0 + (20 * k + 19) / 1000 + lateness)
            recs += src.read(0.02)
        recs += collect(src, lambda r: n_samples(r) >= 800 - n_samples(recs))
    assert not [g for g in recs if isinstance(g, GapRecord)]
    np.testing.assert_array_equal(samples_of(recs)[0], np.repeat(np.arange(40), 20))


def test_a_sender_stamping_bursts_gives_no_false_gaps_and_real_losses_still_show():
    """Senders that push_sample() a burst of samples with one arrival stamp (not the sample
    times): the jitter is learned, and only the lost stretch becomes a gap."""
    name = unique("bursty")
    out = outlet(name, 1, units=["uV"])
    rng = np.random.default_rng(1)
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        t0 = pylsl.local_clock()
        sent = 0
        for burst in range(300):  # 10 samples per 10 ms, stamped when the burst arrived
            if 150 <= burst < 160:
                continue  # 100 samples lost
            stamp = t0 + (10 * burst + 9) / 1000 + rng.uniform(0, 0.002)
            for i in range(10):
                out.push_sample([float(10 * burst + i)], stamp)
                sent += 1
        recs = collect(src, lambda r: n_samples(r) >= sent)
    gaps = [g for g in recs if isinstance(g, GapRecord)]
    assert len(gaps) == 1 and abs(gaps[0].start_sample - 1500) <= 0 and abs(gaps[0].n_samples - 100) <= 5, gaps
    x = samples_of(recs)[0]
    np.testing.assert_array_equal(x[:1500], np.arange(1500))


def test_sender_stops_and_comes_back():
    name = unique("back")
    out = outlet(name, 1, units=["uV"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3, stall_timeout_s=1.0) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        out.push_chunk(np.zeros((200, 1), np.float32))  # stamped: the last sample now
        pushed = pylsl.local_clock()
        recs = collect(src, lambda r: n_samples(r) >= 200)
        del out
        gc.collect()  # the sender goes away
        recs = collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "disconnected" for x in r))
        time.sleep(0.7)
        out = outlet(name, 1, units=["uV"])  # a new instance of the same sender
        recs = collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "connected" for x in r))
        out.push_chunk(np.ones((100, 1), np.float32))  # its first sample 99 ms before now
        down_s = pylsl.local_clock() - pushed - 0.1
        recs += collect(src, lambda r: n_samples(r) >= 100)
        assert src.stats()["reconnects"] == 1
    gaps = [r for r in recs if isinstance(r, GapRecord)]
    assert len(gaps) == 1 and not gaps[0].exact and gaps[0].start_sample == 200
    assert abs(gaps[0].duration_s - down_s) < 0.05  # the outage, measured on LSL's clock
    assert np.all(samples_of(recs) == 1)


def test_two_streams_of_one_name_are_said_and_the_same_one_is_read_again(caplog):
    """Two amplifiers publishing one name: which one was read changed from run to run (and on a
    reconnect), and the warning that several matched came only when both answered at once."""
    name = unique("twin")
    first = outlet(name, 1, units=["uV"], source_id=name + "-a")
    time.sleep(0.05)
    _second = outlet(name, 2, units=["uV", "uV"], source_id=name + "-b")
    time.sleep(0.3)
    for _ in range(3):
        caplog.clear()
        with caplog.at_level("WARNING"), open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
            head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        assert next(x for x in head if isinstance(x, DeviceInfo)).device_id == name + "-a"  # the oldest
        assert f"2 LSL streams match; using '{name}'" in caplog.text and f"'{name}-b'" in caplog.text
        assert "lsl:source_id=ID" in caplog.text
    with open_source(f"lsl:{name}", resolve_timeout_s=3, stall_timeout_s=1.0) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        del first
        gc.collect()  # the sender read goes away and comes back; the other one stays
        collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "disconnected" for x in r))
        _back = outlet(name, 1, units=["uV"], source_id=name + "-a")
        recs = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
    assert next(x for x in recs if isinstance(x, DeviceInfo)).device_id == name + "-a"


def test_what_myotwitch_publishes_is_never_read_back_as_its_source():
    """`record --source lsl:type=EMG --lsl`: the query matches myotwitch's own EMG outlet too
    (here: by source id, which the copy shares). After the sender's outage it latched onto that
    copy (which sends nothing while the sender is gone) and never went back to the sender."""
    from myotwitch.host.sources.lsl import list_streams

    name, sid = unique("amp"), unique("sid")
    sender = outlet(name, 1, units=["uV"], source_id=sid)
    with open_source(f"lsl:source_id={sid}", resolve_timeout_s=3, stall_timeout_s=1.0) as src:
        head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        pub = LslPublisher()
        pub.record(next(x for x in head if isinstance(x, DeviceInfo)))  # its outlets: source id sid too
        del sender
        gc.collect()  # the sender goes away; only myotwitch's copy matches the query now
        recs = collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "disconnected" for x in r))
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            recs += src.read(0.1)
        assert not any(isinstance(x, LinkEvent) and x.kind == "connected" for x in recs)
        assert not any(sid in r["spec"] and "myotwitch" in r["description"] + r["spec"] for r in list_streams(1.0))
        assert not any(r.get("source_id") == sid for r in list_streams(1.0))  # (the live app's list)
        _back = outlet(name, 1, units=["uV"], source_id=sid)
        recs = collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "connected" for x in r))
    assert f"'{name}'" in next(x.detail for x in recs if isinstance(x, LinkEvent) and x.kind == "connected")
    pub.close()


def test_a_sender_back_with_an_older_clock_gets_the_outage_from_the_host_clock():
    name = unique("oldclock")
    out = outlet(name, 1, units=["uV"])
    with open_source(f"lsl:{name}", resolve_timeout_s=3, stall_timeout_s=1.0) as src:
        collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
        out.push_chunk(np.zeros((200, 1), np.float32))
        collect(src, lambda r: n_samples(r) >= 200)
        del out
        gc.collect()
        gone = time.monotonic()
        collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "disconnected" for x in r))
        out = outlet(name, 1, units=["uV"])
        collect(src, lambda r: any(isinstance(x, LinkEvent) and x.kind == "connected" for x in r))
        out.push_chunk(np.ones((100, 1), np.float32), pylsl.local_clock() - 60.0)  # a clock a minute behind
        recs = collect(src, lambda r: n_samples(r) >= 100)
        outage = time.monotonic() - gone
    gaps = [r for r in recs if isinstance(r, GapRecord)]
    # the host-clock outage rounds to whole samples: up to half a sample past what the test timed
    assert len(gaps) == 1 and not gaps[0].exact and 0.0 < gaps[0].duration_s <= outage + 0.5 / gaps[0].fs


def test_a_dc_offset_beyond_the_edf_range_is_said_with_the_option_that_records_it(tmp_path, caplog):
    """An amplifier streaming volts with a 50 mV electrode offset: every sample clipped at the
    EDF's ±4.1 mV and no twitch counted, and the warning named wrong units or saturation but
    not ?bits=24, which records it."""
    from myotwitch.host.recorder import Recorder

    class Source:
        spec, closed = "lsl:amp", False

        def close(self):
            self.closed = True

    info = DeviceInfo("lsl:amp", "amp", "lsl amp@host", 1000.0, 1, 1, 0.125, ("calf",))
    x = (50_000.0 + np.random.default_rng(3).normal(0, 5, (1, 12000))).astype(np.float32)
    rec = Recorder(Source(), str(tmp_path), status_interval_s=999)
    rec.handle(info)
    for k in range(0, 12000, 500):
        rec.handle(SampleBlock(k, 1000.0, x[:, k:k + 500]))
    rec.finish(close_source=False)
    assert "offset (median 50000 µV): ?bits=24 records ±168 mV" in caplog.text


def test_missing_pylsl_says_which_extra(monkeypatch):
    from myotwitch.host.sources import lsl

    monkeypatch.setitem(sys.modules, "pylsl", None)
    with pytest.raises(SourceError, match=r"pip install 'myotwitch\[lsl\]'"):
        lsl.require_pylsl()


def test_published_markers_sit_on_the_event_onsets():
    """Feed the publisher a synthetic twitch signal and the detector's events; an independent
    inlet gets samples at the nominal rate and one marker per event, stamped at the onset."""
    fs = 1000.0
    synth = SynthStream(SynthSpec(fs=fs, duration_s=10.0, seed=7, twitch_rate=60.0, twitch_ptp_uv=(300.0, 1500.0)))
    pipe = Pipeline(fs, 1)
    pub = LslPublisher(name=unique("pub"))
    info = DeviceInfo("sim:", unique("dev"), "test", fs, 1, 1, 0.125, ("calf",))
    pub.record(info)
    emg = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", info.device_id, 1, 3)[0])
    markers = pylsl.StreamInlet(pylsl.resolve_byprop("source_id", info.device_id + "-markers", 1, 3)[0])
    emg.open_stream(3)
    markers.open_stream(3)
    got_x, got_t, got_m = [], [], []
    start = time.monotonic()
    index = 0
    while index < 4.5 * fs:  # 4.5 s in real time, 20 ms blocks
        due = int((time.monotonic() - start) * fs)
        if due > index:
            arrived = time.monotonic()
            x = synth.read(due - index)
            pub.record(SampleBlock(index, fs, x, arrived))
            pub.events(pipe.process(x))
            index = due
        x_, t_ = emg.pull_chunk(timeout=0.0, max_samples=10000, as_numpy=True)
        got_x.append(x_[:, 0])
        got_t.append(t_)
        m, mt = markers.pull_chunk(timeout=0.0)
        got_m += list(zip(mt, m))
        time.sleep(0.02)
    pub.events(pipe.flush())
    time.sleep(0.3)
    x_, t_ = emg.pull_chunk(timeout=0.2, max_samples=10000, as_numpy=True)
    got_x.append(x_[:, 0])
    got_t.append(t_)
    m, mt = markers.pull_chunk(timeout=0.2)
    got_m += list(zip(mt, m))
    x, t = np.concatenate(got_x), np.concatenate(got_t)
    assert np.median(np.diff(t)) == pytest.approx(1 / fs, abs=1e-7)  # the nominal rate, in order
    assert np.all(np.diff(t) > 0) and abs((len(t) - 1) / (t[-1] - t[0]) - fs) < 2.0
    twitches = [(stamp, json.loads(s[0])) for stamp, s in got_m if json.loads(s[0])["kind"] == "twitch"]
    assert len(twitches) >= 3 and pub.markers_sent == len(got_m)
    truth = [tw.onset_s for tw in synth.truth.twitches if tw.onset_s < index / fs - 0.5]
    tp, fp, fn = match(np.array([m["onset_s"] for _, m in twitches]), np.array(truth))
    assert tp >= 0.8 * len(truth)
    # where the inlet's own samples show each twitch starting vs where its marker is stamped
    for stamp, m in twitches:
        assert m["label"] == "calf" and m["channel"] == 0 and m["peak_to_peak_uv"] > 0
        w = (t >= stamp - 0.1) & (t <= stamp + 0.1)
        d = np.abs(np.diff(x[w]))
        rise = t[w][1:][np.argmax(d > 0.25 * d.max())]  # first steep slope of the twitch
        assert abs(rise - stamp) < 0.020, (m, rise - stamp)
    pub.close()


def test_record_from_a_plain_pylsl_outlet_finds_the_twitches_sent(tmp_path):
    """The issue's outside check: 1 ch, 1 kHz, float32, µV for 10 s -> EDF -> analysis."""
    from myotwitch.host.analysis import analyze_file

    fs = 1000.0
    name = unique("plain")
    info = pylsl.StreamInfo(name, "EMG", 1, fs, pylsl.cf_float32, name)
    info.set_channel_units("microvolts")
    out = pylsl.StreamOutlet(info, chunk_size=20)
    spec = SynthSpec(fs=fs, duration_s=10.0, seed=11, twitch_rate=30.0, twitch_ptp_uv=(200.0, 1500.0))
    synth = SynthStream(spec)
    proc = subprocess.Popen([*CLI, "record", "--source", f"lsl:{name}", "--duration", "10s", "--out",
                             str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        assert out.wait_for_consumers(20), "the recorder never connected"
        t0 = pylsl.local_clock()
        sent = 0
        while sent < 10 * fs:  # 4 x real time, stamped at the nominal rate: the stream's own clock
            n = min(int((pylsl.local_clock() - t0) * 4 * fs) - sent, int(10 * fs) - sent)
            if n > 0:
                out.push_chunk(synth.read(n).T.copy(), t0 + (sent + n - 1) / fs)
                sent += n
            time.sleep(0.005)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    edfs = sorted(tmp_path.glob("*.edf"))
    assert len(edfs) == 1, err
    result = analyze_file(edfs[0])
    assert result["stats"]["duration_s"] == pytest.approx(10.0), (result["quality"], result.get("gaps"), err[-1500:])
    found = [e["onset_s"] for e in result["events"] if e["kind"] == "twitch"]
    truth = [tw.onset_s for tw in synth.truth.twitches if tw.onset_s < 9.8]
    tp, fp, fn = match(np.array(found), np.array(truth))
    assert len(truth) >= 3 and tp >= len(truth) - 1 and fp <= 1, (found, truth)


def test_record_sim_with_lsl_is_seen_by_an_independent_inlet(tmp_path):
    """While `record --source sim: --lsl` runs, a separate inlet sees EMG and Markers streams."""
    proc = subprocess.Popen([*CLI, "record", "--source", "sim:twitch_rate=60,seed=5", "--lsl", "--duration", "5s",
                             "--out", str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        pred = "starts-with(name,'myotwitch') and type='{}'"
        emg_info = pylsl.resolve_bypred(pred.format("EMG"), 1, 15)
        mk_info = pylsl.resolve_bypred(pred.format("Markers"), 1, 15)
        assert emg_info and mk_info, "no EMG/Markers streams published"
        emg, mk = pylsl.StreamInlet(emg_info[0]), pylsl.StreamInlet(mk_info[0])
        assert emg.info(2).get_channel_units() == ["microvolts"]
        emg.open_stream(2)
        mk.open_stream(2)
        stamps, marks = [], []
        t_start = time.monotonic()
        while proc.poll() is None or time.monotonic() - t_start < 1:
            _, ts = emg.pull_chunk(timeout=0.1, max_samples=10000)
            stamps += ts
            m, mt = mk.pull_chunk(timeout=0.0)
            marks += [json.loads(s[0]) for s in m]
            if time.monotonic() - t_start > 30:
                break
        wall = time.monotonic() - t_start
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert abs(rate - 1000.0) < 5.0 and len(stamps) > 0.5 * 1000 * min(wall, 5)
    assert [m for m in marks if m["kind"] == "twitch"], marks


def test_live_app_acquisition_publishes_when_asked():
    """`live --lsl`: the app's acquisition thread publishes the same two streams."""
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.gui.acquisition import Acquisition

    acq = Acquisition("sim:twitch_rate=120,seed=9,speed=3", DetectorConfig(), lsl=True)
    acq.start()
    try:
        pred = "starts-with(name,'myotwitch') and type='{}'"
        emg = pylsl.StreamInlet(pylsl.resolve_bypred(pred.format("EMG"), 1, 10)[0])
        mk = pylsl.StreamInlet(pylsl.resolve_bypred(pred.format("Markers"), 1, 10)[0])
        emg.open_stream(3)
        mk.open_stream(3)
        n, marks, deadline = 0, [], time.monotonic() + 15
        while (n < 3000 or not marks) and time.monotonic() < deadline:
            _, ts = emg.pull_chunk(timeout=0.1, max_samples=10000)
            n += len(ts)
            m, _ = mk.pull_chunk(timeout=0.0)
            marks += [json.loads(s[0]) for s in m]
    finally:
        acq.stop()
    assert n >= 3000 and any(m["kind"] == "twitch" for m in marks), (n, marks, acq.state.error)


def test_devices_lists_the_lsl_streams_it_sees(capsys):
    import argparse

    from myotwitch.host.devices import list_all

    name = unique("seen")
    _keep = outlet(name, 2, fs=500.0, units=["uV", "uV"])
    _markers = pylsl.StreamOutlet(pylsl.StreamInfo(name + "-m", "Markers", 1, pylsl.IRREGULAR_RATE,
                                                   pylsl.cf_string, name + "-m"))
    assert list_all(argparse.Namespace(probe_all=False, no_ble=True, no_lsl=False, lsl_wait=1.0)) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith(f"lsl:{name} "))
    assert "2 ch @ 500 Hz" in row and f"source_id {name}-sid" in row
    assert "irregular rate (not usable)" in next(line for line in lines if line.startswith(f"lsl:{name}-m "))


def test_devices_suggests_a_spec_that_opens_each_stream(capsys):
    """A name holding '?' was suggested as `lsl:weird?x=1`, which then failed as an unknown
    option; two streams of one name got the same spec; a 200 Hz stream looked usable."""
    import argparse

    from myotwitch.host.devices import list_all
    from myotwitch.host.sources import open_source

    base = unique("dup")
    _keep = [outlet(base, source_id=base + "-a"), outlet(base, source_id=base + "-b"),
             outlet(base + "?x=1", source_id=base + "-odd", units=["uV"]), outlet(base + "-slow", fs=200.0)]
    assert list_all(argparse.Namespace(probe_all=False, no_ble=True, no_lsl=False, lsl_wait=1.0)) == 0
    lines = capsys.readouterr().out.splitlines()
    specs = {line.split()[0] for line in lines if base in line}
    assert {f"lsl:source_id={base}-a", f"lsl:source_id={base}-b", f"lsl:source_id={base}-odd"} <= specs
    assert "below" not in " ".join(lines) and any(
        line.startswith(f"lsl:{base}-slow ") and "(not usable: the twitch detector needs" in line for line in lines)
    assert not any("share this name" in line for line in lines if base + "-a" in line)
    _anon = pylsl.StreamOutlet(pylsl.StreamInfo(base, "EMG", 3, 1000.0, pylsl.cf_float32, ""))  # no source id
    assert list_all(argparse.Namespace(probe_all=False, no_ble=True, no_lsl=False, lsl_wait=1.0)) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(f"lsl:{base} "))
    assert "3 ch @ 1000 Hz; 3 streams share this name and this one has no usable source_id" in row
    src = open_source(f"lsl:source_id={base}-odd")  # the suggestion opens the stream
    src.close()
    from myotwitch.host.sources.lsl import list_streams

    usable = {r["spec"] for r in list_streams(1.0, usable_only=True)}  # (the live app's "Find devices")
    assert f"lsl:source_id={base}-a" in usable and f"lsl:{base}-slow" not in usable


def test_marker_json_is_strict_and_carries_the_unit_label_when_known():
    import dataclasses

    from myotwitch.dsp.events import Event
    from myotwitch.host.lsl_publish import marker_text

    e = Event(1.25, 1.27, 20.0, 512.3, float("nan"), 1, "twitch", None, 1250, 1270)
    d = json.loads(marker_text(e, ("left", "right")))
    assert d == {"kind": "twitch", "channel": 1, "label": "right", "onset_s": 1.25, "duration_ms": 20.0,
                 "peak_to_peak_uv": 512.3, "snr_db": None}

    @dataclasses.dataclass(frozen=True)
    class WithUnit(Event):
        unit: str | None = None

    d = json.loads(marker_text(WithUnit(1.0, 1.01, 10.0, 80.0, 20.0, 0, "twitch", unit="U3"), ("calf",)))
    assert d["unit"] == "U3" and d["label"] == "calf"


@pytest.mark.parametrize("no_lsl, missing, words", [
    (True, False, "not looked for (--no-lsl)"),
    (False, True, "pylsl is not installed"),
])
def test_devices_says_when_it_did_not_look_for_lsl_streams(no_lsl, missing, words, capsys, monkeypatch):
    """"no LSL streams found" was printed when none had been looked for."""
    import argparse

    from myotwitch.host import devices

    if missing:
        monkeypatch.setitem(sys.modules, "pylsl", None)  # as if the lsl extra were not installed
    monkeypatch.setattr("myotwitch.host.sources.serial.list_devices", lambda probe_all=False: [])
    assert devices.list_all(argparse.Namespace(probe_all=False, no_ble=True, no_lsl=no_lsl, lsl_wait=0.1)) == 0
    out = capsys.readouterr().out
    assert words in out and "or LSL streams found" not in out
    assert "simulate --pty" in out and "serial:PATH" in out  # (a pty is no USB port: how to open one)


def test_devices_quotes_a_spec_with_a_space_so_it_can_be_pasted(capsys):
    import argparse
    import shlex

    from myotwitch.host.devices import list_all
    from myotwitch.host.sources import open_source

    name = unique("calf EMG")
    _keep = outlet(name, 1, fs=500.0, units=["uV"])
    assert list_all(argparse.Namespace(probe_all=False, no_ble=True, no_lsl=False, lsl_wait=1.0)) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if name in line)
    [spec] = shlex.split(row[:34])  # the SOURCE column, as a shell reads it
    assert spec == f"lsl:{name}"
    open_source(spec, resolve_timeout_s=3).close()


def test_two_channels_of_one_label_are_named_apart_and_a_choice_by_it_is_refused():
    """A stream with two channels labelled 'EMG calf' had both chosen by ?channels=EMG calf and
    kept one name, which the history adds up as one channel."""
    name = unique("twins")
    info = pylsl.StreamInfo(name, "EMG", 2, 1000.0, pylsl.cf_float32, name + "-sid")
    chans = info.desc().append_child("channels")
    for _ in range(2):
        c = chans.append_child("channel")
        c.append_child_value("label", "EMG calf")
        c.append_child_value("unit", "microvolts")
    out = pylsl.StreamOutlet(info)
    with open_source(f"lsl:{name}", resolve_timeout_s=3) as src:
        head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
    assert next(x for x in head if isinstance(x, DeviceInfo)).labels == ("EMG calf", "EMG calf #2")
    with pytest.raises(UsageError, match=r"2 channels are labelled 'EMG calf' .*\?channels=0 or \?channels=1"):
        open_source(f"lsl:{name}?channels=EMG calf", resolve_timeout_s=3)
    with open_source(f"lsl:{name}?channels=EMG calf #2", resolve_timeout_s=3) as src:
        head = collect(src, lambda r: any(isinstance(x, DeviceInfo) for x in r))
    assert next(x for x in head if isinstance(x, DeviceInfo)).labels == ("EMG calf #2",)
    del out


def test_status_lines_while_the_sender_is_gone_say_it_is_waited_for(tmp_path, monkeypatch, caplog):
    # the LSL source had no `connected`: the recorder took the link for up, and its status lines
    # said "no data for 0:00:08 ..., the link is up" just after "LSL stream lost (the sender went away)"
    import re

    from myotwitch.host.recorder import Recorder

    name = unique("gone")
    out = outlet(name, 1, units=["uV"])
    src = open_source(f"lsl:{name}", resolve_timeout_s=3, stall_timeout_s=1.0)
    rec = Recorder(src, str(tmp_path / "rec"), events_path=None, status_interval_s=3_600)
    rec.begin()
    out.push_chunk(np.random.default_rng(1).normal(0.0, 4.0, (1_000, 1)).astype(np.float32))
    deadline = time.monotonic() + 10
    while rec.samples < 1_000:
        assert time.monotonic() < deadline
        for r in src.read(0.05):
            rec.handle(r)
    assert src.connected
    del out
    gc.collect()  # the sender goes away
    while src.connected:
        assert time.monotonic() < deadline + 10
        for r in src.read(0.05):
            rec.handle(r)
    real = time.monotonic
    with monkeypatch.context() as m, caplog.at_level("INFO", logger="myotwitch.host.recorder"):
        m.setattr(time, "monotonic", lambda: real() + 3_700)
        rec.tick()
    rec.finish()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status")][:1]
    assert re.search(r"; no data for 1:01:\d\d \(since [-\d]+ [:\d]+\), waiting for the device$", line), line


def test_a_sender_going_away_leaves_no_liblsl_log_line_on_stderr():
    # liblsl's own "2026-12-08 00:50:27.568 ( 12.603s) [R_x] data_receiver.cpp:375 ERR| Stream
    # transmission broke off (Input stream error.); re-connecting..." stood among myotwitch's lines,
    # which say the same ("LSL stream lost (the sender went away); waiting for it")
    script = f"""
import gc, time, numpy as np, pylsl
from myotwitch.host.sources import open_source
from myotwitch.host.sources.lsl import require_pylsl
from myotwitch.host.stream import LinkEvent, SampleBlock
require_pylsl()  # (as myotwitch's own commands load it: before liblsl's first use)
info = pylsl.StreamInfo({unique("quiet")!r}, "EMG", 1, 1000.0, pylsl.cf_float32, "quiet-sid")
info.set_channel_units(["uV"])
out = pylsl.StreamOutlet(info)
src = open_source("lsl:" + info.name(), resolve_timeout_s=3, stall_timeout_s=1.0)
out.push_chunk(np.zeros((200, 1), np.float32))
got, deadline = [], time.monotonic() + 10
while sum(r.n for r in got if isinstance(r, SampleBlock)) < 200:
    assert time.monotonic() < deadline
    got += src.read(0.05)
del out
gc.collect()
while not any(isinstance(r, LinkEvent) and r.kind == "disconnected" for r in got):
    assert time.monotonic() < deadline
    got += src.read(0.05)
time.sleep(0.5)
src.close()
print("lost")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "lost", run.stderr
    assert "sender went away" in run.stderr
    assert "ERR|" not in run.stderr and ".cpp:" not in run.stderr, run.stderr
