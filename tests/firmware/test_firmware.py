"""The firmware core on the host (ASan/UBSan), its cross builds, and the AVR build in simavr."""

import ctypes
import math
import os
import pathlib
import re
import shutil
import struct
import subprocess

import numpy as np
import pytest

from myotwitch.host import protocol as P

FW = pathlib.Path(__file__).resolve().parents[2] / "firmware"


def make(*targets, timeout=300):
    return subprocess.run(["make", "-C", str(FW), *targets], capture_output=True, text=True, timeout=timeout)


def test_core_unit_tests_and_golden_vectors_pass_in_c():
    r = make("test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" passed, 0 failed") == 2, r.stdout


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="gcc-arm-none-eabi not installed")
def test_core_builds_for_cortex_m4_within_budget():
    r = make("arm")
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if "core_cm4.elf" in ln and ln.strip()[0].isdigit()][-1]
    text, data, bss = (int(v) for v in line.split()[:3])
    assert text < 16 * 1024  # the whole protocol core in under 16 KB of flash
    assert data + bss < 16 * 1024


needs_simavr = pytest.mark.skipif(
    shutil.which("avr-gcc") is None or shutil.which("pkg-config") is None
    or subprocess.run(["pkg-config", "--exists", "simavr"]).returncode != 0, reason="gcc-avr/simavr not installed")


def run_avr(tmp_path, seconds, commands, *bursts):
    """The AVR firmware in simavr for ``seconds``: ``commands`` from 50 ms on, each (at_s, bytes)
    of ``bursts`` back to back from the first frame the firmware starts sending after at_s.
    Returns the bytes it sent and the harness's report (stderr)."""
    r = make("avr", "simavr")
    assert r.returncode == 0, r.stdout + r.stderr
    args = [str(FW / "build" / "avr_harness"), str(FW / "build" / "myotwitch_uno.elf"), str(tmp_path / "uart.bin"),
            str(seconds)]
    (tmp_path / "cmds.bin").write_bytes(commands)
    args.append(str(tmp_path / "cmds.bin"))
    for i, (at, data) in enumerate(bursts):
        (tmp_path / f"burst{i}.bin").write_bytes(data)
        args += [str(at), str(tmp_path / f"burst{i}.bin")]
    run = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return (tmp_path / "uart.bin").read_bytes(), run.stderr


@needs_simavr
def test_avr_firmware_streams_decodable_frames_in_simavr(tmp_path):
    data, report = run_avr(tmp_path, 3.0, P.encode_command(0, P.CMD_GET_INFO) + P.encode_command(1, P.CMD_START)
                           + P.encode_command(2, P.CMD_PING, 1234))
    # the harness drops what a real ATmega328P's 2-character receive buffer would lose
    assert "rx overruns: 0" in report, report
    dec = P.Decoder()
    frames = dec.feed(data)
    assert dec.stats.errors == 0
    info = [f for f in frames if isinstance(f, P.InfoFrame)]
    assert info and info[-1].sample_rate_hz == 1000 and info[-1].n_channels == 1
    assert any(isinstance(f, P.PongFrame) and f.token == 1234 for f in frames)
    status = [f for f in frames if isinstance(f, P.StatusFrame)]
    assert status
    # no battery on an Uno: "not measured" (0 mV, 255 %), never a made-up 5000 mV; no lead-off sensing
    assert all(f.battery_mv == 0 and f.battery_pct == 255 and f.flags & 0x09 == 0 for f in status)
    s = [f for f in frames if isinstance(f, P.SamplesFrame)]
    # contiguous, gap-free sample counter at the configured rate
    for a, b in zip(s, s[1:]):
        assert b.first_sample == a.first_sample + a.n_samples
    span = s[-1].first_sample + s[-1].n_samples - s[0].first_sample
    assert 2800 <= span <= 3000  # ~3 s at 1 kHz minus the start-up before START
    # the injected 5 Hz, 1 V (=204.8 counts) sine comes back with the right frequency and size
    x = np.concatenate([f.counts for f in s]).astype(float)
    spec = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(x.size, 1 / 1000.0)
    assert abs(freqs[spec.argmax()] - 5.0) < 0.5
    assert 195 < (x.max() - x.min()) / 2 < 212


@needs_simavr
def test_avr_firmware_streams_at_its_highest_rate_with_the_adc_clock_in_spec(tmp_path):
    """4 kHz, the top of the protocol's range: the ADC runs at 16 MHz / 128 = 125 kHz (inside the
    datasheet's 50-200 kHz for 10 bits; simavr times a conversion from the prescaler), so a
    conversion takes 104 µs of the 250 µs period; the UART carries ~12 of its 25 kB/s."""
    data, report = run_avr(tmp_path, 2.0, P.encode_command(0, P.CMD_SET_RATE, 4000) + P.encode_command(1, P.CMD_START))
    assert "rx overruns: 0" in report, report
    dec = P.Decoder()
    frames = dec.feed(data)
    assert dec.stats.errors == 0
    assert [f.sample_rate_hz for f in frames if isinstance(f, P.InfoFrame)][-1] == 4000
    assert all(f.overruns == 0 for f in frames if isinstance(f, P.StatusFrame))
    s = [f for f in frames if isinstance(f, P.SamplesFrame)]
    for a, b in zip(s, s[1:]):
        assert b.first_sample == a.first_sample + a.n_samples
    assert 7500 <= s[-1].first_sample + s[-1].n_samples - s[0].first_sample <= 8000
    x = np.concatenate([f.counts for f in s]).astype(float)
    spec = np.abs(np.fft.rfft(x - x.mean()))
    assert abs(np.fft.rfftfreq(x.size, 1 / 4000.0)[spec.argmax()] - 5.0) < 0.75
    assert 195 < (x.max() - x.min()) / 2 < 212


@needs_simavr
def test_avr_firmware_answers_commands_that_arrive_while_it_sends_a_frame(tmp_path):
    """A frame keeps the Uno's main loop busy for ~2 ms and its UART holds two characters: the
    receive interrupt queues command bytes, so a PING and a STOP sent at the line rate while a
    frame goes out are answered, and nothing is lost (the harness models the data overrun)."""
    data, report = run_avr(tmp_path, 3.0, P.encode_command(0, P.CMD_GET_INFO) + P.encode_command(1, P.CMD_START),
                           (1.0, P.encode_command(2, P.CMD_PING, 777)), (2.0, P.encode_command(3, P.CMD_STOP)))
    assert "rx overruns: 0" in report and "burst" not in report, report
    dec = P.Decoder()
    frames = dec.feed(data)
    assert dec.stats.errors == 0
    assert [f.token for f in frames if isinstance(f, P.PongFrame)] == [777]
    assert [(f.opcode, f.status) for f in frames if isinstance(f, P.AckFrame)] == [(P.CMD_START, 0), (P.CMD_STOP, 0)]
    s = [f for f in frames if isinstance(f, P.SamplesFrame)]
    end = s[-1].first_sample + s[-1].n_samples
    assert 1950 <= end <= 2050  # stopped at 2 s (1 kHz), not at the end of the run


@needs_simavr
def test_avr_firmware_refuses_a_rate_its_timer_cannot_hit_exactly(tmp_path):
    """The Uno's Timer1 counts a 2 MHz clock: 3000 Hz would be 666 ticks, 3003 Hz, 0.1 % off the
    rate INFO states (29 s of timing error over an 8 h night). SET_RATE answers it "bad argument"
    and keeps the old rate; 2500 Hz (800 ticks) is taken and sampled at."""
    data, report = run_avr(tmp_path, 1.5, P.encode_command(0, P.CMD_SET_RATE, 3000)
                           + P.encode_command(1, P.CMD_SET_RATE, 2500) + P.encode_command(2, P.CMD_START))
    assert "rx overruns: 0" in report, report
    dec = P.Decoder()
    frames = dec.feed(data)
    assert dec.stats.errors == 0
    acks = [(f.opcode, f.status) for f in frames if isinstance(f, P.AckFrame)]
    assert acks == [(P.CMD_SET_RATE, P.ACK_BAD_ARG), (P.CMD_SET_RATE, P.ACK_OK), (P.CMD_START, P.ACK_OK)]
    assert [f.sample_rate_hz for f in frames if isinstance(f, P.InfoFrame)][-1] == 2500
    s = [f for f in frames if isinstance(f, P.SamplesFrame)]
    span = s[-1].first_sample + s[-1].n_samples - s[0].first_sample
    assert 3000 <= span <= 3750  # ~1.45 s at 2500 Hz


SKETCH = FW / "boards" / "xiao_nrf52840" / "xiao_nrf52840.ino"
NRF52_CORE = os.environ.get("MYOTWITCH_NRF52_CORE", "")


def test_xiao_sketch_leaves_the_saadc_to_the_sampling_interrupt():
    """The core's analogRead() reconfigures and disables the SAADC under the sampling interrupt
    (issue 17): the sketch must never call it, and must close the battery divider itself."""
    code = re.sub(r"//[^\n]*", "", SKETCH.read_text())
    assert "analogRead" not in code
    assert "digitalWrite(VBAT_ENABLE, LOW)" in code
    # SAADC registers only in the init and the TIMER2 interrupt (the two functions that own it)
    users = {name for name, body in _sketch_functions().items() if "NRF_SAADC" in body}
    assert users == {"saadc_init", "TIMER2_IRQHandler"}


def _sketch_functions() -> dict[str, str]:
    """The XIAO sketch's functions by name: their bodies, comments left out."""
    code = re.sub(r"//[^\n]*", "", SKETCH.read_text())
    head = r"\n(?:static |extern \"C\" )?[\w ]+?(\w+)\([^)]*\) \{"
    return dict(zip(re.findall(head, code), (b.split("\n}\n")[0] for b in re.split(head, code)[2::2])))


def test_xiao_sketch_hands_commands_to_the_device_from_loop_only():
    """Bluefruit calls a characteristic's write callback on its own task, which preempts loop():
    on_command fed mt_device_receive() there, racing mt_device_poll() in loop() over the reply
    queue. The device's state has one owner, loop(); the callback only queues the bytes."""
    body_of = _sketch_functions()
    assert {n for n, b in body_of.items() if "mt_device_receive" in b or "mt_device_poll" in b} == {"loop"}
    assert "mt_rxq_put(&ble_rx" in body_of["on_command"] and "mt_rxq_get(&ble_rx" in body_of["loop"]
    assert "mt_rxq_init(&ble_rx)" in body_of["setup"].split("Bluefruit.begin()")[0]
    # one producer: by default Bluefruit runs the callback on its Callback task, and inline on
    # the BLE task when it cannot allocate the task's queue item, so both could write the queue
    registered = re.findall(r"commandChr\.setWriteCallback\(([^)]*)\)", "".join(body_of.values()))
    assert registered == ["on_command, false"]


def test_xiao_sketch_never_waits_on_a_usb_host_that_stops_reading():
    """The core's Serial.write() waits while the USB FIFO (256 bytes) is full for as long as the
    port is open: a program that opened the port and stopped reading stopped loop(), and BLE
    with it. Frames go to USB through mt_usbtx, never more than availableForWrite() at once
    (the sender itself is tested on the host in firmware/tests/test_core.c)."""
    body_of = _sketch_functions()
    writers = {n for n, b in body_of.items() if "Serial.write(" in b}
    assert writers == {"usb_pump"}
    pump = body_of["usb_pump"]
    assert "Serial.availableForWrite()" in pump and "mt_usbtx_next(&usb_tx, room" in pump
    assert "mt_usbtx_reset(&usb_tx)" in pump.split("Serial.availableForWrite()")[0]  # (a closed port)
    assert "mt_usbtx_offer(&usb_tx, frame, n)" in body_of["loop"] and "usb_pump()" in body_of["loop"]


@pytest.mark.skipif(not NRF52_CORE, reason="no Arduino nRF52 core given: set MYOTWITCH_NRF52_CORE to its folder "
                    "(e.g. ~/.arduino15/packages/Seeeduino/hardware/nrf52/1.1.8) to compile the XIAO sketch")
def test_xiao_sketch_compiles_against_the_real_core_without_warnings():
    r = subprocess.run([str(FW / "scripts" / "build_nrf52.sh"), NRF52_CORE], capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sketch warnings (-Wall -Wextra -Wconversion): 0" in r.stdout, r.stdout
    flash = int(re.search(r"^flash: (\d+) bytes .* of (\d+)", r.stdout, re.M).group(1))
    ram = int(re.search(r"^ram: +(\d+) bytes", r.stdout, re.M).group(1))
    assert 50_000 < flash < 811_008 // 4  # a real BLE image, well inside the application flash
    assert 8_000 < ram < 237_568 // 4


def _boundary_bodies() -> list[bytes]:
    """Frame bodies (without CRC) at and just past each limit PROTOCOL.md states."""
    def info(rate=1000, nch=2, fmt=P.FMT_INT16, uvpc=0.8, labels=(b"a", b"bb"), extra=b"", version=1):
        p = struct.pack("<BBBBQHBBfB", 1, 0, 2, 0, 0x1122334455667788, rate, nch, fmt, uvpc, 1)
        return bytes([version, P.T_INFO, 5, 0]) + p + b"".join(bytes([len(x)]) + x for x in labels) + extra

    def samples(nch=2, fmt=P.FMT_INT16, n=3, extra=0):
        width = P.SAMPLE_BYTES.get(fmt, 2)
        return bytes([1, P.T_SAMPLES, 1, 0]) + struct.pack("<IBBB", 7, nch, fmt, n) + bytes(
            (k * 37 + 1) % 256 for k in range(n * nch * width + extra))

    out = [info(rate=r) for r in (249, 250, 4000, 4001)]
    out += [info(nch=n, labels=(b"c",) * n) for n in (0, 1, 8, 9)] + [info(nch=2, labels=(b"a",))]
    out += [info(fmt=f) for f in (0, 1, 2, 3)]
    out += [info(uvpc=u) for u in (0.0, -1.0, 1e-30, 999_999.9, 1e6, math.inf, math.nan)]
    out += [info(labels=(x, b"y")) for x in (b"", b"x" * 16, b"x" * 17, b"\x80ab", b"\x7f")]
    out += [info(extra=b"\x00"), info(version=0), info(version=2)]
    out += [samples(**kw) for kw in (dict(), dict(nch=0), dict(nch=8), dict(nch=9), dict(fmt=0), dict(fmt=2),
                                     dict(fmt=3), dict(n=0), dict(n=64, nch=8), dict(extra=1), dict(extra=-1))]
    out += [bytes([1, P.T_STATUS, 0, 0]) + bytes(n) for n in (16, 17, 18)]
    out += [bytes([1, P.T_PONG, 0, 0]) + bytes(n) for n in (3, 4, 5)]
    out += [bytes([1, P.T_ACK, 0, 0]) + bytes(n) for n in (1, 2, 3)]
    out += [bytes([1, P.T_COMMAND, 0, 0, op]) + bytes(n) for op in range(9) for n in range(6)]
    out += [bytes([1, P.T_COMMAND, 0, 0]), bytes([1, 0x7E, 0, 0])]
    out += [bytes([1, P.T_COMMAND, 0, 0, 9]) + bytes(n) for n in (2041, 2042, 2043)]  # bodies of 2048-2050 bytes
    return out


def test_c_and_python_decoders_accept_and_reject_the_same_frames_at_every_limit():
    """PROTOCOL.md's limits (rate, channels, format, scale, labels, lengths, version, body size)
    held by both decoders alike: the C core had taken a 2050-byte body and a label byte over
    0x7F, the host a 2050-byte body whose zeros kept its COBS short."""
    r = make("blesim")
    assert r.returncode == 0, r.stdout + r.stderr
    lib = ctypes.CDLL(str(FW / "build" / "libmt_blesim.so"))
    lib.mt_frame_decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                    ctypes.c_void_p]
    scratch, frame = ctypes.create_string_buffer(4096), ctypes.create_string_buffer(1 << 16)
    verdicts = []
    for body in _boundary_bodies():
        enc = P.cobs_encode(body + P.crc16(body).to_bytes(2, "little"))
        c_ok = lib.mt_frame_decode(enc, len(enc), scratch, len(scratch), frame) == 0
        dec = P.Decoder()
        py_ok = len(dec.feed(enc + b"\x00")) == 1
        assert c_ok == py_ok, f"C {'accepts' if c_ok else 'rejects'}, host {dec.stats.last_error or 'accepts'}: " \
                              f"{body[:24].hex()} ({len(body) + 2} bytes)"
        verdicts.append(c_ok)
    assert 30 < sum(verdicts) < len(verdicts) - 30  # both kinds, many of each
