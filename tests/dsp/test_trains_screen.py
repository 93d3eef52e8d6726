"""The train stage's screen (dsp/trains.py ``TrainStage._screen``) decides a block's potentials
together as arrays: every potential it passes must be one the scalar checks would have brought
to the background check (``_background``), with nothing decided differently on the way."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from myotwitch.dsp import Pipeline, kernels
from myotwitch.dsp.bursts import Burst
from myotwitch.dsp.events import make_event
from myotwitch.dsp.synth import hard_case, muap
from myotwitch.dsp.trains import TrainStage

REACHED = "reached the background check"


def _checking(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch ``_decide`` so that a screened potential's scalar verdict is worked out first, with
    ``_background`` answering a marker: it must be that marker. Counts screened decisions."""
    decide, background = TrainStage._decide, TrainStage._background
    seen = [0]
    monkeypatch.setattr(TrainStage, "screen_min", 2)  # (blocks of a few potentials screened too)

    def checked(self, c, pot, until, final, screened=False):  # type: ignore[no-untyped-def]
        if screened:
            seen[0] += 1
            monkeypatch.setattr(TrainStage, "_background", lambda *_: REACHED)
            try:
                assert self._verdict(c, pot, until, final) == REACHED, (c, pot.onset)
            finally:
                monkeypatch.setattr(TrainStage, "_background", background)
        return decide(self, c, pot, until, final, screened)

    monkeypatch.setattr(TrainStage, "_decide", checked)
    monkeypatch.setattr(TrainStage, "_at_rest_ahead", lambda *_: False)  # (every screened one asked here)
    return seen


def _with_twitches(name: str, fs: float, seed: int, units: float) -> np.ndarray:
    """A hard case's background (voluntary activity, walking, ...) with a large potential every
    0.42-1 s on top, a share ``units`` of them a unit firing two to four times at 30-600 ms
    intervals (the same waveform): many clear the early checks, those amid the activity or
    next to a unit's firings must not."""
    x, _ = hard_case(name, fs, 90.0, seed=seed)
    x = np.array(x, dtype=float).reshape(-1)
    rng = np.random.default_rng(seed)
    t = 0.5
    while t < 88.0:
        w = 300.0 * muap(float(rng.uniform(4.0, 10.0)), fs, rng, False)
        for _ in range(int(rng.integers(2, 5)) if rng.random() < units else 1):
            at = int(t * fs)
            x[at: at + w.size] += w
            t += float(rng.uniform(0.03, 0.6))
        t += float(rng.uniform(0.42, 1.0))
    return x


def _case(name: str, fs: float, units: float) -> np.ndarray:
    return np.stack([_with_twitches(name, fs, 17, units), _with_twitches(name, fs, 18, units)])


def _pipeline_run(x: np.ndarray, fs: float) -> tuple:
    """The events of a pipeline fed ``x`` in blocks that hold a few seconds of potentials each,
    and the train stage's rest grid left."""
    pipe = Pipeline(fs, 2)
    events = []
    for i in range(0, x.shape[1], 1 << 13):
        events += pipe.process(x[:, i: i + (1 << 13)])
    events += pipe.flush()
    tr = pipe._trains
    return events, tr._rest_base, list(tr._rest_i), tr._rest_v.tolist()


@cache
def _checked_run(name: str, fs: float, units: float) -> tuple[int, tuple]:
    """A case run with every screened potential's scalar verdict checked (``_checking``, the
    shortcut ahead off): how many were screened, and ``_pipeline_run``'s events and rest grid.
    The two tests below share it (once per case: a run of bursty_high_rate takes 6 s here): the
    first for the check; the second as its run without the shortcut. The check leaves a run as
    it is (it asks ``_verdict`` with ``_background`` answering a marker and changes nothing;
    on these four cases the events and rest grid were exactly those of a run without it), and
    should it ever change one, the second test would show the difference."""
    with pytest.MonkeyPatch.context() as mp:
        seen = _checking(mp)
        run = _pipeline_run(_case(name, fs, units), fs)
    return seen[0], run


@pytest.mark.parametrize("name, fs, units", [("near_contraction", 2000.0, 0.0), ("voluntary_low", 1000.0, 0.0),
                                             ("motion", 1000.0, 0.0), ("bursty_high_rate", 1000.0, 0.0),
                                             ("rest_quiet", 1000.0, 0.3), ("mains_strong", 500.0, 0.3)])
def test_a_screened_potential_is_one_the_scalar_checks_bring_to_the_background(name, fs, units):
    seen, _ = _checked_run(name, fs, units)
    assert seen > 10  # (the screen did pass some)


@pytest.mark.parametrize("name, fs, units", [("near_contraction", 2000.0, 0.0), ("voluntary_low", 1000.0, 0.0),
                                             ("bursty_high_rate", 1000.0, 0.0), ("rest_quiet", 1000.0, 0.3)])
def test_a_screened_potential_found_at_rest_ahead_is_decided_as_the_background_check_decides(
        monkeypatch, name, fs, units):
    """``_at_rest_ahead``'s shortcut against ``_decide`` for every screened potential: the same
    events, the same rest grid left, and the shortcut taken (compiled kernels: the pure path
    works out nothing ahead)."""
    if kernels.quiet_backgrounds() is None:
        pytest.skip("no compiled kernels")
    _, without = _checked_run(name, fs, units)  # (screen_min 2, the shortcut off)
    monkeypatch.setattr(TrainStage, "screen_min", 2)
    real, hits = TrainStage._at_rest_ahead, [0]

    def counted(self, c, pot):  # type: ignore[no-untyped-def]
        got = real(self, c, pot)
        hits[0] += got
        return got

    monkeypatch.setattr(TrainStage, "_at_rest_ahead", counted)
    with_shortcut = _pipeline_run(_case(name, fs, units), fs)
    assert hits[0] > 10
    assert with_shortcut == without


def _pair(onset: int, snippet: np.ndarray, ptp: float = 300.0) -> tuple[Burst, object]:
    b = Burst(0, onset, onset + 8, 1, ptp, ptp / 2, 5.0, 0.0, False, None, snippet=snippet, snippet_norm=1.0)
    e = make_event(onset_s=onset / 1000.0, offset_s=(onset + 8) / 1000.0, duration_ms=8.0, peak_to_peak_uv=ptp,
                   snr_db=30.0, channel=0, kind="twitch", onset_sample=onset, offset_sample=onset + 8)
    return b, e


def _run(onsets: list[list[int]], screen: bool) -> list[tuple[int, str]]:
    """Blocks of potentials (one waveform) through a train stage (no background or recurrence
    check), each decided with all data up to the next block's first; the screen on or off."""
    stage = TrainStage(1000.0, 1, min_hz=5.0, max_hz=30.0, regularity=1.3, size_ratio=1.3, min_corr=0.8,
                       min_len=3, pair_ratio=1.3, pair_corr=0.9)
    stage.screen_min = 2
    if not screen:
        stage._screen = lambda groups, until, final: [False] * len(stage._held)  # type: ignore[method-assign]
    snip = np.sin(np.linspace(0.0, 2 * np.pi, 16))
    snip /= np.linalg.norm(snip)
    out = []
    for i, block in enumerate(onsets):
        last = i == len(onsets) - 1
        out += stage.process([_pair(t, snip) for t in block], 10**9 if last else onsets[i + 1][0] - 1, last)
    return [(e.onset_sample, e.kind) for e in out]


@pytest.mark.parametrize("onsets", [
    [[1000, 1100, 1200], [1750, 2600, 3500]],  # a train, then a firing 550 ms on: the unit fires on
    [[1000, 1150], [1540, 2600, 3400]],  # a pair, then one 390 ms on (within likeness reach)
    [[1000, 1900, 2800], [3700, 4600, 5500, 6400, 7300]],  # isolated twitches
])
def test_the_screen_decides_as_the_scalar_checks(onsets):
    assert _run(onsets, True) == _run(onsets, False)
