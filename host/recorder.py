"""The headless recorder: source -> detector -> crash-safe EDF+ files + JSON-lines events.

Runs for nights and weeks. Every second of data is on disk (fsync) a second later;
unplugs and drops become annotated gaps; files rotate without losing a sample; an
interrupted recording is found and repaired on the next start, never overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import logging
import os
import re
import shutil
import signal
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from myotwitch.dsp import DetectorConfig, Episode, Event, Pipeline
from myotwitch.dsp.episodes import group_episodes
from myotwitch.dsp.pipeline import QualityTally
from myotwitch.host import edf
from myotwitch.host.device_id import prefilter_field
from myotwitch.host.errors import MyotwitchError, SourceError, UsageError
from myotwitch.host.eventlog import EventLog
from myotwitch.host.session import floors_over, span_dict, summarize, summary_path, write_summary
from myotwitch.host.sources import Source
from myotwitch.host.sources.replay import REPLAY_FIRMWARE
from myotwitch.host.stream import DeviceInfo, GapRecord, LinkEvent, SampleBlock, StatusRecord
from myotwitch.host.summary_check import LONGEST_S
from myotwitch.host.wording import busy_floor_reason, counted, hms, seconds_text

if TYPE_CHECKING:
    from myotwitch.host.lsl_publish import LslPublisher

log = logging.getLogger(__name__)

MARKER_SUFFIX = ".recording"
#: Gaps longer than this end the file; recording goes on in a new file dated after the gap.
#: A gap costs O(1) that way, where filling it would write hours of filler synchronously.
LONG_GAP_S = 60.0
#: seconds of a new stream checked for looking like EMG in µV (``Recorder._check_stream``)
PROBE_S = 5.0
LOW_DISK_WARN_BYTES = 500 * 1024 * 1024
#: a status line says how long no data has come once it is this long (an outage, a silent device)
NO_DATA_SAY_S = 5.0
#: notes held while no file is open (``Recorder._annotate_now``): the rest are counted
HELD_NOTES = 10
#: a step of the system clock larger than this re-dates the recording from there on (a board
#: without a real-time clock starts with a stale clock, which the network sets minutes later)
CLOCK_STEP_S = 10.0


class RecorderError(MyotwitchError):
    exit_code = 5


def parse_duration(text: str | None, name: str = "duration", extra: str = "") -> float | None:
    """'90s', '15m', '8h', '1d', '1h30m' or plain seconds -> seconds (more than zero).
    ``name`` is the option the text came from; ``extra`` lists other words it accepts."""
    if text is None:
        return None
    import math
    import re

    t = text.strip().lower()
    expected = f"expected {extra}e.g. 90s, 15m, 8h, 1d or 1h30m"
    if re.fullmatch(r"\d+(\.\d+)?", t):
        total = float(t)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", t)
        if not parts or "".join(a + b for a, b in parts) != t.replace(" ", ""):
            raise UsageError(f"{name} '{text}': {expected}")
        total = sum(float(v) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for v, u in parts)
    if not math.isfinite(total) or total <= 0:
        raise UsageError(f"{name} '{text}': must be longer than zero ({expected})")
    if total > LONGEST_S:
        raise UsageError(f"{name} '{text}': longer than 100 years ({expected})")
    return total


@dataclass
class OpenFile:
    writer: edf.EdfWriter
    first_sample: int  # session sample index of the file's first sample
    start: dt.datetime
    events: list[Event] = field(default_factory=list)
    #: episodes annotated in the file as they closed (whole inside it); the file's summary has
    #: its own, grouped from its twitches at close, as ``analyze`` would group them
    annotated: set[tuple[float, float, int]] = field(default_factory=set)  # (start_s, end_s, twitches)
    #: an episode chain (parts of continuous twitching, cut every ``episode_max_s``) began in this
    #: file: from then on its parts are cut where the file's own grouping cuts them
    chain_here: bool = False
    #: the pipeline's quality counts where the file starts and (once rotated away) ends: its
    #: summary's noise, level and clipping are its own, not the session's so far
    tally: QualityTally | None = None
    end_tally: QualityTally | None = None
    gaps: int = 0
    gap_samples: int = 0
    reconnects: int = 0
    end_sample: int | None = None  # set when rotated away (data stops there)
    deleted: bool = False  # deleted while being written: closed without a summary

    @property
    def path(self) -> str:
        return self.writer.path


def recover(out_dir: str, config: DetectorConfig | None = None) -> list[str]:
    """Repair recordings left behind by a crash (a marker file whose process is gone)."""
    recovered = []
    for name in sorted(os.listdir(out_dir)):
        if not name.endswith(MARKER_SUFFIX):
            continue
        marker = os.path.join(out_dir, name)
        path = marker[: -len(MARKER_SUFFIX)]
        if not os.path.exists(path):
            os.remove(marker)
            continue
        written = _read_marker(path)  # (read once: its state, then whether it replays a file)
        if _state(path, written) == "live":
            log.warning("%s is being recorded (its marker names a running recorder, or another computer and "
                        "the file is still growing); leaving it alone", path)
            continue
        try:
            before, after = (-1, 0) if edf.header_never_written(path) else edf.repair(path)
        except MyotwitchError as e:
            log.error("could not recover %s: %s", path, e)
            _remove_quietly(marker)  # once: the file is left as it is, and not tried again at every start
            continue
        except OSError as e:
            log.error("could not recover %s now (%s); will try again at the next start", path, e.strerror or e)
            continue
        if after == 0:  # killed before the first second was complete: nothing to keep
            _remove_quietly(path)
            log.warning("removed interrupted recording %s: it ended before its first second of data", path)
            _remove_quietly(marker)
            continue
        replay = _replays(path, written)
        try:
            from myotwitch.host.analysis import analyze_file

            summary = analyze_file(path, config, say_marker=False)
            summary["recovered"] = {"records_in_header": before, "records_kept": after}
            if written and isinstance(written.get("device"), dict):
                summary["device"] = written["device"]  # (the file alone does not say; its marker does)
            if not replay:
                from myotwitch.host.unit_registry import register_summary

                register_summary(summary)  # as a recording closed in the normal way
            write_summary(path, summary)
        except OSError as e:
            log.error("recovered %s (%d s kept) but could not write its summary (%s); will try again at the next "
                      "start", path, after, e.strerror or e)
            continue
        except MyotwitchError as e:
            log.warning("recovered %s (%d s kept) but could not analyse it: %s", path, after, e)
        else:
            log.warning("recovered interrupted recording %s: %d s kept (header said %s)", path, after,
                        before if before >= 0 else "unknown")
            if not replay:
                _index(summary)  # into the history, as its recorder would have done at the close
            recovered.append(path)
        os.remove(marker)
    return recovered


def _replays(path: str, marker: dict | None) -> bool:
    """Is the recording at ``path`` a file's replay (a copy of a session the history has, or gets
    when that file is analysed)? Its ``marker`` says so; a marker of an older version, or one torn
    by the crash, by its source; failing that, the file's header (``fw replay``)."""
    marker = marker or {}
    if isinstance(marker.get("replay"), bool):
        return marker["replay"]
    if isinstance(marker.get("source"), str):
        return marker["source"].startswith("file:")
    try:
        return any(f"fw {REPLAY_FIRMWARE}" in s.prefilter for s in edf.read_header(path).signals)
    except (OSError, MyotwitchError):
        return False


def _index(summary: dict) -> None:
    """Add a closed (or repaired) recording's session to the history's index: a convenience,
    so a failure is a warning and never costs the recording."""
    try:
        from myotwitch.host.index import SessionIndex

        SessionIndex.default().add_summary(summary)
    except Exception as e:  # noqa: BLE001 - the index is a convenience; never lose the recording over it
        log.warning("session index not updated: %s", e)


def _sync_dir(path: str) -> None:
    """fsync a folder, so the names created in it survive a power cut (POSIX asks for it; where
    a folder cannot be opened or synced, as on Windows, the file system's own order has to do)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def alive(pid: int) -> bool | None:
    """Is process ``pid`` of this computer running? None where that cannot be asked safely
    (Windows, where signal 0 is Ctrl+C)."""
    if os.name == "nt":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: a file whose marker cannot say (another computer's, or an unreadable marker) is taken as
#: interrupted once it has not changed for this long: a recorder writes every second, and ends
#: the file in a gap longer than a minute
STALE_S = 300.0


def marker_state(path: str) -> str | None:
    """``path``'s recorder marker (removed on close): None when there is none; "interrupted" when
    its recorder is gone (its process of this computer has ended, or, where the marker cannot
    say, the file has not changed for ``STALE_S``); else "live"."""
    if not os.path.exists(path + MARKER_SUFFIX):
        return None
    return _state(path, _read_marker(path))


def _state(path: str, marker: dict | None) -> str:
    """``marker_state`` of a marker that exists, as read (None: unreadable)."""
    pid = marker.get("pid") if marker else None
    host = marker.get("host") if marker else None
    boot = marker.get("boot") if marker else None
    running = None
    if isinstance(pid, int) and pid > 0 and host in (None, socket.gethostname()):
        # (our own pid: a previous process's, given the same number after a restart; a pid of an
        # earlier boot: another process's now, as a board that boots the same way every time,
        # after a power cut, gives its services much the same numbers)
        now = boot_id()
        running = False if pid == os.getpid() or (isinstance(boot, str) and now and boot != now) else alive(pid)
        began = marker.get("pid_start") if marker else None
        if running and isinstance(began, int) and process_start(pid) not in (None, began):
            running = False  # (its number, given to another process since: a crashed recorder's pid
            # reused before the next start had kept its file "being recorded", unrepaired, for as
            # long as that other process ran)
    if running is None:  # (another computer's marker, or one that cannot say: the file's age decides)
        try:
            running = time.time() - os.path.getmtime(path) < STALE_S
        except OSError:
            running = False
    return "live" if running else "interrupted"


def clock_offset() -> float:
    """The system clock minus a clock that nobody sets (the time since boot, suspend included where
    the system counts it): it changes only when the system clock is set."""
    try:
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):  # (not Linux)
        return time.time() - time.monotonic()


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux; None elsewhere or when it
    cannot be read): with the boot's id it tells a process from a later one given its number."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[19])  # (field 22 of stat; the split starts at field 3)
    except (OSError, IndexError, ValueError):
        return None


def boot_id() -> str | None:
    """This boot's id (Linux): a process named in a marker of another boot is gone."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _read_marker(path: str) -> dict | None:
    """``path``'s recorder marker as written (None when missing or unreadable)."""
    try:
        with open(path + MARKER_SUFFIX, encoding="utf-8") as fh:
            marker = json.load(fh)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


class Recorder:
    """``run()`` records until the duration is reached or a stop signal arrives."""

    def __init__(self, source: Source, out_dir: str, *, config: DetectorConfig | None = None,
                 rotate: str | None = None, duration_s: float | None = None, events_path: str | None = None,
                 subject: edf.Subject | None = None, annotate_rejected: bool = True,
                 status_interval_s: float = 60.0, prefix: str = "myotwitch", info_timeout_s: float = 10.0,
                 publisher: LslPublisher | None = None) -> None:
        self.source = source
        self.publisher = publisher  # --lsl: samples and event markers also go out over LSL
        self.out_dir = out_dir
        self.config = config or DetectorConfig()
        self.rotate = rotate
        self.rotate_s = None if rotate in (None, "daily", "none") else parse_duration(rotate)
        self.duration_s = duration_s
        self.subject = subject or edf.Subject()
        self.annotate_rejected = annotate_rejected
        self.status_interval_s = status_interval_s
        self.prefix = prefix
        self.info_timeout_s = info_timeout_s
        self.events_path = events_path
        self.eventlog = EventLog(None)  # replaced in begin(); EventLog(None) writes nothing
        self._own_log = False  # begin() named the log (events_path "auto")
        self._files_opened = 0  # files begun (a log is kept when any was, closed or not)
        self._closing = ""  # the file being closed
        self.repaired = False  # recover() already ran on out_dir (the CLI runs it before opening the source)
        self.info: DeviceInfo | None = None
        self.pipe: Pipeline | None = None
        self.current: OpenFile | None = None
        self.closing: list[OpenFile] = []
        self.closed_files: list[str] = []
        #: the files of the stream going on closed into the session history (a new stream's start
        #: empties it): the live app's session holds them, so its advice leaves their rows out
        self.indexed_files: list[str] = []
        self.samples = 0
        self.twitches = 0
        self._searched_earlier = 0.0  # seconds the pipelines of earlier streams searched (status lines)
        self.gaps = 0
        self.lost_samples = 0
        self.reconnects = 0
        self._stop = False
        self._rotate_requested = False
        #: the wall-clock time of the session's first sample: set when that sample comes (a service
        #: started with ``--wait`` hours before the sensor must not date the night at its start)
        self._session_start = dt.datetime.now().astimezone()  # (aware: ``_local``)
        self._dated = False
        self._clock_offset = clock_offset()  # (``_check_clock``)
        self._next_deleted_check = 0  # (``_check_deleted``: a sample count)
        self._unbegun: str | None = None  # a file that could not be begun (``_disk_error``)
        self._last_data: float | None = None  # time.monotonic() of the last samples (status lines)
        self._last_status = time.monotonic()
        self._busy_floor: list[str] = []  # channels last said to be over max_rest_floor_uv
        self._last_flags: tuple[bool, bool] | None = None
        self._disk_warned = False
        self.error: str | None = None
        self._episodes_seen = 0
        self._next_file_note = ""
        #: reconnects since a rotation left the next file to the next samples (None: no file left so)
        self._between: int | None = None
        #: a "link connected" note waiting for the first samples after the outage
        self._back_note: str | None = None
        #: notes that came while no file was open, for the start of the next (``_annotate_now``)
        self._held_notes: list[str] = []
        self._held_over = 0
        self._probe: list[np.ndarray] | None = None  # (``_check_stream``)
        self.stream_warnings: list[str] = []  # what ``_check_stream`` found, for every file's summary

    # -- control ------------------------------------------------------------------------------
    def request_stop(self, *_: object) -> None:
        self._stop = True

    def request_rotate(self, *_: object) -> None:
        self._rotate_requested = True

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.request_rotate)

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> int:
        """Record until stopped; returns 0 after a clean stop. Raises RecorderError for disk
        problems (the file stays valid up to the last whole second)."""
        self.begin()
        started = time.monotonic()
        try:
            while not self._stop:
                for rec in self.source.read(0.2):
                    self.handle(rec)
                if self.duration_s is not None and self.info and self.samples >= self.duration_s * self.info.fs:
                    break
                if not self.info and not getattr(self.source, "wait", False) and \
                        time.monotonic() - started > self.info_timeout_s:
                    heard = self.source.heard()
                    raise SourceError(f"{self.source.spec}: no myotwitch device information received within "
                                      f"{self.info_timeout_s:g} s ({heard or 'wrong device, or wrong baud rate?'})")
                self.tick()
                if self.source.closed:
                    break
        finally:
            self.finish()
        return 0

    def begin(self) -> None:
        """Check the output folder, repair interrupted recordings, open the event log."""
        self._check_dir()
        if not self.repaired:
            recover(self.out_dir, self.config)
        if self.events_path == "auto":  # (its own: two recorders started in one second had shared one)
            self.eventlog = EventLog.new(os.path.join(self.out_dir, f"{self.prefix}_{self._session_start:%Y%m%d-%H%M%S}"),
                                         ".events.jsonl")
            self.events_path = self.eventlog.path
            self._own_log = True
        else:
            self.eventlog = EventLog(self.events_path)

    def handle(self, rec: object) -> None:
        """Take one record from a source (the GUI feeds records here while it records)."""
        try:
            self._handle(rec)
        except OSError as e:
            self.error = self._disk_error(e)
            raise RecorderError(self.error) from e

    def tick(self) -> None:
        """Periodic duties: a step of the system clock, rotation and status lines."""
        try:
            self._check_deleted()
            self._check_clock()
            if self._rotate_requested or self._rotation_due():
                self._rotate_requested = False
                self._rotate("rotation")
        except OSError as e:
            self.error = self._disk_error(e)
            raise RecorderError(self.error) from e
        self._maybe_status()

    def _check_deleted(self) -> None:
        """The file being written was deleted (its folder removed, a clean-up script): what went on
        being written to it was lost when it closed, at the next rotation, or all night without
        one. Looked at every second of data: said at once, and the recording goes on in a new file (its
        folder made again), with the event log."""
        if self.info is None or self.samples < self._next_deleted_check:
            return
        self._next_deleted_check = self.samples + int(self.info.fs)
        f = self.current
        gone = f is not None and f.writer.deleted()
        log_gone = self.eventlog.deleted()
        if gone or log_gone:
            self._check_dir()  # (the folder made again; the next file's own check finds it there)
        if log_gone:
            log.error("the event log %s was deleted while being written; it starts again there", self.events_path)
            self.eventlog.reopen()
        if f is None or not gone:
            return
        f.deleted = True
        kept = self.samples_in_session() - f.first_sample
        log.error("%s was deleted while being recorded (its folder removed?): its %s of data are lost; "
                  "recording goes on in a new file", f.path, hms(kept / self.info.fs))
        self._next_file_note = f"the file before, {os.path.basename(f.path)}, was deleted while being recorded"
        self._rotate("the file was deleted")
        self.eventlog.write("file_deleted", path=f.path)

    def _check_clock(self) -> None:
        """The system clock was set (by the network, minutes after a board without a real-time
        clock booted with a stale one): files are dated by the new clock from here on. The file
        being written keeps the old clock's date (said in it), and the recording goes on in a new
        file dated by the new one; no sample is lost, and gaps are measured by a clock nobody sets."""
        offset = clock_offset()
        step = offset - self._clock_offset
        if abs(step) < CLOCK_STEP_S:
            return
        self._clock_offset = offset
        if not self._dated:  # (no data yet: the first samples are dated by the clock as it is then)
            return
        self._session_start += dt.timedelta(seconds=step)
        way = f"{'forward' if step > 0 else 'back'} by {hms(abs(step))}"
        log.warning("the system clock was set %s (a board without a real-time clock gets its time from the "
                    "network after booting); the recording is dated by the new clock from here on%s", way,
                    ", in a new file" if self.current is not None else "")
        self.eventlog.write("clock", step_s=round(step, 3))
        if self.current is not None:
            self._annotate_now(f"system clock set {way}: this file is dated by the clock before")
            self._next_file_note = f"system clock set {way}: dated by the new clock"
            self._rotate("the system clock was set")

    def finish(self, close_source: bool = True) -> None:
        """Close every file cleanly (summaries written, markers removed)."""
        try:
            self._close_all()
        except OSError as e:
            if self.error is None:
                log.error("%s", self._disk_error(e))
            else:  # (the disk error that stopped the recording, said by it, also kept a file from closing)
                where = self._closing or getattr(e, "filename", None) or self.out_dir
                log.error("%s could not be closed either (%s); the next `record` start into %s writes its summary",
                          where, e.strerror or e, self.out_dir)
        finally:
            if close_source:
                self.source.close()
            if self.publisher is not None:
                self.publisher.close()
            self.eventlog.close()
            if self._own_log and not self._files_opened and self.events_path:  # (no sensor ever came:
                _remove_quietly(self.events_path)                             # no stray log)
            self._log_status()

    def _check_dir(self) -> None:
        try:
            os.makedirs(self.out_dir, exist_ok=True)
        except OSError as e:
            raise RecorderError(f"cannot create output directory {self.out_dir}: {e.strerror}") from e
        if not os.access(self.out_dir, os.W_OK):
            raise RecorderError(f"output directory {self.out_dir} is not writable (read-only or permissions)")

    def _disk_error(self, e: OSError) -> str:
        where = getattr(e, "filename", None) or (self.current.path if self.current else self.out_dir)
        if e.errno == errno.ENOSPC:
            if self._unbegun in (where, (where or "").removesuffix(MARKER_SUFFIX)):  # (its first byte failed)
                return f"disk full: could not begin {where}; recording stopped"
            return f"disk full while writing {where}; recording stopped, the file holds everything up to the last second"
        if e.errno == errno.EROFS:
            return f"{where}: file system became read-only; recording stopped"
        return f"write to {where} failed ({e.strerror or e}); recording stopped"

    def _handle(self, rec: object) -> None:
        if self.publisher is not None:
            self.publisher.record(rec)
        if isinstance(rec, SampleBlock):
            self._samples(rec)
        elif isinstance(rec, DeviceInfo):
            self._device(rec)
        elif isinstance(rec, GapRecord):
            self._gap(rec)
        elif isinstance(rec, LinkEvent):
            self._link(rec)
        elif isinstance(rec, StatusRecord):
            self._status(rec)

    def _device(self, info: DeviceInfo) -> None:
        if self.info is not None and self.info.same_stream(info):
            return
        if self.info is not None:
            log.warning("device changed format; starting a new file")
            self._close_all()
            self.indexed_files = []  # (the live window's session starts again with the new stream)
            if self.pipe is not None:  # the new stream's time line (a new pipeline, from 0) starts
                # where the last one's ended: its files were dated from the session's start
                self._session_start += dt.timedelta(seconds=self.pipe.samples_in / self.info.fs)
                self._searched_earlier += self.pipe.searched_s  # (the twitches count on: so do their hours)
        self.info = info
        config = self.config
        if config.clip_uv is None:  # where the file clips, as analysing the file takes it (its range;
            # the writer keeps the lowest count for gaps, so both ends are the top of ``range_uv``)
            config = config.replace(clip_uv=0.999 * info.range_uv[1])
        self.pipe = Pipeline(info.fs, info.n_channels, config)
        self._probe = []  # the stream's first seconds, to check they look like EMG in µV
        self._episodes_seen = 0
        self.eventlog.write("device", **info.to_dict())
        log.info("device %s fw %s: %d ch at %g Hz, %g µV/count", info.device_id, info.firmware, info.n_channels,
                 info.fs, info.uv_per_count)

    @property
    def _replay(self) -> bool:
        """Recording a file's replay (``file:``): a copy of a recording that already exists."""
        return self.info is not None and self.info.firmware == REPLAY_FIRMWARE

    def _device_tag(self) -> str:
        """The file name's device part: a myotwitch device's id (its last 8 hex digits); up to 24
        characters of any other source's id (an LSL stream's, a BrainFlow board's: their last 8
        had cut through words, ``ynthetic``); for a replay ``replay-`` and up to 24 characters
        of the replayed file's name."""
        assert self.info is not None
        ident = self.info.device_id
        if re.fullmatch(r"[0-9a-fA-F]{8,}", ident):
            return ident[-8:]
        name = os.path.splitext(os.path.splitext(ident)[0])[0] if self._replay else ident
        tag = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:24]
        return "replay-" + (tag or "file") if self._replay else tag or "device"

    def _new_file(self, first_sample: int) -> OpenFile:
        assert self.info is not None
        self._check_dir()  # (a folder removed while no file was open, after a rotation or a long gap)
        start = self._local(first_sample)
        base = f"{self.prefix}_{start:%Y%m%d-%H%M%S}_{self._device_tag()}"
        path = os.path.join(self.out_dir, base + ".edf" if self.info.bits == 16 else base + ".bdf")
        k = 1
        while os.path.exists(path) or os.path.exists(path + MARKER_SUFFIX):
            path = os.path.join(self.out_dir, f"{base}-{k}" + os.path.splitext(path)[1])
            k += 1
        try:
            with open(path + MARKER_SUFFIX, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "pid_start": process_start(os.getpid()), "host": socket.gethostname(),
                           "boot": boot_id(),
                           "started": start.isoformat(), "source": self.source.spec, "replay": self._replay,
                           "device": self.info.to_dict()}, fh)
                fh.flush()
                os.fsync(fh.fileno())  # (on disk before the file: a power cut must not leave a file
                # whose marker is empty or missing, which the next start leaves alone or never sees)
            writer = edf.EdfWriter(path, fs=self.info.fs, labels=list(self.info.labels),
                                   uv_per_count=self.info.uv_per_count, bits=self.info.bits, start=start,
                                   subject=self.subject,
                                   prefilter=prefilter_field(self.info.device_id, self.info.firmware))
            _sync_dir(self.out_dir)  # (the new names: a file whose name is not on disk is lost whole)
        except OSError as e:  # (a full disk: no file begun, and no marker of one left behind)
            _remove_quietly(path + MARKER_SUFFIX)
            e.filename = e.filename or path
            self._unbegun = path
            raise
        f = OpenFile(writer, first_sample, start, tally=self.pipe.quality_tally() if self.pipe is not None else None)
        f.reconnects, self._between = self._between or 0, None  # (an outage since the rotation is this file's)
        if self._next_file_note:
            writer.annotate(0.0, None, self._next_file_note)
            self._next_file_note = ""
        for text in self._held_notes:  # (what happened while no file was open)
            writer.annotate(0.0, None, f"before this file: {text}")
        if self._held_over:
            writer.annotate(0.0, None, f"before this file: {self._held_over} more notes (in the event log)")
        self._held_notes, self._held_over = [], 0
        self._files_opened += 1
        log.info("recording to %s", path)
        self.eventlog.write("file", path=path, start=start.isoformat())
        return f

    def _samples(self, block: SampleBlock) -> None:
        if self.info is None or self.pipe is None:
            return
        uv = block.uv
        if self.duration_s is not None:  # stop exactly at the requested duration
            room = int(round(self.duration_s * self.info.fs)) - self.samples
            uv = uv[:, :max(room, 0)]
            if uv.shape[1] == 0:
                return
        if not self._dated:  # the session's first sample: its time is now
            self._session_start, self._dated = dt.datetime.now().astimezone(), True
            self._clock_offset = clock_offset()
        if self.current is None:
            # the recorder's own sample count, not the source's: the live app starts recording mid-stream
            self.current = self._new_file(self.samples_in_session())
        self._say_back()
        self._last_data = time.monotonic()
        self.current.writer.write(uv)
        self.samples += uv.shape[1]
        if self._probe is not None:
            self._check_stream(uv)
        self._events(self.pipe.process(uv))
        self._check_disk()

    def _check_stream(self, uv: np.ndarray) -> None:
        """Once ``PROBE_S`` of the stream are in: does it look like EMG in µV, within the file's
        range? A stream in volts records zeros and one in µV labelled volts records the range's
        ends, all night; said at once (log, event log, and the files' quality warnings)."""
        assert self.info is not None and self.pipe is not None and self._probe is not None
        self._probe.append(uv.copy())
        if sum(b.shape[1] for b in self._probe) < PROBE_S * self.info.fs:
            return
        x = np.concatenate(self._probe, axis=1)
        self._probe = None
        from myotwitch.host.analysis import check_units, signal_problems

        name = self.source.spec
        found = check_units(x, name, "µV", remedy="check the stream's unit, or the device's µV per count")
        found += signal_problems(x, name, list(self.info.labels))
        clip = self.pipe.config.clip_uv
        finite = x[np.isfinite(x)]
        beyond = float(np.mean(np.abs(finite) >= clip)) if clip and finite.size else 0.0
        if beyond > 0.2:
            text = (f"{name}: {beyond:.0%} of the samples are beyond the file's range of ±{clip:.0f} µV and are "
                    "clipped there: the stream's unit or the device's µV per count is wrong, or the amplifier "
                    "saturates")
            offset = np.nanmedian(x, axis=1)
            if name.startswith("lsl:") and self.info.bits == 16 and np.any(np.abs(offset) >= clip):
                # a DC-coupled amplifier's offset (the twitches ride on it, all clipped away)
                text += (f", or it is a DC-coupled amplifier's offset (median {np.max(np.abs(offset)):.0f} µV): "
                         "?bits=24 records ±168 mV (BDF)")
            found.append(text)
        for text in found:
            log.warning("%s", text)
            self.eventlog.write("warning", text=text)
            self.stream_warnings.append(text)

    def _gap(self, gap: GapRecord) -> None:
        self.gaps += 1
        self.lost_samples += gap.n_samples
        if self.pipe is None:
            return
        if self.current is None and self._between is not None:  # (a rotation during the outage)
            if gap.n_samples <= LONG_GAP_S * gap.fs:  # the next file begins where the outage did, as
                self.current = self._new_file(self.samples_in_session())  # it began at the rotation
            else:
                self._between = None
                self._next_file_note = f"after a gap of {gap.duration_s:.0f} s ({gap.reason})"
        if self.current is not None and gap.n_samples > LONG_GAP_S * gap.fs:
            note = f"gap of {gap.duration_s:.0f} s ({gap.reason}); recording continues in a new file"
            self._annotate_now(note)
            self._end_current()
            self._next_file_note = f"after a gap of {gap.duration_s:.0f} s ({gap.reason})"
        elif self.current is not None:
            if not gap.exact:  # a device restart or a resynchronised counter: say so in the file
                # (the reason says where the length came from: the host clock, or a sender's stamps)
                self._annotate_now(f"{gap.reason} (gap of {gap.duration_s:.3f} s)")
            self.current.gaps += 1
            self.current.gap_samples += gap.n_samples
            self.current.writer.gap(gap.n_samples)
        self._events(self.pipe.gap(gap.n_samples))
        self.eventlog.write("gap", onset_s=gap.onset_s, duration_s=gap.duration_s,
                                              reason=gap.reason, exact=gap.exact)

    def _link(self, ev: LinkEvent) -> None:
        text = f"link {ev.kind}: {ev.detail}"
        if ev.kind == "connected" and self.info is not None:
            self.reconnects += 1
            if self.current:
                self.current.reconnects += 1
            elif self._between is not None:
                self._between += 1
            # said where the data resumes: the outage's gap is written when the first samples
            # after it come, so here the note fell at the gap's start
            self._say_back()  # (back twice with no samples between: both said)
            self._back_note = text
        else:
            self._annotate_now(text)
        self.eventlog.write("link", kind=ev.kind, detail=ev.detail)

    def _status(self, st: StatusRecord) -> None:
        flags = (st.lead_off, st.saturated)
        if flags != self._last_flags:
            if self._last_flags is not None or any(flags):
                text = f"status lead_off={int(st.lead_off)} saturated={int(st.saturated)}"
                self._annotate_now(text)
            self._last_flags = flags
        self.eventlog.write("status", battery_mv=st.battery_mv, battery_pct=st.battery_pct,
                                              lead_off=st.lead_off, saturated=st.saturated, overruns=st.overruns)

    def _annotate_now(self, text: str) -> None:
        """A note at the current sample of the file being written; between files (after a
        rotation or a long gap, before the next samples begin the next file) it is held for the
        start of the next one: a link lost or a lead off then had been in the event log only."""
        if self.info is None:
            return
        if self.current is not None:
            self.current.writer.annotate(self.current.writer.samples_written_total / self.info.fs, None, text)
        elif len(self._held_notes) < HELD_NOTES:
            self._held_notes.append(text)
        else:
            self._held_over += 1

    def _events(self, events: list[Event]) -> None:
        assert self.pipe is not None and self.info is not None
        if self.publisher is not None:
            self.publisher.events(events)
        for e in events:
            target = self._file_for(e.onset_sample)
            if e.kind == "twitch":
                self.twitches += 1
            if target is not None:
                target.events.append(e)
                if e.kind == "twitch" or self.annotate_rejected:
                    rel = (e.onset_sample - target.first_sample) / self.info.fs
                    text = f"{e.kind} ch{e.channel} {e.peak_to_peak_uv:.0f}uV {e.snr_db:.0f}dB"
                    if e.reason:
                        text += f" ({e.reason})"
                    target.writer.annotate(rel, e.duration_ms / 1000.0, text)
            self.eventlog.write("event", **e.to_dict(), **self._in_file(target, e.onset_sample))
        new_episodes = self.pipe.episodes[self._episodes_seen:]
        self._episodes_seen = len(self.pipe.episodes)
        for ep in new_episodes:
            target = self._file_for(int(ep.start_s * self.info.fs))
            if target is not None and not ep.continues_previous:
                target.chain_here = True
            # annotated now when it is one of the file's own episodes (``_close``): inside the file,
            # and part of a chain that began there (a chain from an earlier file is cut an hour
            # after its own start, the file's grouping an hour after the file's first twitch);
            # the rest are annotated from the file's own grouping as it closes
            if target is not None and target.chain_here and (
                    target.end_sample is None or ep.end_s * self.info.fs <= target.end_sample):
                target.annotated.add((ep.start_s, ep.end_s, ep.n_twitches))
                self._annotate_episode(target, ep)
            self.eventlog.write("episode", **ep.to_dict(), **self._in_file(target, int(ep.start_s * self.info.fs)))
        self._close_finished()

    def _in_file(self, f: OpenFile | None, sample: int) -> dict:
        """Where an event-log line lies in its file (the file's name and seconds from its start),
        beside its seconds from the session's start: a rotation or a long gap starts a new file."""
        if f is None or self.info is None:
            return {}
        return {"file": os.path.basename(f.path), "file_onset_s": round((sample - f.first_sample) / self.info.fs, 3)}

    def _all_files(self) -> list[OpenFile]:
        return self.closing + ([self.current] if self.current else [])

    def _file_for(self, sample: int) -> OpenFile | None:
        for f in self._all_files():
            if f.first_sample <= sample and (f.end_sample is None or sample < f.end_sample):
                return f
        return None

    # -- rotation and closing ------------------------------------------------------------------------
    def _rotation_due(self) -> bool:
        if self.current is None or self.info is None:
            return False
        if self.rotate_s:
            return (self.samples_in_session() - self.current.first_sample) >= self.rotate_s * self.info.fs
        if self.rotate == "daily":
            return self._local(self.samples_in_session()).date() != self.current.start.date()
        return False

    def _local(self, sample: int) -> dt.datetime:
        """The local clock time (naive, as EDF dates files) of a session sample. The session's
        start is kept with its UTC offset and each time converted on its own: across a change of
        daylight saving time the offset changes, and a night's later files and its midnight
        rotation had kept the evening's (an hour off)."""
        assert self.info is not None
        return (self._session_start + dt.timedelta(seconds=sample / self.info.fs)).astimezone().replace(tzinfo=None)

    def samples_in_session(self) -> int:
        return self.pipe.samples_in if self.pipe else 0

    def _rotate(self, why: str) -> None:
        if self.current is None:
            return
        boundary = self._end_current()  # (the next samples begin the next file: none is begun in an
        # outage, which a gap over LONG_GAP_S would end with no data in it; a shorter one begins it)
        self._between = 0
        log.info("rotated (%s) at %.1f s", why, boundary / self.info.fs if self.info else 0)
        self._close_finished()

    def _close_finished(self, force: bool = False) -> None:
        if self.pipe is None or self.info is None:
            return
        horizon = self.pipe.latency_horizon_s * self.info.fs
        for f in list(self.closing):
            if force or (f.end_sample is not None and horizon >= f.end_sample + self.config.episode_gap_s * self.info.fs):
                self.closing.remove(f)
                self._close(f)

    def _annotate_episode(self, f: OpenFile, ep: Episode) -> None:
        assert self.info is not None
        f.writer.annotate(self._file_time(f, ep.start_s), ep.duration_s, f"episode {ep.n_twitches} twitches")

    def _file_time(self, f: OpenFile, t: float) -> float:
        """Session time ``t`` (a sample's) in seconds from the file's first sample, counted in
        samples as the file's analysis counts them (a difference of seconds carries float noise:
        0.742999999999995 for 0.743)."""
        assert self.info is not None
        return (round(t * self.info.fs) - f.first_sample) / self.info.fs

    def _close(self, f: OpenFile) -> None:
        assert self.pipe is not None and self.info is not None
        self._closing = f.path  # (named if the close fails)
        if not f.deleted and f.writer.deleted():  # (after it ended, while it waited for its last events)
            f.deleted = True
            end = f.end_sample if f.end_sample is not None else self.samples_in_session()
            log.error("%s was deleted before it was closed: its %s of data are lost; it gets no summary",
                      f.path, hms((end - f.first_sample) / self.info.fs))
            self.eventlog.write("file_deleted", path=f.path)
        if f.deleted:  # (said when it was found; nothing of it is left to summarise)
            f.writer.close()
            _remove_quietly(f.path + MARKER_SUFFIX)
            return
        extra = {"reconnects": f.reconnects, "link_gaps": f.gaps, "source": self.source.spec}
        # times in a file's summary are relative to that file, like its annotations
        fs, n0 = self.info.fs, f.first_sample
        events = [dataclasses.replace(e, onset_s=(e.onset_sample - n0) / fs, offset_s=(e.offset_sample - n0) / fs,
                                      onset_sample=e.onset_sample - n0, offset_sample=e.offset_sample - n0)
                  for e in f.events]
        # the file's episodes from its own twitches (an episode across a rotation is one in each
        # file, as analysing the files gives); the parts not annotated as they closed are now
        own = group_episodes([e for e in f.events if e.kind == "twitch"], self.config.episode_gap_s,
                             self.config.episode_max_s)
        for ep in own:
            if (ep.start_s, ep.end_s, ep.n_twitches) not in f.annotated:
                self._annotate_episode(f, ep)
        f.writer.close()
        episodes = [dataclasses.replace(ep, start_s=self._file_time(f, ep.start_s), end_s=self._file_time(f, ep.end_s))
                    for ep in own]
        summary = summarize(events, episodes, self.pipe, file=f.path, start=f.start, labels=list(self.info.labels),
                            device=self.info.to_dict(), extra_quality=extra,
                            span=(f.tally, f.end_tally) if f.tally is not None else None,
                            span_lost_s=f.gap_samples / self.info.fs)
        end = f.end_sample if f.end_sample is not None else self.samples_in_session()
        st = summary["stats"]
        st["duration_s"] = (end - f.first_sample) / self.info.fs
        st["valid_s"] = (end - f.first_sample - f.gap_samples) / self.info.fs  # (in samples: exact)
        summary["quality"]["gap_s"] = f.gap_samples / self.info.fs
        summary["quality"]["samples"] = end - f.first_sample  # (the pipeline's count is the session's)
        if self.stream_warnings:
            summary["quality"]["warnings"] = self.stream_warnings + summary["quality"].get("warnings", [])
        summary["quality"]["gaps"] = f.gaps
        summary["gaps"] = [{**g, "start_sample": g["start_sample"] - n0, "onset_s": (g["start_sample"] - n0) / fs}
                           for g in summary.get("gaps", []) if f.first_sample <= g["start_sample"] < end]
        # (the file's part of each: a rotation may fall inside one)
        spans = [(max(u["start_sample"], n0), min(u["start_sample"] + u["n_samples"], end))
                 for u in summary.get("unsearched", [])]
        summary["unsearched"] = [span_dict(a - n0, b - n0, fs) for a, b in spans if b > a]
        # (the rates are over the file's own searched seconds, from its tallies: summarize's;
        # a unit's over the seconds searched on any channel, none kept per channel)
        hours = st["searched_s"] / 3600
        for u in summary.get("units", []):
            u["rate_per_hour"] = u["count"] / hours if hours else None
        if not self._replay:  # (a replay's units are the original's, registered when it was)
            from myotwitch.host.unit_registry import register_summary

            register_summary(summary)  # units seen in earlier sessions keep their lasting names
        write_summary(f.path, summary)
        if self._replay:  # dated now, it would be the same data counted again in the history
            log.info("%s replays %s: not added to the session history (the original is, once analysed)",
                     os.path.basename(f.path), self.info.device_id if self.info else "a file")
        else:
            # (before the marker goes: a crash between the two had left the file out of the history
            # for good, with no marker for the next start to find; a crash after indexing and before
            # the marker's removal indexes the unchanged file again, under the same content key)
            _index(summary)
            self.indexed_files = [*self.indexed_files, f.path]  # (swapped whole: read by another thread)
        try:
            os.remove(f.path + MARKER_SUFFIX)
        except FileNotFoundError:
            pass
        self.closed_files.append(f.path)
        log.info("closed %s (%s, %s)", f.path, seconds_text(st["duration_s"]), counted(st["counts"]["twitch"], "twitch", "twitches"))
        self.eventlog.write("file_closed", path=f.path, summary=os.path.basename(summary_path(f.path)))

    def _close_all(self) -> None:
        if self.pipe is not None:
            self._events(self.pipe.flush())
        self._say_back()  # (the link came back but no samples followed before the stop)
        if self.current is not None:
            self._end_current()
        self._close_finished(force=True)

    def _end_current(self) -> int:
        """The current file ends here (a rotation, a long gap, the stop): its last sample and
        quality counts are taken now, and it waits in ``closing`` for its last events. Returns
        the boundary (session samples)."""
        assert self.current is not None
        boundary = self.samples_in_session()
        self.current.writer.end_data()  # (its last samples on disk now, not when it closes)
        self.current.end_sample = boundary
        self.current.end_tally = self.pipe.quality_tally() if self.pipe is not None else None
        self.closing.append(self.current)
        self.current = None
        return boundary

    def _say_back(self) -> None:
        """Write the pending "link connected" note, where the file now is."""
        if self._back_note is not None:
            self._annotate_now(self._back_note)
            self._back_note = None

    # -- status ----------------------------------------------------------------------------
    def _check_disk(self) -> None:
        if self._disk_warned or self.current is None:
            return
        try:
            free = shutil.disk_usage(self.out_dir).free
        except OSError:
            return
        if free < LOW_DISK_WARN_BYTES:
            self._disk_warned = True
            hours = free / max(self.current.writer.record_bytes * 3600, 1)
            log.warning("low disk space in %s: %.0f MB free (about %.1f h of recording left)", self.out_dir,
                        free / 1e6, hours)

    def _maybe_status(self) -> None:
        if time.monotonic() - self._last_status >= self.status_interval_s:
            self._last_status = time.monotonic()
            self._log_status()

    def _no_data(self, quiet_s: float) -> str:
        """What a status line adds while no data comes (a night unplugged): for how long and since
        when, so a line in the journal does not read like the one before it as if all were well."""
        if quiet_s < NO_DATA_SAY_S or self.source.closed:
            return ""
        since = dt.datetime.now() - dt.timedelta(seconds=quiet_s)
        why = "the link is up" if getattr(self.source, "connected", True) else "waiting for the device"
        return f"; no data for {hms(quiet_s)} (since {since:%Y-%m-%d %H:%M:%S}), {why}"

    def _log_status(self) -> None:
        if self.info is None:  # (no data yet: "rate=0Hz ... floor=-uV" said nothing true)
            log.info("status source=%s: no data yet (%s)", self.source.spec,
                     "connected, waiting for the device's information" if getattr(self.source, "connected", True)
                     else "waiting for the device")
            return
        fs = self.info.fs
        t = self.samples / fs
        # per hour searched, as the summaries' rates (no rate before the detector has searched a
        # sample: its start-up's "0/h" was no measure)
        searched = self._searched_earlier + (self.pipe.searched_s if self.pipe is not None else 0.0)
        rate = f"{self.twitches / (searched / 3600):.0f}" if searched > 0 else "-"
        floor = self.pipe.current_floor() if self.pipe is not None else None
        floors = "-" if floor is None else ",".join(f"{v:.1f}" for v in floor)
        quiet = "" if self._last_data is None else self._no_data(time.monotonic() - self._last_data)
        log.info("status source=%s rate=%gHz recorded=%s twitches=%d (%s/h) gaps=%d lost=%.1fs reconnects=%d "
                 "floor=%suV file=%s%s", self.source.spec, fs, hms(t), self.twitches, rate, self.gaps,
                 self.lost_samples / fs, self.reconnects, floors,
                 os.path.basename(self.current.path) if self.current else "-", quiet)
        bar = self.config.max_rest_floor_uv
        over = floors_over(floor if floor is not None else [], self.info.labels, bar)
        busy = [name for _, name, _ in over]
        if busy != self._busy_floor:  # said when it starts (and when it ends), not on every status line
            if busy:
                log.warning("the noise floor is over %g µV RMS on %s: no twitch counts there while it is (%s)",
                            bar, ", ".join(busy), busy_floor_reason([v for _, _, v in over]))
            elif self._busy_floor:
                log.info("the noise floor is back under %g µV RMS: twitches count again", bar)
            self._busy_floor = busy


