"""Voluntary motor-unit trains: similar potentials firing regularly are not twitches.

A motor unit under voluntary control fires again and again at about 5-30 Hz with a steady
rhythm, even when the contraction is so weak that it never builds an envelope (tonic activity,
the first unit recruited at a contraction's onset, the last one at its offset). A
fasciculation fires once, at a random time. So a twitch candidate is looked at together with
the candidates around it on its channel: if it belongs to a chain of at least
``train_min_potentials`` potentials of the same shape and size whose intervals lie in the
voluntary range and change smoothly, the whole chain is voluntary activity.

Deciding needs a little of the future: a candidate is held until no further potential of its
shape can arrive within the longest voluntary interval (isolated twitches: about 0.2 s after
their onset), or, when one does, until the chain it starts is confirmed or broken.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, product
from operator import itemgetter

import numpy as np

from myotwitch.dsp import kernels
from myotwitch.dsp.bursts import Burst
from myotwitch.dsp.events import Event, evolve
from myotwitch.dsp.ring import SignalRing

#: the resting level is a low percentile, not the minimum, of the floors seen: the minimum of
#: many noisy estimates sits well below a typical quiet stretch
REST_PERCENTILE = 10.0
#: ``rest_floor`` slides its sorted window by up to this many floors (in and out); farther, one
#: partition of the window is cheaper (~0.35 us a floor moved against ~7 us)
REST_SLIDE = 24

EDGE = "at the edge of voluntary activity (recruitment or derecruitment)"
RHYTHM = "during phasic voluntary activity (bursts of it keep coming, as in walking)"
STRIDE = "one more burst of potentials at a steady stride (the early steps of a walk)"
#: a crowded potential whose own unit's train starts within the look-ahead it waited: a unit's firing,
#: so it counts for the unit firing on (``_decide``) as a train's firings do
UNIT_AHEAD = "the first firing of a voluntary motor unit's train (its next firings follow at a voluntary rate)"
#: ... and one whose decision came just before another unit's train started (within the margin: the
#: edge of that activity, seen ahead); a unit's firing as well, as the recruitment's first
ONSET_AHEAD = "at the onset of voluntary activity (a motor unit's train starts right after it)"
SHAPE_ONLY = "a small potential next to other activity (too weak to tell from a voluntary unit's firing)"
#: ``_busy_background``'s answer when only the bar for small candidates marked the background busy
SMALL = "small"
#: an activity entry's onset (its bisection key)
_ONSET = itemgetter(0)
_OFFSET = itemgetter(1)  # (its end)


@dataclass(slots=True)  # (made and read per candidate: slots are quicker for both)
class _Potential:
    onset: int
    ptp: float
    snippet: np.ndarray  # unit-norm band-passed waveform centred on the peak
    offset: int = 0
    floor: float = 0.0  # noise floor (µV RMS) at the potential
    shape_only: bool = False  # only the twitch-shape filters found it (bursts.Burst.shape_only)
    share: float = 1.0  # the part of the snippet's energy that is the potential's, not noise
    signal: float = math.nan  # ... as measured (``share`` is taken as at least ``share_least``); NaN: not known
    # (the fields a burst gives come first: ``TrainStage._take`` passes them by position, ~0.1 us
    # less a candidate than by keyword)
    voluntary: bool = False  # recognised as a firing of a voluntary unit
    need: float = 0.0  # the decision waits for data up to here ...
    seen: int = -1  # ... unless candidates arrived on the channel since (their count then)
    #: ``TrainStage._check_ahead``'s answer within the block being decided (-1: none), and the
    #: first grid position it read (absolute); kept here rather than in a dict by id (~0.1 us a potential)
    ahead: int = -1
    ahead_lo: int = 0


#: a short artifact is cut out of the background only from this peak to peak over its floor
#: (and ``activity_uv``) on: a potential's size. A smaller blip is where the background itself
#: crossed the threshold for a moment, part of the activity the check measures
BLIP_MIN_SIZE = 6.0

#: no short artifacts, as the compiled background check's rows
_NO_BLIPS = np.empty((0, 3))


def _columns(*columns: list) -> np.ndarray:
    """Float rows from one list per column: numpy converts a flat list of numbers faster than a
    list of tuples (~0.16 against 0.24 us a row of five), to the same values."""
    out = np.empty((len(columns[0]), len(columns)))
    for j, col in enumerate(columns):
        out[:, j] = col
    return out


def _by_onset(pairs: list[tuple[Burst, Event]]) -> list[tuple[Burst, Event]]:
    """``sorted(pairs, key=onset)``: the pairs as they are when they already come in onset order
    (one channel's bursts do), which a pass over their onsets tells for less than the sort's
    key calls (a stable sort leaves such a list as it is)."""
    on = [e.onset_sample for _, e in pairs]
    return pairs if on == sorted(on) else sorted(pairs, key=lambda p: p[1].onset_sample)


def best_correlation(x: np.ndarray, y: np.ndarray, max_lag: int = 2) -> float:
    """Largest normalised correlation of two unit-norm snippets over a few samples' lag
    (polarity counts); -1 when they are too short to compare."""
    n = min(x.size, y.size)
    if n < 3:
        return -1.0
    return float(np.correlate(x[:n], y[:n], mode="full")[n - 1 - max_lag: n + max_lag].max())


def best_correlations(xs: list[np.ndarray], y: np.ndarray, max_lag: int = 2) -> list[float]:
    """``best_correlation`` of each of ``xs`` with ``y`` (one product per lag for all of them
    when they share y's length, which the snippets of one pipeline do)."""
    n = y.size
    if n < 3 or any(x.size != n for x in xs):
        return [best_correlation(x, y, max_lag) for x in xs]
    X = np.array(xs)  # (np.stack's checks cost more than the copy)
    best = X[:, max_lag:] @ y[: n - max_lag]
    for lag in range(-max_lag, max_lag):
        np.maximum(best, X[:, lag:] @ y[: n - lag] if lag >= 0 else X[:, : n + lag] @ y[-lag:], out=best)
    return best.tolist()


def size_ratio_allowed(ratio: float, size: float, floor: float, noise: float = 0.0, least: float = 1.0) -> float:
    """The factor two sizes of one unit may differ by: ``ratio``, narrowed with ``noise`` > 0 to
    what the noise can explain, 1 + noise x floor / size, but not below ``least``. The firings of
    one unit differ in size by little more than the noise added to them, while unrelated
    potentials (a burst of twitches) differ freely."""
    if noise > 0.0 and size > 0.0 and floor > 0.0:
        return max(least, min(ratio, 1.0 + noise * floor / size))
    return ratio


def same_size(a: _Potential, b: _Potential, ratio: float, noise: float = 0.0, least: float = 1.0) -> bool:
    """Peak-to-peak sizes within ``size_ratio_allowed`` of each other (judged at the smaller
    potential's size and the larger floor)."""
    lo, hi = min(a.ptp, b.ptp), max(a.ptp, b.ptp)
    return hi <= size_ratio_allowed(ratio, lo, max(a.floor, b.floor), noise, least) * lo


#: ``TrainStage._same_waveform``'s least part of noise in a correlation: sampling places two
#: firings' peaks up to half a sample apart, which alone costs a short potential a few
#: hundredths of correlation at 500 Hz however clean it is
SHAPE_NOISE_LEAST = 0.05

#: firings of a voluntary unit too small to see that a train may skip between two seen ones
MAX_MISSED = 1


def firing_intervals(d: float, isi_min: float, isi_max: float, max_missed: int) -> int:
    """How many firing intervals the gap ``d`` spans (1 + missed firings), 0 when it cannot be
    one unit's voluntary firing (too short, or longer than ``1 + max_missed`` slowest intervals)."""
    if d < isi_min:
        return 0
    m = max(1, int(round(d / isi_max)) if d > isi_max else 1)
    while m <= 1 + max_missed:
        if isi_min <= d / m <= isi_max:
            return m
        m += 1
    return 0


def regular_chain(times: list[int], k: int, isi_min: float, isi_max: float, regularity: float,
                  min_len: int, max_missed: int = MAX_MISSED) -> tuple[int, int] | None:
    """The (first, last) time of a run of at least ``min_len`` consecutive times through
    ``times[k]`` whose intervals are voluntary firing intervals (allowing ``max_missed`` firings
    too small to see between two seen ones), each within ``regularity`` of the one before once
    the missed firings are counted; None when there is no such run."""
    n = len(times)
    if n < min_len:
        return None
    got: dict[int, int] = {}  # firing intervals of the gaps the run reaches (most are never asked for)

    def step(i: int) -> int:
        m = got.get(i)
        if m is None:
            m = got[i] = firing_intervals(times[i + 1] - times[i], isi_min, isi_max, max_missed)
        return m

    def smooth(i: int) -> bool:  # interval i and interval i+1 are alike (per firing)
        a = (times[i + 1] - times[i]) / step(i)
        b = (times[i + 2] - times[i + 1]) / step(i + 1)
        return max(a, b) <= regularity * min(a, b)
    lo = hi = k  # grow the run [lo, hi] of times around k
    while lo > 0 and step(lo - 1) and (hi - lo < 1 or smooth(lo - 1)):
        lo -= 1
    while hi < n - 1 and step(hi) and (hi - lo < 1 or smooth(hi - 1)):
        hi += 1
    return (times[lo], times[hi]) if hi - lo + 1 >= min_len else None


def bouts_of(spans: list[tuple[int, int, int]], gap: int) -> list[list[int]]:
    """Spans ``(start, end, potentials)`` in start order grouped into bouts of activity
    ``[start, end, potentials]``: spans less than ``gap`` apart (or overlapping) are one bout."""
    bouts: list[list[int]] = []
    for a, b, k in spans:
        if bouts and a - bouts[-1][1] <= gap:
            bouts[-1][1] = max(bouts[-1][1], b)
            bouts[-1][2] += k
        else:
            bouts.append([a, b, k])
    return bouts


class TrainStage:
    """Holds twitch candidates until their neighbourhood is known, then relabels the ones that
    are part of a voluntary train. Events leave in onset order."""

    #: a channel's held potentials are screened together (``_screen``) from this many on: its
    #: ~20 array calls cost about what the scalar checks of a dozen or two potentials do
    screen_min = 32

    def __init__(self, fs: float, n_channels: int, *, min_hz: float, max_hz: float, regularity: float,
                 size_ratio: float, min_corr: float, min_len: int, context_s: float = 0.15,
                 quiet_s: float = 0.0, quiet_ratio: float = 2.0, floor_bias: float = 1.0,
                 pair_ratio: float = 0.0, pair_corr: float = 0.9, rest_s: float = 60.0,
                 rest_step: int = 100, ring_s: float = 0.011, lookback_s: float = 0.0,
                 lookback_ratio: float = 2.0, small_snr: float = 0.0, small_ratio: float = 1.35,
                 rhythm_s: float = 0.0, rhythm_bouts: int = 2,
                 bout_gap_s: float = 0.3, stride_bouts: int = 0, stride_potentials: int = 2,
                 stride_period_s: tuple[float, float] = (0.7, 1.6), stride_regularity: float = 1.25,
                 stride_missed: int = 0, stride_missed_regularity: float = 1.15,
                 after_s: float | None = None, size_noise: float = 0.0,
                 corr_noise: float = 0.0,
                 size_least: float = 1.0, recur_corr: float = 0.0, recur_s: float = 0.6,
                 recur_max_snr: float = math.inf, recur_refine: float = 0.6, recur_refine_n: int = 0,
                 cluster_min: int = 0, cluster_ratio: float = 2.0,
                 isolation_s: float = 0.0, isolation_snr: float = 12.0, share_least: float = 1.0,
                 activity_uv: float = 0.0, pair_unmixed: bool = False, train_unmixed: bool = False,
                 shape_noise: float = 0.0, crowd_s: float = 0.0, ahead_any: bool = False,
                 blip_max_s: float = 0.0, idle_s: float = 0.0, signal: SignalRing | None = None) -> None:
        #: the band-passed signal: a ring of its own, or one the pipeline shares (``signal``,
        #: appended to by its owner ahead of ``feed``)
        self._shared = signal
        self._hold = None if signal is None else signal.holder()
        self.fs = fs
        self.n_channels = n_channels
        self.isi_min = fs / max_hz
        self.isi_max = fs / min_hz
        self.regularity, self.size_ratio, self.min_corr, self.min_len = regularity, size_ratio, min_corr, min_len
        #: sizes must also agree as closely as the noise allows (``same_size``)
        self.size_noise, self.size_least = size_noise, size_least
        self.corr_noise = corr_noise  # ... and shapes as close as noise allows (``_corr_needed``)
        #: noise in a snippet lowers its correlation with another firing of the same unit by the
        #: root of each one's signal share of its energy; the train bar is lowered alike, the
        #: share taken as at least ``share_least`` (1: no lowering; the pair bar never is)
        self.share_least = share_least
        self.noise_power = floor_bias  # true noise power per sample over the floor squared
        self.memory = int(2 * self.isi_max * (min_len + 1))  # a chain may skip a firing
        #: a potential found by its shape alone must have nothing else this long before it
        self.isolation_n = min(int(round(isolation_s * fs)), self.memory)
        #: an artifact under this size (µV peak to peak) both in the pass band and in its
        #: low-frequency swing is no sign of activity for ``_not_alone`` (0: every artifact is).
        #: The pipeline passes ``candidate_min_uv``: what is too small to be a twitch is too small to
        #: be a moving limb or a contraction. Twitches come in runs, and a small potential called
        #: too small (or its LF swing, a few µV of the background's own, called a transient) had
        #: kept a small twitch 0.45-0.9 s after it from counting (real recordings' injections)
        self.activity_uv = activity_uv
        self.isolation_snr = isolation_snr  # ... when under this many floors peak to peak
        #: a unit recognised as voluntary keeps that label across up to two unseen firings
        self.continue_gap = 3 * self.isi_max
        #: the farthest a potential's neighbour in a train can be (``firing_intervals``: one
        #: interval with ``MAX_MISSED`` firings skipped; a sample more for rounding): when no
        #: potential of its size is that close, nor a voluntary one within ``continue_gap`` before
        #: it, no train, pair or continued firing can include it and likeness is not worked out
        self.likeness_reach = (1 + MAX_MISSED) * self.isi_max + 1
        #: potentials this close to a recognised train are part of the same voluntary activity
        #: (another unit joining, a firing whose shape the noise spoiled)
        self.margin = int(round(context_s * fs))
        #: ... and this long after it ends (derecruitment): the past costs no waiting, so it
        #: can reach further than the look ahead to an onset
        self.margin_after = self.margin if after_s is None else int(round(after_s * fs))
        #: ... and this long before it for a potential that another candidate follows within the
        #: margin (``_crowded``): the first units of a contraction and the weak steps of a walk
        #: come in crowds, so such a potential waits that long for the activity to show; a
        #: potential on its own does not wait (0 or no more than the margin: off)
        self.crowd_margin = max(int(round(crowd_s * fs)), self.margin)
        #: ... and is recruitment when any unit's train starts within the margin after it (the edge
        #: rule, known ahead: ``_unit_ahead``)
        self.ahead_any = ahead_any
        #: one unit firing again: stricter likeness than for a train (0: check off)
        self.pair_ratio, self.pair_corr = pair_ratio, pair_corr
        #: ... but not inside a run of mixed sizes (``_pair_mixed``)
        self.pair_unmixed = pair_unmixed
        self.train_unmixed = train_unmixed
        #: ... and at rest, alike only as closely as the noise allows (``_same_waveform``; 0: off)
        self.shape_noise = shape_noise
        #: ... nor in a muscle at rest: no contraction in the ``idle_n`` before it (0: never at
        #: rest), where a verdict from a waveform's recurrence or a busy background does not
        #: spread as an edge either (``_active_lately``)
        self.idle_n = int(round(idle_s * fs))
        #: the resting level: floors sampled every ``rest_step`` over the last ``rest_s``
        self.rest_n, self.rest_step = int(round(rest_s * fs)), max(1, rest_step)
        #: a twitch stands out of a quiet background: the band-passed power in ``quiet_s`` either
        #: side of it (other twitch candidates left out) must stay below ``quiet_ratio`` x the
        #: noise power at rest; ``floor_bias`` is the true noise power over the floor squared.
        #: Voluntary activity brings many potentials too small to detect one by one.
        self.quiet_n = int(round(quiet_s * fs))
        self.quiet_limit = quiet_ratio * floor_bias
        #: ... and over a longer stretch of the past (``lookback_s`` before it to ``quiet_s`` after
        #: it) below ``lookback_ratio`` x that power: more samples measure a smaller excess, and
        #: the past costs no waiting. Sparse voluntary firing (the step of a walk, the ramp of a
        #: contraction) lifts it; the rest around a twitch does not.
        self.lookback_n = max(int(round(lookback_s * fs)), self.quiet_n) if self.quiet_n else 0
        self.lookback_limit = lookback_ratio * floor_bias
        #: ... and a potential under ``small_snr`` x its floor peak to peak below ``small_ratio``
        #: x the running floor's power over that stretch (0 turns this off)
        self.small_snr, self.small_limit = small_snr, small_ratio * floor_bias
        #: ... and below ``cluster_ratio`` x that power (lower) when at least ``cluster_min`` other
        #: candidates lie within ``quiet_s`` of it: potentials crowding a step of a walk or the
        #: ramp of a contraction are themselves a sign of activity, and then a smaller excess of
        #: the background between them tells (0: off)
        self.cluster_min = cluster_min
        self.cluster_limit = min(cluster_ratio, quiet_ratio) * floor_bias
        #: phasic voluntary activity (walking): at least ``rhythm_bouts`` separate contractions
        #: (apart by more than ``bout_gap_s``) ended in the ``rhythm_s`` before a potential: it is
        #: one more burst of that activity (0: check off). Contractions only: a train or a busy
        #: background between two brisk movements does not make a rhythm.
        self.rhythm_n, self.rhythm_bouts = int(round(rhythm_s * fs)), rhythm_bouts
        self.bout_gap_n = int(round(bout_gap_s * fs))
        #: the early steps of a walk: ``stride_bouts`` earlier bursts of activity (candidates and
        #: contractions closer than ``bout_gap_s``), each of ``stride_potentials`` or more, at a
        #: steady stride period before the potential's own burst (0: check off)
        self.stride_bouts, self.stride_potentials = stride_bouts, stride_potentials
        self.stride_min, self.stride_max = (round(v * fs) for v in stride_period_s)
        self.stride_regularity = stride_regularity
        self.stride_n = (stride_bouts + 1) * self.stride_max  # how far back the bursts may lie
        #: ... or a stride that skips up to ``stride_missed`` steps between two bursts (steadier:
        #: ``stride_missed_regularity``), anchored by a contraction among the earlier bursts
        self.stride_missed, self.stride_missed_regularity = stride_missed, stride_missed_regularity
        #: how long a contraction is kept: for the rhythm check, and to anchor a stride
        self.contraction_n = max(self.rhythm_n, self.stride_n if stride_bouts and stride_missed else 0, self.idle_n)
        self.pad = max(1, int(round(0.005 * fs)))
        self.blip_max_n = int(round(blip_max_s * fs))
        self.ring_n = ring_s * fs
        #: a waveform that comes back at voluntary intervals, detected or not, is a motor unit
        #: firing mostly below the threshold: matches (normalised correlation >= ``recur_corr``,
        #: size as for a train) from ``recur_s`` before the potential to one slowest interval
        #: after it (0: check off)
        self.recur_corr = recur_corr
        #: ... for potentials below ``recur_max_snr`` x the floor: a unit with larger firings
        #: crosses the threshold at (nearly) every one, and the train of candidates shows it
        self.recur_max_snr = recur_max_snr
        self.recur_back = int(round(recur_s * fs)) if recur_corr else 0
        #: ... and, when the potential's own snippet finds no chain, a template averaged from it and
        #: its best matches (``recur_refine`` or better, away from other candidates;
        #: ``recur_refine_n`` windows in all, 0: not tried) looks once more
        self.recur_refine, self.recur_refine_n = recur_refine, recur_refine_n
        #: the quiet-background check's figures in one array for its compiled call
        self._quiet_figures = np.array([self.lookback_n, self.quiet_n, self.memory, self.rest_n,
                                        REST_PERCENTILE / 100.0, self.isi_max, self.margin, self.ring_n, self.pad,
                                        self.cluster_min, self.quiet_limit, self.lookback_limit, self.cluster_limit,
                                        self.small_snr, self.small_limit, self.isolation_n, self.isolation_snr],
                                       dtype=float)
        self._quiet_out = np.empty(5)  # (its resting level and sums, for the tests)
        self.reset()

    def reset(self) -> None:
        self._held: list[tuple[Event, _Potential | None]] = []
        # twitch candidates per channel in onset order, with their onsets for bisection
        self._recent: list[list[_Potential]] = [[] for _ in range(self.n_channels)]
        self._recent_on: list[list[int]] = [[] for _ in range(self.n_channels)]
        self._inserted = [0] * self.n_channels  # candidates ever added per channel
        #: the latest onset of a potential marked voluntary per channel (``_screen`` needs none
        #: of their marks when this lies more than ``continue_gap`` before its onsets)
        self._voluntary_last: list[float] = [-math.inf] * self.n_channels
        self._spans: list[deque[tuple[int, int]]] = [deque() for _ in range(self.n_channels)]
        self._contractions: list[deque[tuple[int, int]]] = [deque() for _ in range(self.n_channels)]
        #: artifacts per channel (a moving limb; for the shape-only check), those under
        #: ``activity_uv`` left out
        self._artifacts: list[deque[tuple[int, int]]] = [deque() for _ in range(self.n_channels)]
        #: (onset, offset, peak to peak) per channel of the artifacts no longer than ``blip_max_s``
        #: (a twitch's length: a glitch, a potential on a slow swing no larger than itself) and a
        #: potential's size (``BLIP_MIN_SIZE``): the background check cuts them out as it cuts
        #: the candidates. Such a blip is one event, not the steady activity that check looks
        #: for, and a twitch of a run labelled so made its neighbours' background "busy" (0 s:
        #: none kept)
        self._blips: list[deque[tuple[int, int, float]]] = [deque() for _ in range(self.n_channels)]
        self._blip_rows: list[np.ndarray | None] = [None] * self.n_channels  # (their rows, once made)
        #: (onset, offset, potentials) of candidates and contractions per channel, in onset order
        #: (the bursts of activity the stride check groups)
        self._activity: list[list[tuple[int, int, int]]] = [[] for _ in range(self.n_channels)]
        self._signal = SignalRing(self.n_channels) if self._shared is None else self._shared  # recent band-passed signal
        #: what of the ring this stage reads: from ``_kept_from`` (a shared ring may keep more
        #: for others) to ``_fed_end`` (its owner may have appended more)
        self._kept_from, self._fed_end = 0, 0
        self._rest_i: list[int] = []  # absolute grid indices of the floor samples (bisected per twitch)
        self._rest_v = np.zeros((self.n_channels, 0))  # the floor there, per channel
        self._rest_buf, self._rest_at = self._rest_v, 0  # ... a view of this from column _rest_at on
        self._rest_base = 0  # grid positions dropped from the front of _rest_i so far
        self._rest_nan_end = 0  # grid positions before this may hold NaN (a settling floor); none after
        # per channel: the grid positions [a, b) of the last window asked for, its floors sorted
        self._rest_win: list[tuple[int, int, list[float] | None]] = [(0, 0, []) for _ in range(self.n_channels)]
        #: for the compiled check: the grid's indices as an array (from grid position
        #: ``_grid_base`` on, brought up to date when asked) and per channel its candidates as rows
        #: (onset, offset, peak to peak, weak shape-only), with what they were made from
        self._grid, self._grid_base = np.zeros(0, dtype=np.int64), 0
        self._rows: list[tuple[list[_Potential] | None, int, int, np.ndarray]] = [
            (None, 0, 0, np.zeros((0, 4))) for _ in range(self.n_channels)]
        self._rest_guess = np.full(self.n_channels, np.nan)  # its resting levels last time (where it starts looking)

    def feed(self, y: np.ndarray, start: int) -> None:
        """The band-passed samples ``y`` (channels, n) from absolute sample ``start`` on (their
        noise floor comes by ``feed_rest``, ahead of them)."""
        if not (self.quiet_n or self.recur_corr):
            return  # no check reads the signal
        if self._shared is None:
            self._signal.append(y, start)  # a new segment after a gap starts it afresh
        self._fed_end = start + y.shape[1]

    def rest_grid(self, start: int, n: int) -> slice:
        """The offsets in samples ``[start, start + n)`` of the fixed grid of absolute indices the
        floor is sampled on (so the rest level is the same whatever the block sizes)."""
        return slice(-(-start // self.rest_step) * self.rest_step - start, n, self.rest_step)

    def feed_rest(self, start: int, n: int, on_grid: np.ndarray) -> None:
        """The floor (channels, grid points) on ``rest_grid(start, n)`` (NaN: settling), from which
        the rest level comes: the floor itself, or one that drops in every pause of activity
        (``noise.NoiseFloor.rest_at``). Only the grid points before a question count for it, so
        they may come ahead of the samples."""
        if not (self.quiet_n or self.recur_corr):
            return
        first = -(-start // self.rest_step) * self.rest_step
        idx = range(first, start + n, self.rest_step)
        if idx:
            self._rest_i += idx
            n, k = self._rest_v.shape[1], on_grid.shape[1]
            # (a live block's floor or two: Python's test costs a quarter of numpy's call)
            if (np.isnan(on_grid).any() if on_grid.size > 16
                    else any(v != v for row in on_grid.tolist() for v in row)):
                self._rest_nan_end = self._rest_base + n + k
            # _rest_v is a view of a buffer with room after it: a live block's floor is written
            # there instead of the whole grid being copied anew
            buf, at = self._rest_buf, self._rest_at
            if at + n + k > buf.shape[1]:
                buf = self._rest_buf = np.empty((self.n_channels, max(2 * (n + k), 256)))
                buf[:, :n] = self._rest_v
                at = self._rest_at = 0
            buf[:, at + n: at + n + k] = on_grid
            self._rest_v = buf[:, at: at + n + k]

    def rest_floor(self, c: int, at: int) -> float:
        """A low percentile (``REST_PERCENTILE``, the order statistic below it) of channel c's
        noise floor in the ``rest_s`` before sample ``at``: the level of the muscle at rest,
        which the running floor leaves during sustained activity. Asked for in increasing ``at``
        per channel: while the window moves little between questions a sorted copy of it slides;
        when it moves far (or steps back) the order statistic is selected afresh."""
        idx = self._rest_i
        lo = bisect.bisect_left(idx, at - self.rest_n)
        lo -= self._forget_rest(c, at, lo)
        hi = bisect.bisect_right(idx, at, lo)
        lo_abs, hi_abs = lo + self._rest_base, hi + self._rest_base  # positions in the grid ever fed
        win = self._rest_win[c]
        a, b, vals = win
        slide = lo_abs - a + hi_abs - b
        # (a window that moved past its last one shares no floor with it: it is made afresh)
        if lo_abs < a or hi_abs < b or lo_abs > b or a < self._rest_base or vals is None or slide > REST_SLIDE:
            if slide > REST_SLIDE:  # far: one partition costs less than moving that many floors
                self._rest_win[c] = (lo_abs, hi_abs, None)
                select = kernels.rest_select()
                if select is not None:  # the same order statistic, the NaN left out, in one compiled call
                    return select(self._rest_v[c], lo, hi, REST_PERCENTILE / 100.0)
                x = self._rest_v[c, lo:hi]
                if lo_abs < self._rest_nan_end:
                    x = x[x == x]
                if not x.size:
                    return 0.0
                q = int(REST_PERCENTILE / 100.0 * (x.size - 1))
                return float(np.partition(x, q)[q])
            vals = sorted(v for v in self._rest_v[c, lo:hi].tolist() if v == v)
        else:
            row = self._rest_v[c]
            base = self._rest_base
            for v in row[a - base: lo_abs - base].tolist():
                if v == v:
                    del vals[bisect.bisect_left(vals, v)]
            for v in row[b - base: hi_abs - base].tolist():
                if v == v:
                    bisect.insort(vals, v)
        self._rest_win[c] = (lo_abs, hi_abs, vals)
        if not vals:
            return 0.0
        return vals[int(REST_PERCENTILE / 100.0 * (len(vals) - 1))]

    def _forget_rest(self, c: int, at: int, lo: int, slid: bool = True) -> int:
        """Drop the grid's floors long before channel c's window ``[lo, ...)`` for a question at
        ``at`` (now and then, and with ``slid`` not while the channel's last sorted window still
        uses them); returns how many went."""
        idx = self._rest_i
        if not (lo > 256 and idx[lo - 257] < at - self.rest_n - self.memory):
            return 0
        old = bisect.bisect_left(idx, at - self.rest_n - self.memory)
        last = self._rest_win[c][0] - self._rest_base
        if slid and last >= 0:  # not past the start of this channel's last window: it slides on, not rebuilt
            old = min(old, last)
        del idx[:old]
        self._rest_v = self._rest_v[:, old:]
        self._rest_at += old
        self._rest_base += old
        return old

    def _trim(self, horizon: int) -> None:
        self._kept_from = horizon - max(self.lookback_n, self.recur_back)
        self._signal.forget_before(self._kept_from, self._hold)

    def _signal_span(self) -> tuple[int, int]:
        """The samples of the ring this stage may read, ``[start, end)``: what its own ring
        would hold, whoever else shares it."""
        return max(self._signal.start, self._kept_from), min(self._signal.end, self._fed_end)

    def _near(self, c: int, a: int, b: int) -> list[_Potential]:
        """Channel c's candidates with onsets in [a, b]."""
        on = self._recent_on[c]
        return self._recent[c][bisect.bisect_left(on, a): bisect.bisect_right(on, b)]

    def _weak_shape_only(self, pot: _Potential) -> bool:
        """Found by the shape filters alone and small (where the background's tails raise the
        energy thresholds, the filters alone also find large twitches: those are clear)."""
        return bool(self.isolation_n and pot.shape_only and pot.ptp < self.isolation_snr * pot.floor)

    def _not_alone(self, c: int, pot: _Potential) -> bool:
        """A contraction or an artifact on channel c from ``isolation_n`` before the potential
        to one slowest firing interval after it (data its decision waits for)? Other candidates
        do not count: twitches come in runs, small ones too."""
        a, b = pot.onset - self.isolation_n, pot.onset + int(self.isi_max) - 1
        return any(s <= b and e >= a for spans in (self._contractions[c], self._artifacts[c]) for s, e in spans)

    def _busy_background(self, c: int, pot: _Potential) -> bool | str:
        """Is the background around the potential louder than rest (``quiet_n`` either side of
        it, or from ``lookback_n`` before it to ``quiet_n`` after it)? ``SMALL`` when only the
        lower bar for a potential near the detection limit says so (``small_snr``)."""
        kernel = kernels.quiet_background()
        if kernel is not None:
            return self._busy_compiled(kernel, c, pot)
        start, end = self._signal_span()
        onset, offset, quiet_n = pot.onset, pot.offset, self.quiet_n
        lo, hi = max(onset - self.lookback_n, start), min(offset + quiet_n, end)
        near_lo = max(onset - quiet_n, start)
        rest = min(self.rest_floor(c, onset) or pot.floor, pot.floor)
        if hi <= near_lo or not rest > 0:
            return False
        # only candidates that every block size has delivered by now: those starting before the
        # least data any decision waits for (a large offline chunk holds later ones too, a live
        # block not always; one just after the window could mask its end through its pad)
        known = math.ceil(self._wait_until(pot, onset + self.isi_max)) - 1
        top = min(hi + self.memory, known)
        recent = self._near(c, lo - self.memory, top)
        # a candidate's own tail (and the band-pass ringing after it) decays over about
        # ``ring_n`` samples per factor e: leave out as much as it takes to reach the noise. A
        # cut that misses [lo, hi) leaves the sums as they are, so only the ones that reach it
        # are passed on (the others, found by the largest candidate's pad before, cost no log).
        n_y = hi - lo
        two_rest, ring_n, pad0 = 2.0 * rest, self.ring_n, self.pad
        # (a small potential only the shape filters find is part of the background; the short
        # artifacts delivered as surely are cut as the candidates are)
        spans = [(p.onset, p.offset, p.ptp) for p in recent
                 if not (p.shape_only and p is not pot and self._weak_shape_only(p))]
        spans += [blip for blip in self._blips[c] if lo - self.memory <= blip[0] <= top]
        cuts: list[int] = []
        for on, off, ptp in spans:
            r = ptp / two_rest
            pad = pad0 + int(ring_n * math.log(r)) if r > 1.0 else pad0  # log(max(1, r))
            a, b = on - pad - lo, off + pad - lo
            if b > 0 and a < n_y:
                cuts += (a, b)
        y = self._signal.window(lo, hi)[0][c]
        k = near_lo - lo  # the near window is [k:]
        n, near_sum, n_far, far_sum = self._background_sums(y, cuts, k)
        if n < quiet_n // 2:
            return False  # the neighbourhood is candidates, not background
        rest2 = rest * rest
        limit, lookback = self.quiet_limit, self.lookback_limit
        if self.cluster_min and len(self._near(c, onset - quiet_n, onset + quiet_n)) > self.cluster_min:
            limit = self.cluster_limit  # candidates crowd around it: less excess power suffices
        if self._weak_shape_only(pot):  # that small, it must stand on a background at rest
            limit, lookback = min(limit, self.cluster_limit), min(lookback, self.cluster_limit)
        if near_sum > limit * rest2 * n:
            return True
        if k <= 0:
            return False
        n_all = n + n_far
        total = near_sum + far_sum
        if total > lookback * rest2 * n_all:
            return True
        if pot.ptp < self.small_snr * pot.floor and total > self.small_limit * pot.floor * pot.floor * n_all:
            return SMALL
        return False

    def _compiled_inputs(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The floor grid's indices as an array and channel c's candidates as rows (onset,
        offset, peak to peak, weak shape-only) for the compiled check, brought up to date."""
        idx = self._rest_i
        grid = self._grid
        if self._grid_base != self._rest_base:  # floors dropped from the front since
            grid = self._grid = grid[self._rest_base - self._grid_base:]
            self._grid_base = self._rest_base
        if grid.size != len(idx):  # floors fed since
            grid = self._grid = np.concatenate([grid, np.array(idx[grid.size:], dtype=np.int64)])
        rec = self._recent[c]
        made, n, ins, rows = self._rows[c]
        if made is not rec or n != len(rec) or ins != self._inserted[c]:
            iso, snr = self.isolation_n, self.isolation_snr
            rows = _columns([p.onset for p in rec], [p.offset for p in rec], [p.ptp for p in rec],
                            [bool(iso and p.shape_only and p.ptp < snr * p.floor) for p in rec])
            self._rows[c] = (rec, len(rec), self._inserted[c], rows)
        return grid, rows

    def _blips_as_rows(self, c: int) -> np.ndarray:
        """Channel c's short artifacts as rows (onset, offset, peak to peak) for the compiled
        check, made again only after the list changed."""
        rows = self._blip_rows[c]
        if rows is None:
            blips = self._blips[c]
            rows = self._blip_rows[c] = (_columns(*map(list, zip(*blips))) if blips else _NO_BLIPS)
        return rows

    def _own_row(self, c: int, pot: _Potential) -> int:
        """The potential's row among channel c's candidates when only its shape found it (its
        own row is not left out as a weak one), else -1."""
        if not pot.shape_only:
            return -1
        rec = self._recent[c]
        own = bisect.bisect_left(self._recent_on[c], pot.onset)
        while own < len(rec) and rec[own] is not pot:
            own += 1
        return own

    def _busy_compiled(self, kernel: Callable[..., tuple[int, int, int]], c: int, pot: _Potential) -> bool | str:
        """``_busy_background`` in one compiled call (dsp/kernels.py ``_quiet_background_py``),
        the resting level included (its grid's old floors dropped as ``rest_floor`` drops them;
        no sorted window is kept, so none bounds that), or its answer worked out ahead with
        the block's other potentials (``_check_ahead``)."""
        ahead = self._ahead_answer(pot)
        if ahead is not None:
            busy, lo = ahead
        else:
            grid, rows = self._compiled_inputs(c)
            ys, y0 = self._signal.kept()
            busy, lo, _ = kernel(ys, c, y0, self._kept_from, self._fed_end, grid, self._rest_v[c], rows,
                                 self._blips_as_rows(c), self._own_row(c, pot), pot.onset, pot.offset, pot.ptp, pot.floor, pot.shape_only,
                                 self._quiet_figures, self._rest_guess, self._quiet_out, np.full(6, np.nan))
        if lo > 256:
            self._forget_rest(c, pot.onset, lo, slid=False)
        return (False, True, SMALL)[busy]

    def _ahead_answer(self, pot: _Potential) -> tuple[int, int] | None:
        """``_check_ahead``'s answer for the potential (the kernel's code and the first grid
        position it read, relative to the grid kept now), None when it has none."""
        code = pot.ahead
        return None if code < 0 else (code, pot.ahead_lo - self._rest_base)

    def _at_rest_ahead(self, c: int, pot: _Potential) -> bool:
        """Did ``_check_ahead`` find the background around a screened potential at rest? Then its
        decision is "" (``_background``'s), the rest grid trimmed as ``_busy_compiled`` trims it."""
        ahead = self._ahead_answer(pot)
        if ahead is None or ahead[0] != 0:
            return False
        lo = ahead[1]
        if lo > 256:
            self._forget_rest(c, pot.onset, lo, slid=False)
        return True

    def _held_by_channel(self) -> dict[int, tuple[list[int], list[_Potential], np.ndarray]]:
        """The held potentials per channel: their places in ``_held``, themselves, and their
        figures as rows (onset, offset, peak to peak, floor, shape-only)."""
        places: dict[int, tuple[list[int], list[_Potential]]] = {}
        for i, (e, pot) in enumerate(self._held):
            if pot is not None:
                got = places.get(e.channel)
                if got is None:  # (setdefault would make two lists and a tuple a potential)
                    got = places[e.channel] = ([], [])
                got[0].append(i)
                got[1].append(pot)
        return {c: (idx, pots, _columns([p.onset for p in pots], [p.offset for p in pots], [p.ptp for p in pots],
                                         [p.floor for p in pots], [p.shape_only for p in pots]))
                for c, (idx, pots) in places.items()}

    def _check_ahead(self, batch: Callable[..., None],
                     groups: dict[int, tuple[list[int], list[_Potential], np.ndarray]]) -> None:
        """The quiet-background answers of every held potential (``groups``: by channel) in one
        compiled call per channel, before the block's decisions: nothing they change enters the
        check (the signal, the floors and the candidates stay as they are until the block is
        done), so each answer is the one its decision would get; those not asked for go unused."""
        ys, y0 = self._signal.kept()
        base = self._rest_base
        for c, (_, pots, figures) in groups.items():
            grid, rows = self._compiled_inputs(c)
            owns = np.array([self._own_row(c, p) if p.shape_only else -1 for p in pots],  # (-1 without the call)
                            dtype=np.int64)
            codes, los = np.empty(len(pots), dtype=np.int64), np.empty(len(pots), dtype=np.int64)
            batch(ys, c, y0, self._kept_from, self._fed_end, grid, self._rest_v[c], rows, self._blips_as_rows(c), owns, figures,
                  self._quiet_figures, self._rest_guess, self._quiet_out, codes, los)
            for p, code, lo in zip(pots, codes.tolist(), (los + base).tolist()):
                p.ahead, p.ahead_lo = code, lo

    def _screen(self, groups: dict[int, tuple[list[int], list[_Potential], np.ndarray]], until: int,
                final: bool) -> list[bool]:
        """Per held potential (in ``_held``'s order), whether ``_verdict`` would come, with the
        state as it is before the block's decisions, to its background check: decided now,
        no neighbour close enough for likeness (``_alike_near``'s reach; no voluntary one within
        ``continue_gap`` before it), and ``_context``'s checks before the background's all no.
        Worked out per channel as arrays (at a steady twitching, most decisions), each test
        the scalar one's on the same integers and floats; one that cannot be settled so goes
        the scalar way. A decision that changes a channel's state ends its screen's use."""
        held = self._held
        out = [False] * len(held)
        if self.min_len <= 1:
            return out
        for c, (idx, pots, fig) in groups.items():
            if len(pots) < self.screen_min:
                continue  # (a few: the scalar way costs less than the arrays)
            if self.rhythm_n and len(self._contractions[c]) >= self.rhythm_bouts:
                continue  # (the rhythm check then counts bouts: the scalar way)
            on = fig[:, 0].astype(np.int64)
            ok = np.array([p.seen < 0 for p in pots])  # never held back yet (a kept horizon is the scalar way's)
            if not final:  # _wait_until(pot, onset + isi_max)
                need = np.maximum(on + self.isi_max, on + self.margin)
                if self.quiet_n:
                    need = np.maximum(need, fig[:, 1] + self.quiet_n)
                ok &= until > need  # (a burst may still start at ``until`` itself)
            # alone within likeness_reach (|d| <= reach for integer d: |d| <= floor(reach))
            rec = np.array(self._recent_on[c], dtype=np.int64)
            reach = math.floor(self.likeness_reach)
            ok &= np.searchsorted(rec, on + reach, "right") - np.searchsorted(rec, on - reach, "left") == 1
            gap = math.floor(self.continue_gap)
            vol = (np.array([p.voluntary for p in self._recent[c]], dtype=bool)
                   if on.size and self._voluntary_last[c] >= on.min() - gap else None)  # (else none can be that close)
            if vol is not None and vol.any():  # none voluntary 0 < onset - p.onset <= continue_gap before it
                n_vol = np.concatenate([[0], np.cumsum(vol)])
                ok &= n_vol[np.searchsorted(rec, on - 1, "right")] == n_vol[np.searchsorted(rec, on - gap, "left")]
            spans = self._spans[c]
            if spans:  # no span within the margins (an edge)
                sp = np.array(spans)
                ok &= ~(((sp[:, 0] - self.margin)[None, :] <= on[:, None])
                        & (on[:, None] <= (sp[:, 1] + self.margin_after)[None, :])).any(axis=1)
            if self.stride_bouts:
                ok &= self._no_stride(c, on)
            if self.isolation_n:  # not a weak shape-only one
                ok &= ~((fig[:, 4] != 0) & (fig[:, 2] < self.isolation_snr * fig[:, 3]))
            if self.recur_corr:  # too large for the recurrence check
                ok &= ~(fig[:, 2] < self.recur_max_snr * fig[:, 3])
            for i, v in zip(idx, ok.tolist()):
                out[i] = v
        return out

    def _no_stride(self, c: int, on: np.ndarray) -> np.ndarray:
        """Where ``_in_stride(c, at)`` is surely False for the onsets ``on``: its early exits (too
        few entries or potentials; ``_own_bouts_small``, the entries before the last two judged
        by the largest end of every entry up to them, which is no smaller than theirs)."""
        act = self._activity[c]
        if not act:
            return np.ones(on.size, dtype=bool)
        # (onset, offset, potentials) rows: from the flat numbers, ~0.25 us a row less than from the tuples
        a = np.fromiter(chain.from_iterable(act), dtype=np.int64, count=3 * len(act)).reshape(-1, 3)
        lo = np.searchsorted(a[:, 0], on - self.stride_n, "left")
        hi = np.searchsorted(a[:, 0], on, "right")
        n_bouts, least, gap = self.stride_bouts, self.stride_potentials, self.bout_gap_n
        k_sum = np.concatenate([[0], np.cumsum(a[:, 2])])
        few = (hi - lo <= n_bouts) | ((hi - lo <= n_bouts * least) & (k_sum[hi] - k_sum[lo] <= n_bouts * least))
        last, before = np.maximum(hi - 1, 0), np.maximum(hi - 2, 0)
        ends = np.maximum.accumulate(a[:, 1])
        small = ((hi - lo >= 2) & (a[before, 2] < least) & (a[last, 0] - a[before, 1] > gap)
                 & ((hi - 2 == lo) | (a[before, 0] - ends[np.maximum(hi - 3, 0)] > gap)))
        return few | small

    @staticmethod
    def _background_sums(y: np.ndarray, cuts: list[int], k: int) -> tuple[int, float, int, float]:
        """Over ``y`` less the spans ``[cuts[2i], cuts[2i+1])``: the count and sum of squares from
        ``k`` on, and before it. Each sum adds the kept squares in order (``np.add.accumulate``),
        so the compiled pass (dsp/kernels.py) gives the same bits."""
        kernel = kernels.background_sums()
        if kernel is not None:
            return kernel(y, np.array(cuts, dtype=np.int64), k)
        keep = np.ones(y.shape[0], bool)
        for a, b in zip(cuts[::2], cuts[1::2]):
            if a < b:
                keep[max(a, 0): max(b, 0)] = False
        y2 = y * y
        near, far = y2[k:][keep[k:]], y2[:k][keep[:k]]
        return (near.size, float(np.add.accumulate(near)[-1]) if near.size else 0.0,
                far.size, float(np.add.accumulate(far)[-1]) if far.size else 0.0)

    def _bouts_before(self, c: int, at: int) -> int:
        """Separate contractions on channel c (closer than ``bout_gap_n`` is one) that ended in
        the ``rhythm_n`` samples before ``at``."""
        spans = sorted((a, b, 1) for a, b in self._contractions[c] if at - self.rhythm_n <= b < at)
        return len(bouts_of(spans, self.bout_gap_n))

    def _in_stride(self, c: int, at: int) -> bool:
        """Is the burst of activity that channel c's potential at ``at`` belongs to (judged from
        the potentials up to it, so the same for any block sizes) the latest of
        ``stride_bouts`` + 1 bursts at a steady stride, the earlier ones of at least
        ``stride_potentials`` potentials each? Or at a steadier stride that skips steps too weak
        to show (``_skips_steps``), when a contraction lies among the earlier bursts: a walk's
        weak steps come between its stronger ones, while a night of fasciculations, whose random
        times fit such a lattice now and then, has no contraction to anchor it."""
        act = self._activity[c]
        lo = bisect.bisect_left(act, at - self.stride_n, key=_ONSET)  # (as by (onset,): ints compare faster)
        hi = bisect.bisect_right(act, at, key=_ONSET)  # (as by (at, inf))
        n_bouts, least = self.stride_bouts, self.stride_potentials
        # a stride needs n_bouts earlier bursts of >= least potentials and one more of at least
        # one (every entry counts one or more): too few potentials in all settle it unseen
        if hi - lo <= n_bouts or (hi - lo <= n_bouts * least
                                  and sum(k for _, _, k in act[lo:hi]) <= n_bouts * least):
            return False
        if self._own_bouts_small(act, lo, hi, least):
            return False
        bouts = bouts_of(act[lo:hi], self.bout_gap_n)
        if len(bouts) <= n_bouts:
            return False
        last = bouts[-n_bouts - 1:]
        if any(k < least for _, _, k in last[:-1]):
            return False
        periods = [b[0] - a[0] for a, b in zip(last, last[1:])]
        if self._steady(periods, self.stride_regularity):
            return True
        return (self.stride_missed > 0 and max(periods) >= 2 * self.stride_min  # (else no step hides in any period)
                and self._contracted(c, last[0][0], last[-2][1]) and self._skips_steps(periods))

    def _steady(self, strides: list, regularity: float) -> bool:
        """Is every stride within the stride range, the longest at most ``regularity`` x the
        shortest?"""
        shortest, longest = min(strides), max(strides)
        return self.stride_min <= shortest and longest <= self.stride_max and longest <= regularity * shortest

    def _contracted(self, c: int, a: int, b: int) -> bool:
        """Does a contraction on channel c overlap ``[a, b]`` (the earlier bursts of a stride
        that skips steps; the stretch before a pair)?"""
        return any(s <= b and e >= a for s, e in self._contractions[c])

    def _skips_steps(self, periods: list[int]) -> bool:
        """Are ``periods`` whole numbers of one steady stride, each one to ``stride_missed`` + 1
        of them: some count of strides for each, every stride (period over its count) within the
        stride range and the longest at most ``stride_missed_regularity`` x the shortest?"""
        return any(self._steady([p / k for p, k in zip(periods, counts)], self.stride_missed_regularity)
                   for counts in product(range(1, self.stride_missed + 2), repeat=len(periods)))

    def _own_bouts_small(self, act: list[tuple[int, int, int]], lo: int, hi: int, least: int) -> bool:
        """Are the last two of ``act[lo:hi]`` (at least two) bouts of their own (``bouts_of``), the
        one before the last of fewer than ``least`` potentials? Then the burst before the
        potential's own is too small for a stride. At a steady twitching nearly every check ends
        here, without the bouts (the second to last starts one when it begins more than the
        bout gap after every earlier entry's end; the last when it begins that long after its end)."""
        start, end, k = act[hi - 2]
        gap = self.bout_gap_n
        if k >= least or act[hi - 1][0] - end <= gap:
            return False
        return hi - 2 == lo or start - max(map(_OFFSET, act[lo: hi - 2])) > gap

    def held_from(self, until: int) -> int:
        """No event released later starts before this sample."""
        return min([until] + [e.onset_sample for e, _ in self._held]) if self._held else until

    def process(self, pairs: list[tuple[Burst, Event]], until: int, final: bool) -> list[Event]:
        """``until``: no later burst starts before this sample; ``final``: the data stopped."""
        if not pairs and not self._held:  # a quiet block: the candidate lists wait for the next
            self._trim(until - self.memory)  # trim (what they keep beyond it is never looked at)
            return []
        held = self._held
        was = len(held)
        self._take(pairs)
        if 0 < was < len(held) and held[was][0].onset_sample < held[was - 1][0].onset_sample:
            held.sort(key=lambda p: p[0].onset_sample)  # (else the held ones, then the new ones, are in order)
        screened: list[bool] | None = None
        batch = kernels.quiet_backgrounds() if self.quiet_n and len(self._held) > 1 else None
        if batch is not None or len(self._held) >= self.screen_min:  # (a live block's few: decided as they come)
            groups = self._held_by_channel()
            if batch is not None:
                self._check_ahead(batch, groups)
            screened = self._screen(groups, until, final)
        changed: set[int] = set()  # channels whose state a decision of this block changed
        out: list[Event] = []
        for i, (e, pot) in enumerate(self._held):  # (the released ones dropped at once after: none of the decisions reads them)
            if pot is not None:
                c = e.channel
                sure = screened is not None and screened[i] and c not in changed
                verdict: str | None
                if sure and self._at_rest_ahead(c, pot):
                    verdict = ""  # _decide's answer, without its four calls to the check's
                else:
                    verdict = self._decide(c, pot, until, final, sure)
                if verdict is None:
                    break
                if verdict:
                    changed.add(c)
                    e = evolve(e, kind="contraction", reason=verdict)
                    if self.stride_bouts and verdict is not SHAPE_ONLY:
                        self._count_as_burst(c, pot)
            out.append(e)
        del self._held[:len(out)]
        for _, pot in self._held:  # (an answer holds for its block only)
            if pot is not None:
                pot.ahead = -1
        horizon = self.held_from(until) - self.memory  # nothing older is looked at again
        for c in range(self.n_channels):
            k = bisect.bisect_left(self._recent_on[c], horizon)
            if k:
                del self._recent[c][:k], self._recent_on[c][:k]
            spans = self._spans[c]
            while spans and spans[0][1] < horizon:
                spans.popleft()
            bouts = self._contractions[c]
            while bouts and bouts[0][1] < horizon - self.contraction_n:
                bouts.popleft()
            arts = self._artifacts[c]
            while arts and arts[0][1] < horizon:
                arts.popleft()
            blips = self._blips[c]
            if blips and blips[0][1] < horizon:
                while blips and blips[0][1] < horizon:
                    blips.popleft()
                self._blip_rows[c] = None
            act = self._activity[c]
            if act and act[0][0] < horizon - self.stride_n:
                del act[:bisect.bisect_left(act, (horizon - self.stride_n,))]
        self._trim(horizon)
        return out

    def _take(self, pairs: list[tuple[Burst, Event]]) -> None:
        """The block's bursts into the channels' lists and ``_held``, in onset order, each event's
        fields read once (at one twitch after another, the reads are a good part of this loop)."""
        held, activity, stride = self._held, self._activity, self.stride_bouts
        for b, e in _by_onset(pairs):
            kind, c, on, off = e.kind, e.channel, e.onset_sample, e.offset_sample
            if kind == "contraction":
                self._spans[c].append((on, off))
                self._contractions[c].append((on, off))
            elif kind == "artifact":
                ptp, lf = e.peak_to_peak_uv, b.lf_ptp_uv
                if not (ptp < self.activity_uv and lf < self.activity_uv):
                    self._artifacts[c].append((on, off))
                if off - on <= self.blip_max_n and lf <= ptp and ptp >= max(self.activity_uv, BLIP_MIN_SIZE * b.floor_uv):
                    self._blips[c].append((on, off, ptp))
                    self._blip_rows[c] = None
            if stride and kind in ("twitch", "contraction"):
                # a contraction is a full burst of activity on its own
                entry, act = (on, off, self.stride_potentials if kind == "contraction" else 1), activity[c]
                if act and entry < act[-1]:
                    bisect.insort(act, entry)
                else:  # (where insort puts one that sorts last)
                    act.append(entry)
            pot = None
            if kind == "twitch" and b.snippet is not None:
                signal = self._signal_share(b)
                pot = _Potential(on, e.peak_to_peak_uv, b.snippet, off, b.floor_uv, b.shape_only,
                                 self._share_from(signal), signal)
                rec_on = self._recent_on[c]
                k = bisect.bisect_right(rec_on, on)
                rec_on.insert(k, on)
                self._recent[c].insert(k, pot)
                self._inserted[c] += 1
            held.append((e, pot))

    def _count_as_burst(self, c: int, pot: _Potential) -> None:
        """A potential judged voluntary is a full burst of activity for the stride check, as a
        contraction is: the weak step of a walk may show a single potential, on a busy
        background or firing on a unit's rhythm. (Potentials are decided in onset order, so a
        later one's check sees this whatever the block sizes.)"""
        act = self._activity[c]
        i = bisect.bisect_left(act, (pot.onset, pot.offset, 1))
        if i < len(act) and act[i] == (pot.onset, pot.offset, 1):
            act[i] = (pot.onset, pot.offset, self.stride_potentials)

    def _decide(self, c: int, pot: _Potential, until: int, final: bool, screened: bool = False) -> str | None:
        """Why the potential is voluntary, "" when it is not, None: wait for more data.
        ``screened``: ``_screen`` found every check before the background's settled (no)."""
        why = self._background(c, pot) if screened else self._verdict(c, pot, until, final)
        if why and why not in (EDGE, SHAPE_ONLY):  # only the rules that saw a unit's firing
            pot.voluntary = True
            self._voluntary_last[c] = max(self._voluntary_last[c], pot.onset)
        return why

    def _verdict(self, c: int, pot: _Potential, until: int, final: bool) -> str | None:
        if not final and until <= pot.need and pot.seen == self._inserted[c]:
            return None  # still waiting, and no candidate arrived that could move the horizon
        on_c = self._recent_on[c]  # (``_near``, counted before it is sliced)
        first, stop = bisect.bisect_left(on_c, pot.onset - self.memory), bisect.bisect_right(on_c, pot.onset + self.memory)
        alike = self._alike_near(c, pot, first, stop) if stop - first > 1 else []
        if not alike and self.min_len > 1:
            # alone, or no neighbour like it: no train, pair or unit firing on (the steps below
            # would wait for the same data and come to ``_context``)
            need = self._wait_until(pot, pot.onset + self.isi_max, c)
            if not final and until <= need:  # (``until``: bursts starting before it have come; one may start at it)
                pot.need, pot.seen = need, self._inserted[c]
                return None
            return self._context(c, pot)
        horizon = self._train_horizon(pot, alike)
        need = self._wait_until(pot, horizon, c)
        if not final and until <= need:
            pot.need, pot.seen = need, self._inserted[c]
            return None  # a potential that would change the answer may still come
        alike = [(p, r) for p, r in alike if p.onset <= horizon]
        times = sorted({pot.onset, *(p.onset for p, _ in alike)})
        k = times.index(pot.onset)
        span = regular_chain(times, k, self.isi_min, self.isi_max, self.regularity, self.min_len)
        if span is not None and self.train_unmixed and not self._active_lately(c, pot):
            members = [p for p, _ in alike if span[0] <= p.onset <= span[1]]
            # the shortest train at rest, beside a larger potential of another size: three chance
            # look-alikes of a run of fasciculations, not a unit that has just started firing
            if len(members) + 1 == self.min_len and self._larger_other_near(c, pot, members, *span, horizon):
                span = None
        if span is not None:
            self._spans[c].append(span)
            return "regular firing of one motor unit (similar potentials at a voluntary rate)"
        if self.pair_ratio and self._active_lately(c, pot) and any(
                self.isi_min <= abs(p.onset - pot.onset) <= self.isi_max
                and self._same_size(p, pot, self.pair_ratio) and r >= self._corr_needed(p, pot, self.pair_corr, shares=False)
                and not (self.pair_unmixed and self._pair_mixed(c, pot, p, alike, horizon))
                for p, r in alike):
            self._spans[c].append((pot.onset, pot.onset))
            return "the same motor unit fired again at a voluntary interval"
        if any(p.voluntary and 0 < pot.onset - p.onset <= self.continue_gap for p, _ in alike):
            # a unit already seen firing voluntarily, after firings too small to detect
            self._spans[c].append((pot.onset, pot.onset))
            return "a voluntary motor unit firing on (its last firings were too small to see)"
        return self._context(c, pot)

    def _alike_near(self, c: int, pot: _Potential, first: int, stop: int) -> list[tuple[_Potential, float]]:
        """The ``(p, r)`` of channel c's candidates ``first:stop`` like the potential: its size and
        a correlation ``r`` at or above ``_corr_needed`` (the same unit again is stricter), worked
        out once per decision; none when no neighbour of its size is within ``likeness_reach``
        nor a voluntary one within ``continue_gap`` before it: no train, pair or continued firing
        can then include it (at a steady twitch every half second, most decisions: the
        correlations cost most). Those close enough are found first (a bisection, a sample wider
        either way) and only they are sized up for that."""
        reach, on, gap = self.likeness_reach, pot.onset, self.continue_gap
        on_c, near = self._recent_on[c], self._recent[c]
        lo = bisect.bisect_left(on_c, on - max(reach, gap) - 1, first, stop)
        hi = bisect.bisect_right(on_c, on + reach + 1, lo, stop)
        close = [p for p in near[lo:hi] if -reach <= p.onset - on <= reach or (p.voluntary and 0 < on - p.onset <= gap)]
        if not self._sized_like(pot, close, self.size_ratio):
            return []
        others = self._sized_like(pot, near[first:stop], self.size_ratio)
        alike = self._alike(pot, others, best_correlations([p.snippet for p in others], pot.snippet))
        if alike and self.shape_noise and not self._active_lately(c, pot):
            # at rest, a run of twitches offers look-alikes: of two potentials that differ by more
            # than their noise, beside a larger potential of another size, neither is the other's unit
            known = pot.onset + self.isi_max - 1  # (every decision on it waits for this data)
            alike = [(p, r) for p, r in alike if self._same_waveform(pot, p, r) or not self._larger_other_near(
                c, pot if pot.ptp >= p.ptp else p, [pot, p], min(pot.onset, p.onset), max(pot.onset, p.onset), known)]
        return alike

    def _active_lately(self, c: int, pot: _Potential) -> bool:
        """Has channel c contracted lately: a contraction begun before the potential and ended
        no more than ``idle_n`` before it (always, with ``idle_n`` 0)? Two like firings are
        taken for one unit only there. In a muscle at rest, two alike potentials at a voluntary
        interval are as often two twitches of a run (whose random shapes and sizes now and then
        agree) as a unit's first firings, and the train rules judge the unit by its third. For
        the same reason a verdict from a waveform's recurrence or a busy background spreads as
        an edge only there: at rest it falls as often on one member of a run (the others are its
        background) as on a unit's first firing, and as an edge it took the rest of the run."""
        return not self.idle_n or self._contracted(c, pot.onset - self.idle_n, pot.onset)

    def _larger_other_near(self, c: int, pot: _Potential, firings: list[_Potential], first: float, last: float,
                           horizon: float) -> bool:
        """A larger potential of another size than ``pot`` (a train's size bar; weak shape-only
        ones are background), not one of ``firings``, within one slowest interval of
        ``first``..``last``: recruitment goes by size, so a unit that starts firing voluntarily
        has smaller units around it, not a larger one firing alone, while a run of
        fasciculations mixes sizes at random. Only candidates up to the decision's horizon count
        (every block size has delivered them)."""
        lo = math.ceil(first - self.isi_max)
        hi = math.floor(min(last + self.isi_max, horizon))
        return any(q.ptp > pot.ptp and all(q is not f for f in firings) and not self._weak_shape_only(q)
                   and not self._same_size(q, pot, self.size_ratio) for q in self._near(c, lo, hi))

    def _pair_mixed(self, c: int, pot: _Potential, p: _Potential, alike: list[tuple[_Potential, float]],
                    horizon: float) -> bool:
        """Is the pair ``pot``, ``p`` part of a run of mixed potentials rather than one unit's
        firings (``_larger_other_near``), with no third potential like ``pot`` within a train's
        reach?"""
        if sum(abs(q.onset - pot.onset) <= self.likeness_reach for q, _ in alike) >= self.min_len - 1:
            return False  # the unit is seen a third time: the train rules judge it
        return self._larger_other_near(c, pot, [p], min(pot.onset, p.onset), max(pot.onset, p.onset), horizon)

    def _signal_share(self, b: Burst) -> float:
        """The signal's share of the burst's snippet energy (the rest is noise at the floor), as
        measured; NaN when the floor or the snippet is not known."""
        snip, floor, norm = b.snippet, b.floor_uv, b.snippet_norm
        if snip is None or not (norm > 0 and floor > 0):
            return math.nan
        return 1.0 - snip.size * self.noise_power * floor * floor / (norm * norm)

    def _same_waveform(self, a: _Potential, b: _Potential, r: float) -> bool:
        """Is the correlation ``r`` of two potentials' snippets what one waveform under their
        noise gives? Noise leaves two firings of one unit correlated about sqrt(s1 s2) (each s a
        snippet's signal share); ``r`` may fall short of that by ``shape_noise`` x the noise's
        part, 1 - sqrt(s1 s2), taken as at least ``SHAPE_NOISE_LEAST``. True when a share is
        not known."""
        sa, sb = a.signal, b.signal
        if not (sa > 0.0 and sb > 0.0):  # (NaN too)
            return True
        e = math.sqrt(sa * sb)
        noise = 1.0 - e
        return r >= e - self.shape_noise * (noise if noise > SHAPE_NOISE_LEAST else SHAPE_NOISE_LEAST)

    def _share(self, b: Burst) -> float:
        """The signal's share of the burst's snippet energy (the rest is noise at the floor),
        at least ``share_least``; 1 (nothing lowered) when the floor is not known."""
        return self._share_from(self._signal_share(b))

    def _share_from(self, signal: float) -> float:
        """``_share`` of a measured share ``signal`` (NaN: not known)."""
        least = self.share_least
        if least >= 1.0 or signal != signal:
            return 1.0
        return signal if signal > least else least  # max(least, share), without the call

    def _corr_needed(self, a: _Potential, b: _Potential, least: float, shares: bool = True) -> float:
        """The correlation two potentials need to count as one unit's firings: what noise alone
        leaves of identical waveforms, 1 - ``corr_noise`` / SNR^2 at the noisier one's SNR
        (peak to peak over the floor), but never below ``least`` (lowered by the noise in
        both snippets: ``least`` x the root of their signal shares)."""
        if shares and (a.share < 1.0 or b.share < 1.0):
            least *= math.sqrt(a.share * b.share)
        if not self.corr_noise or not (a.floor > 0 and b.floor > 0):
            return least
        snr = min(a.ptp / a.floor, b.ptp / b.floor)
        return max(least, 1.0 - self.corr_noise / (snr * snr)) if snr * snr > 0 else least

    def _sized_like(self, pot: _Potential, near: list[_Potential], ratio: float) -> list[_Potential]:
        """The potentials of ``near`` other than ``pot`` of its size: ``same_size(p, pot, ...)``
        written out (the hot path's commonest test, one per neighbour per decision), with its
        ``min``/``max`` as the same comparisons, so every operand and operation is the same."""
        noise, least = self.size_noise, self.size_least
        q, qf = pot.ptp, pot.floor
        narrowed = noise > 0.0
        out = []
        for p in near:
            if p is pot:
                continue
            a = p.ptp
            lo = q if q < a else a  # min(a, q)
            hi = q if q > a else a  # max(a, q)
            pf = p.floor
            fl = qf if qf > pf else pf  # max(pf, qf)
            if narrowed and lo > 0.0 and fl > 0.0:  # size_ratio_allowed
                x = 1.0 + noise * fl / lo
                m = x if x < ratio else ratio  # min(ratio, x)
                allowed = m if m > least else least  # max(least, m)
            else:
                allowed = ratio
            if hi <= allowed * lo:
                out.append(p)
        return out

    def _alike(self, pot: _Potential, others: list[_Potential], corrs: list[float]) -> list[tuple[_Potential, float]]:
        """The ``(p, r)`` of ``others`` with their correlations ``corrs`` at or above
        ``_corr_needed(p, pot, min_corr)``, written out like ``_sized_like`` (the same
        operations on the same operands, without a call per neighbour)."""
        cn, base = self.corr_noise, self.min_corr
        qs, qf = pot.share, pot.floor
        q_snr = pot.ptp / qf if qf > 0 else 0.0
        out = []
        for p, r in zip(others, corrs):
            least = base
            ps = p.share
            if ps < 1.0 or qs < 1.0:
                least *= math.sqrt(ps * qs)
            need = least
            pf = p.floor
            if cn and pf > 0 and qf > 0:
                s = p.ptp / pf
                snr = q_snr if q_snr < s else s  # min(s, q_snr)
                if snr * snr > 0:  # (not snr > 0: a tiny snr's square underflows to 0)
                    m = 1.0 - cn / (snr * snr)
                    need = m if m > least else least  # max(least, m)
            if r >= need:
                out.append((p, r))
        return out

    def _same_size(self, a: _Potential, b: _Potential, ratio: float) -> bool:
        return same_size(a, b, ratio, self.size_noise, self.size_least)

    def _train_horizon(self, pot: _Potential, alike: list[tuple[_Potential, float]]) -> float:
        """How far the train checks of ``pot``'s decision look ahead, set by the data alone (so
        the same for any block sizes): one slowest interval, extended by each like potential
        (``alike``) inside it, up to the length of a minimal train."""
        horizon, cap = pot.onset + self.isi_max, pot.onset + self.isi_max * (self.min_len - 1)
        for t in sorted(p.onset for p, _ in alike if p.onset > pot.onset):
            if t > horizon:
                break
            horizon = min(max(horizon, t + self.isi_max), cap)
        return horizon

    def _wait_until(self, pot: _Potential, horizon: float, c: int = -1) -> float:
        """The data a decision needs: up to the train horizon, the look-ahead margin for a
        contraction's onset (``_margin_before`` on channel ``c``; without ``c``, the least any
        decision waits for) and the quiet window after the potential. The decision comes once
        ``until`` is past it: a burst may still start at ``until`` itself, and one starting
        right at the margin's end makes an edge (a live block that ended there decided without it)."""
        before = self.margin if c < 0 else self._margin_before(c, pot)
        return max(horizon, pot.onset + before, pot.offset + self.quiet_n if self.quiet_n else 0)

    def _unit_ahead(self, c: int, pot: _Potential, before: int) -> str:
        """Does a candidate within ``before`` after the potential (one it waited for) fire in a
        regular train of the potential's own unit (the potential alike to it), the train checked
        as that candidate's own decision will check it, without the potential? Decisions go in
        onset order, so a crowded potential is decided before the potentials after it and cannot
        read their verdicts: a unit's first firings, too noisy to pass the pair rule's bar, are
        seen as its firings only once its train has been recognised. A train of another unit
        takes the potential only when it starts within the margin after it (``ahead_any``): the
        edge of that activity, which the potential's decision comes too early to see; one
        further on, such as chance look-alikes later in a run of fasciculations, does not.
        The verdict (``UNIT_AHEAD``, ``ONSET_AHEAD``), "" for none."""
        on_c, near = self._recent_on[c], self._recent[c]
        i = bisect.bisect_right(on_c, pot.onset)
        known = pot.onset + before  # the data the potential waited for
        reach = self.isi_max * (self.min_len - 1)
        while i < len(on_c) and on_c[i] + reach <= known:
            p = near[i]
            i += 1
            first, stop = bisect.bisect_left(on_c, p.onset - self.memory), bisect.bisect_right(on_c, p.onset + self.memory)
            alike = self._alike_near(c, p, first, stop) if stop - first > 1 else []
            own = any(q is pot for q, _ in alike)
            if not own and not (self.ahead_any and p.onset - pot.onset <= self.margin):
                continue  # another unit's firing, beyond the margin: not this potential's activity
            horizon = self._train_horizon(p, alike)
            times = sorted({p.onset, *(q.onset for q, _ in alike if q.onset <= horizon and q is not pot)})
            span = regular_chain(times, times.index(p.onset), self.isi_min, self.isi_max, self.regularity,
                                 self.min_len) if len(times) >= self.min_len else None
            if span is None:
                continue
            if own:
                return UNIT_AHEAD
            if self.train_unmixed and not self._active_lately(c, p):  # (as the train's own decision judges it)
                members = [q for q, _ in alike if span[0] <= q.onset <= span[1]]
                if len(members) + 1 == self.min_len and self._larger_other_near(c, p, members, *span, horizon):
                    continue
            return ONSET_AHEAD
        return ""

    def _crowded(self, c: int, pot: _Potential) -> bool:
        """Does another candidate on channel ``c`` start within the margin after the potential?
        A yes is final; a no is final once the data up to the margin is in (every block size has
        then delivered those candidates), and until then the decision waits anyway."""
        on_c = self._recent_on[c]
        i = bisect.bisect_right(on_c, pot.onset)
        return i < len(on_c) and on_c[i] <= pot.onset + self.margin

    def _margin_before(self, c: int, pot: _Potential) -> int:
        """How far ahead of the potential an onset of activity makes it recruitment: the
        margin, or the crowd's longer one when another candidate follows within the margin."""
        if self.crowd_margin > self.margin and self._crowded(c, pot):
            return self.crowd_margin
        return self.margin

    def _context(self, c: int, pot: _Potential) -> str:
        """The verdict from the potential's surroundings alone (no similar potentials)."""
        before = self._margin_before(c, pot)
        if any(a - before <= pot.onset <= b + self.margin_after for a, b in self._spans[c]):
            self._spans[c].append((pot.onset, pot.offset))  # the edge moves with it
            return EDGE
        ahead = self._unit_ahead(c, pot, before) if before > self.margin else ""
        if ahead:
            self._spans[c].append((pot.onset, pot.offset))  # (the train that follows is its unit's, or starts at it)
            return ahead
        if (self.rhythm_n and len(self._contractions[c]) >= self.rhythm_bouts  # (no more bouts than contractions)
                and self._bouts_before(c, pot.onset) >= self.rhythm_bouts):
            return RHYTHM
        if self.stride_bouts and self._in_stride(c, pot.onset):
            return STRIDE
        if self._weak_shape_only(pot) and self._not_alone(c, pot):
            return SHAPE_ONLY
        if self.recur_corr and pot.ptp < self.recur_max_snr * pot.floor and self._recurs(c, pot):
            if self._active_lately(c, pot):  # (at rest the verdict is the potential's own)
                self._spans[c].append((pot.onset, pot.offset))
            return "its waveform repeats at a voluntary rate (a motor unit firing mostly below the threshold)"
        return self._background(c, pot)

    def _background(self, c: int, pot: _Potential) -> str:
        """``_context``'s last check: the background around the potential."""
        busy = self.quiet_n and self._busy_background(c, pot)
        if busy:
            # a small one's verdict is its own, and so is any at rest: it does not spread as an edge
            if busy is not SMALL and self._active_lately(c, pot):
                self._spans[c].append((pot.onset, pot.offset))
            return "inside low-level voluntary activity (the background around it is not at rest)"
        return ""

    def _recurs(self, c: int, pot: _Potential) -> bool:
        """Does the potential's waveform come back at voluntary intervals, detected or not? A
        unit of a weak contraction crosses the threshold only now and then (too seldom for a
        train of candidates), but its waveform is in the signal at every firing. A matched
        filter (the potential's own snippet) finds those firings: at least
        ``min_len`` matches, the potential among them, in a regular chain at voluntary rates.
        Only matches clear of other candidates count (``_away_from_candidates``): those are the
        train rules' to judge, and a run of twitches offers look-alikes at voluntary rates.
        Failing that, a cleaner template is tried once (``_refined_template``)."""
        tpl = pot.snippet
        n = tpl.size
        start, end = self._signal_span()
        lo = max(pot.onset - self.recur_back, start)
        hi = min(pot.onset + int(self.isi_max), end)  # data every decision already waits for
        if hi - lo < 3 * n:
            return False
        seg = self._signal.window(lo, hi)[0][c]
        num = np.correlate(seg, tpl, mode="valid")  # [i]: the window centred on lo + i + half
        energy = np.convolve(seg * seg, np.ones(n), mode="valid")  # of each window
        root = np.sqrt(np.maximum(energy, 1e-30))  # (each window's norm, for both templates)
        away = self._away_from_candidates(c, pot, lo, num.size, n // 2)
        ncc = np.where(away, num / root, -1.0)
        # the potential itself: its snippet is centred on its peak, so it matches itself there
        a, b = max(pot.onset - 2 - lo - n // 2, 0), min(pot.offset + 1 - lo - n // 2, ncc.size)
        if b <= a:
            return False
        own = a + int(np.argmax(ncc[a:b]))
        if self._recurring_chain(pot, num, ncc, own):
            return True
        if not self.recur_refine_n:
            return False
        refined = self._refined_template(seg, num, ncc, own, n)
        if refined is None:
            return False
        num = np.correlate(seg, refined, mode="valid")
        ncc = np.where(away, num / root, -1.0)
        return self._recurring_chain(pot, num, ncc, a + int(np.argmax(ncc[a:b])))

    def _away_from_candidates(self, c: int, pot: _Potential, lo: int, size: int, half: int) -> np.ndarray:
        """Per matched-filter position from ``lo`` (windows centred ``half`` later), whether it
        lies clear of every other candidate on channel c (their span and pad): the recurrence
        test looks for a weak unit's firings under the threshold, while a run of twitches offers
        look-alikes at voluntary rates, each a candidate of its own."""
        away = np.ones(size, dtype=bool)
        for q in self._near(c, lo - self.memory, lo + size + 2 * half):
            if q is not pot:
                away[max(q.onset - self.pad - lo - half, 0): max(q.offset + self.pad - lo - half + 1, 0)] = False
        return away

    def _refined_template(self, seg: np.ndarray, num: np.ndarray, ncc: np.ndarray, own: int,
                          n: int) -> np.ndarray | None:
        """The potential's waveform averaged with its best matches (correlation >= ``recur_refine``,
        no larger than it, local maxima at least the shortest interval apart; ``recur_refine_n``
        windows in all), unit norm: at a weak unit's SNR its snippet is half noise, and noise
        lowers its correlation with the unit's other firings below the bar, while the average of
        several firings keeps the waveform and sheds the noise. None when fewer than a train's
        worth of windows match."""
        size = float(num[own])
        if not size > 0:
            return None
        # local maxima (as ``_recurring_chain`` takes them: >= the one before, > the one after)
        peak = np.ones(ncc.size, dtype=bool)
        peak[1:] = ncc[1:] >= ncc[:-1]
        peak[:-1] &= ncc[:-1] > ncc[1:]
        matches = np.flatnonzero(peak & (ncc >= self.recur_refine) & (num <= size))
        if matches.size < self.min_len - 1:
            return None
        taken = [own]
        for k in matches[np.argsort(-ncc[matches], kind="stable")].tolist():
            if len(taken) == self.recur_refine_n:
                break
            if k != own and all(abs(k - t) >= self.isi_min for t in taken):
                taken.append(k)
        if len(taken) < self.min_len:
            return None
        avg = seg[np.add.outer(np.array(taken), np.arange(n))].sum(axis=0)
        norm = math.sqrt(float(avg @ avg))
        return avg / norm if norm > 0 else None

    def _recurring_chain(self, pot: _Potential, num: np.ndarray, ncc: np.ndarray, own: int) -> bool:
        """``_recurs``' chain over one template's matches (``num``, ``ncc``), ``own`` where the
        template matches the potential itself."""
        size = float(num[own])
        if not size > 0:
            return False
        hits = np.flatnonzero(ncc >= self.recur_corr).tolist()  # few: checked one by one
        if len(hits) < self.min_len:
            return False
        ratio = size_ratio_allowed(self.size_ratio, pot.ptp, pot.floor, self.size_noise, self.size_least)
        # matches: local maxima of the correlation, of a train's size (the bar narrowed to what
        # noise explains); failing that, smaller ones too, down to the unnarrowed train ratio,
        # if the chain's matches are as alike in size among themselves as that bar asks: the
        # candidate of a weak unit is the firing the noise lifted over the threshold (its own
        # match holds its noise too), so the unit's other firings are smaller than it
        last = ncc.size - 1
        maxima = [k for k in hits if k != own and num[k] <= size * ratio
                  and (k == 0 or ncc[k] >= ncc[k - 1]) and (k == last or ncc[k] > ncc[k + 1])]
        for wider in (False, True):
            if wider and not ratio < self.size_ratio:
                break  # (the same bar again)
            least = size / self.size_ratio if wider else size / ratio
            peaks = [(float(ncc[k]), k) for k in maxima if least <= num[k]]
            if len(peaks) < self.min_len - 1:
                continue
            # one match per firing: the best ones, at least the shortest interval apart
            taken = [own]
            for _, k in sorted(peaks, key=lambda p: -p[0]):
                if all(abs(k - t) >= self.isi_min for t in taken):
                    taken.append(k)
            if len(taken) < self.min_len:
                continue
            times = sorted(taken)
            span = regular_chain(times, times.index(own), self.isi_min, self.isi_max, self.regularity,
                                 self.min_len)
            if span is None:
                continue
            if not wider:
                return True
            sizes = [float(num[k]) for k in times if span[0] <= k <= span[1] and k != own]
            if max(sizes) <= ratio * min(sizes):
                return True
        return False
