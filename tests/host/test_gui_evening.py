"""An evening with the live app, as a worried user spends it (offscreen): a replayed file's
numbers agree with `analyze` of the same file to its very end; a paused trace stays while the
sensor goes on."""

import dataclasses

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore  # noqa: E402

from myotwitch.host.analysis import analyze_file  # noqa: E402
from myotwitch.host.gui.acquisition import BUFFER_S  # noqa: E402
from myotwitch.host.paths import data_dir  # noqa: E402
from tests.host.test_gui_polish import make_window  # noqa: E402

pytestmark = pytest.mark.gui


def twitches(summary: dict) -> list[dict]:
    return [e for e in summary["events"] if e["kind"] == "twitch"]


def test_a_replay_ending_just_after_a_twitch_counts_it_as_analyze_does(qtbot, settings, tmp_path):
    example = data_dir() / "examples" / "calf-30s.csv"
    last = twitches(analyze_file(example))[-1]
    # the file cut 0.15 s after its last twitch: the detector still holds it for its context
    end_s = last["offset_s"] + 0.15
    lines = example.read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if float(ln.split(",")[0]) < end_s]
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(kept) + "\n")
    expected = analyze_file(cut)
    assert twitches(expected)[-1]["onset_s"] == pytest.approx(last["onset_s"])  # (still in the cut file)

    win = make_window(qtbot, f"file:{cut}?speed=0", settings)
    qtbot.waitUntil(lambda: not win.acq._thread.is_alive(), timeout=60_000)
    qtbot.wait(100)
    win.redraw()
    assert int(win.lbl_count.text()) == expected["stats"]["counts"]["twitch"]
    assert win.lbl_episodes.text() == f"episodes: {len(expected['episodes'])}"
    # the file is over: its last episode has ended, it is not "going on"
    rows = [win.episode_list.item(i).text() for i in range(win.episode_list.count())]
    assert len(rows) == len(expected["episodes"]) and not any("going on" in r for r in rows)
    # and the banner says the replay is over (a red "source ended" had read as a fault)
    assert win.banner.isVisible() and win.banner.text().startswith("End of file: the replay is over")
    win.close()


def stopped_window(qtbot, settings, seconds: float):
    """A window on the simulator, its acquisition stopped after ``seconds`` of data."""
    win = make_window(qtbot, "sim:rate=1000,seed=3,speed=0,twitch_rate=30", settings)
    qtbot.waitUntil(lambda: win.acq.state.samples >= seconds * 1000 and bool(win.events), timeout=60_000)
    win.acq.stop()
    qtbot.wait(50)
    win.redraw()
    return win


def more_data(win, seconds: float) -> None:
    """``seconds`` more of the live trace, as a sensor delivers while the view is paused."""
    x = np.random.default_rng(1).normal(0, 4, (1, int(seconds * 1000))).astype(np.float32)
    win.acq.buffer.append(x, x)
    win.redraw()


def test_a_paused_trace_stays_while_the_sensor_goes_on_for_longer_than_the_buffer(qtbot, settings):
    win = stopped_window(qtbot, settings, 12)
    win.btn_pause.click()
    win.redraw()
    _, shown = win.curves[0].getData()
    assert np.isfinite(shown).all() and win.paused
    more_data(win, BUFFER_S + 10)  # a pause longer than the trace the window keeps
    _, after = win.curves[0].getData()
    assert np.isfinite(after).all()
    np.testing.assert_array_equal(after, shown)  # the very picture paused on, not a blank plot
    win.scroll_view(-0.5)  # and it scrolls within what was kept when paused
    win.redraw()
    assert np.isfinite(win.curves[0].getData()[1]).any()
    # an event found after the pause, clicked while still paused, is shown (in the trace since)
    last = next(e for e in reversed(win.events) if e.kind == "twitch")
    shift = win.acq.buffer.end - 3000 - last.onset_sample
    later = dataclasses.replace(last, onset_sample=last.onset_sample + shift, offset_sample=last.offset_sample + shift,
                                onset_s=last.onset_s + shift / 1000, offset_s=last.offset_s + shift / 1000)
    win._list_event(later)
    win.event_list.itemClicked.emit(win.event_list.item(0))
    assert win.paused and win.view_end - win.window_s * 1000 <= later.onset_sample < win.view_end
    win.redraw()
    assert np.isfinite(win.curves[0].getData()[1]).all()
    win.btn_pause.click()  # live again: the newest samples
    win.redraw()
    assert not win.paused and win.lbl_time.text().startswith(f"right edge at {win.acq.buffer.end / 1000:,.1f} s")
    win.close()


def test_clicking_an_event_older_than_the_kept_trace_says_so(qtbot, settings):
    win = stopped_window(qtbot, settings, 12)
    more_data(win, BUFFER_S + 10)
    first = win.event_list.item(win.event_list.count() - 1)  # (newest first: the oldest is last)
    ev = first.data(QtCore.Qt.ItemDataRole.UserRole)
    assert ev is not None and ev.onset_sample < win.acq.buffer.end - win.acq.buffer.n
    win.event_list.itemClicked.emit(first)
    assert win.paused
    assert f"at {ev.onset_s:.1f} s is older than the last {BUFFER_S:.0f} s the trace keeps" in win.status_label.text()
    win.close()


def test_the_advice_counts_a_recording_made_in_the_window_once(qtbot, settings, tmp_path):
    import json
    import re

    win = make_window(qtbot, "sim:rate=1000,seed=4,speed=0,twitch_rate=20", settings, out_dir=str(tmp_path / "rec"))
    qtbot.waitUntil(lambda: win.acq.state.samples >= 5_000, timeout=60_000)
    begin = win.acq.buffer.end
    win.btn_record.click()
    assert win.btn_record.isChecked()  # recorded from 5 s to 75 s, then over a minute more unrecorded
    qtbot.waitUntil(lambda: win.acq.state.samples >= 75_000, timeout=120_000)
    end = win.acq.buffer.end
    win.btn_record.click()
    assert "saved" in win.status_label.text()
    qtbot.waitUntil(lambda: win.acq.state.samples >= 145_000, timeout=120_000)
    win.acq.stop()
    qtbot.wait(50)
    win.redraw()
    win.update_advice()
    (summary,) = (tmp_path / "rec").glob("*.summary.json")
    in_file = json.loads(summary.read_text())["stats"]["counts"]["twitch"]
    shown = [e for e in win.events if e.kind == "twitch"]
    # (the worker may add a block or two while a click starts or stops the file: a twitch there
    # may be the file's or not)
    unsure = [e for e in shown if begin <= e.onset_sample <= begin + 500 or end <= e.onset_sample <= end + 500]
    outside = [e for e in shown if not begin <= e.onset_sample < end and e not in unsure]
    assert int(win.lbl_count.text()) == len(shown) and 10 < len(outside) < len(shown) and in_file > 10
    why = re.search(r"(\d+) twitch(?:es)? in (\d+) recordings?\b", win.advice.toPlainText())
    assert why is not None, win.advice.toPlainText()
    # the recording is in the history now, and the window's session holds it: counted once, in
    # the one recording the window's session is (the file's twitches had been added on top)
    assert (int(why.group(1)), int(why.group(2))) == (len(shown), 1)
    win.close()


def test_the_advice_counts_a_replayed_recording_once_and_on_its_own_date(qtbot, settings, tmp_path):
    import re

    from myotwitch.host.cli import main
    from myotwitch.host.index import SessionIndex

    out = tmp_path / "night"
    assert main(["-q", "record", "--source", "sim:rate=1000,speed=0,twitch_rate=20,seed=7", "--duration", "80s",
                 "--out", str(out)]) == 0
    (edf,) = out.glob("*.edf")
    with SessionIndex.default() as idx:
        (night,) = idx.sessions(include_undated=True)  # the recorder put it in the history
    win = make_window(qtbot, f"file:{edf}?speed=0", settings)
    qtbot.waitUntil(lambda: not win.acq._thread.is_alive(), timeout=120_000)
    qtbot.wait(50)
    win.redraw()
    win.update_advice()
    why = re.search(r"(\d+) twitch(?:es)? in (\d+) recordings?\b", win.advice.toPlainText())
    assert why is not None, win.advice.toPlainText()
    # the replay is that night again, not a second session of today: counted once
    assert (int(why.group(1)), int(why.group(2))) == (night["twitches"], 1)
    assert int(win.lbl_count.text()) > 10
    win.close()


def test_a_sensor_gone_silent_is_said_beside_the_count(qtbot, settings):
    import time

    win = stopped_window(qtbot, settings, 3)
    win.resize(1280, 760)  # (the Sensor panel, which says it too, is below the fold here)
    win.acq.state.connected = True  # a BLE sensor that stays connected but sends nothing
    win.acq.state.last_data_at = time.monotonic() - 5.2
    win._update_counters(win.acq.buffer.end / win.acq.buffer.fs)
    assert win.lbl_hold.isVisible() and "no data from the sensor for 5 s" in win.lbl_hold.text()
    win.acq.state.last_data_at = time.monotonic()  # data again
    win._update_counters(win.acq.buffer.end / win.acq.buffer.fs)
    assert not win.lbl_hold.isVisible()
    win.close()


def test_a_file_closed_by_a_long_outage_while_recording_counts_once_in_the_advice(qtbot, settings, tmp_path):
    import json
    import re

    # the sensor is away from 80 s to 150 s: over a minute, so the recording goes on in a new file
    spec = "sim:rate=1000,seed=6,speed=0,twitch_rate=20,disconnect_every=150,disconnect_for=70"
    win = make_window(qtbot, spec, settings, out_dir=str(tmp_path / "rec"))
    qtbot.waitUntil(lambda: win.acq.state.samples >= 5_000, timeout=60_000)
    begin = win.acq.buffer.end
    win.btn_record.click()
    qtbot.waitUntil(lambda: bool(list((tmp_path / "rec").glob("*.summary.json"))), timeout=120_000)
    # over a minute of data outside the file (5 s before it, 65 s after the outage): a rate to give
    qtbot.waitUntil(lambda: win.acq.state.samples >= 145_000, timeout=120_000)
    win.redraw()  # (the window's events change only here: the advice and the test read the same)
    win.update_advice()
    assert win.btn_record.isChecked() and win.acq.state.recording  # the recording goes on
    (summary,) = (tmp_path / "rec").glob("*.summary.json")
    first = json.loads(summary.read_text())
    end = begin + round(first["stats"]["duration_s"] * 1000)
    shown = [e for e in win.events if e.kind == "twitch"]
    unsure = [e for e in shown if begin <= e.onset_sample <= begin + 500]  # (the file's or not)
    outside = [e for e in shown if not begin <= e.onset_sample < end and e not in unsure]
    assert first["stats"]["counts"]["twitch"] > 10 and len(outside) > 2
    why = re.search(r"(\d+) twitch(?:es)? in (\d+) recordings?\b", win.advice.toPlainText())
    assert why is not None, win.advice.toPlainText()
    # the file closed at the outage is in the history while the recording goes on, and the
    # window's session holds it: counted once
    assert (int(why.group(1)), int(why.group(2))) == (len(shown), 1)
    win.close()


CLOSE_BY_SIGNAL = r'''
import argparse, os, signal, sys
from PySide6 import QtCore, QtWidgets
from myotwitch.dsp import DetectorConfig
from myotwitch.host.gui.app import run_live
from myotwitch.host.gui.window import MainWindow

def poke():  # Record once data comes, then the signal once 4 s more have come (a loaded machine's
    # timer fires late: counted from the click, not from the start, the file always holds them)
    wins = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    if not wins or wins[0].acq is None or wins[0].acq.state.samples < 3000:
        return
    if not wins[0].btn_record.isChecked():
        wins[0].btn_record.click()
        clicked.append(wins[0].acq.state.samples)
    elif wins[0].acq.state.samples > clicked[0] + 4000:
        timer.stop()
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))

clicked = []

app = QtWidgets.QApplication([])
timer = QtCore.QTimer()
timer.timeout.connect(poke)
timer.start(100)
args = argparse.Namespace(source="sim:speed=2", window=None, out=sys.argv[1], lsl=False, run_for=25, screenshot=None)
sys.exit(run_live(args, DetectorConfig()))
'''


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_closes_the_window_and_finishes_the_recording(tmp_path, sig):
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(CLOSE_BY_SIGNAL)
    out = tmp_path / "rec"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, str(script), str(out), sig], capture_output=True, text=True, timeout=120,
                       env=env)
    # a logout's SIGTERM had ended the app at once (the file left without its summary, marked as
    # being recorded); Ctrl+C had done nothing until --run-for
    assert r.returncode == 0, r.stderr
    assert not list(out.glob("*.recording"))
    (summary,) = out.glob("*.summary.json")
    assert json.loads(summary.read_text())["stats"]["duration_s"] >= 2
    assert "Traceback" not in r.stderr
