"""Bluetooth LE transport via bleak.

The device exposes the myotwitch GATT service: a notify characteristic carrying the same
COBS frames as USB (a byte stream: frames may span notifications) and a write-without-
response characteristic for commands. bleak is asynchronous; it runs in its own event-loop
thread, and notification callbacks only queue ``bytes`` (never parse or block there), so the
synchronous ``Link`` interface works for the recorder and the GUI alike.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from myotwitch.host.errors import SourceError
from myotwitch.host.sources.base import Link, LinkError

log = logging.getLogger(__name__)

SERVICE_UUID = "4d544301-8f2c-4c1e-9b6e-6d796f747769"
NOTIFY_UUID = "4d544302-8f2c-4c1e-9b6e-6d796f747769"  # device -> host frames (notify)
COMMAND_UUID = "4d544303-8f2c-4c1e-9b6e-6d796f747769"  # host -> device commands (write without response)
ADVERTISED_NAME = "myotwitch"


class _LoopThread:
    """One asyncio loop in a daemon thread, shared by all BLE links of the process."""

    _instance: _LoopThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="myotwitch-ble", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> _LoopThread:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _adapter_problem(e: BaseException) -> str | None:
    text = str(e).lower()
    if any(k in text for k in ("no bluetooth adapters", "adapter", "bluetooth is turned off", "org.bluez",
                                "not available", "dbus", "no such file or directory")):
        return f"Bluetooth is not available on this computer ({e}); plug in an adapter or use serial:"
    return None


def _matches(target: str, device: Any, adv: Any) -> bool:
    if target == "auto":
        uuids = [u.lower() for u in (getattr(adv, "service_uuids", None) or [])]
        return SERVICE_UUID in uuids
    name = (getattr(adv, "local_name", None) or getattr(device, "name", None) or "")
    return target.lower() in (device.address.lower(), name.lower())


class BleLink(Link):
    def __init__(self, target: str, *, client_cls: Any = None, scanner_cls: Any = None, scan_timeout: float = 6.0,
                 loop_thread: _LoopThread | None = None) -> None:
        if client_cls is None or scanner_cls is None:
            try:
                from bleak import BleakClient, BleakScanner
            except ImportError as e:
                raise SourceError("BLE needs the 'bleak' package (pip install bleak)") from e
            client_cls = client_cls or BleakClient
            scanner_cls = scanner_cls or BleakScanner
        self.target = target
        self.name = f"ble {target}"
        self.client_cls, self.scanner_cls = client_cls, scanner_cls
        self.scan_timeout = scan_timeout
        self._lt = loop_thread or _LoopThread.get()
        self._rx: queue.Queue[bytes] = queue.Queue()
        self._client: Any = None
        self._down = threading.Event()
        self.mtu = 23

    # runs in the loop thread ------------------------------------------------------------------
    async def _connect(self) -> None:
        device = await self.scanner_cls.find_device_by_filter(lambda d, a: _matches(self.target, d, a),
                                                              timeout=self.scan_timeout)
        if device is None:
            raise LinkError(f"no BLE device '{self.target}' advertising the myotwitch service in range")
        self._down.clear()
        client = self.client_cls(device, disconnected_callback=lambda _c: self._down.set())
        await client.connect()
        try:
            await client.start_notify(NOTIFY_UUID, self._on_notify)
        except Exception:
            await client.disconnect()
            raise
        self._client = client
        self.mtu = int(getattr(client, "mtu_size", 23) or 23)
        self.name = f"ble {getattr(device, 'name', None) or ''} {device.address} (MTU {self.mtu})".replace("  ", " ")

    def _on_notify(self, _char: Any, data: bytearray) -> None:
        self._rx.put(bytes(data))  # only queue: parsing happens in the consumer

    async def _write(self, data: bytes) -> None:
        chunk = max(self.mtu - 3, 20)
        for i in range(0, len(data), chunk):
            await self._client.write_gatt_char(COMMAND_UUID, data[i: i + chunk], response=False)

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:  # noqa: BLE001
                log.debug("BLE disconnect failed", exc_info=True)

    # Link interface ------------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self._lt.run(self._connect(), timeout=self.scan_timeout + 30)
        except LinkError:
            raise
        except TimeoutError as e:
            raise LinkError(f"BLE connection to {self.target} timed out") from e
        except Exception as e:  # bleak raises many types across platforms
            problem = _adapter_problem(e)
            if problem:
                raise SourceError(problem) from e
            raise LinkError(f"BLE {self.target}: {e}") from e

    def read(self, timeout: float) -> bytes:
        if self._client is None:
            raise LinkError("not connected")
        try:
            first = self._rx.get(timeout=timeout)
        except queue.Empty:
            if self._down.is_set():
                raise LinkError("BLE device disconnected") from None
            return b""
        parts = [first]
        while True:
            try:
                parts.append(self._rx.get_nowait())
            except queue.Empty:
                break
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        if self._client is None or self._down.is_set():
            raise LinkError("not connected")
        try:
            self._lt.run(self._write(data), timeout=5.0)
        except Exception as e:  # noqa: BLE001
            raise LinkError(f"BLE write failed: {e}") from e

    def close(self) -> None:
        if self._client is not None:
            try:
                self._lt.run(self._disconnect(), timeout=10.0)
            except Exception:  # noqa: BLE001
                log.debug("BLE close failed", exc_info=True)
        self._client = None
        while not self._rx.empty():
            self._rx.get_nowait()


def scan(timeout: float = 4.0, scanner_cls: Any = None) -> list[dict]:
    """BLE devices advertising the myotwitch service, with signal strength."""
    if scanner_cls is None:
        from bleak import BleakScanner as scanner_cls  # noqa: N813

    async def _scan() -> list[dict]:
        found = await scanner_cls.discover(timeout=timeout, return_adv=True)
        out = []
        for device, adv in found.values():
            uuids = [u.lower() for u in (adv.service_uuids or [])]
            if SERVICE_UUID in uuids:
                out.append({"spec": f"ble:{device.address}", "description": adv.local_name or device.name or "",
                            "rssi_dbm": adv.rssi})
        return sorted(out, key=lambda d: -(d["rssi_dbm"] or -999))

    try:
        return _LoopThread.get().run(_scan(), timeout=timeout + 10)
    except Exception as e:  # noqa: BLE001
        raise SourceError(_adapter_problem(e) or f"BLE scan failed: {e}") from e
