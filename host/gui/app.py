"""``myotwitch live``: start the app on the chosen source (or the simulator, saying so)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from myotwitch.dsp import DetectorConfig
from myotwitch.host.errors import MyotwitchError

log = logging.getLogger("myotwitch")


def _qt_message(mode, _context, message: str) -> None:
    """Qt's own chatter (e.g. the offscreen platform's "does not support propagateSizeHints")
    goes to the debug log, so stderr holds only what the user must read."""
    from PySide6 import QtCore

    serious = mode in (QtCore.QtMsgType.QtCriticalMsg, QtCore.QtMsgType.QtFatalMsg)
    logging.getLogger("myotwitch.qt").log(logging.WARNING if serious else logging.DEBUG, "Qt: %s", message)


#: image endings every Qt build writes
SCREENSHOT_ENDINGS = (".png", ".jpg", ".jpeg", ".bmp")


def check_live(args: argparse.Namespace) -> None:
    """What can be refused before the detector's kernels load (up to ~30 s on a first run):
    no display, options out of range, a screenshot path that cannot be written."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux") \
            and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal", "vnc"):
        raise MyotwitchError("no display: `myotwitch live` needs a desktop session (or QT_QPA_PLATFORM=offscreen "
                             "with --screenshot). Headless? Use `myotwitch record --source sim:`")
    from myotwitch.host.outputs import require_extra

    require_extra("live")  # (the Qt modules load later, in run_live)
    if args.window is not None and not 2 <= args.window <= 60:
        raise MyotwitchError(f"--window {args.window:g}: expected 2-60 seconds")
    if args.run_for is not None and not 0 < args.run_for <= 7 * 86400:
        raise MyotwitchError(f"--run-for {args.run_for:g}: expected seconds, more than 0")
    if args.screenshot:
        from myotwitch.host.outputs import check_writable

        check_writable("--screenshot", args.screenshot)
        # (Qt picks the format by the ending: 'shot.txt' or 'shot' had run the window its 8 s and
        # then said only "the image could not be saved")
        if os.path.splitext(args.screenshot)[1].lower() not in SCREENSHOT_ENDINGS:
            raise MyotwitchError(f"--screenshot {args.screenshot}: give a .png file (or .jpg, .bmp): the image's "
                                 "format is read from its name's ending")
    if args.out:  # (made when recording starts, but only inside a folder that exists, as `record --out`)
        from myotwitch.host.outputs import check_parent

        check_parent("--out", args.out)


def close_on_signals(win) -> None:
    """SIGINT (Ctrl+C in the terminal), SIGTERM (a logout, a shutdown, ``kill``) and SIGHUP (the
    terminal it was started from closed) close the window as its close button does: a recording
    going on is finished, its summary written and the session put in the history. Ctrl+C had
    done nothing, and SIGTERM and SIGHUP ended the process at once, leaving the file without its
    summary until the next recording repaired it. (Python runs the handler at the window's next
    redraw, within 1/30 s.)"""
    def close(signum: int, _frame: object) -> None:
        log.info("%s: closing the window", signal.Signals(signum).name)
        win.close()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # (no SIGHUP on Windows)
            signal.signal(getattr(signal, name), close)


def run_live(args: argparse.Namespace, config: DetectorConfig) -> int:
    """The live app, once ``check_live`` has passed (``cli.cmd_live`` asks it first)."""
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from myotwitch.host.gui.window import MainWindow, live_settings

    QtCore.qInstallMessageHandler(_qt_message)
    pg.setConfigOptions(antialias=False, useOpenGL=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("myotwitch")
    settings = live_settings()
    spec, remembered = args.source, False
    if spec == "auto":  # a remembered device first; "auto" falls back to the simulator and says so
        saved = settings.value("source")
        if saved and not str(saved).startswith(("sim", "file:")):  # (a replay is a one-off, not a sensor)
            spec, remembered = str(saved), True
            log.info("source: %s, remembered from the last run (--source chooses another)", spec)
    win = MainWindow(spec, config, window_s=args.window, out_dir=args.out, settings=settings,
                     lsl=getattr(args, "lsl", False), remembered=remembered)
    if args.screenshot:
        win.resize(1280, 760)
    win.show()
    close_on_signals(win)
    failed: list[str] = []
    if args.run_for or args.screenshot:
        def finish() -> None:
            if args.screenshot:
                if win.grab().save(args.screenshot):
                    log.info("screenshot saved to %s", args.screenshot)
                else:
                    failed.append(f"--screenshot {args.screenshot}: the image could not be saved")
            win.close()

        QtCore.QTimer.singleShot(int((args.run_for or 8.0) * 1000), finish)
    status = app.exec()
    if failed:
        raise MyotwitchError(failed[0])
    error = win.source_failure()
    if error is not None:  # the window showed it in red; the command line gets it too
        raise error
    return status
