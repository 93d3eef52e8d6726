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
