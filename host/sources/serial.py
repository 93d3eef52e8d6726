"""USB CDC / UART transport via pyserial (also pty paths and pyserial URLs like loop://)."""

from __future__ import annotations

import errno
import logging
import os
import time
from dataclasses import dataclass

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
#: the AVR build's UART rate (exact at 16 MHz; PROTOCOL.md); USB CDC boards ignore the rate
AVR_BAUD = 250_000
#: an Arduino resets when its port is opened (DTR) and its bootloader listens for about a second
#: before the firmware starts and says INFO: a probe of one waits this long
AVR_SETTLE_S = 2.5


@dataclass(frozen=True)
class Board:
    """A USB id's board: its name, the rate its firmware talks at, and how long a probe waits."""

    name: str
    baud: int = DEFAULT_BAUD
    probe_s: float = 1.0


#: an Arduino Uno: its firmware talks at AVR_BAUD, and it resets when its port opens
UNO = Board("Arduino Uno", AVR_BAUD, AVR_SETTLE_S)

#: USB vendor/product ids of boards the firmware supports (makers may add theirs).
#: Seeed ids from boards.txt of "Seeed nRF52 Boards" (Seeed-Studio/Adafruit_nRF52_Arduino):
#: 0x80xx the sketch's USB CDC, 0x00xx the UF2 bootloader.
KNOWN_USB_IDS = {
    (0x2886, 0x8044): Board("Seeed XIAO nRF52840"),
    (0x2886, 0x0044): Board("Seeed XIAO nRF52840 (bootloader)"),
    (0x2886, 0x8045): Board("Seeed XIAO nRF52840 Sense"),
    (0x2886, 0x0045): Board("Seeed XIAO nRF52840 Sense (bootloader)"),
    (0x239A, 0x8029): Board("Adafruit nRF52840"),
    # the Uno's ids as the Arduino AVR core's boards.txt lists them (uno.vid.N/pid.N)
    (0x2341, 0x0043): UNO,
    (0x2341, 0x0001): UNO,
    (0x2A03, 0x0043): UNO,
    (0x2341, 0x0243): UNO,
    (0x2341, 0x006A): UNO,
    (0x1A86, 0x7523): Board("CH340 USB-serial (Uno/Nano clone)", AVR_BAUD, AVR_SETTLE_S),
    (0x1A86, 0x55D4): Board("CH9102 USB-serial (Nano clone)", AVR_BAUD, AVR_SETTLE_S),
    (0x0403, 0x6001): Board("FTDI USB-serial (Nano)", AVR_BAUD, AVR_SETTLE_S),
}
#: a port of no known board (``--probe-all``, ``serial:auto``'s other USB ports)
OTHER = Board("")


def board_of(port: str) -> Board:
    """The known board at ``port`` (by its USB id), else ``OTHER``."""
    real = os.path.realpath(port)  # (a /dev/serial/by-id/ link names the same port)
    for p in list_ports.comports():
        if os.path.realpath(p.device) == real and p.vid is not None:
            return KNOWN_USB_IDS.get((p.vid, p.pid), OTHER)
    return OTHER


class PortBusy(LinkError):
    """The port is held by another program: its bytes would be shared between both."""


class PortsInUse(SourceError):
    """``serial:auto`` found no free device, only ports another program holds."""


def busy_text(port: str) -> str:
    return (f"{port} is in use by another program (another myotwitch, a serial monitor such as the Arduino "
            "IDE's, or ModemManager): two programs on one port each get part of the bytes; close the other one")


class SerialLink(Link):
    """A serial port at ``baudrate``; None: the rate of the board at the port (``board_of``), so
    an Uno is read at 250000 baud without ``?baud=``."""

    def __init__(self, port: str, baudrate: int | None = None) -> None:
        self.port = port
        self.name = f"serial {port}"
        self.explicit_baud = baudrate
        self.baudrate = baudrate or DEFAULT_BAUD
        self.board: Board | None = None  # the board its USB id names, when the rate came from it
        self._ser: serial.Serial | None = None

    def open(self) -> None:
        if "://" not in self.port and not os.path.exists(self.port):
            raise LinkError(f"{self.port} does not exist (unplugged?)")
        if self.explicit_baud is None and "://" not in self.port:
            self.board = board_of(self.port)
            self.baudrate = self.board.baud
        try:
            # exclusive: a lock another myotwitch (or any program that locks) respects, so two
            # programs never read one port, each getting part of the frames
            self._ser = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.05, write_timeout=1.0,
                                              exclusive=True)
        except serial.SerialException as e:
            err = getattr(e, "errno", None) or (e.args[0] if e.args and isinstance(e.args[0], int) else None)
            if err == errno.EACCES or "Permission denied" in str(e):
                raise SourceError(f"serial port {self.port}: permission denied (on Linux add yourself to the "
                                  "'dialout' group, then log in again)") from e
            if err in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in str(e):
                raise PortBusy(busy_text(self.port)) from e  # (EBUSY: another program's TIOCEXCL)
            raise LinkError(f"cannot open {self.port}: {e}") from e
        except ValueError as e:
            raise SourceError(f"serial port {self.port}: {e}") from e

    def hint(self) -> str:
        if self.board is not OTHER:  # (a rate given, or a known board's)
            return ""
        return (f"read at {self.baudrate} baud, the rate of a board of no known USB id: an Arduino Uno or Nano "
                f"(clone) talks at {AVR_BAUD}, serial:{self.port}?baud={AVR_BAUD}")

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

    def __init__(self, baudrate: int | None = None) -> None:
        super().__init__("auto", baudrate)
        self.name = "serial auto"

    def open(self) -> None:
        try:
            self.port = resolve_auto(self.explicit_baud)
        except SourceError as e:
            raise LinkError(str(e).removeprefix("serial:auto: ")) from e
        self.name = f"serial {self.port}"
        super().open()


def probe(port: str, timeout: float | None = None, baudrate: int | None = None,
          board: Board | None = None) -> P.InfoFrame | None:
    """Ask ``port`` for its INFO frame; None if nothing that speaks our protocol answers. By
    default at the rate of the board there (``board_of``), waiting as long as it needs: an
    Arduino resets when the port opens, and its bootloader swallows what arrives meanwhile, so
    GET_INFO is asked again every half second (the AVR build also says INFO when it starts).
    ``board``: the port's, when the caller has it from its own scan of the ports. Raises
    ``PortBusy`` when another program holds the port (a probe would steal its bytes)."""
    board = board or board_of(port)
    link = SerialLink(port, baudrate or board.baud)
    try:
        link.open()
    except PortBusy:
        raise
    except (LinkError, SourceError):
        return None
    try:
        dec = P.Decoder()
        deadline = time.monotonic() + max(timeout or 0.0, board.probe_s)
        ask = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= ask:
                link.write(P.encode_command(0, P.CMD_GET_INFO))
                ask = time.monotonic() + 0.5
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
        busy = False
        try:
            info = probe(p.device, board=known or OTHER) if (known or probe_all) else None
        except PortBusy:
            info, busy = None, True
        if known or info or busy:
            found.append({"spec": f"serial:{p.device}", "description": known.name if known else p.description,
                          "device_id": info.device_id_hex if info else None,
                          "sample_rate_hz": info.sample_rate_hz if info else None,
                          "answers_protocol": info is not None, "in_use": busy})
    return found


def resolve_auto(baudrate: int | None = None) -> str:
    """The port of the first attached device that answers the protocol (at ``baudrate``, or
    each board's own rate)."""
    # supported boards first, then other USB serial ports; never legacy UARTs (ttyS*), which
    # could be anything and should not be sent probes
    usb = [(p.device, KNOWN_USB_IDS.get((p.vid, p.pid))) for p in list_ports.comports() if p.vid is not None]
    busy = []
    for dev, board in sorted(usb, key=lambda d: d[1] is None):  # (supported boards first, in port order)
        try:
            if probe(dev, timeout=0.7, baudrate=baudrate, board=board or OTHER):
                return dev
        except PortBusy:
            busy.append(dev)
    if busy:
        raise PortsInUse(f"serial:auto: no free myotwitch device found; {busy_text(', '.join(busy))}")
    raise SourceError("serial:auto: no myotwitch device found on any serial port "
                      "(plug it in, or use sim: to run the simulator)")
