"""Checks run before any work starts: output paths that can be written, optional extras that
are installed, numeric options in range. Each failure is one UsageError naming the option,
so an hour of analysis is never thrown away at the end."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence

from myotwitch.host.errors import MyotwitchError, UsageError

log = logging.getLogger(__name__)

#: optional feature -> (module it needs, the extra that installs it)
EXTRAS = {"--report": (("matplotlib",), "report"), "live": (("PySide6", "pyqtgraph"), "gui"),
          "--scheduler": (("distributed",), "dask")}


def _cannot_write_in(folder: str) -> OSError | None:
    """Why a file cannot be made in ``folder``, found by making (and removing) one: permission
    bits say nothing to root, nor about read-only mounts or kernel file systems such as /sys."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".myotwitch-probe-")
    except OSError as e:
        return e
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return None


#: the first bytes of an EDF and of a BDF file (their version field)
RECORDING_MAGIC = (b"0       ", b"\xffBIOSEMI")


def check_writable(option: str, path: str, made: str | None = None) -> None:
    """``path`` can be created or overwritten as a file, and is no recording. ``made``: a folder
    ``check_folder`` makes after this check (checks made last, so that a refused command leaves
    no folder behind): a file directly in it, while it does not exist yet, is taken as it will
    be (``record --out new --events new/ev.jsonl``); the folder's own check covers it."""
    if not path.strip():  # (an unset shell variable: abspath would make it the current folder)
        raise UsageError(f"{option}: expected a file name, got an empty one")
    full = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(full) or "."
    if made is not None and not os.path.lexists(parent) and parent == os.path.abspath(os.path.expanduser(made)):
        return
    if os.path.isdir(full):
        raise UsageError(f"{option} {path}: is a folder, expected a file name")
    head = b""
    if os.path.isfile(full):  # (a regular file only: reading a pipe, /dev/stdout, waits)
        try:
            with open(full, "rb") as fh:
                head = fh.read(8)
        except OSError:
            pass
    if head in RECORDING_MAGIC:  # (history --csv/--json, record --events, simulate --truth wrote over one)
        raise UsageError(f"{option} {path}: that is a recording (EDF/BDF); it would be overwritten (give another "
                         "file name)")
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(full) and not os.access(full, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable (permission denied)")
    why = _cannot_write_in(parent)
    if why is None and os.path.exists(full):
        try:
            with open(full, "ab"):  # (appends nothing: the file is left as it is)
                pass
        except OSError as e:
            why = e
    if why is not None:
        raise UsageError(f"{option} {path}: not writable ({why.strerror or why})")


def check_html(option: str, path: str) -> None:
    """A report is an HTML page: a name that says otherwise (``--report r.txt``, ``r.pdf``)
    would be opened by the wrong program, or be a slip for another option."""
    if os.path.splitext(path)[1].lower() not in (".html", ".htm"):
        raise UsageError(f"{option} {path}: the report is an HTML page; give a name ending in .html "
                         "(for tables use --csv, for data --json)")


def check_files(outputs: Sequence[tuple[str, str | None]], made: str | None = None) -> None:
    """Each ``(option, path)`` given can be written, and a ``--report`` among them is an HTML
    page whose extra is installed: what ``analyze`` and ``history`` ask of their outputs before
    any work (``-`` is stdout). ``made``: a folder the command makes (``check_writable``)."""
    report = dict(outputs).get("--report")
    if report:
        check_html("--report", report)
    for option, path in outputs:
        if path is not None and path != "-":  # ('' is refused: an empty variable had skipped the output)
            check_writable(option, path, made)
    if report:
        require_extra("--report")


def check_parent(option: str, path: str) -> str:
    """A folder ``path`` that exists or could be made in one that does (its full path):
    a mistyped or unmounted parent must not become a new tree of folders."""
    full = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(full)
    if not os.path.isdir(full) and not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: folder {parent} does not exist")
    return full


def check_folder(option: str, path: str) -> None:
    """``path`` is (or can be made) a writable folder; creates it, but only in a folder that
    exists (as a file output is checked): a mistyped or unmounted parent (a USB stick not
    plugged in) must not become a new tree of folders on the system disk."""
    if not path.strip():  # (abspath would make it the current folder, which later code does not)
        raise UsageError(f"{option}: expected a folder, got an empty name")
    full = check_parent(option, path)
    if os.path.lexists(full) and not os.path.isdir(full):  # (makedirs had said "File exists")
        raise UsageError(f"{option} {path}: is a file, not a folder; give a folder (it is made if missing)")
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot create the folder ({e.strerror or e})") from e
    if not os.access(full, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: folder is not writable (permission denied)")
    why = _cannot_write_in(full)
    if why is not None:
        raise UsageError(f"{option} {path}: folder is not writable ({why.strerror or why})")


def require_extra(feature: str) -> None:
    """One line naming the extra to install when an optional feature's module is missing."""
    modules, extra = EXTRAS[feature]
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise UsageError(f"{feature} needs {module}, which is not installed: pip install 'myotwitch[{extra}]'")


def check_range(option: str, value: float | int | None, lo: float, hi: float, what: str) -> None:
    if value is not None and not lo <= value <= hi:
        raise UsageError(f"{option} {value:g}: expected {what}")  # (as typed: 0, not 0.0)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 (a ``Writes`` job: ``lambda: write_text(path, text)``)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


class Writes:
    """Output files written after the work, one after another: one that fails (a disk filling
    up, a folder gone since the checks) is named and the others are still written, so the
    work is not lost for one file; ``done`` then fails with one line naming each."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, path: str, write: Callable[[], object], what: str = "") -> bool:
        """Run ``write`` (which writes ``path``); whether it succeeded. With ``what`` ("report"),
        a success is said on stderr ("report written to PATH"), so a file the user asked for is
        confirmed whichever command wrote it."""
        try:
            write()
        except OSError as e:
            self.failed.append(f"{getattr(e, 'filename', None) or path}: cannot write ({e.strerror or e})")
            return False
        if what:
            log.info("%s written to %s", what, path)
        return True

    def done(self) -> None:
        if self.failed:
            raise MyotwitchError("; ".join(self.failed))


#: the lock file ``hold_folder`` keeps in a folder while a run writes there (a dot file: no
#: result, listed in no manifest, removed when the run ends)
LOCK_NAME = ".myotwitch-analyze.lock"


def _try_lock(fd: int) -> bool:
    """Take the lock on the open lock file ``fd`` without waiting; False when another process
    holds it. A POSIX record lock (``lockf``), not ``flock``: it belongs to this process alone,
    so the workers a batch forks do not inherit it. Held by an orphaned worker, an ``flock``
    had outlived a holder killed with SIGKILL (measured: still locked while the forked child
    lived); either kind is released by the OS when its holder dies, so no crash leaves it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # (released when the handle closes, or the process ends)
        else:
            import fcntl

            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN, errno.EDEADLK):
            return False
        raise
    return True


def _holder(path: str) -> str:
    """" (process N)" naming the run that holds the lock file at ``path``, as it wrote there."""
    try:
        with open(path, encoding="ascii") as fh:
            pid = fh.read(20).strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


@contextlib.contextmanager
def hold_folder(option: str, folder: str) -> Iterator[None]:
    """Hold ``folder`` for this run: a second run that starts while this one writes there is
    refused at once (one UsageError naming the folder) rather than interleave its results,
    manifest and removals with this run's. The lock is the OS's, on ``LOCK_NAME`` inside the
    folder: it ends with this process however it ends (Ctrl+C, a crash, SIGKILL), so a lock
    file left behind by a dead run blocks nothing; on a normal end the file is removed."""
    path = os.path.join(folder, LOCK_NAME)
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise UsageError(f"{option} {folder}: cannot make the lock file {LOCK_NAME} there "
                             f"({e.strerror or e})") from e
        try:
            taken = _try_lock(fd)
        except OSError as e:
            os.close(fd)
            raise UsageError(f"{option} {folder}: cannot lock the folder ({e.strerror or e})") from e
        if not taken:
            os.close(fd)
            raise UsageError(f"{option} {folder}: another myotwitch analyze run{_holder(path)} is writing there; "
                             "wait for it to end, or give another folder")
        try:  # (the file locked is still the one named: a run ending as this one opened it removes it)
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError:  # (the pid only makes the refusal's message clearer)
        pass
    try:
        yield
    finally:
        if sys.platform == "win32":  # (an open file cannot be removed there: closed first)
            os.close(fd)
            with contextlib.suppress(OSError):
                os.remove(path)
        else:  # removed while still locked: a run that opened it meanwhile sees it gone, and retries
            with contextlib.suppress(OSError):
                os.remove(path)
            os.close(fd)
