"""The live app under pytest-qt (offscreen): starts on the simulator, counts what the detector
counts, shows and clears the unplug banner, records a valid file."""

import glob
import json
import pathlib

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore  # noqa: E402

from myotwitch.dsp import DetectorConfig, Pipeline  # noqa: E402
from myotwitch.host.gui.envelope import minmax_envelope  # noqa: E402
from myotwitch.host.gui.window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


def make_window(qtbot, spec, settings, **kw):
    win = MainWindow(spec, DetectorConfig(), settings=settings, **kw)
    qtbot.addWidget(win)
    win.acq.keep_samples = True
    win.show()
    return win


def test_starts_on_the_simulator_and_counts_like_the_detector(qtbot, settings):
    win = make_window(qtbot, "sim:rate=1000,channels=2,twitch_rate=40,seed=8,speed=4", settings)
    assert not win.sim_banner.isVisible()  # the simulator was asked for: no "no sensor found"
    qtbot.waitUntil(lambda: win.acq.state.samples >= 30_000, timeout=30_000)
    win.acq.stop()
    qtbot.wait(200)
    win.redraw()
    # the same samples through a fresh detector give the same twitches
    pipe = Pipeline(1000.0, 2)
    ref = []
    for _first, uv in win.acq.received:
        ref += pipe.process(uv)
    shown = int(win.lbl_count.text())
    assert shown == len([e for e in ref if e.kind == "twitch"]) > 5
    assert win.event_list.count() >= shown
    assert win.frames > 10


def test_unplug_shows_a_banner_and_replug_clears_it(qtbot, settings):
    win = make_window(qtbot, "sim:rate=1000,seed=2,speed=1,disconnect_every=3,disconnect_for=1", settings)
    qtbot.waitUntil(lambda: win.banner.isVisible() and "disconnected" in win.banner.text(), timeout=15_000)
    qtbot.waitUntil(lambda: not win.banner.isVisible(), timeout=15_000)
    qtbot.waitUntil(lambda: bool(win.gaps), timeout=10_000)  # the gap reaches the trace on the next frame
    assert win.acq.state.reconnects >= 1
    win.close()


def test_record_from_the_app_writes_a_valid_file(qtbot, settings, tmp_path):
    import pyedflib

    win = make_window(qtbot, "sim:rate=1000,seed=3,speed=2,twitch_rate=60", settings, out_dir=str(tmp_path / "rec"))
    qtbot.waitUntil(lambda: win.acq.state.samples > 4000, timeout=15_000)  # start recording mid-stream
    win.btn_record.click()
    qtbot.waitUntil(lambda: win.acq.state.samples > 20_000, timeout=20_000)
    win.btn_record.click()
    files = glob.glob(str(tmp_path / "rec" / "*.edf"))
    assert len(files) == 1
    f = pyedflib.EdfReader(files[0])
    try:
        assert f.datarecords_in_file >= 2 and f.getSampleFrequency(0) == 1000
    finally:
        f.close()
    summary = json.loads(pathlib.Path(files[0][:-4] + ".summary.json").read_text())
    assert summary["stats"]["counts"]["twitch"] > 3
    duration = summary["stats"]["duration_s"]
    assert all(0 <= e["onset_s"] <= duration for e in summary["events"])  # times are relative to the file
    win.close()


def test_settings_are_remembered(qtbot, settings):
    win = make_window(qtbot, "sim:speed=1", settings)
    win.win_spin.setValue(25)
    win.chk_filtered.setChecked(False)
    win.close()
    again = make_window(qtbot, "sim:speed=1", settings)
    assert again.window_s == 25 and not again.filtered
    again.close()


def test_envelope_keeps_a_single_sample_spike():
    y = np.zeros(200_000)
    y[123_457] = 500.0
    x, env = minmax_envelope(y, 0.0, 1 / 2000, 800)
    assert env.max() == 500.0 and len(env) == 1600
    assert np.isnan(minmax_envelope(np.full(5000, np.nan), 0, 1, 100)[1]).all()


@pytest.mark.parametrize("n, columns", [(10_000, 1_100), (2_000, 700), (200_000, 800), (4_001, 1_000)])
def test_envelope_draws_from_the_window_s_first_sample(n, columns):
    """The first ``n mod columns`` samples were cut: 0.3 s of a 10 s window at 1 kHz was empty."""
    y = np.arange(n, dtype=float)
    x, env = minmax_envelope(y, -n / 1000, 1 / 1000, columns)
    assert env[0] == 0.0 and env[-1] == n - 1  # the oldest and newest samples both drawn
    per = -(-n // columns)  # samples a column
    assert x[0] - (-n / 1000) < per / 1000 and x[-1] < 0 and np.all(np.diff(x) >= 0)
    assert len(env) <= 2 * columns


def test_scroll_back_while_paused(qtbot, settings):
    win = make_window(qtbot, "sim:rate=1000,seed=4,speed=4", settings)
    qtbot.waitUntil(lambda: win.acq.state.samples >= 25_000, timeout=30_000)
    win.scroll_view(-0.5)
    assert win.paused
    end = win.acq.buffer.end
    assert win.view_end == end - 5000 or win.view_end < end
    before = win.view_end
    win.scroll_view(-1.0)
    assert win.view_end == before - 10_000
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Space)
    assert not win.paused and win.view_end is None
    win.close()


def test_history_tab_shows_rates_and_refreshes_when_a_recording_ends(qtbot, settings, tmp_path):
    import datetime as dt

    from myotwitch.host.index import SessionIndex

    today = dt.datetime.combine(dt.date.today(), dt.time())
    with SessionIndex.default() as idx:
        for i in range(8):  # a rising week: the worsening rule fires
            idx.add_session(file=f"/rec/{i}.edf", start=today - dt.timedelta(days=8 - i, hours=1), duration_s=3600,
                            twitches=30 + 40 * i)
    win = make_window(qtbot, "sim:rate=1000,seed=3,speed=2,twitch_rate=60", settings, out_dir=str(tmp_path / "rec"))
    win.tabs.setCurrentWidget(win.history_tab)  # shown -> refreshed
    h = win.history_tab.history
    assert h is not None and len(h["days"]) == 8 and h["rules"]["worsening"]["fires"]
    xs, heights = win.history_tab.bars.opts["x"], win.history_tab.bars.opts["height"]
    assert list(heights) == [d["rate_per_hour"] for d in h["days"]]
    assert dt.date.fromtimestamp(xs[0]).isoformat() == h["days"][0]["date"]
    fit_x, fit_y = win.history_tab.fit.getData()
    assert list(fit_y) == [h["rules"]["worsening"]["line"]["start_rate_per_hour"],
                           h["rules"]["worsening"]["line"]["end_rate_per_hour"]]
    text = win.history_tab.evidence.toPlainText()
    assert "Worsening rule: worsening" in text and "Persistent rule" in text and "Spreading rule" in text
    win.tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: win.acq.state.samples > 3000, timeout=15_000)
    win.btn_record.click()
    qtbot.waitUntil(lambda: win.acq.state.samples > 12_000, timeout=20_000)
    win.btn_record.click()  # the recording ends: the tab re-reads the index without being shown again
    h = win.history_tab.history  # (a recording of a few seconds is listed as too short for a rate)
    assert len(h["sessions"]) + h["short"]["count"] == 9
    win.close()


def test_switching_to_a_working_source_clears_the_last_source_s_error(qtbot, settings):
    """A red "not recording: no working source (serial:…)" stayed after switching to a working
    source and recording from it."""
    win = make_window(qtbot, "serial:/dev/ttyMYOTWITCHNOPE", settings)
    win.say("not recording: cannot record: no working source (serial:/dev/ttyMYOTWITCHNOPE)", error=True)
    win.start_source("sim:rate=1000,speed=4")
    assert "no working source" not in win.status_label.text() and "c62828" not in win.status_label.styleSheet()
    assert "sim:rate=1000,speed=4" in win.status_label.text()
    win.acq.stop()


def test_history_tab_says_why_short_recordings_are_not_counted(qtbot, settings):
    """It said "0 dated session(s) on 0 day(s)" after a few short recordings; the CLI and the
    report name them as too short to give a rate."""
    import datetime as dt

    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:
        idx.add_session(file="/rec/short.edf", start=dt.datetime.now() - dt.timedelta(hours=1), duration_s=9,
                        twitches=2)
    win = make_window(qtbot, "sim:speed=0", settings)
    win.tabs.setCurrentWidget(win.history_tab)
    text = win.history_tab.evidence.toPlainText()
    assert "too short to give a rate" in text and "short.edf" in text
    win.acq.stop()


def test_history_tab_says_it_is_not_a_diagnosis(qtbot, settings):
    """The terminal, the reports and the live app's advice all carry the rules' notice; the
    History tab, which shows the same rules' measures, had not."""
    from myotwitch.host.advice import load_rules

    win = make_window(qtbot, "sim:speed=0", settings)
    win.tabs.setCurrentWidget(win.history_tab)
    text = win.history_tab.evidence.toPlainText()
    assert load_rules().notice in text
    win.acq.stop()


def test_history_tab_says_when_sessions_were_counted_with_different_settings(qtbot, settings):
    """`history`, its page and `advice` say a change in rate may be the settings' (a 500 Hz file's
    band ends at 225 Hz, a 1 kHz file's at 450); the live app's History tab had not."""
    import dataclasses
    import datetime as dt

    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.index import SessionIndex

    now = dt.datetime.now()
    with SessionIndex.default() as idx:
        for i, cfg in enumerate([DetectorConfig(min_twitch_uv=10.0)] * 2 + [DetectorConfig()] * 2):
            idx.add_summary({"file": f"/rec/s{i}.edf", "start": (now - dt.timedelta(days=5 - i)).isoformat(),
                             "channels": ["calf"], "detector": dataclasses.asdict(cfg),
                             "stats": {"duration_s": 7200.0, "valid_s": 7200.0, "counts": {"twitch": 100},
                                       "twitches_per_hour": 50.0, "episodes": 1, "twitches_per_channel": [100]}})
    win = make_window(qtbot, "sim:speed=0", settings)
    win.tabs.setCurrentWidget(win.history_tab)
    text = " ".join(win.history_tab.evidence.toPlainText().split())
    assert "counted with different detector settings (smallest twitch counted 10 / 15 µV; 2 / 2 files)" in text
    win.acq.stop()
