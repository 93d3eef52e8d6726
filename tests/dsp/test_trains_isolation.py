"""The shape-only rule (``TrainStage._not_alone``): a small potential only the twitch-shape filters
find counts unless other activity (a contraction or an artifact) lies near it; an artifact too
small to be a twitch (``activity_uv``: the pipeline's ``min_twitch_uv``) is no such activity."""

from __future__ import annotations

import numpy as np
import pytest

from myotwitch.dsp.bursts import Burst
from myotwitch.dsp.events import make_event
from myotwitch.dsp.trains import SHAPE_ONLY, TrainStage


def _pair(onset: int, kind: str, reason: str | None, ptp: float, lf: float = 0.0,
          shape_only: bool = False) -> tuple[Burst, object]:
    snip = np.sin(np.linspace(0.0, 2 * np.pi, 16))
    snip /= np.linalg.norm(snip)
    b = Burst(0, onset, onset + 8, 1, ptp, ptp / 2, 5.0, lf, False, None, snippet=snip, snippet_norm=1.0,
              shape_only=shape_only)
    e = make_event(onset_s=onset / 1000.0, offset_s=(onset + 8) / 1000.0, duration_ms=8.0, peak_to_peak_uv=ptp,
                   snr_db=10.0, channel=0, kind=kind, onset_sample=onset, offset_sample=onset + 8, reason=reason)
    return b, e


@pytest.mark.parametrize("ptp,lf,reason,alone", [
    (7.3, 1.0, "7.3 µV: smaller than the smallest twitch counted (10 µV)", True),  # a small potential
    (4.0, 3.0, "low-frequency transient 3 µV around the burst (movement or electrode pop)", True),  # ... and its LF noise
    (4.0, 40.0, "low-frequency transient 40 µV around the burst (movement or electrode pop)", False),  # a moving limb
    (30.0, 2.0, "40 ms of activity: longer than a twitch (35 ms) but shorter than a contraction (250 ms)", False),
])
def test_a_shape_only_potential_is_alone_next_to_an_artifact_too_small_to_be_activity(ptp, lf, reason, alone):
    """A weak shape-only potential (30 µV on a 5 µV floor, under 12x) 0.6 s after an artifact:
    it counts when the artifact is under 10 µV both in the pass band and in its low-frequency
    swing, not after a movement or a burst of activity."""
    def run(activity_uv: float):  # type: ignore[no-untyped-def]
        stage = TrainStage(1000.0, 1, min_hz=5.0, max_hz=30.0, regularity=1.3, size_ratio=1.3, min_corr=0.8,
                           min_len=3, isolation_s=1.0, isolation_snr=12.0, activity_uv=activity_uv)
        out = stage.process([_pair(1000, "artifact", reason, ptp, lf), _pair(1600, "twitch", None, 30.0, shape_only=True)],
                            10**9, True)
        (got,) = [e for e in out if e.onset_sample == 1600]
        return got.kind, got.reason

    assert run(10.0) == (("twitch", None) if alone else ("contraction", SHAPE_ONLY))
    assert run(0.0) == ("contraction", SHAPE_ONLY)  # every artifact is activity without the size
