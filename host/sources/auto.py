"""``auto`` as a source spec: the first attached device, else the simulator (saying so).

Lives with the sources so the CLI and the live app both depend on it, not on each other."""

from __future__ import annotations

import logging

from myotwitch.host.errors import MyotwitchError

log = logging.getLogger("myotwitch")


#: why ``auto`` fell back to the simulator, in a banner's words
NO_SENSOR = "No sensor found: showing the built-in simulator. Choose a source on the right."
SENSOR_IN_USE = ("The sensor is in use by another program (a recorder?): showing the built-in simulator. "
                 "Close the other program, then choose the sensor on the right.")


def resolve_source(spec: str | None) -> str:
    """'auto' (or nothing) -> ``serial:PORT`` of the first attached device, else ``sim:``."""
    return resolve_auto_source(spec)[0]


def resolve_auto_source(spec: str | None) -> tuple[str, str]:
    """``resolve_source``, and why it fell back to the simulator ("" when it did not: NO_SENSOR
    or SENSOR_IN_USE)."""
    if spec and spec != "auto":
        return spec, ""
    from myotwitch.host.sources.serial import PortsInUse, resolve_auto

    try:
        return "serial:" + resolve_auto(), ""
    except PortsInUse as e:  # (a sensor is there: said, or it reads as gone)
        log.warning("%s; using the built-in simulator (sim:) meanwhile", e)
        return "sim:", SENSOR_IN_USE
    except MyotwitchError:
        log.warning("no myotwitch device found; using the built-in simulator (sim:). "
                    "Pass --source to choose a device.")
        return "sim:", NO_SENSOR
