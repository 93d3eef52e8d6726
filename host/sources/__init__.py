"""Source specs -> source objects. Backends are imported lazily, so a missing optional
dependency breaks only the backend that needs it, with a clear message.

Specs: ``serial:PORT`` (``?baud=N``), ``serial:auto``, ``ble:NAME_OR_ADDRESS``, ``ble:auto``,
``sim:`` with ``key=value`` options separated by ``,`` or ``&`` (an optional ``?`` may
precede them: ``sim:rate=2000,channels=2`` == ``sim:?rate=2000&channels=2``),
``file:PATH`` (``?speed=N``: N x real time, 0 = as fast as possible), ``lsl:NAME``,
``lsl:type=EMG``, ``lsl:source_id=ID`` (a Lab Streaming Layer stream; ``?unit=uV``,
``channels=A,B``, ``bits=24``), ``brainflow:BOARD`` (a BrainFlow board by name or id; its
connection parameters such as ``?serial_port=/dev/ttyUSB0`` and ``channels=1,2``). A value
may hold commas (``channels=1,2``): a part without ``=`` continues the previous option.
A bare path to an .edf/.bdf/.csv file means ``file:``; a bare /dev/... or COM port means ``serial:``.
"""

from __future__ import annotations

import re

from myotwitch.host.errors import UsageError
from myotwitch.host.sources.base import Link, LinkError, LinkSource, Source

__all__ = ["Link", "LinkError", "LinkSource", "Source", "open_source", "parse_spec"]

KINDS = ("serial", "ble", "sim", "file", "lsl", "brainflow")
#: kinds whose option values may be comma lists (channels=1,2)
LIST_KINDS = ("lsl", "brainflow")


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``'sim:rate=2000,channels=2'`` -> ``('sim', '', {'rate': '2000', 'channels': '2'})``."""
    text = spec.strip()
    if re.match(r"^[a-z]+:", text) is None or re.match(r"^[A-Za-z]:[\\/]", text):
        low = text.lower()
        if low.endswith((".edf", ".bdf", ".csv", ".rec")):
            text = "file:" + text
        elif text.startswith("/dev/") or re.match(r"^COM\d+$", text, re.I):
            text = "serial:" + text
        else:
            raise UsageError(f"source '{spec}': expected serial:PORT, serial:auto, ble:NAME, ble:auto, "
                             "sim:[options], file:PATH, lsl:NAME or brainflow:BOARD")
    kind, _, rest = text.partition(":")
    opts: dict[str, str] = {}
    if kind == "sim":
        target, options = "", rest.lstrip("?")
    else:
        target, _, options = rest.partition("?")
    last = None
    for part in filter(None, re.split(r"[,&]", options)):
        key, eq, value = part.partition("=")
        if not eq and kind in LIST_KINDS and last is not None:
            opts[last] += "," + part.strip()  # channels=1,2: the list goes on
            continue
        if not eq:
            raise UsageError(f"source '{spec}': option '{part}' should be key=value")
        last = key.strip()
        if last in opts:  # (the last had won in silence: sim:rate=1000&rate=2000 recorded at 2000 Hz)
            raise UsageError(f"source '{spec}': option '{last}' given twice")
        opts[last] = value.strip()
    if kind not in KINDS:
        raise UsageError(f"source '{spec}': unknown kind '{kind}' ({', '.join(KINDS[:-1])} or {KINDS[-1]})")
    if kind in ("serial", "ble", "file", "lsl", "brainflow") and not target:
        what = {"file": "path", "lsl": "stream name, type=TYPE or source_id=ID", "brainflow": "board name or id",
                "ble": "device name or address, or auto"}  # (a BLE sensor has no port)
        raise UsageError(f"source '{spec}': {kind}: needs a {what.get(kind, 'port or auto')}")
    return kind, target, opts


def open_source(spec: str, **kw: object) -> Source:
    """Open the source a spec names. Keyword arguments go to the backend (reconnect, ...)."""
    kind, target, opts = parse_spec(spec)
    if kind == "sim":
        from myotwitch.host.sources.sim import SimSource, parse_sim_options

        synth, faults, speed = parse_sim_options(opts)
        return SimSource(spec, synth, faults, speed, **kw)
    if kind == "serial":
        from myotwitch.host.sources.serial import RETRY_S, AutoSerialLink, SerialLink

        kw.setdefault("backoff_s", RETRY_S)

        try:
            baud = int(opts.pop("baud")) if "baud" in opts else None  # None: the board's own (Uno 250000)
        except ValueError as e:
            raise UsageError(f"source '{spec}': baud must be a whole number") from e
        if baud is not None and baud <= 0:  # (0 had been the board's own rate in silence, -1 pyserial's error)
            raise UsageError(f"source '{spec}': baud must be a whole number above 0 (an Uno's firmware: 250000)")
        if opts:
            raise UsageError(f"source '{spec}': unknown option(s) {', '.join(opts)} (serial takes baud=N)")
        if target == "auto":
            return LinkSource("serial:auto", AutoSerialLink(baud), **kw)  # type: ignore[arg-type]
        return LinkSource(f"serial:{target}", SerialLink(target, baud), **kw)  # type: ignore[arg-type]
    if kind == "lsl":
        from myotwitch.host.sources.lsl import LslSource

        return LslSource(spec, target, opts, **kw)  # type: ignore[arg-type]
    if kind == "brainflow":
        from myotwitch.host.sources.brainflow_board import BrainFlowSource

        return BrainFlowSource(spec, target, opts, **kw)  # type: ignore[arg-type]
    if kind == "ble":
        from myotwitch.host.sources.ble import BleLink

        return LinkSource(spec, BleLink(target), **kw)  # type: ignore[arg-type]
    from myotwitch.host.sources.replay import ReplaySource
    from myotwitch.host.sources.sim import out_of_range

    try:
        speed = float(opts.pop("speed", "1"))
    except ValueError as e:
        raise UsageError(f"source '{spec}': speed must be a number") from e
    allowed = out_of_range("speed", speed)  # (sim:'s range: 0 = as fast as read, up to 1000x)
    if allowed:
        raise UsageError(f"source '{spec}': speed {speed:g} must be {allowed} (0 = as fast as it is read)")
    if opts:
        raise UsageError(f"source '{spec}': unknown option(s) {', '.join(opts)} (file takes speed=N)")
    return ReplaySource(target, speed=speed)
