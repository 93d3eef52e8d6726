"""Python's cycle collector runs only in the GUI thread while a window is open.

The cycle collector runs in whichever thread happens to allocate. When that is the acquisition
thread and the garbage holds Qt objects (plots dropped on a source switch, a closed menu),
shiboken deletes them in that thread: the deletion waits for the GIL inside Qt's object
teardown while the GUI thread, deleting another object, holds Qt's lock and waits for the GIL.
The app freezes for good. pyqtgraph names the same cure (``pyqtgraph.util.garbage_collector``):
automatic collection off, and a GUI-thread timer that collects when the counts say it is due.
Unlike pyqtgraph's, this one is held by the windows that need it and hands automatic collection
back when the last of them closes, so code that runs after a window (tests, ``analyze``) is not
left without it.
"""

from __future__ import annotations

import gc

from PySide6 import QtCore

_holders: set[int] = set()
_timer: QtCore.QTimer | None = None
_was_enabled = True


def _collect_if_due() -> None:
    """What automatic collection would have done since the last tick, done here instead."""
    counts, limits = gc.get_count(), gc.get_threshold()
    generation = -1
    for g in range(3):
        if limits[g] and counts[g] > limits[g]:
            generation = g
        else:
            break
    if generation >= 0:
        gc.collect(generation)


def hold(owner: object, interval_ms: int = 500) -> None:
    """``owner`` (a window) runs threads beside Qt objects: collect in the GUI thread only."""
    global _timer, _was_enabled
    if not _holders:
        _was_enabled = gc.isenabled()
        gc.disable()
        _timer = QtCore.QTimer()
        _timer.timeout.connect(_collect_if_due)
        _timer.start(interval_ms)
    _holders.add(id(owner))


def release(owner: object) -> None:
    """``owner`` has stopped its threads. The last holder collects once more (still in the GUI
    thread) and gives automatic collection back."""
    global _timer
    if id(owner) not in _holders:
        return
    _holders.discard(id(owner))
    if _holders:
        return
    if _timer is not None:
        _timer.stop()
        _timer = None
    gc.collect()
    if _was_enabled:
        gc.enable()


def holding() -> bool:
    return bool(_holders)
