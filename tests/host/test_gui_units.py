"""The live app's unit colours, counter and template view (offscreen, on the simulator with
recurring sources and crosstalk)."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore  # noqa: E402

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.gui.units_panel import NO_UNIT, unit_colour  # noqa: E402
from myotwitch.host.gui.window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


def test_units_are_coloured_counted_and_show_their_template(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    win = MainWindow("sim:rate=1000,channels=2,units=3,crosstalk=0.4,twitch_rate=0,seed=4,speed=30",
                     DetectorConfig(), settings=settings, window_s=60.0)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.units_panel.list.count() >= 2, timeout=60_000)
    win.acq.stop()
    win.redraw()
    win._update_counters(win.acq.buffer.end / 1000.0)
    panel = win.units_panel
    twitches = [e for e in win.events if e.kind == "twitch"]
    first = panel.list.item(0)
    unit = first.data(QtCore.Qt.ItemDataRole.UserRole)
    assert first.text().endswith(f"{sum(e.unit == unit for e in twitches)} twitches")
    # crosstalk: each firing reaches both channels but is one twitch
    assert any(e.hit_channels == (0, 1) for e in twitches)
    panel.show_template(first)
    assert panel.plot.isVisible() and panel.shown == unit
    assert "template from" in panel.caption.text()
    assert len(panel.plot.getPlotItem().listDataItems()) == 2  # one line per channel
    # markers take the unit's colour
    colours = set()
    for m in win.markers:
        for b in m.data["brush"]:
            colours.add(b.color().getRgb()[:3])
    assert unit_colour(unit) in colours
    assert unit_colour(unit) != NO_UNIT
    win.close()
