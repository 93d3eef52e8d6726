"""The live app driven as a user would (offscreen): settings changes keep the recording and the
counts, the Record button tells the truth, failed sources clear the display, channel-count
switches never race, the window fits a laptop, the controls refuse bad values with a message."""

import glob
import itertools
import os

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtWidgets  # noqa: E402

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.gui.acquisition import DisplayBuffer  # noqa: E402
from myotwitch.host.gui.window import MainWindow  # noqa: E402
from myotwitch.host.paths import data_dir  # noqa: E402

pytestmark = pytest.mark.gui


def make_window(qtbot, spec, settings, **kw):
    win = MainWindow(spec, DetectorConfig(), settings=settings, **kw)
    qtbot.addWidget(win)
    win.show()
    return win


def edit(widget, text):
    widget.setText(text)
    widget.editingFinished.emit()


def test_changing_the_threshold_keeps_one_recording_and_the_counts(qtbot, settings, tmp_path):
    import pyedflib

    out = tmp_path / "rec"
    win = make_window(qtbot, "sim:rate=1000,seed=5,speed=4,twitch_rate=60", settings, out_dir=str(out))
    qtbot.waitUntil(lambda: win.acq.state.samples > 3000, timeout=15_000)
    win.btn_record.click()
    assert win.btn_record.isChecked() and win.acq.state.recording
    qtbot.waitUntil(lambda: int(win.lbl_count.text()) >= 3, timeout=30_000)
    counted, listed, samples = int(win.lbl_count.text()), win.event_list.count(), win.acq.state.samples
    acq = win.acq
    edit(win.thr_edit, "4")
    assert win.config.sensitivity == 4 and win.config.energy_on_threshold == 4  # the detector in use
    assert win.acq is acq, "the stream was restarted"
    assert win.btn_record.isChecked() and "Stop" in win.btn_record.text() and acq.state.recording
    assert int(win.lbl_count.text()) >= counted and win.event_list.count() >= listed
    assert "applied" in win.status_label.text()
    qtbot.waitUntil(lambda: acq.state.samples > samples + 8000, timeout=20_000)
    qtbot.waitUntil(lambda: acq.config.sensitivity == 4, timeout=5_000)
    assert acq.state.samples > samples  # the stream carried on, it did not restart from 0
    later = [e for e in win.events if e.onset_s * 1000 > samples]
    assert all(e.onset_s * 1000 <= acq.state.samples for e in win.events)  # times stay absolute
    win.btn_record.click()
    files = glob.glob(str(out / "*.edf"))
    assert len(files) == 1, files  # one continuous recording
    f = pyedflib.EdfReader(files[0])
    try:
        seconds = f.datarecords_in_file * f.datarecord_duration
    finally:
        f.close()
    assert seconds >= (acq.state.samples - 3000 - 2000) / 1000 - 1
    assert later or int(win.lbl_count.text()) >= counted
    win.close()


def test_record_refuses_truthfully_when_the_folder_cannot_be_written(qtbot, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    win = make_window(qtbot, "sim:speed=2", settings, out_dir=str(blocker / "rec"))
    qtbot.waitUntil(lambda: win.acq.state.samples > 1000, timeout=15_000)
    win.btn_record.click()
    assert not win.btn_record.isChecked() and "Record" in win.btn_record.text()
    assert not win.acq.state.recording
    assert "not recording" in win.status_label.text()
    win.close()


def test_record_refuses_truthfully_when_the_source_failed(qtbot, settings, tmp_path):
    win = make_window(qtbot, "file:/nope/missing.edf", settings, out_dir=str(tmp_path / "rec"))
    qtbot.waitUntil(lambda: win.acq.failure is not None, timeout=10_000)
    win.btn_record.click()
    assert not win.btn_record.isChecked()
    assert "no working source" in win.status_label.text()
    assert not (tmp_path / "rec").exists() or not os.listdir(tmp_path / "rec")
    win.close()


def test_a_failed_source_clears_the_old_display(qtbot, settings):
    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=4,twitch_rate=60", settings)
    qtbot.waitUntil(lambda: int(win.lbl_count.text()) >= 2 and "connected ·" in win.lbl_link.text(), timeout=30_000)
    win.source_box.setCurrentText("bogus")
    win.start_source("bogus")
    qtbot.waitUntil(lambda: win.acq.failure is not None, timeout=5_000)
    qtbot.wait(100)
    assert win.lbl_count.text() == "0" and win.event_list.count() == 0
    assert win.curves == [] and len(win.plots.ci.items) == 0
    assert "not connected" in win.lbl_link.text() and "connected ·" not in win.lbl_link.text()
    assert win.banner.isVisible() and "bogus" in win.banner.text()
    win.close()


@pytest.mark.slow
def test_switching_between_one_and_four_channels_twenty_times_prints_nothing(qtbot, settings, capfd):
    import time

    win = make_window(qtbot, "sim:channels=1,speed=8", settings)
    win.timer.stop()  # the loop below draws; the timer would only add frames
    for i in range(20):
        n = 4 if i % 2 == 0 else 1
        win.start_source(f"sim:channels={n},seed={i}")
        deadline = time.monotonic() + 10
        frames = 0
        while frames < 5 and time.monotonic() < deadline:  # redraw often: hit any race
            win.redraw()
            frames += win.acq.buffer is not None
            time.sleep(0.001)
        QtWidgets.QApplication.processEvents()
        assert len(win.curves) == n
    win.close()
    err = capfd.readouterr().err
    assert err == "", err


def test_the_first_redraw_waits_for_a_complete_buffer(qtbot, settings):
    win = make_window(qtbot, "sim:speed=1", settings)
    win.timer.stop()
    win.acq.stop()
    # the worker published a buffer but not yet the link state's labels
    win.acq.buffer = DisplayBuffer(1000.0, 2, labels=("left", "right"))
    win.acq.state.labels = ()
    win.redraw()
    assert len(win.curves) == 2 and win._x_window == win.window_s
    win.close()


def test_the_window_fits_a_1366x768_laptop(qtbot, settings):
    win = make_window(qtbot, "sim:speed=1", settings)
    win.resize(800, 500)
    qtbot.wait(50)
    assert win.height() <= 520
    assert win.minimumSizeHint().height() < 600
    win.close()


def test_the_command_line_window_wins_over_the_remembered_one(qtbot, settings):
    settings.setValue("window_s", 25.0)
    win = make_window(qtbot, "sim:speed=1", settings, window_s=5.0)
    assert win.window_s == 5.0 and win.win_spin.value() == 5.0
    win.close()
    again = make_window(qtbot, "sim:speed=1", settings)
    assert again.window_s == 25.0  # without the option, the remembered one
    again.close()


def test_no_scrolling_before_the_data_starts(qtbot, settings):
    win = make_window(qtbot, "sim:rate=1000,speed=2", settings)
    qtbot.waitUntil(lambda: win.acq.buffer is not None and win.acq.buffer.end > 2000, timeout=10_000)
    for _ in range(5):
        win.scroll_view(-1.0)
    assert win.paused and win.view_end is not None and win.view_end > 0
    win.redraw()
    assert "-" not in win.lbl_time.text().split("s")[0]  # "right edge at -34.3 s" no more
    win.close()


def test_replay_file_offers_a_speed(qtbot, settings, monkeypatch):
    example = str(data_dir() / "examples" / "calf-10min.edf")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (example, "")))
    asked = {}

    def get_item(parent, title, label, items, current, editable):
        asked["items"] = items
        return "60× faster", True

    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem", staticmethod(get_item))
    win = make_window(qtbot, "sim:speed=1", settings)
    win.choose_file()
    assert any("real time" in i for i in asked["items"]) and len(asked["items"]) >= 3
    assert win.spec == f"file:{example}?speed=60"
    qtbot.waitUntil(lambda: win.acq.state.samples > 0, timeout=10_000)
    win.close()


@pytest.mark.parametrize("text", ["abc", "-5-100", "450-20", "20-"])
def test_a_bad_band_is_refused_with_a_message_and_the_box_restored(qtbot, settings, text):
    win = make_window(qtbot, "sim:speed=1", settings)
    before = win.config
    edit(win.band_edit, text)
    assert win.config == before
    assert win.band_edit.text() == "20-450"
    msg = win.status_label.text()
    assert msg.startswith(f"Band '{text}'") and "LO-HI" in msg or "low edge" in msg
    assert "could not convert" not in msg
    assert not win._status_timer.isActive()  # an error stays until the next message
    win.close()


@pytest.mark.parametrize("text", ["0", "-1", "x", "100"])
def test_a_bad_threshold_is_refused_with_a_message(qtbot, settings, text):
    win = make_window(qtbot, "sim:speed=1", settings)
    edit(win.thr_edit, text)
    assert win.config.sensitivity == 5.8 and win.thr_edit.text() == "5.8"
    assert win.status_label.text().startswith(f"Threshold '{text}'")
    win.close()


def test_band_and_threshold_parsers():
    from myotwitch.host.gui.window import parse_band, parse_threshold

    assert parse_band("20-450") == (20.0, 450.0) and parse_band(" 10.5 – 300 Hz") == (10.5, 300.0)
    assert isinstance(parse_band("-5-100"), str) and isinstance(parse_band("0-100"), str)
    assert parse_threshold("4.5") == 4.5 and isinstance(parse_threshold("nan"), str)


def test_the_trace_shows_what_the_detector_sees(qtbot, settings):
    """With strong mains hum the band-passed trace must be mains-cancelled like the detector's
    input: it stays inside the threshold lines when nothing twitches."""
    win = make_window(qtbot, "sim:rate=1000,seed=3,speed=8,twitch_rate=0,mains=50,mains_uv=60", settings)
    qtbot.waitUntil(lambda: win.acq.state.samples > 20_000 and np.isfinite(win.acq.buffer.threshold).all(),
                    timeout=30_000)
    buf = win.acq.buffer
    shown = buf.window(buf.end, 5000, filtered=True)[0]
    floor = float(buf.threshold[0]) / win.config.sensitivity
    rms = float(np.sqrt(np.nanmean(shown ** 2)))
    assert rms < 2.0 * floor, (rms, floor)
    assert np.nanmax(np.abs(shown)) < buf.threshold[0]
    win.close()


def test_no_sensor_banner_only_when_falling_back(qtbot, settings, monkeypatch):
    from myotwitch.host.errors import SourceError
    from myotwitch.host.sources import serial as serial_mod

    def nothing():
        raise SourceError("no device")

    monkeypatch.setattr(serial_mod, "resolve_auto", nothing)
    win = make_window(qtbot, "auto", settings)
    assert win.spec == "sim:" and win.sim_banner.isVisible()
    win.start_source("sim:")
    assert not win.sim_banner.isVisible()
    win.close()


def test_a_sensor_another_program_holds_is_said_in_use_not_missing(qtbot, settings, monkeypatch, caplog):
    # `live` opened while the recorder service holds the sensor: it fell back to the simulator
    # saying "no sensor found", as if the sensor were gone
    from myotwitch.host.sources import serial as serial_mod

    def busy(baudrate=None):
        raise serial_mod.PortsInUse("serial:auto: no free myotwitch device found; "
                                    + serial_mod.busy_text("/dev/ttyACM0"))

    monkeypatch.setattr(serial_mod, "resolve_auto", busy)
    with caplog.at_level("WARNING"):
        win = make_window(qtbot, "auto", settings)
    assert win.spec == "sim:" and win.sim_banner.isVisible()
    assert "in use by another program" in win.sim_banner.text() and "No sensor found" not in win.sim_banner.text()
    assert "/dev/ttyACM0 is in use by another program" in caplog.text
    win.close()


def test_rate_history_labels_only_zero_and_the_top(qtbot, settings):
    """The 80 px rate history has room for two y labels; automatic ticks overlapped."""
    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=8,twitch_rate=60", settings)
    qtbot.waitUntil(lambda: int(win.lbl_count.text()) >= 3, timeout=30_000)
    win._update_counters(win.acq.buffer.end / win.acq.buffer.fs)
    axis = win.rate_plot.getAxis("left")
    levels = axis._tickLevels  # what the axis draws (None = pyqtgraph's automatic, crowded ticks)
    assert levels is not None
    shown = sorted(v for level in levels for v, _label in level)
    assert shown[0] == 0 and len(shown) == 2, levels
    win.close()


def test_the_sensor_panel_says_why_nothing_counts_over_the_rest_floor():
    from myotwitch.host.gui.window import floor_note

    assert floor_note(np.array([np.nan]), ("calf",), 25.0) == "noise floor: learning…"
    quiet = floor_note(np.array([3.24, 4.0]), ("calf", "shin"), 25.0)
    assert quiet == "noise floor 3.2 · 4.0 µV RMS"
    busy = floor_note(np.array([3.2, 41.0]), ("calf", "shin"), 25.0)
    assert "over 25 µV on shin: no twitch counts" in busy and "calf," not in busy
    assert "no twitch counts" not in floor_note(np.array([41.0]), ("calf",), 0.0)  # the bar turned off
    assert "working muscle" in busy and "µV per count" not in busy
    # a board whose µV per count leaves out its front end's gain (x1000): a floor of 16.7 mV is
    # no muscle's, and "a working muscle, or poor skin contact" sent a maker to their electrodes
    scaled = floor_note(np.array([16749.0, 16802.0]), ("calf", "shin"), 25.0)
    assert "more than a muscle gives at the skin: the device's µV per count is wrong" in scaled
    assert "FRONTEND_GAIN" in scaled and "working muscle" not in scaled


def test_a_needle_recording_shows_its_busy_floor_in_the_sensor_panel(qtbot, settings):
    from myotwitch.host.paths import data_dir

    needle = data_dir() / "recordings" / "tibialis-anterior-needle-healthy.edf"
    win = make_window(qtbot, f"file:{needle}?speed=8", settings)
    qtbot.waitUntil(lambda: "no twitch counts" in win.lbl_link.text(), timeout=30_000)
    assert "noise floor" in win.lbl_link.text()
    # ... and under the counter, which stays in view when the sensor panel is scrolled away
    assert win.lbl_hold.isVisible() and win.lbl_hold.text().startswith("not counting on ")
    win.close()


def test_the_advice_panel_says_when_the_sessions_were_counted_differently(qtbot, settings):
    import dataclasses
    import datetime as dt

    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:  # last night's session, counted with a lower minimum
        idx.add_summary({"file": "/rec/last-night.edf", "start": (dt.datetime.now() - dt.timedelta(days=1)).isoformat(),
                         "channels": ["ch0"], "detector": dataclasses.asdict(DetectorConfig(min_twitch_uv=10.0)),
                         "stats": {"duration_s": 7200.0, "valid_s": 7200.0, "counts": {"twitch": 40},
                                   "twitches_per_hour": 20.0, "episodes": 1, "twitches_per_channel": [40]}})
    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=30", settings)
    # the live session weighs once it holds a minute of data (shorter ones give no rate)
    qtbot.waitUntil(lambda: win.acq.pipe is not None and win.acq.pipe.samples_seen > 61_000, timeout=30_000)
    win.update_advice()
    assert "counted with different detector settings" in win.advice.toPlainText()
    assert "smallest twitch counted 10 / 15 µV" in win.advice.toPlainText()
    win.close()


def test_a_source_that_never_delivered_is_not_remembered(qtbot, settings):
    """A mistyped port must not become the next start's source (plain `myotwitch live` then
    failed every time, though it promises the simulator when nothing is plugged in)."""
    win = make_window(qtbot, "serial:/dev/nonexistent-myotwitch", settings)
    qtbot.waitUntil(lambda: win.acq.failure is not None, timeout=5_000)
    qtbot.wait(100)
    win.close()
    assert settings.value("source") is None
    ok = make_window(qtbot, "sim:speed=4", settings)
    qtbot.waitUntil(lambda: ok.acq.state.samples > 0, timeout=10_000)
    qtbot.wait(100)
    ok.close()
    assert settings.value("source") == "sim:speed=4"


def test_a_remembered_source_that_fails_falls_back_and_says_so(qtbot, settings, monkeypatch):
    from myotwitch.host.errors import SourceError
    from myotwitch.host.sources import serial as serial_mod

    def nothing():
        raise SourceError("no device")

    monkeypatch.setattr(serial_mod, "resolve_auto", nothing)
    settings.setValue("source", "serial:/dev/nonexistent-myotwitch")
    win = make_window(qtbot, "serial:/dev/nonexistent-myotwitch", settings, remembered=True)
    qtbot.waitUntil(lambda: win.spec.startswith("sim"), timeout=5_000)
    assert "nonexistent-myotwitch" in win.status_label.text() and "sim:" in win.status_label.text()
    qtbot.waitUntil(lambda: win.acq.state.samples > 0, timeout=10_000)
    qtbot.wait(100)
    assert win.source_failure() is None
    win.close()
    # the device stays remembered: the simulator was a stand-in, not a choice
    assert settings.value("source") == "serial:/dev/nonexistent-myotwitch"


def test_live_settings_follow_myotwitch_home(tmp_path, monkeypatch):
    from myotwitch.host.gui.window import live_settings

    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path))
    s = live_settings()
    s.setValue("window_s", 12.0)
    s.sync()
    assert (tmp_path / "live.conf").is_file() and "window_s" in (tmp_path / "live.conf").read_text()



def test_the_twitch_panel_reads_at_a_glance(qtbot, settings):
    """Found by looking at screenshots: the threshold's legend covered the twitch markers, the
    rate plot ran minutes from -29 and crammed its ticks before any data, event reasons were cut
    at 40 characters, and the advice's notice alone held 180 px of a laptop's side panel."""
    from myotwitch.host.gui.window import ADVICE_HEIGHT, RATE_MINUTES, THRESHOLD_NOTE

    win = make_window(qtbot, "sim:rate=1000,seed=3,speed=8,twitch_rate=60,contractions=6", settings)
    lo, hi = win.rate_plot.getViewBox().viewRange()[0]
    assert lo == pytest.approx(-0.5) and hi == pytest.approx(RATE_MINUTES - 0.5)
    assert len(win.rate_plot.getAxis("left")._tickLevels[0]) == 2  # 0 and the top, before any data too
    qtbot.waitUntil(lambda: any(e.reason for e in win.events) and win.frames > 3, timeout=30_000)
    assert win.items[0].legend is None and THRESHOLD_NOTE in win.lbl_time.text()
    e = next(e for e in win.events if e.reason)
    item = next(win.event_list.item(i) for i in range(win.event_list.count())
                if win.event_list.item(i).data(0x0100) is e)
    assert e.reason in item.text() and item.toolTip() == e.reason
    from PySide6 import QtGui

    fixed = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
    assert win.event_list.font().family() == fixed.family()
    win.update_advice()
    assert ADVICE_HEIGHT[0] <= win.advice.height() < ADVICE_HEIGHT[1]
    win.close()


def test_a_source_chosen_in_the_window_that_fails_stays_shown(qtbot, settings):
    """A remembered source that worked had left the window ready to swap any later failure
    for the simulator: the user's own choice vanished with its error."""
    win = make_window(qtbot, "sim:speed=4", settings, remembered=True)
    qtbot.waitUntil(lambda: win.acq.state.samples > 0, timeout=10_000)
    win.start_source("serial:/dev/nonexistent-myotwitch")
    qtbot.waitUntil(lambda: win.acq.failure is not None, timeout=5_000)
    qtbot.wait(200)
    assert win.spec == "serial:/dev/nonexistent-myotwitch" and win.source_failure() is not None
    win.close()


def test_live_out_in_a_missing_folder_is_refused(tmp_path):
    import argparse

    from myotwitch.host.errors import MyotwitchError
    from myotwitch.host.gui.app import check_live

    args = argparse.Namespace(window=None, run_for=None, screenshot=None, out=str(tmp_path / "gone" / "rec"))
    with pytest.raises(MyotwitchError, match="does not exist"):
        check_live(args)


def test_the_rate_so_far_counts_hours_searched_not_gaps(qtbot, settings):
    # a faulty link's gaps were counted as time recorded: 594 /h in the window where the
    # recording's summary and the history said 1050 /h; and the seconds the detector settled
    # after them, blind, as hours without a twitch, as the summary's rate had
    from myotwitch.dsp.events import Event

    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=0,twitch_rate=0", settings)
    qtbot.waitUntil(lambda: win.acq is not None and win.acq.pipe is not None, timeout=30_000)
    win.acq.stop()
    win.acq.reconfigure(win.acq.config)  # (a detector of its own: what the simulator gave is the last one's)
    win.acq._apply_config()
    before = win.acq.searched_s
    pipe, noise = win.acq.pipe, np.random.default_rng(1).normal(0.0, 3.0, (win.acq.pipe.n_channels, 2800))
    for _ in range(20):  # 56 s of data, with 0.2 s outages: 0.15 s of settling after each
        pipe.process(noise)
        pipe.gap(200)
    win.events = [Event(onset_s=10.0 + i, offset_s=10.02 + i, duration_ms=20.0, peak_to_peak_uv=100.0, snr_db=20.0,
                        channel=0, kind="twitch") for i in range(10)]
    win.acq.state.lost = 60_000  # 60 s of gaps in 120 s
    searched = win.acq.searched_s
    # (the seconds with data less the new detector's settling: its start-up after the old one's
    # time line, a gap to it, and 0.15 s after each outage but the last; had been 60 s, 600 /h)
    assert pipe.settling_after_gaps_s > 19 * pipe.config.settle_s
    assert searched - before == pytest.approx(56.0 - pipe.settling_after_gaps_s, abs=0.02)
    win._update_counters(120.0)
    assert f"{10 / (searched / 3600):.0f} /h so far" in win.lbl_rate.text()
    win._update_counters(30.0)
    assert win.lbl_rate.text().startswith("10 in the first 30 s") and "/h" not in win.lbl_rate.text()
    win.close()


def test_the_sensor_panel_says_when_a_lossy_link_keeps_the_detector_settling(qtbot, settings):
    # frames lost now and then are bridged; outages longer than the bridge (0.2 s here, once a
    # second) restart the detector, which counts nothing while it settles
    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=0", settings)
    qtbot.waitUntil(lambda: win.acq is not None and win.acq.pipe is not None, timeout=30_000)
    win.acq.stop()
    pipe, noise = win.acq.pipe, np.random.default_rng(1).normal(0.0, 3.0, (win.acq.pipe.n_channels, 800))
    for _ in range(20):
        pipe.process(noise)
        pipe.gap(200)
    win._update_counters(20.0)
    assert "the link lost data often" in win.lbl_link.text()
    # and beside the count (the Sensor panel is below the fold at 1280x760)
    # (the rate, per hour searched, does not read low for the settling: the link is named, not the rate)
    assert not win.lbl_hold.isHidden() and "the link loses data often (see Sensor)" in win.lbl_hold.text()
    win.close()


def test_the_sensor_panel_says_a_connected_source_has_gone_silent(qtbot, settings):
    # a stall read "connected" for the 3 s before it is declared lost, and again after the
    # reopen while the device was still silent
    import time

    win = make_window(qtbot, "sim:rate=1000,seed=8", settings)
    qtbot.waitUntil(lambda: win.acq is not None and win.acq.state.samples > 2000, timeout=30_000)
    win.acq.stop()
    win.acq.state.connected = True
    win.acq.state.last_data_at = time.monotonic() - 2.4
    win._update_counters(win.acq.buffer.end / win.acq.buffer.fs)
    assert "connected, no data for 2 s" in win.lbl_link.text()
    win.acq.state.last_data_at = time.monotonic()
    win._update_counters(win.acq.buffer.end / win.acq.buffer.fs)
    assert "no data" not in win.lbl_link.text()
    win.close()


def test_switching_source_while_recording_says_the_recording_stopped_and_where_it_is(qtbot, settings, tmp_path):
    # the "saved" message was replaced at once by "source: ...", and the button quietly went
    # back to Record: the recording had ended without a word
    out = tmp_path / "rec"
    win = make_window(qtbot, "sim:rate=1000,seed=5,speed=4", settings, out_dir=str(out))
    qtbot.waitUntil(lambda: win.acq.state.samples > 3000, timeout=15_000)
    win.btn_record.click()
    qtbot.waitUntil(lambda: win.acq.state.samples > 6000, timeout=15_000)
    win.start_source("sim:rate=1000,seed=9")
    said = win.status_label.text()
    [edf] = glob.glob(str(out / "*.edf"))
    assert said.startswith("source: sim:rate=1000,seed=9; the recording stopped: saved ") and \
        os.path.basename(edf) in said and str(out) in said, said
    assert not win.btn_record.isChecked()
    win.close()


def test_the_source_box_shows_a_long_spec_from_its_start(qtbot, settings):
    spec = "sim:rate=1000,seed=5,channels=2,twitch_rate=30,reset_every=5,mains=50,mains_uv=20"
    win = make_window(qtbot, "sim:", settings)
    win.start_source(spec)
    edit_ = win.source_box.lineEdit()
    assert edit_.text() == spec and edit_.cursorPosition() == 0 and win.source_box.toolTip() == spec
    win.close()


def test_the_live_trace_keeps_its_mains_cancelled_across_a_bridged_gap():
    # the display's canceller restarted at every lost frame while the detector's ran on, so the
    # trace showed hum (~16 µV RMS at 5 % of frames lost) that the detector no longer saw
    from myotwitch.host.gui.acquisition import Acquisition
    from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock

    fs, fr = 1000.0, 20
    t = np.arange(30_000) / fs
    x = (56.0 * np.sin(2 * np.pi * 50.0 * t) + np.random.default_rng(0).normal(0, 3.0, t.size)).astype(np.float32)[None]
    acq = Acquisition("sim:test", DetectorConfig())
    acq._handle_record(DeviceInfo("sim", "id", "fw", fs, 1, 0, 1.0, ("ch0",)))
    for i in range(t.size // fr):
        acq._handle_record(GapRecord(i * fr, fr, fs, "lost") if i > 100 and i % 20 == 0
                           else SampleBlock(i * fr, fs, x[:, i * fr:(i + 1) * fr]))
    shown = acq.buffer.window(acq.buffer.end, 20_000, True)[0]
    assert np.sqrt(np.nanmean(shown ** 2)) < 4.0


def test_the_trace_shades_what_is_in_view_among_a_nights_gaps_and_events(qtbot, settings):
    # a night holds tens of thousands of gaps and events: a redraw picks the window's by
    # bisection (events kept in onset order though some arrive late) and shades them with one item
    from myotwitch.dsp import Event

    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=0", settings)
    qtbot.waitUntil(lambda: hasattr(win, "_region_keys"), timeout=30_000)
    win.acq.stop()
    fs = win.acq.buffer.fs
    win.gaps = [(i * 400, 20) for i in range(20_000)]  # 8000 s
    kinds = ["twitch", "contraction", "artifact"]
    made = [Event(onset_s=s, offset_s=s + (3.0 if k == "contraction" else 0.02), duration_ms=20.0,
                  peak_to_peak_uv=100.0, snr_db=20.0, channel=0, kind=k)
            for s, k in zip(np.arange(0.0, 8000.0, 0.7), itertools.cycle(kinds))]
    from myotwitch.host.gui.acquisition import Update

    # as the acquisition hands them over, some late (an event held for its context)
    late = sorted(range(len(made)), key=lambda i: made[i].onset_s + (2.0 if i % 7 == 0 else 0.0))
    for k in range(0, len(late), 500):
        win.acq.updates.put(Update(events=[made[i] for i in late[k: k + 500]]))
    win.redraw()
    onsets = [e.onset_s for e in win.events]  # (the simulator's few first events among them)
    assert onsets == sorted(onsets) and len(onsets) >= len(made)

    def shaded():
        return sorted((round(a, 6), round(b, 6)) for a, b, _kind in win.shading[0].spans())

    for t_lo, t_hi in ((5000.0, 5010.0), (7000.0, 7002.0)):
        win._draw_events(0, t_lo, t_hi, np.zeros(10))
        want = [(e.onset_s, e.offset_s) for e in made if e.kind != "twitch" and e.offset_s >= t_lo and e.onset_s <= t_hi]
        want += [(a / fs, (a + n) / fs) for a, n in win.gaps if (a + n) / fs >= t_lo and a / fs <= t_hi]
        assert shaded() == sorted((round(a - t_hi, 6), round(b - t_hi, 6)) for a, b in want)
        assert len(want) >= 5
    win.close()


def test_an_event_line_fits_the_side_panel_at_a_laptops_size(qtbot, settings):
    # the size had wrapped onto a line of its own behind a long channel label at 1280x760
    from PySide6 import QtGui

    from myotwitch.dsp import Event

    win = make_window(qtbot, "sim:rate=1000,seed=8,speed=0", settings)
    win.resize(1280, 760)
    qtbot.waitUntil(lambda: hasattr(win, "_region_keys"), timeout=30_000)
    win.acq.stop()
    e = Event(onset_s=28799.9, offset_s=28800.0, duration_ms=20.0, peak_to_peak_uv=12345.0, snr_db=20.0, channel=0,
              kind="contraction", unit="U12")
    win._list_event(e)
    item = next(win.event_list.item(i) for i in range(win.event_list.count()) if win.event_list.item(i).data(0x0100) is e)
    line = item.text().splitlines()[0]
    assert "12345" in line and "contraction" in line
    assert QtGui.QFontMetrics(win.event_list.font()).horizontalAdvance(line) < win.event_list.viewport().width()
    win.close()


def test_the_shaded_stretches_are_merged_within_a_pixel_and_a_pixel_wide_at_least():
    from myotwitch.host.gui.spans import merged

    a, b = merged(np.array([5.0, 0.0, 1.05, 3.0, 9.5]), np.array([5.01, 1.0, 2.0, 3.0, 12.0]), 0.0, 10.0, 0.1)
    # 0-1 and 1.05-2 are closer than a pixel: one; 3-3 and 5-5.01 are widened to a pixel; 9.5-12 is cut at 10
    assert np.allclose(a, [0.0, 3.0, 5.0, 9.5]) and np.allclose(b, [2.0, 3.1, 5.1, 10.0])
    assert merged(np.array([11.0]), np.array([12.0]), 0.0, 10.0, 0.1)[0].size == 0


def test_a_lossy_links_gaps_are_shaded_by_one_item_a_plot_whatever_their_count(qtbot, settings):
    # at 4 kHz x 8 channels with 5 % of frames lost a 10 s window held ~1,100 shaded regions (one
    # item per gap and channel) and the app ran at ~6 fps; one item a plot now draws them all
    from PySide6 import QtCore

    win = make_window(qtbot, "sim:rate=1000,channels=2,seed=8,speed=0", settings)
    win.resize(1280, 760)
    qtbot.waitUntil(lambda: hasattr(win, "_region_keys") and win.acq.buffer.end > 20_000, timeout=30_000)
    win.timer.stop()
    win.acq.stop()
    win.redraw()
    items = [len(p.vb.addedItems) for p in win.items]
    end = win.acq.buffer.end
    win.gaps = [(s, 4) for s in range(end - 9_000, end, 20)]  # 450 lost frames in the last 9 s
    win.redraw()
    assert [len(p.vb.addedItems) for p in win.items] == items
    shaded = np.array([(a, b) for a, b, _ in win.shading[1].spans()])
    assert np.allclose(shaded, [((s - end) / 1000, (s + 4 - end) / 1000) for s, _ in win.gaps])
    # and they are drawn: a long gap's middle is tinted, the trace's data between gaps are not
    win.gaps = [(end - 8_000, 1_000), (end - 4_000, 1_000)]
    win.redraw()
    QtWidgets.QApplication.processEvents()
    image = win.plots.viewport().grab().toImage()
    vb = win.items[0].vb
    top = vb.viewRange()[1][1] * 0.97

    def color(t):
        at = win.plots.mapFromScene(vb.mapViewToScene(QtCore.QPointF(t, top)))
        c = image.pixelColor(at.x(), at.y())
        return c.red(), c.green(), c.blue()

    for t in (-7.5, -3.5):  # inside the gaps
        r, g, b = color(t)
        assert b > r + 10, (t, r, g, b)
    for t in (-5.5, -1.5):  # between them
        r, g, b = color(t)
        assert abs(b - r) < 10, (t, r, g, b)
    win.close()


def test_eight_channels_plots_share_one_left_axis_width_so_their_times_line_up(qtbot, settings):
    # each left axis had grown to its own tick text (-200 beside 10, 500000 beside 0), so the
    # plots' time axes were shifted against each other
    win = make_window(qtbot, "sim:rate=1000,channels=8,seed=3", settings)
    win.resize(1280, 760)
    qtbot.waitUntil(lambda: len(win.curves) == 8, timeout=30_000)
    win.timer.stop()
    win.acq.stop()
    amps = np.array([0.4, 3.0, 12.0, 150.0, 2_000.0, 45_000.0, 600_000.0, 7.0])[:, None]
    x = (np.sin(np.arange(12_000) / 50.0)[None] * amps).astype(np.float32)
    win.acq.buffer.append(x, x)
    win.redraw()
    for _ in range(3):  # paint (pyqtgraph sizes an axis to the text it drew) and lay out again
        win.plots.viewport().grab()
        QtWidgets.QApplication.processEvents()
    assert len({round(p.vb.viewRange()[1][1]) for p in win.items}) == 8  # the ranges differ
    lefts = [p.vb.sceneBoundingRect().left() for p in win.items]
    assert max(lefts) - min(lefts) < 0.5, lefts
    for p in win.items:  # and every axis's text has room
        ax = p.getAxis("left")
        assert ax.textWidth + ax.style["tickTextOffset"][0] <= ax.width()
    win.close()


def _stopped_stream(qtbot, settings):
    """A window on the simulator with over 3 s of its stream, its redraws and worker stopped (the
    test feeds the acquisition itself): (window, acquisition, samples in the buffer)."""
    win = make_window(qtbot, "sim:rate=1000,seed=8", settings)
    qtbot.waitUntil(lambda: len(win.curves) == 1 and win.acq.buffer.end > 3000, timeout=30_000)
    win.timer.stop()
    win.acq.stop()
    return win, win.acq, win.acq.buffer.end


def test_a_board_that_changes_format_mid_stream_starts_the_window_again(qtbot, settings):
    # a new rate or channel count is a new stream (the recorder starts a new file): the last
    # stream's events and shaded gaps had stayed, drawn against the new stream's time line
    from myotwitch.dsp import Event
    from myotwitch.host.gui.acquisition import Update
    from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock

    win, acq, end = _stopped_stream(qtbot, settings)
    old = [Event(onset_s=end / 1000 - 2.0, offset_s=end / 1000 - 1.0, duration_ms=1000.0, peak_to_peak_uv=300.0,
                 snr_db=20.0, channel=0, kind="contraction"),
           Event(onset_s=end / 1000 - 0.5, offset_s=end / 1000 - 0.48, duration_ms=20.0, peak_to_peak_uv=300.0,
                 snr_db=20.0, channel=0, kind="twitch")]
    acq.updates.put(Update(events=old, gaps=[(end - 1500, 200)]))
    win.redraw()
    assert int(win.lbl_count.text()) >= 1 and len(win.shading[0].spans()) >= 2
    listed = win.event_list.count()
    # the board comes back at 2000 Hz with 2 channels; the source's sample index counts on
    acq._handle(DeviceInfo("sim", "id", "fw", 2000.0, 2, 1, 0.125, ("left", "right")))
    noise = np.random.default_rng(0).normal(0.0, 3.0, (2, 400)).astype(np.float32)
    index = end + 10
    for k in range(10):
        acq._handle(SampleBlock(index, 2000.0, noise))
        index += 400
        if k == 5:
            acq._handle(GapRecord(index, 100, 2000.0, "lost"))
            index += 100
    win.redraw()
    assert win.events == [] and win.lbl_count.text() == "0" and win.lbl_last.text() == "last: –"
    assert len(win.curves) == 2 and win.acq.buffer.end == 4100
    # only the new stream's gap is shaded, where it is on the new time line (2400 samples in)
    for c in range(2):
        assert np.allclose([(a, b) for a, b, _ in win.shading[c].spans()], [((2400 - 4100) / 2000, (2500 - 4100) / 2000)])
    said = "new stream: 2000 Hz, 2 channels"
    assert said in win.status_label.text()
    top = win.event_list.item(0)
    assert said in top.text() and top.data(0x0100) is None
    assert win.event_list.count() == listed + 1  # the last stream's lines stay, below it, and jump nowhere
    assert all(win.event_list.item(i).data(0x0100) is None for i in range(win.event_list.count()))
    # the rate counts this stream's lost samples only
    assert acq.state.lost - acq.state.lost_earlier == 100
    win.close()


def test_a_format_change_while_recording_is_said_and_goes_on_in_a_new_file(qtbot, settings, tmp_path):
    import threading
    import time

    from myotwitch.host.sources.base import Source
    from myotwitch.host.stream import DeviceInfo, GapRecord, SampleBlock

    rng = np.random.default_rng(3)

    def stream(fs, n_channels, first, seconds):
        info = DeviceInfo("scripted", "00000000000000aa", "0.1.0", fs, n_channels, 1, 0.125,
                          tuple(f"m{i}" for i in range(n_channels)))
        block = int(fs // 50)
        out: list = [info]
        for k in range(int(seconds * 50)):
            out.append(GapRecord(first, block, fs, "lost") if k % 25 == 10 else
                       SampleBlock(first, fs, rng.normal(0.0, 3.0, (n_channels, block)).astype(np.float32)))
            first += block
        return out, first

    class Scripted(Source):
        spec = "scripted:"

        def __init__(self):
            super().__init__()
            first, end = stream(1000.0, 1, 0, 4.0)
            second, _ = stream(2000.0, 2, end, 3.0)
            self.batches = [first[:151]]  # 3 s, then 1 s more once recording, then the new format
            self.second = [first[151:], second]
            self.go = threading.Event()
            self._info = None

        @property
        def info(self):
            return self._info

        def read(self, timeout=0.5):
            if not self.batches and self.go.is_set() and self.second:
                self.batches, self.second = self.second, []
            if not self.batches:
                time.sleep(0.02)
                return []
            batch = self.batches.pop(0)
            self._info = next((r for r in reversed(batch) if isinstance(r, DeviceInfo)), self._info)
            return batch

    source = Scripted()
    out = tmp_path / "rec"
    win = make_window(qtbot, "scripted:", settings, out_dir=str(out), open_source=lambda spec: source)
    qtbot.waitUntil(lambda: win.acq.state.samples + win.acq.state.lost == 3000 and len(win.curves) == 1,
                    timeout=15_000)
    win.btn_record.click()
    assert win.acq.state.recording
    source.go.set()
    qtbot.waitUntil(lambda: "new stream: 2000 Hz, 2 channels" in win.status_label.text(), timeout=15_000)
    assert "the recording goes on in a new file" in win.status_label.text()
    qtbot.waitUntil(lambda: len(win.curves) == 2 and win.acq.buffer.end == 6000, timeout=15_000)
    qtbot.wait(100)
    # the new stream's gaps only, at their places on its time line (from 0 s): 0.2, 0.7, ... s
    assert [a for a, _ in win.gaps] == [k * 40 for k in range(10, 150, 25)]
    win.btn_record.click()
    assert len(glob.glob(str(out / "*.edf"))) == 2
    win.close()


@pytest.mark.parametrize("change", [{"uv_per_count": 0.5}, {"device_id": "another-board"}])
def test_a_board_that_changes_only_its_scale_or_id_is_a_new_stream_too(qtbot, settings, change):
    # the recorder starts a new file on any change of format; the window had gone on with the
    # last board's detector (its floor and history at the old scale) and drawn both as one
    import dataclasses

    win, acq, _ = _stopped_stream(qtbot, settings)
    old_pipe, old_buffer = acq.pipe, acq.buffer
    acq._handle(dataclasses.replace(acq._info, **change))
    assert acq.pipe is not old_pipe and acq.buffer is not old_buffer and acq.buffer.end == 0
    win.redraw()
    assert "new stream: 1000 Hz, 1 channel" in win.status_label.text()
    new_pipe = acq.pipe
    acq._handle(dataclasses.replace(acq._info))  # the same again: no new stream
    assert acq.pipe is new_pipe
    win.close()


def test_a_format_change_between_reading_the_queue_and_the_buffer_draws_no_old_event(qtbot, settings):
    # the worker says a new stream, then swaps its buffer in: a redraw that had found the queue
    # empty and then read the buffer drew the new stream's trace and plots under the last
    # stream's events (until the next redraw read the news)
    import queue

    from myotwitch.dsp import Event
    from myotwitch.host.gui.acquisition import Update
    from myotwitch.host.stream import DeviceInfo

    win, acq, end = _stopped_stream(qtbot, settings)
    acq.updates.put(Update(events=[Event(onset_s=end / 1000 - 2.0, offset_s=end / 1000 - 1.0, duration_ms=1000.0,
                                         peak_to_peak_uv=300.0, snr_db=20.0, channel=0, kind="contraction")]))
    win.redraw()
    assert win.events and win.shading[0].spans()

    class Racing(queue.Queue):
        """The worker changes format just after the window has found the queue empty."""

        armed = True
        seen = 0  # (the redraw asks whether there is news, then drains until there is none)

        def empty(self):
            found = super().empty()
            self.seen += found
            if found and self.armed and self.seen == 2:
                self.armed = False
                acq._handle(DeviceInfo("sim", "id", "fw", 2000.0, 2, 1, 0.125, ("left", "right")))
            return found

    racing = Racing()
    acq.updates = racing
    win.redraw()
    assert not racing.armed
    drawn_new = win._plotted is acq.buffer
    assert not (drawn_new and win.events), "the last stream's events were drawn over the new stream's trace"
    win.redraw()
    assert win.events == [] and len(win.curves) == 2 and win._plotted is acq.buffer
    win.close()


def test_a_long_banner_wraps_instead_of_widening_the_window(qtbot, settings):
    # why a board's samples cannot be used takes ~200 characters: the banner in one line made
    # the window (and --screenshot's image) 1700 px wide
    win = make_window(qtbot, "sim:rate=1000,speed=1", settings)
    win.resize(1280, 760)
    qtbot.waitUntil(lambda: "connected ·" in win.lbl_link.text(), timeout=15_000)  # (connecting clears it)
    win.acq.state.banner = "Sensor: " + "a reason that goes on " * 12
    qtbot.waitUntil(lambda: win.banner.isVisible(), timeout=5_000)
    qtbot.wait(200)
    win.resize(1280, 760)
    assert win.width() <= 1280 and win.banner.height() < 120
    win.close()
