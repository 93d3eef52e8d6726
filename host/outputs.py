"""Checks run before any work starts: output paths that can be written, optional extras that
are installed, numeric options in range. Each failure is one UsageError naming the option,
so an hour of analysis is never thrown away at the end."""

from __future__ import annotations

import importlib.util
import os

from myotwitch.host.errors import UsageError

#: optional feature -> (module it needs, the extra that installs it)
EXTRAS = {"--report": ("matplotlib", "report"), "live": ("PySide6", "gui"), "--scheduler": ("distributed", "dask")}


def check_writable(option: str, path: str) -> None:
    """``path`` can be created or overwritten as a file."""
    full = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(full) or "."
    if os.path.isdir(full):
        raise UsageError(f"{option} {path}: is a folder, expected a file name")
    if not os.path.isdir(parent):
        raise UsageError(f"{option} {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(full) and not os.access(full, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable (permission denied)")


def check_folder(option: str, path: str) -> None:
    """``path`` is (or can be made) a writable folder; creates it."""
    full = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot create the folder ({e.strerror or e})") from e
    if not os.access(full, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: folder is not writable (permission denied)")


def require_extra(feature: str) -> None:
    """One line naming the extra to install when an optional feature's module is missing."""
    module, extra = EXTRAS[feature]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise UsageError(f"{feature} needs {module}, which is not installed: pip install 'myotwitch[{extra}]'")


def check_range(option: str, value: float | int | None, lo: float, hi: float, what: str) -> None:
    if value is not None and not lo <= value <= hi:
        raise UsageError(f"{option} {value}: expected {what}")
