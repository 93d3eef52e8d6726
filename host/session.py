"""Per-session results in one versioned shape, shared by the recorder's summaries, ``analyze``
(--json) and the advice engine."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import statistics
from dataclasses import asdict

from myotwitch.dsp import DetectorConfig, Episode, Event, Pipeline
from myotwitch.dsp.classify import CUT_BY_GAP
from myotwitch.dsp.coincidence import channel_hits
from myotwitch.dsp.pipeline import BUSY_FLOOR, QualityTally
from myotwitch.dsp.unit_measures import unit_summaries
from myotwitch.host.channels import distinct_labels
from myotwitch.host.strict import strict
from myotwitch.host.wording import busy_floor_reason, counted

SCHEMA = "myotwitch.session/1"


#: over this share of the data in the detector's settling after gaps, the summary warns
SETTLING_WARN = 0.05


def settling_warning(pipe: Pipeline, blind_s: float, valid_s: float) -> str:
    """A warning when much of the data (``blind_s`` of ``valid_s``) came while the detector
    settled after gaps too long to bridge (it counts nothing then): a link that drops out
    often. (The rate is over the seconds searched, so those seconds do not lower it; it had
    been over all the seconds of data, and read low by their share.)"""
    if valid_s <= 0 or blind_s <= SETTLING_WARN * valid_s:
        return ""
    cfg = pipe.config
    which = f" of over {cfg.bridge_gap_s:g} s" if cfg.bridge_gap_s else ""
    return (f"{100 * blind_s / valid_s:.0f}% of the data came in the {cfg.settle_s:g} s after a gap"
            f"{which} (over {cfg.noise_min_history_s:g} s after one of over {cfg.noise_history_s:g} s whose noise "
            "came back changed), while the detector restarts and counts nothing: the link lost data often "
            "(Bluetooth range, a loose cable?), and the twitch rate is over the rest")


#: when the share of the potentials seen that gaps cut off (so not counted) exceeds the share
#: of the samples lost by this much, the summary warns (the rate is per hour searched, so the
#: potentials that lay in the lost samples do not lower it; those cut beyond them do)
GAP_CUT_WARN = 0.05


def cut_potential(e: Event, config: DetectorConfig) -> bool:
    """Did a gap cut off a burst that could have been a potential? (A burst as long as a
    contraction is none: contractions that outages cut had made a few reconnects read as
    twitches lost.)"""
    return e.reason == CUT_BY_GAP and e.duration_ms < config.contraction_min_ms


def gap_cut_counts(events: list[Event], config: DetectorConfig) -> tuple[int, int]:
    """How many potentials gaps cut off (not counted), and how many twitches were counted."""
    return sum(cut_potential(e, config) for e in events), sum(1 for e in events if e.kind == "twitch")


def gap_cut_warning(cut: int, twitches: int, lost_share: float) -> str:
    """A warning when gaps in the data cut off more possible twitches than the samples they
    took explain: a link that loses frames often, even gaps short enough to bridge, makes the
    rate read low by about the difference. (Not when nothing counts: then the link is not why.)"""
    if cut < 3 or not twitches:
        return ""
    low = cut / (cut + twitches) - lost_share
    if low <= GAP_CUT_WARN:
        return ""
    what = counted(cut, "possible twitch", "possible twitches")
    return (f"gaps in the data ({100 * lost_share:.0f}% of the samples lost) cut off {what}, which were not "
            f"counted: the twitch rate may read about {100 * low:.0f}% low (Bluetooth range, a loose cable?)")


def link_loss_warning(pipe: Pipeline, cut_counts: tuple[int, int], blind_s: float, valid_s: float,
                      lost_s: float) -> str:
    """The one warning about a lossy link: the settling after long gaps when it is large, else
    the potentials that gaps cut off (``gap_cut_counts``) beyond the ``lost_s`` seconds lost."""
    lost = lost_s / (valid_s + lost_s) if valid_s + lost_s > 0 else 0.0
    return settling_warning(pipe, blind_s, valid_s) or gap_cut_warning(*cut_counts, lost)


def floors_over(floors, labels: list[str] | tuple[str, ...], bar_uv: float) -> list[tuple[int, str, float]]:
    """(channel, name, floor) of the channels whose resting noise floor (µV RMS) is over
    ``bar_uv`` (``max_rest_floor_uv``; 0: no bar), where no twitch counts. A floor not known
    (None, NaN) is not over it; a channel without a label is named ch0, ch1, ... The recorder's
    status lines, the live app's sensor panel and a file's warnings decide it so alike."""
    if bar_uv <= 0:
        return []
    return [(c, labels[c] if c < len(labels) else f"ch{c}", float(v)) for c, v in enumerate(floors)
            if v is not None and math.isfinite(v) and v > bar_uv]


def busy_floor_warning(events: list[Event], floors: list, labels: list[str] | tuple[str, ...],
                       config: DetectorConfig, file: str | None) -> str:
    """The channels where nothing counts as a twitch because their background is over
    ``max_rest_floor_uv``: a twitch held out so ("inside muscle activity"), or a resting floor
    (``noise_floor_uv_rms``, a low percentile of the file's 100 ms RMS) over the bar, which
    holds out every twitch there even when no potential was seen at all (an 8-channel board
    with unused inputs reported 0 twitches on them without a word)."""
    bar = config.max_rest_floor_uv
    if bar <= 0:
        return ""
    busy = {e.channel for e in events if e.kind == "contraction" and (e.reason or "").startswith(BUSY_FLOOR)}
    busy |= {c for c, _, _ in floors_over(floors, labels, bar)}
    if not busy:
        return ""
    names = ", ".join(labels[c] if c < len(labels) else f"ch{c}" for c in sorted(busy))  # (0-based, as elsewhere)
    name = f"{os.path.basename(file)}: " if file else ""
    over = [floors[c] for c in sorted(busy) if c < len(floors) and isinstance(floors[c], (int, float))]
    return (f"{name}the noise floor was over {bar:g} µV RMS on {names}, where nothing counts as a twitch "
            f"({busy_floor_reason(over)}; --max-rest-floor)")


def rate_per_hour(n: int, valid_s: float, searched_s: float | None = None) -> float | None:
    """``n`` over the hours the detector searched (``searched_s``: ``Pipeline.searched_s``, the
    seconds of data with a noise floor; ``valid_s``, all the seconds of data, where it is not
    known); None (no rate) when there is no usable data: none at all (every sample a gap, NaN or
    marked bad), or none the detector searched (``searched_s`` 0: a file shorter than its
    start-up). A file without a second of data had read "0.0 per hour", a measured zero that
    pulled a batch's and the history's rates down. Over ``valid_s`` the blind seconds (the
    start-up, ``settle_s`` after each gap) had counted as hours without a twitch: a 60 s file read
    0.8% low, one whose link dropped out for 0.2 s every 2 s 9% low (1594/h, now 1751/h)."""
    if valid_s <= 0 or (searched_s is not None and searched_s <= 0):
        return None
    return n / ((valid_s if searched_s is None else searched_s) / 3600.0)


def span_dict(start: int, end: int, fs: float) -> dict:
    """A stretch of samples as a summary lists it (the shape of ``Gap.to_dict``): ``unsearched``."""
    return {"onset_s": start / fs, "duration_s": (end - start) / fs, "start_sample": start, "n_samples": end - start}


def summarize(events: list[Event], episodes: list[Episode], pipe: Pipeline, *, file: str | None,
              start: dt.datetime | None, labels: list[str] | tuple[str, ...], device: dict | None = None,
              extra_quality: dict | None = None, include_events: bool = True,
              span: tuple[QualityTally, QualityTally | None] | None = None, span_lost_s: float = 0.0) -> dict:
    """The session dict: counts, rates over the time searched, episodes, quality, advice inputs,
    and the recurring sources (``units``; event labels as known at the end of the session).
    ``span``: the quality figures of a part of the session (a rotated file), between two of the
    pipeline's tallies (the second None: now), with the seconds lost in it (``span_lost_s``)."""
    events = pipe.units.resolved(events)
    # (a device's or stream's channels of one label get distinct names, as a file's readers give
    # them: the history keeps twitches per channel name, and had added such channels up as one)
    labels = distinct_labels(list(labels))
    counts = {k: 0 for k in ("twitch", "contraction", "artifact")}
    per_channel = [0] * pipe.n_channels
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
        if e.kind == "twitch":
            per_channel[e.channel] += 1
    quality = pipe.quality(*span) if span else pipe.quality()
    quality.update(extra_quality or {})
    quality.setdefault("warnings", [])  # (present when empty: a sidecar has the analysis's keys)
    duration_s = pipe.samples_seen / pipe.fs
    valid_s = max(pipe.samples_seen - sum(g.n_samples for g in pipe.gaps), 0) / pipe.fs  # (in samples: exact)
    if span:  # (a rotated file: its own settled seconds over its own seconds of data)
        first, last = span[0], span[1] or pipe.quality_tally()
        settled_s, data_s, lost_s = (last.settling - first.settling) / pipe.fs, (last.finite - first.finite) / pipe.fs, span_lost_s
        searched_s = (last.searched - first.searched) / pipe.fs
    else:
        settled_s, data_s, lost_s = pipe.settling_after_gaps_s, valid_s, quality["gap_s"]
        searched_s = pipe.searched_s
    blind = link_loss_warning(pipe, gap_cut_counts(events, pipe.config), settled_s, data_s, lost_s)
    if blind and blind not in quality["warnings"]:
        quality["warnings"].append(blind)
    busy = busy_floor_warning(events, quality.get("noise_floor_uv_rms") or [], labels, pipe.config, file)
    if busy and busy not in quality["warnings"]:
        quality["warnings"].append(busy)
    twitch_amps = [e.peak_to_peak_uv for e in events if e.kind == "twitch"]
    out = {
        "schema": SCHEMA,
        "file": file,
        "start": start.isoformat() if start else None,
        "dated": start is not None,
        "fs": pipe.fs,
        "channels": list(labels),
        "device": device,
        "stats": {
            "duration_s": duration_s,
            "valid_s": valid_s,
            "searched_s": searched_s,
            "counts": counts,
            "twitches_per_hour": rate_per_hour(counts["twitch"], valid_s, searched_s),
            "twitches_per_channel": per_channel,
            "channel_hits": channel_hits(events, pipe.n_channels),
            "median_twitch_uv": statistics.median(twitch_amps) if twitch_amps else None,
            "episodes": len(episodes),
        },
        "episodes": [e.to_dict() for e in episodes],
        "quality": quality,
        "detector": {k: v for k, v in asdict(pipe.config).items()},
    }
    # (a unit's rate is over the seconds searched on any channel: its own channel's searched
    # seconds are not counted apart, and differ only while one channel's floor is learnt later)
    out["units"] = unit_summaries(events, pipe.units, searched_s)
    if include_events:
        out["events"] = [e.to_dict() for e in events]
        out["gaps"] = [g.to_dict() for g in pipe.gaps]
        # (where the detector did not search: a report's rate over time is over the rest, as the
        # session's rate is; had been over every second of data, a bin after gaps reading low)
        out["unsearched"] = [span_dict(a, b, pipe.fs) for a, b in pipe.unsearched_spans]
    return out


#: what the recorder appends to a recording's name (less its extension) for its summary
SIDECAR = ".summary.json"


def summary_path(recording: str | os.PathLike) -> str:
    base = os.fspath(recording)
    return os.path.splitext(base)[0] + SIDECAR


def sidecar_recording(path: str) -> str | None:
    """The recording a recorder's ``X.summary.json`` sits beside (``X.edf`` or ``X.bdf``), if
    it is there: ``summary_path``'s inverse."""
    if not path.endswith(SIDECAR):
        return None
    stem = path[: -len(SIDECAR)]
    return next((stem + ext for ext in (".edf", ".bdf") if os.path.isfile(stem + ext)), None)


def write_summary(recording: str | os.PathLike, summary: dict) -> str:
    """Write atomically next to the recording (tmp file + rename)."""
    path = summary_path(recording)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(strict(summary)[0], fh, indent=1, default=str, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:  # a full disk must not leave a half-written temp file behind
            os.remove(tmp)
        except OSError:
            pass
        raise
    return path


def config_from_dict(d: dict | None) -> DetectorConfig:
    if not d:
        return DetectorConfig()
    names = DetectorConfig.__dataclass_fields__
    return DetectorConfig(**{k: v for k, v in d.items() if k in names})
