"""The assembler under device faults: a reset behind a live link, implausible counter jumps
(a corrupt frame that passed the CRC), and true duplicates (#16 items 1 and 4)."""

import numpy as np

from myotwitch.host import protocol as P
from myotwitch.host.stream import GapRecord, LinkEvent, SampleBlock, StreamAssembler

INFO = P.InfoFrame(0, 1, (0, 1, 0), 7, 1000, 1, P.FMT_INT16, 0.5, True, ("a",))


def frame(first, n=20, value=None):
    counts = tuple(range(first, first + n)) if value is None else (value,) * n
    return P.SamplesFrame(1, first % (1 << 32), 1, P.FMT_INT16, tuple(c % 30000 for c in counts))


def run(a, first, n_frames, n=20, start_value=None, t=0.0):
    out = []
    for k in range(n_frames):
        f = first + k * n
        out += a.feed([frame(f, n, None if start_value is None else start_value + k)], received_at=t)
    return out


def kept(out):
    return sum(r.n for r in out if isinstance(r, SampleBlock))


def test_device_reset_with_repeated_info_keeps_every_new_sample():
    # the reproduction: INFO, 60,000 samples, INFO again, counters from 0
    a = StreamAssembler("t")
    a.feed([INFO])
    run(a, 0, 3000)
    assert a.next_index == 60_000
    a.feed([INFO])
    out = run(a, 0, 1500, start_value=7)  # 30 s after the reset, different data
    assert kept(out) == 30_000, "samples after the reset were dropped as duplicates"
    gaps = [r for r in out if isinstance(r, GapRecord)]
    assert len(gaps) == 1 and not gaps[0].exact and "restart" in gaps[0].reason
    assert a.stats.restarts == 1 and a.stats.duplicates == 0


def test_device_reset_without_info_is_detected_from_the_counter():
    a = StreamAssembler("t")
    a.feed([INFO])
    run(a, 0, 3000)
    out = run(a, 0, 100, start_value=11)
    assert kept(out) == 2000  # nothing lost: suspect frames are held, then released once confirmed
    assert a.stats.restarts == 1
    assert [r for r in out if isinstance(r, GapRecord)]


def test_true_duplicates_are_still_dropped_after_the_reset_logic():
    a = StreamAssembler("t")
    a.feed([INFO])
    out = a.feed([frame(0), frame(20), frame(20), frame(10), frame(40)])
    blocks = [(b.first_sample, b.n) for b in out if isinstance(b, SampleBlock)]
    assert blocks == [(0, 20), (20, 20), (40, 20)]
    assert a.stats.duplicates == 2 and a.stats.restarts == 0


def test_implausible_jump_from_one_corrupt_frame_is_rejected_and_reported():
    a = StreamAssembler("t")
    a.feed([INFO])
    run(a, 0, 10)
    out = a.feed([frame(200 + 2**31)], received_at=0.0)  # passed the CRC, counter 2^31 ahead
    out += run(a, 220, 5)  # the link goes on normally
    gaps = [r for r in out if isinstance(r, GapRecord)]
    # the corrupt frame cost its own 20 samples (an exact gap), not a 596-hour gap
    assert [(g.n_samples, g.exact) for g in gaps] == [(20, True)]
    assert a.stats.implausible_jumps == 1
    assert any(isinstance(r, LinkEvent) and r.kind == "error" for r in out)
    assert a.next_index == 320


def test_confirmed_jump_resyncs_with_a_clock_length_gap():
    a = StreamAssembler("t")
    a.feed([INFO])
    run(a, 0, 10, t=100.0)
    out = run(a, 2**31, 10, t=102.0)  # the device really is there now: 2 s later by the host clock
    gaps = [r for r in out if isinstance(r, GapRecord)]
    assert len(gaps) == 1 and not gaps[0].exact
    assert gaps[0].n_samples <= 3000  # bounded by the host clock, never hundreds of hours
    assert kept(out) == 200


def test_assembler_state_is_bounded_under_many_suspect_frames():
    a = StreamAssembler("t")
    a.feed([INFO])
    run(a, 0, 10)
    rng = np.random.default_rng(1)
    for c in rng.integers(0, 2**32, 500):
        a.feed([frame(int(c))], received_at=0.0)
    assert len(a._suspects) <= 8


class _NoSource:
    spec = "test"
    closed = False

    def close(self):
        self.closed = True


def test_a_long_gap_costs_constant_disk_and_time_in_the_recorder(tmp_path):
    import time

    from myotwitch.host.edf import EdfReader
    from myotwitch.host.recorder import Recorder
    from myotwitch.host.stream import DeviceInfo

    info = DeviceInfo("test", "00000000000000aa", "0.1.0", 1000.0, 1, 1, 0.5, ("calf",))
    rec = Recorder(_NoSource(), str(tmp_path), status_interval_s=999)
    rng = np.random.default_rng(0)
    started = time.monotonic()
    rec.handle(info)
    rec.handle(SampleBlock(0, 1000.0, rng.normal(0, 5, (1, 5000)).astype(np.float32)))
    rec.handle(GapRecord(5000, 2**31, 1000.0, "samples lost in transit or on the device", True))  # 596 hours
    rec.handle(SampleBlock(5000 + 2**31, 1000.0, rng.normal(0, 5, (1, 5000)).astype(np.float32)))
    rec.finish(close_source=False)
    assert time.monotonic() - started < 10
    files = sorted(tmp_path.glob("*.edf"))
    assert len(files) == 2 and sum(f.stat().st_size for f in files) < 1_000_000
    first, second = (EdfReader(f) for f in files)
    assert first.duration_s == 5.0 and second.duration_s == 5.0
    assert abs((second.edf.start - first.edf.start).total_seconds() - (5 + 2**31 / 1000)) < 1  # whole-second header
    assert any("continues in a new file" in a.text for a in first.edf.annotations)
    assert any(a.text.startswith("after a gap") for a in second.edf.annotations)


def test_a_file_ended_by_a_long_gap_has_its_own_quality_figures(tmp_path):
    """The file before a long gap took its noise and level up to when it was closed, later:
    the next file's first seconds were in them."""
    import json

    from myotwitch.host.recorder import Recorder
    from myotwitch.host.stream import DeviceInfo

    info = DeviceInfo("test", "00000000000000aa", "0.1.0", 1000.0, 1, 1, 0.5, ("calf",))
    rec = Recorder(_NoSource(), str(tmp_path), status_interval_s=999)
    rng = np.random.default_rng(1)
    rec.handle(info)
    rec.handle(SampleBlock(0, 1000.0, rng.normal(0, 5, (1, 20_000)).astype(np.float32)))
    rec.handle(GapRecord(20_000, 100_000, 1000.0, "samples lost in transit or on the device", True))
    rec.handle(SampleBlock(120_000, 1000.0, rng.normal(0, 60, (1, 60_000)).astype(np.float32)))
    rec.finish(close_source=False)
    first, second = (json.loads(p.read_text())["quality"] for p in sorted(tmp_path.glob("*.summary.json")))
    assert first["raw_rms_uv"][0] < 6 < 50 < second["raw_rms_uv"][0]
