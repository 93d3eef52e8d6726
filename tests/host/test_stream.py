import numpy as np

from myotwitch.host import protocol as P
from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock, StreamAssembler

INFO = P.InfoFrame(0, 1, (0, 1, 0), 7, 1000, 2, P.FMT_INT16, 0.5, True, ("a", "b"))


def samples(first, n, seq=1):
    return P.SamplesFrame(seq, first % (1 << 32), 2, P.FMT_INT16, tuple(range(2 * n)))


def test_contiguous_blocks_get_consecutive_indices_and_microvolts():
    a = StreamAssembler("test")
    out = a.feed([INFO, samples(100, 10), samples(110, 5)])
    assert isinstance(out[0], DeviceInfo)
    blocks = [r for r in out if isinstance(r, SampleBlock)]
    assert [(b.first_sample, b.n) for b in blocks] == [(0, 10), (10, 5)]
    np.testing.assert_array_equal(blocks[0].uv[1, :3], np.array([1, 3, 5]) * 0.5)
    assert blocks[0].uv.dtype == np.float32


def test_lost_frames_become_an_exact_gap():
    a = StreamAssembler("test")
    out = a.feed([INFO, samples(0, 10), samples(25, 10)])
    gaps = [r for r in out if isinstance(r, GapRecord)]
    assert [(g.start_sample, g.n_samples, g.exact) for g in gaps] == [(10, 15, True)]
    assert a.stats.samples_lost == 15 and a.next_index == 35


def test_lost_frames_are_logged_at_debug_level_and_outages_at_info(caplog):
    # a daemon's journal had a line for every lost frame (~9,000 an hour at 5 % lost)
    a = StreamAssembler("test")
    with caplog.at_level("DEBUG", logger="myotwitch.host.stream"):
        a.feed([INFO, samples(0, 10), samples(30, 10), samples(3040, 10)])
    levels = [(r.levelname, r.getMessage().split(" at ")[0]) for r in caplog.records if "gap of" in r.getMessage()]
    assert levels == [("DEBUG", "gap of 20 samples (0.020 s)"), ("INFO", "gap of 3000 samples (3.000 s)")]


def test_counter_wrap_is_not_a_gap():
    a = StreamAssembler("test")
    out = a.feed([INFO, samples(2**32 - 5, 5), samples(0, 5)])
    assert not [r for r in out if isinstance(r, GapRecord)]
    assert a.next_index == 10


def test_duplicates_and_overlaps_are_dropped():
    a = StreamAssembler("test")
    # a true overlap carries the same values for the counters already received
    overlap = P.SamplesFrame(1, 5, 2, P.FMT_INT16, tuple(range(10, 30)))
    out = a.feed([INFO, samples(0, 10), samples(0, 10), overlap])
    blocks = [r for r in out if isinstance(r, SampleBlock)]
    assert [(b.first_sample, b.n) for b in blocks] == [(0, 10), (10, 5)]
    assert a.stats.duplicates == 1


def test_reconnect_with_restarted_device_uses_the_clock():
    a = StreamAssembler("test")
    a.feed([INFO, samples(5000, 10)], received_at=0.0)
    a.on_reconnect()  # (2 s without samples, to the first new one)
    out = a.feed([INFO, samples(0, 10)], received_at=2.01)
    gap = [r for r in out if isinstance(r, GapRecord)][0]
    assert gap.n_samples == 2000 and not gap.exact


def test_reconnect_with_running_device_uses_the_counter():
    a = StreamAssembler("test")
    a.feed([INFO, samples(0, 10)], received_at=0.0)
    a.on_reconnect()  # (1.5 s without samples)
    out = a.feed([samples(1510, 10)], received_at=1.51)
    gap = [r for r in out if isinstance(r, GapRecord)][0]
    assert gap.n_samples == 1500 and gap.exact


def test_samples_before_info_are_not_guessed():
    a = StreamAssembler("test")
    assert a.feed([samples(0, 10)]) == []
    assert a.stats.before_info == 1
