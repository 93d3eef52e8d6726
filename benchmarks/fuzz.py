"""Fuzzing the parsers: the wire decoder, the stream assembler, and the EDF/CSV readers.

The test suite runs a bounded number of cases of each (tests/host/test_fuzz.py); this
script runs them for as long as asked and reports counts:

    python -m benchmarks.fuzz --minutes 10

- assembler: a device stream with lost, duplicated and corrupt frames and device resets
  (with and without a new INFO frame) against a model of what must come out: every sample
  delivered intact appears exactly once, in order, and the timeline adds up;
- decoder + assembler: encoded streams with bit flips, truncation, junk and oversize
  bodies; nothing may raise and the assembler's held state stays bounded;
- EDF and CSV: mutants of valid files (bit flips, header fields set to hostile values,
  truncation, spliced bytes, odd line endings); reading must end in a result or in one
  short ``FormatError`` line, never another exception, and within bounded memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import random
import sys
import tempfile
import time
import tracemalloc

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, write_section  # noqa: E402
from myotwitch.host import protocol as P  # noqa: E402
from myotwitch.host.errors import MyotwitchError  # noqa: E402
from myotwitch.host.stream import CONFIRM_FRAMES, GapRecord, SampleBlock, StreamAssembler  # noqa: E402

FS = 1000
N = 20  # samples per frame
MEMORY_LIMIT = 150e6  # bytes a mutant may make the reader allocate (traced)
INFO = P.InfoFrame(0, 1, (0, 1, 0), 7, FS, 2, P.FMT_INT16, 1.0, True, ("a", "b"))
OPS = ("ok", "ok", "ok", "ok", "lose", "dup", "reset", "silent_reset", "corrupt")


# -- assembler ------------------------------------------------------------------------------------
def _frame(counter: int, serial: int) -> P.SamplesFrame:
    """Samples carry their serial number (ch0 low 15 bits, ch1 high bits): identity survives."""
    counts: list[int] = []
    for s in range(serial, serial + N):
        counts += [s % 32768, s // 32768]
    return P.SamplesFrame(0, counter % (1 << 32), 2, P.FMT_INT16, tuple(counts))


def assembler_case(ops: list[str], offsets: list[int]) -> None:
    """Play ``ops`` (one per frame) through a StreamAssembler and check it against the model.
    ``offsets`` give corrupt frames' counter errors. Raises AssertionError on a mismatch."""
    ops = list(ops)
    for i, op in enumerate(ops):  # a reset without INFO must be confirmed by 3 clean frames
        if op == "silent_reset" and ops[i + 1: i + 3] != ["ok", "ok"]:
            ops[i] = "reset"
        if op == "corrupt" and (i == 0 or ops[i - 1] in ("corrupt", "silent_reset") or "ok" not in ops[:i]):
            ops[i] = "ok"  # the first frame defines the timeline: nothing to tell it from
    a = StreamAssembler("fuzz")
    out = a.feed([INFO], received_at=0.0)
    counter, serial, t = 0, 0, 0.0
    seen_end = 0  # counter after the last frame the host received
    expected: list[int] = []
    for k, op in enumerate(ops):
        t += N / FS
        if op == "silent_reset" and seen_end < CONFIRM_FRAMES * N:
            # the new counters would meet the old timeline's next value: that frame is taken as
            # the old stream going on, and the held one is dropped (reported, not silent)
            op = "reset"
        if op in ("reset", "silent_reset"):
            counter = 0
            if op == "reset":
                out += a.feed([INFO], received_at=t)
        f = _frame(counter, serial)
        if op == "lose":
            pass
        elif op == "corrupt":
            off = offsets[k % len(offsets)] if offsets else 1 << 31
            out += a.feed([_frame(counter + off, serial)], received_at=t)
        else:
            out += a.feed([f], received_at=t)
            expected += range(serial, serial + N)
            seen_end = counter + N
            if op == "dup":
                out += a.feed([f], received_at=t)
        counter += N
        serial += N
    # the last frames of a silent reset may still be held, waiting for confirmation
    held = {c0 + 32768 * c1 for fr, *_ in a._suspects for c0, c1 in zip(fr.counts[::2], fr.counts[1::2])}
    expected = [s for s in expected if s not in held]
    got: list[int] = []
    index, gap_total = 0, 0
    for r in out:
        if isinstance(r, SampleBlock):
            assert r.first_sample == index, (r.first_sample, index)
            c = np.rint(r.uv).astype(np.int64)
            got += (c[1] * 32768 + c[0]).tolist()
            index += r.n
        elif isinstance(r, GapRecord):
            assert r.start_sample == index and r.n_samples >= 1
            assert r.n_samples <= 60 * FS, f"implausible gap of {r.n_samples} samples"
            index += r.n_samples
            gap_total += r.n_samples
    assert got == expected, f"samples differ: {len(got)} vs {len(expected)}"
    assert a.next_index == index and a.stats.samples == len(got)
    assert len(a._suspects) < 3


def random_assembler_case(rng: random.Random) -> None:
    ops = [rng.choice(OPS) for _ in range(rng.randint(1, 120))]
    offsets = [rng.randint(20 * FS, (1 << 32) - 20 * FS) for _ in range(4)]  # implausible either way
    assembler_case(ops, offsets)


# -- decoder + assembler -------------------------------------------------------------------------------
def decoder_case(rng: random.Random) -> None:
    """Encoded stream, damaged at random; decoding and assembling must never raise."""
    parts = [P.encode_frame(INFO)]
    for k in range(rng.randint(1, 60)):
        parts.append(P.encode_frame(_frame(k * N, k * N)))
        if rng.random() < 0.1:
            parts.append(P.encode_frame(INFO))
    data = bytearray(b"".join(parts))
    for _ in range(rng.randint(0, 20)):
        what = rng.random()
        if what < 0.5 and data:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif what < 0.7:
            i = rng.randrange(len(data) + 1)
            data[i:i] = rng.randbytes(rng.randint(1, 40))
        elif what < 0.8:
            data += rng.randbytes(rng.randint(1, 3000)).replace(b"\x00", b"\x01")  # oversize body
        elif data:
            i = rng.randrange(len(data))
            del data[i: i + rng.randint(1, 50)]
    dec = P.Decoder()
    a = StreamAssembler("fuzz")
    pos, t = 0, 0.0
    while pos < len(data):
        step = rng.randint(1, 300)
        t += 0.01
        a.feed(dec.feed(bytes(data[pos: pos + step])), received_at=t)
        pos += step
    assert len(dec._buf) <= P.MAX_BODY + P.MAX_BODY // 254 + 2
    assert len(a._suspects) < 3


# -- file readers ------------------------------------------------------------------------------------
HOSTILE = [b"-1", b"0", b"99999999", b"nan", b"inf", b"-inf", b"1e308", b"+100000", b"-0", b"\xff\xfe",
           b"\x00\x00", b"        ", b"2", b"1e-9", b"-99999"]


def make_edf(path: str, seconds: int = 6) -> bytes:
    from myotwitch.host.edf import EdfWriter

    rng = np.random.default_rng(0)
    with EdfWriter(path, fs=500, labels=["calf", "soleus"], uv_per_count=0.125,
                   start=dt.datetime(2026, 11, 1, 22)) as w:
        w.write(rng.normal(0, 20, (2, 2000)))
        w.gap(300)
        w.write(rng.normal(0, 20, (2, seconds * 500 - 2300)))
        w.annotate(1.0, 0.01, "twitch ch0 80uV 20dB")
    return pathlib.Path(path).read_bytes()


def make_csv() -> bytes:
    rng = np.random.default_rng(1)
    lines = ["time_s,gastroc_uV,soleus_uV"] + [f"{i / 500:.4f},{a:.2f},{b:.2f}"
                                               for i, (a, b) in enumerate(rng.normal(0, 20, (3000, 2)))]
    return ("\n".join(lines) + "\n").encode()


def mutate_edf(base: bytes, rng: random.Random) -> bytes:
    data = bytearray(base)
    ns = 3
    fields = [(168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4)]
    per_signal = [(16, 80, 8, 8, 8, 8, 8, 80, 8)]
    offset = 256
    for width in per_signal[0]:
        for s in range(ns):
            fields.append((offset + s * width, width))
        offset += width * ns
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        if what < 0.45:
            at, width = rng.choice(fields)
            value = rng.choice(HOSTILE)
            data[at: at + width] = value[:width].ljust(width)
        elif what < 0.6:  # a time-keeping or annotation byte in some record
            records = (len(data) - 1024) // (500 * 2 * 2 + 512)
            if records > 0:
                r = rng.randrange(records)
                at = 1024 + r * 2512 + 2000 + rng.randrange(40)
                data[at] = rng.choice(b"+-.0123456789e\x14\x15\x00nainf")
        elif what < 0.75:
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        elif what < 0.9:
            del data[rng.randrange(len(data)):]
        else:
            i = rng.randrange(len(data))
            data[i:i] = rng.randbytes(rng.randint(1, 700))
    return bytes(data)


def mutate_csv(base: bytes, rng: random.Random) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        i = rng.randrange(len(data)) if data else 0
        if what < 0.25:
            data[i: i + 1] = rng.choice([b"nan", b"inf", b"-", b",", b";", b"\r", b"\x00", b"1e999", b"\"", b"\t",
                                         b"99999999999", b"\n\n", b"x"])
        elif what < 0.4:
            data = data.replace(b"\n", rng.choice([b"\r", b"\r\n", b",\n", b"\n\n"]))
        elif what < 0.55:
            del data[i:]
        elif what < 0.7:
            data[i:i] = bytes(rng.randint(1, 255) for _ in range(rng.randint(1, 200)))
        elif what < 0.85:  # a jump in the time column
            lines = bytes(data).split(b"\n")
            if len(lines) > 3:
                k = rng.randrange(1, len(lines) - 1)
                parts = lines[k].split(b",")
                parts[0] = rng.choice([b"1e9", b"-5", b"1000", b"nan", b"0", b"1e300"])
                lines[k] = b",".join(parts)
                data = bytearray(b"\n".join(lines))
        else:
            data[i:i] = b"7" * rng.randint(1000, 100_000)  # a very long line
    return bytes(data)


def check_file(path: str) -> str:
    """Analyse one mutant: 'ok', or 'refused' (one-line FormatError). Raises AssertionError
    for anything else: another exception, a multi-line or long message, or too much memory."""
    from myotwitch.host.analysis import analyze_file

    tracemalloc.start()
    try:
        try:
            res = analyze_file(path)
            outcome = "ok"
            import json

            json.dumps(res, allow_nan=False, default=str)  # strict JSON, always
        except MyotwitchError as e:
            msg = str(e)
            assert "\n" not in msg and len(msg) < 600, f"error text too long or multi-line: {msg[:200]!r}"
            outcome = "refused"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak / 1e6:.0f} MB for one mutant"
    return outcome


def file_case(kind: str, base: bytes, rng: random.Random, folder: str) -> str:
    data = mutate_edf(base, rng) if kind == "edf" else mutate_csv(base, rng)
    path = os.path.join(folder, f"mutant.{kind}")
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        return check_file(path)
    except AssertionError as e:
        keep = os.path.join(folder, f"failing-{rng.random():.6f}.{kind}")
        with open(keep, "wb") as fh:
            fh.write(data)
        raise AssertionError(f"{e} (mutant kept as {keep})") from None


def main() -> None:
    ap = argparse.ArgumentParser(description="fuzz the decoder, assembler and file readers")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts = {"assembler": 0, "decoder": 0, "edf ok": 0, "edf refused": 0, "csv ok": 0, "csv refused": 0}
    folder = tempfile.mkdtemp(prefix="myotwitch-fuzz-")
    edf_base = make_edf(os.path.join(folder, "base.edf"))
    csv_base = make_csv()
    deadline = time.monotonic() + args.minutes * 60
    import logging

    logging.disable(logging.WARNING)
    while time.monotonic() < deadline:
        for _ in range(20):
            random_assembler_case(rng)
            counts["assembler"] += 1
            decoder_case(rng)
            counts["decoder"] += 1
        for kind, base in (("edf", edf_base), ("csv", csv_base)):
            counts[f"{kind} {file_case(kind, base, rng, folder)}"] += 1
    line = (f"seed {args.seed}, {args.minutes:g} min: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            + "; 0 failures")
    print(line)
    write_section("Fuzzing", f"`python -m benchmarks.fuzz --minutes {args.minutes:g}` on {machine()}:\n\n{line} "
                  "(a failure stops the run and keeps the mutant).\n\nCases: assembler scenarios against the model, "
                  "damaged decoder streams, EDF and CSV mutants (ok = read, refused = one-line FormatError; "
                  f"traced memory < {MEMORY_LIMIT / 1e6:.0f} MB each).")


if __name__ == "__main__":
    main()
