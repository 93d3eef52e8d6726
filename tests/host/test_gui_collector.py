"""While the live window is open, garbage that holds Qt objects dies in the GUI thread only.

Python's cycle collector runs in whichever thread allocates. Collected in the acquisition
thread, a Qt object's teardown waited for the GIL while the GUI thread held Qt's lock and
waited for the GIL: CI froze for good inside a GUI test (QObject::~QObject under
gc_collect_main in the acquisition thread)."""

import gc
import threading
import weakref

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtWidgets  # noqa: E402

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.gui import collector  # noqa: E402
from myotwitch.host.gui.window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui


class _Cycle:
    """A Qt widget kept alive only by a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.widget = QtWidgets.QLabel("garbage")
        self.me = self


def _allocate_until(stop: threading.Event) -> None:
    while not stop.is_set():  # what the acquisition thread does all day: allocate
        _ = [[] for _ in range(2000)]


def test_qt_garbage_dies_in_the_gui_thread_while_other_threads_allocate(qtbot, settings):
    win = MainWindow("sim:rate=1000,speed=4", DetectorConfig(), settings=settings)
    qtbot.addWidget(win)
    died_in: list[str] = []
    weakref.finalize(_Cycle(), lambda: died_in.append(threading.current_thread().name))
    stop = threading.Event()
    worker = threading.Thread(target=_allocate_until, args=(stop,), name="allocator")
    worker.start()
    try:
        qtbot.waitUntil(lambda: bool(died_in), timeout=10_000)  # the GUI-thread timer collected it
    finally:
        stop.set()
        worker.join()
    assert died_in == [threading.main_thread().name]
    win.close()


def test_automatic_collection_comes_back_when_the_last_window_closes(qtbot, settings):
    before = gc.isenabled()
    assert before, "another test left automatic collection off"
    first = MainWindow("sim:speed=1", DetectorConfig(), settings=settings)
    second = MainWindow("sim:speed=1", DetectorConfig(), settings=settings)
    qtbot.addWidget(first)
    qtbot.addWidget(second)
    assert not gc.isenabled() and collector.holding()
    first.close()
    assert not gc.isenabled(), "one window still runs its acquisition thread"
    second.close()
    assert gc.isenabled() and not collector.holding()
    second.close()  # closing twice hands nothing back twice
    assert gc.isenabled()
