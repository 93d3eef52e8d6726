"""The main window: traces with twitches marked, counters, events, link status, controls, advice."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import html
import logging
import math
import os
import re
import time
from operator import attrgetter

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from myotwitch.dsp import DetectorConfig
from myotwitch.dsp.events import Episode, Event
from myotwitch.host.errors import MyotwitchError
from myotwitch.host.gui import collector
from myotwitch.host.gui.acquisition import Acquisition, DisplayBuffer
from myotwitch.host.gui.envelope import minmax_envelope
from myotwitch.host.gui.history_tab import HistoryTab
from myotwitch.host.gui.spans import SpanItem
from myotwitch.host.gui.units_panel import UnitsPanel
from myotwitch.host.session import cut_potential, floors_over, link_loss_warning, settling_warning
from myotwitch.host.sources.auto import NO_SENSOR
from myotwitch.host.sources.replay import ReplaySource
from myotwitch.host.wording import busy_floor_reason, counted

log = logging.getLogger(__name__)
_ONSET = attrgetter("onset_s")

THRESHOLD_RANGE = (2.5, 20.0)
#: the advice box's least and greatest height, px
ADVICE_HEIGHT = (60, 180)
#: the rate plot's span, minutes
RATE_MINUTES = 30
#: a connected source silent this long is said to be (a frame comes every 20 ms)
SILENT_S = 1.0
#: what the dashed lines on the band-passed trace are
THRESHOLD_NOTE = "dashed blue: the detection threshold"
#: "Replay file…" speeds: name -> x real time (0 = as fast as possible)
REPLAY_SPEEDS = {"real time (1×)": 1.0, "10× faster": 10.0, "60× faster": 60.0, "as fast as possible": 0.0}


def parse_band(text: str) -> tuple[float, float] | str:
    """'20-450' -> (20.0, 450.0); otherwise the reason it is not a band."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*(?:hz)?\s*", text, re.IGNORECASE)
    if m is None:
        return "expected LO-HI in Hz with positive numbers, e.g. 20-450"
    lo, hi = float(m.group(1)), float(m.group(2))
    if not 0 < lo < hi:
        return "the low edge must be above 0 and below the high edge"
    return lo, hi


def busy_channels(floor: np.ndarray, labels: tuple[str, ...], bar_uv: float) -> list[str]:
    """The channels whose noise floor is over ``max_rest_floor_uv``: no twitch counts there."""
    return [name for _, name, _ in floors_over(floor, labels, bar_uv)]


def floor_note(floor: np.ndarray, labels: tuple[str, ...], bar_uv: float) -> str:
    """The sensor panel's line on the background (HTML): its level, and, where a channel's is
    over ``max_rest_floor_uv``, that no twitch counts there and why (else a user sees the count
    stand still with no reason given)."""
    known = [(lab, float(v)) for lab, v in zip(labels, floor) if np.isfinite(v)]
    if not known:
        return "noise floor: learning…"
    text = "noise floor " + " · ".join(f"{v:.1f}" for _, v in known) + " µV RMS"
    over = floors_over(floor, labels, bar_uv)
    if over:
        text += (f"<br><b style='color:#c62828'>over {bar_uv:g} µV on {', '.join(name for _, name, _ in over)}: "
                 f"no twitch counts there ({busy_floor_reason([v for _, _, v in over])})</b>")
    return text


def open_episode(twitches: list[Event], closed: list[Episode], gap_s: float) -> Episode | None:
    """The episode going on: the twitches after the last closed episode's end (the detector
    closes an episode only once no later twitch can join it), as one; None when there are none.
    Within ``gap_s`` of the last, it is the next part of an episode cut at its longest."""
    after = closed[-1].end_s if closed else -math.inf
    i = len(twitches)
    while i > 0 and twitches[i - 1].onset_s > after:
        i -= 1
    ongoing = twitches[i:]
    if not ongoing:
        return None
    return Episode(start_s=ongoing[0].onset_s, end_s=max(e.offset_s for e in ongoing), n_twitches=len(ongoing),
                   channels=tuple(sorted({e.channel for e in ongoing})),
                   max_peak_to_peak_uv=max(e.peak_to_peak_uv for e in ongoing),
                   continues_previous=bool(closed) and ongoing[0].onset_s - after <= gap_s)


def _span(seconds: float) -> str:
    if seconds < 1:
        return "< 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def episode_line(ep: Episode, labels: tuple[str, ...], going_on: bool = False) -> str:
    """One line of the episode list, in the event list's columns: start, length, twitches and
    the largest, then the channels when there are several."""
    length = f"{_span(ep.end_s - ep.start_s)} so far" if going_on else _span(ep.end_s - ep.start_s)
    text = (f"{ep.start_s:7.1f} s {counted(ep.n_twitches, 'twitch', 'twitches')}, up to {ep.max_peak_to_peak_uv:.0f}\u00a0µV"
            f"\n           {'going on, ' if going_on else ''}{length}")
    if ep.continues_previous:
        text += ", continues the last"
    if len(labels) > 1:
        text += "  " + ",".join(labels[c] if c < len(labels) else f"ch{c}" for c in ep.channels)
    return text


def parse_threshold(text: str) -> float | str:
    """The on-threshold (a multiple of the noise floor), or the reason the text is not one."""
    try:
        value = float(text)
    except ValueError:
        return f"expected a number from {THRESHOLD_RANGE[0]:g} to {THRESHOLD_RANGE[1]:g}"
    if not THRESHOLD_RANGE[0] <= value <= THRESHOLD_RANGE[1]:
        return f"must be from {THRESHOLD_RANGE[0]:g} to {THRESHOLD_RANGE[1]:g} times the noise floor"
    return value


COLORS = {"twitch": (198, 40, 40), "contraction": (240, 180, 41, 70), "artifact": (120, 120, 120, 70),
          "gap": (100, 160, 230, 60)}


def live_settings() -> QtCore.QSettings:
    """Where the live app remembers its source, window and geometry: beside the history in
    ``$MYOTWITCH_HOME`` when that is set (a test or a second profile stays apart from the
    user's), else Qt's per-user place."""
    home = os.environ.get("MYOTWITCH_HOME")
    if home:
        return QtCore.QSettings(os.path.join(home, "live.conf"), QtCore.QSettings.Format.IniFormat)
    return QtCore.QSettings("myotwitch", "live")


class MainWindow(QtWidgets.QMainWindow):
    #: the episode list's line for the episode going on (at its top), None when none is
    _open_item: QtWidgets.QListWidgetItem | None = None

    def __init__(self, spec: str, config: DetectorConfig, *, window_s: float | None = None, out_dir: str | None = None,
                 settings: QtCore.QSettings | None = None, fps: int = 30, open_source=None, lsl: bool = False,
                 remembered: bool = False) -> None:
        super().__init__()
        collector.hold(self)  # before any thread starts: cycles with Qt objects die in this thread only
        self.lsl = lsl  # --lsl: the acquisition publishes LSL streams
        self.setWindowTitle("myotwitch live")
        self.settings = settings or live_settings()
        self.config = config
        self.spec = spec
        # a window length given on the command line wins over the remembered one
        self.window_s = float(window_s) if window_s is not None else float(str(self.settings.value("window_s", 10.0)))
        self.out_dir = out_dir or str(self.settings.value("out_dir", os.path.expanduser("~/myotwitch-recordings")))
        self.filtered = self.settings.value("filtered", "true") in (True, "true")
        self.paused = False
        self.view_end: int | None = None  # absolute sample shown at the right edge when paused
        #: what the paused view shows and scrolls through: the trace as it was when paused (the
        #: live buffer moves on, and an hour's pause had left the trace blank under its markers)
        self._frozen: DisplayBuffer | None = None
        self.events: list = []  # in onset order
        self._cut = 0  # possible twitches that gaps cut off, among the events
        self._longest = 0.0  # s: the longest event, how far before a window a redraw looks
        self.gaps: list[tuple[int, int]] = []
        self._gap_cache: tuple | None = None  # the last redraw's gaps in view (``_gaps_in``)
        self._next_buffer: DisplayBuffer | None = None  # a new stream's, said but not yet swapped in
        self.frames = 0
        self._open_source = open_source
        self._plotted: DisplayBuffer | None = None  # the buffer the plots were made for
        self.curves: list = []
        self._x_window: float | None = None
        self._labels: tuple[str, ...] = ()
        self._build()
        self._restore()
        self.acq: Acquisition | None = None
        #: the source to remember once it has delivered data (a source that never did, such as a
        #: mistyped port, must not replace "auto" at the next start)
        self._remember: str | None = None
        #: ``spec`` came from the settings, not from the user: when it fails before any data the
        #: window falls back to "auto" (a sensor, else the simulator) and says so
        self._from_memory = remembered
        self.start_source(spec)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.redraw)
        self.timer.start(int(1000 / fps))
        self.advice_timer = QtCore.QTimer(self)
        self.advice_timer.timeout.connect(self.update_advice)
        self.advice_timer.start(15_000)
        QtCore.QTimer.singleShot(2000, self.update_advice)

    # -- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        outer = QtWidgets.QVBoxLayout(central)
        self.banner = QtWidgets.QLabel()
        self.banner.setStyleSheet("background:#c62828;color:white;padding:6px;font-weight:bold")
        self.banner.setWordWrap(True)  # (a long reason wraps: it never widens the window past the screen)
        self.banner.hide()
        self.sim_banner = QtWidgets.QLabel(NO_SENSOR)
        self.sim_banner.setStyleSheet("background:#fff3c4;color:#5d4700;padding:4px")
        self.sim_banner.hide()
        outer.addWidget(self.banner)
        outer.addWidget(self.sim_banner)
        split = QtWidgets.QSplitter()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(split, "Live")
        self.history_tab = HistoryTab()
        self.tabs.addTab(self.history_tab, "History")
        outer.addWidget(self.tabs, 1)
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.lbl_time = QtWidgets.QLabel()
        self.lbl_time.setStyleSheet("color:#666")
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        left_layout.addWidget(self.lbl_time)
        left_layout.addWidget(self.plots, 1)
        split.addWidget(left)
        side = QtWidgets.QWidget()
        side.setMinimumWidth(320)
        # the side panel scrolls rather than forcing a tall window (fits a 1366x768 laptop)
        side_scroll = QtWidgets.QScrollArea()
        side_scroll.setWidgetResizable(True)
        side_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        side_scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_scroll.setMinimumWidth(340)
        side_scroll.setWidget(side)
        split.addWidget(side_scroll)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 380])
        form = QtWidgets.QVBoxLayout(side)

        counters = QtWidgets.QGroupBox("Twitches")
        g = QtWidgets.QGridLayout(counters)
        self.lbl_count = QtWidgets.QLabel("0")
        self.lbl_count.setStyleSheet("font-size:32px;font-weight:bold;color:#c62828")
        self.lbl_rate = QtWidgets.QLabel("– /min")
        self.lbl_episodes = QtWidgets.QLabel("episodes: 0")
        self.lbl_last = QtWidgets.QLabel("last: –")
        #: why the count stands still, where it can be seen (the sensor panel may be scrolled away)
        self.lbl_hold = QtWidgets.QLabel("")
        self.lbl_hold.setWordWrap(True)
        self.lbl_hold.setStyleSheet("color:#c62828;font-weight:bold")
        self.lbl_hold.hide()
        g.addWidget(self.lbl_hold, 4, 0, 1, 2)
        g.addWidget(self.lbl_count, 0, 0, 2, 1)
        g.addWidget(self.lbl_rate, 0, 1)
        g.addWidget(self.lbl_episodes, 1, 1)
        g.addWidget(self.lbl_last, 2, 0, 1, 2)
        self.rate_plot = pg.PlotWidget(background="w")
        self.rate_plot.setFixedHeight(80)
        self.rate_plot.setMouseEnabled(False, False)
        self.rate_plot.hideButtons()
        self.rate_plot.getPlotItem().setLabel("left", "/min")
        self.rate_plot.getAxis("left").setWidth(42)  # ticks set per update: 0 and the top only, never overlapping
        self.rate_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(198, 40, 40))
        self.rate_plot.addItem(self.rate_bars)
        self.rate_plot.getPlotItem().setLabel("bottom", "minutes since the start")
        self._draw_rate(np.zeros(1))
        g.addWidget(self.rate_plot, 3, 0, 1, 2)
        form.addWidget(counters)
        self.units_panel = UnitsPanel(self._unit_templates)

        self.event_list = QtWidgets.QListWidget()
        self.event_list.setWordWrap(True)  # long reasons wrap: no horizontal scrolling at the default width
        self.event_list.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.event_list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.event_list.setMinimumHeight(90)
        self.event_list.itemClicked.connect(self.jump_to_event)
        self.episode_list = QtWidgets.QListWidget()
        self.episode_list.setFont(self.event_list.font())
        self.episode_list.setWordWrap(True)
        self.episode_list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.episode_list.itemClicked.connect(self.jump_to_episode)
        #: closed episodes listed so far (the list grows at its top, as the events' does)
        self._listed_episodes = 0
        # one tabbed box for the three lists: at 1280x760 the events had been below the fold,
        # under a units box of their own
        self.lists = QtWidgets.QTabWidget()
        self.lists.addTab(self.event_list, "Events")
        self.lists.addTab(self.episode_list, "Episodes")
        self.lists.addTab(self.units_panel, "Units")
        self.lists.setMinimumHeight(170)
        for i, tip in enumerate(("every burst found, newest first: click one to view it",
                                 f"twitches no more than {self.config.episode_gap_s:g} s apart: click one to view it",
                                 "recurring waveforms: click one to see it, again to close")):
            self.lists.setTabToolTip(i, tip)

        link = QtWidgets.QGroupBox("Sensor")
        lg = QtWidgets.QFormLayout(link)
        self.source_box = QtWidgets.QComboBox()
        self.source_box.setEditable(True)
        self.source_box.addItems(["sim:", "sim:rate=2000,channels=2", "serial:auto", "ble:auto"])
        self.source_box.setCurrentText(self.spec)
        self.source_box.activated.connect(lambda _i: self.start_source(self.source_box.currentText()))
        btn_scan = QtWidgets.QPushButton("Find devices")
        btn_scan.clicked.connect(self.find_devices)
        btn_file = QtWidgets.QPushButton("Replay file…")
        btn_file.clicked.connect(self.choose_file)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(btn_scan)
        row.addWidget(btn_file)
        self.lbl_link = QtWidgets.QLabel("–")
        self.lbl_link.setWordWrap(True)
        lg.addRow("Source", self.source_box)
        lg.addRow(row)
        lg.addRow(self.lbl_link)
        form.addWidget(link)

        ctl = QtWidgets.QGroupBox("Display and detection")
        cg = QtWidgets.QFormLayout(ctl)
        self.win_spin = QtWidgets.QDoubleSpinBox()
        self.win_spin.setRange(2, 60)
        self.win_spin.setSuffix(" s")
        self.win_spin.setValue(self.window_s)
        self.win_spin.valueChanged.connect(self._set_window)
        self.chk_filtered = QtWidgets.QCheckBox("band-passed (F)")
        self.chk_filtered.setChecked(self.filtered)
        self.chk_filtered.toggled.connect(self._set_filtered)
        self.mains_box = QtWidgets.QComboBox()
        self.mains_box.addItems(["auto", "50", "60", "off"])
        self.mains_box.setCurrentText(str(self.config.mains))
        self.mains_box.activated.connect(self._detector_changed)
        self.thr_edit = QtWidgets.QLineEdit(f"{self.config.sensitivity:g}")
        self.thr_edit.setToolTip(f"detection threshold in multiples of the noise floor ({THRESHOLD_RANGE[0]:g}-"
                                 f"{THRESHOLD_RANGE[1]:g}): lower finds smaller twitches and more false ones")
        self.thr_edit.editingFinished.connect(self._detector_changed)
        self.band_edit = QtWidgets.QLineEdit(f"{self.config.band_low_hz:g}-{self.config.band_high_hz or 450:g}")
        self.band_edit.editingFinished.connect(self._detector_changed)
        cg.addRow("Window", self.win_spin)
        cg.addRow("Trace", self.chk_filtered)
        cg.addRow("Mains", self.mains_box)
        cg.addRow("Band (Hz)", self.band_edit)
        cg.addRow("Threshold ×", self.thr_edit)
        buttons = QtWidgets.QHBoxLayout()
        self.btn_pause = QtWidgets.QPushButton("Pause (Space, ←/→ scroll)")
        self.btn_pause.setCheckable(True)
        self.btn_pause.toggled.connect(self.set_paused)
        self.btn_record = QtWidgets.QPushButton("● Record (R)")
        self.btn_record.setCheckable(True)
        self.btn_record.toggled.connect(self.set_recording)
        buttons.addWidget(self.btn_pause)
        buttons.addWidget(self.btn_record)
        cg.addRow(buttons)
        form.addWidget(ctl)

        self.advice = QtWidgets.QTextBrowser()
        self.advice.setOpenExternalLinks(False)
        self.advice.setLineWrapMode(QtWidgets.QTextEdit.LineWrapMode.WidgetWidth)
        self._fit_advice()
        abox = QtWidgets.QGroupBox("Advice (not a diagnosis)")
        QtWidgets.QVBoxLayout(abox).addWidget(self.advice)
        # right under the counters: on a laptop screen the bottom of the side panel is out of
        # sight, and the advice is what the counts are for; the lists next, taking what height
        # is left (the sensor and the controls below them)
        form.insertWidget(1, abox)
        form.insertWidget(2, self.lists, 1)
        self.status = self.statusBar()
        self.status_label = QtWidgets.QLabel()  # messages stay until replaced (errors) or for 30 s
        self.status_label.setWordWrap(True)
        self.status.addWidget(self.status_label, 1)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(lambda: self.status_label.setText(""))

        for key, slot in (("Space", lambda: self.btn_pause.toggle()), ("R", lambda: self.btn_record.toggle()),
                          ("F", lambda: self.chk_filtered.toggle()), ("+", lambda: self.win_spin.stepUp()),
                          ("-", lambda: self.win_spin.stepDown()), ("Ctrl+Q", self.close),
                          ("End", lambda: self.btn_pause.setChecked(False)),
                          ("Left", lambda: self.scroll_view(-0.5)), ("Right", lambda: self.scroll_view(0.5))):
            QtGui.QShortcut(QtGui.QKeySequence(key), self).activated.connect(slot)

    def _restore(self) -> None:
        geo = self.settings.value("geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 760)

    def say(self, text: str, error: bool = False) -> None:
        """A status message: errors stay until the next message, others for 30 s."""
        self.status_label.setStyleSheet("color:#c62828;font-weight:bold" if error else "")
        self.status_label.setText(text)
        self._status_timer.stop()
        if not error:
            self._status_timer.start(30_000)

    def _make_plots(self, labels: tuple[str, ...]) -> None:
        self.plots.clear()
        self.curves, self.thr_hi, self.thr_lo, self.markers, self.items = [], [], [], [], []
        self.shading: list[SpanItem] = []
        for i, label in enumerate(labels):
            p = self.plots.addPlot(row=i, col=0)
            p.setLabel("left", f"{label} (µV)")
            p.getAxis("left").enableAutoSIPrefix(False)
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setClipToView(True)
            p.setMouseEnabled(x=True, y=False)
            if i == len(labels) - 1:
                p.setLabel("bottom", "seconds before the right edge")
            p.enableAutoRange(x=False, y=False)
            for side in ("left", "bottom"):  # axes change rarely: blit a cached pixmap each frame
                p.getAxis(side).setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # contractions, artefacts and gaps: one item whatever their count, under the trace
            shade = SpanItem({kind: COLORS[kind] for kind in ("contraction", "artifact", "gap")})
            p.addItem(shade, ignoreBounds=True)
            self.shading.append(shade)
            curve = p.plot(pen=pg.mkPen((40, 40, 40), width=1), skipFiniteCheck=False, connect="finite")
            # (the dashed lines are explained under the plots: a legend inside one covered the
            # row where twitches are marked)
            hi = p.plot(pen=pg.mkPen((21, 101, 192), width=1, style=QtCore.Qt.PenStyle.DashLine))
            lo = p.plot(pen=pg.mkPen((21, 101, 192), width=1, style=QtCore.Qt.PenStyle.DashLine))
            marks = pg.ScatterPlotItem(symbol="t", size=11, brush=pg.mkBrush(*COLORS["twitch"]), pen=None)
            p.addItem(marks)
            self.curves.append(curve)
            self.thr_hi.append(hi)
            self.thr_lo.append(lo)
            self.markers.append(marks)
            self.items.append(p)
            if i:
                p.setXLink(self.items[0])
        self._region_keys: list[tuple] = [() for _ in labels]
        self._yrange = [0.0 for _ in labels]
        self._axis_width = 0  # px: every left axis's (``_align_axes``)
        self._axes_stale = True
        for p in self.items:  # a resize changes the tick spacing, and so maybe the widest text
            p.vb.sigResized.connect(self._axes_resized)
        self._x_window = None

    def _axes_resized(self, *_args) -> None:
        self._axes_stale = True

    # -- sources ------------------------------------------------------------------------------------
    def start_source(self, spec: str) -> None:
        from myotwitch.host.sources.auto import resolve_auto_source

        stopped = ""
        if self.acq is not None:
            stopped = self.set_recording(False)  # (said with the new source below, which would hide it)
            self.acq.stop()
            self._from_memory = False  # (a source chosen now is the user's: its failure stays shown)
        spec = spec.strip() or "sim:"
        fallback = spec == "auto"
        why = ""
        if fallback:
            spec, why = resolve_auto_source("auto")
        self.spec = spec
        # a fallback to the simulator is not a choice to remember: the device remembered before stays
        self._remember = None if fallback and spec.startswith("sim") else spec
        self._clear_display()
        self.acq = Acquisition(spec, self.config, self._open_source, lsl=self.lsl)
        self.acq.start()
        self._show_spec(spec)
        # (an error about the source before is no longer news; a recording it stopped is)
        self.say(f"source: {spec}" + (f"; the recording stopped: {stopped}" if stopped else ""))
        # "no sensor found" only when we fell back to the simulator, not when it was asked for
        if why:
            self.sim_banner.setText(why)
        self.sim_banner.setVisible(fallback and spec.startswith("sim"))

    def _show_spec(self, spec: str) -> None:
        """The source box shows the spec from its start (a long one's options were what showed,
        its kind cut off), whole in its tooltip."""
        if self.source_box.currentText() != spec:
            self.source_box.setCurrentText(spec)
        line = self.source_box.lineEdit()  # (editable: always there)
        if line is not None:
            line.setCursorPosition(0)
        self.source_box.setToolTip(spec)

    def _clear_display(self) -> None:
        """Forget the previous source's trace, events, counters and link text."""
        self._forget_stream()
        self.event_list.clear()
        self.episode_list.clear()
        self._labels = ()
        self.lbl_link.setText("connecting…")

    def _forget_stream(self) -> None:
        """Forget a stream's events, gaps, trace, shading and counts."""
        self.events, self.gaps = [], []
        self._gap_cache = None
        self._cut = 0
        self._longest = 0.0
        self._next_buffer = None
        self._listed_episodes = 0
        self._drop_open_episode()
        self.units_panel.clear()
        self.plots.clear()
        self.curves = []
        self._plotted = None
        self._x_window = None
        self.paused = False
        self.view_end = None
        self._frozen = None
        if self.btn_pause.isChecked():
            self.btn_pause.blockSignals(True)
            self.btn_pause.setChecked(False)
            self.btn_pause.blockSignals(False)
        for label, text in ((self.lbl_count, "0"), (self.lbl_rate, "– /min"), (self.lbl_episodes, "episodes: 0"),
                            (self.lbl_last, "last: –"), (self.lbl_time, "")):
            label.setText(text)
        self._draw_rate(np.zeros(1))

    def _new_stream(self, buf: DisplayBuffer) -> None:
        """The board changed its format mid-stream (rate, channels, id, sample format or scale):
        the acquisition has a new detector and buffer, whose time line starts again at 0 (the recorder, a new file). The
        last stream's trace, events, gap shading and counts go with it (they were drawn against
        the new time line); its lines stay in the event list, under one that says what
        happened, but no longer jump to a time (its samples are gone)."""
        self._forget_stream()
        self._next_buffer = buf  # (the acquisition swaps it in just after saying so)
        self._labels = buf.labels  # (its events may be listed before its plots are made)
        old = QtGui.QColor(160, 160, 160)
        what = f"new stream: {buf.fs:g} Hz, {counted(buf.n_channels, 'channel')}"
        for lst, whose in ((self.event_list, "events"), (self.episode_list, "episodes")):
            for i in range(lst.count()):
                item = lst.item(i)
                item.setData(QtCore.Qt.ItemDataRole.UserRole, None)
                item.setForeground(old)
            item = QtWidgets.QListWidgetItem(f"── {what} ──\n   times and counts start again\n"
                                             f"   below: the last stream's {whose}")
            item.setForeground(QtGui.QColor(21, 101, 192))
            lst.insertItem(0, item)
        recording = self.acq is not None and bool(self.acq.state.recording)
        self.say(f"{what}: the board changed its format, so times and counts start again"
                 + ("; the recording goes on in a new file" if recording else ""))

    def source_failure(self):
        """The error that stopped the current source before it delivered any data, else None."""
        acq = self.acq
        return acq.failure if acq is not None and acq.failure is not None and not acq.state.samples else None

    def find_devices(self) -> None:
        from myotwitch.host.sources.serial import list_devices

        found = [d["spec"] for d in list_devices()]
        try:
            from myotwitch.host.sources.ble import scan

            found += [d["spec"] for d in scan(3.0)]
        except Exception as e:  # noqa: BLE001 - no adapter is fine here
            self.say(f"BLE: {e}", error=True)
        from myotwitch.host.sources.lsl import list_streams

        found += [d["spec"] for d in list_streams(0.5, usable_only=True)]  # empty without myotwitch[lsl]
        for spec in found:
            if self.source_box.findText(spec) < 0:
                self.source_box.addItem(spec)
        self.say(f"{counted(len(found), 'device')} found" if found else "no devices found")

    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Replay a recording", "", "Recordings (*.edf *.bdf *.csv)")
        if not path:
            return
        names = list(REPLAY_SPEEDS)
        choice, ok = QtWidgets.QInputDialog.getItem(self, "Replay speed", "Play the recording at", names, 1, False)
        if not ok:
            return
        spec = f"file:{path}?speed={REPLAY_SPEEDS[choice]:g}"
        self.source_box.setCurrentText(spec)
        self.start_source(spec)

    # -- controls ----------------------------------------------------------------------------------------
    def _set_window(self, v: float) -> None:
        self.window_s = v
        self.settings.setValue("window_s", v)

    def _set_filtered(self, on: bool) -> None:
        self.filtered = on
        self.settings.setValue("filtered", on)

    def _detector_changed(self) -> None:
        """Apply edited detector settings without stopping the stream or a recording; refuse
        (and restore the box) what is not valid, saying why."""
        band = parse_band(self.band_edit.text())
        if isinstance(band, str):
            self.say(f"Band '{self.band_edit.text()}': {band}; still using {self._band_text()}", error=True)
            self.band_edit.setText(self._band_text())
            return
        thr = parse_threshold(self.thr_edit.text())
        if isinstance(thr, str):
            self.say(f"Threshold '{self.thr_edit.text()}': {thr}; still using {self.config.sensitivity:g}", error=True)
            self.thr_edit.setText(f"{self.config.sensitivity:g}")
            return
        mains = self.mains_box.currentText()
        try:
            cfg = self.config.replace(mains=mains if mains in ("auto", "off") else int(mains), band_low_hz=band[0],
                                      band_high_hz=band[1]).with_sensitivity(thr)
            if self.acq is not None and self.acq.state.fs:
                cfg.validate(self.acq.state.fs, max(self.acq.state.n_channels, 1))
            else:
                cfg.validate(max(2.3 * band[1], 1000.0))
        except Exception as e:  # noqa: BLE001 - show, don't crash
            self.say(f"detector settings not applied: {e}", error=True)
            self.band_edit.setText(self._band_text())
            self.thr_edit.setText(f"{self.config.sensitivity:g}")
            return
        if cfg == self.config:
            return
        self.config = cfg
        if self.acq is not None:
            self.acq.reconfigure(cfg)
        recording = " (the recording in progress keeps the settings it started with)" \
            if self.acq is not None and self.acq.state.recording else ""
        self.say(f"detector settings applied from {self._now_s():,.1f} s; counts so far are kept{recording}")

    def _band_text(self) -> str:
        return f"{self.config.band_low_hz:g}-{self.config.band_high_hz or 450:g}"

    def _now_s(self) -> float:
        buf = self.acq.buffer if self.acq is not None else None
        return buf.end / buf.fs if buf is not None else 0.0

    def set_paused(self, on: bool) -> None:
        self.paused = on
        if on and self.acq and self.acq.buffer:
            self._frozen = self.acq.buffer.snapshot()
            self.view_end = self._frozen.end
        else:
            self._frozen = None
            self.view_end = None

    def _view_buffer(self) -> DisplayBuffer | None:
        """The trace the view shows: the one kept when paused, else the live one."""
        if self.paused and self._frozen is not None:
            return self._frozen
        return self.acq.buffer if self.acq is not None else None

    def set_recording(self, on: bool) -> str:
        """The button says Stop only while a recording really runs. Returns what a stop saved,
        and where ("" when nothing)."""
        if self.acq is None:
            self._show_record_button(False)
            return ""
        if on:
            try:
                out = self.acq.start_recording(self.out_dir)
            except MyotwitchError as e:
                self._show_record_button(False)
                self.say(f"not recording: {e}", error=True)
                return ""
            self._show_record_button(True)
            self.say(f"recording to {out}")
        else:
            try:
                files = self.acq.stop_recording()
            except MyotwitchError as e:
                files = []
                self.say(f"recording stopped with an error: {e}", error=True)
            self._show_record_button(False)
            if files:
                saved = (f"saved {', '.join(os.path.basename(f) for f in files)} in "
                         f"{os.path.dirname(os.path.abspath(files[0]))}")
                self.say(saved)
                self.history_tab.refresh()  # the recording is in the session index now
                return saved
        return ""

    def _show_record_button(self, recording: bool) -> None:
        self.btn_record.blockSignals(True)
        self.btn_record.setChecked(recording)
        self.btn_record.blockSignals(False)
        self.btn_record.setText("■ Stop (R)" if recording else "● Record (R)")

    def scroll_view(self, windows: float) -> None:
        """Look back (or forward) by a fraction of the window; pauses the live view."""
        if self.acq is None or self.acq.buffer is None:
            return
        if not self.paused:
            self.btn_pause.setChecked(True)
        buf = self._view_buffer()
        assert buf is not None
        step = int(windows * self.window_s * buf.fs)
        self.view_end = self._clamp_view(buf, (self.view_end or buf.end) + step)

    def _clamp_view(self, buf, end: int) -> int:
        """A right edge that shows data: never before the first sample nor after the last."""
        oldest = min(max(buf.end - buf.n, 0) + int(self.window_s * buf.fs), buf.end)
        return int(min(max(end, oldest), buf.end))

    def jump_to_event(self, item: QtWidgets.QListWidgetItem) -> None:
        """Show the event clicked, in the middle of the window."""
        ev = self._clicked(item)
        if ev is not None:
            self._show_until(ev.onset_sample + 0.5 * self.window_s * self.acq.buffer.fs,  # type: ignore[union-attr]
                             ev.onset_sample, f"the {ev.kind} at {ev.onset_s:.1f} s")

    def jump_to_episode(self, item: QtWidgets.QListWidgetItem) -> None:
        """Show the episode clicked: whole when it fits the window, else its start."""
        ep = self._clicked(item)
        if ep is None:
            return
        fs = self.acq.buffer.fs  # type: ignore[union-attr]
        what = f"the episode at {ep.start_s:.1f} s"
        if ep.end_s - ep.start_s <= 0.8 * self.window_s:
            self._show_until((0.5 * (ep.start_s + ep.end_s) + 0.5 * self.window_s) * fs, ep.end_s * fs, what)
        else:
            self._show_until((ep.start_s + 0.9 * self.window_s) * fs, ep.end_s * fs, what)

    def _clicked(self, item: QtWidgets.QListWidgetItem):
        """The record behind a list line clicked, the view paused to show it; None when the line
        has none (a note, or a stream that has gone) or there is nothing to show."""
        rec = item.data(QtCore.Qt.ItemDataRole.UserRole)
        if rec is None or self.acq is None or self.acq.buffer is None:
            return None
        self.btn_pause.setChecked(True)
        return rec

    def _show_until(self, end_sample: float, last_sample: float, what: str) -> None:
        """Pan the paused view so its right edge is at ``end_sample`` (within the data). When what
        was clicked (up to ``last_sample``) is older than the trace kept, say so: the view shows
        the oldest it has, and had shown it as if it were the event."""
        live = self.acq.buffer if self.acq is not None else None
        if self.paused and self._frozen is not None and live is not None and last_sample >= self._frozen.end:
            self._frozen = live.snapshot()  # (it came after the pause: the trace kept since has it)
        buf = self._view_buffer()
        assert buf is not None
        self.view_end = self._clamp_view(buf, int(end_sample))
        if last_sample < buf.end - buf.n:
            self.say(f"{what} is older than the last {buf.n / buf.fs:.0f} s the trace keeps: its numbers are in "
                     "the list, the trace shows the oldest kept")

    # -- drawing -----------------------------------------------------------------------------------------
    def redraw(self) -> None:
        acq = self.acq
        if acq is None:
            return
        st = acq.state
        if st.samples:
            self._from_memory = False  # (it works: a later failure is an outage, not a stale memory)
            if self._remember is not None:
                self.settings.setValue("source", self._remember)
                self._remember = None
        if self._from_memory and acq.failure is not None and not st.samples:
            self._from_memory = False
            failed = acq.failure
            self.start_source("auto")
            note = f"the remembered source is not available ({failed}); using {self.spec} instead"
            log.warning("%s", note)
            self.say(note)
            return
        self.banner.setVisible(bool(st.banner))
        self._set(self.banner, st.banner)
        if self.btn_record.isChecked() and not st.recording:  # the recorder failed in the worker
            self._show_record_button(False)
            self.say(f"recording stopped: {st.error or 'the source ended'}", error=True)
        # the buffer is read before the news: the worker says a new stream before it swaps its
        # buffer in, so a buffer read after the queue was found empty could be the new stream's,
        # drawn under the last one's events (the news came at the next redraw)
        buf = acq.buffer
        fresh = not acq.updates.empty()
        while not acq.updates.empty():
            up = acq.updates.get_nowait()
            if up.stream is not None:
                self._new_stream(up.stream)
            self.gaps += up.gaps
            for e in up.events:
                # kept in onset order (an event held for its context comes after later ones), so
                # a redraw finds the window's by bisection: a night holds tens of thousands
                bisect.insort(self.events, e, key=_ONSET)
                self._cut += cut_potential(e, self.config)
                self._longest = max(self._longest, e.offset_s - e.onset_s)
                self._list_event(e)
        if buf is None:
            if acq.failure is not None or st.error:
                self._set(self.lbl_link, f"not connected<br><b style='color:#c62828'>{html.escape(st.error)}</b>")
            return
        if self._next_buffer is not None:  # a new stream was said: draw nothing before its buffer
            if buf is not self._next_buffer:
                return
            self._next_buffer = None
        if buf is not self._plotted:  # a new stream (or channel count): buffer, labels and plots together
            self._plotted = buf
            self._labels = buf.labels
            self._make_plots(buf.labels)
        fs = buf.fs
        view = self._view_buffer() or buf
        end = self.view_end if (self.paused and self.view_end is not None) else buf.end
        n = int(self.window_s * fs)
        data = view.window(end, n, self.filtered)
        t_hi = end / fs
        t_lo = t_hi - n / fs
        columns = max(int(self.plots.width()), 200)
        # x is drawn relative to the right edge, so the axis (and its text layout) stays still
        if self._x_window != self.window_s:
            self._x_window = self.window_s
            self.items[0].setXRange(-self.window_s, 0, padding=0)
        for c, curve in enumerate(self.curves):
            x, y = minmax_envelope(data[c], -n / fs, 1 / fs, columns)
            curve.setData(x, y)
            thr = view.threshold[c] if c < len(view.threshold) else np.nan
            if np.isfinite(thr) and self.filtered:
                self.thr_hi[c].setData([-self.window_s, 0], [thr, thr])
                self.thr_lo[c].setData([-self.window_s, 0], [-thr, -thr])
            else:
                self.thr_hi[c].setData([], [])
                self.thr_lo[c].setData([], [])
            self._draw_events(c, t_lo, t_hi, data[c])
            self._fit_y(c, y)
        if self._axes_stale:
            self._align_axes()
        # outside the plots: changing text inside the scene would re-lay it out and repaint the axes
        self._set(self.lbl_time, f"right edge at {t_hi:,.1f} s" + ("   (paused: Space resumes, ←/→ scroll)"
                                                                     if self.paused else "")
                  + (f"   ·   {THRESHOLD_NOTE}" if self.filtered else ""))
        if fresh or self.frames % 8 == 0:  # text and layout are costly: only when they change
            self._update_counters(buf.end / fs)
        self.frames += 1

    def _fit_y(self, c: int, y: np.ndarray) -> None:
        """Follow the signal's size, but only when it changes a lot (steady axes draw cheaply)."""
        finite = y[np.isfinite(y)]
        if finite.size == 0:
            return
        top = float(np.max(np.abs(finite))) * 1.15 + 1e-6
        if not (0.6 * self._yrange[c] <= top <= self._yrange[c]):
            self._yrange[c] = top * 1.3
            self.items[c].setYRange(-self._yrange[c], self._yrange[c], padding=0)
            self._axes_stale = True

    def _align_axes(self) -> None:
        """One width for every channel's left axis, room for the widest tick text among them:
        each had grown to its own (-200 beside 10), and with 8 channels the plots' time axes
        did not line up. Set when a range changes (seldom: steady axes draw cheaply)."""
        self._axes_stale = False
        if not self.items:
            return
        axes = [p.getAxis("left") for p in self.items]
        text = max(self._tick_text_width(p, ax) for p, ax in zip(self.items, axes))
        ax = axes[0]
        label = ax.label.boundingRect().height() * 0.8 if ax.label.isVisible() else 0.0  # (as pyqtgraph sizes it)
        width = int(math.ceil(text + ax.style["tickTextOffset"][0] + max(0, ax.style["tickLength"]) + label)) + 2
        if width != self._axis_width:
            self._axis_width = width
            for axis in axes:
                axis.setWidth(width)

    @staticmethod
    def _tick_text_width(plot, ax) -> float:
        """The widest tick text ``ax`` shows at its plot's y range, measured as pyqtgraph does."""
        lo, hi = plot.vb.viewRange()[1]
        metrics = QtGui.QFontMetricsF(ax.style["tickFont"] or QtGui.QFont())
        box, centre = QtCore.QRectF(0, 0, 100, 100), QtCore.Qt.AlignmentFlag.AlignCenter
        levels = ax.tickValues(lo, hi, max(plot.vb.height(), 50.0))[: ax.style["maxTextLevel"] + 1]
        return max((metrics.boundingRect(box, centre, text).width() for spacing, values in levels
                    for text in ax.tickStrings(values, ax.autoSIPrefixScale * ax.scale, spacing)), default=0.0)

    def _draw_events(self, c: int, t_lo: float, t_hi: float, y: np.ndarray) -> None:
        """Twitch markers, and shaded contractions/artefacts/gaps, relative to the right edge."""
        fs = self.acq.buffer.fs if self.acq and self.acq.buffer else 1.0
        xs, spans, brushes = [], [], []
        first = bisect.bisect_left(self.events, t_lo - self._longest, key=_ONSET)
        for e in self.events[first: bisect.bisect_right(self.events, t_hi, key=_ONSET)]:
            if e.channel != c or e.offset_s < t_lo:
                continue
            if e.kind == "twitch":
                xs.append(e.onset_s - t_hi)
                brushes.append(self.units_panel.brush(e.unit))  # a colour per recurring source
            else:
                spans.append((e.onset_s, e.offset_s, e.kind))
        gap_start, gap_end, gap_key = self._gaps_in(t_lo, t_hi, fs)
        top = self._yrange[c] / 1.3 if self._yrange[c] else 100.0
        self.markers[c].setData(xs, [top] * len(xs), brush=brushes)
        key = (t_hi, gap_key, tuple(spans)) if spans or gap_start.size else ()  # (nothing shaded: nothing to move)
        if key == self._region_keys[c]:
            return
        self._region_keys[c] = key
        # relative to the right edge, so they move with it at every redraw
        shaded = {kind: (np.array([a - t_hi for a, _, k in spans if k == kind]),
                         np.array([b - t_hi for _, b, k in spans if k == kind])) for kind in ("contraction", "artifact")}
        shaded["gap"] = (gap_start - t_hi, gap_end - t_hi)
        self.shading[c].set_spans(shaded)

    def _gaps_in(self, t_lo: float, t_hi: float, fs: float) -> tuple[np.ndarray, np.ndarray, tuple]:
        """The gaps in [t_lo, t_hi] (s), as starts and ends, and a key that changes with them;
        the same for every channel, so taken once a redraw. Gaps come in order and never
        overlap: from the last one starting before the window, by bisection (a night holds
        tens of thousands)."""
        first = max(bisect.bisect_right(self.gaps, (t_lo * fs, math.inf)) - 1, 0)
        last = bisect.bisect_right(self.gaps, (t_hi * fs, math.inf))
        if first < last and sum(self.gaps[first]) < t_lo * fs:  # (it ends before the window)
            first += 1
        key = (first, last, fs)
        if self._gap_cache is None or self._gap_cache[2] != key:
            g = np.array(self.gaps[first:last], dtype=float).reshape(-1, 2)
            self._gap_cache = (g[:, 0] / fs, (g[:, 0] + g[:, 1]) / fs, key)
        return self._gap_cache

    def _list_event(self, e) -> None:
        label = self._labels[e.channel] if e.channel < len(self._labels) else f"ch{e.channel}"
        # columns line up in the list's fixed-pitch font, the figures first and the channel (only
        # when there are several) last: a long label had wrapped the size onto a line of its own
        # at the side panel's width; the reason, whole, on a line of its own
        text = f"{e.onset_s:7.1f} s {e.peak_to_peak_uv:5.0f}\u00a0µV {e.kind}"
        if e.unit:
            text += f" {e.unit}"
        if len(self._labels) > 1:
            text += f"  {label}"
        if e.reason:
            text += f"\n           {e.reason}"
        item = QtWidgets.QListWidgetItem(text)
        if e.reason:
            item.setToolTip(e.reason)
        item.setData(QtCore.Qt.ItemDataRole.UserRole, e)
        if e.kind == "twitch":
            item.setForeground(QtGui.QColor(*COLORS["twitch"][:3]))
        else:
            item.setForeground(QtGui.QColor(110, 110, 110))
        self.event_list.insertItem(0, item)
        if self.event_list.count() > 2000:
            self.event_list.takeItem(self.event_list.count() - 1)

    def _list_episodes(self, closed: list[Episode], ongoing: Episode | None) -> None:
        """Closed episodes are added at the top of the list as they close; the one going on,
        if any, sits above them, its line rewritten in place as it grows."""
        lst = self.episode_list
        if len(closed) > self._listed_episodes:
            at = int(self._open_item is not None)  # (under the line of the one going on)
            for ep in closed[self._listed_episodes:]:
                item = QtWidgets.QListWidgetItem(episode_line(ep, self._labels))
                item.setData(QtCore.Qt.ItemDataRole.UserRole, ep)
                item.setForeground(QtGui.QColor(*COLORS["twitch"][:3]))
                lst.insertItem(at, item)
            self._listed_episodes = len(closed)
            while lst.count() > 2000:
                lst.takeItem(lst.count() - 1)
        if ongoing is None:
            self._drop_open_episode()
            return
        text = episode_line(ongoing, self._labels, going_on=True)
        top = self._open_item
        if top is None:
            top = QtWidgets.QListWidgetItem(text)
            font = top.font()
            font.setBold(True)
            top.setFont(font)
            top.setForeground(QtGui.QColor(*COLORS["twitch"][:3]))
            lst.insertItem(0, top)
            self._open_item = top
        elif top.text() != text:
            top.setText(text)
        top.setData(QtCore.Qt.ItemDataRole.UserRole, ongoing)

    def _drop_open_episode(self) -> None:
        if self._open_item is not None:
            row = self.episode_list.row(self._open_item)
            if row >= 0:
                self.episode_list.takeItem(row)
        self._open_item = None

    @staticmethod
    def _set(label: QtWidgets.QLabel, text: str) -> None:
        if label.text() != text:
            label.setText(text)

    def _update_counters(self, now_s: float) -> None:
        acq = self.acq
        twitches = [e for e in self.events if e.kind == "twitch"]
        self._set(self.lbl_count, str(len(twitches)))
        self.units_panel.update_counts(twitches)
        recent = [e for e in twitches if e.onset_s >= now_s - 60]
        st = acq.state if acq else None
        # seconds of data: gaps are no time recorded (as in the summary)
        lost_s = (st.lost - st.lost_earlier) / st.fs if st is not None and st.fs else 0.0  # (this stream's)
        data_s = max(now_s - lost_s, 0.0)
        # per hour searched, as the summary's rate (not the detector's start-up, nor its
        # settling after gaps), from a minute of data on
        hours = (acq.searched_s if acq is not None else data_s) / 3600.0
        self._set(self.lbl_rate, (f"{len(recent)} /min (last 60 s)" if now_s >= 60 else
                                  f"{len(recent)} in the first {now_s:.0f} s")
                  + (f"<br>{len(twitches) / hours:.0f} /h so far" if data_s >= 60 and hours > 0 else ""))
        eps = acq.episodes if acq else []
        ongoing = open_episode(twitches, eps, self.config.episode_gap_s)
        self._set(self.lbl_episodes, f"episodes: {len(eps) + (ongoing is not None)}")
        self._list_episodes(eps, ongoing)
        for i, (name, n) in enumerate((("Episodes", len(eps) + (ongoing is not None)),
                                       ("Units", self.units_panel.list.count())), start=1):
            text = f"{name} ({n})" if n else name
            if self.lists.tabText(i) != text:
                self.lists.setTabText(i, text)
        if twitches:
            last = twitches[-1]
            self._set(self.lbl_last, f"last: {last.peak_to_peak_uv:.0f} µV at {last.onset_s:.1f} s "
                                  f"({now_s - last.offset_s:.0f} s ago)")
        minute = int(now_s // 60)
        counts = np.zeros(max(minute + 1, 1))
        for e in twitches:
            counts[min(int(e.onset_s // 60), minute)] += 1
        self._draw_rate(counts)
        if acq is None:
            return
        busy = busy_channels(acq.buffer.floor, self._labels, self.config.max_rest_floor_uv) \
            if acq.buffer is not None else []
        st = acq.state
        pipe = acq.pipe
        lossy = (link_loss_warning(pipe, (self._cut, len(twitches)), pipe.settling_after_gaps_s, data_s, lost_s)
                 if pipe is not None else "")
        # (the settling after gaps does not lower the rate, per hour searched; the twitches gaps cut off do:
        # the lossy-link warning is the settling's where there is one)
        settling = pipe is not None and bool(settling_warning(pipe, pipe.settling_after_gaps_s, data_s))
        silent = time.monotonic() - st.last_data_at if st.connected and st.last_data_at else 0.0
        # why the count may be short or stand still, beside it: the Sensor panel is below the fold
        # at 1280x760 (a sensor still connected but silent had frozen the trace with no word in sight)
        hold = ([f"not counting on {', '.join(busy)}: the background is over "
                 f"{self.config.max_rest_floor_uv:g} µV (see Sensor)"] if busy else []) \
            + ([f"the link loses data{' often' if settling else ', so the rate may read low'} (see Sensor)"]
               if lossy else []) \
            + ([f"no data from the sensor for {silent:.0f} s: the trace and the count wait for it; a link "
                "silent for 3 s is reconnected (see Sensor)"] if silent >= SILENT_S else [])
        self._set(self.lbl_hold, "<br>".join(hold))
        self.lbl_hold.setVisible(bool(hold))
        bat = f"{st.battery_pct}%" if st.battery_pct is not None else "–"
        link = "connected" if st.connected else "not connected"
        if silent >= SILENT_S:  # (a stalled link is declared lost only after 3 s; said from the first)
            link = f"<b style='color:#c62828'>connected, no data for {silent:.0f} s</b>"
        self._set(self.lbl_link,
            f"{link} · {st.fs:g} Hz · {st.n_channels} ch<br>"
            f"samples&nbsp;{st.samples:,} · lost&nbsp;{st.lost:,}&nbsp;in&nbsp;{counted(st.gaps, 'gap')} · "
            f"reconnects&nbsp;{st.reconnects}<br>"
            f"battery {bat} · lead-off {'YES' if st.lead_off else 'no'}<br>"
            + (floor_note(acq.buffer.floor, self._labels, self.config.max_rest_floor_uv)
               if acq.buffer is not None else "noise floor: –")
            + (f"<br><b style='color:#c62828'>{html.escape(lossy)}</b>" if lossy else "")
            + (f"<br><b style='color:#c62828'>recording to {st.recording}</b>" if st.recording else "")
            + (f"<br><b style='color:#c62828'>{html.escape(st.error)}</b>" if st.error else ""))

    def _draw_rate(self, counts: np.ndarray) -> None:
        """Twitches per minute, the last ``RATE_MINUTES`` minutes; the axis starts at minute 0
        until that many have passed (no negative minutes), and is labelled at 0 and the top
        only (before any data too: pyqtgraph's own ticks crowded the small plot)."""
        shown = counts[-RATE_MINUTES:]
        first = len(counts) - len(shown)
        self.rate_bars.setOpts(x=np.arange(first, len(counts)), height=shown)
        top = max(float(shown.max()), 1.0)
        self.rate_plot.getAxis("left").setTicks([[(0, "0"), (top, f"{top:g}")]])
        self.rate_plot.setYRange(0, top * 1.15, padding=0)
        right = max(len(counts), RATE_MINUTES) - 0.5
        self.rate_plot.setXRange(right - RATE_MINUTES, right, padding=0)

    def _unit_templates(self) -> dict:
        pipe = self.acq.pipe if self.acq else None
        return pipe.units.tracker.units() if pipe is not None else {}

    def _live_session(self) -> dict | None:
        """The window's session for the advice, as a summary row: its twitches, episodes, hours
        of data (gaps left out) and the seconds searched its rate is over, as the counter's. The files recorded in the window hold a
        part of it: the advice leaves their rows out (``Acquisition.recorded_files``), so that they
        count once, here (they and the window's session had both been counted: 76 twitches in the
        advice beside 46 on the counter)."""
        acq = self.acq
        buf = acq.buffer if acq is not None else None
        if acq is None or acq.pipe is None or buf is None:
            return None
        pipe = acq.pipe
        data = buf.end - sum(max(min(s + n, buf.end) - max(s, 0), 0) for s, n in self.gaps)
        searched = acq.searched_s  # (the rate is over it, as a summary's)
        if data < buf.fs or searched <= 0:  # (under a second, or none searched yet: no rate to give)
            return None
        hours = data / buf.fs / 3600
        twitches = [e for e in self.events if e.kind == "twitch"]
        episodes = acq.episodes
        per = [sum(1 for e in twitches if e.channel == c) for c in range(pipe.n_channels)]
        where: dict = {"file": "(live session)", "start": dt.datetime.now().isoformat()}
        if isinstance(acq.source, ReplaySource):  # a replay is that file's session again, not one of today: it is
            # dated as the file is, and counts once beside the file's own entry in the history (by
            # its content); it had counted again, as today's, beside it
            reader = acq.source.reader
            start = getattr(getattr(reader, "edf", None), "data_start", None) or getattr(reader, "start", None)
            where = {"file": acq.source.path, "start": start.isoformat() if start else None, "dated": start is not None}
        return {**where, "channels": list(self._labels),
                "stats": {"duration_s": hours * 3600, "valid_s": hours * 3600, "searched_s": searched,
                          "counts": {"twitch": len(twitches)},
                          "twitches_per_hour": len(twitches) / (searched / 3600), "episodes": len(episodes),
                          "twitches_per_channel": per},
                "detector": dataclasses.asdict(pipe.config)}  # (the settings now: earlier changes in the session are not told apart)

    def update_advice(self) -> None:
        from myotwitch.host.advice import advise

        acq = self.acq
        if acq is None or acq.pipe is None or not acq.state.fs:
            return
        try:
            live = self._live_session()
            a = advise(extra_session=live, leave_out=acq.recorded_files())
        except Exception as e:  # noqa: BLE001 - advice must never take the app down
            self.advice.setPlainText(f"advice unavailable: {e}")
            return
        colors = {"consult": "#c62828", "self-care": "#2e7d32", "info": "#1565c0"}
        html = "".join(f"<p><b style='color:{colors[i.level]}'>{i.level}</b>: {i.text}"
                       + (f"<br><small>why: {i.why}</small>" if i.why else "")
                       + f"<br><small style='color:#777'>source: “{i.section}”</small></p>" for i in a.items)
        notes = "".join(f"<p><small style='color:#777'>note: {c}</small></p>" for c in a.caveats)
        self.advice.setHtml(html + notes + f"<p><i>{a.notice}</i></p>")
        self._fit_advice()

    def _fit_advice(self) -> None:
        """As tall as the advice is, from ``ADVICE_HEIGHT[0]`` to ``ADVICE_HEIGHT[1]`` px (then it
        scrolls): the notice alone had a fixed 180 px that pushed the sensor panel and the
        event list out of sight on a laptop screen."""
        doc = self.advice.document()
        doc.setTextWidth(max(self.advice.viewport().width(), 200))
        frame = 2 * self.advice.frameWidth() + 4
        self.advice.setFixedHeight(int(min(max(doc.size().height() + frame, ADVICE_HEIGHT[0]), ADVICE_HEIGHT[1])))

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.settings.setValue("geometry", self.saveGeometry())
        self.timer.stop()
        if self.acq is not None:
            self.set_recording(False)
            self.acq.stop()
        collector.release(self)
        super().closeEvent(event)
