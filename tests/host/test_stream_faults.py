"""The assembler under device faults: a reset behind a live link, implausible counter jumps
(a corrupt frame that passed the CRC), and true duplicates (#16 items 1 and 4)."""

import numpy as np

from myotwitch.host import protocol as P
from myotwitch.host.sources.base import Link
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
    errors = [r for r in out if isinstance(r, LinkEvent) and r.kind == "error"]
    assert errors and errors[0].detail.startswith("1 frame with an implausible sample counter"), errors
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


def test_a_stream_back_in_another_format_dates_its_file_after_the_last_ones_data(tmp_path):
    """An LSL sender restarted with more channels: the new file was dated as if its data began
    right after the session's start (the time recorded before the change was forgotten), so a
    sender reconfigured three hours into a night had its twitches dated three hours early."""
    from myotwitch.host.edf import EdfReader
    from myotwitch.host.recorder import Recorder
    from myotwitch.host.stream import DeviceInfo

    one = DeviceInfo("lsl:amp", "amp", "lsl amp@host", 1000.0, 1, 1, 0.125, ("calf",))
    two = DeviceInfo("lsl:amp", "amp", "lsl amp@host", 1000.0, 2, 1, 0.125, ("calf", "soleus"))
    rec = Recorder(_NoSource(), str(tmp_path), status_interval_s=999)
    rng = np.random.default_rng(0)
    rec.handle(one)
    rec.handle(SampleBlock(0, 1000.0, rng.normal(0, 5, (1, 7000)).astype(np.float32)))
    rec.handle(two)  # as LslSource sends it: the new format, then the outage from the host clock
    rec.handle(GapRecord(7000, 3000, 1000.0, "LSL stream lost; length from the host clock", False))
    rec.handle(SampleBlock(10000, 1000.0, rng.normal(0, 5, (2, 5000)).astype(np.float32)))
    rec.finish(close_source=False)
    first, second = (EdfReader(f) for f in sorted(tmp_path.glob("*.edf")))
    assert first.duration_s == 7.0 and second.duration_s == 5.0
    assert abs((second.edf.start - first.edf.start).total_seconds() - 10.0) <= 1  # whole-second header


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


# -- a byte link on a fake clock: outages measured from the last samples --------------------------
class _Clock:
    def __init__(self):
        self.t = 100.0

    def monotonic(self):
        return self.t

    def sleep(self, dt):
        self.t += dt


class _ScriptedLink(Link):
    """A virtual device behind a link on ``clock``: it samples all the time, delivers nothing
    while ``silent(t)`` (a stall: the port stays open) and cannot be opened while ``absent(t)``."""

    name = "scripted"

    def __init__(self, clock, fs=500, silent=lambda t: False, absent=lambda t: False):
        from myotwitch.dsp.synth import SynthSpec
        from myotwitch.host.simulator import VirtualDevice

        self.clock, self.silent, self.absent = clock, silent, absent
        self.device = VirtualDevice(SynthSpec(fs=float(fs), twitch_rate=0.0))
        self.t_dev = None  # device time is host time once it is powered (first opened)
        self.out = bytearray()

    def _advance(self):
        t = self.clock.t
        if self.t_dev is None:
            self.t_dev = t
        n = int((t - self.t_dev) * self.device.fs)
        if n > 0:
            data = self.device.step(n)
            self.t_dev += n / self.device.fs
            if not self.silent(t):
                self.out += data

    def open(self):
        from myotwitch.host.sources.base import LinkError

        if self.absent(self.clock.t):
            raise LinkError("not there")
        self._advance()
        self.out.clear()

    def read(self, timeout):
        self.clock.sleep(timeout)
        self._advance()
        data, self.out = bytes(self.out), bytearray()
        return data

    def write(self, data):
        self.out += self.device.receive(data)

    def close(self):
        pass


def _run_link(monkeypatch, link, clock, until, **kw):
    from myotwitch.host.sources import base

    monkeypatch.setattr(base, "time", clock)
    src = base.LinkSource("scripted", link, backoff_s=(0.25, 0.5), **kw)
    out = []
    while clock.t < until:
        out += src.read(0.05)
    return src, out


def test_a_stall_is_a_gap_as_long_as_the_silence_not_from_when_it_was_noticed(monkeypatch):
    # the device samples on while its frames stop for 5 s; the host notices after 3 s and
    # reopens the port. The outage had been measured from the noticing (0.25 s), judged a
    # restart, and every later time in the file was 5 s early
    clock = _Clock()
    link = _ScriptedLink(clock, silent=lambda t: 102.0 <= t < 107.0)
    src, out = _run_link(monkeypatch, link, clock, 110.0)
    gaps = [r for r in out if isinstance(r, GapRecord)]
    assert len(gaps) == 1 and gaps[0].exact and "kept counting" in gaps[0].reason, gaps
    assert abs(gaps[0].n_samples / 500 - 5.0) < 0.1
    timeline = sum(r.n for r in out if isinstance(r, SampleBlock)) + gaps[0].n_samples
    assert abs(timeline - link.device.sample_counter) <= 20  # (a frame may still be on the device)


def test_a_source_waited_for_loses_nothing_before_its_first_samples(monkeypatch):
    # record --wait: the sensor appears 5 s after the start; that wait was a 4.8 s "device
    # restarted" gap at 0 s, and every event-log time 4.8 s late
    clock = _Clock()
    link = _ScriptedLink(clock, absent=lambda t: t < 105.0)
    src, out = _run_link(monkeypatch, link, clock, 108.0, wait=True)
    assert not [r for r in out if isinstance(r, GapRecord)]
    assert sum(r.n for r in out if isinstance(r, SampleBlock)) > 2.5 * 500
    assert src.reconnects == 0


class _ResetOnOpenLink(_ScriptedLink):
    """An Arduino: opening the port resets it, its bootloader swallows the host's bytes for a
    second, then the firmware says INFO (not streaming) and waits for START (main_avr.c)."""

    def open(self):
        super().open()
        self.device._reset()  # (its INFO goes to no one: the board is in its bootloader)
        self.boot_until = self.clock.t + 1.0
        self.booted = False

    def _advance(self):
        if not getattr(self, "booted", True) and self.clock.t >= self.boot_until:
            self.booted = True
            self.t_dev = self.clock.t
            self.out += self.device.info_frame()
        if getattr(self, "booted", True):
            super()._advance()

    def write(self, data):
        if self.booted:
            super().write(data)


def test_a_board_the_port_reset_is_started_when_it_says_it_is_not_streaming(monkeypatch):
    # the GET_INFO and START sent at connect went to the Uno's bootloader; the firmware's INFO
    # then said "not streaming" and the host waited for samples until it declared a stall and
    # reopened the port, which reset the board again, for ever
    clock = _Clock()
    link = _ResetOnOpenLink(clock)
    src, out = _run_link(monkeypatch, link, clock, 106.0)
    assert link.device.streaming and src.reconnects == 0
    assert not [r for r in out if isinstance(r, LinkEvent) and r.kind == "stalled"]
    assert sum(r.n for r in out if isinstance(r, SampleBlock)) > 4.5 * 500


def test_a_restart_gap_includes_the_samples_taken_before_start():
    # a board restarts, says INFO and streams from the host's START: its first frame starts at
    # counter 200, the samples taken before START were never sent. The gap had subtracted them
    # as if they had come (100 ms here, where 300 ms passed without samples)
    a = StreamAssembler("t")
    a.feed([INFO], received_at=0.0)
    for k in range(50):
        a.feed([frame(k * 20)], received_at=(k + 1) * 0.02)  # the last at 1.0 s
    a.feed([INFO], received_at=1.30)
    out = a.feed([frame(200, value=7)], received_at=1.32)  # (new data, not a duplicate)
    [gap] = [r for r in out if isinstance(r, GapRecord)]
    assert gap.n_samples == 300 and not gap.exact and "restart" in gap.reason


def test_a_status_without_a_battery_reading_says_none():
    # the Uno runs from USB and sends 0 mV / 255 %: logged as a battery of 0 mV before
    a = StreamAssembler("t")
    [none] = a.feed([P.StatusFrame(1, 0, 255, 0, 0, 0, 0, 0)])
    [some] = a.feed([P.StatusFrame(2, 3700, 80, 0, 0, 0, 0, 0)])
    assert (none.battery_mv, none.battery_pct) == (None, None) and (some.battery_mv, some.battery_pct) == (3700, 80)


def test_a_replugged_board_that_resets_is_a_gap_to_its_first_new_sample(monkeypatch):
    # gone 4 s; the reopen resets it and its bootloader takes 1 s more: 5 s without samples.
    # The gap had been measured to the reopen (4 s), so every later time was 1 s early
    clock = _Clock()
    link = _ResetOnOpenLink(clock, absent=lambda t: 104.0 <= t < 108.0)
    link.silent = lambda t: 104.0 <= t < 108.0
    src, out = _run_link(monkeypatch, link, clock, 112.0)
    gaps = [r for r in out if isinstance(r, GapRecord)]
    assert len(gaps) == 1 and not gaps[0].exact, gaps
    timeline = sum(r.n for r in out if isinstance(r, SampleBlock)) + gaps[0].n_samples
    first = 101.0  # (the first open's bootloader second)
    assert abs(timeline / 500 - (clock.t - first)) < 0.15, (timeline / 500, clock.t - first)


class _DebugPrintingLink(_ScriptedLink):
    """A sketch that prints a debug line on the port before every frame (Serial.println beside
    the protocol's bytes): the INFO asked for at connect comes first and is whole."""

    def read(self, timeout):
        return super().read(timeout).replace(b"\x00", b"\x00dbg: frame sent\r\n")


class _DisagreeingLink(_ScriptedLink):
    """Firmware whose INFO says one channel while its frames carry two."""

    def __init__(self, clock):
        super().__init__(clock)
        from myotwitch.dsp.synth import SynthSpec
        from myotwitch.host.simulator import VirtualDevice

        self.device = VirtualDevice(SynthSpec(fs=500.0, n_channels=2, twitch_rate=0.0))
        self.decoder = P.Decoder()

    def read(self, timeout):
        import dataclasses

        out = b""
        for f in self.decoder.feed(super().read(timeout)):
            if isinstance(f, P.InfoFrame):
                f = dataclasses.replace(f, n_channels=1, labels=f.labels[:1])
            out += P.encode_frame(f)
        return out


def _unusable(out):
    return [r.detail for r in out if isinstance(r, LinkEvent) and r.kind == "unusable"]


def test_a_board_whose_frames_cannot_be_used_is_told_why_once(monkeypatch):
    # a board that said INFO and then only spoilt or disagreeing sample frames recorded nothing,
    # and `record` and `live` said nothing either ("recorded=0:00:00", "samples 0") for ever
    clock = _Clock()
    src, out = _run_link(monkeypatch, _DebugPrintingLink(clock), clock, 112.0)
    assert not [r for r in out if isinstance(r, SampleBlock)] and src.info is not None
    [why] = _unusable(out)  # (said once, after UNUSABLE_AFTER_S)
    assert "none of its samples could be used" in why and "frames damaged" in why and "debug lines" in why
    clock = _Clock()
    src, out = _run_link(monkeypatch, _DisagreeingLink(clock), clock, 108.0)
    [why] = _unusable(out)
    assert "sample frames of 2 channels" in why and "its INFO says 1 channels" in why
    clock = _Clock()  # a healthy board, and one the port's opening reset (a second without samples), are not
    for link in (_ScriptedLink(clock), _ResetOnOpenLink(clock)):
        src, out = _run_link(monkeypatch, link, clock, clock.t + 12.0)
        assert not _unusable(out) and src.unusable() == ""


def test_the_live_app_shows_why_a_board_sends_nothing_usable_until_samples_come():
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.gui.acquisition import Acquisition
    from myotwitch.host.stream import DeviceInfo

    acq = Acquisition("sim:test", DetectorConfig())
    acq._handle_record(DeviceInfo("sim", "id", "fw", 1000.0, 1, 0, 1.0, ("ch0",)))
    acq._handle_record(LinkEvent("unusable", "12 frames damaged"))
    assert acq.state.banner == "Sensor connected, but: 12 frames damaged"
    acq._handle_record(SampleBlock(0, 1000.0, np.zeros((1, 20), np.float32)))
    assert acq.state.banner == ""


def test_a_device_that_never_says_what_it_is_is_told_why_once(monkeypatch):
    # the live app showed "connecting…" for ever to firmware of another protocol version (or a
    # board read at the wrong baud rate); `record` says it as its error, the window never did
    class _Version2Link(_ScriptedLink):
        def read(self, timeout):
            out = bytearray()
            for raw in super().read(timeout).split(b"\x00")[:-1]:
                body = bytearray(P.cobs_decode(raw))[:-2]
                body[0] = 2
                out += P.cobs_encode(bytes(body) + P.crc16(bytes(body)).to_bytes(2, "little")) + b"\x00"
            return bytes(out)

    clock = _Clock()
    src, out = _run_link(monkeypatch, _Version2Link(clock), clock, 108.0)
    [why] = _unusable(out)
    assert why.startswith("no device information (INFO) came in 5 s") and "protocol version 2" in why


class _BootBannerUnoLink(_ResetOnOpenLink):
    """An Uno whose sketch prints a line at start-up, before its INFO (a maker's Serial.println
    in setup()): the one INFO it says unasked is spoilt, and the GET_INFO sent at connect went
    to the bootloader."""

    def _advance(self):
        booting = not getattr(self, "booted", True) and self.clock.t >= self.boot_until
        if booting:
            self.out += b"myotwitch uno booting\r\n"
        super()._advance()


def test_a_board_whose_first_info_is_lost_is_asked_again(monkeypatch):
    # the host asked GET_INFO once, at connect: an Uno whose start-up INFO was spoilt waited for
    # START in silence, the host took the silence for a stall and reopened the port, which reset
    # the board into the same again, every 3 s for ever
    clock = _Clock()
    link = _BootBannerUnoLink(clock)
    src, out = _run_link(monkeypatch, link, clock, 108.0)
    assert src.info is not None and link.device.streaming and src.reconnects == 0
    assert not [r for r in out if isinstance(r, LinkEvent) and r.kind in ("stalled", "disconnected")]
    assert sum(r.n for r in out if isinstance(r, SampleBlock)) > 5.5 * 500


def test_a_board_whose_info_comes_late_is_told_why_its_frames_cannot_be_used(monkeypatch):
    # said once a connection: a board heard without INFO for 5 s was told so, and when its INFO
    # came and its frames disagreed with it, nothing more was said; the live app's banner kept
    # saying that no INFO came, and `record` recorded nothing without a word
    class _LateInfoLink(_DisagreeingLink):
        def read(self, timeout):
            data = super().read(timeout)
            if self.clock.t >= 106.5:
                return data
            return b"".join(P.encode_frame(f) for f in P.Decoder().feed(data) if not isinstance(f, P.InfoFrame))

    clock = _Clock()
    src, out = _run_link(monkeypatch, _LateInfoLink(clock), clock, 114.0)
    assert src.info is not None and not [r for r in out if isinstance(r, SampleBlock)]
    said = _unusable(out)
    assert len(said) == 2 and said[0].startswith("no device information (INFO) came")
    assert "sample frames of 2 channels" in said[1] and "its INFO says 1 channels" in said[1]
