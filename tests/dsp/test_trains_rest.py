"""The resting level (dsp/trains.py ``TrainStage.rest_floor``) is the low percentile of the noise
floor over the last ``rest_s``, whatever path computes it: a sorted window sliding value by
value when questions come close together, one selection when they come seconds apart, a fresh
start after a step back, a long jump or a settling stretch (NaN floors)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from myotwitch.dsp.trains import REST_PERCENTILE, TrainStage


def _stage(rest_s: float = 2.0, step: int = 10) -> TrainStage:
    return TrainStage(1000.0, 2, min_hz=5.0, max_hz=30.0, regularity=1.3, size_ratio=1.3, min_corr=0.8,
                      min_len=3, quiet_s=0.15, rest_s=rest_s, rest_step=step)


def feed(stage: TrainStage, y: np.ndarray, floors: np.ndarray, start: int) -> None:
    """The samples and their floor into the stage, as the pipeline hands them over."""
    stage.feed_rest(start, y.shape[1], floors[:, stage.rest_grid(start, y.shape[1])])
    stage.feed(y, start)


def _reference(floors: np.ndarray, c: int, at: int, rest_n: int, step: int) -> float:
    """The order statistic below ``REST_PERCENTILE`` of the finite floors on the grid in
    [at - rest_n, at], by sorting them all."""
    grid = np.arange(0, floors.shape[1], step)
    grid = grid[(grid >= at - rest_n) & (grid <= at)]
    vals = np.sort(floors[c, grid][np.isfinite(floors[c, grid])])
    return float(vals[int(REST_PERCENTILE / 100.0 * (len(vals) - 1))]) if vals.size else 0.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), gaps=st.lists(st.integers(1, 1500), min_size=5, max_size=60),
       blocks=st.sampled_from([7, 50, 333, 2000]))
def test_the_resting_level_is_the_low_percentile_of_the_window_on_every_path(seed, gaps, blocks):
    rng = np.random.default_rng(seed)
    n = 12_000
    # a floor that holds still for stretches (ties), drifts, and starts with a settling stretch
    floors = np.repeat(rng.uniform(1.0, 5.0, (2, n // 40)).round(1), 40, axis=1)
    floors[:, : int(rng.integers(0, 300))] = np.nan
    stage = _stage()
    y = rng.standard_normal((2, n))
    for s in range(0, n, blocks):
        feed(stage, y[:, s:s + blocks], floors[:, s:s + blocks], s)
    at = 0
    for g in gaps:  # questions in increasing time per channel, some close, some far apart
        at = min(at + g, n - 1)
        c = int(rng.integers(0, 2))
        assert stage.rest_floor(c, at) == _reference(floors, c, at, stage.rest_n, stage.rest_step)


def test_a_step_back_starts_the_window_afresh():
    rng = np.random.default_rng(3)
    floors = rng.uniform(1.0, 5.0, (2, 5000)).round(2)
    stage = _stage()
    feed(stage, rng.standard_normal((2, 5000)), floors, 0)
    for at in (4000, 4010, 4020, 3000, 3005, 4990):  # close, close, back, close, far
        assert stage.rest_floor(0, at) == _reference(floors, 0, at, stage.rest_n, stage.rest_step)


def test_a_short_window_that_slides_past_its_last_one_starts_afresh():
    """``rest_history_s`` set to a few floors: two close questions can be further apart than
    the window is long, and the window then shares nothing with the last one."""
    rng = np.random.default_rng(4)
    floors = rng.uniform(1.0, 5.0, (2, 5000))
    stage = _stage(rest_s=0.1, step=10)  # 10 floors
    feed(stage, rng.standard_normal((2, 5000)), floors, 0)
    for at in range(1000, 4000, 113):  # 11 floors on: past the last window, by fewer than REST_SLIDE
        assert stage.rest_floor(0, at) == _reference(floors, 0, at, stage.rest_n, stage.rest_step)


def test_busy_background_sees_only_candidates_every_block_size_has_delivered():
    """A large candidate starting just after the least data a decision waits for could mask the
    end of the quiet window after a potential through its pad. A large offline chunk hands it
    over before the decision, a live block not always, so it must not count: the verdict on a
    loud end of the window is the same with and without it."""
    from myotwitch.dsp import Pipeline
    from myotwitch.dsp.trains import _Potential

    rng = np.random.default_rng(3)
    y = rng.standard_normal(3000)
    y[1150:1180] = 5.0 * rng.choice([-1.0, 1.0], 30)  # the window's last 30 samples are loud
    verdicts = []
    for future in (False, True):
        p = Pipeline(1000.0, 1)
        stage = p._trains
        p.units.push(y[None, :], 0)  # the ring the stages share, filled ahead of the train stage's feed
        feed(stage, y[None, :], np.ones((1, y.size)), 0)
        pot = _Potential(1000, 20.0, np.zeros(17), 1030, 1.0)
        near = [pot]
        if future:  # 200 x the floor, starting at the horizon every block size reaches (1200)
            near.append(_Potential(1205, 200.0, np.zeros(17), 1215, 1.0))
        stage._recent[0], stage._recent_on[0] = near, [p.onset for p in near]
        verdicts.append(stage._busy_background(0, pot))
    assert verdicts[0] is True  # the loud end counts
    assert verdicts[1] == verdicts[0]


def test_a_weak_units_firings_smaller_than_the_candidate_still_make_it_recur():
    """The candidate of a weak unit is the firing the noise lifted over the threshold, so the
    unit's other firings (found by the candidate's own waveform as a matched filter) are
    smaller than it: 0.7x its size at 16x the floor, under the narrowed size bar (1 + 6 / 16)
    but within the train's 1.6x, make it a unit firing mostly below the threshold. At 0.5x
    they are not its firings, nor are matches that differ among themselves by more than the
    narrowed bar (0.63x with one of 0.95x: chance look-alikes, not one unit)."""
    from myotwitch.dsp import Pipeline
    from myotwitch.dsp.trains import _Potential

    t = np.arange(-8, 9) / 3.0
    tpl = t * np.exp(-t * t)
    tpl /= np.linalg.norm(tpl)
    verdicts = []
    for others in ((0.7,) * 6, (0.5,) * 6, (0.63, 0.63, 0.95, 0.63, 0.63, 0.63)):
        rng = np.random.default_rng(5)
        y = 0.002 * rng.standard_normal(1200)
        sizes = [*others[:4], 1.0, *others[4:]]
        for centre, a in zip((300, 400, 500, 600, 700, 800, 900), sizes):  # 10 Hz; the candidate at 700
            y[centre - 8: centre + 9] += tpl * a
        p = Pipeline(1000.0, 1)
        stage = p._trains
        p.units.push(y[None, :], 0)
        feed(stage, y[None, :], np.ones((1, y.size)), 0)
        pot = _Potential(692, 16.0, tpl.copy(), 709, 1.0)
        stage._recent[0], stage._recent_on[0] = [pot], [pot.onset]
        verdicts.append(stage._recurs(0, pot))
    assert verdicts == [True, False, False]
