"""The bleak backend at the bleak API boundary: a fake scanner and client deliver the virtual
device's bytes as MTU-sized notifications, drop the link, and record command writes."""

import asyncio
from types import SimpleNamespace

import pytest

from myotwitch.dsp.synth import SynthSpec
from myotwitch.host import protocol as P
from myotwitch.host.errors import SourceError
from myotwitch.host.simulator import VirtualDevice
from myotwitch.host.sources.base import LinkSource
from myotwitch.host.sources.ble import COMMAND_UUID, NOTIFY_UUID, SERVICE_UUID, BleLink, scan
from myotwitch.host.stream import GapRecord, LinkEvent, SampleBlock
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
