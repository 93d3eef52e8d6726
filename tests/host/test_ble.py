"""The bleak backend at the bleak API boundary: a fake scanner and client deliver the virtual
device's bytes as MTU-sized notifications, drop the link, and record command writes."""

import asyncio
import contextlib
import ctypes
import os
import pathlib
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from myotwitch.dsp.synth import SynthSpec
from myotwitch.host import protocol as P
from myotwitch.host.errors import SourceError
from myotwitch.host.simulator import VirtualDevice
from myotwitch.host.sources.base import LinkSource
from myotwitch.host.sources.ble import COMMAND_UUID, NOTIFY_UUID, SERVICE_UUID, BleLink, scan
from myotwitch.host.stream import GapRecord, LinkEvent, SampleBlock, StatusRecord
from tests.host.test_sources import run_source


class Air:
    """What the fake radio knows: one virtual device, its MTU, when to drop the link."""

    def __init__(self, mtu=247, drop_after_notifications=None):
        self.device = VirtualDevice(SynthSpec(fs=1000.0, twitch_rate=30.0, seed=5))
        self.mtu = mtu
        self.drop_after = drop_after_notifications
        self.notifications = 0
        self.writes = []
        self.connects = 0
        self.present = True


def make_fakes(air):
    ble_device = SimpleNamespace(address="AA:BB:CC:DD:EE:FF", name="myotwitch")
    adv = SimpleNamespace(service_uuids=[SERVICE_UUID], local_name="myotwitch", rssi=-61)

    class FakeScanner:
        @staticmethod
        async def find_device_by_filter(filterfunc, timeout=10.0):
            await asyncio.sleep(0)
            return ble_device if air.present and filterfunc(ble_device, adv) else None

        @staticmethod
        async def discover(timeout=5.0, return_adv=False):
            return {ble_device.address: (ble_device, adv)}

    class FakeClient:
        def __init__(self, device, disconnected_callback=None):
            self.device = device
            self.on_disconnect = disconnected_callback
            self.mtu_size = air.mtu
            self.task = None
            self.connected = False
            self.pending = bytearray()  # replies to commands, sent with the next notification

        async def connect(self):
            air.connects += 1
            self.connected = True

        async def start_notify(self, uuid, callback):
            assert uuid == NOTIFY_UUID
            self.task = asyncio.get_running_loop().create_task(self._pump(callback))

        async def _pump(self, callback):
            payload = air.mtu - 3
            while self.connected:
                await asyncio.sleep(0.002)
                data = bytes(self.pending) + air.device.step(20)  # the device's clock: 20 samples per tick
                self.pending.clear()
                for i in range(0, len(data), payload):
                    callback(None, bytearray(data[i: i + payload]))  # frames split across notifications
                    air.notifications += 1
                    if air.drop_after and air.notifications % air.drop_after == 0:
                        self.connected = False
                        # the radio is gone for a while; the device keeps sampling
                        air.device.step(700)
                        self.on_disconnect(self)
                        return

        async def write_gatt_char(self, uuid, data, response=None):
            assert uuid == COMMAND_UUID and len(data) <= air.mtu - 3
            air.writes.append(bytes(data))
            self.pending += air.device.receive(bytes(data))

        async def disconnect(self):
            self.connected = False

    return FakeClient, FakeScanner


def test_notifications_are_reassembled_and_commands_written():
    air = Air(mtu=64)  # a small MTU: every frame spans several notifications
    client, scanner = make_fakes(air)
    src = LinkSource("ble:auto", BleLink("auto", client_cls=client, scanner_cls=scanner), stall_timeout_s=5)
    pipe, events, records = run_source(src, 5000)
    src.close()
    assert src.stats()["decoder_errors"] == 0 and src.stats()["samples_lost"] == 0
    cmds = P.Decoder().feed(b"".join(air.writes))
    assert [c.opcode for c in cmds][:2] == [P.CMD_GET_INFO, P.CMD_START]
    assert any(e.kind == "twitch" for e in events)


def test_disconnect_reconnects_and_reports_the_exact_gap():
    air = Air(drop_after_notifications=60)
    client, scanner = make_fakes(air)
    src = LinkSource("ble:auto", BleLink("auto", client_cls=client, scanner_cls=scanner), stall_timeout_s=5,
                     backoff_s=(0.01, 0.05))
    pipe, events, records = run_source(src, 8000)
    src.close()
    assert air.connects >= 2
    kinds = [r.kind for r in records if isinstance(r, LinkEvent)]
    assert "disconnected" in kinds
    gaps = [r for r in records if isinstance(r, GapRecord)]
    assert gaps and all(g.exact for g in gaps)
    assert pipe.samples_in == src.stats()["samples"] + src.stats()["samples_lost"]
    blocks = [r for r in records if isinstance(r, SampleBlock)]
    assert blocks


def test_device_not_in_range_is_a_clear_error():
    air = Air()
    air.present = False
    client, scanner = make_fakes(air)
    with pytest.raises(SourceError, match="no BLE device 'auto'"):
        LinkSource("ble:auto", BleLink("auto", client_cls=client, scanner_cls=scanner, scan_timeout=0.1))


def test_no_adapter_is_one_line():
    class NoAdapter:
        @staticmethod
        async def find_device_by_filter(filterfunc, timeout=10.0):
            raise OSError("No Bluetooth adapters found.")

    with pytest.raises(SourceError, match="Bluetooth is not available"):
        LinkSource("ble:auto", BleLink("auto", client_cls=object, scanner_cls=NoAdapter))


def test_scan_lists_our_devices_with_signal_strength():
    _, scanner = make_fakes(Air())
    assert scan(0.1, scanner_cls=scanner) == [{"spec": "ble:AA:BB:CC:DD:EE:FF", "description": "myotwitch",
                                               "rssi_dbm": -61}]


# -- the firmware's own BLE path: frames sized and cut by the C core for the agreed MTU ----------

FW = pathlib.Path(__file__).resolve().parents[2] / "firmware"


@pytest.fixture(scope="module")
def blesim():
    """The portable core's BLE streaming path (firmware/tests/ble_sim.c) as a shared library."""
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("make and a C compiler are needed to build the firmware core")
    r = subprocess.run(["make", "-C", str(FW), "blesim"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lib = ctypes.CDLL(str(FW / "build" / "libmt_blesim.so"))
    lib.sim_open.argtypes = [ctypes.c_uint16, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_int16]
    lib.sim_set_mtu.argtypes = [ctypes.c_uint16]
    lib.sim_receive.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.sim_step.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_uint16),
                             ctypes.c_size_t]
    lib.sim_step.restype = ctypes.c_size_t
    lib.sim_frame_samples.restype = ctypes.c_uint8
    return lib


class FirmwareRadio:
    """The C device streaming over a link whose MTU starts at 23 and becomes `mtu` once the
    exchange completes (after `exchange_after_ms` of device time)."""

    RATE, CHANNELS, BATTERY_COUNTS = 1000, 2, 1422  # 1422 counts behind the XIAO divider = 3.70 V

    def __init__(self, lib, mtu, exchange_after_ms=100):
        self.lib, self.mtu, self.exchange_after = lib, mtu, exchange_after_ms
        assert lib.sim_open(self.RATE, self.CHANNELS, 23, self.BATTERY_COUNTS) == 0
        self.ticks = 0
        self.lengths_before, self.lengths_after = [], []  # notification sizes around the exchange
        self.frame_samples = set()
        self.writes = []
        self._out = ctypes.create_string_buffer(64 * 1024)
        self._lens = (ctypes.c_uint16 * 8192)()

    def step(self, ticks):
        if self.ticks >= self.exchange_after:
            self.lib.sim_set_mtu(self.mtu)
        n = self.lib.sim_step(ticks, self._out, len(self._out), self._lens, len(self._lens))
        data, out, off = self._out.raw[:n], [], 0
        for length in self._lens:
            if length == 0:
                break
            out.append(data[off: off + length])
            off += length
        assert off == n
        (self.lengths_after if self.ticks >= self.exchange_after else self.lengths_before).extend(map(len, out))
        self.ticks += ticks
        self.frame_samples.add(self.lib.sim_frame_samples())
        return out

    def receive(self, data):
        self.writes.append(bytes(data))
        self.lib.sim_receive(bytes(data), len(data))


def firmware_fakes(radio):
    ble_device = SimpleNamespace(address="11:22:33:44:55:66", name="myotwitch")
    adv = SimpleNamespace(service_uuids=[SERVICE_UUID], local_name="myotwitch", rssi=-50)

    class Scanner:
        @staticmethod
        async def find_device_by_filter(filterfunc, timeout=10.0):
            return ble_device if filterfunc(ble_device, adv) else None

    class Client:
        def __init__(self, device, disconnected_callback=None):
            self.mtu_size = radio.mtu
            self.connected = False
            self.task = None

        async def connect(self):
            self.connected = True

        async def start_notify(self, uuid, callback):
            self.task = asyncio.get_running_loop().create_task(self._pump(callback))

        async def _pump(self, callback):
            while True:
                await asyncio.sleep(0.002)
                if not self.connected:  # a step after disconnect would race the next test's device
                    return
                for note in radio.step(20):  # 20 ms of device time per step
                    callback(None, bytearray(note))

        async def write_gatt_char(self, uuid, data, response=None):
            assert uuid == COMMAND_UUID
            radio.receive(data)

        async def disconnect(self):
            # like bleak: notifications stop before disconnect returns (the radio is shared C state)
            self.connected = False
            if self.task is not None:
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task

    return Client, Scanner


@pytest.mark.parametrize("mtu, notes_per_s", [(23, 250), (185, 50), (247, 50)])
def test_firmware_stream_at_each_mtu_decodes_without_loss(blesim, mtu, notes_per_s):
    radio = FirmwareRadio(blesim, mtu)
    client, scanner = firmware_fakes(radio)
    src = LinkSource("ble:auto", BleLink("auto", client_cls=client, scanner_cls=scanner), stall_timeout_s=5)
    pipe, events, records = run_source(src, 4000)
    src.close()
    stats = src.stats()
    assert stats["decoder_errors"] == 0 and stats["samples_lost"] == 0
    # every notification fits the MTU in force when it was sent: 23 before the exchange
    assert radio.lengths_before and max(radio.lengths_before) <= 20
    assert max(radio.lengths_after) <= mtu - 3
    # frames were re-sized at the exchange (MTU 23: 16 samples in 4 full notifications; else 20 ms)
    assert radio.frame_samples == ({16} if mtu == 23 else {16, 20})
    # the radio budget of PROTOCOL.md: samples need notes_per_s notifications/s; STATUS adds ~1-2
    seconds = (radio.ticks - radio.exchange_after) / radio.RATE
    assert len(radio.lengths_after) / seconds <= notes_per_s + 3
    # every sample arrives once and in order: the ramp rises by one count per sample
    uv_per_count = 3600000 / 4096 / 1000
    counts = np.concatenate([r.uv for r in records if isinstance(r, SampleBlock)], axis=1) / uv_per_count
    counts = np.rint(counts).astype(int)
    assert counts.shape[1] >= 4000
    assert np.all(np.diff(counts[0]) % 1500 == 1)
    assert np.array_equal(counts[1], -counts[0])
    # the battery rides in the same ADC scan: 1422 counts behind the 1M/510k divider is 3.70 V
    status = [r for r in records if isinstance(r, StatusRecord)]
    assert status and all(abs(s.battery_mv - 3700) <= 2 for s in status)
    assert P.Decoder().feed(b"".join(radio.writes))[1].opcode == P.CMD_START
