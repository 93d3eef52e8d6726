"""Regenerate the golden protocol vectors in data/protocol/ (run after a deliberate protocol change).

Each vector is a .bin byte file plus its expected decoding in vectors.json; vectors.txt
holds the same expectations as canonical lines for the C tests."""

from __future__ import annotations

import json
import pathlib

from myotwitch.host import protocol as P
from myotwitch.host.canonical import canonical

OUT = pathlib.Path(__file__).resolve().parents[1] / "data" / "protocol"


def frames() -> dict[str, list[P.Frame]]:
    info = P.InfoFrame(0, 1, (0, 3, 1), 0x0123456789ABCDEF, 1000, 2, P.FMT_INT16, 0.25, False, ("gastroc", "soleus"))
    info24 = P.InfoFrame(7, 1, (1, 0, 0), 0xFEDCBA9876543210, 2000, 1, P.FMT_INT24, 0.02384185791015625, True, ("calf",))
    s16 = P.SamplesFrame(1, 4000, 2, P.FMT_INT16, (0, -1, 1, 32767, -32768, 255, 256, -256, 1000, -1000))
    s24 = P.SamplesFrame(65535, 0xFFFFFFF0, 1, P.FMT_INT24, (8388607, -8388608, 0, 1, -1, 65536, -65536))
    zeros = P.SamplesFrame(2, 0, 1, P.FMT_INT16, tuple([0] * 40))  # COBS worst-ish case: many zero bytes
    long = P.SamplesFrame(3, 123456, 1, P.FMT_INT16, tuple((i * 37) % 251 - 125 for i in range(255)))  # > 254 bytes
    status = P.StatusFrame(9, 3850, 72, P.STATUS_STREAMING | P.STATUS_LEAD_OFF, 0b10, 17, 987654, 3600000)
    pong = P.PongFrame(10, 0xDEADBEEF)
    ack = P.AckFrame(11, P.CMD_SET_RATE, P.ACK_BAD_ARG)
    cmds = [P.CommandFrame(0, P.CMD_GET_INFO), P.CommandFrame(1, P.CMD_START), P.CommandFrame(2, P.CMD_SET_RATE, 2000),
            P.CommandFrame(3, P.CMD_PING, 0x01020304), P.CommandFrame(4, P.CMD_STOP), P.CommandFrame(5, P.CMD_GET_STATUS)]
    out = {"info_2ch_int16": [info], "info_1ch_int24": [info24], "samples_int16": [s16], "samples_int24": [s24],
           "samples_zeros": [zeros], "samples_255": [long], "status": [status], "pong": [pong], "ack": [ack]}
    for c in cmds:
        out[f"command_{P.COMMAND_NAMES[c.opcode]}"] = [c]
    out["stream_device"] = [info, s16, status, zeros, pong]
    out["stream_commands"] = cmds
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = []
    lines = []
    for name, fs in frames().items():
        data = b"".join(P.encode_frame(f) for f in fs)
        (OUT / f"{name}.bin").write_bytes(data)
        manifest.append({"file": f"{name}.bin", "frames": [f.to_dict() for f in fs],
                         "canonical": [canonical(f) for f in fs]})
        lines += [f"{name}.bin\t{canonical(f)}" for f in fs]
    # a corrupted stream: the decoder must count one CRC error and resynchronise
    good = b"".join(P.encode_frame(f) for f in frames()["stream_commands"])
    bad = bytearray(good)
    first_len = len(P.encode_frame(frames()["stream_commands"][0]))
    bad[first_len + 3] ^= 0x10  # flip a bit inside the second frame
    (OUT / "stream_commands_corrupt.bin").write_bytes(bytes(bad))
    kept = [f for i, f in enumerate(frames()["stream_commands"]) if i != 1]
    manifest.append({"file": "stream_commands_corrupt.bin", "frames": [f.to_dict() for f in kept],
                     "canonical": [canonical(f) for f in kept], "errors": {"crc_errors": 1}})
    lines += [f"stream_commands_corrupt.bin\t{canonical(f)}" for f in kept]
    (OUT / "vectors.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (OUT / "vectors.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(manifest)} vectors to {OUT}")


if __name__ == "__main__":
    main()
