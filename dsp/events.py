"""The records the pipeline emits: events, gaps and episodes, with the project's field names."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from myotwitch.dsp.records import frozen_builder, frozen_record

KINDS = ("twitch", "contraction", "artifact")


@dataclass(frozen=True)
class Event:
    """One classified burst on one channel. Times in s from the start, duration in ms."""

    onset_s: float
    offset_s: float
    duration_ms: float
    peak_to_peak_uv: float
    snr_db: float
    channel: int
    kind: str
    reason: str | None = None
    #: first and one-past-last sample index (absolute), for exact comparisons and plotting.
    onset_sample: int = field(default=0, compare=True)
    offset_sample: int = field(default=0, compare=True)
    #: the recurring source (motor-unit waveform) this twitch matched, e.g. "U3"; None when
    #: it matched none (a one-off, an overlap, or not a twitch). See dsp/units.py.
    unit: str | None = None
    #: multi-channel twitches: band-passed peak-to-peak on every channel (µV), and the
    #: channels whose detector fired for it (one twitch seen on several channels counts once).
    channels_peak_to_peak_uv: tuple[float, ...] | None = None
    hit_channels: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        """``dataclasses.asdict`` with the tuples as lists. Built field by field: every value is
        immutable, so asdict's deep copy (~1 s of a day's analysis at a twitch every 12 s)
        would copy nothing."""
        d = {k: getattr(self, k) for k in _EVENT_FIELDS}
        for k in ("channels_peak_to_peak_uv", "hit_channels"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Event:
        names = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("channels_peak_to_peak_uv", "hit_channels"):
            if kw.get(k) is not None:
                kw[k] = tuple(kw[k])
        return cls(**kw)


_EVENT_FIELDS = tuple(f.name for f in fields(Event))

#: ``Event(**values)`` for the hot path (one per burst): the same record, about a third the cost
make_event = frozen_builder(Event)


def evolve(e: Event, **changes: object) -> Event:
    """``dataclasses.replace(e, **changes)`` for the hot path: the same record, built by copying
    the fields instead of re-running ``__init__`` (a fifth of the cost, which matters at a
    twitch every second for hours). Only for field names of ``Event``."""
    out = object.__new__(Event)
    d = out.__dict__
    d.update(e.__dict__)
    d.update(changes)
    return out


def with_unit(e: Event, unit: str | None) -> Event:
    """``evolve(e, unit=unit)`` without the keywords (one a twitch)."""
    d = e.__dict__.copy()
    d["unit"] = unit
    return frozen_record(Event, d)


@dataclass(frozen=True)
class Gap:
    """Samples that never arrived (or were NaN): ``n_samples`` starting at ``start_sample``."""

    start_sample: int
    n_samples: int
    fs: float

    @property
    def onset_s(self) -> float:
        return self.start_sample / self.fs

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def to_dict(self) -> dict:
        return {"onset_s": self.onset_s, "duration_s": self.duration_s,
                "start_sample": self.start_sample, "n_samples": self.n_samples}


@dataclass(frozen=True)
class Episode:
    """Twitches no further apart than the episode gap, on any channel. Continuous activity is
    cut into parts of at most ``DetectorConfig.episode_max_s``; a part that follows another
    without a pause has ``continues_previous`` set."""

    start_s: float
    end_s: float
    n_twitches: int
    channels: tuple[int, ...]
    max_peak_to_peak_uv: float
    continues_previous: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["duration_s"] = self.duration_s
        return d
