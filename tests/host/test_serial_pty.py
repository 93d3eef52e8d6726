"""End to end over a pseudo-terminal: `myotwitch simulate --pty` -> serial source -> decoder -> detector."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from myotwitch.dsp.evaluate import match
from myotwitch.host.sources import open_source
from tests.host.test_sources import run_source


def start_sim(tmp_path, *extra):
    link = tmp_path / "dev"
    truth = tmp_path / "truth.json"
    proc = subprocess.Popen([sys.executable, "-m", "myotwitch.host.cli", "simulate", "--pty", "--link", str(link),
                             "--truth", str(truth), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not link.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)
    return proc, link, truth


def stop_sim(proc):
    proc.send_signal(signal.SIGINT)
    try:
        proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def run_over_pty(tmp_path, n_samples, *sim_args):
    """Start the simulator on a pty, read ``n_samples`` through serial:LINK, stop it.
    Returns (pipeline, events, records, source stats, truth path)."""
    proc, link, truth = start_sim(tmp_path, *sim_args)
    try:
        src = open_source(f"serial:{link}")
        pipe, events, records = run_source(src, n_samples)
        src.close()
    finally:
        stop_sim(proc)
    return pipe, events, records, src.stats(), truth


def test_pty_end_to_end_matches_the_simulators_truth(tmp_path):
    pipe, events, records, stats, truth_path = run_over_pty(
        tmp_path, 8000, "--rate", "1000", "--channels", "2", "--twitch-rate", "30", "--seed", "7")
    truth = json.loads(truth_path.read_text())
    assert stats["samples_lost"] == 0 and stats["decoder_errors"] == 0
    # (the host's sample 0 is the device's first streamed sample, the truth's time 0)
    t_end = pipe.samples_in / 1000
    for ch in (0, 1):
        got = np.array([e.onset_s for e in events if e.kind == "twitch" and e.channel == ch])
        want = np.array([t["onset_s"] for t in truth["twitches"]
                         if t["channel"] == ch and 0.3 < t["onset_s"] and t["offset_s"] < t_end - 0.2])
        tp, fp, fn = match(got[(got > 0.3) & (got < t_end - 0.2)], want)
        assert fp == 0 and fn == 0, (ch, tp, fp, fn)


@pytest.mark.parametrize("n, every, away, longest", [(9000, "3", "1", 2.5), (12000, "5", "2", 3.2)])
def test_unplug_and_replug_reports_the_exact_gap(n, every, away, longest, tmp_path):
    """... and the gap is the unplug and at most the half second of a retry's wait, plus
    scheduling (a 2 s unplug cost 4 s of data while the retries' waits doubled to 2 s)."""
    pipe, events, records, _, _ = run_over_pty(tmp_path, n, "--rate", "1000", "--twitch-rate", "40",
                                               "--unplug-every", every, "--unplug-for", away)
    from myotwitch.host.stream import GapRecord, LinkEvent

    kinds = [r.kind for r in records if isinstance(r, LinkEvent)]
    assert "disconnected" in kinds and kinds.count("connected") >= 2
    gaps = [r for r in records if isinstance(r, GapRecord)]
    assert gaps and all(g.exact for g in gaps)
    # one unplug each, measured by the device counter
    assert all(0.8 * float(away) < g.duration_s < longest for g in gaps), [g.duration_s for g in gaps]
    for g in gaps:
        for e in events:
            assert e.offset_sample <= g.start_sample or e.onset_sample >= g.start_sample + g.n_samples


def test_a_port_that_is_not_our_device_is_one_clear_error(tmp_path):
    master, slave = os.openpty()
    try:
        os.write(master, b"hello, I am a GPS receiver\r\n" * 20)
        from myotwitch.host.recorder import Recorder

        src = open_source(f"serial:{os.ttyname(slave)}")
        rec = Recorder(src, str(tmp_path / "out"), info_timeout_s=1.5, status_interval_s=999)
        from myotwitch.host.errors import SourceError

        with pytest.raises(SourceError, match="no myotwitch device information"):
            rec.run()
    finally:
        os.close(master)
        os.close(slave)


def test_bit_errors_and_dropped_frames_over_the_pty(tmp_path):
    from myotwitch.host.stream import GapRecord

    pipe, events, records, stats, _ = run_over_pty(tmp_path, 10_000, "--rate", "1000", "--twitch-rate", "40",
                                                   "--bit-errors", "0.00005", "--drop", "0.02", "--seed", "3")
    gaps = [r for r in records if isinstance(r, GapRecord)]
    assert gaps and stats["samples_lost"] == sum(g.n_samples for g in gaps)
    assert pipe.samples_in == stats["samples"] + stats["samples_lost"]
    for g in gaps:
        for e in events:
            assert e.offset_sample <= g.start_sample or e.onset_sample >= g.start_sample + g.n_samples


def test_permission_denied_is_one_clear_error(monkeypatch, tmp_path):
    import errno

    import serial

    from myotwitch.host.errors import SourceError

    port = tmp_path / "ttyFAKE"
    port.write_text("")

    def denied(*a, **k):
        raise serial.SerialException(errno.EACCES, f"could not open port {port}: [Errno 13] Permission denied")

    monkeypatch.setattr(serial, "serial_for_url", denied)
    with pytest.raises(SourceError, match="permission denied.*dialout"):
        open_source(f"serial:{port}")


def test_serial_auto_follows_a_replug_under_a_new_name(tmp_path, monkeypatch):
    """A real unplug often comes back as another device node; serial:auto finds it again."""
    import threading

    from myotwitch.host.sources import serial as serial_mod
    from myotwitch.host.stream import GapRecord

    proc = subprocess.Popen([sys.executable, "-m", "myotwitch.host.cli", "simulate", "--pty", "--rate", "1000",
                             "--unplug-every", "3", "--unplug-for", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    paths: list[str] = []

    def follow():
        for line in proc.stdout:
            paths.append(line.strip())

    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + 20
    while not paths:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    def current(baudrate=None):
        path = paths[-1]
        if not os.path.exists(path):
            from myotwitch.host.errors import SourceError

            raise SourceError("serial:auto: no myotwitch device found")
        return path

    monkeypatch.setattr(serial_mod, "resolve_auto", current)
    try:
        src = open_source("serial:auto")
        pipe, events, records = run_source(src, 8000)
        src.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
        proc.stdout.close()
    assert len(set(paths)) >= 1 and src.reconnects >= 1
    assert [r for r in records if isinstance(r, GapRecord)]


def _fake_uno(monkeypatch, swallow_s):
    """A pty listed as an Arduino Uno's USB id, whose 'firmware' (a thread) ignores what it
    hears for ``swallow_s`` (the bootloader after the open's reset), then answers GET_INFO."""
    import select
    import threading
    import tty
    from types import SimpleNamespace

    from myotwitch.dsp.synth import SynthSpec
    from myotwitch.host.simulator import VirtualDevice
    from myotwitch.host.sources import serial as serial_mod

    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    monkeypatch.setattr(serial_mod.list_ports, "comports",
                        lambda: [SimpleNamespace(device=path, vid=0x2341, pid=0x0043, description="Uno")])
    dev = VirtualDevice(SynthSpec(fs=1000.0))
    stop = threading.Event()

    def firmware():
        start = None
        while not stop.is_set():
            if not select.select([master], [], [], 0.02)[0]:
                continue
            data = os.read(master, 4096)
            start = start or time.monotonic()
            if time.monotonic() - start >= swallow_s:
                os.write(master, dev.receive(data))

    thread = threading.Thread(target=firmware, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join(2)
        os.close(master)
        os.close(slave)

    return path, close


def test_an_uno_is_read_at_its_own_baud_rate_and_probed_past_its_bootloader(monkeypatch, tmp_path):
    # the probe asked at 1 Mbaud, once, for 0.7-1 s: `devices` and serial:auto never found an
    # Uno (250000 baud, reset by the port's opening, its bootloader deaf for about a second)
    from myotwitch.host.sources import serial as serial_mod

    path, close = _fake_uno(monkeypatch, swallow_s=1.2)
    try:
        assert serial_mod.board_of(path).baud == serial_mod.AVR_BAUD
        by_id = tmp_path / "usb-Arduino_Uno-if00"  # (as /dev/serial/by-id/ names it)
        by_id.symlink_to(path)
        assert serial_mod.board_of(str(by_id)).baud == serial_mod.AVR_BAUD
        link = serial_mod.SerialLink(path)
        link.open()
        assert link._ser.baudrate == 250_000
        link.close()
        explicit = serial_mod.SerialLink(path, 115_200)
        explicit.open()
        assert explicit._ser.baudrate == 115_200  # ?baud= wins
        explicit.close()
        assert serial_mod.resolve_auto() == path
        [row] = serial_mod.list_devices()
        assert row["answers_protocol"] and row["description"] == "Arduino Uno"
    finally:
        close()


def test_a_port_another_program_holds_is_refused_not_shared(monkeypatch, tmp_path):
    # two programs on one port (a recorder service and `live`, or the Arduino serial monitor)
    # each read part of the bytes: both recorded every other frame, as gaps. The second open
    # is refused in one line, `devices` and serial:auto say the port is in use (a probe would
    # steal the first program's bytes), and --wait waits for the port to come free
    from myotwitch.host.errors import SourceError
    from myotwitch.host.sources import serial as serial_mod

    path, close = _fake_uno(monkeypatch, swallow_s=0.0)
    try:
        first = open_source(f"serial:{path}")
        try:
            with pytest.raises(SourceError, match=r"in use by another program.*close the other one"):
                open_source(f"serial:{path}")
            [row] = serial_mod.list_devices()
            assert row["in_use"] and not row["answers_protocol"]
            with pytest.raises(SourceError, match=f"no free myotwitch device found; {path} is in use"):
                serial_mod.resolve_auto()
            waiting = open_source(f"serial:{path}", wait=True)
            assert not waiting.connected
        finally:
            first.close()
        deadline = time.monotonic() + 5
        while not waiting.connected and time.monotonic() < deadline:
            waiting.read(0.1)
        assert waiting.connected  # free again: the waiting one takes it
        waiting.close()
        assert serial_mod.list_devices()[0]["answers_protocol"]
    finally:
        close()


def test_simulate_states_the_scale_and_width_of_a_makers_board(tmp_path):
    # a maker compares their board with the simulator: same scale and sample width (the
    # simulator was fixed at 0.125 µV per count, 16 bits)
    from myotwitch.host.stream import DeviceInfo

    proc, link, _ = start_sim(tmp_path, "--uv-per-count", "0.879", "--int24", "--channels", "2")
    try:
        src = open_source(f"serial:{link}")
        deadline = time.monotonic() + 10
        info = None
        while info is None and time.monotonic() < deadline:
            info = next((r for r in src.read(0.2) if isinstance(r, DeviceInfo)), None)
        src.close()
    finally:
        stop_sim(proc)
    assert info is not None and info.sample_format == 2 and info.n_channels == 2
    assert info.uv_per_count == pytest.approx(0.879, rel=1e-6)


@pytest.mark.parametrize("scale", ["0", "-1", "1e6", "nan"])
def test_simulate_refuses_an_impossible_scale(scale):
    p = subprocess.run([sys.executable, "-m", "myotwitch.host.cli", "simulate", "--uv-per-count", scale],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--uv-per-count" in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("vid, pid", [(0x2341, 0x0043), (0x2341, 0x0001), (0x2A03, 0x0043), (0x2341, 0x0243),
                                      (0x2341, 0x006A), (0x1A86, 0x7523), (0x1A86, 0x55D4)])
def test_every_uno_id_of_the_arduino_core_and_the_nano_clones_bridges_is_read_at_250000(monkeypatch, vid, pid):
    # a genuine Uno of the 2A03 or 0243 ids (both in the Arduino AVR core's boards.txt) or a Nano
    # clone on a CH9102 was read at 1 Mbaud: `devices` did not list it, serial:auto never found it
    from types import SimpleNamespace

    from myotwitch.host.sources import serial as serial_mod

    monkeypatch.setattr(serial_mod.list_ports, "comports",
                        lambda: [SimpleNamespace(device="/dev/ttyACM7", vid=vid, pid=pid, description="x")])
    board = serial_mod.board_of("/dev/ttyACM7")
    assert board.baud == serial_mod.AVR_BAUD and board.probe_s == serial_mod.AVR_SETTLE_S


def test_a_two_channel_24_bit_board_is_recorded(tmp_path):
    # the recorder died in its first second ("internal error: ... the last axis must be
    # contiguous") on any board of more than one channel in int24 (an ADS1292R's), and left
    # a file of no records
    from myotwitch.host.edf import EdfReader
    from myotwitch.host.recorder import Recorder

    proc, link, _ = start_sim(tmp_path, "--int24", "--channels", "2", "--rate", "2000", "--uv-per-count", "0.048")
    try:
        rec = Recorder(open_source(f"serial:{link}"), str(tmp_path / "rec"), duration_s=3.0, events_path=None)
        rec.run()
    finally:
        stop_sim(proc)
    [path] = rec.closed_files
    assert path.endswith(".bdf")
    y, fs = EdfReader(path).read_all()
    assert fs == 2000 and y.shape[0] == 2 and np.isfinite(y).sum(axis=1).min() >= 3 * 2000


def test_the_truth_lists_only_what_was_streamed(tmp_path):
    # the signal is made 10 s ahead: a 17.1 s stream's --truth had named a twitch at 18.8 s
    pipe, events, _, _, truth_path = run_over_pty(tmp_path, 1500, "--twitch-rate", "120", "--seed", "3")
    truth = json.loads(truth_path.read_text())
    end = truth["samples"] / truth["fs"]
    assert pipe.samples_in <= truth["samples"] and end < 8.0  # (well inside the first 10 s made)
    assert truth["twitches"] and all(t["onset_s"] < end for t in truth["twitches"])
    assert all(c["onset_s"] < end for c in truth["confounders"])
