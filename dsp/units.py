"""Motor-unit fingerprints: which twitches come from the same recurring source.

A fasciculating motor unit fires again and again with nearly the same waveform at a fixed
electrode. Each twitch's band-passed snippet (all channels, centred on its energy centroid,
upsampled to ~4 kHz so sub-sample jitter does not matter) is fitted against running
templates over a small range of lags, in one matrix product. It joins a template when the
residual after fitting a gain is what the noise alone would leave (plus a small shape
tolerance) and the gain is close to 1; otherwise a provisional template is started. A
template that recurs becomes a *unit* ("U1", "U2", ... in order of recognition); templates
that converge are merged (the younger name becomes an alias of the older). A twitch that
is two known waveforms on top of each other (a doublet, an overlap) gets no unit and
starts no template.

A unit is a recurring waveform at this electrode position, not an anatomical motor unit
and not a diagnosis. Everything here is deterministic given the event order, which the
coincidence stage makes chunk-independent.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from scipy import signal

try:  # scipy.signal.upfirdn's helper (checked against upfirdn by the tests and identity_check)
    from scipy.signal._upfirdn import _UpFIRDn
except ImportError:  # pragma: no cover - a future scipy may move it
    _UpFIRDn = None

from myotwitch.dsp import kernels
from myotwitch.dsp.coincidence import CoincidenceMerger
from myotwitch.dsp.events import Event, with_unit
from myotwitch.dsp.ring import SignalRing


class _Upsampler:
    """``scipy.signal.resample_poly(x, up, 1, axis=-1, window=fir)`` for a fixed input length,
    bit for bit (the same zero-padded filter through ``upfirdn``), with the padding worked out
    once instead of per call."""

    def __init__(self, fir: np.ndarray, up: int, n_in: int) -> None:
        half_len = (fir.size - 1) // 2
        h = fir * up
        n_pre_pad = 1 - half_len % 1
        self.n_out = n_in * up
        self.start = (half_len + n_pre_pad)
        n_post_pad = 0
        while (n_in - 1) * up + h.size + n_pre_pad + n_post_pad < self.n_out + self.start:
            n_post_pad += 1  # the same test as resample_poly's (upfirdn's output length)
        self.h = np.concatenate([np.zeros(n_pre_pad), h, np.zeros(n_post_pad)])
        self.up = up
        # upfirdn re-derives its polyphase filter on every call, which costs more than filtering
        # one twitch: the same helper object it builds, built once (float64 in, as here)
        self._ufd = _UpFIRDn(self.h, np.dtype(np.float64), up, 1) if _UpFIRDn is not None else None
        # upfirdn's own arrangement of the filter (its phases, each reversed), for kernels.upsample
        h_full = np.zeros(self.h.size + (-self.h.size % up))
        h_full[:self.h.size] = self.h
        self.h_trans_flip = np.ascontiguousarray(h_full.reshape(-1, up).T[:, ::-1].ravel())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        kernel = kernels.upsample()
        if kernel is not None and x.ndim == 3 and x.dtype == np.float64:  # the same sums, side by side
            out = np.empty((*x.shape[:2], self.n_out))
            kernel(x, self.h_trans_flip, self.up, self.start, out)
            return out
        if self._ufd is not None and x.dtype == np.float64:
            y = self._ufd.apply_filter(x, -1)
        else:
            y = signal.upfirdn(self.h, x, self.up, 1, axis=-1)
        return y[..., self.start: self.start + self.n_out]


def _gather(ring: SignalRing, starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``ring.gather``, with slices for a few windows (live blocks bring one twitch at a time, and
    one fancy index over every channel costs more than the copies): the same samples, and zeros
    where a window is not wholly kept (``ring.gather`` leaves arbitrary numbers there)."""
    if len(starts) > 4:
        return ring.gather(starts, n)
    first, end = ring.start, ring.end
    s_l = starts.tolist()
    ok = [first <= s and s + n <= end for s in s_l]
    if not any(ok):
        return None
    out = np.zeros((len(s_l), ring.n_channels, n))
    for j, s in enumerate(s_l):
        if ok[j]:
            out[j] = ring.window(s, s + n)[0]
    return out, np.array(ok)


def median_last(y: np.ndarray) -> np.ndarray:
    """``np.median(y, axis=-1)`` for finite data, bit for bit (the middle one, or the two middle
    ones added and halved), without np.median's per-call checks, which cost more than the work
    for one twitch's window. Of an even count, the lower middle one is the largest of those a
    partition at the upper one puts before it: one selection instead of two (3x faster on a
    batch of 8-channel windows). (A partition at both middles at once is twice as fast on one
    twitch's rows in a benchmark loop, but slower amid the pipeline's other work.)"""
    n = y.shape[-1]
    h = n // 2
    p = np.partition(y, h, axis=-1)
    if n % 2:
        return p[..., h]
    return (np.maximum.reduce(p[..., :h], axis=-1) + p[..., h]) / 2.0


#: the merge pre-check (``UnitTracker._may_merge``) for up to this many templates x channels is
#: the list code (compiled: ``kernels.may_merge_few``), for more the array code (``kernels.may_merge``)
MAY_MERGE_FEW = 16


#: a batch of windows of up to this many samples is sorted by numpy for the noise figures (its
#: SIMD sort of up to 256 values, then ``kernels.robust_rms_sorted``: ~0.5 against ~1 us a window
#: of 150); longer ones, or one twitch's, go through the selection (numpy's sort is slower there)
SORTED_MAX = 256


def _robust_rms(y: np.ndarray) -> np.ndarray:
    """The noise RMS of windows ``(..., n)`` from their median absolute deviation (floored)."""
    kernel = kernels.robust_rms() if 2 <= y.ndim <= 3 and y.dtype == np.float64 else None
    if kernel is not None:  # the same figures in one pass (dsp/kernels.py), unless a sample is not finite
        y3 = y if y.ndim == 3 else y[None]
        out = np.empty(y3.shape[:2])
        by_sort = kernels.robust_rms_sorted() if y3.shape[0] > 1 and y3.shape[2] <= SORTED_MAX else None
        if by_sort(np.sort(y3, axis=-1), out) if by_sort is not None else kernel(y3, out):
            return out if y.ndim == 3 else out[0]
    med = median_last(y)[..., None]
    return np.maximum(1.4826 * median_last(np.abs(y - med)), 1e-6)


@dataclass(frozen=True)
class UnitConfig:
    """Settings of the unit stage (defaults tuned on the synthetic recurring-source suite)."""

    #: snippet before/after the twitch's energy centroid (ms)
    pre_ms: float = 15.0
    post_ms: float = 15.0
    #: alignment search either side (ms): covers centroid wobble and 0-3 ms conduction delays
    lag_ms: float = 4.0
    #: snippets are upsampled to at least this rate before alignment
    upsample_to_hz: float = 4000.0
    #: noise is measured over this much band-passed signal before the twitch (ms)
    noise_ms: float = 150.0
    #: residual allowed: noise expectation x (1 + z * its relative spread) + (shape_tol x fit)^2
    z: float = 3.5
    shape_tol: float = 0.3
    #: gain must be within 1 +- (amp_tol + amp_noise_k / sqrt(template energy over noise))
    amp_tol: float = 0.22
    amp_noise_k: float = 2.5
    #: running mean over at most this many members (slow drift is followed)
    mean_cap: int = 30
    #: memory bounds
    max_templates: int = 48
    keep_snippets: int = 12
    #: doublets/overlaps: up to two known waveforms are looked for this far beyond the snippet (ms),
    #: at least this far apart (ms)
    overlap_ms: float = 10.0
    overlap_min_sep_ms: float = 2.0
    #: coincident detections on other channels within this window are the same twitch (ms)
    coincidence_ms: float = 4.0


def _key(e: Event) -> tuple[int, int, float]:
    """Identifies a twitch for hindsight labels (the size makes a chance match impossible when
    a caller has shifted sample numbers, as the recorder does per file)."""
    return (e.onset_sample, e.channel, e.peak_to_peak_uv)


@dataclass(eq=False)
class _Margins:
    """What the last exact merge check of a template t proved, in t's whitening at the time: for
    each other template o (row ``pos[o.created]``), over every lag L and every gain g in
    [1 - tol, 1 + tol], the distance |w_L - g o| exceeds what the check allows,
    sqrt(allow^2 + (shape_tol g |o|)^2), by at least ``bound`` (see ``UnitTracker._merge_margins``);
    and the fitted gain of o was ``d_max`` / ``norm_o`` ^ 2."""

    ids: list[int]  # every template's ``created`` then, in order (t's own included)
    pos: dict[int, int]  # their rows
    ref: np.ndarray  # (K, C*L) their waves then, in float32 (half the memory; each element within
    # 2^-24 of itself, so a distance to it is within 2^-24 of the wave's norm of the distance to the wave)
    inv: list[float]  # t's 1/sigma per channel then
    norm_t: float  # |t| whitened then
    bound: list[float]  # per row (-inf: nothing proven, and t's own row)
    allow: list[float]  # sqrt(up x the pair's noise allowance) then
    h_hi: list[float]  # the whole allowance at g = 1 + tol
    tol: list[float]
    norm_o: list[float]  # |o| whitened then
    d_max: list[float]  # the largest product of o with a lag window then (its fitted gain is d_max / |o|^2)


@dataclass(eq=False, slots=True)  # (read and updated per twitch: slots are quicker)
class _Template:
    wave: np.ndarray  # (channels * L_up,) µV, aligned
    n: int
    created: int  # creation order (older wins a merge)
    founder: tuple[int, int, float]  # (onset_sample, channel, peak-to-peak) of the twitch that started it
    last_sample: int
    sigma: np.ndarray  # mean noise RMS per channel of its members (µV)
    unit: str | None = None
    snippets: deque | None = None
    #: started by a twitch that two known units also explain: it must out-fit them to grow
    from_overlap: bool = False
    #: by how much the others provably failed to merge into it at its last exact merge check
    margins: _Margins | None = None


class UnitTracker:
    """Online template matching. ``observe(event, ring)`` returns the event's unit (or None)."""

    def __init__(self, fs: float, n_channels: int, config: UnitConfig | None = None,
                 band_high_hz: float | None = None) -> None:
        self.cfg = cfg = config or UnitConfig()
        self.fs = fs
        self.n_channels = n_channels
        self.up = max(1, math.ceil(cfg.upsample_to_hz / fs))
        ms = fs / 1000.0
        self.pre_n = max(2, round(cfg.pre_ms * ms))
        self.post_n = max(2, round(cfg.post_ms * ms))
        self.lag_n = max(1, round(cfg.lag_ms * ms))
        self.pad_n = 6  # extra samples so resampling edge effects stay outside the snippet
        self.wide_n = max(2, round(cfg.overlap_ms * ms))  # more context to explain doublets/overlaps
        self.min_sep = max(1, round(cfg.overlap_min_sep_ms * ms * self.up))
        self.noise_n = max(8, round(cfg.noise_ms * ms))
        self.guard_n = max(1, round(3 * ms))
        self.L = (self.pre_n + self.post_n) * self.up  # template length per channel (upsampled)
        # resample_poly's own anti-imaging filter, designed once instead of per twitch
        self._fir = signal.firwin(20 * self.up + 1, 1.0 / self.up, window=("kaiser", 5.0)) if self.up > 1 else None
        self._upsampler = _Upsampler(self._fir, self.up, self.pre_n + self.post_n
                                     + 2 * (self.lag_n + self.wide_n + self.pad_n)) if self._fir is not None else None
        self.n_lags = 2 * self.lag_n * self.up + 1
        #: the merge check searches twice the lags: a template padded by this much either side
        self._merge_pad = 2 * self.lag_n * self.up
        #: twitches whose lag windows are cut together: enough to share the batch's work, few enough
        #: that their windows (n_lags x C x L floats each, 0.25 MB at 8 ch) stay in cache until each
        #: twitch is fitted (64 at 8 ch, 16 MB, ran ~10% slower than 16)
        self.batch = max(4, min(64, (4 << 20) // (self.n_lags * n_channels * self.L * 8)))
        #: ... and with the compiled kernels, which cut each twitch's windows from its snippet
        #: (``(C, W)`` upsampled floats) as it is fitted: the batch holds the snippets only, so
        #: more twitches share its work (each batch costs ~0.1 ms in calls: 1 us a twitch at 64)
        width = (self.pre_n + self.post_n + 2 * (self.lag_n + self.wide_n)) * self.up
        self.fused_batch = max(4, min(1024, (4 << 20) // (n_channels * width * 8)))
        self._pairs_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # effective degrees of freedom of band-limited noise over the snippet
        self.occupied = min(1.0, 2.0 * (band_high_hz or 0.45 * fs) / fs)
        self.n_dof = n_channels * (self.pre_n + self.post_n)
        self.spread = cfg.z * math.sqrt(2.0 / max(self.n_dof * self.occupied, 1.0))
        #: ``kernels.fit_rows``'s settings: noise factors from members, or given (the merge check)
        par = [float(cfg.mean_cap), float(self.up), float(self.n_dof), 1.0 + self.spread, cfg.shape_tol,
               cfg.amp_tol, cfg.amp_noise_k]
        self._fit_par = (np.array(par + [1.0]), np.array(par + [0.0]))
        #: ``kernels.fit_join``'s: the first, then where a wide snippet's first lag window starts, and up
        self._join_par = np.array(par + [1.0, float(self.wide_n * self.up), float(self.up)])
        #: ``kernels.may_merge``'s
        self._may_par = np.array([float(cfg.mean_cap), float(self.up), self.n_dof * (1.0 + self.spread), cfg.amp_tol,
                                  cfg.amp_noise_k, cfg.shape_tol])
        self.reset()

    @property
    def lookback_n(self) -> int:
        """How far before a twitch's onset the ring must reach."""
        return self.noise_n + self.pre_n + self.lag_n + self.wide_n + self.pad_n + self.guard_n + 1

    def reset(self) -> None:
        self._templates: list[_Template] = []
        self._created = 0
        self._stack: np.ndarray | None = None  # the templates' waves stacked (kept in step with them)
        #: (the stack, its templates' members as floats, their noise figures (K, C), whether each started
        #: from an overlap, their per-channel energies (K, C)), kept in step with the stack
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        #: the whitened stack and its energies (``_fit_join``'s buffers)
        self._white, self._dots = np.empty((0, 0)), np.empty((0, 0))
        self._ww = np.empty((self.n_lags, self.n_channels * self.L))  # one twitch's whitened lag windows
        self._x0 = self.wide_n * self.up  # where a wide snippet's first lag window starts
        #: the size of a join's kept snippet (worked out once: a fresh one a twitch)
        self._snip_shape = (self.n_channels, self.L // self.up)
        #: ``_fit_join``'s new wave and noise figures are written here; a join hands these to the
        #: template and keeps its old pair for the next (nothing else holds a template's arrays:
        #: ``template_info`` copies), which saves two fresh arrays a twitch
        self._spare = (np.empty(self.n_channels * self.L), np.empty(self.n_channels))
        #: ``_fit_join``'s views (``_join_views_for``), for the stack first in the tuple
        self._join_views: tuple[np.ndarray, ...] = (np.empty(0),)
        cap = self.cfg.max_templates + 1
        #: the rows ``kernels.fit_join`` reads and writes, packed so that its call passes few arguments
        #: (numba's dispatch costs ~50 ns an argument): per template, the whitened energies, members,
        #: whether it started from an overlap and the fit's ratios, then the lag windows' energies ...
        self._per = np.empty((5, max(cap, self.n_lags)))
        #: ... and the templates' noise figures and per-channel energies (``_rows``' are views of both)
        self._per_ch = np.empty((2, cap, self.n_channels))
        self._may_scratch = np.empty(self.n_channels)  # kernels.may_merge's
        #: ``kernels.fit_rows``'s outputs for ``_best`` and ``_fit_join`` (lags, ratios, verdicts), reused:
        #: sized for the most templates there can be (``_create`` evicts at the cap), the ratios
        #: ``_per[3]``, where ``kernels.fit_join`` writes them
        self._fit_out = (np.empty(cap, dtype=np.int64), self._per[3, :cap], np.empty(cap, dtype=bool))
        self._next_unit = 1
        self.aliases: dict[str, str] = {}  # merged unit -> surviving unit
        self.founders: dict[tuple[int, int, float], str] = {}  # founding twitch -> its unit (known in hindsight)
        self.retired: list[dict] = []  # units evicted to bound memory (their summaries)

    # -- matching ------------------------------------------------------------------------
    def observe(self, e: Event, ring: SignalRing) -> str | None:
        """One twitch at a time (the reference the batched path must equal)."""
        return self.observe_prepared(e, self._snippet(e, ring))

    def observe_all(self, events: list[Event], ring: SignalRing) -> list[str | None]:
        """Units of ``events`` (in order): the snippets, noise figures and whitened lag windows
        of all of them are cut and upsampled at once (in batches, to bound memory); only the
        template decisions run one twitch at a time."""
        out: list[str | None] = [None] * len(events)
        x = self.wide_n * self.up
        fused = self._fused()
        step = self.batch if fused is None else self.fused_batch
        for b0 in range(0, len(events), step):
            batch = events[b0: b0 + step]
            idx, seg, sig = self._prepare(batch, ring)
            if not idx:
                continue
            inv = 1.0 / sig  # (B, C)
            if fused is not None:  # each twitch's windows cut and whitened by the kernel, in cache
                for i, wide, sigma, inv_i in zip(idx, seg, sig, inv):  # (iterating: cheaper views than indexing)
                    out[b0 + i] = self._decide_fused(fused, batch[i], wide, sigma, inv_i)
                continue
            # whitening the snippet then cutting the lags gives the very products of cutting then
            # scaling (each element is the same sample times the same 1/sigma)
            ww_all = self._lag_windows(seg * inv[:, :, None], x, self.n_lags)  # (B, n_lags, C*L)
            wscale_all = np.repeat(inv, self.L, axis=1)  # (B, C*L)
            e_all = np.add.reduce(ww_all * ww_all, axis=-1)  # (B, n_lags) the windows' energies, as _products'
            for j, i in enumerate(idx):
                out[b0 + i] = self._decide(batch[i], seg[j], sig[j], ww_all[j], wscale_all[j], e_all[j])
        return out

    def observe_prepared(self, e: Event, snip: tuple[np.ndarray, np.ndarray] | None) -> str | None:
        """One twitch's unit from its prepared snippet ``(wide, sigma)`` (see ``snippets``)."""
        if snip is None:
            return None
        wide, sigma = snip  # wide: (channels, L + 2*(lag+wide)*up) µV upsampled; sigma: (channels,)
        x = self.wide_n * self.up
        inv = 1.0 / sigma
        fused = self._fused()
        if fused is not None:
            return self._decide_fused(fused, e, wide, sigma, inv)
        ww = self._lag_windows(wide * inv[:, None], x, self.n_lags)
        return self._decide(e, wide, sigma, ww, np.repeat(inv, self.L))

    @staticmethod
    def _fused() -> tuple[Callable[..., int], Callable[..., None]] | None:
        """The kernels ``_fit_join`` calls, or None (the pure path)."""
        fit_join, whiten = kernels.fit_join(), kernels.whiten()
        return None if fit_join is None or whiten is None else (fit_join, whiten)

    def _lag_windows(self, seg: np.ndarray, start: int, n_lags: int) -> np.ndarray:
        """``(..., C, W)`` -> ``(..., n_lags, C*L)``: window ``i`` is ``seg[..., :, start+i : start+i+L]``
        with the channels concatenated, as a fresh C-contiguous array (a strided view copied once;
        fancy indexing costs ~100x more here)."""
        v = seg[..., start:]
        *lead, C, _ = v.shape
        st = v.strides
        win = as_strided(v, (*lead, n_lags, C, self.L), (*st[:-2], st[-1], st[-2], st[-1]), writeable=False)
        out = np.empty((*lead, n_lags, C * self.L))
        out.reshape(win.shape)[...] = win
        return out

    def _aligned(self, wide: np.ndarray, lag: int) -> np.ndarray:
        """The (unwhitened) snippet at lag index ``lag``, channels concatenated."""
        x = self.wide_n * self.up + lag
        return wide[:, x: x + self.L].reshape(-1)

    def _decide(self, e: Event, wide: np.ndarray, sigma: np.ndarray, ww: np.ndarray,
                wscale: np.ndarray, energy: np.ndarray | None = None) -> str | None:
        """Join, start or explain away one twitch; ``ww`` are its whitened lag windows (``energy``
        theirs, when known)."""
        return self._settle(e, wide, sigma, wscale, self._best(ww, wscale, energy))

    def _decide_fused(self, fused: tuple[Callable[..., int], Callable[..., None]], e: Event, wide: np.ndarray,
                      sigma: np.ndarray, inv: np.ndarray) -> str | None:
        """``_decide`` by ``kernels.whiten`` and ``kernels.fit_join`` (``_fused``), which decide and
        join the common case (the best template joins) in two calls; ``inv``: 1 / ``sigma``."""
        best = None
        if self._templates:
            k, best = self._fit_join(fused[0], fused[1], e, wide, sigma, inv)
            if k >= 0:
                return self._joined(k, e)
        return self._settle(e, wide, sigma, np.repeat(inv, self.L), best)

    def _settle(self, e: Event, wide: np.ndarray, sigma: np.ndarray, wscale: np.ndarray,
                best: tuple[int, int, float] | None) -> str | None:
        """``_decide`` from ``_best``'s answer: the overlap check where it is due, then a join, a new
        template or nothing."""
        overlap = None
        if best is None or (self._templates[best[0]].from_overlap and self._templates[best[0]].n < 3):
            overlap = self._overlap(wide / sigma[:, None], wscale)
        if best is not None and (overlap is None or best[2] <= overlap[2]):
            k, lag, _ = best
            return self._join(k, wide, lag, sigma, e)
        if best is None:
            # a new waveform, or a doublet/overlap of known ones: keep it provisionally either way,
            # so a new source that happens to resemble two known ones still gets its own unit
            self._create(self._aligned(wide, self.lag_n * self.up), sigma, e, from_overlap=overlap is not None)
        if overlap is not None:
            a, b, _ = overlap  # two known waveforms: the same unit twice (a doublet) keeps its unit
            return a.unit if a is b else None
        return None

    def snippets(self, events: list[Event], ring: SignalRing) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """``_snippet`` for many twitches: ``(wide, sigma)`` per twitch, None where it cannot be cut."""
        idx, seg, sig = self._prepare(events, ring)
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(events)
        for j, i in enumerate(idx):
            out[i] = (seg[j], sig[j])
        return out

    def _prepare(self, events: list[Event], ring: SignalRing) -> tuple[list[int], np.ndarray, np.ndarray]:
        """The same numbers as ``_snippet`` for many twitches, with the medians, the gathering and
        the upsampling done once over stacked arrays: which events could be cut, their upsampled
        wide snippets ``(B, C, W)`` and noise figures ``(B, C)``."""
        none: tuple[list[int], np.ndarray, np.ndarray] = ([], np.empty((0, self.n_channels, 0)),
                                                          np.empty((0, self.n_channels)))
        if not events:
            return none
        if len(events) == 1:  # (live blocks) one twitch: its slices, without the batch's bookkeeping
            return self._prepare_one(events[0], ring) or none
        onsets = np.fromiter((e.onset_sample for e in events), dtype=np.int64, count=len(events))
        sig = _gather(ring, onsets - (self.lag_n + self.pad_n + self.guard_n + self.noise_n), self.noise_n)
        if sig is None:
            s_all = np.empty((len(events), self.n_channels))
            ok_all = np.zeros(len(events), dtype=bool)
        else:
            y, ok_all = sig
            s_all = _robust_rms(y)
        have = np.ones(len(events), dtype=bool)
        for i in np.flatnonzero(~ok_all).tolist():  # too little before: the noise after (rare)
            sigma = self._noise(events[i], ring)
            if sigma is None:
                have[i] = False
            else:
                s_all[i] = sigma
        back = self.pre_n + self.lag_n + self.wide_n + self.pad_n
        kernel = kernels.centroids()
        got_c = None if kernel is None else self._centre_array(kernel, events, onsets, ring, s_all, have)
        if got_c is not None:  # (as arrays: the list below costs ~0.5 us a twitch)
            centre, ok_c = got_c
            los = np.where(ok_c, centre - back, -1)
        else:
            los = np.array([-1 if c is None else c - back for c in self._centres(events, ring, s_all, have)],
                           dtype=np.int64)
        width = self.pre_n + self.post_n + 2 * (self.lag_n + self.wide_n + self.pad_n)
        got = _gather(ring, los, width)
        if got is None:
            return none
        seg, ok = got
        ok &= (los >= 0) & have
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            return none
        return idx.tolist(), self._upsampled(seg[idx]), s_all[idx]

    def _prepare_one(self, e: Event, ring: SignalRing) -> tuple[list[int], np.ndarray, np.ndarray] | None:
        """``_prepare`` of one twitch (None where it cannot be cut): the same windows of the ring,
        the same figures computed over them in the same order, with slices for fancy indexing."""
        lo = e.onset_sample - (self.lag_n + self.pad_n + self.guard_n + self.noise_n)
        if ring.start <= lo and lo + self.noise_n <= ring.end:
            sigma = _robust_rms(ring.window(lo, lo + self.noise_n)[0])
        else:  # too little before: the noise after (rare)
            got = self._noise(e, ring)
            if got is None:
                return None
            sigma = got
        centre = self._centre(e, ring, sigma)
        if centre is None:
            return None
        lo = centre - (self.pre_n + self.lag_n + self.wide_n + self.pad_n)
        hi = lo + self.pre_n + self.post_n + 2 * (self.lag_n + self.wide_n + self.pad_n)
        if lo < 0 or lo < ring.start or hi > ring.end:
            return None
        return [0], self._upsampled(ring.window(lo, hi)[0][None]), sigma[None]

    def _upsampled(self, seg: np.ndarray) -> np.ndarray:
        """Wide snippets ``(B, C, n)`` upsampled, less the padding (a new array)."""
        cut = self.pad_n * self.up
        ups = self._upsampler
        kernel = kernels.upsample() if ups is not None and seg.ndim == 3 and seg.dtype == np.float64 else None
        if kernel is not None and ups is not None:  # only the outputs kept (each the same sum), contiguous
            out = np.empty((*seg.shape[:2], ups.n_out - 2 * cut))
            kernel(seg, ups.h_trans_flip, ups.up, ups.start + cut, out)
            return out
        seg = ups(seg) if ups is not None else seg.copy()
        return seg[:, :, cut: seg.shape[2] - cut]

    def _centres(self, events: list[Event], ring: SignalRing, sigma: np.ndarray, have: np.ndarray) -> list[int | None]:
        """``_centre`` of every event with ``have`` set, twitches of one length at a time: stacked
        C-contiguous ``(G, C, n)`` the channel sums run channel by channel and the sums over a
        twitch along its contiguous row, as for one twitch, so the numbers are the same."""
        kernel = kernels.centroids()
        if kernel is not None:  # the same sums in one pass over the ring (dsp/kernels.py)
            return self._centres_compiled(kernel, events, ring, sigma, have)
        out: list[int | None] = [None] * len(events)
        groups: dict[int, list[int]] = {}
        for i, e in enumerate(events):
            if have[i]:
                groups.setdefault(e.offset_sample - e.onset_sample, []).append(i)
        for n, idx in groups.items():
            got = _gather(ring, np.array([events[i].onset_sample for i in idx], dtype=np.int64), n) if n > 0 else None
            if got is None or len(idx) == 1:
                for i in idx:
                    out[i] = self._centre(events[i], ring, sigma[i])
                continue
            y, ok = got
            energy = ((np.ascontiguousarray(y) / sigma[idx][:, :, None]) ** 2).sum(axis=1)  # (G, n)
            total = energy.sum(axis=1).tolist()
            moment = (energy * np.arange(n)).sum(axis=1).tolist()
            for j, i in enumerate(idx):
                if not ok[j]:  # reaches outside what the ring keeps: clipped, as one at a time
                    out[i] = self._centre(events[i], ring, sigma[i])
                else:
                    t = total[j]
                    out[i] = events[i].onset_sample + (int(round(moment[j] / t)) if t > 0 else 0)
        return out

    @classmethod
    def _centres_compiled(cls, kernel: Callable[..., None], events: list[Event], ring: SignalRing, sigma: np.ndarray,
                          have: np.ndarray) -> list[int | None]:
        """``_centres`` by ``kernels.centroids``: every window cut from what the ring keeps, as
        ``_centre`` cuts it, and the same sums."""
        onsets = np.fromiter((e.onset_sample for e in events), dtype=np.int64, count=len(events))
        start, ratio, ok = cls._centroids(kernel, events, onsets, ring, sigma, have)
        return [a + int(round(r)) if g else None for a, r, g in zip(start.tolist(), ratio.tolist(), ok.tolist())]

    @classmethod
    def _centre_array(cls, kernel: Callable[..., None], events: list[Event], onsets: np.ndarray, ring: SignalRing,
                      sigma: np.ndarray, have: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``_centres_compiled`` as arrays (the centres, whether each has one), or None where a
        centroid is not finite. ``np.rint`` rounds half to even, as ``round`` does."""
        start, ratio, ok = cls._centroids(kernel, events, onsets, ring, sigma, have)
        if not np.isfinite(ratio).all():
            return None
        return start + np.rint(ratio).astype(np.int64), ok

    @staticmethod
    def _centroids(kernel: Callable[..., None], events: list[Event], onsets: np.ndarray, ring: SignalRing,
                   sigma: np.ndarray, have: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``kernels.centroids``' outputs: each window's first sample, its centroid's offset, whether any is kept."""
        y, at = ring.window(ring.start, ring.end)
        B = len(events)
        offsets = np.fromiter((e.offset_sample for e in events), dtype=np.int64, count=B)
        start, ratio, ok = np.zeros(B, dtype=np.int64), np.zeros(B), np.zeros(B, dtype=bool)  # (0 where none)
        kernel(y, at, onsets, offsets, sigma, have, start, ratio, ok)
        return start, ratio, ok

    def _centre(self, e: Event, ring: SignalRing, sigma: np.ndarray) -> int | None:
        """The twitch's energy centroid (absolute sample)."""
        y, at = ring.window(e.onset_sample, e.offset_sample)
        if y.shape[1] == 0:
            return None
        kernel = kernels.centroid()
        if kernel is not None:  # the same sums in one pass (dsp/kernels.py)
            return at + int(round(kernel(y, sigma)))
        energy = ((y / sigma[:, None]) ** 2).sum(axis=0)
        total = energy.sum()
        return at + (int(round(float((energy * np.arange(energy.size)).sum() / total))) if total > 0 else 0)

    def _snippet(self, e: Event, ring: SignalRing) -> tuple[np.ndarray, np.ndarray] | None:
        y, at = ring.window(e.onset_sample, e.offset_sample)
        if y.shape[1] == 0:
            return None
        sigma = self._noise(e, ring)
        if sigma is None:
            return None
        energy = ((y / sigma[:, None]) ** 2).sum(axis=0)
        total = energy.sum()
        centre = at + (int(round(float((energy * np.arange(energy.size)).sum() / total))) if total > 0 else 0)
        lo = centre - self.pre_n - self.lag_n - self.wide_n - self.pad_n
        hi = centre + self.post_n + self.lag_n + self.wide_n + self.pad_n
        seg, at = ring.window(lo, hi)
        if at != lo or seg.shape[1] != hi - lo:
            return None
        if self.up > 1:
            seg = signal.resample_poly(seg, self.up, 1, axis=1, window=self._fir)
        cut = self.pad_n * self.up
        return seg[:, cut: seg.shape[1] - cut], sigma

    def _noise(self, e: Event, ring: SignalRing) -> np.ndarray | None:
        """Robust band-passed noise RMS per channel just before the twitch (after it when the
        data start or a gap leave too little before)."""
        lo_onset = e.onset_sample - self.lag_n - self.pad_n - self.guard_n
        y, _ = ring.window(lo_onset - self.noise_n, lo_onset)
        if y.shape[1] < self.noise_n // 2:
            after = e.offset_sample + self.lag_n + self.pad_n + self.guard_n
            y, _ = ring.window(after, after + self.noise_n)
            if y.shape[1] < 8:
                return None
        return _robust_rms(y)

    def _windows(self, seg: np.ndarray) -> np.ndarray:
        win = sliding_window_view(seg, self.L, axis=1)  # (C, n_lags, L)
        return np.ascontiguousarray(win.transpose(1, 0, 2)).reshape(win.shape[1], -1)

    def _fit(self, ww: np.ndarray, wscale: np.ndarray, templates: list[_Template],
             extra_n: list[float] | None = None, stack: np.ndarray | None = None, keep: list | None = None,
             e: np.ndarray | None = None) -> tuple[int | None, list[int], list[float], list[bool]]:
        """For each template, the best lag: (the first best passing template, lags,
        residual/threshold, passes). ``e``: the lag windows' energies, if already known.

        The products over lags are one matrix product; the few figures per template are
        plain floats (the same IEEE operations in the same order as array code, without its
        per-call overhead, which dominated at one twitch at a time), or one compiled pass."""
        dots, tt_a, e = self._products(ww, wscale, np.stack([t.wave for t in templates]) if stack is None else stack, e)
        if keep is not None:  # the merge check's margins are worked out from the same products
            keep += [dots, tt_a, e]
        kernel = kernels.fit_rows()
        if kernel is not None:  # the same figures in one pass (dsp/kernels.py)
            K = len(templates)
            lag_a, ratio_a, ok_a = np.empty(K, dtype=np.int64), np.empty(K), np.empty(K, dtype=bool)
            if extra_n is None:
                n = np.fromiter((t.n for t in templates), dtype=np.float64, count=K)
                first = kernel(dots, tt_a, e, n, self._fit_par[0], lag_a, ratio_a, ok_a)
            else:
                first = kernel(dots, tt_a, e, np.array(extra_n, dtype=np.float64), self._fit_par[1],
                               lag_a, ratio_a, ok_a)
            return (None if first < 0 else first), lag_a.tolist(), ratio_a.tolist(), ok_a.tolist()
        cfg = self.cfg
        explained = np.where(dots > 0, dots * dots / tt_a[:, None], -np.inf)
        lags = explained.argmax(axis=1)
        lag_l = lags.tolist()
        wsq = e[lags].tolist()  # only the chosen lags' energies are needed
        d_l = [dots.item(i, lag) for i, lag in enumerate(lag_l)]
        ex_l = [explained.item(i, lag) for i, lag in enumerate(lag_l)]
        tt_l = tt_a.tolist()
        up, cap = self.up, cfg.mean_cap
        base = float(self.n_dof)
        spread1 = 1.0 + self.spread
        out_ratio, out_pass = [], []
        for i, t in enumerate(templates):
            d, tt = d_l[i], tt_l[i]
            gain = d / tt
            resid = (wsq[i] - max(ex_l[i], 0.0)) / up
            nf = 1.0 + 1.0 / min(float(t.n), cap) if extra_n is None else float(extra_n[i])
            sg = cfg.shape_tol * gain
            allowed = base * nf * spread1 + sg * sg * tt / up
            ratio = resid / allowed
            tol = cfg.amp_tol + cfg.amp_noise_k / math.sqrt(max(tt / up, 1e-12))
            amp_ok = abs(gain - 1.0) <= tol
            out_ratio.append(ratio)
            out_pass.append(d > 0 and amp_ok and ratio <= 1.0)
        return self._first_best(out_ratio, out_pass), lag_l, out_ratio, out_pass

    @staticmethod
    def _products(ww: np.ndarray, wscale: np.ndarray, stack: np.ndarray,
                  e: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_fit``'s products: of the whitened templates with the lag windows ``(K, n_lags)``, their
        energies, and the windows' (``e``, unless known)."""
        T = stack * wscale  # whitened
        tt_a = np.add.reduce(T * T, axis=1)  # pairwise, in an order kernels.whiten repeats (einsum's is the machine's)
        dots = T @ ww.T  # (K, n_lags)
        if e is None:
            e = np.add.reduce(ww * ww, axis=-1)  # pairwise, row by row: as kernels.fit_join adds the rows it reads
        return dots, tt_a, e

    @staticmethod
    def _first_best(ratio: list[float], passes: list[bool]) -> int | None:
        """Index of the smallest passing ratio (the first on a tie), None if none passes."""
        best, k = math.inf, None
        for i, (r, ok) in enumerate(zip(ratio, passes)):
            if ok and r < best:
                best, k = r, i
        return k

    def _best(self, ww: np.ndarray, wscale: np.ndarray, e: np.ndarray | None = None) -> tuple[int, int, float] | None:
        if not self._templates:
            return None
        stack = self._stacked()
        kernel = kernels.fit_rows()
        if kernel is None:
            k, lag, ratio, _ = self._fit(ww, wscale, self._templates, stack=stack, e=e)
            return None if k is None else (k, lag[k], ratio[k])
        # ``_fit``'s compiled pass, with the members kept beside the stack and the outputs reused
        # (their allocation and conversion cost more than the pass for one twitch)
        dots, tt_a, e = self._products(ww, wscale, stack, e)
        rows = self._kept_rows()
        lag_a, ratio_a, ok_a = self._fit_out
        k = kernel(dots, tt_a, e, rows[1], self._fit_par[0], lag_a, ratio_a, ok_a)
        return None if k < 0 else (k, lag_a.item(k), ratio_a.item(k))

    def _stacked(self) -> np.ndarray:
        """The templates' waves stacked ``(K, C*L)``: built again after a template came or went
        (a join moves its own row in place)."""
        if self._stack is None:
            self._stack = np.stack([t.wave for t in self._templates])
        return self._stack

    def _kept_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``_rows`` for the current stack (built anew when the stack was)."""
        rows = self._rows
        stack = self._stack
        if rows is None or rows[0] is not stack:
            temps = self._templates
            assert stack is not None
            K = len(stack)
            s3 = stack.reshape(K, self.n_channels, self.L)
            per, per_ch = self._per, self._per_ch
            per[1, :K] = [float(t.n) for t in temps]
            per[2, :K] = [t.from_overlap for t in temps]
            per_ch[0, :K] = [t.sigma for t in temps]
            per_ch[1, :K] = np.add.reduce(s3 * s3, axis=-1)  # pairwise per channel, as kernels.fit_join
            rows = self._rows = (stack, per[1, :K], per_ch[0, :K], per[2, :K], per_ch[1, :K])
        return rows

    def _join_views_for(self, stack: np.ndarray) -> tuple[np.ndarray, ...]:
        """``_fit_join``'s views of its buffers for this stack (its K templates), made once per stack
        (a view costs ~0.1 us); ``_per`` and ``_per_ch`` filled for it."""
        K = len(stack)
        if len(self._white) < K:
            self._white = np.empty((self.cfg.max_templates + 1, stack.shape[1]))
            self._dots = np.empty((self.cfg.max_templates + 1, self.n_lags))
        self._kept_rows()
        self._join_views = (stack, self._white[:K], self._per[0, :K], self._ww, self._ww.T, self._dots[:K])
        return self._join_views

    def _fit_join(self, kernel: Callable[..., int], whiten: Callable[..., None], e: Event, wide: np.ndarray,
                  sigma: np.ndarray, inv: np.ndarray) -> tuple[int, tuple[int, int, float] | None]:
        """``_best`` and, when the best template joins without an overlap check, ``_join``'s update, by
        ``kernels.whiten`` (the twitch's whitened lag windows and the whitened templates), one matrix
        product and ``kernels.fit_join`` (which adds the energies of only the lag windows the fit
        reads): (the template joined, and None; or -1 and ``_best``'s answer). Written flat: at one
        twitch at a time, each Python step is a good part of the cost."""
        stack = self._stacked()
        views = self._join_views
        if views[0] is not stack:
            views = self._join_views_for(stack)
        _, T, tt_a, ww, ww_t, dots = views
        whiten(stack, wide, inv, self._x0, T, tt_a, ww)  # observe_all's and _products' numbers
        # _products' ``T @ ww.T``: np.dot makes the same BLAS call (gemv for one template, else
        # gemm; bit for bit the same on every shape tried) with less dispatch, into a kept array
        np.dot(T, ww_t, out=dots)
        lag_a, ratio_a, ok_a = self._fit_out
        wave, sig = self._spare
        snip = np.empty(self._snip_shape, np.float32)
        k = kernel(dots, ww, self._per, self._join_par, lag_a, ok_a, wide, sigma, stack, self._per_ch, wave, sig, snip)
        if k >= 0:
            t = self._templates[k]
            t.n += 1
            self._spare = (t.wave, t.sigma)
            t.wave, t.sigma = wave, sig
            t.snippets.append(snip)  # type: ignore[union-attr]  # (every template keeps its snippets)
            return k, None
        if k == -1:
            return -1, None
        k = -2 - k
        return -1, (k, lag_a.item(k), ratio_a.item(k))

    def _overlap(self, segw: np.ndarray, wscale: np.ndarray) -> tuple[_Template, _Template, float] | None:
        """Is the (wide, whitened) snippet two known waveforms? Two copies of one unit (a doublet)
        are fitted jointly over every pair of positions; two different units greedily. Only
        units (recurring templates) count, at gains 0.3-3 and at least ``overlap_min_sep_ms``
        apart. If what is left is noise, the two templates are returned."""
        cands = [t for t in self._templates if t.unit is not None]
        if not cands:
            return None
        C, L = self.n_channels, self.L
        Tw = np.stack([t.wave for t in cands]) * wscale  # (K, C*L)
        tt = np.einsum("ij,ij->i", Tw, Tw)
        wins = self._windows(segw)  # (P, C*L)
        P = wins.shape[0]
        d = Tw @ wins.T  # (K, P)
        best: tuple[float, int, int, int, int] | None = None  # (resid/allowed, k1, p1, k2, p2)
        # pairs of positions on a ~2 kHz grid (the fit is checked exactly afterwards)
        grid = np.arange(0, P, max(1, self.up // 2))
        dg = d[:, grid]  # (K, G)
        # the fit of a pair is symmetric in its two positions (the same operations on the same
        # numbers), so each pair is fitted once: i < j, at least min_sep apart, in row-major order
        # (the first best of the full square is the first best of these)
        G = grid.size
        i_p, j_p, lag_p = self._overlap_pairs(G, grid)
        spec = np.fft.rfft(Tw.reshape(len(cands), C, L), n=2 * L, axis=2)
        auto = np.fft.irfft((spec * spec.conj()).real, n=2 * L, axis=2).sum(axis=1)  # (K, 2L): r(lag) at lag
        r = np.where(lag_p[None] < L, auto[:, np.minimum(lag_p, L - 1)], 0.0)  # (K, pairs)
        t2 = tt[:, None]
        det = t2 * t2 - r * r
        d1, d2 = dg[:, i_p], dg[:, j_p]
        with np.errstate(divide="ignore", invalid="ignore"):
            g1 = (t2 * d1 - r * d2) / det
            g2 = (t2 * d2 - r * d1) / det
            ok = (g1 >= 0.3) & (g1 <= 3) & (g2 >= 0.3) & (g2 <= 3) & (det > 1e-9 * t2 * t2)
            expl = np.where(ok, g1 * d1 + g2 * d2, -np.inf)
        top = expl.max(axis=1) if expl.shape[1] else np.full(len(cands), -np.inf)
        for k in np.argsort(-top)[:2]:  # the two units that explain most as a pair of copies
            if not np.isfinite(top[k]):
                break
            m = int(np.argmax(expl[k]))
            p1, p2 = int(grid[i_p[m]]), int(grid[j_p[m]])
            ratio = self._overlap_ratio(segw, [(Tw[k], float(g1[k, m]), p1), (Tw[k], float(g2[k, m]), p2)],
                                        cands[k].n)
            if best is None or ratio < best[0]:
                best = (ratio, int(k), p1, int(k), p2)
        if len(cands) > 1:  # two different units: the best one, then the best other in the rest
            gain = d / tt[:, None]
            score = np.where((gain >= 0.3) & (gain <= 3.0), d * d / tt[:, None], -np.inf)
            k1, q1 = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
            if np.isfinite(score[k1, q1]):
                rest = segw.copy()
                rest[:, q1: q1 + L] -= gain[k1, q1] * Tw[k1].reshape(C, L)
                d_r = Tw @ self._windows(rest).T
                g_r = d_r / tt[:, None]
                sc = np.where((g_r >= 0.3) & (g_r <= 3.0) & (np.abs(np.arange(P) - q1)[None, :] >= self.min_sep),
                              d_r * d_r / tt[:, None], -np.inf)
                sc[k1] = -np.inf
                k2, q2 = (int(v) for v in np.unravel_index(int(np.argmax(sc)), sc.shape))
                if np.isfinite(sc[k2, q2]):
                    ratio = self._overlap_ratio(segw, [(Tw[k1], float(gain[k1, q1]), int(q1)),
                                                       (Tw[k2], float(g_r[k2, q2]), int(q2))],
                                                min(cands[k1].n, cands[k2].n))
                    if best is None or ratio < best[0]:
                        best = (ratio, int(k1), int(q1), int(k2), int(q2))
        if best is None or best[0] > 1.0:
            return None
        return cands[best[1]], cands[best[3]], best[0]

    def _overlap_pairs(self, G: int, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grid index pairs i < j whose positions are at least ``min_sep`` apart (row-major), and
        their lags (cached per grid size: the grid is the same for every twitch)."""
        got = self._pairs_cache.get(G)
        if got is None:
            i, j = np.triu_indices(G, 1)
            lag = grid[j] - grid[i]
            far = lag >= self.min_sep
            got = self._pairs_cache[G] = (i[far], j[far], lag[far])
        return got

    def _overlap_ratio(self, segw: np.ndarray, parts: list[tuple[np.ndarray, float, int]], n_min: int) -> float:
        """Residual after subtracting the parts, over what noise (and shape tolerance) allows."""
        C, L = self.n_channels, self.L
        rest = segw.copy()
        for tw, g, p in parts:
            rest[:, p: p + L] -= g * tw.reshape(C, L)
        lo = min(p for _, _, p in parts)
        hi = max(p for _, _, p in parts) + L
        resid = float((rest[:, lo:hi] ** 2).sum()) / self.up
        n_dof = C * (hi - lo) / self.up
        spread = self.cfg.z * math.sqrt(2.0 / max(n_dof * self.occupied, 1.0))
        fitted = sum(g * g * float(tw @ tw) for tw, g, _ in parts) / self.up
        allowed = n_dof * (1.0 + 2.0 / min(n_min, self.cfg.mean_cap)) * (1.0 + spread) \
            + self.cfg.shape_tol ** 2 * fitted
        return resid / allowed

    # -- template bookkeeping ------------------------------------------------------------
    def _join(self, k: int, wide: np.ndarray, lag: int, sigma: np.ndarray, e: Event) -> str | None:
        """Twitch ``e`` (its snippet ``wide`` at lag index ``lag``) joins template k."""
        t = self._templates[k]
        t.n += 1
        step = 1.0 / min(t.n, self.cfg.mean_cap)
        kernel = kernels.join()
        if kernel is not None:  # the same means and snippet in one pass (dsp/kernels.py)
            wave, sig = np.empty_like(t.wave), np.empty_like(t.sigma)
            snip = np.empty((self.n_channels, self.L // self.up), dtype=np.float32)
            kernel(wide, self.wide_n * self.up + lag, self.up, step, t.wave, t.sigma, sigma, wave, sig, snip)
            t.wave, t.sigma = wave, sig
            assert t.snippets is not None
            t.snippets.append(snip)
        else:
            aligned = self._aligned(wide, lag)
            t.wave = t.wave + (aligned - t.wave) * step
            t.sigma = t.sigma + (sigma - t.sigma) * step
            self._keep_snippet(t, aligned)
        if self._stack is not None:
            self._stack[k] = t.wave
            if self._rows is not None and self._rows[0] is self._stack:
                self._rows[1][k] = t.n
                self._rows[2][k] = t.sigma
                w = t.wave.reshape(self.n_channels, self.L)
                self._rows[4][k] = np.add.reduce(w * w, axis=-1)
        return self._joined(k, e)

    def _joined(self, k: int, e: Event) -> str | None:
        """What follows a join of twitch ``e`` into template k: its unit, and a merge check."""
        t = self._templates[k]
        t.last_sample = e.onset_sample
        if t.unit is None:
            t.unit = f"U{self._next_unit}"
            self._next_unit += 1
            self.founders[t.founder] = t.unit
        unit = t.unit
        if len(self._templates) > 1:
            self._merge_into_older(k)
        return unit

    def _create(self, aligned: np.ndarray, sigma: np.ndarray, e: Event, from_overlap: bool = False) -> None:
        if len(self._templates) >= self.cfg.max_templates:
            self._evict()
        t = _Template(aligned.copy(), 1, self._created, _key(e), e.onset_sample,
                      sigma.copy(), snippets=deque(maxlen=self.cfg.keep_snippets), from_overlap=from_overlap)
        self._keep_snippet(t, aligned)
        self._created += 1
        self._templates.append(t)
        self._stack = None

    def _keep_snippet(self, t: _Template, aligned: np.ndarray) -> None:
        assert t.snippets is not None
        t.snippets.append(aligned.reshape(self.n_channels, self.L)[:, :: self.up].astype(np.float32))

    def _evict(self) -> None:
        """Drop the least recently seen provisional template (else the least recently seen unit)."""
        prov = [i for i, t in enumerate(self._templates) if t.unit is None]
        pool = prov or list(range(len(self._templates)))
        i = min(pool, key=lambda i: self._templates[i].last_sample)
        t = self._templates.pop(i)
        self._stack = None
        if t.unit is not None:
            self.retired.append(self.template_info(t))

    def _may_merge(self, sq: np.ndarray, k: int, inv: np.ndarray, extra: list[float]) -> bool:
        """Whether ``_fit`` could pass any other template for template ``k`` (False only when it
        provably cannot, so the exact fit is skipped, not changed). For a passing gain g >= 1 - tol,
        the residual at any lag is at least sum over channels of (g |T_c| - |t_c|)^2 for the
        channels where that is positive (a window of the zero-padded t holds at most |t_c|), and
        the allowance is at most its value at g = 1 + tol. Units on other channels fail this
        by far, which is most checks with several channels. A bound, so plain floats with slack.
        ``sq``: the templates' per-channel energies, unwhitened (``_energies``)."""
        cfg = self.cfg
        K, C, up = sq.shape[0], self.n_channels, self.up
        if K * C > MAY_MERGE_FEW:
            return self._may_merge_many(sq, k, inv, extra)
        inv_l = inv.tolist()
        norms = [[math.sqrt(v) * w for v, w in zip(row, inv_l)] for row in sq.tolist()]  # whitened |T_c|
        own = norms[k]
        tt_k = sum(v * v for v in own)
        base = self.n_dof * (1.0 + self.spread)
        for o in range(K):
            if o == k:
                continue
            no = norms[o]
            tt = sum(v * v for v in no)
            tol = (cfg.amp_tol + cfg.amp_noise_k / math.sqrt(max(tt / up, 1e-12))) * (1 + 1e-6) + 1e-9
            g = max(1.0 - tol, 0.0)
            low = sum(max(g * a - b, 0.0) ** 2 for a, b in zip(no, own)) / up
            sg = cfg.shape_tol * (1.0 + tol)
            allowed = base * extra[o if o < k else o - 1] + sg * sg * tt / up
            if not low > allowed * 1.001 + 1e-9 * (tt + tt_k) / up:
                return True
        return False

    def _may_merge_compiled(self, k: int, inv: np.ndarray) -> bool | None:
        """``_may_merge``'s verdict by a compiled kernel (dsp/kernels.py), None where Python must
        give it: on the pure path, and where ``kernels.may_merge_few`` (a few templates x channels,
        which run it after every join: ~4 us a twitch in Python) cannot tell that its squares are
        Python's."""
        C = self.n_channels
        many = len(self._templates) * C > MAY_MERGE_FEW
        kernel = kernels.may_merge() if many else kernels.may_merge_few()
        if kernel is None:
            return None
        rows = self._kept_rows()
        if many:
            return bool(kernel(rows[4], k, inv, rows[1], self._may_par, self._may_scratch[:C]))
        got = kernel(rows[4], k, inv, rows[1], self._may_par)
        return None if got < 0 else bool(got)

    def _energies(self) -> np.ndarray:
        """The templates' per-channel energies ``(K, C)`` (of ``_stack``, which must be built), kept
        beside the stack: a join redoes its own row (each row added on its own, pairwise, so the
        numbers are those of the whole stack)."""
        return self._kept_rows()[4]

    def _may_merge_many(self, sq: np.ndarray, k: int, inv: np.ndarray, extra: list[float]) -> bool:
        """``_may_merge`` for many templates x channels, as array arithmetic."""
        cfg, up = self.cfg, self.up
        norms = np.sqrt(sq) * inv  # (K, C) whitened |T_c|
        tt = (norms * norms).sum(axis=1)
        tol = (cfg.amp_tol + cfg.amp_noise_k / np.sqrt(np.maximum(tt / up, 1e-12))) * (1 + 1e-6) + 1e-9
        short = np.maximum(np.maximum(1.0 - tol, 0.0)[:, None] * norms - norms[k], 0.0)
        low = (short * short).sum(axis=1) / up
        sg = cfg.shape_tol * (1.0 + tol)
        allowed = self.n_dof * (1.0 + self.spread) * np.array(extra[:k] + [0.0] + extra[k:]) + sg * sg * tt / up
        fails = low > allowed * 1.001 + 1e-9 * (tt + tt[k]) / up
        fails[k] = True
        return not bool(fails.all())

    #: a margin covers the gain tolerance of the other template down to this fraction of its energy
    _TT_FRAC = 0.6

    def _merge_margins(self, t: _Template, inv: list[float], extra: list[float],
                       dots: np.ndarray, tt: np.ndarray, e: np.ndarray) -> None:
        """Record in ``t.margins``, for each other template o, a lower bound over every lag L and
        every gain g in [1 - tol, 1 + tol] (tol covers o's gain tolerance with room for o to
        shrink) of a(L, g) - h(g), a = |w_L - g o| (whitened; w_L the lag window of the
        zero-padded t), h = sqrt(up A + (s g |o|)^2) (A the pair's noise allowance, s = shape_tol),
        from the products of the exact check. The exact check passes o only at a lag and a gain
        (its least-squares gain d / |o|^2) where a <= h (its residual is a^2 / up, its allowance
        h^2 / up), so only if this bound is <= 0.

        h is convex in g, so on the interval it lies under its chord l(g); a - l is convex in g
        (a norm of an affine function less a linear one), and with a = sqrt(|o|^2 (g - g0)^2 + r^2)
        (g0 = d / |o|^2, r the distance from w_L to the line through o) and the chord's slope
        k |o|, its minimum is at g0 + k r / (sqrt(1 - k^2) |o|) moved into the interval. The
        minimum of a - l over lags and gains is the bound."""
        cfg, up = self.cfg, self.up
        s = cfg.shape_tol
        norm_t = math.sqrt(float(e.max()))
        no = np.sqrt(tt)
        tol = (cfg.amp_tol + cfg.amp_noise_k / np.sqrt(np.maximum(self._TT_FRAC * tt / up, 1e-12))) * (1 + 1e-6) + 1e-9
        g_lo = np.maximum(1.0 - tol, 0.0)
        g_hi = 1.0 + tol
        allow = np.sqrt(float(self.n_dof) * (1.0 + self.spread) * up * np.array(extra))
        h_lo = np.sqrt(allow * allow + (s * g_lo) ** 2 * tt)
        h_hi = np.sqrt(allow * allow + (s * g_hi) ** 2 * tt)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (h_hi - h_lo) / (g_hi - g_lo)  # the chord: h_lo + slope (g - g_lo)
            k = np.minimum(slope / no, 1.0)[:, None]  # <= s g |o|^2 / (h |o|) <= s
            g0 = dots / tt[:, None]
            r = np.sqrt(np.maximum(e[None, :] - dots * g0, 0.0))
            g = np.where(k < 1.0, g0 + r * k / (np.sqrt(1.0 - k * k) * no[:, None]), g_hi[:, None])
            g = np.minimum(np.maximum(g, g_lo[:, None]), g_hi[:, None])
            a = np.sqrt(np.maximum(e[None, :] - 2.0 * g * dots + g * g * tt[:, None], 0.0))
            bound = (a - (h_lo[:, None] + slope[:, None] * (g - g_lo[:, None]))).min(axis=1)
        bound_l = bound.tolist()
        ids = [o.created for o in self._templates]
        own = ids.index(t.created)
        bound_l = [b if b > 0.0 and n_o > 0.0 else -math.inf for b, n_o in zip(bound_l, no.tolist())]

        def rows(v: np.ndarray | list[float]) -> list[float]:  # t's own row put in
            v = v if isinstance(v, list) else v.tolist()
            return v[:own] + [0.0] + v[own:]

        assert self._stack is not None
        t.margins = _Margins(ids, {c: i for i, c in enumerate(ids)}, self._stack.astype(np.float32), list(inv), norm_t,
                             bound_l[:own] + [-math.inf] + bound_l[own:], rows(allow), rows(h_hi), rows(tol),
                             rows(no), rows(dots.max(axis=1)))

    def _merge_ruled_out(self, k: int, inv: list[float]) -> bool:
        """Whether the margins recorded at template k's last exact merge check prove that no other
        template can pass ``_fit`` for it now (then the fit is skipped: its result would be "no
        merge").

        Say t (template k) and o have moved by m_t and m_o since (whitened as now) and t's
        whitening has been scaled by rho (per channel, rho_min to rho_max). Then at every lag and
        gain a is at least rho_min a_then - m_t - g m_o (the lag window is a 1-Lipschitz map of
        t), and h at most max(rho_max, 1) h_then + s g m_o + the allowance's growth (n only
        grows, so it shrinks), so a - h is at least rho_min bound - (max(rho_max, 1) - rho_min)
        h_hi - m_t - (1 + s) g_hi m_o - growth. The recorded gains cover the exact test's while
        its tolerance, at the least energy o can now have ((rho_min |o|_then - m_o)^2), is within
        the recorded one."""
        t = self._templates[k]
        mg = t.margins
        if mg is None:
            return False
        temps = self._templates
        ids = [o.created for o in temps]
        stack = self._stacked()
        rows: list[int] | None = None
        if ids == mg.ids:
            d = stack - mg.ref
        else:
            rows = []
            for c in ids:
                at = mg.pos.get(c)
                if at is None:  # a template made since the margins were recorded: no margin
                    return False
                rows.append(at)
            d = stack - mg.ref[rows]
        cfg, up = self.cfg, self.up
        C = self.n_channels
        if C == 1:
            i0 = inv[0]
            r_lo = r_hi = i0 / mg.inv[0]
            moves = (np.sqrt(np.einsum("ij,ij->i", d, d)) * i0).tolist()
        else:
            rho = [a / b for a, b in zip(inv, mg.inv)]
            r_lo, r_hi = min(rho), max(rho)
            d3 = d.reshape(len(temps), C, -1)
            moves = np.sqrt(np.einsum("kcl,kcl->kc", d3, d3) @ (np.asarray(inv) ** 2)).tolist()
        s = cfg.shape_tol
        base = float(self.n_dof) * (1.0 + self.spread) * up
        cap = cfg.mean_cap
        own = 1.0 / min(t.n, cap)
        f32 = 6e-8 * r_hi  # the float32 rounding of a stored wave, over its whitened norm then
        move_t = moves[k] * (1 + 1e-9) + f32 * mg.norm_t
        r_top = max(r_hi, 1.0) - r_lo
        r_mid = 0.5 * (r_lo * r_lo + r_hi * r_hi)  # products scale by rho^2: by r_mid, give or take r_err
        r_err = 0.5 * (r_hi * r_hi - r_lo * r_lo)
        norm_t = mg.norm_t
        for i, o in enumerate(temps):
            if i == k:
                continue
            j = i if rows is None else rows[i]
            norm_o, tol = mg.norm_o[j], mg.tol[j]
            move_o = moves[i] * (1 + 1e-9) + f32 * norm_o
            least = r_lo * norm_o - move_o  # |o| now is at least this
            tol_now = (cfg.amp_tol + cfg.amp_noise_k / math.sqrt(max(least * least / up, 1e-12))) * (1 + 1e-6) \
                + 1e-9 if least > 0.0 else math.inf  # at least the exact test's tolerance
            # the residual: too large at every lag and admissible gain
            g_hi = 1.0 + tol
            bound = mg.bound[j]
            if bound > 0.0 and tol_now <= tol:
                growth = max(math.sqrt(base * (1.0 / min(o.n, cap) + own)) - mg.allow[j], 0.0)
                slack = 1e-6 * (r_hi * (norm_t + g_hi * norm_o) + mg.h_hi[j] + move_t + move_o) + 1e-9
                if r_lo * bound - r_top * mg.h_hi[j] - growth - move_t - g_hi * (1.0 + s) * move_o > slack:
                    continue
            # or the gain, d_max / |o|^2: d_max has moved by at most r_err |t||o| + rho_max (|t| m_o + |o| m_t)
            # + m_t m_o (a product of two vectors that each moved), |o| by at most m_o
            spread = r_err * norm_t * norm_o + r_hi * (norm_t * move_o + norm_o * move_t) + move_t * move_o \
                + 1e-9 * (norm_t + move_t) * (norm_o + move_o)
            d_hi = r_mid * mg.d_max[j] + spread
            if d_hi <= 0.0:  # no positive product: nothing fits
                continue
            if least <= 0.0:
                return False
            if d_hi / (least * least) < (1.0 - tol_now) * (1 - 1e-9):
                continue
            most = r_hi * norm_o + move_o
            if (r_mid * mg.d_max[j] - spread) / (most * most) > (1.0 + tol_now) * (1 + 1e-9):
                continue
            return False
        return True

    def _merge_fit(self, k: int, inv: np.ndarray | None = None) -> tuple[list[_Template], list[float], list[bool]] | None:
        """The exact merge check of template k against the others (in order): their ratios and
        whether they pass (None when ``_may_merge`` rules every one out). Records the margins.
        ``inv``: 1 / its noise figures, if known."""
        t = self._templates[k]
        stack = self._stacked()
        # the members' noise; centroids of noisy twitches wander, so search twice the lags.
        # The zero-padded template is whitened before its windows are cut: the same products.
        if inv is None:
            inv = 1.0 / t.sigma
        C, L, pad = self.n_channels, self.L, self._merge_pad
        cap = self.cfg.mean_cap
        compiled = self._may_merge_compiled(k, inv)
        if compiled is False:
            return None
        others = self._templates[:k] + self._templates[k + 1:]
        own = 1.0 / min(t.n, cap)
        extra = [1.0 / min(o.n, cap) + own for o in others]
        if compiled is None and not self._may_merge(self._energies(), k, inv, extra):
            return None
        segw = np.zeros((C, L + 2 * pad))
        segw[:, pad: pad + L] = t.wave.reshape(C, L) * inv[:, None]
        ww = self._lag_windows(segw, 0, 2 * pad + 1)
        keep: list = []
        _, _, ratio, passes = self._fit(ww, np.repeat(inv, L), others, extra_n=extra,
                                        stack=np.concatenate([stack[:k], stack[k + 1:]]), keep=keep)
        self._merge_margins(t, inv.tolist(), extra, *keep)
        return others, ratio, passes

    def _merge_into_older(self, k: int) -> None:
        """After template k changed: if another template now fits it, they are one source."""
        if len(self._templates) < 2:
            return
        t = self._templates[k]
        inv = 1.0 / t.sigma
        if self._merge_ruled_out(k, inv.tolist()):  # the fit below would find none
            return
        fit = self._merge_fit(k, inv)
        if fit is None:
            return
        others, ratio, passes = fit
        j = self._first_best(ratio, passes)
        if j is None:
            return
        o = others[j]
        old, young = (o, t) if o.created < t.created else (t, o)
        total = old.n + young.n
        old.wave = (old.wave * old.n + young.wave * young.n) / total
        old.sigma = (old.sigma * old.n + young.sigma * young.n) / total
        old.n = total
        old.last_sample = max(old.last_sample, young.last_sample)
        if old.unit is None:
            if young.unit is None:
                young.unit = f"U{self._next_unit}"
                self._next_unit += 1
            old.unit = young.unit
            self.founders[old.founder] = old.unit
        elif young.unit is not None:
            self.aliases[young.unit] = old.unit
        self.founders[young.founder] = old.unit
        assert old.snippets is not None and young.snippets is not None
        old.snippets.extend(young.snippets)
        self._templates.remove(young)
        self._stack = None

    # -- results -------------------------------------------------------------------------
    def resolve(self, unit: str | None) -> str | None:
        while unit in self.aliases:
            unit = self.aliases[unit]
        return unit

    def template_info(self, t: _Template) -> dict:
        """A template's summary; its wave a copy (a join may write into the template's old arrays)."""
        w = t.wave.reshape(self.n_channels, self.L).copy()
        return {"unit": t.unit, "n": t.n, "template": w, "template_fs": self.fs * self.up,
                "snippets": list(t.snippets or []), "snippet_fs": self.fs}

    def units(self) -> dict[str, dict]:
        """Current unit templates by id (including retired ones), for measures and reports."""
        out = {d["unit"]: d for d in self.retired}
        for t in self._templates:
            if t.unit is not None:
                out[t.unit] = self.template_info(t)
        return out


class UnitStage:
    """Pipeline stage after classification: keeps the band-passed ring, merges coincident
    channels, labels twitches with units. ``push`` every band-passed block, ``process`` every
    batch of classified events with the pipeline's finalised horizon."""

    def __init__(self, fs: float, n_channels: int, config: UnitConfig | None = None,
                 band_high_hz: float | None = None) -> None:
        cfg = config or UnitConfig()
        self.ring = SignalRing(n_channels)
        self._hold = self.ring.holder()  # the train stage may share the ring (its own holder)
        self.merger = CoincidenceMerger(fs, n_channels, cfg.coincidence_ms)
        self.tracker = UnitTracker(fs, n_channels, cfg, band_high_hz)
        self.reset()

    def reset(self) -> None:
        self.ring.reset(0)
        self.merger.reset()
        self.tracker.reset()

    def push(self, y: np.ndarray, at: int) -> None:
        self.ring.append(y, at)

    def process(self, events: list[Event], horizon: int, final: bool = False) -> list[Event]:
        if not events and not self.merger.has_pending:  # most live blocks: nothing to do but forget
            self.ring.forget_before(horizon - self.tracker.lookback_n - self.merger.window_n, self._hold)
            return []
        out = self.merger.process(events, horizon, self.ring, final)
        at = [i for i, e in enumerate(out) if e.kind == "twitch"]
        for i, unit in zip(at, self.tracker.observe_all([out[i] for i in at], self.ring)):
            out[i] = with_unit(out[i], unit)
        self.ring.forget_before(self.held_from(horizon) - self.tracker.lookback_n - self.merger.window_n, self._hold)
        return out

    def held_from(self, horizon: int) -> int:
        """The horizon, moved back to the earliest event still held for its partners."""
        first = self.merger.earliest_pending
        return horizon if first is None else min(horizon, first)

    def resolved(self, events: list[Event]) -> list[Event]:
        """Labels as known in hindsight: merged units renamed, each unit's founding twitch labelled."""
        tr = self.tracker
        out = []
        for e in events:
            if e.kind != "twitch":
                out.append(e)
                continue
            unit = tr.founders.get(_key(e)) if e.unit is None else e.unit
            unit = tr.resolve(unit)
            out.append(e if unit == e.unit else replace(e, unit=unit))
        return out
