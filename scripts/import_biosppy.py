"""Rebuild data/recordings/biosppy-quiet-baseline.edf from BioSPPy's EMG example signal
(``examples/emg.txt``; BSD 3-clause; see data/recordings/SOURCES.md).

Maintenance only, not run by the tests. It needs the text file from the owner's repository,
e.g.

    git clone https://github.com/scientisst/BioSPPy /tmp/bsp
    python scripts/import_biosppy.py /tmp/bsp/examples

The file is OpenSignals' "Simple Text Format": a header of ``#`` lines (1000 Hz, 12-bit, one
EMG channel), then one raw ADC count a line. The device is not named; the format and the
resolution are PLUX's, so the counts become µV with PLUX's EMG transfer function, as for the
other PLUX files here: uV = (count / 4096 - 0.5) * 3000 (3 V supply, sensor gain 1000; BITalino's
would give 9 % larger values). The EDF's steps are 3000/4096 µV, one count, so every sample is
carried to within 0.002 µV (the EDF header's 8-character ranges). No filtering, no resampling,
nothing cut.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

import numpy as np

from myotwitch.host.edf import EdfWriter, Subject

OUT = Path(__file__).resolve().parent.parent / "data" / "recordings"
FS = 1000.0
BITS = 12
UV_PER_COUNT = 3000.0 / 2 ** BITS
#: the files give no date: a fixed neutral one
START = dt.datetime(2000, 1, 1)

#: (source file, output name, sha256 of the source)
FILES = [
    ("emg.txt", "biosppy-quiet-baseline.edf", "e9a278c359b2e636049634e2c3ba25d187db828755cc2eeb62a9e89c40235fb5"),
]


def load(path: Path, sha256: str) -> np.ndarray:
    """The file's samples in µV, after checking its digest and header."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {sha256}")
    lines = raw.decode("utf-8-sig").splitlines()
    head = {k.strip("# ").strip(): v.strip() for k, _, v in (ln.partition(":=") for ln in lines if ln.startswith("#"))}
    if float(head.get("Sampling Rate (Hz)", "nan")) != FS or int(head.get("Resolution", "0")) != BITS:
        raise SystemExit(f"{path}: expected {FS:g} Hz at {BITS} bits, the header says {head}")
    counts = np.array([float(ln) for ln in lines if ln and not ln.startswith("#")])
    if (counts != np.rint(counts)).any() or counts.min() < 0 or counts.max() >= 2 ** BITS:
        raise SystemExit(f"{path}: samples are not {BITS}-bit counts")
    return (counts / 2 ** BITS - 0.5) * 3000.0


def main(src: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, out, sha in FILES:
        uv = load(Path(src) / name, sha)
        target = OUT / out
        target.unlink(missing_ok=True)
        with EdfWriter(target, fs=FS, labels=["EMG"], uv_per_count=UV_PER_COUNT, start=START,
                       subject=Subject(code="BioSPPy", recording_code=name, equipment="BioSPPy_examples"),
                       transducer=f"surface EMG, {BITS}-bit (PLUX format)", prefilter="as published (raw)") as w:
            w.write(uv[None, :])
        print(f"{out}: {len(uv) / FS:.3f} s at {FS:g} Hz, {BITS}-bit, from {name}")


if __name__ == "__main__":
    main(sys.argv[1])
