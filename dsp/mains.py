"""Mains interference: which of 50/60 Hz is present, at which harmonics, and how strong."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from myotwitch.dsp import kernels
from myotwitch.dsp.noise import percentile_rows

CANDIDATES_HZ = (50.0, 60.0)


@dataclass(frozen=True)
class MainsEstimate:
    """``frequency_hz`` is None when no mains line stands out. ``harmonics_hz`` are the lines
    worth notching; ``level_uv`` is the RMS amplitude of the fundamental."""

    frequency_hz: float | None
    harmonics_hz: tuple[float, ...] = field(default_factory=tuple)
    level_uv: float = 0.0
    line_db: float = 0.0

    def to_dict(self) -> dict:
        return {"frequency_hz": self.frequency_hz, "harmonics_hz": list(self.harmonics_hz),
                "level_uv_rms": self.level_uv, "line_db": self.line_db}


def _line_db(freqs: np.ndarray, psd: np.ndarray, f: float) -> tuple[float, float]:
    """Height (dB) of the spectral line at ``f`` over the median of its +-10 Hz neighbourhood,
    and the line's power above that background."""
    df = freqs[1] - freqs[0]
    near = np.abs(freqs - f) <= 1.5 * df
    around = (np.abs(freqs - f) <= 10.0) & ~(np.abs(freqs - f) <= 3.0)
    if not near.any() or not around.any():
        return 0.0, 0.0
    line = psd[near].max()
    background = max(float(np.median(psd[around])), 1e-30)
    power = max(float((psd[near] - background).clip(min=0).sum() * df), 0.0)
    return 10.0 * np.log10(max(line, 1e-30) / background), power


def estimate_mains(x: np.ndarray, fs: float, *, forced: float | None = None, max_hz: float | None = None,
                   detect_db: float = 10.0) -> MainsEstimate:
    """Estimate mains from ``x`` (channels, n) µV; NaN samples are ignored.

    With ``forced`` the fundamental is taken as given and only its harmonics are tested."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    max_hz = min(max_hz if max_hz is not None else fs / 2, fs / 2 - 5.0)
    nper = int(min(round(fs), x.shape[1]))  # 1 Hz resolution when there is a second of data
    if nper < round(fs / 4):
        return MainsEstimate(forced, (forced,) if forced else ())
    psds = []
    seg = nseg_len = 0
    for ch in x:
        ch = ch[np.isfinite(ch)]
        if ch.size > nper:
            # First differences turn an electrode pop's step into a single impulse whose flat
            # spectrum cannot bury a line (the line's height over its neighbourhood is unchanged),
            # and short segments averaged by their median ignore the one segment a pop or a big
            # twitch spoils.
            # 2 Hz bins put 50 and 60 Hz on a bin, and leave several segments for the median
            seg = min(int(round(fs / 2)), ch.size - 1)
            nseg_len = ch.size - 1
            f, p = signal.welch(np.diff(ch), fs=fs, nperseg=seg, noverlap=seg // 2, detrend=False,
                                average="median")
            psds.append(p)
    if not psds:
        return MainsEstimate(forced, (forced,) if forced else ())
    # each channel's spectrum over its own median level: a loose or disconnected lead's broadband
    # noise, hundreds of times the others', had buried the good channels' line in the mean (mains
    # "not detected", a 3.7 µV floor read as 49 µV, no twitch found on the good channel)
    band = (f >= CANDIDATES_HZ[0] - 20.0) & (f <= max_hz)
    if not band.any():  # (a band far below the mains: the whole spectrum sets the scale)
        band = np.ones_like(f, dtype=bool)
    psd = np.mean([p / max(float(np.median(p[band])), 1e-30) for p in psds], axis=0)
    scores = {f0: _line_db(f, psd, f0) for f0 in CANDIDATES_HZ}
    if forced is not None:
        f0 = float(forced)
    else:
        f0 = max(scores, key=lambda k: scores[k][0])
        if not scores[f0][0] >= detect_db:  # (NaN: no line)
            return MainsEstimate(None, (), 0.0, float(max(s[0] for s in scores.values())))
    line_db = scores[f0][0]
    power = float(np.mean([_line_db(f, p, f0)[1] for p in psds]))  # (µV², the channels' mean)
    harmonics = [f0]
    k = 2
    while k * f0 <= max_hz:
        if _line_db(f, psd, k * f0)[0] >= detect_db:
            harmonics.append(k * f0)
        k += 1
    # undo what the estimate did to a pure line: the difference filter's gain at f0, and the
    # correction for noise that Welch's median applies (a line's segments do not scatter)
    n_seg = max(1, (nseg_len - seg // 2) // (seg - seg // 2)) if seg else 1
    gain = (2 * np.sin(np.pi * f0 / fs)) ** 2
    power *= _median_bias(n_seg) / gain
    return MainsEstimate(f0, tuple(harmonics), float(np.sqrt(power)), float(line_db))


def _median_bias(n: int) -> float:
    """scipy.signal.welch divides a median average by this (the median of n chi-square(2)
    values over their mean)."""
    ii_2 = 2 * np.arange(1.0, (n - 1) // 2 + 1)
    return float(1 + np.sum(1.0 / (ii_2 + 1) - 1.0 / ii_2))


def _block_length(fs: float, f0: float, max_periods: int = 12) -> tuple[int, float]:
    """Samples per analysis block holding a whole number of mains periods, and the mains
    frequency that makes it exact (the nearest to ``f0``)."""
    best = min(range(1, max_periods + 1), key=lambda m: (abs(m * fs / f0 - round(m * fs / f0)) > 1e-9 * fs, m))
    if abs(best * fs / f0 - round(best * fs / f0)) > 1e-9 * fs:
        best = min(range(1, max_periods + 1), key=lambda m: abs(m * fs / f0 - round(m * fs / f0)) / m)
    n = int(round(best * fs / f0))
    return n, best * fs / n


def _median(a: np.ndarray) -> np.ndarray:
    """The median of complex values along the last axis, real and imaginary parts apart (NaN
    skipped)."""
    return percentile_rows(a.real, 50.0) + 1j * percentile_rows(a.imag, 50.0)


def _turned(z: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``z * exp(1j * angle)`` in real arithmetic: numpy's complex product may round the last
    bit differently in its vector loop and its scalar tail, so one block's value would depend
    on how many were computed together (and the output on the chunking)."""
    return _rotated(z, np.cos(angle), np.sin(angle))


def _rotated(z: np.ndarray, c: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``z * (c + 1j * s)`` in real arithmetic (``_turned``)."""
    zr, zi = z.real, z.imag
    out = np.empty(np.broadcast_shapes(z.shape, c.shape), dtype=complex)
    out.real = zr * c - zi * s
    out.imag = zr * s + zi * c
    return out


def _times_conj(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * conj(b)`` in real arithmetic (``_turned``)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=complex)
    out.real = a.real * b.real + a.imag * b.imag
    out.imag = a.imag * b.real - a.real * b.imag
    return out


def _halves(a: np.ndarray, half: int, least: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The medians of the older and newer ``half`` of ``a`` (last axis: blocks, oldest first)
    and how far apart their blocks' mean positions lie (NaN: a half without blocks), and
    whether each half holds ``least`` blocks."""
    valid = np.isfinite(a.real)
    pos = np.arange(2 * half, dtype=float)
    n_old, n_new = valid[..., :half].sum(axis=-1), valid[..., half:].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        apart = (valid[..., half:] @ pos[half:]) / n_new - (valid[..., :half] @ pos[:half]) / n_old
    enough = np.minimum(n_old, n_new) >= least
    return apart, _median(a[..., :half]), _median(a[..., half:]), enough


#: the largest hum swell followed across one history window, as a fraction of the hum level
MAX_SWELL = 0.3
#: the grid's offset from nominal (the turn of the hum's phase from block to block) is measured
#: over this long: it changes over minutes, and over a second a run of twitches or a
#: contraction's onset moved the halves' medians it came from far enough to leave 10-20 µV of
#: hum at the fifth harmonic for the next few hundred ms
TURN_S = 5.0
#: ... and measured again this often (at the update points that are multiples of it): the
#: offset drifts over minutes, and the long window's medians were most of the canceller's cost
#: when measured at every update point
TURN_EVERY_S = 1.0
#: a block is left out of the estimates when what it holds besides the mains (its residual,
#: mean and linear trend removed) has this many times the median power of the ``history_s`` of
#: blocks before it: a large twitch's own 50/60 Hz content is then not read as hum (a run of
#: them fills a good share of a second's blocks)
GATE = 3.0
#: ... and when that residual holds at least this share of the block's hum energy (less cannot
#: move the estimate by much; without this floor, blocks of a clean hum whose swell is at its
#: steepest were left out, and the swell with them)
GATE_SHARE = 0.01
#: across gaps up to this long in all (s) the history is kept: the phase is absolute and the grid
#: drifts little in a second. Restarted after every gap too long to bridge, the canceller left
#: ~50 µV of hum for the first 0.1 s, and the twitches of the next half second read as activity
#: in a muscle not at rest
KEEP_ACROSS_S = 1.0
#: the fit to the first data after a restart (``MainsCanceller.learn``) is made again without
#: the samples this many robust SDs off the first fit (a twitch's own content at the harmonics
#: is not read as hum)
LEAD_OUTLIER = 4.0
#: an unknown block amplitude (real and imaginary parts both NaN, so both medians skip it)
_UNKNOWN = complex(np.nan, np.nan)


class MainsCanceller:
    """Removes mains by subtracting a sinusoid per harmonic whose amplitude and phase are the
    *median* of per-block estimates over the last ``history_s``.

    A notch filter rings for hundreds of ms after a large twitch (the twitch's own 50/60 Hz
    content is taken out and smeared over time, and reads as activity); a median over past
    blocks ignores a twitch entirely, so nothing rings. Blocks that hold much more than hum and
    background (a large twitch, a contraction's onset, a pop) are left out of the medians, and
    the grid's offset from nominal is measured over ``TURN_S``: a run of twitches filled enough
    of a second's blocks to move the medians, and hum came back for a few hundred ms after it.
    Blocks hold a whole number of mains periods and are aligned to absolute sample indices, and
    only past blocks are used, so the output is causal and independent of chunking."""

    def __init__(self, fs: float, n_channels: int, f0: float, harmonics_hz: tuple[float, ...],
                 history_s: float = 1.0, lead_s: float = 0.0) -> None:
        self.n_channels = n_channels
        self.block, self.f_exact = _block_length(fs, f0)
        ks = np.array(sorted({int(round(h / f0)) for h in harmonics_hz} or {1}), dtype=float)
        self.harmonics_hz = tuple(ks * self.f_exact)
        self.orders = ks / ks[0]  # rotation of each harmonic relative to the lowest one kept
        #: largest drift followed: 0.5 Hz off nominal, in radians of the lowest harmonic per block
        self.max_step = 2 * np.pi * 0.5 * ks[0] * self.block / fs
        n = np.arange(self.block)
        phase = 2j * np.pi * np.outer(n, ks * self.f_exact / fs)  # (block, H)
        self._demod = (np.exp(-phase) * (2.0 / self.block)).T.copy()  # (H, block)
        recon = np.exp(phase).T  # (H, block)
        self._recon_re, self._recon_im = recon.real.copy(), recon.imag.copy()
        self.hist_len = max(3, int(round(history_s * fs / self.block)))
        #: the estimate is refreshed every ``stride`` blocks (~0.1 s): mains drifts slowly
        self.stride = max(1, int(round(0.1 * fs / self.block)))
        #: the turn's window, in blocks (even, and at least the level's)
        self.turn_len = max(2 * int(round(TURN_S * fs / self.block / 2)), 2 * (self.hist_len // 2))
        #: the turn is measured at the update points that are multiples of this (in blocks)
        self.turn_every = self.stride * max(1, int(round(TURN_EVERY_S * fs / self.block / self.stride)))
        self._keep_across_n = round(KEEP_ACROSS_S * fs)
        # (the long window before a gap the history is kept across is still there at its end:
        # ``_last_turn``)
        across = max(self.turn_every, -(-self._keep_across_n // self.block))
        self.keep = max(self.hist_len, self.turn_len + across) + self.stride
        ramp = n - (self.block - 1) / 2.0
        self._ramp = ramp / np.sqrt(ramp @ ramp)  # a unit linear trend over a block
        self._lead_len = max(0, round(lead_s * fs))
        self._has_fundamental = bool(ks[0] == 1)
        self.reset()

    @property
    def line_tally(self) -> tuple[np.ndarray, int] | None:
        """The fundamental's mean square removed (µV², per channel) summed over the blocks
        done, and their count: two of them give the hum's level over a part of the recording
        (a rotated file's, not the session start's). None when the fundamental is not removed."""
        return (self._line_sq.copy(), self._line_blocks) if self._has_fundamental else None

    def reset(self) -> None:
        self._line_sq = np.zeros(self.n_channels)
        self._line_blocks = 0
        self._pos = 0  # absolute sample index of the next sample
        self._data_end = 0  # ... and one past the last sample processed
        self._kept_step = np.zeros(self.n_channels)  # the turn per block measured before a restart
        self._turn_from = 0  # ... at the data end it was measured at
        self._skipped = 0  # samples skipped since the last ones processed (``skip``)
        self.restart()
        # at the recording's start the history fills while the noise floor is learnt (0.5 s, no
        # events): learning there changed a few early events of gap-free recordings, for nothing
        self.lead_n = 0

    def restart(self, skipped: int = 0) -> None:
        """After a gap of ``skipped`` samples: phase stays absolute, history starts again (from
        the hum fitted to the first ``lead_s`` of data, when given it: ``learn``)."""
        # the grid's offset from nominal outlasts a gap (it changes over minutes): the turn last
        # measured before the data stopped is kept for that fit (once: a gap given in parts may
        # restart the history again before any data)
        if self._turn_from != self._data_end:
            self._kept_step = self._last_turn()
            self._turn_from = self._data_end
        self._pos += skipped
        n_h = len(self.harmonics_hz)
        # amplitudes of absolute blocks [cur - keep, cur); NaN = unknown or left out
        self._hist = np.full((self.n_channels, self.keep, n_h), _UNKNOWN)
        # residual power of the last hist_len blocks (``_gate``)
        self._power = np.full((self.n_channels, self.hist_len), np.nan)
        # the live path's figures at its latest update points (``_estimates``)
        self._cached: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # ... and the turn at its latest turn point (``_turns``)
        self._turn_cached: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._part = np.empty((self.n_channels, 0))  # samples of the block being filled
        self._discard = self._pos % self.block != 0  # the block now starting is incomplete
        #: samples of data the canceller would learn the hum from before it processes any
        #: (``learn``): ``lead_s`` after a restart, 0 once it has learnt or processed data
        self.lead_n = self._lead_len

    def skip(self, n: int) -> None:
        """A gap of ``n`` samples (or more of the one just skipped). Up to ``KEEP_ACROSS_S`` in
        all the hum is the same after it, so the history stays: the blocks the gap touched are
        unknown and the one it ends in is incomplete. Past that, the history starts again."""
        if n <= 0:
            return
        self._skipped += n
        if self._skipped > self._keep_across_n:
            self.restart(n)
            return
        cur = self._pos // self.block
        self._pos += n
        ended = self._pos // self.block - cur  # blocks that ended in the gap
        if ended:
            ch, h = self._hist.shape[0], self._hist.shape[2]
            unknown = min(ended, self.keep)  # (a long gap leaves nothing known)
            self._hist = np.concatenate([self._hist, np.full((ch, unknown, h), _UNKNOWN)], axis=1)[:, -self.keep:]
            self._power = np.concatenate([self._power, np.full((ch, min(ended, self.hist_len)), np.nan)],
                                         axis=1)[:, -self.hist_len:]
            self._part = np.empty((ch, 0))
        # the block now filling misses samples (its start, or some of its middle): not estimated
        self._discard = not ended or self._pos % self.block != 0

    def _last_turn(self) -> np.ndarray:
        """The fundamental's turn per block measured over the long window before the block the
        data last stopped in (0 where its halves held too few blocks). The blocks of the gap
        are left out: given in parts, it would otherwise move the window."""
        end, cur = self._data_end // self.block, self._pos // self.block
        known = self._hist[:, : max(self.keep - (cur - end), 0)]  # blocks [cur - keep, end)
        short = self.turn_len - known.shape[1]
        if short > 0:  # (not after a gap the history is kept across: ``keep``)
            known = np.concatenate([np.full((self.n_channels, short, known.shape[2]), _UNKNOWN), known], axis=1)
        step, ok = self._turns(known, end - known.shape[1], np.array([end]))
        return np.where(ok[:, 0], step[:, 0], 0.0)

    def learn(self, parts: list[tuple[int, np.ndarray]]) -> None:
        """Learn the hum from the first data after a restart, before any of it is processed:
        ``(offset, (channels, n) samples)`` pieces, offsets counted from the next sample (what
        lies between pieces is lost; the caller skips it as it processes them). The amplitude and
        phase of each harmonic are fitted by least squares (with an offset and a linear trend;
        the phase is absolute and the turn from the grid's offset is the one measured before the
        gap, so only amplitudes and phases are unknown), a second time without the samples that
        stand out of the first fit (a twitch's own content at the harmonics), and the history
        is filled with that hum, as if it had been seen for a history window before: the data
        after a long gap is cancelled from its first sample, and the blocks that follow take the
        estimate over as they fill the history. Too little data (less than a block, or than a
        few samples per figure fitted) leaves the history empty, as it was; so does a canceller
        that asks for none (``lead_n`` 0: its history kept, or data processed since)."""
        parts = [(off, x) for off, x in parts if x.shape[1]]
        if not self.lead_n or not parts:
            return
        self.lead_n = 0
        offs = np.concatenate([off + np.arange(x.shape[1]) for off, x in parts])
        x = np.concatenate([x for _, x in parts], axis=1)
        n, n_h = offs.size, len(self.harmonics_hz)
        if n < max(self.block, 4 * (2 * n_h + 2)):
            return
        ref = self._pos // self.block  # the hum is fitted as its amplitude in this block
        at = (self._pos + offs - (ref * self.block + (self.block - 1) / 2.0)) / self.block  # blocks from its middle
        r = (self._pos + offs) % self.block
        trend = np.stack([np.ones(n), (offs - offs[0]) / max(int(offs[-1] - offs[0]), 1) - 0.5], axis=1)
        back = np.arange(-self.hist_len, 0, dtype=float)  # the history's blocks, from ref
        for c in range(self.n_channels):  # (per channel: a channel's fit never depends on the others)
            turn = self._kept_step[c] * self.orders  # (H,) per block
            z = _turned(self._recon_re[:, r] + 1j * self._recon_im[:, r], turn[:, None] * at[None, :])  # (H, n)
            basis = np.concatenate([z.real.T, -z.imag.T, trend], axis=1)
            coef = np.linalg.lstsq(basis, x[c], rcond=None)[0]
            resid = x[c] - basis @ coef
            keep = np.abs(resid) <= LEAD_OUTLIER * 1.4826 * np.median(np.abs(resid))
            if basis.shape[1] * 4 <= keep.sum() < n:
                coef = np.linalg.lstsq(basis[keep], x[c, keep], rcond=None)[0]
            amp = coef[:n_h] + 1j * coef[n_h: 2 * n_h]
            self._hist[c, -self.hist_len:] = _turned(amp[None, :], back[:, None] * turn[None, :])

    def level_uv(self) -> float:
        """Current RMS amplitude of the fundamental (mean over channels), µV."""
        est = self._estimates(self._hist, self._pos // self.block, np.array([self._pos // self.block]))
        return float(np.mean(np.abs(est[:, 0, 0])) / np.sqrt(2))

    def _estimates(self, allh: np.ndarray, cur: int, blocks: np.ndarray) -> np.ndarray:
        """Amplitude estimate for each absolute block index in ``blocks``: the level, swell and
        turn at its update point (the last multiple of ``stride``, ``_at_updates``), carried
        forward to the block."""
        upd = (blocks // self.stride) * self.stride
        uniq, inv = np.unique(upd, return_inverse=True)
        if uniq.size > 2:  # (offline and long blocks: every update point at once)
            est, slope, step = self._at_updates(allh, cur - self.keep, uniq)
        else:  # live blocks meet each update point several times: its figures are kept (the
            # blocks before an update point never change, nor do the figures from them)
            points = uniq.tolist()
            todo = [u for u in points if u not in self._cached]
            if todo:
                fresh = self._at_updates(allh, cur - self.keep, np.array(todo))
                kept = {u: self._cached[u] for u in points if u in self._cached}
                kept.update((u, (fresh[0][:, j], fresh[1][:, j], fresh[2][:, j])) for j, u in enumerate(todo))
                self._cached = kept
            est, slope, step = (np.stack(parts, axis=1) for parts in zip(*(self._cached[u] for u in points)))
        est, slope = est[:, inv], slope[:, inv]  # (ch, len(blocks), H)
        since = (blocks - upd).astype(float)  # blocks from the update point to each block
        est = est + slope * since[None, :, None]
        return _turned(est, step[:, inv, None] * since[None, :, None] * self.orders[None, None, :])

    def _at_updates(self, allh: np.ndarray, base: int,
                    uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """At each update point in ``uniq`` (``base``: the absolute block index of
        ``allh[:, 0]``): the level ``(ch, U, H)``, its swell per block ``(ch, U, H)`` and the
        turn of the fundamental per block ``(ch, U)``, from the blocks before it.

        The grid is rarely exactly 50/60 Hz: 0.05 Hz off turns each block's phase by 0.36° per
        period (1.8° at the 5th harmonic), so a median over a second of blocks would lag by tens
        of degrees. The turn is measured between the median fundamental of the older and the
        newer half of the ``TURN_S`` before the latest turn point (one every ``TURN_EVERY_S``),
        every block is turned forward to the update point, and only then are medians taken:
        robust to twitches, and exact for an off-nominal grid.
        Blocks left out (``_gate``) or not yet seen are skipped; each half's median stands at
        the mean position of the blocks it had."""
        m, h = self.hist_len, self.hist_len // 2
        ends = (uniq - base)[:, None]
        halves_k, levels_k = kernels.mains_halves(), kernels.mains_levels()
        compiled = (halves_k, levels_k) if halves_k is not None and levels_k is not None else None
        # the turn over the long window before the last turn point (every ``turn_every``
        # blocks); until each of its halves holds h blocks (the first seconds, after a gap),
        # over the level's window at the update point itself, as before
        turn_at, which = np.unique((uniq // self.turn_every) * self.turn_every, return_inverse=True)
        step_t, long_ok = self._turns(allh, base, turn_at)  # (ch, T)
        use_long = long_ok[:, which]  # (ch, U)
        step = step_t[:, which]
        ahead = m - np.arange(m)  # blocks from each history block to the update point
        # each history block's rotation to the update point: worked out per turn point
        angle = step_t[:, :, None, None] * self.orders[None, None, :, None] * ahead  # (ch, T, H, M)
        cos_t, sin_t = np.cos(angle), np.sin(angle)
        rows = np.ascontiguousarray(np.broadcast_to(which, use_long.shape))  # (ch, U): whose rotations
        if not use_long.all():
            first = allh[:, ends - m + np.arange(2 * h)[None, :], 0]  # the fundamental's first 2h blocks
            short_apart, short_old, short_new, _ = _halves(first, h, least=1)
            step = np.where(use_long, step, self._step(_times_conj(short_new, short_old), short_apart))
            angle = step[:, :, None, None] * self.orders[None, None, :, None] * ahead  # (ch, U, H, M)
            # those update points' own rotations, after the turn points' (as rows of their own)
            cos_t, sin_t = np.concatenate([cos_t, np.cos(angle)], axis=1), np.concatenate([sin_t, np.sin(angle)], axis=1)
            rows = np.where(use_long, rows, turn_at.size + np.arange(uniq.size)[None, :])
        if compiled is not None:  # the same arithmetic in two compiled passes (dsp/kernels.py)
            C, U, H = allh.shape[0], uniq.size, allh.shape[2]
            turned_re, turned_im = np.empty((C, U, H, m)), np.empty((C, U, H, m))
            med, swell_apart = np.empty((4, C, U, H)), np.empty((C, U, H))
            compiled[0](allh.real, allh.imag, (uniq - base).astype(np.int64), m, h, cos_t, sin_t, rows.astype(np.int64),
                        turned_re, turned_im, med, swell_apart)
            old_half, new_half = med[0] + 1j * med[1], med[2] + 1j * med[3]  # (as _median builds them)
        else:
            win = np.ascontiguousarray(np.moveaxis(allh[:, ends - m + np.arange(m)[None, :]], 2, 3))  # (ch, U, H, M)
            c, s = cos_t[np.arange(cos_t.shape[0])[:, None], rows], sin_t[np.arange(sin_t.shape[0])[:, None], rows]
            win = _rotated(win, c, s)
            # amplitude drift (the hum swells and fades with load and posture): the change between the
            # older and newer half's medians, per block between their positions
            swell_apart, old_half, new_half, _ = _halves(win[..., : 2 * h], h, least=1)
        change = new_half - old_half
        with np.errstate(invalid="ignore", divide="ignore"):  # (real and imaginary parts apart: see _turned)
            slope = change.real / swell_apart + 1j * (change.imag / swell_apart)
        slope[~np.isfinite(slope)] = 0
        # a swell moves the level by a fraction of itself over a window; a larger apparent
        # change comes from a transient (an electrode pop's decay) in one half: follow at most
        # MAX_SWELL of the level, or a pop's tail would be extrapolated into hum bursts
        drift = slope * ((m + 1) / 2.0)
        limit = MAX_SWELL * np.abs(old_half + new_half) / 2.0  # (the level, from the halves' medians)
        big = np.abs(drift) > limit
        if big.any():
            slope = slope * np.where(big, limit / np.maximum(np.abs(drift), 1e-300), 1.0)
        # every block carried along the swell to the update point, then their median (where
        # blocks are missing, still the update point's level)
        if compiled is not None:
            levels = np.empty((2,) + slope.shape)
            compiled[1](turned_re, turned_im, np.ascontiguousarray(slope.real), np.ascontiguousarray(slope.imag), levels)
            est = levels[0] + 1j * levels[1]
        else:
            est = _median(win + slope[..., None] * ahead)
        est[~np.isfinite(est)] = 0
        return est, slope, step

    def _turns(self, allh: np.ndarray, base: int, turn_at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The turn per block at each turn point, measured over the long window before it, and
        whether each of that window's halves held enough blocks (``_at_updates``). The live
        path meets a turn point at ten update points: its figures are kept."""
        if turn_at.size == 1 and int(turn_at[0]) in self._turn_cached:
            step, ok = self._turn_cached[int(turn_at[0])]
            return step[:, None], ok[:, None]
        long_n = self.turn_len
        fund = allh[:, (turn_at - base)[:, None] - long_n + np.arange(long_n)[None, :], 0]  # (ch, T, L)
        apart, older, newer, enough = _halves(fund, long_n // 2, least=self.hist_len // 2)
        step, ok = self._step(_times_conj(newer, older), apart), enough & np.isfinite(apart)
        self._turn_cached = {int(turn_at[-1]): (step[:, -1], ok[:, -1])}
        return step, ok

    def _step(self, turn: np.ndarray, apart: np.ndarray) -> np.ndarray:
        """The fundamental's turn per block from ``turn`` (the newer median times the older's
        conjugate) over ``apart`` blocks, within the drift followed (0 where unknown)."""
        # per channel, so a channel's result never depends on which other channels are analysed
        known = np.isfinite(turn) & np.isfinite(apart) & (apart > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(np.where(known, np.angle(turn) / apart, 0.0), -self.max_step, self.max_step)

    def _gate(self, blocks: np.ndarray, amps: np.ndarray, discarded: bool) -> None:
        """Leave out (NaN in ``amps``) the blocks ``(ch, k, block)`` whose residual, after their
        own mains fit and with their mean and linear trend removed, has over ``GATE`` times the
        median power of the ``hist_len`` blocks before each (the same blocks whatever the
        chunking) and at least ``GATE_SHARE`` of the block's hum energy. A discarded block (its
        start missing) neither counts nor is judged."""
        r = blocks.copy()  # (element-wise steps and sums along each block: the same bits in any batch)
        self._subtract(r, amps, 0)
        r -= r.sum(axis=-1, keepdims=True) / r.shape[-1]
        r -= (r * self._ramp).sum(axis=-1, keepdims=True) * self._ramp
        power = (r * r).sum(axis=-1)
        if discarded:
            power[:, 0] = np.nan
        k, m = power.shape[1], self.hist_len
        every = np.concatenate([self._power, power], axis=1)
        sliding = kernels.sliding_middle()
        if sliding is not None:
            before = np.empty(power.shape)
            sliding(every, k, m, before)
        else:
            before = percentile_rows(every[:, np.arange(k)[:, None] + np.arange(m)[None, :]], 50.0)  # (ch, k)
        hum = (amps.real * amps.real + amps.imag * amps.imag).sum(axis=-1) * (r.shape[-1] / 2.0)  # the fit's energy
        with np.errstate(invalid="ignore"):
            amps[(power > GATE * before) & (power > GATE_SHARE * hum)] = _UNKNOWN
        self._power = every[:, -m:].copy()

    def _subtract(self, out: np.ndarray, est: np.ndarray, r0: int) -> None:
        """out[..., i] -= Re(sum_h est[..., h] * e^{j phase_h(r0 + i)}), summed in a fixed order
        (``out`` (ch, n) with ``est`` (ch, H), or whole blocks (ch, k, block) with (ch, k, H))."""
        n = out.shape[-1]
        kernel = kernels.mains_subtract()
        if kernel is not None and (out.ndim == 2 or out.flags.c_contiguous):  # (rows of whole blocks: a view)
            rows = out.reshape(out.shape[0], -1)
            k = 1 if out.ndim == 2 else out.shape[1]
            kernel(rows, 0, k, n, np.ascontiguousarray(est.real).reshape(est.shape[0], k, -1),
                   np.ascontiguousarray(est.imag).reshape(est.shape[0], k, -1), self._recon_re, self._recon_im, r0)
            return
        re, im = self._recon_re[:, r0: r0 + n], self._recon_im[:, r0: r0 + n]
        for h in range(re.shape[0]):
            out -= est[..., h, None].real * re[h] - est[..., h, None].imag * im[h]

    def process(self, x: np.ndarray) -> np.ndarray:
        """Return ``x`` with the current mains estimate subtracted. Block amplitudes are
        computed elementwise on whole blocks (partial blocks are carried as samples), so the
        arithmetic is identical for any chunking: bit-exact chunk invariance."""
        ch, n = x.shape
        if n == 0:
            return x.copy()
        self._skipped = 0
        self.lead_n = 0  # (what it processes comes after what it could learn from)
        cur = self._pos // self.block  # absolute index of the block being filled
        r0 = self._pos % self.block
        m = self._part.shape[1]
        first = self.block - r0
        out = x.copy()
        if n < first:
            est = self._estimates(self._hist, cur, np.array([cur]))[:, 0]
            self._subtract(out, est, r0)
            self._part = np.concatenate([self._part, x], axis=1)
            self._pos += n
            self._data_end = self._pos
            return out
        k = 1 + (n - first) // self.block  # blocks completed in this chunk
        body_end = first + (k - 1) * self.block
        # the block in progress; after a restart mid-block its missing start is zero (discarded)
        head = np.concatenate([np.zeros((ch, self.block - m - first)), self._part, x[:, :first]], axis=1)
        blocks = np.concatenate([head[:, None, :], x[:, first:body_end].reshape(ch, k - 1, self.block)], axis=1)
        amps = (blocks[:, :, None, :] * self._demod[None, None]).sum(axis=-1)  # (ch, k, H)
        if self._discard:
            amps[:, 0] = _UNKNOWN
        self._gate(blocks, amps, self._discard)
        self._discard = False
        allh = np.concatenate([self._hist, amps], axis=1)
        est = self._estimates(allh, cur, cur + np.arange(k + 1))  # (ch, k+1, H)
        self._subtract(out[:, :first], est[:, 0], r0)
        if self._has_fundamental:  # (a running sum in block order: the same at any chunking)
            line = est[:, :k, 0]
            sq = np.where(np.isfinite(line), line.real * line.real + line.imag * line.imag, 0.0) / 2.0
            self._line_sq = np.cumsum(np.concatenate([self._line_sq[:, None], sq], axis=1), axis=1)[:, -1]
            self._line_blocks += k
        if k > 1:  # whole blocks
            body = out[:, first:body_end].reshape(ch, k - 1, self.block)
            self._subtract(body, est[:, 1:k], 0)
            out[:, first:body_end] = body.reshape(ch, -1)
        if n > body_end:
            self._subtract(out[:, body_end:], est[:, k], 0)
        self._hist = allh[:, -self.keep:].copy()
        self._part = x[:, body_end:].copy()
        self._pos += n
        self._data_end = self._pos
        return out
