"""``myotwitch live``: start the app on the chosen source (or the simulator, saying so)."""

from __future__ import annotations

import argparse
import os
import sys

from myotwitch.dsp import DetectorConfig
from myotwitch.host.errors import MyotwitchError


def run_live(args: argparse.Namespace, config: DetectorConfig) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux") \
            and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal", "vnc"):
        raise MyotwitchError("no display: `myotwitch live` needs a desktop session (or QT_QPA_PLATFORM=offscreen "
                             "with --screenshot). Headless? Use `myotwitch record --source sim:`")
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from myotwitch.host.gui.window import MainWindow
    from myotwitch.host.sources.auto import resolve_source

    if not 2 <= args.window <= 60:
        raise MyotwitchError(f"--window {args.window:g}: expected 2-60 seconds")
    pg.setConfigOptions(antialias=False, useOpenGL=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("myotwitch")
    settings = QtCore.QSettings("myotwitch", "live")
    spec = args.source
    if spec == "auto":
        saved = settings.value("source")
        spec = resolve_source("auto") if not saved or saved.startswith("sim") else saved
    win = MainWindow(spec, config, window_s=args.window, out_dir=args.out, settings=settings)
    if args.screenshot:
        win.resize(1280, 760)
    win.show()
    if args.run_for or args.screenshot:
        def finish() -> None:
            if args.screenshot:
                win.grab().save(args.screenshot)
            win.close()

        QtCore.QTimer.singleShot(int((args.run_for or 8.0) * 1000), finish)
    return app.exec()
