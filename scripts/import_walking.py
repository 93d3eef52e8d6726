"""Rebuild data/recordings/*-treadmill-walking.edf from the example data set of the MIT-licensed
R package musclesyneRgies by Alessandro Santuz (see data/recordings/SOURCES.md).

Maintenance only, not run by the tests: it needs the package's ``data/RAW_DATA.RData`` and the
pure-Python R data reader ``rdata`` (pip install rdata; 1.1.0 was used), e.g.

    git clone https://github.com/alesantuz/musclesyneRgies /tmp/msr
    git -C /tmp/msr show 0fbf53b01d9386fe489cb9e864c43a242dee70ce:data/RAW_DATA.RData > /tmp/RAW_DATA.RData
    python scripts/import_walking.py /tmp/RAW_DATA.RData

``RAW_DATA`` holds one treadmill-walking trial (``ID0012_TW_01``) of 13 right-leg muscles at
1 kHz in µV, and the trial's right-foot touchdown and lift-off times. Every value is a whole
step of 3300/32768 µV (a 16-bit converter over ±3.3 mV); the EDF files are written with that
step, so every sample is carried exactly (the source's 6-decimal rounding is undone). No
filtering, no resampling. All 13 muscles are shipped, one file each.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from pathlib import Path

import numpy as np
import rdata

from myotwitch.host.edf import EdfWriter, Subject

OUT = Path(__file__).resolve().parent.parent / "data" / "recordings"
SHA256 = "1b861c987a9a6d5e10733d80f509f58e4b1499ccbd3f26034c424f28321afac8"
TRIAL = "ID0012_TW_01"
FS = 1000.0
UV_PER_COUNT = 3300.0 / 32768.0
#: the data set gives no recording date: a fixed neutral one
START = dt.datetime(2000, 1, 1)

#: (column in RAW_DATA, output name, EDF label)
CHANNELS = [
    ("GM", "gastrocnemius-medialis-treadmill-walking.edf", "gastroc_medialis"),
    ("GL", "gastrocnemius-lateralis-treadmill-walking.edf", "gastroc_lateral"),
    ("SO", "soleus-treadmill-walking.edf", "soleus"),
    ("TA", "tibialis-anterior-treadmill-walking.edf", "tibialis_ant"),
    ("PL", "peroneus-longus-treadmill-walking.edf", "peroneus_longus"),
    ("ME", "gluteus-medius-treadmill-walking.edf", "gluteus_medius"),
    ("MA", "gluteus-maximus-treadmill-walking.edf", "gluteus_maximus"),
    ("FL", "tensor-fasciae-latae-treadmill-walking.edf", "tensor_fasc_lat"),
    ("RF", "rectus-femoris-treadmill-walking.edf", "rectus_femoris"),
    ("VM", "vastus-medialis-treadmill-walking.edf", "vastus_medialis"),
    ("VL", "vastus-lateralis-treadmill-walking.edf", "vastus_lateralis"),
    ("ST", "semitendinosus-treadmill-walking.edf", "semitendinosus"),
    ("BF", "biceps-femoris-treadmill-walking.edf", "biceps_femoris"),
]


def load(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {SHA256}")
    trial = rdata.read_rda(str(path))["RAW_DATA"][TRIAL]
    emg = trial["emg"]
    t = emg["time"].to_numpy(dtype=np.float64)
    if not np.allclose(np.diff(t), 1.0 / FS, atol=1e-6):
        raise SystemExit(f"{path}: the time column is not a steady {FS:g} Hz")
    cols = {str(c): emg[c].to_numpy(dtype=np.float64) for c in emg.columns if c != "time"}
    for name, x in cols.items():
        q = x / UV_PER_COUNT
        if np.abs(q - np.rint(q)).max() > 1e-4:
            raise SystemExit(f"{path}: column {name} is not in whole steps of {UV_PER_COUNT} µV")
    return cols, t, np.asarray(trial["cycles"], dtype=np.float64)


def main(src: str) -> None:
    cols, t, cycles = load(Path(src))
    t0 = t[0]  # the source's first sample is at 0.014 s; EDF time 0 is that sample
    OUT.mkdir(parents=True, exist_ok=True)
    for col, out, label in CHANNELS:
        uv = np.rint(cols[col] / UV_PER_COUNT) * UV_PER_COUNT
        target = OUT / out
        target.unlink(missing_ok=True)
        with EdfWriter(target, fs=FS, labels=[label], uv_per_count=UV_PER_COUNT, start=START,
                       subject=Subject(code="ID0012", recording_code=TRIAL, equipment="musclesyneRgies_RAW_DATA"),
                       transducer="surface EMG, bipolar", prefilter="as published (raw)") as w:
            w.write(uv[None, :])
            for touchdown, liftoff in cycles:
                w.annotate(round(touchdown - t0, 3), None, "right_touchdown")
                w.annotate(round(liftoff - t0, 3), None, "right_liftoff")
        print(f"{out}: {col}, {len(uv) / FS:.3f} s at {FS:g} Hz, RMS {uv.std():.1f} µV")


if __name__ == "__main__":
    main(sys.argv[1])
