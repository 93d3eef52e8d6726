"""Live app redraw rate and CPU, offscreen: 2 channels x 2 kHz from the simulator, 10 s window.
Run: python benchmarks/gui_fps.py [--seconds S] [--source SPEC] [--no-save]

``--source`` measures another simulated board, e.g. ``sim:rate=4000,channels=8,drop=0.05,seed=1``
(8 channels at 4 kHz losing 5 % of frames); only the default source's figures are written to
RESULTS.md, and none with ``--no-save``."""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DEFAULT_SOURCE = "sim:rate=2000,channels=2,twitch_rate=20,seed=1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--source", default=DEFAULT_SOURCE, help=f"the simulated source (default {DEFAULT_SOURCE})")
    ap.add_argument("--no-save", action="store_true", help="print the figures only, RESULTS.md untouched")
    args = ap.parse_args()
    import tempfile

    from PySide6 import QtCore, QtWidgets

    from benchmarks.common import machine, write_section
    from myotwitch.dsp import DetectorConfig
    from myotwitch.host.gui.window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    app.setApplicationName("myotwitch-benchmark")  # (keeps the application object referenced)
    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(os.path.join(tmp, "s.ini"), QtCore.QSettings.Format.IniFormat)
        win = MainWindow(args.source, DetectorConfig(), window_s=10.0,
                         settings=settings, fps=30)
        win.resize(1280, 760)
        win.show()
        def run_loop(seconds: float) -> None:
            """The app's own event loop, as in real use (no polling of ours adds CPU)."""
            loop = QtCore.QEventLoop()
            QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
            loop.exec()

        run_loop(3.0)  # warm up: imports, first frames, mains probe
        f0, c0, t0 = win.frames, resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        run_loop(args.seconds)
        c1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        fps = (win.frames - f0) / (t1 - t0)
        cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) / (t1 - t0) * 100
        # the redraw itself, timed directly
        t = time.perf_counter()
        for _ in range(50):
            win.redraw()
        per_frame_ms = (time.perf_counter() - t) / 50 * 1000
        win.close()
    what = "2 ch x 2 kHz" if args.source == DEFAULT_SOURCE else f"`{args.source}`"
    body = (f"Offscreen Qt, {machine()}; 1280x760 window, 10 s window of {what} (simulator in-process).\n\n"
            "| measure | result | target |\n|---|---|---|\n"
            f"| redraw rate | **{fps:.1f} fps** | >= 30 fps |\n"
            f"| process CPU (acquisition + detection + simulator + drawing) | **{cpu:.0f}% of one core** | well under one core |\n"
            f"| one redraw (envelopes, markers, counters) | {per_frame_ms:.1f} ms | < 33 ms |")
    print(body)
    if args.source == DEFAULT_SOURCE and not args.no_save:
        write_section("Live app", body)


if __name__ == "__main__":
    main()
