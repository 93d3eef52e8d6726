"""One-line canonical text for a frame, shared with the C tests (firmware/tests/test_vectors.c)
so both sides are checked against the same golden vectors in data/protocol/."""

from __future__ import annotations

from myotwitch.host import protocol as P


def canonical(f: P.Frame) -> str:
    if isinstance(f, P.InfoFrame):
        return (f"INFO seq={f.seq} pv={f.protocol_version} fw={f.firmware[0]}.{f.firmware[1]}.{f.firmware[2]} "
                f"id={f.device_id:016x} rate={f.sample_rate_hz} ch={f.n_channels} fmt={f.sample_format} "
                f"uvpc={f.uv_per_count:.9g} streaming={int(f.streaming)} labels={'|'.join(f.labels)}")
    if isinstance(f, P.SamplesFrame):
        return (f"SAMPLES seq={f.seq} first={f.first_sample} ch={f.n_channels} fmt={f.sample_format} "
                f"n={f.n_samples} data={','.join(str(c) for c in f.counts)}")
    if isinstance(f, P.StatusFrame):
        return (f"STATUS seq={f.seq} batt_mv={f.battery_mv} batt_pct={f.battery_pct} flags={f.flags} "
                f"leadoff={f.lead_off_mask} overruns={f.overruns} counter={f.sample_counter} uptime={f.uptime_ms}")
    if isinstance(f, P.PongFrame):
        return f"PONG seq={f.seq} token={f.token}"
    if isinstance(f, P.AckFrame):
        return f"ACK seq={f.seq} op={f.opcode} status={f.status}"
    if isinstance(f, P.CommandFrame):
        return f"CMD seq={f.seq} op={f.opcode} arg={f.argument}"
    raise TypeError(f"not a frame: {f!r}")
