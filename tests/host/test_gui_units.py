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
    listed = [int(panel.list.item(i).text().split()[-2]) for i in range(panel.list.count())]
    rest = int(panel.caption.text().split("; ")[1].split()[0])
    assert sum(listed) + rest == len(twitches)  # the panel's numbers add up to the total
    # crosstalk: each firing reaches both channels but is one twitch
    assert any(e.hit_channels == (0, 1) for e in twitches)
    win.lists.setCurrentWidget(panel)  # (the units' tab, beside the events and episodes)
    assert win.lists.tabText(win.lists.currentIndex()) == f"Units ({panel.list.count()})"
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


def test_the_panel_lists_recurring_units_and_its_numbers_always_add_up(qtbot):
    """Units seen once or twice are not listed (as in `analyze` and its report), and the
    caption's unmatched count follows every new twitch, not only a unit's."""
    from types import SimpleNamespace as E

    from myotwitch.host.gui.units_panel import UnitsPanel
    from myotwitch.host.report_units import RECURRING_MIN

    panel = UnitsPanel(lambda: {})
    qtbot.addWidget(panel)
    tw = [E(unit="U1")] * 4 + [E(unit="U2")] * (RECURRING_MIN - 1) + [E(unit=None)] * 3
    panel.update_counts(tw)
    assert panel.list.count() == 1 and panel.list.item(0).text().endswith("4 twitches")
    assert panel.caption.text() == f"1 unit of {RECURRING_MIN}+ twitches; 5 twitches in none of them (yet)"
    assert panel.brush("U2").color().getRgb()[:3] == NO_UNIT != panel.brush("U1").color().getRgb()[:3]
    panel.update_counts(tw + [E(unit=None)])  # only an unmatched twitch more
    assert "6 twitches in none" in panel.caption.text()
    panel.update_counts(tw + [E(unit=None), E(unit="U2")])  # U2 now recurs: listed, coloured
    assert panel.list.count() == 2 and panel.caption.text().startswith("2 units of")
    assert "4 twitches in none" in panel.caption.text()
    assert panel.brush("U2").color().getRgb()[:3] == unit_colour("U2")


def test_a_shown_template_keeps_its_caption_until_clicked_again(qtbot):
    """Every new twitch rewrote the caption, so a clicked unit's template lost its words within
    a second; a second click goes back to the counts."""
    from types import SimpleNamespace as E

    import numpy as np

    from myotwitch.host.gui.units_panel import UnitsPanel

    panel = UnitsPanel(lambda: {"U1": {"template": np.ones((1, 40)) * np.hanning(40), "template_fs": 4000.0, "n": 5}})
    qtbot.addWidget(panel)
    tw = [E(unit="U1")] * 4 + [E(unit=None)]
    panel.update_counts(tw)
    panel.show_template(panel.list.item(0))
    shown = panel.caption.text()
    assert shown.startswith("U1: template from 5 firings (the list counts those since it was named)")
    panel.update_counts(tw + [E(unit=None)] * 3)
    assert panel.caption.text() == shown and not panel.plot.isHidden()
    panel.show_template(panel.list.item(0))  # again: back to the counts
    assert panel.plot.isHidden() and "4 twitches in none of them" in panel.caption.text()
