"""The streaming detector: mains -> band-pass -> envelope -> noise floor -> bursts -> classes -> episodes.

``Pipeline.process`` takes ``(channels, n)`` µV blocks of any size; NaN samples (or an
explicit ``gap(n)``) mark missing data: a short gap is bridged, a longer one restarts the
filters. ``detect`` runs the very same stages over a whole
array in fixed chunks, so offline and live results are identical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from operator import attrgetter

import numpy as np

from myotwitch.dsp.bursts import ENV, LF, N_ROWS, STAT, BurstSegmenter, Y
from myotwitch.dsp.classify import classify, classify_many, phase_counts, too_small_reason
from myotwitch.dsp.config import DetectorConfig
from myotwitch.dsp.energy import MultiScaleEnergy, TailWeight, floor_bias, threshold_table, window_samples
from myotwitch.dsp.episodes import EpisodeGrouper
from myotwitch.dsp.events import Episode, Event, Gap, evolve
from myotwitch.dsp.filters import StreamingSOS, bandpass_sos, front_end, lowpass_sos
from myotwitch.dsp.glitch import MIN_FS as IMPULSE_MIN_FS
from myotwitch.dsp.glitch import ImpulseFit
from myotwitch.dsp.mains import MainsCanceller, MainsEstimate, estimate_mains
from myotwitch.dsp.matched import MatchedBank
from myotwitch.dsp.noise import NoiseFloor
from myotwitch.dsp.trains import TrainStage
from myotwitch.dsp.units import UnitStage

#: blocks of at least this many samples per channel have their rows staged (BurstSegmenter.stage)
STAGE_MIN = 2048
OFFLINE_CHUNK = 1 << 18  # samples per channel per internal step in detect(): bounds memory


#: a burst starting this close after its channel's floor first exists began before it
FLOOR_START_MS = 2.0
#: a burst this close to a bridged gap may have lost a part in it (a centred window reaches
#: half its length past the edge, and the fill's kink rings for a few ms in the band-pass)
BRIDGE_MARGIN_MS = 5.0
#: ... and it is cut when those gaps add up to more than this share of its length
BRIDGE_LOST_SHARE = 0.25
#: ... and this much, lost near a large potential (5-30 ms as a rule), hides too little of it
#: to change what it is
BRIDGE_KEEP_MS = 4.0
#: ... when it is this many noise floors (RMS) peak to peak: a small one may be the fill's own
#: kink, rung through the band-pass, over the noise
BRIDGE_KEEP_SIZE = 16.0


def _runs(finite: np.ndarray) -> list[tuple[int, int]]:
    """The ``(start, end)`` runs of a block's samples that are all finite or all not."""
    bounds = [0, *(np.flatnonzero(finite[1:] != finite[:-1]) + 1).tolist(), finite.size]
    return list(zip(bounds[:-1], bounds[1:]))


def _after_losses(items: list[tuple[str, object]]) -> list[tuple[int, np.ndarray]]:
    """The blocks of data among held ``("data", block)`` / ``("gap", n)`` items, each with the
    samples lost just before it (since the block before it, or the first item)."""
    out: list[tuple[int, np.ndarray]] = []
    lost = 0
    for kind, item in items:
        if kind == "gap":
            lost += item  # type: ignore[operator]
        else:
            out.append((lost, item))  # type: ignore[arg-type]
            lost = 0
    return out


def _straight(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``(channels, n)``: the straight line across ``n`` lost samples from the sample ``a``
    before them to ``b`` after them (each ``(channels,)``)."""
    return a[:, None] + (b - a)[:, None] * (np.arange(1, n + 1) / (n + 1))


@dataclass(frozen=True)
class QualityTally:
    """``Pipeline.quality``'s running counts at one moment (``Pipeline.quality_tally``)."""

    histogram: np.ndarray  # window RMS counts per channel (noise.py's bins)
    finite: int  # samples accounted a channel
    sum: np.ndarray
    sumsq: np.ndarray
    clipped: np.ndarray
    settling: int = 0  # samples settled after gaps (``Pipeline.settling_after_gaps_s``)
    searched: int = 0  # samples searched for twitches (``Pipeline.searched_s``)
    #: the mains fundamental removed: mean square per channel summed over blocks, and their count
    #: (``MainsCanceller.line_tally``; None without a canceller)
    line: tuple[np.ndarray, int] | None = None


class Pipeline:
    """Streaming twitch detector for one recording (fixed ``fs`` and channel count).

    Events come back from ``process``/``gap``/``flush`` once they are final (at most
    ``cluster_gap_ms`` plus the lookahead after they end). Episodes, gaps and the mains
    estimate are collected on the object."""

    def __init__(self, fs: float, n_channels: int = 1, config: DetectorConfig | None = None) -> None:
        self.config = cfg = config or DetectorConfig()
        cfg.validate(fs, n_channels)
        self.fs = float(fs)
        self.n_channels = n_channels
        ms = self.fs / 1000.0
        #: the bars on what the trains release (``_count_bars``): ``max_rest_floor_uv`` and
        #: ``max_twitch_phases`` (0: off; the phases from ``PHASES_MIN_FS`` up), and
        #: ``min_twitch_uv`` where it is above the candidates' minimum (else 0). The twitch
        #: candidates the first two make contractions wait with that verdict's reason, by
        #: (channel, onset sample) (``reset`` empties them)
        self._rest_bar = cfg.max_rest_floor_uv
        self._phase_bar = cfg.max_twitch_phases if self.fs >= PHASES_MIN_FS else 0
        self._size_bar = cfg.min_twitch_uv if cfg.min_twitch_uv > cfg.candidate_min_uv else 0.0
        self._activity: dict[tuple[int, int], str] = {}
        self._noise = NoiseFloor(self.fs, n_channels, cfg.noise_window_s, cfg.noise_history_s,
                                 cfg.noise_percentile, cfg.noise_min_history_s, cfg.noise_recent_s,
                                 cfg.noise_recent_ratio, cfg.noise_recent_cap, cfg.noise_recent_bouts,
                                 cfg.noise_seed_ratio)
        self._segmenter = BurstSegmenter(
            n_channels, on=cfg.on_threshold, off=cfg.off_threshold,
            merge_n=max(1, round(cfg.merge_gap_ms * ms)), cluster_n=max(1, round(cfg.cluster_gap_ms * ms)),
            context_n=round(cfg.lf_context_ms * ms), max_n=max(1, round(cfg.max_burst_s * self.fs)),
            clip_uv=cfg.clip_uv, clip_run=cfg.clip_run, spike_n=max(2, round(4 * ms)),
            twitch_max_n=round(cfg.twitch_max_ms * ms) if cfg.detector == "energy" else 0,
            dense_n=cfg.dense_min_potentials,
            dense_rate=cfg.dense_min_hz / self.fs,
            idle_n=round(cfg.at_rest_after_s * self.fs), run_max_n=round(cfg.twitch_run_max_s * self.fs),
            recent_n=(round(cfg.derecruitment_margin_s * self.fs), round(cfg.dense_recent_s * self.fs)),
            recent_rate=cfg.dense_recent_hz / self.fs, recent_spread=cfg.dense_recent_spread,
            split_gap_n=round(cfg.run_split_gap_ms * ms), split_peak=cfg.run_split_peak,
            lf_ratio=cfg.lf_ratio, lf_min_floor=cfg.lf_min_floor, pop_n=round(cfg.pop_max_ms * ms),
        )
        self._env = StreamingSOS(lowpass_sos(cfg.envelope_hz, self.fs, 1), n_channels)
        self._lf = StreamingSOS(bandpass_sos(cfg.lf_low_hz, cfg.lf_cutoff_hz, self.fs, 1), n_channels)
        lo, hi = cfg.band_for(self.fs)
        windows = window_samples(self.fs, cfg.energy_windows_ms)
        noise_n = max(1, int(round(cfg.noise_window_s * self.fs)))
        table, bias = _threshold_table(self.fs, lo, hi, cfg.band_order, windows, cfg.energy_on_threshold, noise_n,
                                       cfg.noise_percentile)
        tail = TailWeight(n_channels, noise_n, max(1, int(round(cfg.noise_history_s / cfg.noise_window_s))))
        matched = (_matched_bank(self.fs, lo, hi, cfg.band_order, tuple(cfg.matched_lengths_ms),
                                 (cfg.matched_on_threshold, cfg.matched_triphasic_on_threshold), windows,
                                 cfg.energy_on_threshold, noise_n,
                                 cfg.noise_percentile) if cfg.matched_lengths_ms and cfg.detector == "energy" else None)
        self._energy = MultiScaleEnergy(n_channels, windows, table, tail, matched)
        self._impulse = (ImpulseFit(bandpass_sos(lo, hi, self.fs, cfg.band_order), max(1, round(4 * ms)), self.fs)
                         if cfg.detector == "energy" and self.fs >= IMPULSE_MIN_FS and cfg.impulse_fit < 1 else None)
        self._probe_n = max(1, round(cfg.mains_probe_s * self.fs))
        self._settle_n = round(cfg.settle_s * self.fs)
        self._floor_start_n = max(2, round(FLOOR_START_MS * ms))
        self._bridge_max_n = round(cfg.bridge_gap_s * self.fs)
        self._seed_max_n = round(cfg.noise_seed_max_gap_s * self.fs)
        self._bridge_margin_n = max(2, math.ceil(BRIDGE_MARGIN_MS * ms))
        self._bridge_keep_n = BRIDGE_KEEP_MS * ms
        self._contraction_n = round(cfg.contraction_min_ms * ms)
        self._episodes = EpisodeGrouper(cfg.episode_gap_s, cfg.episode_max_s)
        #: after classification: one twitch across channels counts once, twitches get units
        self.units = UnitStage(self.fs, n_channels, band_high_hz=cfg.band_for(self.fs)[1])
        #: voluntary motor-unit trains among the twitch candidates
        self._trains = TrainStage(self.fs, n_channels, min_hz=cfg.train_min_hz, max_hz=cfg.train_max_hz,
                                  regularity=cfg.train_regularity, size_ratio=cfg.train_similarity,
                                  min_corr=cfg.train_min_corr, min_len=cfg.train_min_potentials,
                                  context_s=cfg.voluntary_margin_s, after_s=cfg.derecruitment_margin_s,
                                  crowd_s=cfg.crowd_margin_s, ahead_any=cfg.crowd_any_unit,
                                  quiet_s=cfg.quiet_context_s,
                                  quiet_ratio=cfg.quiet_context_ratio, floor_bias=bias,
                                  lookback_s=cfg.quiet_lookback_s, lookback_ratio=cfg.quiet_lookback_ratio,
                                  small_snr=cfg.quiet_small_size, small_ratio=cfg.quiet_small_ratio,
                                  rhythm_s=cfg.rhythm_window_s, rhythm_bouts=cfg.rhythm_bouts,
                                  stride_bouts=cfg.stride_bouts, stride_potentials=cfg.stride_potentials,
                                  stride_period_s=cfg.stride_period_s, stride_regularity=cfg.stride_regularity,
                                  stride_missed=cfg.stride_missed_steps,
                                  stride_missed_regularity=cfg.stride_missed_regularity,
                                  pair_ratio=cfg.pair_similarity, pair_corr=cfg.pair_min_corr,
                                  pair_unmixed=cfg.pair_unmixed, train_unmixed=cfg.train_unmixed, shape_noise=cfg.train_shape_noise,
                                  idle_s=cfg.at_rest_after_s,
                                  size_noise=cfg.train_size_noise, size_least=cfg.train_size_least,
                                  corr_noise=cfg.train_corr_noise,
                                  recur_corr=cfg.recurrence_min_corr, recur_s=cfg.recurrence_lookback_s,
                                  recur_max_snr=cfg.recurrence_max_snr,
                                  recur_refine=cfg.recurrence_refine_min_corr,
                                  recur_refine_n=cfg.recurrence_refine_windows,
                                  cluster_min=cfg.cluster_context_min, cluster_ratio=cfg.cluster_context_ratio,
                                  isolation_s=cfg.shape_only_isolation_s, isolation_snr=cfg.shape_only_max_size,
                                  share_least=cfg.train_share_least,
                                  activity_uv=cfg.candidate_min_uv,
                                  blip_max_s=cfg.twitch_max_ms / 1000.0,
                                  rest_s=cfg.rest_history_s, rest_step=noise_n,
                                  # decay time of the band-pass's low edge (Butterworth: damping sqrt(1/2))
                                  ring_s=1.0 / (2.0 * math.pi * lo * math.sqrt(0.5)),
                                  signal=self.units.ring)  # one copy of the band-passed signal for both
        self.reset()

    # -- public API -------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: the next sample is sample 0 of a new recording."""
        self.samples_seen = 0  # samples through the detector (lags input while mains is probed)
        self.samples_in = 0  # samples and gap samples given to process()/gap()
        self.gaps: list[Gap] = []
        self.episodes: list[Episode] = []
        self.mains: MainsEstimate | None = None
        self._band: StreamingSOS | None = None
        self._mains: MainsCanceller | None = None
        self._pending: list[tuple[str, object]] = []  # input held until mains is decided
        self._pending_n = 0
        #: the first data after the canceller restarted (``_hold_lead``), held as ``_pending``
        #: holds input: ("data", block) and ("gap", samples lost among them)
        self._lead: list[tuple[str, object]] = []
        self._lead_n = 0  # samples of data held there
        self._lead_lost = 0  # samples lost since the last held there (a gap bridged when they go through)
        self._activity = {}
        self._noise.reset()
        self._segmenter.reset()
        self._env.reset()
        self._lf.reset()
        self._energy.reset()
        self._held: np.ndarray | None = None  # rows waiting for the centred statistic
        self._episodes.reset()
        self._trains.reset()
        self.units.reset()
        self._in_gap = False
        self._bridge_n = 0  # samples of a short gap, bridged when the data comes back
        self._bridges: list[tuple[int, int]] = []  # bridged gaps (start, end sample) bursts are judged against
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # the last (raw, mains-free) sample: a bridge's start
        self._settle_left = self._settle_n
        self._restarted = False  # the filters restarted after a gap (a bridged one is no restart)
        self._settling_n = 0  # samples the filters settled after gaps (``settling_after_gaps_s``)
        self._blind = False  # after a restart, until every channel's floor is back
        self._searched_n = 0  # samples with a noise floor on some channel (``searched_s``)
        self._unsearched: list[list[int]] = []  # the samples of data without one, as spans (``unsearched_spans``)
        self._floor_waits = list(range(self.n_channels))  # channels whose floor is still unknown
        self._floor_starts: dict[int, int] = {}  # channel -> first sample with a floor, until judged
        self._clipped = np.zeros(self.n_channels, dtype=np.int64)
        self._finite = 0  # samples accounted per channel (every channel sees every finite block)
        self._sum = np.zeros(self.n_channels)
        self._sumsq = np.zeros(self.n_channels)
        if self.config.mains == "off":
            self._decide_mains(None)

    def process(self, block: np.ndarray) -> list[Event]:
        """Feed ``(channels, n)`` µV (1-D is taken as one channel). Returns newly final events."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.shape[0] != self.n_channels:
            raise ValueError(f"block has {x.shape[0]} channels, pipeline expects {self.n_channels}")
        if not x.shape[1]:
            return []
        self.samples_in += x.shape[1]
        if self._band is None:
            return self._hold_block(x)
        return self._run(x)

    def gap(self, n_samples: int) -> list[Event]:
        """``n_samples`` were lost here. Up to ``bridge_gap_s`` (with the gaps just before it) the
        filters run on across it; after a longer gap, bursts in progress are closed and the
        filters restart."""
        if n_samples <= 0:
            return []
        self.samples_in += int(n_samples)
        if self._band is None:
            return self._hold(("gap", int(n_samples)), 0)
        return self._gap(int(n_samples))

    def flush(self) -> list[Event]:
        """End of data: decide mains on what there is, close every open burst and episode."""
        events: list[Event] = []
        if self._band is None:
            events += self._release()
        if self._lead:
            events += self._release_lead()
        if self._bridge_n:  # the data ended in a short gap: nothing after it to bridge to
            events += self._gap(0, bridge=False)
        if not self._in_gap:
            events += self._drain()
            events += self._classify(self._segmenter.end_segment("end"), final=True)
        self.episodes += self._episodes.flush()
        return events

    @property
    def bridging(self) -> bool:
        """Is the data now in a short gap that the next samples will bridge (the filters and the
        mains canceller run on across it), rather than one after which they restart?"""
        return self._bridge_n > 0 or self._lead_lost > 0

    @property
    def time_s(self) -> float:
        """Time of the next sample, s from the start."""
        return self.samples_seen / self.fs

    @property
    def latency_horizon_s(self) -> float:
        """Events starting before this time have all been reported."""
        return self.units.held_from(self._trains.held_from(self._segmenter.finalised_until())) / self.fs

    def current_floor(self) -> np.ndarray | None:
        """The noise floor (µV RMS per channel) now in use; None while it is being learnt."""
        floor = self._noise._current
        return None if floor is None else floor.copy()

    def quality_tally(self) -> QualityTally:
        """The running counts ``quality`` is made of, copied: two of them bound a part of the
        session (a recorder's rotated file), whose figures ``quality(since=...)`` gives."""
        return QualityTally(self._noise.histogram.copy(), self._finite, self._sum.copy(), self._sumsq.copy(),
                            self._clipped.copy(), self._settling_n, self._searched_n,
                            self._mains.line_tally if self._mains is not None else None)

    @property
    def settling_after_gaps_s(self) -> float:
        """Seconds of data that came while the detector settled after a gap (``settle_s`` after
        each, and after one as long as the floor's history until the floor is back: at once
        where the noise is as before, else ``noise_min_history_s`` later) on any channel:
        nothing is found there, so a link that loses data often loses twitches too."""
        return self._settling_n / self.fs

    @property
    def searched_s(self) -> float:
        """Seconds of data the detector searched: those with a noise floor on some channel. The
        start-up is not searched (``settle_s``, and until ``noise_min_history_s`` of windows give
        the first floor: 0.5 s by default, measured, at the start and after each gap too long to
        bridge that forgets the floor): a file shorter than that, or whose data all falls in it,
        gives no rate (no twitch there is no measured 0/h)."""
        return self._searched_n / self.fs

    @property
    def unsearched_spans(self) -> list[tuple[int, int]]:
        """Where the detector did not search, as (first, one-past-last) absolute samples: the
        samples of data with no noise floor on any channel (the start-up, the settling after
        gaps, a floor learnt again). With the gaps they tell where in a session the rate's
        seconds (``searched_s``) lie: a report's rate over time needs that, not just how long.
        Spans that meet across blocks are one, so they do not depend on the chunking."""
        return [(a, b) for a, b in self._unsearched]

    def _note_unsearched(self, mask: np.ndarray, at: int) -> None:
        """Add the runs of ``mask`` (True: not searched), its first sample at absolute ``at``."""
        edges = np.flatnonzero(np.diff(np.concatenate(([False], mask, [False])).astype(np.int8)))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()):
            if self._unsearched and self._unsearched[-1][1] == at + a:
                self._unsearched[-1][1] = at + b
            else:
                self._unsearched.append([at + a, at + b])

    def quality(self, since: QualityTally | None = None, until: QualityTally | None = None) -> dict:
        """Signal-quality figures so far (per channel lists): noise floor, mains, clipping, gaps.
        Noise, level and clipping of the part between two tallies when ``since`` is given
        (``until``: now when not given); the mains level too (the fundamental's RMS the canceller
        removed over that part; the decision's estimate before any block was done), while the
        mains frequency, gaps and samples stay the session's."""
        end = until or self.quality_tally()
        start = since or QualityTally(np.zeros_like(end.histogram), 0, np.zeros_like(end.sum), np.zeros_like(end.sumsq),
                                      np.zeros_like(end.clipped))
        n = max(end.finite - start.finite, 1)
        mean = (end.sum - start.sum) / n
        hist = end.histogram - start.histogram
        return {
            "noise_floor_uv_rms": [float(v) for v in self._noise.low_floor_uv(10.0, hist)],
            "median_window_rms_uv": [float(v) for v in self._noise.low_floor_uv(50.0, hist)],
            "raw_rms_uv": [float(v) for v in np.sqrt(np.maximum((end.sumsq - start.sumsq) / n - mean**2, 0))],
            "clipped_fraction": [float(v) for v in (end.clipped - start.clipped) / n],
            "mains": self._mains_figures(start, end),
            "gaps": len(self.gaps),
            "gap_s": sum(g.n_samples for g in self.gaps) / self.fs,  # (in samples: a sum of seconds drifts)
            "samples": int(self.samples_seen),
        }

    def _mains_figures(self, start: QualityTally, end: QualityTally) -> dict | None:
        if not self.mains:
            return None
        out = self.mains.to_dict()
        if end.line is not None:
            sq, blocks = end.line
            if start.line is not None:  # (a tally taken before the mains was decided has none)
                sq, blocks = sq - start.line[0], blocks - start.line[1]
            if blocks > 0:
                out["level_uv_rms"] = float(np.sqrt(max(float(np.mean(sq)) / blocks, 0.0)))
        return out

    # -- mains decision ------------------------------------------------------------------
    def _hold(self, item: tuple[str, object], n: int) -> list[Event]:
        self._pending.append(item)
        self._pending_n += n
        if self._pending_n >= self._probe_n:
            return self._release()
        return []

    def _hold_block(self, x: np.ndarray) -> list[Event]:
        """Hold a block while the mains is not decided: its NaN runs as the gaps they are, as
        ``gap`` holds them, so the probe is ``mains_probe_s`` of data however the input comes
        (counted with the NaN, its length, and so the mains decision, had followed the block
        sizes). Once the mains is decided, the rest of the block runs."""
        finite = np.isfinite(x).all(axis=0)
        if finite.all():
            return self._hold(("data", x.copy()), x.shape[1])
        events: list[Event] = []
        for start, end in _runs(finite):
            if self._band is not None:
                return events + self._run(x[:, start:])
            events += (self._hold(("data", x[:, start:end].copy()), end - start) if finite[start]
                       else self._hold(("gap", end - start), 0))
        return events

    def _probe(self) -> np.ndarray:
        """The held input the mains decision looks at (its first ``mains_probe_s``). Short gaps
        are drawn straight across, as the detector bridges them, so the hum's phase runs on;
        longer ones, and gaps with no data on one side, are left out. (Joined end to end, lost
        frames had put phase jumps in the hum: at 5 % of frames lost, harmonics went unfound and
        stayed for the whole session.) Held data holds no NaN (``_hold_block``)."""
        parts: list[np.ndarray] = []
        for lost, x in _after_losses(self._pending):
            if parts and 0 < lost <= self._bridge_max_n:
                parts.append(_straight(parts[-1][:, -1], x[:, 0], lost))
            parts.append(x)
        return np.concatenate(parts, axis=1)[:, : self._probe_n] if parts else np.empty((self.n_channels, 0))

    def _release(self) -> list[Event]:
        probe = self._probe()
        cfg = self.config
        forced = None if cfg.mains == "auto" else float(cfg.mains)
        _, hi = cfg.band_for(self.fs)
        self._decide_mains(estimate_mains(probe, self.fs, forced=forced, max_hz=hi + 10.0,
                                          detect_db=cfg.mains_detect_db))
        pending, self._pending = self._pending, []
        events: list[Event] = []
        for kind, item in pending:
            events += self._run(item) if kind == "data" else self._gap(item)  # type: ignore[arg-type]
        return events

    def _decide_mains(self, est: MainsEstimate | None) -> None:
        self.mains = est
        cfg = self.config
        lo, hi = cfg.band_for(self.fs)
        self._band = StreamingSOS(bandpass_sos(lo, hi, self.fs, cfg.band_order), self.n_channels)
        if est is not None and est.frequency_hz:
            harmonics = tuple(h for h in est.harmonics_hz if h < hi + 10.0) or (est.frequency_hz,)
            # it learns the hum from the data the detector settles on after a gap too long for
            # its history: no event can come from it
            self._mains = MainsCanceller(self.fs, self.n_channels, est.frequency_hz, harmonics,
                                         cfg.mains_history_s, lead_s=cfg.settle_s)

    # -- the per-block path ------------------------------------------------------------
    def _run(self, x: np.ndarray) -> list[Event]:
        # the row sums are needed for the quality figures anyway; finite sums mean finite samples
        # (a sum that overflows only sends the block down the sample-by-sample check)
        sums = np.add.reduce(x, axis=1)
        if all(map(math.isfinite, sums.tolist())):
            return self._run_segment(x, sums)
        finite = np.isfinite(x).all(axis=0)
        if finite.all():
            return self._run_segment(x)
        events: list[Event] = []
        for start, end in _runs(finite):
            events += self._run_segment(x[:, start:end]) if finite[start] else self._gap(end - start)
        return events

    def _gap(self, n: int, bridge: bool = True) -> list[Event]:
        """``n`` samples lost. Up to ``bridge_gap_s`` in all (after data), the gap waits to be
        bridged by the next data (``_bridged``); a longer one ends the segment, and the filters
        restart after it."""
        if self._lead:  # (held while the canceller learns: a short gap is held with it)
            if bridge and self._lead_lost + n <= self._bridge_max_n:
                self._lead.append(("gap", n))
                self._lead_lost += n
                return []
            return self._release_lead() + self._gap(n, bridge)
        pending = self._bridge_n
        if bridge and not self._in_gap and self._last is not None and pending + n <= self._bridge_max_n:
            self._note_gap(n, extend=pending > 0)
            self._bridge_n += n
            return []
        events: list[Event] = []
        if not self._in_gap:
            events = self._drain()
            events += self._classify(self._segmenter.end_segment("gap"), final=True)
        self._note_gap(n, extend=self._in_gap or pending > 0)
        self._bridge_n = 0
        self._last = None
        self._in_gap = True
        self.samples_seen += pending + n
        if self._mains is not None:  # (its history kept across a gap of up to a second)
            self._mains.skip(pending + n)
        return events

    def _note_gap(self, n: int, extend: bool) -> None:
        """Record ``n`` lost samples: a new gap, or more of the one just before (``extend``)."""
        if extend:
            last = self.gaps[-1]
            self.gaps[-1] = Gap(last.start_sample, last.n_samples + n, self.fs)
        else:
            self.gaps.append(Gap(self.samples_seen, n, self.fs))

    def _bridged(self, x: np.ndarray, clean: np.ndarray, n_fill: int) -> tuple[np.ndarray, np.ndarray]:
        """The segment ``x`` (raw) and ``clean`` (mains removed) after a short gap of ``n_fill``,
        each led by a straight line from the sample before the gap to the first after it: the
        filters run on without a restart, and the gap's samples carry no activity."""
        raw0, clean0 = self._last  # type: ignore[misc]
        return (np.concatenate([_straight(raw0, x[:, 0], n_fill), x], axis=1),
                np.concatenate([_straight(clean0, clean[:, 0], n_fill), clean], axis=1))

    def _hold_lead(self, x: np.ndarray) -> list[Event]:
        """Hold the first data after the mains canceller restarted (after a gap too long for its
        history) until it has the ``lead_n`` samples it learns the hum from
        (``MainsCanceller.learn``), with the short gaps among them; a longer gap, or the end of
        the data, lets it learn from what there is. It had started with an empty history and
        left the hum in the first ~0.1 s, and the twitches of the next half second read as
        activity in a muscle not at rest. What is held is what the detector settles on
        (``settle_s``): no event can come from it, so the hold delays none."""
        need = self._mains.lead_n - self._lead_n  # type: ignore[union-attr]
        self._lead.append(("data", x[:, :need].copy()))
        self._lead_n += min(need, x.shape[1])
        self._lead_lost = 0
        if x.shape[1] < need:
            return []
        events = self._release_lead()  # (the canceller learns from exactly ``lead_n``, however the data came)
        return events + self._run_segment(x[:, need:]) if x.shape[1] > need else events

    def _release_lead(self) -> list[Event]:
        """The canceller learns from the data held (``_hold_lead``), which then goes through."""
        items, self._lead = self._lead, []
        self._lead_n = self._lead_lost = 0
        parts: list[tuple[int, np.ndarray]] = []
        at = 0  # samples from the first held
        for lost, x in _after_losses(items):
            parts.append((at + lost, x))
            at += lost + x.shape[1]
        self._mains.learn(parts)  # type: ignore[union-attr]
        events: list[Event] = []
        for kind, item in items:
            events += self._run_segment(item) if kind == "data" else self._gap(item)  # type: ignore[arg-type]
        return events

    def _run_segment(self, x: np.ndarray, sums: np.ndarray | None = None) -> list[Event]:
        if self._mains is not None and self._mains.lead_n:
            return self._hold_lead(x)
        n_fill, self._bridge_n = self._bridge_n, 0
        if self._in_gap:
            self._in_gap = False
            self._band.reset()  # type: ignore[union-attr]
            self._env.reset()
            self._lf.reset()
            self._energy.reset()
            self._held = None
            lost = self.gaps[-1].n_samples
            self._noise.restart(forget=lost >= self._noise.hist_len * self._noise.win, seed=lost <= self._seed_max_n)
            self._segmenter.start_segment(self.samples_seen)
            self._settle_left = self._settle_n
            self._restarted = True
            self._blind = True
            self._floor_waits = list(range(self.n_channels))
        self._account(x, sums)
        if n_fill and self._mains is not None:
            self._mains.skip(n_fill)
        clean = self._mains.process(x) if self._mains is not None else x
        if n_fill:
            x, clean = self._bridged(x, clean, n_fill)
            self._bridges.append((self.samples_seen, self.samples_seen + n_fill))
        self._last = (x[:, -1].copy(), clean[:, -1].copy())
        n = x.shape[1]
        # the segmenter's rows (Y, ENV, LF, RAW, FLOOR, STAT): the held ones, then this block's;
        # the statistic lags, so it covers the first k. Long blocks are written where the
        # segmenter reads them, after its carry (no second copy; the compiled front end writes
        # its rows there itself); for live blocks, staging costs more than the copy it saves
        held = self._held
        h = 0 if held is None else held.shape[2]
        staged = n >= STAGE_MIN and self.config.detector != "envelope"
        if staged:
            rows = self._segmenter.stage(h + n)
            if h:
                rows[:, :, :h] = held
            outs = (rows[Y, :, h:], rows[ENV, :, h:], rows[LF, :, h:])
            y, y2, env, lf = front_end(self._band, self._env, self._lf, clean, outs)  # type: ignore[arg-type]
        else:
            y, y2, env, lf = front_end(self._band, self._env, self._lf, clean)  # type: ignore[arg-type]
        y2_noise = y2
        if n_fill:  # the bridge holds the noise's own level; while that is unknown, no level at all
            # (the fill band-passes to ~0, and windows of it pulled the floor being learnt down by
            # up to noise_recent_cap): a window touching the fill is left out of the history (NaN)
            level = self._noise.level_sq()
            y2[:, :n_fill] = np.where(np.isfinite(level), level, y2[:, :n_fill])
            if not np.isfinite(level).all():
                y2_noise = y2.copy()
                y2_noise[:, :n_fill] = level  # NaN where unknown
        floor = self._noise.process(y2_noise)
        self.units.push(y, self.samples_seen)
        if self._settle_left:
            k = min(self._settle_left, n)
            floor[:, :k] = np.nan
            self._settle_left -= k
        if self._blind:  # nothing counts where a channel's floor is not back (settling, or learnt again)
            blind = np.isnan(floor).any(axis=0)
            self._settling_n += int(np.count_nonzero(blind[n_fill:]))  # (seconds of data: not the bridge's)
            self._blind = bool(blind[-1]) or self._settle_left > 0
        found = np.isfinite(floor[:, n_fill:]).any(axis=0)
        searched = int(np.count_nonzero(found))
        self._searched_n += searched
        if searched < found.size:
            self._note_unsearched(~found, self.samples_seen + n_fill)
        if self._floor_waits:
            self._note_floor_start(floor)
        self.samples_seen += n
        if self.config.detector == "envelope":
            with np.errstate(invalid="ignore"):
                strong = env > self.config.on_threshold * floor  # the segmenter stores it as 1.0 / 0.0
            return self._classify(self._segmenter.process(y, env, lf, x, floor, strong))
        self._feed_rest(floor, self.samples_seen - n, n)
        stat = self._energy.process(y2, floor, y)
        if staged:  # row by row: a tuple assigned at once is first copied into a temporary array
            for r, v in enumerate((y, env, lf, x, floor)):
                if r > LF or v is not outs[r]:  # (what the front end wrote in place is there)
                    rows[r, :, h:] = v
        else:
            rows = np.empty((N_ROWS, self.n_channels, h + n))
            if h:
                rows[:, :, :h] = held
            rows[:STAT, :, h:] = (y, env, lf, x, floor)  # rows Y .. FLOOR, in one assignment (fewer calls)
        k = stat.shape[1]
        rows[STAT, :, :k] = stat
        self._held = rows[:, :, k:]
        self._trains.feed(rows[Y, :, :k], self._segmenter.position())
        return self._classify(self._segmenter.process_staged(k) if staged
                              else self._segmenter.process_rows(rows[:, :, :k]))

    def _feed_rest(self, floor: np.ndarray, start: int, n: int) -> None:
        """The trains' rest level comes from the floor on a grid of samples, as the block comes
        (ahead of the samples, which wait for the centred statistic): the floor, lowered in
        every pause of activity (``NoiseFloor.rest_at``; NaN while it settles, as the floor)."""
        grid = self._trains.rest_grid(start, n)
        on_grid = floor[:, grid]
        if on_grid.shape[1] and not self._noise.rest_is_floor:
            on_grid = np.minimum(on_grid, self._noise.rest_at(np.arange(grid.start, grid.stop, grid.step)))
        self._trains.feed_rest(start, n, on_grid)

    def _drain(self) -> list[Event]:
        """The data stops: the samples held for the centred statistic go through with it."""
        stat = self._energy.drain()
        rows, self._held = self._held, None
        if rows is None or not stat.shape[1]:
            return []
        rows[STAT] = stat
        self._trains.feed(rows[Y], self._segmenter.position())
        return self._classify(self._segmenter.process_rows(rows))

    def _account(self, x: np.ndarray, sums: np.ndarray | None = None) -> None:
        self._finite += int(x.shape[1])
        self._sum += x.sum(axis=1) if sums is None else sums
        self._sumsq += np.einsum("ij,ij->i", x, x)
        if self.config.clip_uv is not None:
            self._clipped += (np.abs(x) >= self.config.clip_uv).sum(axis=1)

    def _note_floor_start(self, floor: np.ndarray) -> None:
        """Note where each waiting channel's floor first exists in this segment (this block
        starts at ``samples_seen``): activity there may have begun before it."""
        for c in list(self._floor_waits):
            known = np.flatnonzero(np.isfinite(floor[c]))
            if known.size:
                self._floor_starts[c] = self.samples_seen + int(known[0])
                self._floor_waits.remove(c)

    def _cut_at_floor_start(self, bursts: list, until: int) -> list:
        """A burst that starts where its channel's floor first exists (or within
        ``FLOOR_START_MS``: the tail of a potential crosses a sample or two late) was under way
        before the detector could see it: it is cut at its start, as a gap cuts one at its end
        (an artifact: its onset and size are not known). A potential that begins later is
        judged as any other."""
        starts, near = self._floor_starts, self._floor_start_n
        why = "gap" if self._restarted else "start"  # (after a gap, that gap cut it: said as for its end)
        out = [replace(b, cut=why) if 0 <= b.start - starts.get(b.channel, -near) < near else b
               for b in bursts]
        for c, at in list(starts.items()):
            if at + near <= until:  # judged: no later burst can start that close
                del starts[c]
        return out

    def _cut_at_bridges(self, bursts: list, until: int) -> list:
        """A burst shorter than a contraction may have lost part of itself in the bridged gaps
        that lie in it or within ``BRIDGE_MARGIN_MS`` of it (its onset or end may be in one just
        outside it): all of such a gap may have been the burst's. It is cut by the gap, as
        where the filters restart, when those gaps add up to more than ``BRIDGE_LOST_SHARE`` of
        its length. A gap of a few samples leaves a twitch whole enough to count: at 4 kHz a
        lost frame is 3.5 ms, and cutting every burst near one lost a third of the twitches at
        5 % of frames lost. A contraction across a short gap stays one contraction."""
        m, bridges = self._bridge_margin_n, self._bridges
        out = []
        for b in bursts:
            if b.cut is None and b.end - b.start < self._contraction_n:
                lost = sum(e - s for s, e in bridges if s < b.end + m and e > b.start - m)
                keep = self._bridge_keep_n if b.peak_to_peak_uv >= BRIDGE_KEEP_SIZE * b.floor_uv else 0
                if lost > max(BRIDGE_LOST_SHARE * (b.end - b.start), keep):
                    b = replace(b, cut="gap")
            out.append(b)
        self._bridges = [(s, e) for s, e in bridges if e + m > until]  # no burst found later starts before until
        return out

    def _classify(self, bursts: list, final: bool = False) -> list[Event]:
        until = self._segmenter.finalised_until()
        if self._floor_starts:
            bursts = self._cut_at_floor_start(bursts, until)
        if self._bridges:
            bursts = self._cut_at_bridges(bursts, until)
        if self.config.detector == "envelope":
            events = [classify(b, self.fs, self.config) for b in bursts]
            self._note_bars(bursts, events)
            if self._activity or self._size_bar:
                events = self._count_bars(events)
            events = self.units.process(events, until, final)
        else:
            classes = classify_many(bursts, self.fs, self.config, self._impulse)
            self._note_bars(bursts, classes)
            events = self._trains.process(list(zip(bursts, classes)), until, final)
            if self._activity or self._size_bar:
                events = self._count_bars(events)
            until = self._trains.held_from(until)  # the candidates the trains still hold
            events = self.units.process(events, until, final)
        horizon_s = self.units.held_from(until) / self.fs  # latency_horizon_s, from the figures at hand
        if not events:
            if self._episodes.has_open:
                self.episodes += self._episodes.advance(horizon_s)
            return []
        events.sort(key=_ORDER)
        self.episodes += self._episodes.process(events, horizon_s)
        return events

    def _note_bars(self, bursts: list, events: list[Event]) -> None:
        """Hold the reason of each twitch candidate whose floor is over ``max_rest_floor_uv`` (none
        at rest), or else of more than ``max_twitch_phases`` phases (read from the band-passed
        signal while it is at hand: the candidates have just ended; counted together, one call a
        block)."""
        bar, most, held = self._rest_bar, self._phase_bar, self._activity
        counted = []
        for b, e in zip(bursts, events):
            if e.kind != "twitch":
                continue
            if bar and b.floor_uv > bar:
                held[(b.channel, b.start)] = busy_floor_reason(b.floor_uv, bar)
            elif most and b.end - b.start > most:  # (a phase takes a sample at least)
                counted.append(b)
        if counted:
            ys, y0 = self.units.ring.kept()
            k, step = len(counted), self.config.phase_step
            n = phase_counts(ys, y0, np.fromiter((b.start for b in counted), np.int64, k),
                             np.fromiter((b.end for b in counted), np.int64, k),
                             np.fromiter((b.channel for b in counted), np.int64, k),
                             np.fromiter((max(step * b.peak_to_peak_uv, PHASE_FLOORS * b.floor_uv) for b in counted),
                                         np.float64, k))
            for b, phases in zip(counted, n.tolist()):
                if phases > most:
                    held[(b.channel, b.start)] = many_phases_reason(phases, most)

    def _count_bars(self, events: list[Event]) -> list[Event]:
        """A twitch smaller than ``min_twitch_uv`` is an artifact, one on a floor over
        ``max_rest_floor_uv`` or of more than ``max_twitch_phases`` phases a contraction. Decided
        after the trains, on what they release, so no other verdict moves: such a candidate still
        counts for its neighbours as the twitch candidate it was (a context the trains were tuned
        with)."""
        held, least, out = self._activity, self._size_bar, []
        for e in events:
            reason = held.pop((e.channel, e.onset_sample), None) if held else None
            if e.kind == "twitch":
                if e.peak_to_peak_uv < least:
                    e = evolve(e, kind="artifact", reason=too_small_reason(e.peak_to_peak_uv, least))
                elif reason is not None:
                    e = evolve(e, kind="contraction", reason=reason)
            out.append(e)
        return out

#: below this rate the band-pass's upper edge (0.45 x the rate) cuts into a short potential's
#: spectrum, and its ringing adds phases: at 500 Hz doublets of twitches reached 8-10 (the
#: fasciculation nights lost 8 twitches at 500 Hz, none at 1 and 2 kHz)
PHASES_MIN_FS = 900.0
#: a phase is a swing of at least this many noise floors (µV RMS) too: Gaussian noise swings
#: by 4 floors between neighbouring extrema now and then, by 6 hardly ever
PHASE_FLOORS = 6.0


def many_phases_reason(phases: int, most: int) -> str:
    """Why a potential of many phases is no twitch."""
    return (f"{phases} phases: several motor units firing together (voluntary activity), not one "
            f"unit's potential (at most {most})")


#: how ``busy_floor_reason`` begins (so that a report can count such verdicts)
BUSY_FLOOR = "inside muscle activity"


def busy_floor_reason(floor_uv: float, bar_uv: float) -> str:
    """Why nothing counts as a twitch over ``max_rest_floor_uv``: every bar is relative to the
    floor, and here the floor is a working muscle's activity (or, less often, noise no stage
    removed: a loose electrode, hum that was not cancelled), out of which its largest units
    stand as twitches would."""
    return (f"{BUSY_FLOOR}: the background itself is {floor_uv:.0f} µV RMS, more than a muscle "
            f"at rest gives ({bar_uv:g} µV; or noise that was not removed)")


@lru_cache(maxsize=32)
def _threshold_table(fs: float, lo: float, hi: float, order: int, windows: tuple[int, ...], on: float,
                     noise_n: int, percentile: float) -> tuple[np.ndarray, float]:
    """The energy thresholds and the floor's bias for one design (tens of chi-square quantiles:
    worth keeping when many files of the same rate are analysed)."""
    band = bandpass_sos(lo, hi, fs, order)
    table = threshold_table(band, windows, on, fs, noise_n, percentile)
    table.flags.writeable = False
    return table, floor_bias(band, noise_n, percentile)


@lru_cache(maxsize=32)
def _matched_bank(fs: float, lo: float, hi: float, order: int, lengths_ms: tuple[float, ...],
                  on: float | tuple[float, float],
                  windows: tuple[int, ...], energy_on: float, noise_n: int, percentile: float) -> MatchedBank:
    """The twitch-shape filters for one design (read-only once built, so pipelines share them)."""
    table, _ = _threshold_table(fs, lo, hi, order, windows, energy_on, noise_n, percentile)
    return MatchedBank(bandpass_sos(lo, hi, fs, order), fs, lengths_ms, on, windows, table, noise_n, percentile)


#: events in sample order, channel by channel at the same sample (a key without a Python call)
_ORDER = attrgetter("onset_sample", "channel")


@dataclass
class DetectionResult:
    """Everything ``detect`` found in one recording."""

    events: list[Event]
    episodes: list[Episode]
    gaps: list[Gap]
    mains: MainsEstimate | None
    quality: dict
    fs: float
    duration_s: float
    config: DetectorConfig = field(default_factory=DetectorConfig)

    @property
    def twitches(self) -> list[Event]:
        return [e for e in self.events if e.kind == "twitch"]


def detect(signal: np.ndarray, fs: float, config: DetectorConfig | None = None,
           chunk: int = OFFLINE_CHUNK) -> DetectionResult:
    """Offline detection over a whole ``(channels, n)`` array (or 1-D): the streaming stages fed
    in ``chunk``-sample steps, so the result equals live use sample for sample."""
    x = np.asarray(signal)
    if x.ndim == 1:
        x = x[None, :]
    pipe = Pipeline(fs, x.shape[0], config)
    events: list[Event] = []
    for i in range(0, x.shape[1], chunk):
        events += pipe.process(x[:, i: i + chunk])
    events += pipe.flush()
    events.sort(key=lambda e: (e.onset_sample, e.channel))
    return DetectionResult(events, pipe.episodes, pipe.gaps, pipe.mains, pipe.quality(), pipe.fs,
                           x.shape[1] / pipe.fs, pipe.config)
