"""Rebuild data/recordings/tibialis-anterior-needle-*.edf from PhysioNet's "Examples of
Electromyograms" (emgdb 1.0.0, Open Data Commons Attribution License v1.0; see
data/recordings/SOURCES.md).

Maintenance only, not run by the tests. It needs the three records' WFDB files (``.hea`` and
``.dat``) in one folder, e.g.

    for r in healthy myopathy neuropathy; do for x in hea dat; do
      curl -O https://physionet.org/files/emgdb/1.0.0/emg_$r.$x; done; done
    python scripts/import_intramuscular.py .

Each record is one channel at 4 kHz in WFDB format 16 (16-bit little-endian), 10 counts a
µV. The header's sample count and checksum are checked, and the .dat files' sha256 too. The
EDF files are written with a step of exactly 0.1 µV over ±3276.8 µV, so every sample is
carried exactly. No filtering, no resampling, nothing cut.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

import numpy as np

from myotwitch.host.edf import EdfWriter, Subject

OUT = Path(__file__).resolve().parent.parent / "data" / "recordings"
FS = 4000.0
UV_PER_COUNT = 0.1  # "10000/mV" in the headers
#: the records give no date: a fixed neutral one
START = dt.datetime(2000, 1, 1)

#: (record, output name, sha256 of its .dat file)
RECORDS = [
    ("emg_healthy", "tibialis-anterior-needle-healthy.edf",
     "4990f34f0ffb314f6ce70c1d2089b7ce41fa96d19fcd9fb334815ca5033966fd"),
    ("emg_myopathy", "tibialis-anterior-needle-myopathy.edf",
     "2c310a0f61843a5a5e906d413b6ff7f51370a91e516344af511c7fe6da9eaf7f"),
    ("emg_neuropathy", "tibialis-anterior-needle-neuropathy.edf",
     "108c6c71d3792f3dba645539bd9241119fb4c6a3a0f3e515399694b072375dd5"),
]


def load(folder: Path, record: str, sha256: str) -> np.ndarray:
    """The record's samples in µV, after checking its header and checksum."""
    head = (folder / f"{record}.hea").read_text().split("\n")
    name, n_sig, fs, n = head[0].split()[:4]
    if name != record or int(n_sig) != 1 or float(fs) != FS:
        raise SystemExit(f"{record}.hea: expected one signal at {FS:g} Hz, got {head[0]!r}")
    spec = head[1].split()
    if spec[1] != "16" or spec[2].lower() != "10000/mv" or spec[4] != "0":
        raise SystemExit(f"{record}.hea: expected format 16, gain 10000/mV, baseline 0, got {head[1]!r}")
    raw = (folder / f"{record}.dat").read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{record}.dat: sha256 {digest}, expected {sha256}")
    counts = np.frombuffer(raw, "<i2")
    if counts.size != int(n) or int(counts[0]) != int(spec[5]):
        raise SystemExit(f"{record}.dat: {counts.size} samples starting {counts[0]}, the header says {n} from {spec[5]}")
    total = int(counts.astype(np.int64).sum()) & 0xFFFF  # WFDB: the samples' 16-bit sum, signed
    if (total - 0x10000 if total >= 0x8000 else total) != int(spec[6]):
        raise SystemExit(f"{record}.dat: checksum does not match its header")
    return counts.astype(np.float64) * UV_PER_COUNT


def main(src: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for record, out, sha in RECORDS:
        uv = load(Path(src), record, sha)
        target = OUT / out
        target.unlink(missing_ok=True)
        with EdfWriter(target, fs=FS, labels=["tibialis_ant"], uv_per_count=UV_PER_COUNT, start=START,
                       subject=Subject(code="emgdb", recording_code=record, equipment="PhysioNet_emgdb_1.0.0"),
                       transducer="25 mm concentric needle", prefilter="as published") as w:
            w.write(uv[None, :])
        print(f"{out}: {len(uv) / FS:.3f} s at {FS:g} Hz, RMS {uv.std():.1f} µV")


if __name__ == "__main__":
    main(sys.argv[1])
