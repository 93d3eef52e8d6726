"""``TrainStage.rest_floor`` slides a sorted window or partitions it, whichever is cheaper for
the step asked; either way it is the order statistic of the floors in the window."""

import numpy as np
import pytest

from myotwitch.dsp.trains import REST_PERCENTILE, TrainStage


def _brute(stage, c, at, grid, floors):
    keep = [v for i, v in zip(grid, floors[c]) if at - stage.rest_n <= i <= at and v == v]
    return sorted(keep)[int(REST_PERCENTILE / 100.0 * (len(keep) - 1))] if keep else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rest_floor_is_the_order_statistic_whatever_the_steps(seed):
    rng = np.random.default_rng(seed)
    fs = 1000.0
    stage = TrainStage(fs, 2, min_hz=5.0, max_hz=40.0, regularity=0.3, size_ratio=1.5, min_corr=0.8,
                       min_len=3, quiet_s=0.1, rest_s=6.0, rest_step=10)
    grid, floors = [], [[], []]
    at = last = 0
    for block in range(60):
        n = int(rng.integers(200, 3000))
        y = rng.normal(size=(2, n))
        floor = rng.choice([3.0, 4.0, 5.0], size=(2, n)) + rng.normal(0, 0.5, (2, n)).round(1)
        if block < 3 or rng.random() < 0.05:
            floor[:, : n // 2] = np.nan  # settling
        start = at
        stage.feed(y, floor, start)
        first = -(-start // stage.rest_step) * stage.rest_step
        for i in range(first, start + n, stage.rest_step):
            grid.append(i)
            for c in range(2):
                floors[c].append(floor[c, i - start])
        at += n
        for _ in range(int(rng.integers(1, 6))):  # steps short and long, now and then a little back
            c = int(rng.integers(2))
            step = int(rng.choice([rng.integers(-800, 0), rng.integers(0, 150), rng.integers(150, 8000)]))
            q = min(max(last + step, 0), at - 1)
            last = max(last, q)
            assert stage.rest_floor(c, q) == _brute(stage, c, q, grid, floors)
