"""``auto`` as a source spec: the first attached device, else the simulator (saying so).

Lives with the sources so the CLI and the live app both depend on it, not on each other."""

from __future__ import annotations

import logging

from myotwitch.host.errors import MyotwitchError

log = logging.getLogger("myotwitch")


def resolve_source(spec: str | None) -> str:
    """'auto' (or nothing) -> ``serial:PORT`` of the first attached device, else ``sim:``."""
    if spec and spec != "auto":
        return spec
    try:
        from myotwitch.host.sources.serial import resolve_auto

        return "serial:" + resolve_auto()
    except MyotwitchError:
        log.warning("no myotwitch device found; using the built-in simulator (sim:). "
                    "Pass --source to choose a device.")
        return "sim:"
