"""The live app's unit panel: a colour and a running count per recurring source (unit);
clicking one shows its template (every channel, in the unit's colour)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from myotwitch.host.report_units import RECURRING_MIN

PALETTE = ((21, 101, 192), (46, 125, 50), (106, 27, 154), (239, 108, 0), (0, 131, 143), (173, 20, 87),
           (78, 52, 46), (40, 53, 147), (158, 157, 36), (0, 105, 92))
NO_UNIT = (198, 40, 40)  # the usual twitch red: not (yet) a recurring source


def unit_colour(unit: str | None) -> tuple[int, int, int]:
    """Stable colour for a unit id ("U7"); None keeps the twitch red."""
    if not unit:
        return NO_UNIT
    digits = "".join(ch for ch in unit if ch.isdigit())
    return PALETTE[(int(digits) - 1) % len(PALETTE)] if digits else PALETTE[0]


class UnitsPanel(QtWidgets.QGroupBox):
    """``templates()`` returns the detector's current unit templates (id -> info dict)."""

    def __init__(self, templates: Callable[[], dict], parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("recurring waveforms: click one to see it, again to close", parent)
        self.setFlat(True)
        self._templates = templates
        self._counts: Counter = Counter()
        self._brushes: dict[str | None, QtGui.QBrush] = {}
        layout = QtWidgets.QVBoxLayout(self)
        self.list = QtWidgets.QListWidget()
        self.list.setMaximumHeight(96)
        self.list.itemClicked.connect(self.show_template)
        self.caption = QtWidgets.QLabel("no recurring source yet")
        self.caption.setStyleSheet("color:#666")
        self.caption.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setFixedHeight(110)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.getPlotItem().setLabel("bottom", "ms")
        self.plot.hide()
        layout.addWidget(self.list)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot)
        self.shown: str | None = None
        self._shown_counts: tuple = ()
        self._twitches: list = []

    def brush(self, unit: str | None) -> QtGui.QBrush:
        """Marker brush for a twitch of ``unit`` (cached: markers are redrawn every frame); a
        waveform seen fewer than ``RECURRING_MIN`` times keeps the twitch red, as it is not listed."""
        if unit and self._counts[unit] < RECURRING_MIN:
            unit = None
        b = self._brushes.get(unit)
        if b is None:
            b = self._brushes[unit] = pg.mkBrush(*unit_colour(unit))
        return b

    def clear(self) -> None:
        self._counts = Counter()
        self._twitches = []
        self._shown_counts = ()
        self.list.clear()
        self.plot.hide()
        self.shown = None
        self.caption.setText("no recurring source yet")

    def update_counts(self, twitches: list) -> None:
        """Recount the twitches per unit. Listed are the units of ``RECURRING_MIN`` twitches or
        more, as in `analyze` and its report; the caption accounts for every other twitch, so
        the numbers add up to the total. Nothing is redrawn unless a number changed."""
        self._twitches = twitches
        counts = Counter(e.unit for e in twitches if getattr(e, "unit", None))
        recurring = sorted((u for u in counts if counts[u] >= RECURRING_MIN),
                           key=lambda u: int("".join(ch for ch in u if ch.isdigit()) or 0))
        rest = len(twitches) - sum(counts[u] for u in recurring)
        key = (tuple((u, counts[u]) for u in recurring), rest)
        self._counts = counts
        if key == self._shown_counts:
            return
        self._shown_counts = key
        self.list.clear()
        for unit in recurring:
            item = QtWidgets.QListWidgetItem(f"● {unit}   {counts[unit]} twitches")
            item.setForeground(QtGui.QColor(*unit_colour(unit)))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, unit)
            self.list.addItem(item)
        if self.shown is not None:
            return  # (the caption describes the template shown until another is clicked)
        if not recurring:
            self.caption.setText("no recurring source yet" + (f"; {rest} twitches so far" if rest else ""))
        else:
            k = len(recurring)
            self.caption.setText(f"{k} unit{'' if k == 1 else 's'} of {RECURRING_MIN}+ twitches; "
                                 f"{rest} twitches in none of them (yet)")

    def show_template(self, item: QtWidgets.QListWidgetItem) -> None:
        """Show the clicked unit's template; a second click on it goes back to the counts."""
        unit = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if unit == self.shown:
            self.plot.hide()
            self.shown = None
            self._shown_counts = ()
            self.update_counts(self._twitches)
            return
        try:
            info = self._templates().get(unit)
        except Exception:  # noqa: BLE001 - the detector thread may be replacing it; try next click
            info = None
        if info is None:
            self.caption.setText(f"{unit}: template not available")
            return
        tmpl = np.asarray(info["template"], dtype=float)
        fs = float(info["template_fs"])
        self.plot.clear()
        colour = unit_colour(unit)
        for c, row in enumerate(tmpl):
            width = 2 if c == int(np.argmax(np.ptp(tmpl, axis=1))) else 1
            self.plot.plot(np.arange(row.size) / fs * 1000.0, row, pen=pg.mkPen(colour, width=width))
        self.plot.show()
        self.shown = unit
        # (the template holds every firing, the list only those labelled since the unit was named)
        self.caption.setText(f"{unit}: template from {int(info['n'])} firings (the list counts those since it "
                             f"was named), {np.ptp(tmpl, axis=1).max():.0f} µV peak-to-peak")
