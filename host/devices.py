"""``myotwitch devices``: what is attached over serial and BLE, and the LSL streams in reach."""

from __future__ import annotations

import argparse
import logging
import shlex

from myotwitch.host.errors import SourceError

log = logging.getLogger(__name__)


def list_all(args: argparse.Namespace) -> int:
    from myotwitch.host.sources.serial import list_devices

    rows = list_devices(probe_all=args.probe_all)
    lsl_note = "LSL streams were not looked for (--no-lsl)."
    if not getattr(args, "no_lsl", False):
        from myotwitch.host.sources.lsl import list_streams, require_pylsl

        try:
            require_pylsl()
        except SourceError:
            lsl_note = "LSL streams were not looked for: pylsl is not installed (pip install 'myotwitch[lsl]')."
        else:
            lsl_note = ""
            rows += list_streams(getattr(args, "lsl_wait", 1.0))
    if not args.no_ble:
        try:
            from myotwitch.host.sources.ble import scan

            rows += scan(args.scan_time)
        except SourceError as e:
            log.warning("%s", e)
    if not rows:
        print(f"no myotwitch devices{'' if lsl_note else ' or LSL streams'} found. Plug one in (USB) or switch it on "
              "(BLE); `myotwitch live --source sim:` runs the simulator. A `myotwitch simulate --pty` device is no "
              "USB port, so it is not listed: open it by the path it prints (--source serial:PATH).")
        if lsl_note:
            print(lsl_note)
        return 0
    if lsl_note:
        print(lsl_note)
    print(f"{'SOURCE':34} {'DESCRIPTION':36} DETAILS")
    for r in rows:
        details = []
        if r.get("rssi_dbm") is not None:
            details.append(f"{r['rssi_dbm']} dBm")
        if r.get("device_id"):
            details.append(f"id {r['device_id']} @ {r['sample_rate_hz']} Hz")
        elif r.get("lsl"):
            details.append(r["lsl"] + (f", source_id {r['source_id']}" if r.get("source_id") else ""))
        elif r.get("in_use"):
            details.append("in use by another program (not probed)")
        elif "answers_protocol" in r:
            details.append("did not answer the protocol probe")
        spec = shlex.quote(r["spec"])  # (pasted after --source as shown: 'lsl:calf EMG' needs its quotes)
        print(f"{spec:34} {r['description'][:36]:36} {', '.join(details)}")
    return 0
