"""Burst segmentation with hysteresis, merging and activity clusters, exact across chunks.

Per channel, incoming samples join a carry buffer. Bursts are runs where the envelope
exceeds the off-threshold, merged across gaps shorter than ``merge_n``, kept when they
reach the on-threshold; bursts closer than ``cluster_n`` form a cluster. Everything before
the last *quiet point* (a position preceded by >= ``cluster_n`` inactive samples) can no
longer change, so it is finalised; the rest waits for more data. Quiet points are a
property of the data, not of the chunking, which makes the output chunk-size invariant.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from myotwitch.dsp import kernels
from myotwitch.dsp.records import frozen_builder, frozen_record

# rows of the per-channel carry buffer
Y, ENV, LF, RAW, FLOOR, STAT = range(6)
N_ROWS = 6


@dataclass(frozen=True)
class Burst:
    """A finalised stretch of activity on one channel (absolute sample indices, end exclusive)."""

    channel: int
    start: int
    end: int
    n_bursts: int  # >1 for a cluster reported as one stretch
    peak_to_peak_uv: float
    peak_env_uv: float
    floor_uv: float
    lf_ptp_uv: float
    clipped: bool
    #: "gap" / "end" when the data stopped inside the burst, "start" when it was under way where
    #: the channel's floor first existed (set by the pipeline), "limit" at max length
    cut: str | None
    #: how much of the raw event one sample carries: its departure from its neighbours' mean over
    #: the raw peak-to-peak around it (1.0 for a single-sample glitch; a potential is smoother)
    spike_ratio: float = 0.0
    #: unit-norm band-passed waveform centred on the largest sample (single potentials only),
    #: to recognise the same motor unit firing again
    snippet: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: only the twitch-shape filters lifted it over the threshold, no energy window did: a
    #: potential of at most ~10x the noise (dsp/matched.py)
    shape_only: bool = False
    #: the root of the snippet's energy before it was scaled to unit norm (µV): with the floor,
    #: how much of the snippet is noise, which lowers its likeness to another firing of its unit
    snippet_norm: float = 0.0


#: ``Burst(**values)`` for the hot path (one per burst finalised)
_new_burst = frozen_builder(Burst)


#: a chunk's bursts' stretches, a list a field: starts, ends, members (runs joined), cut
Stretches = tuple[list[int], list[int], list[int], list["str | None"]]


class _Figures(NamedTuple):
    """``BurstSegmenter._features_many``'s figures, a list entry per burst: its stretch (a single
    potential's core), first largest |y|, the envelope's peak, peak to peak of y and of the low
    band around it, shape only, clipped (or, without a clipping level, a flat top possible),
    the spike ratio (None: the one-burst code's, near the buffer's edges) and the snippet,
    ``snips[row[j]]`` where ``row[j]`` >= 0 and its norm ``norms[row[j]]`` > 0."""

    start: list[int]
    end: list[int]
    peak: list[int]
    top: list[float]
    ptp: list[float]
    lf_ptp: list[float]
    shape_only: list[bool]
    clip: list[bool]
    spike: list[float | None]
    snips: np.ndarray
    row: list[int]
    norms: list[float]


@dataclass
class _OpenRuns:
    """The active runs (absolute starts and ends, whether they hold a strong sample) after the
    origin that a segmenter call left open."""

    origin: int
    starts: list[int]
    ends: list[int]
    strong: list[bool]


#: samples in a row of a burst at or beyond a known input range's end (``clip_uv``) that make it
#: clipped. Clipping holds a potential at the rail for a stretch; one sample there is a peak that
#: just reaches it, as the largest peak of a file whose range is its data's own extremes does
#: (MNE's EDF export and pyedflib write the range so), and so are a biphasic twitch's two peaks,
#: apart, when that range is by chance symmetric: that twitch had been an artefact.
CLIP_LEVEL_SAMPLES = 2


def _at_level_runs(raw: np.ndarray, offsets: np.ndarray, level: float) -> np.ndarray:
    """Per stretch of ``raw`` (starting at ``offsets``): are ``CLIP_LEVEL_SAMPLES`` samples in
    a row at or beyond ``level`` in |value|?"""
    at = np.abs(raw) >= level
    k = CLIP_LEVEL_SAMPLES
    run = at.copy()
    for shift in range(1, k):  # run[i]: samples i .. i + k - 1 all at the level
        run[:-shift] &= at[shift:]
        run[-shift:] = False
    ends = np.append(offsets[1:], raw.size)
    for shift in range(1, k):  # (a run across two stretches is neither's)
        run[np.maximum(ends - shift, 0)] = False
    return np.add.reduceat(run.astype(np.intp), offsets) > 0


def flat_top_run(raw: np.ndarray, noise_uv: float, least: int) -> int:
    """How many equal samples in a row at a burst's extreme mean ADC clipping. On a trace
    quantised in steps of q (the smallest change between its samples) with noise of sigma, a
    peak stays on one level for L samples by chance with a probability of about
    (q / (sqrt(2) sigma))^(L - 1): the run must make that under 1e-4. An unquantised trace (or
    noise well above the step) needs only ``least``; a trace whose noise is under the step
    (a quiet baseline near the quantisation floor, where the top of every potential is flat
    for a while) needs four times that."""
    steps = np.abs(np.diff(raw))
    steps = steps[steps > 0]
    if not steps.size or not noise_uv > 0:
        return least
    spread = math.sqrt(2.0) * noise_uv / float(steps.min())
    if spread <= 1.0:
        return 4 * least
    return min(4 * least, max(least, 1 + math.ceil(4.0 / math.log10(spread))))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs in a 1-D bool array."""
    n = mask.size
    if n == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    if mask[0]:
        edges = np.concatenate([[0], edges])
    if mask[-1]:
        edges = np.concatenate([edges, [n]])
    return edges[0::2], edges[1::2]


def quiet_stretches(s: np.ndarray, e: np.ndarray, o: int, L: int, cn: int) -> tuple[np.ndarray, np.ndarray]:
    """The quiet stretches among runs ``[s, e)`` (sorted, apart) in ``[o, L)``, as their first and
    last quiet positions: the origin's up to the first run, then one after every gap of ``cn``
    or more between runs, and one after the last run when ``cn`` or more follow it before ``L``
    (as arrays: at a steady twitching nearly every gap is one; tests/dsp/test_bursts.py holds
    them to a loop over the runs)."""
    gap = np.flatnonzero(s[1:] - e[:-1] >= cn)
    tail = L - e[-1:] >= cn  # (none or one)
    return (np.concatenate(([o], e[gap] + cn, e[-1:][tail] + cn)),
            np.concatenate((s[:1], s[gap + 1], np.full(int(tail.sum()), L, dtype=s.dtype))))


def _edges(mask: np.ndarray, at: int) -> list[int]:
    """Where the True runs of a 1-D bool array start and end (exclusive), alternately, plus ``at``."""
    pad = np.zeros(mask.size + 2, dtype=bool)
    pad[1:-1] = mask
    return (np.flatnonzero(pad[1:] != pad[:-1]) + at).tolist()


def _join(starts: np.ndarray, ends: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs separated by fewer than ``max_gap`` samples."""
    if starts.size <= 1:
        return starts, ends
    keep = (starts[1:] - ends[:-1]) >= max_gap
    return starts[np.concatenate(([True], keep))], ends[np.concatenate((keep, [True]))]  # (np.r_ costs ~3 us)


def _unit_rows(w: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Rows ``(n, k)`` scaled to unit norm, and their norms: each row's sum of squares adds as
    ``np.add.reduce`` adds one row, so a snippet comes out the same cut alone or with others
    (a row of norm 0 comes out as NaN or inf: not to be used)."""
    norms = np.sqrt(np.add.reduce(w * w, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return w / norms[:, None], norms.tolist()


def _gather(row: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stretches ``row[lo:hi]`` (each non-empty) end to end, where each starts in that
    array, and every element's position in it (for ``reduceat`` and first-position searches)."""
    lens = hi - lo
    off = np.zeros(lens.size, dtype=np.intp)
    np.cumsum(lens[:-1], out=off[1:])
    pos = np.arange(int(off[-1] + lens[-1]))
    return row[pos + np.repeat(lo - off, lens)], off, pos


class BurstSegmenter:
    """Streaming burst finder for all channels (one carry buffer per channel)."""

    def __init__(self, n_channels: int, *, on: float, off: float, merge_n: int, cluster_n: int,
                 context_n: int, max_n: int, clip_uv: float | None, clip_run: int,
                 core_db: float = 20.0, spike_n: int = 4, twitch_max_n: int = 0, dense_n: int = 8,
                 dense_rate: float = 0.015, idle_n: int = 0, run_max_n: int = 0,
                 recent_n: tuple[int, int] = (0, 0), recent_rate: float = 0.015, recent_spread: float = 1.5,
                 split_gap_n: int = 0, split_peak: float = 10.0, lf_ratio: float = 0.0,
                 lf_min_floor: float = 4.0, pop_n: int = 0) -> None:
        self.core_rel = 10 ** (-core_db / 20)
        self.twitch_max_n, self.dense_n, self.dense_rate = twitch_max_n, dense_n, dense_rate
        #: a muscle with no activity for ``idle_n`` samples is at rest: there, a cluster of
        #: separate potentials up to ``run_max_n`` long is a run of twitches even where a large
        #: one's band-passed tail keeps the envelope up longer than a twitch (0: off)
        self.idle_n, self.run_max_n = idle_n, run_max_n
        #: ... and a member of such a cluster with an envelope peak of ``split_peak`` floors or
        #: more whose core breaks into parts ``split_gap_n`` apart or more is that many
        #: potentials (0: off)
        self.split_gap_n, self.split_peak = split_gap_n, split_peak
        #: a stretch up to ``pop_n`` long whose low band around it swings more than ``lf_ratio``
        #: times its band-passed peak to peak (and ``lf_min_floor`` floors) is an electrode's pop,
        #: not the muscle's activity: it does not end a rest (0: it does)
        self.lf_ratio, self.lf_min_floor, self.pop_n = lf_ratio, lf_min_floor, pop_n
        #: ... and a cluster up to ``run_max_n`` long that starts ``recent_n`` = (least, most)
        #: samples after activity ended, of several units (envelope peaks ``recent_spread`` apart
        #: or more), is the next burst of it when dense at ``recent_rate`` (most 0: off)
        (self.recent_least, self.recent_n), self.recent_rate = recent_n, recent_rate
        self.recent_spread = recent_spread
        #: both need where activity last ended on each channel (``_active_end``)
        self._tracks_activity = bool(idle_n or self.recent_n)
        self.snip_n = max(2, spike_n * 2)
        self.spike_n = spike_n
        self.n_channels = n_channels
        self.on, self.off = on, off
        self.merge_n, self.cluster_n = merge_n, cluster_n
        self.context_n = context_n
        self.max_n = max_n
        self.clip_uv, self.clip_run = clip_uv, clip_run
        self.reset()

    def reset(self) -> None:
        # every channel's buffer lies in one arena, (channels, N_ROWS, capacity): channel c's is
        # arena[c, :, lo[c]:end]. All channels end at the same sample, so a block's rows are
        # appended to all of them with one copy, and what a channel lets go of is only a move of
        # its lo (a quiet channel's block used to cost a copy of its carry and the new rows)
        self._arena = np.empty((self.n_channels, N_ROWS, 0))
        self._end = 0
        self._lo = [0] * self.n_channels
        self._buf_start = [0] * self.n_channels  # absolute index of the buffer's first column
        self._origin = [0] * self.n_channels  # bursts may not start before this
        self._free = [0] * self.n_channels  # ... nor before this (the first active sample after it)
        self._seg_start = 0  # absolute start of the current contiguous segment
        self._staged = False  # ``stage`` handed out room for rows not processed yet
        # the runs after the origin that the last exact pass left open (see _waits, _noise_ends)
        self._open: list[_OpenRuns | None] = [None] * self.n_channels
        #: where each channel's last activity ended (a cluster judged as one, or a run longer
        #: than a twitch), in absolute samples
        self._active_end = [-math.inf] * self.n_channels

    def start_segment(self, at: int) -> None:
        """Begin a new contiguous stretch of data at absolute sample ``at`` (after a gap)."""
        self._seg_start = at
        for c in range(self.n_channels):
            self._lo[c] = self._end
            self._buf_start[c] = at
            self._origin[c] = at
            self._free[c] = at
            self._open[c] = None

    @property
    def _buf(self) -> list[np.ndarray]:
        """Every channel's buffer, ``(N_ROWS, n)`` (views into the arena)."""
        return [self._arena[c, :, lo: self._end] for c, lo in enumerate(self._lo)]

    def position(self) -> int:
        """Absolute index of the next sample to arrive."""
        return self._buf_start[0] + self._end - self._lo[0]

    def finalised_until(self) -> int:
        """No burst found later can start before this absolute sample index."""
        return min(self._free)

    def process(self, y: np.ndarray, env: np.ndarray, lf: np.ndarray, raw: np.ndarray,
                floor: np.ndarray, stat: np.ndarray) -> list[Burst]:
        return self.process_rows(np.array((y, env, lf, raw, floor, stat)))

    def process_rows(self, new: np.ndarray) -> list[Burst]:
        """``process`` with the rows stacked, ``(N_ROWS, channels, n)`` (the pipeline builds
        them in place)."""
        n = new.shape[2]
        self._reserve(n)
        self._arena[:, :, self._end: self._end + n] = new.transpose(1, 0, 2)
        self._staged = False
        return self._process_rows(n)

    def stage(self, n: int) -> np.ndarray:
        """Room for the next ``n`` columns of rows, ``(N_ROWS, channels, n)``, where the
        segmenter keeps them: rows written into it and handed over with ``process_staged`` are
        not copied again (for an offline chunk, that copy of every row was a tenth of the quiet
        path's time)."""
        self._reserve(n)
        self._staged = True
        return self._arena[:, :, self._end: self._end + n].transpose(1, 0, 2)

    def process_staged(self, k: int) -> list[Burst]:
        """``process_rows`` of the first ``k`` columns of the array the last ``stage`` returned
        (the rest may be staged again later; nothing else may change the segmenter in between)."""
        if not self._staged:
            raise RuntimeError("process_staged without stage")
        self._staged = False
        return self._process_rows(k)

    #: the least room (columns) the arena leaves for new rows when it moves or grows
    _SLACK = 4096

    def _reserve(self, n: int) -> None:
        """Room for ``n`` more columns after the buffers' end: the buffers are moved to the arena's
        start (or into a new arena sized to them, when it is too small or far too large). Columns
        past the end (rows staged but not processed) are not kept."""
        cap = self._arena.shape[2]
        if self._end + n <= cap:
            return
        first = min(self._lo)
        live = self._end - first
        size = live + n + max((live + n) // 8, self._SLACK)
        arena = self._arena if live + n <= cap <= 4 * size else np.empty((self.n_channels, N_ROWS, size))
        arena[:, :, :live] = self._arena[:, :, first: self._end]  # overlapping in place: numpy copies safely
        self._arena, self._end = arena, live
        self._lo = [lo - first for lo in self._lo]

    def _process_rows(self, n: int) -> list[Burst]:
        """The channels' bursts once the ``n`` columns of rows put in the arena right after the
        buffers' end join them."""
        out: list[Burst] = []
        busy = self._maybe_active(self._arena[:, :, self._end: self._end + n].transpose(1, 0, 2))
        end = self._end = self._end + n
        for c in range(self.n_channels):
            b0 = self._buf_start[c]
            stop = b0 + end - self._lo[c]  # absolute end of the buffer
            if busy[c]:
                if not self._extends(c, b0, stop, n):
                    out.extend(self._finalise(c, final=None))
            elif self._origin[c] == stop - n or self._noise_ends(c, stop):
                self._quiet(c, b0, stop)
            elif not self._waits(c, stop):
                closed = self._closes(c, b0, stop)
                out.extend(self._finalise(c, final=None) if closed is None else closed)
        return out

    def _closes(self, c: int, b0: int, end: int) -> list[Burst] | None:
        """``_finalise`` of a channel whose new samples (up to absolute ``end``; ``b0`` the
        buffer's start) are all inactive and whose open activity (no quiet point in it, see
        ``_extends``) they close: the quiet after its last run that can still belong to a burst
        (``_live``) reaches ``cluster_n`` within the length limit, so everything is finalised,
        and the bursts are the open runs that hold a strong sample (no need to find the runs
        again). None when that is not known (the exact path then runs)."""
        got = self._still_open(c)
        if got is None:
            return None
        live = self._live(got.starts, got.ends, got.strong, end)
        cn = self.cluster_n
        # (no live run: only noise that is over, finalised with no burst; gaps of cluster_n
        # between live runs: the exact pass would finalise in pieces, with the same bursts)
        if live and (end - live[-1][1] < cn or live[-1][1] + cn - got.origin > self.max_n + self.context_n):
            return None
        o = got.origin - b0
        strong = [(a, b) for a, b, ok in zip(got.starts, got.ends, got.strong) if ok]
        out = []
        if strong:
            runs = np.array(strong, dtype=np.intp) - got.origin
            out = self._bursts_of(c, self._arena[c, :, self._lo[c]: self._end], b0, o, end - b0,
                                  runs[:, 0], runs[:, 1], None)
        self._quiet(c, b0, end)
        return out

    def _extends(self, c: int, b0: int, end: int, n: int) -> bool:
        """``_finalise`` of a channel whose new ``n`` samples (up to absolute ``end``; ``b0`` the
        buffer's start) may be active, when everything before them was finalised or its last
        exact pass left activity open (such a pass stops at an active origin with no quiet point
        after it; ``_waits`` and this add none). A block no longer than ``cluster_n`` holds no
        quiet stretch, so while its first active sample follows the open runs by less than
        ``cluster_n`` and the activity stays under the length limit, nothing is finalised (but
        the quiet before the first active sample, when nothing was open): the new runs join the
        open ones (merged across gaps under ``merge_n``) and the first possible start moves.
        False when that is not known (the exact path then runs)."""
        if n > self.cluster_n:
            return False
        limit = self.max_n + self.context_n
        got = self._still_open(c)
        if got is not None:
            if end - got.origin >= limit:
                return False
            origin, s_l, e_l, ok_l = got.origin, list(got.starts), list(got.ends), list(got.strong)
        elif self._origin[c] == end - n:  # nothing open
            origin, s_l, e_l, ok_l = end, [], [], []
        else:
            return False
        new = self._arena[c, :, self._end - n: self._end]
        active, strong = self._activity(new[ENV], new[FLOOR], new[STAT])
        at = end - n
        edges = _edges(active, at)  # (a few runs: plain lists)
        if not edges:  # nothing active after all
            if got is None:
                self._quiet(c, b0, end)
                return True
            return self._waits(c, end)
        if got is None:
            origin = edges[0]  # the quiet before it is finalised (no burst in it)
            if end - origin >= limit:
                return False
        elif edges[0] - e_l[-1] >= self.cluster_n:  # a quiet stretch before them
            return False
        hits = (np.flatnonzero(strong) + at).tolist()
        for a, b in zip(edges[0::2], edges[1::2]):
            ok = bisect_left(hits, a) < bisect_left(hits, b)  # a strong sample in [a, b)
            if e_l and a - e_l[-1] < self.merge_n:
                e_l[-1], ok_l[-1] = b, ok_l[-1] or ok
            else:
                s_l.append(a)
                e_l.append(b)
                ok_l.append(ok)
        live = self._live(s_l, e_l, ok_l, end)
        if not self._holds(live, origin, end):  # noise that is over lets a boundary through
            return False
        self._origin[c] = origin
        self._open[c] = _OpenRuns(origin, s_l, e_l, ok_l) if len(s_l) <= 32 else None
        self._free[c] = live[0][0]
        self._keep_from(c, b0, max(origin - self.context_n, self._seg_start))
        return True

    def _waits(self, c: int, end: int) -> bool:
        """``_finalise`` of a channel whose new samples (up to absolute ``end``) are all inactive
        and whose last call left activity open: it finalises nothing and keeps the origin while
        the runs that can still belong to a burst (``_live``: a run ending at or before
        ``end - merge_n`` without a strong sample no longer can) start there, no gap of
        ``cluster_n`` separates them or follows the last, and the activity is shorter than the
        length limit (``_holds``); only the first possible start can move. False when that is
        not known (the exact path then runs)."""
        got = self._still_open(c)
        if got is None or end - got.origin >= self.max_n + self.context_n:
            return False
        live = self._live(got.starts, got.ends, got.strong, end)
        if not self._holds(live, got.origin, end):
            return False
        self._free[c] = live[0][0]
        return True

    def _live(self, starts: list[int], ends: list[int], strong: list[bool], end: int) -> list[tuple[int, int]]:
        """``_live_runs`` of runs already found, as lists (absolute, the buffer ending at ``end``;
        the rule of ``_live_mask``)."""
        grow_from = end - self.merge_n  # a run ending after this may still grow
        return [(a, b) for a, b, ok in zip(starts, ends, strong) if ok or b > grow_from]

    def _holds(self, live: list[tuple[int, int]], origin: int, end: int) -> bool:
        """Whether an exact pass over a buffer ending at ``end`` would leave the origin where it
        is and finalise nothing: the live runs start at the origin, and no gap of ``cluster_n``
        lies between them or after the last."""
        cn = self.cluster_n
        return bool(live) and live[0][0] == origin and end - live[-1][1] < cn and \
            all(a2 - b1 < cn for (_, b1), (a2, _) in zip(live, live[1:]))

    def _noise_ends(self, c: int, end: int) -> bool:
        """Whether the activity a channel's last call left open was noise that ends here: no run
        of it holds a strong sample, and with the new samples (up to absolute ``end``, all
        inactive) the quiet after it reaches ``cluster_n`` (within the length limit).
        ``_finalise`` would then finalise it all and find no burst: the same as ``_quiet``."""
        got = self._still_open(c)
        if got is None or any(got.strong):
            return False
        last_end = got.ends[-1]
        limit = self.max_n + self.context_n
        return end - last_end >= self.cluster_n and last_end + self.cluster_n - got.origin <= limit

    def _still_open(self, c: int) -> _OpenRuns | None:
        """The runs the last exact pass kept, while the channel's origin has not moved since."""
        got = self._open[c]
        return got if got is not None and got.origin == self._origin[c] else None

    def _quiet(self, c: int, b0: int, stop: int) -> None:
        """``_finalise`` of a channel whose new samples are all inactive and that had nothing open
        (or only noise that ends here): no bursts, everything finalised up to absolute ``stop``
        (the buffer's end; ``b0`` its start), only the context before the new origin is kept."""
        self._origin[c] = self._free[c] = stop
        self._open[c] = None
        self._keep_from(c, b0, max(stop - self.context_n, self._seg_start))

    def _keep_from(self, c: int, b0: int, at: int) -> None:
        """Let go of channel c's buffer (starting at absolute ``b0``) before absolute ``at``
        (clipped to the buffer)."""
        keep = min(max(at - b0, 0), self._end - self._lo[c])
        self._lo[c] += keep
        self._buf_start[c] = b0 + keep

    def flush(self) -> list[Burst]:
        """End of data: everything still open is finalised (bursts touching the end are marked)."""
        return self.end_segment("end")

    def end_segment(self, why: str) -> list[Burst]:
        """The data stops here (gap or end): finalise everything, marking bursts that touch the end."""
        out: list[Burst] = []
        for c in range(self.n_channels):
            out.extend(self._finalise(c, final=why))
        return out

    # -- internals -------------------------------------------------------------------
    def _maybe_active(self, new: np.ndarray) -> list[bool]:
        """Per channel, whether any new sample may be active; False only when none can be: the
        largest envelope is at most the off-threshold at the lowest floor (the product rounds
        monotonically) and no statistic fires. A channel with none, and nothing left open, only
        moves on (most live blocks of most channels). NaN (a floor not known yet) counts as
        active, so the exact test in ``_finalise`` decides."""
        if not new.shape[2]:
            return [False] * self.n_channels
        off = self.off
        kernel = kernels.maybe_active()
        if kernel is not None:  # the same test in one compiled pass (dsp/kernels.py)
            out = np.empty(self.n_channels, dtype=np.bool_)
            kernel(new, ENV, FLOOR, STAT, off, out)
            return out.tolist()
        # two reductions over strided slices of the rows, no copy: the maxima of ENV and STAT,
        # the minima of FLOOR and STAT. The statistic is negative where only the twitch-shape
        # filters fire (dsp/matched.py)
        env_max, stat_max = np.maximum.reduce(new[ENV:STAT + 1:STAT - ENV], axis=2).tolist()
        floor_min, stat_min = np.minimum.reduce(new[FLOOR:STAT + 1], axis=2).tolist()
        return [not (e <= off * f and s < 1.0 and t > -1.0)
                for e, f, s, t in zip(env_max, floor_min, stat_max, stat_min)]

    def _activity(self, env: np.ndarray, floor: np.ndarray, stat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(active, strong): strong where the detection statistic (dsp/energy.py, or the
        envelope test stored as 1.0) fires; active where it does or the envelope is above the
        off-threshold."""
        kernel = kernels.activity()
        if kernel is not None:  # the same masks in one pass, without the temporaries (dsp/kernels.py)
            active, strong = np.empty(env.shape[0], dtype=bool), np.empty(env.shape[0], dtype=bool)
            kernel(env, floor, stat, self.off, active, strong)
            return active, strong
        strong = np.abs(stat) >= 1.0  # negative: strong by the twitch-shape filters alone (dsp/matched.py)
        with np.errstate(invalid="ignore"):
            active = (env > self.off * floor) | strong
        return active, strong

    def _active(self, buf: np.ndarray, o: int) -> tuple[np.ndarray, np.ndarray]:
        active, strong = self._activity(buf[ENV], buf[FLOOR], buf[STAT])
        active[:o] = False
        strong[:o] = False
        return active, strong

    def _live_runs(self, active: np.ndarray, strong: np.ndarray, o: int) -> tuple[np.ndarray, np.ndarray]:
        """The joined runs after the origin ``o`` (absolute within the buffer) that can belong to
        a burst: those holding a strong sample, or ending within ``merge_n`` of the buffer's end
        (they may still grow or join a later run). Any other run is noise that is over: it joins
        no burst and is left out of every burst's figures, so it need not hold a boundary back."""
        L = active.size
        starts, ends, ok = self._runs_with_strong(active, strong, o, L)
        live = self._live_mask(ends, ok, L - o)
        return starts[live] + o, ends[live] + o

    def _live_mask(self, ends: np.ndarray, ok: np.ndarray, n: int) -> np.ndarray:
        """Which of the runs (``ends`` relative to a stretch of ``n`` samples ending at the
        buffer's end, ``ok``: holding a strong sample) can belong to a burst (``_live_runs``)."""
        return ok | (ends > n - self.merge_n)

    def _next_boundary(self, active: np.ndarray, strong: np.ndarray, o: int,
                       final: str | None) -> tuple[int, str | None]:
        """Where to finalise up to: the last quiet point (a position preceded by >= cluster_n
        samples outside every run that can belong to a burst, ``_live_runs``; the origin counts
        as one), or a forced cut at ``max_n`` after a quiet point when such activity runs longer
        than ``max_n + context_n`` without one. Noise that lifts the envelope now and then is not
        such activity: it used to keep a twitch's cluster open until 120 ms without any crossing
        came, delaying its report (at 500 Hz 2 % of isolated twitches by 0.3-0.45 s)."""
        L = active.size
        s, e = self._live_runs(active, strong, o)
        if not s.size:
            return L, None
        first_q, last_q = quiet_stretches(s, e, o, L, self.cluster_n)
        trailing = L - int(e[-1]) >= self.cluster_n
        # activity between two quiet stretches longer than max_n + context_n: a cut after the first
        over = np.flatnonzero(first_q[1:] - last_q[:-1] > self.max_n + self.context_n)
        if over.size:
            return int(last_q[over[0]]) + self.max_n, "limit"
        tail_start = int(last_q[-1])
        if not trailing and L - tail_start >= self.max_n + self.context_n:
            return tail_start + self.max_n, "limit"
        if final is not None:
            return L, final
        return tail_start, None

    def _finalise(self, c: int, final: str | None) -> list[Burst]:
        out: list[Burst] = []
        b0 = self._buf_start[c]
        buf = self._arena[c, :, self._lo[c]: self._end]
        active = strong = None
        while True:
            o = self._origin[c] - b0
            L = buf.shape[1]
            if L <= o:
                break
            if active is None or strong is None:  # nothing before the origin is read: one pass serves every round
                active, strong = self._active(buf, o)
            q, cut = self._next_boundary(active, strong, o, final)
            if q <= o:
                break
            out.extend(self._bursts(c, buf, b0, o, q, active, strong, cut))
            self._origin[c] = b0 + q
            if q >= L:
                break
        o = self._origin[c] - b0
        self._free[c] = b0 + self._first_possible_start(c, buf, active, strong, o)
        self._keep_from(c, b0, max(self._origin[c] - self.context_n, self._seg_start))
        return out

    def _runs_with_strong(self, active: np.ndarray, strong: np.ndarray, o: int,
                          q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Active runs in [o, q) with runs closer than merge_n joined (starts and ends relative to
        o), and which of them hold a strong sample: only those are bursts."""
        starts, ends = _runs(active[o:q])
        if starts.size == 0:
            return starts, ends, np.zeros(0, bool)
        starts, ends = _join(starts, ends, self.merge_n)
        # a run holds a strong sample when one lies in [start, end): the strong samples' positions
        # (few: only bursts have any) bisected, instead of a running count over the whole stretch
        # (a chunk's count wrote 8 bytes a sample: ~4 ms of a quiet hour)
        at = np.flatnonzero(strong[o:q])
        return starts, ends, np.searchsorted(at, ends) > np.searchsorted(at, starts)

    def _first_possible_start(self, c: int, buf: np.ndarray, active: np.ndarray | None,
                              strong: np.ndarray | None, o: int) -> int:
        """Where the first burst after the origin ``o`` could start: the first run that can
        belong to one (``_live_mask``: runs within merge_n joined, holding a strong sample or
        still able to grow at the buffer's end). Noise can never start a burst, so it does not
        hold this. A few runs are kept for ``_waits``, ``_extends``, ``_closes`` and
        ``_noise_ends``."""
        L = buf.shape[1]
        self._open[c] = None
        if o >= L:
            return L
        if active is None or strong is None:
            active, strong = self._active(buf, o)
        starts, ends, ok = self._runs_with_strong(active, strong, o, L)
        if 0 < starts.size <= 32:
            at = self._buf_start[c] + o
            self._open[c] = _OpenRuns(at, (starts + at).tolist(), (ends + at).tolist(), ok.tolist())
        hit = np.flatnonzero(self._live_mask(ends, ok, L - o))
        return o + int(starts[hit[0]]) if hit.size else L

    def _bursts(self, c: int, buf: np.ndarray, b0: int, o: int, q: int, active: np.ndarray,
                strong: np.ndarray, cut: str | None) -> list[Burst]:
        if not strong[o:q].any():  # no run can be a burst (most calls: noise finalised before a twitch)
            return []
        starts, ends, keep = self._runs_with_strong(active, strong, o, q)
        return self._bursts_of(c, buf, b0, o, q, starts[keep], ends[keep], cut)

    def _bursts_of(self, c: int, buf: np.ndarray, b0: int, o: int, q: int, starts: np.ndarray,
                   ends: np.ndarray, cut: str | None) -> list[Burst]:
        """The bursts finalised in [o, q) from its active runs (joined) that hold a strong
        sample (starts and ends relative to o)."""
        if starts.size > 1:
            starts, ends = self._drop_crowded_shape_only(buf[STAT, o:q], starts, ends)
        starts, ends = starts + o, ends + o
        if starts.size == 0:
            return []
        # clusters of bursts (voluntary activity is many bursts close together)
        bounds = [0, 1] if starts.size == 1 else \
            [0, *(np.flatnonzero((starts[1:] - ends[:-1]) >= self.cluster_n) + 1).tolist(), starts.size]
        segs = self._stretches(starts, ends, bounds, q, cut, c, buf, b0)
        if len(segs[0]) == 1:  # (live blocks) the one-burst code takes fewer steps for one
            return [self._features(c, buf, b0, segs[0][0], segs[1][0], segs[2][0], segs[3][0], buf.shape[1])]
        return self._features_many(c, buf, b0, segs, buf.shape[1])

    def _stretches(self, starts: np.ndarray, ends: np.ndarray, bounds: list[int], q: int,
                   cut: str | None, c: int, buf: np.ndarray, b0: int) -> Stretches:
        """The bursts of the clusters ``bounds`` (of the runs ``starts``, ``ends``), as four lists:
        starts, ends, members and cut (a list a field: a tuple a burst would be one more
        gc-tracked allocation each). Where every cluster is one run (a steady twitching: nearly
        every call), the lists the loop would build, made at once."""
        s_l, e_l = starts.tolist(), ends.tolist()
        long_n = self.twitch_max_n
        if len(bounds) == len(s_l) + 1:
            if self._tracks_activity and long_n:
                longer = np.flatnonzero(ends - starts > long_n)
                for i in reversed(longer.tolist()):
                    if not self._moved(buf, b0, s_l[i], e_l[i]):
                        self._active_end[c] = b0 + e_l[i]
                        break
            return s_l, e_l, [1] * len(s_l), [None] * len(s_l) if cut is None else [cut if e >= q else None for e in e_l]
        out: Stretches = ([], [], [], [])
        s_o, e_o, n_o, cut_o = out

        def add(start: int, end: int, members: int, at_end: str | None) -> None:
            s_o.append(start)
            e_o.append(end)
            n_o.append(members)
            cut_o.append(at_end)

        for a, b in zip(bounds[:-1], bounds[1:]):
            touches_end = cut is not None and e_l[b - 1] >= q
            if b - a == 1:
                if self._tracks_activity and long_n and e_l[a] - s_l[a] > long_n and \
                        not self._moved(buf, b0, s_l[a], e_l[a]):
                    self._active_end[c] = b0 + e_l[a]
                add(s_l[a], e_l[a], 1, cut if touches_end else None)
            elif (rest := self._run_at_rest(c, buf, b0, starts[a:b], ends[a:b])) is not None and \
                    self._separate(rest[0], rest[1], rest[2]):
                # at rest, the members (a long one split into the potentials it holds) one by one
                s_r, e_r = rest[0].tolist(), rest[1].tolist()
                for i, (s_i, e_i) in enumerate(zip(s_r, e_r)):
                    add(s_i, e_i, 1, cut if touches_end and i == len(s_r) - 1 else None)
            elif rest is None and self._separate(starts[a:b], ends[a:b], None,
                                                 self._stride_after(c, buf, b0, starts[a:b], ends[a:b])):
                # separate potentials that happen to be close: each is judged on its own (a run of
                # twitches); voluntary trains among them are recognised later by their regularity
                for i in range(a, b):
                    add(s_l[i], e_l[i], 1, cut if touches_end and i == b - 1 else None)
            else:
                if self._tracks_activity and not self._moved(buf, b0, s_l[a], e_l[b - 1]):
                    self._active_end[c] = b0 + e_l[b - 1]
                add(s_l[a], e_l[b - 1], b - a, cut if touches_end else None)
        return out

    def _features_many(self, c: int, buf: np.ndarray, b0: int, segs: Stretches, L: int) -> list[Burst]:
        """``_features`` of many bursts at once: every figure is a maximum, minimum or first
        position over a stretch (exact with ``reduceat``, or one compiled pass) or the same
        element-wise arithmetic; the rare stretches near the buffer's edges or with a flat top
        go through the one-burst code."""
        seg0 = max(self._seg_start - b0, 0)
        s_l, e_l, n_l, cut_l = segs
        s = np.array(s_l, dtype=np.intp)
        e = np.array(e_l, dtype=np.intp)
        one = np.array(n_l) == 1
        floor = buf[FLOOR, s].tolist()  # the floor is constant over a noise window
        kernel = kernels.burst_features()
        fig = self._figures_compiled(kernel, buf, s, e, one, floor, seg0) if kernel is not None else None
        if fig is None:
            fig = self._figures(buf, s, e, one, floor, seg0, L)
        if self.clip_uv is None and any(fig.clip):  # (a flat top possible: the one-burst code decides)
            clipped = [m and self._clipped(buf[RAW, a:b], f) for m, a, b, f in zip(fig.clip, fig.start, fig.end, floor)]
        else:  # (or none possible: all False, as the list above would be)
            clipped = fig.clip
        out = []
        snips, norms = fig.snips, fig.norms
        for j, (n_b, cut_b, s_j, e_j, spike, k, ptp, top, lf_ptp, shape_only) in enumerate(zip(  # (the lists walked)
                n_l, cut_l, fig.start, fig.end, fig.spike, fig.row, fig.ptp, fig.top, fig.lf_ptp, fig.shape_only)):
            if spike is None:
                spike = self._spike_ratio(buf, fig.peak[j], seg0, L)
            snip, snip_norm = (snips[k], norms[k]) if k >= 0 and norms[k] > 0 else (None, 0.0)
            out.append(frozen_record(Burst, {  # (every field, in order: one a burst)
                "channel": c, "start": b0 + s_j, "end": b0 + e_j, "n_bursts": n_b,
                "peak_to_peak_uv": ptp,
                "peak_env_uv": top,
                "floor_uv": floor[j],
                "lf_ptp_uv": lf_ptp,
                "clipped": clipped[j],
                "cut": cut_b,
                "spike_ratio": spike,
                "snippet": snip,
                "shape_only": shape_only,
                "snippet_norm": snip_norm,
            }))
        return out

    def _figures(self, buf: np.ndarray, s: np.ndarray, e: np.ndarray, one: np.ndarray, floor: list[float],
                 seg0: int, L: int) -> _Figures:
        """``_features_many``'s figures of the stretches ``[s, e)`` of ``buf`` (single potentials
        where ``one``), by ``reduceat`` over the stretches gathered end to end."""
        env, off, pos = _gather(buf[ENV], s, e)
        top = np.maximum.reduceat(env, off)
        top_l = top.tolist()
        # the core (single potentials): where the envelope is within core_db of its peak, so a
        # large twitch's filter tail does not count as duration; it holds the peak
        thr = np.array([min(max(self.off * f, t * self.core_rel), t) for f, t in zip(floor, top_l)])
        ge = env >= np.repeat(thr, e - s)
        first = np.minimum.reduceat(np.where(ge, pos, env.size), off) - off
        last = np.maximum.reduceat(np.where(ge, pos, -1), off) - off
        st, soff, _ = _gather(buf[STAT], s, e)
        shape_only = (np.maximum.reduceat(st, soff) < 1.0).tolist()
        s, e = np.where(one, s + first, s), np.where(one, s + last + 1, e)
        y, off, pos = _gather(buf[Y], s, e)
        ptp = (np.maximum.reduceat(y, off) - np.minimum.reduceat(y, off)).tolist()
        ay = np.abs(y)
        amax = np.maximum.reduceat(ay, off)
        peak_at = s + np.minimum.reduceat(np.where(ay == np.repeat(amax, e - s), pos, y.size), off) - off
        lf, loff, _ = _gather(buf[LF], np.maximum(s - self.context_n, seg0), np.minimum(e + self.context_n, L))
        lf_ptp = (np.maximum.reduceat(lf, loff) - np.minimum.reduceat(lf, loff)).tolist()
        raw, roff, _ = _gather(buf[RAW], s, e)
        if self.clip_uv is not None:
            clip = _at_level_runs(raw, roff, self.clip_uv).tolist()
        else:  # a flat top needs clip_run samples at an extreme: only such stretches are looked at
            n_mx = np.add.reduceat((raw == np.repeat(np.maximum.reduceat(raw, roff), e - s)).astype(np.intp), roff)
            n_mn = np.add.reduceat((raw == np.repeat(np.minimum.reduceat(raw, roff), e - s)).astype(np.intp), roff)
            clip = ((n_mx >= self.clip_run) | (n_mn >= self.clip_run)).tolist()
        # spike ratio over the raw samples around the peak (the one-burst code near the edges)
        sn = self.spike_n
        full = (peak_at - sn >= seg0) & (peak_at + sn + 1 <= L)
        win = buf[RAW, np.where(full, peak_at - sn, 0)[:, None] + np.arange(2 * sn + 1)[None, :]]
        r = np.abs(win[:, 1:-1] - 0.5 * (win[:, :-2] + win[:, 2:])).max(axis=1).tolist()
        span = (win.max(axis=1) - win.min(axis=1)).tolist()
        spike = [(r_j / span_j if span_j > 0 else 0.0) if ok else None for ok, r_j, span_j in zip(full.tolist(), r, span)]
        # the snippets of single potentials, cut and scaled together (``_snippet``'s arithmetic)
        m = self.snip_n
        cut = one & (peak_at - m >= seg0) & (peak_at + m + 1 <= L)
        at = np.flatnonzero(cut)
        snips, norms = _unit_rows(buf[Y, (peak_at[at] - m)[:, None] + np.arange(2 * m + 1)[None, :]])
        row = np.full(s.size, -1)
        row[at] = np.arange(at.size)
        return _Figures(s.tolist(), e.tolist(), peak_at.tolist(), top_l, ptp, lf_ptp, shape_only, clip, spike, snips,
                        row.tolist(), norms)

    def _figures_compiled(self, kernel: Callable[..., bool], buf: np.ndarray, s: np.ndarray, e: np.ndarray,
                          one: np.ndarray, floor: list[float], seg0: int) -> _Figures | None:
        """``_figures`` in one compiled pass over each stretch (dsp/kernels.py
        ``_burst_features_py``); None where the kernel leaves a chunk to the pure path."""
        n, m = s.size, self.snip_n
        at, fig = np.empty((n, 3), dtype=np.intp), np.empty((n, 5))
        flags, snips = np.empty((n, 3), dtype=bool), np.empty((n, 2 * m + 1))
        if not kernel(buf[Y], buf[ENV], buf[LF], buf[RAW], buf[STAT], s, e, one, np.array(floor), seg0, self.off,
                      self.core_rel, self.context_n, self.spike_n, m, -1.0 if self.clip_uv is None else self.clip_uv,
                      CLIP_LEVEL_SAMPLES if self.clip_uv is not None else self.clip_run, at, fig, flags, snips):
            return None
        full = flags[:, 2].tolist()
        spike = [v if ok else None for ok, v in zip(full, fig[:, 3].tolist())]
        return _Figures(at[:, 0].tolist(), at[:, 1].tolist(), at[:, 2].tolist(), fig[:, 0].tolist(), fig[:, 1].tolist(),
                        fig[:, 2].tolist(), flags[:, 0].tolist(), flags[:, 1].tolist(), spike, snips, list(range(n)),
                        fig[:, 4].tolist())

    def _drop_crowded_shape_only(self, stat: np.ndarray, starts: np.ndarray,
                                 ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Leave out the bursts that only the twitch-shape filters made strong (no energy
        window crossed) when another burst lies within ``cluster_n``: such a small potential
        counts only on its own; amid other activity it would only add to it (a contraction
        denser, an edge wider) without being told from a voluntary unit's firing."""
        strong, off, _ = _gather(stat, starts, ends)  # (the bursts' samples only, not the stretch's)
        shape_only = np.add.reduceat(strong >= 1.0, off, dtype=np.intp) == 0
        if not shape_only.any():
            return starts, ends
        gaps = starts[1:] - ends[:-1]
        gap_before = np.concatenate(([self.cluster_n], gaps))
        gap_after = np.concatenate((gaps, [self.cluster_n]))
        keep = ~shape_only | (np.minimum(gap_before, gap_after) >= self.cluster_n)
        return starts[keep], ends[keep]

    def _separate(self, s_list: np.ndarray, e_list: np.ndarray, lengths: np.ndarray | None = None,
                  recent: bool = False) -> bool:
        """A cluster of several short potentials with quiet between them, not dense enough to be
        an interference pattern: every member as long as a twitch at most, and fewer than
        ``dense_n`` members or a rate below ``dense_rate`` per sample (from the first one's start
        to the last one's end); for a ``recent`` cluster (of several units, a stride after
        activity ended: ``_stretches`` decides; not asked at rest), below ``recent_rate``: a
        walk's next step spreads its units over more of its length than a crowd at rest does.
        With the members' ``lengths`` given (``_run_at_rest``: their cores), no ``dense_n`` of
        them in a row may reach that rate: the first step of a walk crowds its units into a part
        of a cluster whose slower edges dilute the whole one's rate, while a run of
        fasciculations, 60-150 ms apart, is seldom that dense."""
        n = s_list.size
        if n < 2 or np.any((e_list - s_list if lengths is None else lengths) > self.twitch_max_n):
            return False
        k = self.dense_n
        if lengths is None or n <= k:
            rate = self.recent_rate if recent and lengths is None else self.dense_rate
            return not (n >= k and n / max(int(e_list[-1] - s_list[0]), 1) >= rate)
        spans = e_list[k - 1:] - s_list[: n - k + 1]
        return not bool(np.any(k / np.maximum(spans, 1) >= self.dense_rate))

    def _stride_after(self, c: int, buf: np.ndarray, b0: int, s: np.ndarray, e: np.ndarray) -> bool:
        """Is the cluster of runs ``[s, e)`` (in ``buf``, from ``b0``) a stride after activity on
        channel c ended (``recent_n``), no longer than ``run_max_n``, and of several units (their
        envelope peaks ``recent_spread`` apart or more)? A step's crowd is of several units; one
        unit firing on (a tonic train) fires at one size, and as a stretch of activity it read as
        one more bout of a rhythm that took later twitches."""
        if not (self.recent_least <= b0 + int(s[0]) - self._active_end[c] <= self.recent_n
                and int(e[-1] - s[0]) <= self.run_max_n):
            return False
        env, off, _ = _gather(buf[ENV], s, e)
        top = np.maximum.reduceat(env, off)
        return float(top.max()) >= self.recent_spread * float(top.min())

    def _moved(self, buf: np.ndarray, b0: int, s: int, e: int) -> bool:
        """Is the stretch ``[s, e)`` of ``buf`` (from ``b0``), up to ``pop_n`` long, a
        low-frequency transient (the artifact test of dsp/classify.py, over the same context):
        an electrode's pop, not the muscle's activity? (A longer one, a movement, may come with
        the muscle's use: it ends a rest.)"""
        if not self.lf_ratio or e - s > self.pop_n:
            return False
        lf = buf[LF, max(s - self.context_n, self._seg_start - b0, 0): e + self.context_n]
        y = buf[Y, s:e]
        lf_ptp = float(lf.max() - lf.min())
        return lf_ptp > self.lf_ratio * float(y.max() - y.min()) and lf_ptp > self.lf_min_floor * float(buf[FLOOR, s])

    def _run_at_rest(self, c: int, buf: np.ndarray, b0: int, s: np.ndarray,
                     e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The members as starts, ends and lengths measured by their cores (where the envelope is
        within ``core_db`` of the member's own peak, as a lone potential's duration is), when the
        cluster may be a run of twitches: the muscle at rest (no activity in the ``idle_n``
        before it) and the cluster no longer than ``run_max_n``. A large twitch's band-passed
        tail keeps its run above the off-threshold for longer than the twitch, and one such
        member made a run of fasciculations one contraction. A large member whose core breaks
        into parts with a quiet stretch between them holds that many potentials (the detection
        statistic's longer windows bridge the quiet between a large twitch and the next, 60-70 ms
        on): it is cut between them (``_pieces``). None: not at rest."""
        if not (self.idle_n and b0 + int(s[0]) - self._active_end[c] > self.idle_n
                and int(e[-1] - s[0]) <= self.run_max_n):
            return None
        lengths = e - s
        if not np.any(lengths > self.twitch_max_n):
            return s, e, lengths
        pieces = []
        for a, z, n in zip(s.tolist(), e.tolist(), lengths.tolist()):
            if n <= self.twitch_max_n:
                pieces.append((a, z, n))
            else:
                pieces += [(a + lo, a + hi, k) for lo, hi, k in self._pieces(buf[ENV, a:z], float(buf[FLOOR, a]))]
        s_o, e_o, n_o = zip(*pieces)
        return np.array(s_o, dtype=s.dtype), np.array(e_o, dtype=e.dtype), np.array(n_o, dtype=lengths.dtype)

    def _pieces(self, env: np.ndarray, floor: float) -> list[tuple[int, int, int]]:
        """A member's envelope ``env`` as the potentials it holds: ``(start, end, core length)``
        in it. Its core (within ``core_db`` of its peak) is one potential unless the peak is at
        least ``split_peak`` floors and the core breaks into parts with ``split_gap_n`` or more
        between them: each part is then a potential, cut apart where the envelope between them
        is lowest."""
        top = float(env.max())
        cs, ce = _runs(env >= min(max(self.off * floor, top * self.core_rel), top))
        if self.split_gap_n and top >= self.split_peak * floor:
            cs, ce = _join(cs, ce, self.split_gap_n)
        else:
            cs, ce = cs[:1], ce[-1:]
        cuts = [0]
        for lo, hi in zip(ce[:-1].tolist(), cs[1:].tolist()):
            cuts.append(lo + int(env[lo:hi].argmin()))
        cuts.append(env.size)
        return [(a, b, int(he - hs)) for a, b, hs, he in zip(cuts[:-1], cuts[1:], cs.tolist(), ce.tolist())]

    def _core(self, env: np.ndarray, floor: float) -> tuple[int, int, float]:
        """Where one potential's envelope ``env`` is within ``core_db`` of its peak (and over the
        off-threshold), as ``(first, end)`` positions in it, and the peak: a large twitch's
        filter tail does not count as its duration."""
        top = float(env.max())
        core = np.flatnonzero(env >= min(max(self.off * floor, top * self.core_rel), top))
        return int(core[0]), int(core[-1]) + 1, top

    def _features(self, c: int, buf: np.ndarray, b0: int, s: int, e: int, n: int, cut: str | None,
                  L: int) -> Burst:
        seg0 = max(self._seg_start - b0, 0)
        env = buf[ENV, s:e]
        floor = float(buf[FLOOR, s])  # the floor is constant over a noise window
        shape_only = bool(buf[STAT, s:e].max() < 1.0)
        if n == 1:
            first, end, peak_env = self._core(env, floor)  # (the core holds the peak)
            s, e = s + first, s + end
        else:
            peak_env = float(env.max())
        y = buf[Y, s:e]
        lo, hi = max(s - self.context_n, seg0), min(e + self.context_n, L)
        lf = buf[LF, lo:hi]
        raw = buf[RAW, s:e]
        i = s + int(np.abs(y).argmax())  # the largest band-passed sample
        snip, snip_norm = self._snippet(buf, i, seg0, L) if n == 1 else (None, 0.0)
        return _new_burst(
            channel=c, start=b0 + s, end=b0 + e, n_bursts=n,
            peak_to_peak_uv=float(y.max() - y.min()),
            peak_env_uv=peak_env,
            floor_uv=floor,
            lf_ptp_uv=float(lf.max() - lf.min()) if lf.size else 0.0,
            clipped=self._clipped(raw, floor),
            cut=cut,
            spike_ratio=self._spike_ratio(buf, i, seg0, L),
            snippet=snip,
            shape_only=shape_only,
            snippet_norm=snip_norm,
        )

    def _snippet(self, buf: np.ndarray, i: int, seg0: int, L: int) -> tuple[np.ndarray | None, float]:
        """The unit-norm waveform around the largest sample ``i`` and the norm it had (None, 0
        near the buffer's edges)."""
        lo, hi = i - self.snip_n, i + self.snip_n + 1
        if lo < seg0 or hi > L:
            return None, 0.0
        w = buf[Y, lo:hi]
        norm = math.sqrt(float(np.add.reduce(w * w)))  # as ``_unit_rows`` adds a row; the same rounded root
        return (w / norm, norm) if norm > 0 else (None, 0.0)

    def _spike_ratio(self, buf: np.ndarray, i: int, seg0: int, L: int) -> float:
        """How much of the raw event the sample at ``i`` (the largest band-passed one) carries."""
        lo, hi = max(i - self.spike_n, seg0), min(i + self.spike_n + 1, L)
        raw = buf[RAW, lo:hi]
        if raw.size < 3:
            return 0.0
        r = np.abs(raw[1:-1] - 0.5 * (raw[:-2] + raw[2:]))
        span = float(raw.max() - raw.min())
        return float(r.max() / span) if span > 0 else 0.0

    def _clipped(self, raw: np.ndarray, floor: float) -> bool:
        if raw.size == 0:
            return False
        if self.clip_uv is not None:
            s, e = _runs(np.abs(raw) >= self.clip_uv)
            return bool(np.any(e - s >= CLIP_LEVEL_SAMPLES))
        # flat top: equal samples in a row at the burst's extreme value (how many depends on
        # the trace's quantisation, worked out only for a burst with clip_run of them at all)
        need = None
        for extreme in (raw.max(), raw.min()):
            at = raw == extreme
            if np.count_nonzero(at) >= self.clip_run:
                need = flat_top_run(raw, floor, self.clip_run) if need is None else need
                s, e = _runs(at)
                if np.any(e - s >= need):
                    return True
        return False
