"""Causal IIR stages with carried state (``sosfilt`` + ``zi``), so chunking never changes the output."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from myotwitch.dsp import kernels

try:  # the compiled kernel behind scipy.signal.sosfilt; its wrapper costs ~70 µs per call,
    # which dominates 50 ms live blocks. Checked against the public sosfilt in the tests. Its
    # float64 specialisation spares the fused-type dispatch (~0.2 µs a call).
    from scipy.signal._sosfilt import _sosfilt as _kernel
    _kernel = getattr(_kernel, "__signatures__", {}).get("double", _kernel)
except ImportError:  # pragma: no cover - a future scipy may move it
    _kernel = None


class StreamingSOS:
    """A second-order-section cascade applied along the last axis of ``(channels, n)`` blocks.

    The state starts in steady state for the first sample it sees (``sosfilt_zi * x0``), so
    a DC offset or a restart after a gap does not ring through the detector."""

    def __init__(self, sos: np.ndarray, n_channels: int) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.n_channels = n_channels
        self._zi_unit = _zi_unit(self.sos.tobytes(), self.sos.shape[0])  # (sections, 2)
        #: filter state, (channels, sections, 2) C-contiguous (the kernel's layout)
        self.zi: np.ndarray | None = None

    def reset(self) -> None:
        self.zi = None

    def process(self, x: np.ndarray) -> np.ndarray:
        if x.shape[-1] == 0:
            return np.empty_like(x, dtype=np.float64)
        if self.zi is None:
            self.zi = np.ascontiguousarray(x[:, 0][:, None, None] * self._zi_unit[None, :, :], dtype=np.float64)
        if _kernel is not None:
            y = np.array(x, dtype=np.float64, order="C")  # filtered in place
            _kernel(self.sos, y, self.zi)
            return y
        y, zf = signal.sosfilt(self.sos, x, axis=-1, zi=np.moveaxis(self.zi, 0, 1))
        self.zi = np.ascontiguousarray(np.moveaxis(zf, 1, 0))
        return y


def front_end(band: StreamingSOS, env: StreamingSOS, lf: StreamingSOS, x: np.ndarray,
              out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The detector's first stage on a ``(channels, n)`` block: the band-passed signal ``y``,
    its square, the envelope (``env`` over the square, floored at 0 and rooted) and the
    low-frequency band of the input (``lf`` over ``x``). With a compiled kernel
    (``dsp.kernels``) this is one pass with the same arithmetic, once every state is set, and
    it writes ``y``, the envelope and the low band into ``out`` when given (where the next stage
    keeps them: an offline chunk's rows are not copied again); the pure path returns new arrays."""
    kernel = kernels.front_end((band.sos.shape[0], env.sos.shape[0], lf.sos.shape[0]))
    if kernel is not None and x.shape[-1] > 1 and (band.zi is None or env.zi is None or lf.zi is None):
        # a first block: its first sample sets every state (the envelope's from the band-passed
        # square), the kernel takes the rest; the same numbers as the pure path, as for any cut
        head = front_end(band, env, lf, x[:, :1])
        rest = front_end(band, env, lf, x[:, 1:], None if out is None else (out[0][:, 1:], out[1][:, 1:], out[2][:, 1:]))
        if out is None:
            y, y2, e, low = (np.concatenate([a, b], axis=1) for a, b in zip(head, rest))
            return y, y2, e, low
        for o, a in zip(out, (head[0], head[2], head[3])):
            o[:, :1] = a
        return out[0], np.concatenate([head[1], rest[1]], axis=1), out[1], out[2]
    if kernel is None or band.zi is None or env.zi is None or lf.zi is None or x.shape[-1] == 0:
        y = band.process(x)
        y2 = y * y
        e = env.process(y2)  # a fresh array: floored and rooted in place
        np.maximum(e, 0.0, out=e)
        np.sqrt(e, out=e)
        return y, y2, e, lf.process(x)
    x = np.ascontiguousarray(x, dtype=np.float64)
    if out is None:
        y, e, low = np.empty_like(x), np.empty_like(x), np.empty_like(x)  # (no generator: live blocks)
    else:
        y, e, low = out
    y2 = np.empty_like(x)
    kernel(band.sos, env.sos, lf.sos, x, band.zi, env.zi, lf.zi, y, y2, e, low)
    return y, y2, e, low


# Designs are cached: a pipeline needs several, and designing them cost more than detecting
# a few seconds of signal. Callers get their own copy of the cached read-only array.
@lru_cache(maxsize=64)
def _zi_unit_ro(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    zi = signal.sosfilt_zi(np.frombuffer(sos_bytes).reshape(n_sections, 6))
    zi.setflags(write=False)
    return zi


def _zi_unit(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    return _zi_unit_ro(sos_bytes, n_sections).copy()


@lru_cache(maxsize=64)
def _butter_ro(order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    sos = signal.butter(order, cutoff if isinstance(cutoff, float) else list(cutoff), btype=btype, fs=fs,
                        output="sos")
    sos.setflags(write=False)
    return sos


def bandpass_sos(low_hz: float, high_hz: float, fs: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass; ``order`` per edge (the cascade has ``order`` sections)."""
    return _butter_ro(int(order), (float(low_hz), float(high_hz)), "bandpass", float(fs)).copy()


def lowpass_sos(cutoff_hz: float, fs: float, order: int = 1) -> np.ndarray:
    return _butter_ro(int(order), float(cutoff_hz), "lowpass", float(fs)).copy()
