"""The live app's episode list (the product card's "episode list"): closed episodes appear as
the detector closes them, the one going on above them, and a click shows the episode."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.dsp.episodes import group_episodes  # noqa: E402
from myotwitch.dsp.events import Event  # noqa: E402
from myotwitch.host.gui.window import MainWindow, episode_line, open_episode  # noqa: E402

pytestmark = pytest.mark.gui


def twitch(t, ch=0, pp=50.0):
    return Event(onset_s=t, offset_s=t + 0.02, duration_ms=20.0, peak_to_peak_uv=pp, snr_db=20.0, channel=ch,
                 kind="twitch")


def test_the_episode_going_on_is_the_twitches_after_the_last_closed_one():
    tw = [twitch(1.0), twitch(2.0, 1, 80.0), twitch(40.0), twitch(41.0, 1, 30.0), twitch(42.5, 0, 90.0)]
    closed = group_episodes(tw[:2], gap_s=30.0)
    ep = open_episode(tw, closed, 30.0)
    # the same figures as the detector's grouping gives once the episode closes
    assert ep == group_episodes(tw[2:], gap_s=30.0)[0]
    assert not ep.continues_previous
    assert open_episode(tw[:2], closed, 30.0) is None and open_episode([], [], 30.0) is None
    # an episode cut at its longest goes on in a part that continues it
    steady = [twitch(t) for t in range(0, 45, 5)]
    cut = group_episodes(steady, gap_s=30.0, max_s=30.0)
    assert len(cut) == 2 and cut[1].continues_previous
    assert open_episode(steady, cut[:1], 30.0) == cut[1]


def test_an_episode_line_reads_like_the_event_lines():
    tw = [twitch(12.0, 0, 40.0), twitch(20.0, 1, 85.4), twitch(150.0, 0, 60.0)]
    ep = group_episodes(tw, gap_s=200.0)[0]
    text = episode_line(ep, ("gastrocnemius", "soleus"))
    assert text.startswith("   12.0 s 3 twitches, up to 85\u00a0µV")
    assert "138 s" not in text and "2 min" in text and "gastrocnemius,soleus" in text
    one = episode_line(group_episodes(tw[:1])[0], ("calf",), going_on=True)
    assert "1 twitch," in one and "going on, < 1 s so far" in one and "calf" not in one


def test_the_live_episode_list_follows_the_detector_and_shows_a_clicked_episode(qtbot, settings):
    cfg = DetectorConfig(episode_gap_s=1.5)
    win = MainWindow("sim:rate=1000,seed=5,speed=8,twitch_rate=30", cfg, settings=settings)
    qtbot.addWidget(win)
    win.show()
    assert win.lists.tabText(1) == "Episodes"  # (no count before the first)
    qtbot.waitUntil(lambda: len(win.acq.episodes) >= 3 and win.frames > 3, timeout=40_000)
    win.acq.stop()
    win.redraw()
    closed = win.acq.episodes
    lst = win.episode_list
    items = [lst.item(i) for i in range(lst.count())]
    listed = [it.data(0x0100) for it in items if it.data(0x0100) in closed]
    assert listed == closed[::-1]  # newest first, each once
    twitches = [e for e in win.events if e.kind == "twitch"]
    ongoing = open_episode(twitches, closed, 1.5)
    if ongoing is not None:  # the one going on is first, bold
        assert items[0].data(0x0100) == ongoing and items[0].font().bold() and "going on" in items[0].text()
    assert win.lbl_episodes.text() == f"episodes: {len(closed) + (ongoing is not None)}"
    assert win.lists.tabText(1) == f"Episodes ({len(closed) + (ongoing is not None)})"
    ep = closed[0]
    lst.itemClicked.emit(next(it for it in items if it.data(0x0100) is ep))
    assert win.paused
    fs = win.acq.buffer.fs
    lo, hi = win.view_end / fs - win.window_s, win.view_end / fs
    assert lo <= ep.start_s and (ep.end_s <= hi or ep.end_s - ep.start_s > 0.8 * win.window_s)
    # an event line shows its event in the middle of the window, as before the lists shared a box
    item = next(win.event_list.item(i) for i in range(win.event_list.count())
                if win.event_list.item(i).data(0x0100) is twitches[len(twitches) // 2])
    win.event_list.itemClicked.emit(item)
    e = twitches[len(twitches) // 2]
    assert win.view_end == win._clamp_view(win.acq.buffer, int(e.onset_sample + 0.5 * win.window_s * fs))
    assert win.view_end - win.window_s * fs <= e.onset_sample < win.view_end
    win.close()


def test_the_line_of_the_episode_going_on_is_rewritten_in_place(qtbot, settings):
    """Redrawn every few frames: the line is not taken out and put back (which made the list
    jump under a user's scrolling), only its text changes; a closed episode goes under it."""
    win = MainWindow("sim:speed=0", DetectorConfig(), settings=settings)
    qtbot.addWidget(win)
    win.acq.stop()
    tw = [twitch(1.0), twitch(2.0), twitch(3.0, pp=120.0)]
    win._list_episodes([], open_episode(tw[:2], [], 30.0))
    top = win.episode_list.item(0)
    win._list_episodes([], open_episode(tw, [], 30.0))
    assert win.episode_list.item(0) is top and win.episode_list.count() == 1 and "3 twitches" in top.text()
    closed = group_episodes(tw, gap_s=30.0)
    later = [*tw, twitch(50.0)]
    win._list_episodes(closed, open_episode(later, closed, 30.0))
    assert win.episode_list.count() == 2 and win.episode_list.item(0) is top and "1 twitch," in top.text()
    assert win.episode_list.item(1).data(0x0100) == closed[0]
    win._list_episodes(closed, None)
    assert win.episode_list.count() == 1 and win._open_item is None
    win.close()


def test_the_episodes_read_while_new_settings_are_swapped_in_hold_each_once():
    # the window reads acq.episodes from its own thread while the worker swaps in a detector
    # with new settings: the last detector's episodes were among those before and still in the
    # detector, so the list took them twice (and then missed as many new ones, counted as listed)
    from myotwitch.host.gui.acquisition import Acquisition
    from myotwitch.host.sources import open_source

    acq = Acquisition("sim:test", DetectorConfig(episode_gap_s=1.5))
    src = open_source("sim:rate=1000,seed=5,speed=0,twitch_rate=60")
    while len(acq.episodes) < 3:
        for rec in src.read(0.2):
            acq._handle_record(rec)
    seen = []
    swap = acq._new_display_chain

    def reading_meanwhile(*a):  # (the GUI thread, between the worker's steps)
        seen.append(acq.episodes)
        return swap(*a)

    acq._new_display_chain = reading_meanwhile
    acq.reconfigure(DetectorConfig(episode_gap_s=2.0))
    while not seen:
        for rec in src.read(0.2):
            acq._handle_record(rec)
    src.close()
    final = acq.episodes
    for eps in seen:
        assert len({id(e) for e in eps}) == len(eps)
        assert eps == final[:len(eps)]
