import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from myotwitch.dsp import EpisodeGrouper, Event
from myotwitch.dsp.episodes import group_episodes


def ev(t, ch=0, kind="twitch", amp=100.0):
    return Event(t, t + 0.01, 10.0, amp, 20.0, ch, kind)


def test_twitches_within_gap_form_one_episode():
    eps = group_episodes([ev(0), ev(10), ev(35), ev(100, ch=1), ev(200, kind="contraction")], gap_s=30)
    assert [(e.n_twitches, e.channels) for e in eps] == [(3, (0,)), (1, (1,))]
    assert eps[0].start_s == 0 and eps[0].end_s == 35.01


def test_streaming_grouper_waits_until_no_twitch_can_join():
    g = EpisodeGrouper(30)
    assert g.process([ev(0), ev(5)], horizon_s=20) == []
    assert g.advance(35.0) == []  # 35 - 5.01 < 30: a twitch at 35 could still join
    closed = g.advance(36.0)
    assert len(closed) == 1 and closed[0].n_twitches == 2
    assert g.flush() == []


# -- the running-figure grouper against the straightforward model it replaced -----------------


def reference_episodes(events, gap_s):
    """Sort everything, then cut wherever the next onset is more than gap_s after the latest end."""
    tw = sorted((e for e in events if e.kind == "twitch"), key=lambda e: (e.onset_s, e.channel))
    groups, cur = [], []
    for e in tw:
        if cur and e.onset_s - max(g.offset_s for g in cur) > gap_s:
            groups.append(cur)
            cur = []
        cur.append(e)
    if cur:
        groups.append(cur)
    return [(min(e.onset_s for e in g), max(e.offset_s for e in g), len(g), tuple(sorted({e.channel for e in g})),
             max(e.peak_to_peak_uv for e in g)) for g in groups]


def as_tuples(eps):
    return [(e.start_s, e.end_s, e.n_twitches, e.channels, e.max_peak_to_peak_uv) for e in eps]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.002, 3.0), st.integers(0, 3), st.floats(1, 500)),
                max_size=60),
       st.lists(st.floats(0.5, 80), min_size=1, max_size=20), st.floats(1.0, 40.0))
def test_streamed_grouping_equals_sorting_everything(raw, steps, gap):
    events = [Event(t, t + d, d * 1000, a, 10.0, ch, "twitch") for t, d, ch, a in raw]
    # deliver each event once the stream has passed its end; the horizon never passes a pending onset
    g = EpisodeGrouper(gap, max_s=1e9)
    out, now, i = [], 0.0, 0
    events.sort(key=lambda e: e.offset_s)
    while i < len(events):
        now += steps[i % len(steps)]
        batch = []
        while i < len(events) and events[i].offset_s <= now:
            batch.append(events[i])
            i += 1
        horizon = min([now] + [e.onset_s for e in events[i:]])  # no future twitch starts earlier
        out += g.process(batch[::-1], horizon)  # any order within a batch
    out += g.flush()
    assert as_tuples(out) == reference_episodes(events, gap)


def test_continuous_twitching_is_reported_in_hourly_parts_with_bounded_state():
    g = EpisodeGrouper(30.0, max_s=3600.0)
    eps = []
    t = np.arange(0, 4 * 3600, 2.0)  # a twitch every 2 s for 4 h: never a 30 s pause
    for k in range(0, len(t), 30):  # one minute at a time
        batch = [ev(x) for x in t[k:k + 30]]
        eps += g.process(batch, horizon_s=float(t[min(k + 30, len(t) - 1)]))
        assert len(g._pending) <= 30  # nothing of the open episode is kept but its running figures
    eps += g.flush()
    assert len(eps) == 4
    assert [e.continues_previous for e in eps] == [False, True, True, True]
    assert sum(e.n_twitches for e in eps) == len(t)
    assert all(e.duration_s < 3600 for e in eps)
    assert eps[1].start_s == 3600.0 and eps[1].n_twitches == 1800


def test_a_pause_ends_continuous_activity():
    eps = group_episodes([ev(0), ev(20), ev(40), ev(100)], gap_s=30, max_s=30)
    assert [(e.n_twitches, e.continues_previous) for e in eps] == [(2, False), (1, True), (1, False)]
