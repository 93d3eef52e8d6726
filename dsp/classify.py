"""Decide what a burst is: a twitch, a voluntary contraction, or an artefact (with the reason)."""

from __future__ import annotations

import math

import numpy as np

from myotwitch.dsp import kernels
from myotwitch.dsp.bursts import Burst
from myotwitch.dsp.config import DetectorConfig
from myotwitch.dsp.events import Event
from myotwitch.dsp.glitch import CONTRAST_MIN_FIT, ImpulseFit
from myotwitch.dsp.records import frozen_record

#: below this rate the shortest potentials (3-5 ms) are only a few samples long and as sharp as
#: a single-sample glitch, so the raw spike test would reject real twitches
SPIKE_TEST_MIN_FS = 1500.0
#: the reason of a burst already under way when its channel's noise floor first existed in the
#: recording's first 0.5 s: its onset and size are not known (after a gap, the gap cut it, and
#: its reason says so)
STARTED_BEFORE_FLOOR = "cut off by the start of data (it began before the detector had a noise floor)"
#: ... and one that lost part of itself in a gap in the data
CUT_BY_GAP = "cut off by the data gap"


def impulse_threshold(b: Burst, cfg: DetectorConfig) -> float:
    """The glitch-shape threshold for this burst's size: noise pulls a small glitch's fit to the
    impulse response down (and a small potential's too), so from ``impulse_fit`` at 12x the
    floor it falls linearly to ``impulse_fit_low`` at 8x."""
    snr = b.peak_to_peak_uv / b.floor_uv if b.floor_uv > 0 else math.inf
    t = min(max((snr - 8.0) / 4.0, 0.0), 1.0)
    return cfg.impulse_fit_low + t * (cfg.impulse_fit - cfg.impulse_fit_low)


def too_small_reason(ptp_uv: float, least_uv: float) -> str:
    """Why a potential is no twitch: under ``min_twitch_uv`` (``least_uv``)."""
    return f"{math.floor(ptp_uv * 10) / 10:.1f} µV: smaller than the smallest twitch counted ({least_uv:g} µV)"


def phase_count(y: np.ndarray, step: float) -> int:
    """The phases of a waveform: its swings up and down of at least ``step`` (smaller wiggles,
    noise, are part of the swing they sit on). A motor unit's potential has two to four; two
    potentials overlapping (a doublet) up to about eight; the activity of several units more."""
    one = np.zeros(1, dtype=np.int64)
    return int(phase_counts(np.asarray(y, dtype=np.float64)[None, :], 0, one, one + len(y), one,
                            np.array([step], dtype=np.float64))[0])


def phase_counts(ys: np.ndarray, y0: int, starts: np.ndarray, ends: np.ndarray, chans: np.ndarray,
                 steps: np.ndarray) -> np.ndarray:
    """``phase_count`` of many windows of ``ys`` (channels x samples, absolute index ``y0`` at its
    first column): window k is ``[starts[k], ends[k])`` of row ``chans[k]``, with ``steps[k]``;
    -1 where the window is not wholly in ``ys``."""
    out = np.empty(len(starts), dtype=np.int64)
    kernel = kernels.phases_many()
    if kernel is not None:
        kernel(ys, y0, starts, ends, chans, steps, out)
    else:
        kernels._phases_many_py(ys, y0, starts, ends, chans, steps, out)
    return out


def _glitch_shaped(b: Burst, snippet: np.ndarray, cfg: DetectorConfig, impulse: ImpulseFit,
                   fit: float | None = None) -> bool:
    """The band-passed waveform is the impulse response's: it fits it above the size's bar, or
    fits it better than any twitch shape (only asked of waveforms that fit it at least
    ``CONTRAST_MIN_FIT``: most potentials fit it far worse, and the shape bank costs ~5 us).
    ``fit``: ``impulse(snippet)``, when already known."""
    if fit is None:
        fit = impulse(snippet)
    if fit >= impulse_threshold(b, cfg):
        return True
    return cfg.impulse_contrast < 1.0 and fit >= CONTRAST_MIN_FIT and impulse.contrast(snippet, fit) > cfg.impulse_contrast


def classify(b: Burst, fs: float, cfg: DetectorConfig, t0: float = 0.0, impulse: ImpulseFit | None = None,
             fit: float | None = None) -> Event:
    """Turn a finalised burst into an Event. Order matters: data problems first (cut by a gap,
    clipping, glitches), then movement, then duration decides twitch vs contraction.
    ``impulse``: the band-pass's impulse-response test (dsp/glitch.py), when the rate allows it;
    ``fit``: its fit to the burst's snippet, when already known (``classify_many``)."""
    duration_ms = (b.end - b.start) / fs * 1000.0
    kind, reason = "twitch", None
    if b.cut in ("gap", "end"):
        kind, reason = "artifact", CUT_BY_GAP if b.cut == "gap" else "cut off by the end of data"
    elif b.cut == "start":
        kind, reason = "artifact", STARTED_BEFORE_FLOOR
    elif b.clipped:
        kind, reason = "artifact", "ADC clipping (flat top at the input range)"
    elif cfg.detector == "energy" and fs >= SPIKE_TEST_MIN_FS and b.spike_ratio >= cfg.spike_ratio:
        kind, reason = "artifact", "single-sample spike in the raw signal (ADC or cable glitch)"
    elif impulse is not None and b.n_bursts == 1 and b.snippet is not None and _glitch_shaped(b, b.snippet, cfg, impulse, fit):
        kind, reason = "artifact", "single-sample spike (its filtered shape is the band-pass's impulse response)"
    elif b.lf_ptp_uv > cfg.lf_ratio * b.peak_to_peak_uv and not (b.lf_ptp_uv <= cfg.lf_min_floor * b.floor_uv):
        kind, reason = "artifact", (
            f"low-frequency transient {b.lf_ptp_uv:.0f} µV around the burst (movement or electrode pop)"
        )
    elif duration_ms >= cfg.contraction_min_ms or b.cut == "limit":
        kind = "contraction"
    elif b.n_bursts > 1 or duration_ms > cfg.twitch_max_ms:
        kind, reason = "artifact", (
            f"{duration_ms:.0f} ms of activity: longer than a twitch ({cfg.twitch_max_ms:g} ms) "
            f"but shorter than a contraction ({cfg.contraction_min_ms:g} ms)"
        )
    elif duration_ms < cfg.twitch_min_ms:
        kind, reason = "artifact", f"{duration_ms:.1f} ms spike: shorter than a twitch ({cfg.twitch_min_ms:g} ms)"
    elif b.peak_to_peak_uv < cfg.candidate_min_uv:
        kind, reason = "artifact", too_small_reason(b.peak_to_peak_uv, cfg.min_twitch_uv)
    snr = 20.0 * math.log10(b.peak_env_uv / b.floor_uv) if b.floor_uv > 0 else float("inf")
    return frozen_record(Event, {  # (every field, in order: one a burst)
        "onset_s": t0 + b.start / fs,
        "offset_s": t0 + b.end / fs,
        "duration_ms": duration_ms,
        "peak_to_peak_uv": b.peak_to_peak_uv,
        "snr_db": snr,
        "channel": b.channel,
        "kind": kind,
        "reason": reason,
        "onset_sample": b.start,
        "offset_sample": b.end,
        "unit": None,
        "channels_peak_to_peak_uv": None,
        "hit_channels": None,
    })


#: from this many bursts on, ``classify_many`` decides the plain twitches as arrays (~20 array
#: calls cost more than a few live blocks' bursts one at a time)
ARRAYS_MIN = 16


def classify_many(bursts: list[Burst], fs: float, cfg: DetectorConfig,
                  impulse: ImpulseFit | None = None) -> list[Event]:
    """``classify`` of many bursts, the impulse-response fits of their snippets found together
    (one array pass instead of a few calls per twitch; each fit the same as alone). A plain
    twitch (every test of ``classify`` passed, each asked as there, NaN included) is decided
    with the others as arrays (~0.3 us a burst saved), from ``ARRAYS_MIN`` bursts on; any other
    burst goes through ``classify``."""
    if impulse is None or len(bursts) < 2:
        return [classify(b, fs, cfg, impulse=impulse) for b in bursts]
    # (a list a field: a tuple a burst would be one more gc-tracked allocation each)
    start, end, ptp, floor = ([b.start for b in bursts], [b.end for b in bursts],
                              [b.peak_to_peak_uv for b in bursts], [b.floor_uv for b in bursts])
    snips = [b.snippet for b in bursts]
    nb_a = np.array([b.n_bursts for b in bursts])
    have = np.flatnonzero((nb_a == 1) & np.array([s is not None for s in snips], dtype=bool))
    fit = np.zeros(len(bursts))
    if have.size:
        fit[have] = impulse.fits(np.array([snips[i] for i in have.tolist()]))
    fits = fit.tolist()
    if len(bursts) < ARRAYS_MIN:
        return [classify(b, fs, cfg, impulse=impulse, fit=f if b.n_bursts == 1 else None) for b, f in zip(bursts, fits)]
    p, fl = np.array(ptp, dtype=np.float64), np.array(floor, dtype=np.float64)
    snr = np.divide(p, fl, out=np.full(len(bursts), math.inf), where=fl > 0)  # impulse_threshold's
    bar = cfg.impulse_fit_low + np.minimum(np.maximum((snr - 8.0) / 4.0, 0.0), 1.0) * (
        cfg.impulse_fit - cfg.impulse_fit_low)
    s_a, e_a = np.array(start, dtype=np.int64), np.array(end, dtype=np.int64)
    dur = (e_a - s_a) / fs * 1000.0
    plain = (nb_a == 1) & np.array([b.cut is None for b in bursts], dtype=bool) & ~np.array(
        [b.clipped for b in bursts], dtype=bool)
    plain[have] &= ~(fit[have] >= bar[have])
    if cfg.impulse_contrast < 1.0:
        plain &= ~(fit >= CONTRAST_MIN_FIT)  # the shape bank's contrast: asked by ``classify``
    if cfg.detector == "energy" and fs >= SPIKE_TEST_MIN_FS:
        plain &= ~(np.array([b.spike_ratio for b in bursts], dtype=np.float64) >= cfg.spike_ratio)
    lf = np.array([b.lf_ptp_uv for b in bursts], dtype=np.float64)
    plain &= ~((lf > cfg.lf_ratio * p) & ~(lf <= cfg.lf_min_floor * fl))  # (a floor not known: the ratio alone)
    plain &= ~(dur >= cfg.contraction_min_ms) & ~(dur > cfg.twitch_max_ms) & ~(dur < cfg.twitch_min_ms)
    plain &= ~(p < cfg.candidate_min_uv)
    out = []
    log10, inf = math.log10, math.inf
    for b, ok, f, s0, e0, on, off, d, pp, fo in zip(bursts, plain.tolist(), fits, start, end, (s_a / fs).tolist(),
                                                   (e_a / fs).tolist(), dur.tolist(), ptp, floor):
        if not ok:
            out.append(classify(b, fs, cfg, impulse=impulse, fit=f if b.n_bursts == 1 else None))
            continue
        out.append(frozen_record(Event, {  # as classify's (t0 = 0)
            "onset_s": on,
            "offset_s": off,
            "duration_ms": d,
            "peak_to_peak_uv": pp,
            "snr_db": 20.0 * log10(b.peak_env_uv / fo) if fo > 0 else inf,
            "channel": b.channel,
            "kind": "twitch",
            "reason": None,
            "onset_sample": s0,
            "offset_sample": e0,
            "unit": None,
            "channels_peak_to_peak_uv": None,
            "hit_channels": None,
        }))
    return out
