"""An evening with the live app, as a worried user spends it (offscreen): a replayed file's
numbers agree with `analyze` of the same file to its very end."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.analysis import analyze_file  # noqa: E402
from myotwitch.host.gui.window import MainWindow  # noqa: E402
from myotwitch.host.paths import data_dir  # noqa: E402

pytestmark = pytest.mark.gui


def make_window(qtbot, spec, settings, **kw):
    win = MainWindow(spec, DetectorConfig(), settings=settings, **kw)
    qtbot.addWidget(win)
    win.show()
    return win


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
    win.close()
