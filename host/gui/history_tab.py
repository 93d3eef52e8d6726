"""The live app's History tab: the daily rate plot with the fitted trend, and what each time
rule of the advice measured (the same numbers as `myotwitch history`). Refreshed when shown
and when a recording ends."""

from __future__ import annotations

import datetime as dt
import html
import logging

import pyqtgraph as pg
from PySide6 import QtWidgets

from myotwitch.host.advice import MAX_WINDOW_DAYS

log = logging.getLogger(__name__)


class HistoryTab(QtWidgets.QWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: dict | None = None
        layout = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        self.summary = QtWidgets.QLabel("–")
        self.summary.setWordWrap(True)
        self.days_spin = QtWidgets.QSpinBox()
        self.days_spin.setRange(1, MAX_WINDOW_DAYS)
        self.days_spin.setValue(28)
        self.days_spin.setSuffix(" days")
        self.days_spin.valueChanged.connect(lambda _v: self.refresh())
        refresh = QtWidgets.QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top.addWidget(self.summary, 1)
        top.addWidget(self.days_spin)
        top.addWidget(refresh)
        layout.addLayout(top)
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setMinimumHeight(160)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.getPlotItem().setLabel("left", "twitches per hour")
        self.plot.getPlotItem().showGrid(y=True, alpha=0.2)
        self.bars = pg.BarGraphItem(x=[], height=[], width=1.0, brush=pg.mkBrush(198, 40, 40))
        self.fit = pg.PlotDataItem([], [], pen=pg.mkPen((20, 20, 20), width=2, style=pg.QtCore.Qt.PenStyle.DashLine))
        self.plot.addItem(self.bars)
        self.plot.addItem(self.fit)
        layout.addWidget(self.plot, 2)
        self.evidence = QtWidgets.QTextBrowser()
        layout.addWidget(self.evidence, 3)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the session index and diary; never raises (the live view must keep running)."""
        from myotwitch.host.advice import load_rules
        from myotwitch.host.history import (
            association_statements,
            build_history,
            counting_statement,
            counts_statement,
            rule_statements,
            short_statement,
            undated_statement,
        )
        from myotwitch.host.index import SessionIndex

        days = self.days_spin.value()
        try:
            now = dt.datetime.now()
            with SessionIndex.default() as idx:
                sessions = idx.sessions(include_undated=True)
                diary = idx.entries(now - dt.timedelta(days=days))
            rules = load_rules()
            h = build_history(sessions, diary, rules, days=days, now=now)
        except Exception as e:  # noqa: BLE001 - shown in the tab instead
            log.warning("history unavailable: %s", e)
            self.evidence.setPlainText(f"history unavailable: {e}")
            return
        self.history = h
        noon = [dt.datetime.fromisoformat(r["date"]).timestamp() + 12 * 3600 for r in h["days"]]
        self.bars.setOpts(x=noon, height=[r["rate_per_hour"] for r in h["days"]], width=0.8 * 86400)
        line = h["rules"]["worsening"]["line"]
        if line:
            self.fit.setData([dt.datetime.fromisoformat(line["from"]).timestamp(),
                              dt.datetime.fromisoformat(line["to"]).timestamp()],
                             [line["start_rate_per_hour"], line["end_rate_per_hour"]])
        else:
            self.fit.setData([], [])
        lo = dt.datetime.fromisoformat(h["window"]["from"]).timestamp()
        self.plot.setXRange(lo, dt.datetime.fromisoformat(h["window"]["to"]).timestamp() + 86400, padding=0)
        self.summary.setText(f"{h['window']['from']} to {h['window']['to']}: "
                             f"{counts_statement(h)}")
        colors = {True: "#c62828", False: "#2e7d32"}
        parts = ["<b>What the time rules measured</b>"]
        parts += [f"<p style='color:{colors[fires]}'>{html.escape(text)}</p>" for _, fires, text in rule_statements(h)]
        parts.append("<b>Associations (not causes)</b>")
        parts += [f"<p>{html.escape(text)}</p>" for _, _, text in association_statements(h)]
        short = short_statement(h)
        if short:  # (as the CLI and the report say it: why a recording is not counted)
            parts.append(f"<p><i>{html.escape(short)}</i></p>")
        if h["undated"]["count"]:
            parts.append(f"<p><i>{html.escape(undated_statement(h))}</i></p>")
        counting = counting_statement(h)
        if counting:  # (as the CLI, the page and the advice say it: the tab had left it out)
            parts.insert(0, f"<p style='background:#fff8e1'>{html.escape(counting)}</p>")
        parts.append(f"<p style='color:#666'><i>{html.escape(rules.notice)}</i></p>")  # (as every other page)
        self.evidence.setHtml("".join(parts))
