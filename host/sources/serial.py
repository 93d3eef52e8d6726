"""USB CDC / UART transport via pyserial (also pty paths and pyserial URLs like loop://)."""

from __future__ import annotations

import errno
import logging
import os
import time

import serial
from serial.tools import list_ports

from myotwitch.host import protocol as P
from myotwitch.host.errors import SourceError
from myotwitch.host.sources.base import Link, LinkError

log = logging.getLogger(__name__)

DEFAULT_BAUD = 1_000_000  # ignored by USB CDC; the AVR build uses 250000 (see PROTOCOL.md)
#: a lost port is looked for again after 0.25 s, then every 0.5 s (the reconnect backoff's
#: shortest and longest wait): a device streams from the moment it is plugged back, so each
#: second of waiting is a second of data lost, and a look costs a scan of the system's ports
#: (~1 ms). With the 5 s ceiling a BLE scan needs, a 2 s unplug cost 4 s of data
RETRY_S = (0.25, 0.5)
#: USB vendor/product ids of boards the firmware supports (makers may add theirs).
KNOWN_USB_IDS = {
    (0x2886, 0x8045): "Seeed XIAO nRF52840",
    (0x2886, 0x0045): "Seeed XIAO nRF52840 (bootloader)",
    (0x239A, 0x8029): "Adafruit nRF52840",
    (0x2341, 0x0043): "Arduino Uno",
    (0x2341, 0x0001): "Arduino Uno",
    (0x1A86, 0x7523): "CH340 USB-serial (Uno/Nano clone)",
    (0x0403, 0x6001): "FTDI USB-serial (Nano)",
}


class SerialLink(Link):
    def __init__(self, port: str, baudrate: int = DEFAULT_BAUD) -> None:
        self.port = port
        self.name = f"serial {port}"
        self.baudrate = baudrate
        self._ser: serial.Serial | None = None

    def open(self) -> None:
        if "://" not in self.port and not os.path.exists(self.port):
            raise LinkError(f"{self.port} does not exist (unplugged?)")
        try:
            self._ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.05, write_timeout=1.0)
        except serial.SerialException as e:
            err = getattr(e, "errno", None) or (e.args[0] if e.args and isinstance(e.args[0], int) else None)
            if err == errno.EACCES or "Permission denied" in str(e):
                raise SourceError(f"serial port {self.port}: permission denied (on Linux add yourself to the "
                                  "'dialout' group, then log in again)") from e
            raise LinkError(f"cannot open {self.port}: {e}") from e
        except ValueError as e:
            raise SourceError(f"serial port {self.port}: {e}") from e

    def read(self, timeout: float) -> bytes:
        ser = self._ser
        if ser is None:
            raise LinkError("not open")
        try:
            if ser.timeout != timeout:
                ser.timeout = timeout
            first = ser.read(1)
            if not first:
                return b""
            waiting = ser.in_waiting
            return first + (ser.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError, TypeError, AttributeError) as e:
            raise LinkError(f"{self.port}: {e}") from e

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise LinkError("not open")
        try:
            self._ser.write(data)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"{self.port}: {e}") from e

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            ser.close()


class AutoSerialLink(SerialLink):
    """``serial:auto``: finds the device again at every (re)connect, so a replug that comes
    back under another name (/dev/ttyACM0 -> /dev/ttyACM1) is followed."""

    def __init__(self, baudrate: int = DEFAULT_BAUD) -> None:
        super().__init__("auto", baudrate)
        self.name = "serial auto"

    def open(self) -> None:
        try:
            self.port = resolve_auto()
        except SourceError as e:
            raise LinkError(str(e).removeprefix("serial:auto: ")) from e
        self.name = f"serial {self.port}"
        super().open()


def candidate_ports() -> list[tuple[str, str]]:
    """(device path, description) of ports whose USB id matches a supported board."""
    out = []
    for p in list_ports.comports():
        if (p.vid, p.pid) in KNOWN_USB_IDS:
            out.append((p.device, KNOWN_USB_IDS[(p.vid, p.pid)]))
    return out


def probe(port: str, timeout: float = 1.0, baudrate: int = DEFAULT_BAUD) -> P.InfoFrame | None:
    """Ask ``port`` for its INFO frame; None if nothing that speaks our protocol answers."""
    link = SerialLink(port, baudrate)
    try:
        link.open()
    except (LinkError, SourceError):
        return None
    try:
        link.write(P.encode_command(0, P.CMD_GET_INFO))
        dec = P.Decoder()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for f in dec.feed(link.read(0.1)):
                if isinstance(f, P.InfoFrame):
                    return f
    except LinkError:
        return None
    finally:
        link.close()
    return None


def list_devices(probe_all: bool = False) -> list[dict]:
    """Serial ports that look like our device: by USB id, or (``probe_all``) by answering a probe."""
    found = []
    for p in list_ports.comports():
        known = KNOWN_USB_IDS.get((p.vid, p.pid)) if p.vid is not None else None
        info = probe(p.device) if (known or probe_all) else None
        if known or info:
            found.append({"spec": f"serial:{p.device}", "description": known or p.description,
                          "device_id": info.device_id_hex if info else None,
                          "sample_rate_hz": info.sample_rate_hz if info else None,
                          "answers_protocol": info is not None})
    return found


def resolve_auto() -> str:
    """The port of the first attached device that answers the protocol."""
    # supported boards first, then other USB serial ports; never legacy UARTs (ttyS*), which
    # could be anything and should not be sent probes
    candidates = [d for d, _ in candidate_ports()] + [p.device for p in list_ports.comports() if p.vid is not None]
    seen = set()
    for dev in candidates:
        if dev in seen:
            continue
        seen.add(dev)
        if probe(dev, timeout=0.7):
            return dev
    raise SourceError("serial:auto: no myotwitch device found on any serial port "
                      "(plug it in, or use sim: to run the simulator)")
