"""Sources without hardware: spec parsing, the in-process simulator with faults, errors."""

import numpy as np
import pytest

from myotwitch.dsp import Pipeline
from myotwitch.dsp.evaluate import match
from myotwitch.host.errors import SourceError, UsageError
from myotwitch.host.sources import open_source, parse_spec
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, SampleBlock


@pytest.mark.parametrize("spec, expected", [
    ("sim:", ("sim", "", {})),
    ("sim:rate=2000,channels=2", ("sim", "", {"rate": "2000", "channels": "2"})),
    ("sim:?rate=2000&channels=2", ("sim", "", {"rate": "2000", "channels": "2"})),
    ("serial:/dev/ttyACM0?baud=250000", ("serial", "/dev/ttyACM0", {"baud": "250000"})),
    ("/dev/ttyUSB0", ("serial", "/dev/ttyUSB0", {})),
    ("night.edf", ("file", "night.edf", {})),
    ("file:x.edf?speed=0", ("file", "x.edf", {"speed": "0"})),
    ("ble:auto", ("ble", "auto", {})),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("usb:thing", "unknown kind"),
    ("nonsense", "expected serial:PORT"),
    ("serial:", "needs a port"),
    ("sim:rate=abc", "not a number"),
    ("sim:colour=red", "unknown option 'colour'"),
    ("sim:rate=100", "outside 250 to 4000"),
    ("serial:/dev/x?speed=3", "unknown option"),
    ("serial:/dev/x?baud=0", "baud must be a whole number above 0"),  # (had read at 1 Mbaud in silence)
    ("serial:auto?baud=-9600", "baud must be a whole number above 0"),
    ("ble:", "ble: needs a device name or address, or auto$"),  # (had asked for "a port")
    ("sim:rate=1000&rate=2000", "option 'rate' given twice"),  # (the last had won in silence)
    ("serial:auto?baud=9600,baud=250000", "option 'baud' given twice"),
    ("sim:seed=-1", "outside 0 to 4294967295$"),  # (had read 4.29497e+09)
])
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(UsageError, match=message):
        open_source(spec)


def run_source(src, n_samples, pipe_cls=Pipeline):
    """Consume a source like the recorder does; returns (pipeline, events, records)."""
    import time

    pipe, events, records = None, [], []
    deadline = time.monotonic() + 60
    while pipe is None or pipe.samples_in < n_samples:
        assert time.monotonic() < deadline, f"source delivered too little: {records[-5:]}"
        for r in src.read(0.2):
            records.append(r)
            if isinstance(r, DeviceInfo) and pipe is None:
                pipe = pipe_cls(r.fs, r.n_channels)
            elif isinstance(r, SampleBlock):
                assert r.first_sample == pipe.samples_in  # every sample accounted for, in order
                events += pipe.process(r.uv)
            elif isinstance(r, GapRecord):
                events += pipe.gap(r.n_samples)
    events += pipe.flush()
    return pipe, events, records


def test_simulator_source_matches_ground_truth():
    src = open_source("sim:rate=1000,channels=2,twitch_rate=20,seed=4,speed=0")
    pipe, events, records = run_source(src, 60_000)
    truth = src.truth.twitches
    for ch in (0, 1):
        tp, fp, fn = match(np.array([e.onset_s for e in events if e.kind == "twitch" and e.channel == ch]),
                           np.array([t.onset_s for t in truth if t.channel == ch and t.offset_s < pipe.samples_in / 1000]))
        assert fp == 0 and fn <= 1 and tp > 5
    assert src.stats()["samples_lost"] == 0
    src.close()


def test_dropped_frames_become_exact_gaps_and_no_twitch_spans_them():
    src = open_source("sim:rate=1000,twitch_rate=30,seed=2,speed=0,drop=0.05,ber=0.00002")
    pipe, events, records = run_source(src, 30_000)
    gaps = [r for r in records if isinstance(r, GapRecord)]
    dropped = src.device.dropped_frames
    assert gaps, "expected some dropped frames"
    # every gap the host reports is a frame the device dropped or one that bit errors destroyed
    lost = sum(g.n_samples for g in gaps)
    assert lost >= sum(n for first, n in dropped if first + n <= pipe.samples_in)
    assert src.stats()["decoder_crc_errors"] + src.stats()["decoder_cobs_errors"] >= 0
    # a lost frame is bridged: what reaches into it is a contraction across it or an artefact
    # the gap cut, never a twitch
    touched = [e for e in events for g in gaps
               if e.offset_sample > g.start_sample and e.onset_sample < g.start_sample + g.n_samples]
    assert touched and all(e.kind == "contraction" or e.reason == "cut off by the data gap" for e in touched)
    src.close()


def test_disconnects_are_reconnected_and_the_gap_is_exact():
    src = open_source("sim:rate=1000,seed=3,speed=0,disconnect_every=4,disconnect_for=1")
    pipe, events, records = run_source(src, 15_000)
    kinds = [r.kind for r in records if isinstance(r, LinkEvent)]
    assert kinds.count("disconnected") >= 2 and kinds.count("connected") >= 3
    gaps = [r for r in records if isinstance(r, GapRecord)]
    assert gaps and all(g.exact for g in gaps)
    # the device counter ran on: total = received + lost, exactly
    assert pipe.samples_in == src.stats()["samples"] + src.stats()["samples_lost"]
    src.close()


def test_missing_serial_port_is_one_clear_error():
    with pytest.raises(SourceError, match="does not exist"):
        open_source("serial:/dev/ttyDOESNOTEXIST")


def test_missing_file_is_one_clear_error(tmp_path):
    from myotwitch.host.errors import FormatError

    with pytest.raises(FormatError, match="no such file"):
        open_source(f"file:{tmp_path}/missing.edf")


def test_file_replay_equals_offline_analysis(example_edf_analysis):
    import pathlib

    edf = pathlib.Path(__file__).resolve().parents[2] / "data" / "examples" / "calf-10min.edf"
    src = open_source(f"file:{edf}?speed=0")
    pipe, events, records = run_source(src, 600_000)
    gaps = [r for r in records if isinstance(r, GapRecord)]
    assert [(g.start_sample, g.n_samples) for g in gaps] == [(300_000, 1500)]
    offline = example_edf_analysis  # analyze_file(edf, DetectorConfig()): the replayed pipeline's settings
    assert len([e for e in events if e.kind == "twitch"]) > 100
    assert [e.onset_sample for e in events if e.kind == "twitch"] == [
        e["onset_sample"] for e in offline["events"] if e["kind"] == "twitch"]


def test_file_replay_paces_at_the_requested_speed():
    import pathlib
    import time

    edf = pathlib.Path(__file__).resolve().parents[2] / "data" / "examples" / "calf-10min.edf"
    src = open_source(f"file:{edf}?speed=20")
    t0 = time.monotonic()
    n = 0
    while n < 40_000:  # 40 s of recording at 20x: about 2 s
        n += sum(r.n for r in src.read(0.2) if isinstance(r, SampleBlock))
    elapsed = time.monotonic() - t0
    assert 1.5 < elapsed < 4.0


def test_a_simulated_unplug_keeps_the_timeline_on_the_device_clock():
    # the simulated device stood still from its last failed reopen until the reopen that
    # worked, so an unplug of 1 s lasted up to the reconnect backoff longer on the host's
    # clock than on the device's, and the timeline ran ahead of the device
    import time

    src = open_source("sim:rate=500,seed=3,speed=4,twitch_rate=0,disconnect_every=4,disconnect_for=1")
    records, deadline = [], time.monotonic() + 5.0
    while time.monotonic() < deadline:
        records += src.read(0.05)
    gaps = [r for r in records if isinstance(r, GapRecord)]
    timeline = sum(r.n for r in records if isinstance(r, SampleBlock)) + sum(g.n_samples for g in gaps)
    ahead = timeline - src.device.sample_counter
    src.close()
    assert len(gaps) >= 3 and all(g.exact for g in gaps), gaps
    assert -3 * src.device.frame_samples <= ahead <= 0, ahead  # (frames may still be on the device)


@pytest.mark.parametrize("spec", ["speed=0,disconnect_every=7,disconnect_for=3",
                                  "speed=8,disconnect_every=7,disconnect_for=3",
                                  "speed=8,reset_every=4"])
def test_an_outage_the_counter_cannot_measure_is_measured_by_the_simulator_s_own_clock(spec):
    # outages over 2 s (beyond what the host clock must confirm) and device restarts were
    # measured by the host's clock, which a simulator off real time does not keep: at speed 0
    # a 3 s unplug was a gap of 0.24 s, and every later time early
    src = open_source(f"sim:rate=500,seed=3,twitch_rate=0,{spec}")
    records = []
    while src.device.time_s < 24.0:
        records += src.read(0.05)
    gaps = [r for r in records if isinstance(r, GapRecord)]
    timeline = sum(r.n for r in records if isinstance(r, SampleBlock)) + sum(g.n_samples for g in gaps)
    behind = round(src.device.time_s * 500) - timeline
    src.close()
    assert len(gaps) >= 3 and all(g.n_samples >= (1000 if "reset" not in spec else 1) for g in gaps), gaps
    assert 0 <= behind <= 3 * src.device.frame_samples + 25, behind  # (frames still on the device, a START's wait)


def test_a_simulated_device_counts_what_it_streamed_apart_from_its_counter():
    # `simulate` said it had streamed (and its --truth held) samples taken while no program
    # had asked it to stream
    from myotwitch.dsp.synth import SynthSpec
    from myotwitch.host import protocol as P
    from myotwitch.host.simulator import VirtualDevice

    dev = VirtualDevice(SynthSpec(fs=1000.0))
    dev.step(2000)
    assert (dev.sample_counter, dev.streamed) == (2000, 0)
    dev.receive(P.encode_command(0, P.CMD_START))
    dev.step(500)
    assert (dev.sample_counter, dev.streamed) == (2500, 500)
