"""Held-out suite recordings (benchmarks/heldout.py) shared by the tests that read them.

Generating a case takes seconds (the 2 kHz bursty case, six minutes: about 8 s), and the same
case and seed is read by more than one test (bursty_2k, seed 126: tests/dsp/test_mains.py and
tests/dsp/test_energy_detector.py). It is made once per run here. The arrays are read-only, so
no test can change what another one reads, and every caller gets the signal the generator is
deterministic in (case, seed, changes)."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np


@cache
def heldout_signal(case: str, seed: int, **changes: object) -> tuple[np.ndarray, float]:
    """The whole signal (µV, read-only) of the held-out ``case`` made with ``seed``, its spec
    changed by ``changes`` (e.g. ``mains_uv=(0, 0)``), and its sampling rate."""
    from benchmarks import heldout as h
    spec = next(s for s in h.suite(False) if s.name == case)
    if changes:
        spec = dataclasses.replace(spec, **changes)
    x = h.generate(spec, seed)[0]
    x.setflags(write=False)
    return x, float(spec.fs)
