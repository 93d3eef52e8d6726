"""JSON-lines event log: one object per line, flushed as it happens, so other programs can
``tail -f`` it (or read ``--events -`` from stdout) and follow twitches live."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import IO

log = logging.getLogger(__name__)


class EventLog:
    """Writes ``{"type": ..., "time": <unix s>, ...}`` lines. ``path`` '-' means stdout."""

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._fh: IO[str] | None
        if self.path is None:
            self._fh = None
        elif self.path == "-":
            self._fh = sys.stdout
        else:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the log

    @classmethod
    def new(cls, stem: str, suffix: str) -> EventLog:
        """A log in a file of its own: ``stem + suffix``, or ``stem-1 + suffix`` and so on when
        that exists (created exclusively, so two recorders never share one)."""
        k = 0
        while True:
            path = stem + (f"-{k}" if k else "") + suffix
            try:
                fh = open(path, "x", encoding="utf-8")  # noqa: SIM115 - lives as long as the log
            except FileExistsError:
                k += 1
                continue
            log_ = cls(None)
            log_.path, log_._fh = path, fh
            return log_

    def write(self, record_type: str, /, **fields: object) -> None:
        if self._fh is None:
            return
        line = json.dumps({"type": record_type, "time": round(time.time(), 3), **fields}, default=_default)
        try:
            self._fh.write(line + "\n")
            self._fh.flush()
        except OSError as e:  # (a full disk, a closed pipe): the recording matters more than its log
            log.error("event log %s: write failed (%s); no more events are logged there, the recording goes on",
                      "stdout" if self.path == "-" else self.path, e.strerror or e)
            self.close()

    def deleted(self) -> bool:
        """Was the log's file deleted (its folder removed) while open?"""
        fh = self._fh
        if fh is None or fh is sys.stdout:
            return False
        try:
            return os.fstat(fh.fileno()).st_nlink == 0
        except (OSError, ValueError):
            return False

    def reopen(self) -> None:
        """Start the log again at its path (after ``deleted``), so what follows is not written into
        a file nobody can read."""
        self.close()
        try:
            self._fh = open(self.path or "", "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the log
        except OSError as e:
            log.error("event log %s cannot be started again (%s); no more events are logged there, the "
                      "recording goes on", self.path, e.strerror or e)

    def close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None and fh is not sys.stdout:
            try:
                fh.close()
            except OSError:  # (what a failed flush left unwritten; said by write already)
                pass


def _default(o: object) -> object:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def read_events(path: str | os.PathLike) -> list[dict]:
    """All well-formed lines of a JSON-lines log (a torn last line after a crash is skipped)."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out
