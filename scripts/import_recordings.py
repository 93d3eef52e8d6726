"""Rebuild data/recordings/*.edf from the PLUX sample recordings bundled in the MIT-licensed
PyPI package biosignalsnotebooks 0.6.14 (see data/recordings/SOURCES.md).

Maintenance only, not run by the tests: it needs h5py and the package's wheel, e.g.

    pip download --no-deps -d /tmp/bsnb biosignalsnotebooks==0.6.14
    unzip -q /tmp/bsnb/biosignalsnotebooks-0.6.14-py3-none-any.whl -d /tmp/bsnb/x
    python scripts/import_recordings.py /tmp/bsnb/x/biosignalsnotebooks/notebook_files/osf_files/signal_samples

Raw ADC counts become µV with PLUX's published EMG transfer function (the same one the
package's ``raw_to_phy`` uses): uV = (count / 2**bits - 0.5) * 3000 (3 V supply, gain 1000).
The EDF's 16-bit steps are 3000/65536 µV, the 16-bit devices' own LSB, so their samples are
carried exactly; 12- and 8-bit samples land on exact multiples of it.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import h5py
import numpy as np

from myotwitch.host.edf import EdfWriter

OUT = Path(__file__).resolve().parent.parent / "data" / "recordings"
UV_PER_COUNT = 3000.0 / 65536.0

#: (source file, device index in the h5 file, output name, EDF label)
RECORDINGS = [
    ("emg_bursts.h5", 0, "biceps-cyclic-contractions.edf", "biceps"),
    ("emg_fatigue.h5", 0, "biceps-flexion-extension.edf", "biceps"),
    ("emg_1000_hz_16_bits_solo.h5", 0, "thumb-adductor-contractions.edf", "adductor_pollicis"),
    ("emg_1000_hz_16_bits.h5", 0, "thumb-adductor-40s.edf", "adductor_pollicis"),
    ("emg_1000_hz_8_16_bits.h5", 0, "thumb-adductor-16bit.edf", "adductor_pollicis"),
    ("emg_1000_hz_8_16_bits.h5", 1, "thumb-adductor-8bit.edf", "adductor_pollicis"),
]


def load(path: Path, device: int) -> tuple[np.ndarray, float, int, dt.datetime]:
    with h5py.File(path) as h:
        g = h[list(h.keys())[device]]
        bits = int(g.attrs["resolution"][0])
        fs = float(g.attrs["sampling rate"])
        name = next(k for k in g["raw"].keys() if k.startswith("channel"))
        if g["raw"][name].attrs["sensor"] != "EMG":
            raise SystemExit(f"{path.name}: {name} is not an EMG channel")
        counts = g["raw"][name][:, 0].astype(np.float64)
        y, m, d = (int(v) for v in str(g.attrs["date"]).split("-"))
        hh, mm, ss = str(g.attrs["time"]).split(":")
        start = dt.datetime(y, m, d, int(hh), int(mm), int(float(ss)))
    return (counts / 2 ** bits - 0.5) * 3000.0, fs, bits, start


def main(src: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for h5, device, out, label in RECORDINGS:
        uv, fs, bits, start = load(Path(src) / h5, device)
        target = OUT / out
        target.unlink(missing_ok=True)
        with EdfWriter(target, fs=fs, labels=[label], uv_per_count=UV_PER_COUNT, start=start,
                       transducer=f"surface EMG, PLUX {bits}-bit", prefilter="as recorded") as w:
            w.write(uv[None, :])
        print(f"{out}: {len(uv) / fs:.3f} s at {fs:g} Hz, {bits}-bit, from {h5}")


if __name__ == "__main__":
    main(sys.argv[1])
