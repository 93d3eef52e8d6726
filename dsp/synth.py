"""Synthetic calf surface EMG with labelled twitches and every confounder, seeded and deterministic.

Used by the simulator device, the tests and the accuracy benchmark. Waveforms are built
at 8x the output rate and decimated, so short motor-unit potentials look right at 500 Hz too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy import signal

OVERSAMPLE = 8


@dataclass(frozen=True)
class SynthSpec:
    """What to generate. Rates are per minute; amplitudes are µV (RMS for noise, mains and
    contractions; peak-to-peak for twitches; step size for electrode pops)."""

    fs: float = 1000.0
    duration_s: float = 60.0
    n_channels: int = 1
    seed: int = 0
    noise_uv: float = 4.0
    baseline_uv: float = 20.0
    twitch_rate: float = 6.0
    twitch_ptp_uv: tuple[float, float] = (40.0, 2000.0)
    twitch_ms: tuple[float, float] = (3.0, 30.0)
    doublet_prob: float = 0.15
    twitch_min_spacing_s: float = 0.25
    mains_hz: float | None = None
    mains_uv: float = 50.0
    mains_harmonics: tuple[float, ...] = (1.0, 0.35, 0.2, 0.1)
    contraction_rate: float = 0.0
    contraction_s: tuple[float, float] = (0.4, 3.0)
    contraction_uv: tuple[float, float] = (20.0, 300.0)
    movement_rate: float = 0.0
    movement_uv: tuple[float, float] = (300.0, 3000.0)
    pop_rate: float = 0.0
    pop_uv: tuple[float, float] = (300.0, 5000.0)
    clip_uv: float | None = None
    gap_rate: float = 0.0
    gap_s: tuple[float, float] = (0.05, 2.0)

    def with_(self, **kw: Any) -> SynthSpec:
        return replace(self, **kw)


@dataclass(frozen=True)
class TrueTwitch:
    onset_s: float
    offset_s: float
    channel: int
    peak_to_peak_uv: float
    doublet: bool


@dataclass
class GroundTruth:
    twitches: list[TrueTwitch] = field(default_factory=list)
    #: (kind, onset_s, offset_s, channel or -1 for all): contraction, movement, pop, gap
    confounders: list[tuple[str, float, float, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"twitches": [asdict(t) for t in self.twitches],
                "confounders": [dict(zip(("kind", "onset_s", "offset_s", "channel"), c)) for c in self.confounders]}


def muap(duration_ms: float, fs: float, rng: np.random.Generator, doublet: bool) -> np.ndarray:
    """One motor-unit potential (bi- or triphasic, random polarity), unit peak-to-peak,
    optionally followed by a second discharge a few ms later (a doublet)."""
    fs_hi = fs * OVERSAMPLE
    n = max(int(round(duration_ms / 1000 * fs_hi)), 8)
    t = np.linspace(-3.0, 3.0, n)
    g = np.exp(-t * t / 2)
    w = -t * g if rng.random() < 0.5 else (1 - t * t) * g  # biphasic or triphasic
    if doublet:
        lag = int(round(rng.uniform(3.0, 8.0) / 1000 * fs_hi))
        second = np.zeros(n + lag)
        second[lag:] = w * rng.uniform(0.5, 1.0)
        second[:n] += w
        w = second
    w = w * (1 if rng.random() < 0.5 else -1)
    pad = np.zeros(OVERSAMPLE * 4)
    w = signal.resample_poly(np.concatenate([pad, w, pad]), 1, OVERSAMPLE)
    return w / (w.max() - w.min())


def _band_noise(rng: np.random.Generator, n: int, fs: float, lo: float, hi: float, rms: float) -> np.ndarray:
    sos = signal.butter(2, [lo, min(hi, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + 256))[256:]
    return x * (rms / (x.std() + 1e-12))


def _events(rng: np.random.Generator, rate_per_min: float, duration_s: float) -> np.ndarray:
    count = rng.poisson(rate_per_min * duration_s / 60.0)
    return np.sort(rng.uniform(0, duration_s, count))


def _loguniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def synthesize(spec: SynthSpec, start_s: float = 0.0, segment: int | None = None) -> tuple[np.ndarray, GroundTruth]:
    """Return ``(x, truth)``: x is float32 µV of shape (channels, n); truth times are relative
    to the start of ``x``. ``start_s``/``segment`` generate one piece of an endless stream:
    slow components (baseline wander, mains phase) continue across pieces."""
    rng = np.random.default_rng(spec.seed if segment is None else [spec.seed, segment])
    slow = np.random.default_rng([spec.seed, 0x5EED])  # same for every segment: continuity
    fs, ch = spec.fs, spec.n_channels
    n = int(round(spec.duration_s * fs))
    t = start_s + np.arange(n) / fs
    x = np.empty((ch, n))
    truth = GroundTruth()
    for c in range(ch):
        x[c] = _band_noise(rng, n, fs, 15.0, 500.0, spec.noise_uv)
        for _ in range(3):  # slow baseline wander
            f = slow.uniform(0.05, 0.5)
            x[c] += spec.baseline_uv / 3 * np.sin(2 * np.pi * f * t + slow.uniform(0, 2 * np.pi))
    if spec.mains_hz:
        drift = 1 + 0.1 * np.sin(2 * np.pi * 0.05 * t)
        for k, rel in enumerate(spec.mains_harmonics, start=1):
            phase = slow.uniform(0, 2 * np.pi, ch)[:, None]
            if k * spec.mains_hz < fs / 2 - 5:
                x += np.sqrt(2) * spec.mains_uv * rel * drift * np.sin(2 * np.pi * k * spec.mains_hz * t + phase)

    busy = np.zeros(n, dtype=bool)  # where twitches are not placed (confounders + margin)
    margin = int(0.4 * fs)

    def mark(kind: str, s: int, e: int, chan: int) -> None:
        truth.confounders.append((kind, s / fs, e / fs, chan))
        busy[max(0, s - margin): min(n, e + margin)] = True

    for onset in _events(rng, spec.contraction_rate, spec.duration_s):
        dur = rng.uniform(*spec.contraction_s)
        s, e = int(onset * fs), min(n, int((onset + dur) * fs))
        if e - s < 4:
            continue
        env = signal.windows.tukey(e - s, 0.3)
        level = _loguniform(rng, spec.contraction_uv)
        for c in range(ch):
            x[c, s:e] += env * _band_noise(rng, e - s, fs, 30.0, 250.0, level * rng.uniform(0.4, 1.0))
        mark("contraction", s, e, -1)
    for onset in _events(rng, spec.movement_rate, spec.duration_s):
        f = rng.uniform(1.0, 4.0)
        s = int(onset * fs)
        e = min(n, s + int(fs / f))
        amp = _loguniform(rng, spec.movement_uv) * rng.choice([-1, 1])
        for c in range(ch):
            x[c, s:e] += amp * rng.uniform(0.5, 1.0) * np.sin(np.pi * np.arange(e - s) / (fs / f))
        mark("movement", s, e, -1)
    for onset in _events(rng, spec.pop_rate, spec.duration_s):
        c = int(rng.integers(ch))
        s = int(onset * fs)
        tau = rng.uniform(0.1, 1.0)
        e = min(n, s + int(5 * tau * fs))
        amp = _loguniform(rng, spec.pop_uv) * rng.choice([-1, 1])
        rise = max(1, int(rng.uniform(0.5, 3.0) / 1000 * fs))
        since = np.arange(e - s)
        x[c, s:e] += amp * np.minimum(since / rise, 1.0) * np.exp(-since / (tau * fs))
        mark("pop", s, min(n, s + int(0.5 * fs)), c)

    spacing = int(spec.twitch_min_spacing_s * fs)
    for c in range(ch):
        last = -spacing
        for onset in _events(rng, spec.twitch_rate, spec.duration_s):
            s = int(onset * fs)
            doublet = rng.random() < spec.doublet_prob
            w = muap(rng.uniform(*spec.twitch_ms), fs, rng, doublet)
            # the template carries padding; the twitch proper is where it is non-negligible
            support = np.flatnonzero(np.abs(w) > 0.02 * np.abs(w).max())
            e = s + len(w)
            if s - last < spacing or e >= n or busy[s:e].any():
                continue
            ptp = _loguniform(rng, spec.twitch_ptp_uv)
            x[c, s:e] += ptp * w
            truth.twitches.append(TrueTwitch((s + support[0]) / fs, (s + support[-1] + 1) / fs, c, ptp, doublet))
            last = s
    if spec.clip_uv is not None:
        np.clip(x, -spec.clip_uv, spec.clip_uv, out=x)
    for onset in _events(rng, spec.gap_rate, spec.duration_s):
        s = int(onset * fs)
        e = min(n, s + int(rng.uniform(*spec.gap_s) * fs))
        x[:, s:e] = np.nan
        truth.confounders.append(("gap", s / fs, e / fs, -1))
        truth.twitches = [tw for tw in truth.twitches if tw.offset_s <= s / fs or tw.onset_s >= e / fs]
    truth.twitches.sort(key=lambda tw: (tw.onset_s, tw.channel))
    return x.astype(np.float32), truth


class SynthStream:
    """An endless synthetic recording, read in any block size; ground truth in absolute time."""

    def __init__(self, spec: SynthSpec, segment_s: float = 10.0) -> None:
        self.spec = spec
        self.segment_s = segment_s
        self.truth = GroundTruth()
        self._buf = np.empty((spec.n_channels, 0), dtype=np.float32)
        self._segment = 0
        self.samples_read = 0

    def read(self, n: int) -> np.ndarray:
        while self._buf.shape[1] < n:
            start = self._segment * self.segment_s
            x, truth = synthesize(self.spec.with_(duration_s=self.segment_s), start, self._segment)
            for tw in truth.twitches:
                self.truth.twitches.append(replace(tw, onset_s=tw.onset_s + start, offset_s=tw.offset_s + start))
            for kind, a, b, c in truth.confounders:
                self.truth.confounders.append((kind, a + start, b + start, c))
            self._buf = np.concatenate([self._buf, x], axis=1)
            self._segment += 1
        out, self._buf = self._buf[:, :n], self._buf[:, n:]
        self.samples_read += n
        return out


#: The labelled evaluation suite: case family -> spec changes (on top of SynthSpec defaults).
CASES: dict[str, dict] = {
    "clean_rest": dict(noise_uv=3.0, twitch_ptp_uv=(40.0, 2000.0)),
    "low_snr_rest": dict(noise_uv=8.0, twitch_ptp_uv=(80.0, 400.0)),
    "mains_50": dict(mains_hz=50.0, mains_uv=80.0),
    "mains_60": dict(mains_hz=60.0, mains_uv=80.0),
    "contractions": dict(contraction_rate=3.0),
    "movement": dict(movement_rate=3.0, pop_rate=2.0, clip_uv=2500.0),
    "mixed": dict(mains_hz=50.0, mains_uv=40.0, contraction_rate=1.5, movement_rate=1.5, pop_rate=1.0,
                  noise_uv=5.0, gap_rate=0.3, clip_uv=2500.0),
    "no_twitch_rest": dict(twitch_rate=0.0),
    "high_rate": dict(twitch_rate=60.0, twitch_min_spacing_s=0.2),
}
RATES_HZ = (500.0, 1000.0, 2000.0)


def case_spec(name: str, fs: float, duration_s: float, seed: int, n_channels: int = 1) -> SynthSpec:
    return SynthSpec(fs=fs, duration_s=duration_s, seed=seed, n_channels=n_channels, **CASES[name])


# -- recurring sources (motor-unit fingerprints) -------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One recurring source: a fixed waveform that fires again and again.

    The shape is a weighted sum of the first three Hermite functions (biphasic, triphasic,
    polyphasic) over ``duration_ms``; ``gains``/``delays_ms`` say how it reaches each channel
    (volume conduction: a smaller, slightly later copy on the neighbouring electrodes)."""

    shape: tuple[float, float, float]
    duration_ms: float
    ptp_uv: float
    rate_per_min: float
    gains: tuple[float, ...] = (1.0,)
    delays_ms: tuple[float, ...] = (0.0,)


@dataclass(frozen=True)
class SourceTwitch(TrueTwitch):
    """A true twitch with the source that fired it."""

    source: int = -1


@dataclass(frozen=True)
class UnitSynthSpec:
    """A recording of recurring sources in noise. Firings of different sources are kept at
    least ``min_spacing_s`` apart; ``doublet_prob`` adds a second discharge 3-8 ms later."""

    sources: tuple[Source, ...]
    fs: float = 1000.0
    duration_s: float = 600.0
    n_channels: int = 1
    seed: int = 0
    noise_uv: float = 4.0
    baseline_uv: float = 20.0
    amp_jitter: float = 0.05
    doublet_prob: float = 0.0
    min_spacing_s: float = 0.25

    def with_(self, **kw: Any) -> UnitSynthSpec:
        return replace(self, **kw)


def _hermite_wave(shape: tuple[float, float, float], t: np.ndarray) -> np.ndarray:
    g = np.exp(-t * t / 2)
    h1, h2, h3 = t * g, (t * t - 1) * g, (t**3 - 3 * t) * g / 1.5
    return shape[0] * h1 + shape[1] * h2 + shape[2] * h3


def source_waveform(src: Source, fs: float, shift_s: float = 0.0) -> np.ndarray:
    """The source's waveform sampled at ``fs`` (unit peak-to-peak at shift 0), starting
    ``shift_s`` late: evaluated at 8x the rate, then decimated, so sub-sample shifts are exact."""
    fs_hi = fs * OVERSAMPLE
    half = src.duration_ms / 2000.0
    n = int(np.ceil((2 * half + 0.004) * fs_hi / OVERSAMPLE)) * OVERSAMPLE + 4 * OVERSAMPLE
    t_hi = (np.arange(n) / fs_hi - shift_s - half - 0.002) / half * 3.0
    w = _hermite_wave(src.shape, t_hi)
    w = signal.resample_poly(w, 1, OVERSAMPLE)
    ref = signal.resample_poly(_hermite_wave(src.shape, (np.arange(n) / fs_hi - half - 0.002) / half * 3.0),
                               1, OVERSAMPLE)
    return w / (ref.max() - ref.min())


def random_sources(rng: np.random.Generator, n: int, n_channels: int = 1,
                   ptp_uv: tuple[float, float] = (60.0, 600.0), rate_per_min: tuple[float, float] = (2.0, 10.0),
                   duration_ms: tuple[float, float] = (5.0, 25.0)) -> tuple[Source, ...]:
    """``n`` sources that a careful observer could tell apart: each differs from every other
    in shape (correlation < 0.9 at the best lag) or in size (ratio > 1.5)."""
    out: list[Source] = []
    fs = 4000.0
    while len(out) < n:
        shape = rng.normal(size=3)
        shape[int(rng.integers(3))] *= 3  # one dominant phase pattern
        unit_shape = shape / np.linalg.norm(shape)
        cand = Source((float(unit_shape[0]), float(unit_shape[1]), float(unit_shape[2])), float(rng.uniform(*duration_ms)),
                      _loguniform(rng, ptp_uv), float(rng.uniform(*rate_per_min)),
                      tuple(float(v) for v in ([1.0] + list(rng.uniform(0.15, 0.7, n_channels - 1)))),
                      tuple(float(v) for v in ([0.0] + list(rng.uniform(0.0, 3.0, n_channels - 1)))))
        if n_channels > 1:  # the strongest channel need not be channel 0
            order = rng.permutation(n_channels)
            cand = replace(cand, gains=tuple(cand.gains[i] for i in order),
                           delays_ms=tuple(cand.delays_ms[i] for i in order))
        w = source_waveform(cand, fs)
        if all(_distinct(w, cand.ptp_uv, source_waveform(o, fs), o.ptp_uv) for o in out):
            out.append(cand)
    return tuple(out)


def _distinct(a: np.ndarray, a_ptp: float, b: np.ndarray, b_ptp: float) -> bool:
    ratio = max(a_ptp, b_ptp) / min(a_ptp, b_ptp)
    xc = signal.correlate(a, b, mode="full") / (np.linalg.norm(a) * np.linalg.norm(b))
    return ratio > 1.5 or float(xc.max()) < 0.9


def synthesize_units(spec: UnitSynthSpec) -> tuple[np.ndarray, GroundTruth]:
    """Return ``(x, truth)`` like ``synthesize``; truth twitches are ``SourceTwitch`` (one per
    firing, on the channel where the source is largest)."""
    rng = np.random.default_rng([spec.seed, 0x5C])
    fs, ch = spec.fs, spec.n_channels
    n = int(round(spec.duration_s * fs))
    t = np.arange(n) / fs
    x = np.empty((ch, n))
    for c in range(ch):
        x[c] = _band_noise(rng, n, fs, 15.0, 500.0, spec.noise_uv)
        for _ in range(3):
            x[c] += spec.baseline_uv / 3 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
    firings = []
    for k, src in enumerate(spec.sources):
        for onset in _events(rng, src.rate_per_min, spec.duration_s):
            firings.append((float(onset), k))
    firings.sort()
    truth = GroundTruth()
    last = -np.inf
    for onset, k in firings:
        if onset - last < spec.min_spacing_s:
            continue
        src = spec.sources[k]
        amp = src.ptp_uv * (1.0 + spec.amp_jitter * rng.standard_normal())
        doublet = bool(rng.random() < spec.doublet_prob)
        lag2 = rng.uniform(0.003, 0.008)
        amp2 = amp * rng.uniform(0.5, 1.0)
        main = int(np.argmax(src.gains[:ch]))
        support_on = support_off = None
        for c in range(ch):
            s_exact = onset + src.delays_ms[c] / 1000.0
            s = int(np.floor(s_exact * fs))
            w = amp * src.gains[c] * source_waveform(src, fs, s_exact - s / fs)
            if doublet:
                s2 = s_exact + lag2
                w2 = amp2 * src.gains[c] * source_waveform(src, fs, s2 - s / fs)
                m = max(w.size, w2.size)
                w = np.pad(w, (0, m - w.size)) + np.pad(w2, (0, m - w2.size))
            e = min(n, s + w.size)
            if s >= n:
                break
            x[c, s:e] += w[: e - s]
            if c == main:
                support = np.flatnonzero(np.abs(w) > 0.02 * np.abs(w).max())
                support_on, support_off = (s + support[0]) / fs, (s + support[-1] + 1) / fs
        if support_on is None or support_off is None:
            continue
        truth.twitches.append(SourceTwitch(support_on, support_off, main, amp * src.gains[main], doublet, k))
        last = onset
    return x.astype(np.float32), truth


# -- the simulator's scene: recurring sources and volume conduction ------------------------------
@dataclass(frozen=True)
class SceneSpec(SynthSpec):
    """``SynthSpec`` plus ``units`` recurring sources (on top of the one-off twitches) and
    ``crosstalk``: each channel also picks up the others at up to this gain, 0-3 ms later."""

    units: int = 0
    crosstalk: float = 0.0


class Crosstalk:
    """Streaming volume conduction: ``y_c = x_c + sum_k g_ck x_k(t - d_ck)`` for k != c, with
    gains ``crosstalk * U(0.5, 1)`` and delays of 0-3 ms drawn once per pair."""

    def __init__(self, fs: float, n_channels: int, crosstalk: float, seed: int = 0) -> None:
        rng = np.random.default_rng([seed, 0xC7])
        self.gain = crosstalk * rng.uniform(0.5, 1.0, (n_channels, n_channels))
        np.fill_diagonal(self.gain, 0.0)
        self.delay = rng.integers(0, int(0.003 * fs) + 1, (n_channels, n_channels))
        self._hist = np.zeros((n_channels, int(self.delay.max())))

    def process(self, x: np.ndarray) -> np.ndarray:
        d = self._hist.shape[1]
        full = np.concatenate([self._hist, x], axis=1)
        y = np.array(x, dtype=np.float64)
        n = x.shape[1]
        for c in range(x.shape[0]):
            for k in range(x.shape[0]):
                if self.gain[c, k]:
                    s = d - int(self.delay[c, k])
                    y[c] += self.gain[c, k] * full[k, s: s + n]
        self._hist = full[:, full.shape[1] - d:] if d else self._hist
        return y


class SceneStream:
    """``SynthStream`` with the scene's recurring sources added and crosstalk applied; truth
    holds the one-off twitches and the sources' firings (``SourceTwitch``) in absolute time."""

    def __init__(self, spec: SceneSpec, segment_s: float = 10.0) -> None:
        self.base = SynthStream(spec, segment_s)
        self.spec = spec
        self.truth = self.base.truth
        self.segment_s = segment_s
        rng = np.random.default_rng([spec.seed, 0x50])
        self.sources = random_sources(rng, spec.units, spec.n_channels, rate_per_min=(4.0, 15.0)) if spec.units else ()
        self.mixer = Crosstalk(spec.fs, spec.n_channels, spec.crosstalk, spec.seed) if spec.crosstalk else None
        self._buf = np.empty((spec.n_channels, 0))
        self._segment = 0
        self.samples_read = 0

    def read(self, n: int) -> np.ndarray:
        x = self.base.read(n).astype(np.float64)
        if self.sources:
            while self._buf.shape[1] < n:
                start = self._segment * self.segment_s
                u, truth = synthesize_units(UnitSynthSpec(self.sources, fs=self.spec.fs, duration_s=self.segment_s,
                                                          n_channels=self.spec.n_channels, noise_uv=0.0,
                                                          baseline_uv=0.0, seed=self.spec.seed * 100_003 + self._segment))
                self.truth.twitches += [replace(t, onset_s=t.onset_s + start, offset_s=t.offset_s + start)
                                        for t in truth.twitches]
                self._buf = np.concatenate([self._buf, u], axis=1)
                self._segment += 1
            x += self._buf[:, :n]
            self._buf = self._buf[:, n:]
        if self.mixer is not None:
            x = self.mixer.process(x)
        self.samples_read += n
        return x.astype(np.float32)


def scene_stream(spec: SynthSpec) -> SynthStream | SceneStream:
    """The stream a simulator plays: a scene when the spec asks for units or crosstalk."""
    if isinstance(spec, SceneSpec) and (spec.units or spec.crosstalk):
        return SceneStream(spec)
    return SynthStream(spec)
