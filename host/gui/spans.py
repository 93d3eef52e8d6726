"""Shaded stretches of a plot (data gaps, contractions, artefacts) drawn by one item per plot.

A lossy link leaves a gap every few frames: at 4 kHz x 8 channels with 5 % of frames lost a
10 s window holds ~140 gaps a channel. One ``LinearRegionItem`` per gap (two infinite lines and
a rectangle each, every one re-laid out as the window scrolls) had the app at ~6 fps. Here a
plot's stretches are a few arrays; a paint merges those closer than a pixel, widens each to a
pixel at least (a lost frame is a few hundredths of a pixel wide in a 10 s window, and is still
shown) and fills them as one path per kind: its cost follows the plot's width, not the count."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui


def merged(start: np.ndarray, end: np.ndarray, lo: float, hi: float, px: float) -> tuple[np.ndarray, np.ndarray]:
    """The stretches [start, end) inside [lo, hi], each at least ``px`` wide, joined where they
    overlap or lie less than ``px`` apart; sorted."""
    keep = (end >= lo) & (start <= hi)
    a, b = start[keep], end[keep]
    if a.size == 0:
        return a, b
    order = np.argsort(a, kind="stable")
    a = np.clip(a[order], lo, hi)
    b = np.clip(b[order], lo, hi)
    b = np.maximum(b, a + px)  # at least a pixel: a lost frame is seen
    reach = np.maximum.accumulate(b)
    first = np.ones(a.size, dtype=bool)
    first[1:] = a[1:] > reach[:-1] + px
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:] - 1, a.size - 1)
    return a[starts], reach[ends]


class SpanItem(pg.GraphicsObject):
    """Vertical bands across the whole height of the view, one colour per kind."""

    def __init__(self, colors: dict[str, tuple[int, ...]]) -> None:
        super().__init__()
        self._brushes = {kind: pg.mkBrush(*rgba) for kind, rgba in colors.items()}
        self._spans: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._bounds = QtCore.QRectF()

    def set_spans(self, spans: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """kind -> (starts, ends) in x; a kind left out has none."""
        self._spans = {k: (np.asarray(a, dtype=float), np.asarray(b, dtype=float)) for k, (a, b) in spans.items()
                       if len(a)}
        self.update()

    def spans(self) -> list[tuple[float, float, str]]:
        """Every stretch as given (not merged), sorted: (start, end, kind)."""
        return sorted((float(x), float(y), kind) for kind, (a, b) in self._spans.items() for x, y in zip(a, b))

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph API
        self.prepareGeometryChange()
        super().viewTransformChanged()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt API
        view = self.viewRect()  # the view's bounds in this item's coordinates
        if view is None:
            return QtCore.QRectF()
        if view != self._bounds:
            self._bounds = QtCore.QRectF(view)
            self.prepareGeometryChange()
        return self._bounds

    def paint(self, p: QtGui.QPainter, *args) -> None:
        view = self.viewRect()
        px = self.pixelWidth()
        if view is None or not self._spans or not px:
            return
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        top, bottom = view.top(), view.bottom()
        for kind, (start, end) in self._spans.items():
            a, b = merged(start, end, view.left() - px, view.right() + px, px)
            if a.size == 0:
                continue
            p.setBrush(self._brushes[kind])
            # axis-aligned rectangles: the raster engine fills them directly (a path of the same
            # rectangles was scan-converted, ~4 ms a plot for 140 gaps)
            height = bottom - top
            p.drawRects([QtCore.QRectF(x0, top, x1 - x0, height) for x0, x1 in zip(a.tolist(), b.tolist())])
