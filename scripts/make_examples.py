"""Regenerate the shipped example recordings in data/examples/ (deterministic)."""

from __future__ import annotations

import datetime as dt
import pathlib

from myotwitch.dsp.synth import SynthSpec, SynthStream
from myotwitch.host.csvio import write_csv
from myotwitch.host.edf import EdfWriter, Subject
from myotwitch.host.simulator import VirtualDevice

OUT = pathlib.Path(__file__).resolve().parents[1] / "data" / "examples"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    spec = SynthSpec(fs=1000.0, n_channels=2, seed=2026, twitch_rate=8.0, mains_hz=50.0, mains_uv=20.0,
                     contraction_rate=0.6, pop_rate=0.3, noise_uv=4.0)
    dev = VirtualDevice(spec)
    x = dev.to_counts(SynthStream(spec).read(10 * 60 * 1000)) * dev.uv_per_count
    path = OUT / "calf-10min.edf"
    path.unlink(missing_ok=True)
    w = EdfWriter(path, fs=1000.0, labels=["gastrocnemius", "soleus"], uv_per_count=dev.uv_per_count,
                  start=dt.datetime(2026, 11, 28, 23, 0, 0), subject=Subject(code="EXAMPLE"))
    w.write(x[:, :300_000])
    w.gap(1500)  # a 1.5 s dropout, as an unplug would leave
    w.write(x[:, 301_500:])
    w.close()
    csv = OUT / "calf-30s.csv"
    write_csv(csv, x[:, :30_000], 1000.0, ["gastrocnemius", "soleus"])
    print(f"wrote {path} and {csv}")


if __name__ == "__main__":
    main()
