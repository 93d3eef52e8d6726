"""The shipped real recordings (data/recordings/) and the checks issue #15 asks of them.

Each recording is real voluntary activity or movement, where the right number of twitches
is 0; some contain quiet stretches, where synthetic twitches are injected to measure recall
on real background noise. Used by tests/host/test_real_recordings.py and
benchmarks/real_recordings.py."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

from myotwitch.dsp import detect
from myotwitch.dsp.config import DetectorConfig
from myotwitch.dsp.evaluate import match
from myotwitch.dsp.events import Event
from myotwitch.dsp.synth import muap
from myotwitch.host.edf import EdfReader
from myotwitch.host.paths import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ACTIVITIES = ("voluntary", "movement", "walking", "intramuscular", "quiet")
#: injected twitch sizes, peak-to-peak as multiples of the quiet stretches' noise RMS (issue #15 item 4 brief)
INJECT_SIZE = (10.0, 20.0)
#: injected twitch durations (ms): the issue's 5-30 ms motor-unit potentials
INJECT_MS = (5.0, 30.0)
#: injected twitches are this far apart (s, uniform: irregular, as fasciculations are, and far
#: slower than a motor unit's 5-30 Hz), and kept this far from a quiet stretch's ends
INJECT_INTERVAL_S = (0.45, 0.9)
INJECT_MARGIN_S = 0.25
#: an injected twitch counts as found when a twitch's onset is within this of its start
MATCH_TOLERANCE_S = 0.030


def recordings_dir() -> Path:
    return data_dir() / "recordings"


@dataclass(frozen=True)
class Recording:
    """One manifest entry."""

    file: str
    activity: str
    muscle: str
    fs_hz: float
    duration_s: float
    adc_bits: int
    expected_max_twitches: int
    quiet: tuple[tuple[float, float], ...]
    source: str
    licence: str
    task: str = ""
    #: stretches of sparse, regular single-motor-unit firing (voluntary, never twitches)
    tonic: tuple[tuple[float, float], ...] = ()

    @property
    def path(self) -> Path:
        return recordings_dir() / self.file

    @property
    def quiet_s(self) -> float:
        return float(sum(b - a for a, b in self.quiet))

    def load(self) -> tuple[np.ndarray, float]:
        """The single channel as float64 µV, and its sample rate."""
        x, fs = EdfReader(self.path).read_all()
        return x[0].astype(np.float64), fs


@dataclass(frozen=True)
class Manifest:
    recordings: tuple[Recording, ...]
    quiet_max_twitches_per_100s: float


def manifest() -> Manifest:
    """Read and validate data/recordings/manifest.toml."""
    path = recordings_dir() / "manifest.toml"
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    recs = []
    for i, r in enumerate(raw["recording"]):
        where = f"{path.name}: recording {i + 1} ({r.get('file', '?')})"
        if r.get("activity") not in ACTIVITIES:
            raise ValueError(f"{where}: activity {r.get('activity')!r}, expected one of {ACTIVITIES}")
        quiet = tuple((float(a), float(b)) for a, b in r.get("quiet", []))
        tonic = tuple((float(a), float(b)) for a, b in r.get("tonic", []))
        if any(not 0 <= a < b <= float(r["duration_s"]) for a, b in quiet + tonic):
            raise ValueError(f"{where}: quiet and tonic stretches must lie inside 0..duration_s with start < end")
        recs.append(Recording(file=r["file"], activity=r["activity"], muscle=r["muscle"], fs_hz=float(r["fs_hz"]),
                              duration_s=float(r["duration_s"]), adc_bits=int(r["adc_bits"]),
                              expected_max_twitches=int(r["expected_max_twitches"]), quiet=quiet,
                              source=r["source"], licence=r["licence"], task=r.get("task", ""), tonic=tonic))
    return Manifest(tuple(recs), float(raw["quiet_max_twitches_per_100s"]))


def _inside(t: float, stretches: tuple[tuple[float, float], ...]) -> bool:
    return any(a <= t < b for a, b in stretches)


def twitches_in(events: list[Event], stretches: tuple[tuple[float, float], ...]) -> list[Event]:
    """Twitches whose onset lies in one of ``stretches``."""
    return [e for e in events if e.kind == "twitch" and _inside(e.onset_s, stretches)]


def noise_rms(x: np.ndarray, fs: float, stretches: tuple[tuple[float, float], ...],
              config: DetectorConfig | None = None) -> float:
    """RMS (µV) of the signal in the detector's pass band over the quiet stretches: the
    'noise RMS' that twitch sizes are quoted against. Zero-phase, so it is a property of the
    recording, not of any one detector's filter delay."""
    lo, hi = (config or DetectorConfig()).band_for(fs)
    sos = signal.butter(2, [lo, hi], btype="bandpass", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, x)
    parts = [y[int(a * fs): int(b * fs)] for a, b in stretches]
    return float(np.sqrt(np.mean(np.concatenate(parts) ** 2))) if parts else float("nan")


@dataclass
class Injection:
    """Synthetic twitches added to a recording's quiet stretches."""

    signal: np.ndarray
    onsets_s: np.ndarray
    ptp_uv: np.ndarray


def inject(x: np.ndarray, fs: float, stretches: tuple[tuple[float, float], ...], rms_uv: float,
           seed: int = 0, size: tuple[float, float] = INJECT_SIZE) -> Injection:
    """Add bi- or triphasic potentials (dsp.synth.muap, 5-30 ms, ``size`` times ``rms_uv``
    peak-to-peak, random polarity) at irregular INJECT_INTERVAL_S intervals through each
    quiet stretch, away from its ends."""
    rng = np.random.default_rng(seed)
    y = np.array(x, dtype=np.float64, copy=True)
    onsets, sizes = [], []
    for a, b in stretches:
        at = a + INJECT_MARGIN_S + rng.uniform(0.0, INJECT_INTERVAL_S[0])
        while at + INJECT_MS[1] / 1000 <= b - INJECT_MARGIN_S:
            w = muap(rng.uniform(*INJECT_MS), fs, rng, doublet=False)
            ptp = rng.uniform(*size) * rms_uv
            i = int(round(at * fs))
            w = w[: len(y) - i]
            y[i: i + len(w)] += ptp * w
            # the onset is where the potential first leaves the baseline (the padding is silent)
            first = int(np.argmax(np.abs(w) > 0.02))
            onsets.append((i + first) / fs)
            sizes.append(ptp)
            at += rng.uniform(*INJECT_INTERVAL_S)
    return Injection(y, np.array(onsets), np.array(sizes))


@dataclass
class RecordingResult:
    """What the detector made of one recording, with and without injected twitches."""

    recording: Recording
    twitches: int
    quiet_twitches: int
    tonic_twitches: int
    noise_rms_uv: float
    injected: int = 0
    found: int = 0
    extra: int = 0
    events: list[Event] = field(default_factory=list, repr=False)

    @property
    def recall(self) -> float:
        return self.found / self.injected if self.injected else float("nan")


def evaluate(rec: Recording, config: DetectorConfig | None = None, seeds: tuple[int, ...] = (0,),
             size: tuple[float, float] = INJECT_SIZE) -> RecordingResult:
    """Run the detector on the recording as it is, and again, once per seed, with twitches of
    ``size`` x noise RMS injected into its quiet stretches (if any)."""
    x, fs = rec.load()
    res = detect(x, fs, config)
    rms = noise_rms(x, fs, rec.quiet, config)
    out = RecordingResult(rec, len(res.twitches), len(twitches_in(res.events, rec.quiet)),
                          len(twitches_in(res.events, rec.tonic)), rms, events=res.events)
    for seed in seeds if rec.quiet else ():
        inj = inject(x, fs, rec.quiet, rms, seed=seed, size=size)
        got = twitches_in(detect(inj.signal, fs, config).events, rec.quiet)
        tp, fp, _ = match(np.array([e.onset_s for e in got]), inj.onsets_s, MATCH_TOLERANCE_S)
        out.injected += len(inj.onsets_s)
        out.found += tp
        out.extra += fp
    return out
