"""EDF+/BDF+ writing (streaming, crash-safe) and reading (chunked, with gaps and annotations).

Why our own writer: edfio builds whole files in memory, and pyedflib (EDFlib) settles the
header's record count only when the file is closed, so after a kill -9 the header would not
describe what is on disk. The files are proven with independent readers in the tests
(pyedflib, edfio, MNE).

Writing: one data record per ``record_s`` (1 s). Each record goes to disk in a single
write followed by fsync, and only then is the header's record count updated, so after a
``kill -9`` or power cut the file holds every record but the one being filled; ``repair``
fixes a count that lags or a torn last record. Gaps are kept as documented in PROTOCOL.md:
the file stays EDF+C (continuous), samples inside a gap hold the digital minimum, and a
``gap`` annotation gives its exact onset and duration; ``read`` turns them back into NaN.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from myotwitch.host.channels import distinct_labels, select_channels
from myotwitch.host.errors import FormatError
from myotwitch.host.wording import counted

log = logging.getLogger(__name__)

ANNOT_BYTES = 512  # bytes of annotations per data record (TALs beyond this wait for the next record)
GAP_TEXT = "gap"
MAX_ANNOTATION_CHARS = 200
#: Reading limits: a header or a time stamp must not be able to claim unbounded memory or time.
MAX_GAP_S = 7 * 86400.0  # one hole between EDF+D records
MAX_ANNOTATIONS = 200_000
TIME_TOLERANCE_S = 1e-3
MAX_RECORD_BYTES = 64 << 20
CHUNK_BYTES = 16 << 20  # raw bytes read at a time
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _field(value: object, width: int) -> bytes:
    text = str(value)
    if len(text) > width:
        text = text[:width]
    return text.ljust(width).encode("ascii", "replace")


def _num(value: float, width: int = 8) -> str:
    """Shortest decimal text of ``value`` that fits ``width`` characters (EDF number fields)."""
    for digits in range(10, -1, -1):
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
        if len(text) <= width:
            return text
    raise ValueError(f"{value} does not fit in {width} characters")


def edfplus_text(text: str) -> str:
    """One EDF+ subfield: printable ASCII without spaces; accents are dropped from their letters
    (``Jürgen`` -> ``Jurgen``), anything else becomes ``_``."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return re.sub(r"[^\x20-\x7e]", "_", plain).replace(" ", "_") or "X"


@dataclass
class Annotation:
    onset_s: float
    duration_s: float | None
    text: str

    def tal(self) -> bytes:
        onset = f"{self.onset_s:+.4f}".rstrip("0").rstrip(".")
        dur = "" if self.duration_s is None else "\x15" + f"{self.duration_s:.4f}".rstrip("0").rstrip(".")
        return (onset + dur + "\x14" + self.text.replace("\x14", " ") + "\x14\x00").encode("utf-8")


@dataclass
class Subject:
    """EDF+ patient and recording identification (unknown parts become 'X')."""

    code: str = "X"
    sex: str = "X"
    birthdate: dt.date | None = None
    name: str = "X"
    equipment: str = "myotwitch"
    technician: str = "X"
    recording_code: str = "X"

    def patient_field(self) -> str:
        bd = "X" if self.birthdate is None else f"{self.birthdate.day:02d}-{_MONTHS[self.birthdate.month - 1]}-{self.birthdate.year}"
        sex = self.sex.upper()[:1] if self.sex and self.sex.upper()[:1] in "MF" else "X"
        return " ".join(edfplus_text(p) for p in (self.code, sex, bd, self.name))

    def recording_field(self, start: dt.datetime) -> str:
        date = f"{start.day:02d}-{_MONTHS[start.month - 1]}-{start.year}"
        return "Startdate " + " ".join([date] + [edfplus_text(p) for p in (self.recording_code, self.technician,
                                                                           self.equipment)])


@contextlib.contextmanager
def read_quietly() -> Iterator[None]:
    """Read a file again without saying its warnings again: they were said when it was
    analysed, and are in its summary (a truncated file had been said truncated twice)."""
    quiet, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = quiet


def read_patient(path: str | os.PathLike) -> str | None:
    """The header's patient field alone, None when the file is no EDF/BDF: ``read_header``
    also reads every annotation (a day's EDF+ takes about a second)."""
    with open(path, "rb") as f:
        head = f.read(88)
    if len(head) < 88 or (head[:8] != b"\xffBIOSEMI" and head[:8].strip() != b"0"):
        return None
    return _text(head[8:88])


def subject_of(patient: str) -> str | None:
    """Who a header's patient field names, None when no one: EDF+'s code and name (its
    ``X`` parts are unknown), a plain EDF's whole field (a tool's anonymous 'X' or nothing too)."""
    parts = patient.split()
    if len(parts) == 4 and (parts[1] in ("M", "F", "X")):  # EDF+: code sex birthdate name
        known = [x for x in (parts[0], parts[3]) if x.upper() != "X"]
        return " ".join(known) or None
    text = patient.strip()
    return None if text.upper() in ("", "X", "X X X X") else text


def person_of(path: str | os.PathLike) -> str | None:
    """Whom a file's EDF/BDF header names (``subject_of``); None when no one, when the file is no
    EDF/BDF, or when it cannot be read."""
    try:
        return subject_of(read_patient(path) or "")
    except OSError:
        return None


class EdfWriter:
    """Streaming EDF+C (16-bit) / BDF+C (24-bit) writer.

    ``write(uv)`` appends (channels, n) µV; ``gap(n)`` appends n missing samples;
    ``annotate(onset_s, duration_s, text)`` adds an annotation (any time order)."""

    def __init__(self, path: str | os.PathLike, *, fs: float, labels: list[str] | tuple[str, ...],
                 uv_per_count: float, bits: int = 16, start: dt.datetime | None = None,
                 subject: Subject | None = None, record_s: float = 1.0, prefilter: str = "HP:none LP:none",
                 transducer: str = "Ag/AgCl surface electrodes") -> None:
        if bits not in (16, 24):
            raise ValueError("bits must be 16 (EDF) or 24 (BDF)")
        spr = fs * record_s
        if abs(spr - round(spr)) > 1e-9:
            raise ValueError(f"fs={fs} x record {record_s} s is not a whole number of samples")
        self.path = os.fspath(path)
        self.fs, self.record_s = fs, record_s
        self.spr = int(round(spr))
        from myotwitch.host.stream import safe_labels

        self.labels = list(safe_labels([str(label) for label in labels]))
        self.n_channels = len(self.labels)
        self.bits = bits
        self.width = bits // 8
        self.annot_bytes = (ANNOT_BYTES // self.width) * self.width  # whole samples of the annotation signal
        self.uv_per_count = uv_per_count
        # the lowest digital value is reserved for samples inside gaps (a gap annotation marks
        # them too); data is scaled with the gain and offset readers derive from the header's
        # 8-character physical range, so what they read is what we meant (exact for 16-bit
        # devices with binary-fraction scales such as 0.125 µV/count, within half a step otherwise)
        self.dig_min, self.dig_max = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        # the physical range must fit the header's 8 characters: large scales (the protocol allows
        # up to 10^6 µV per count) are written in mV or V instead of µV
        for unit, per_uv in (("uV", 1.0), ("mV", 1e-3), ("V", 1e-6)):
            try:
                self._pmin = _num(self.dig_min * uv_per_count * per_uv)
                self._pmax = _num(self.dig_max * uv_per_count * per_uv)
            except ValueError:
                continue
            if float(self._pmax) > float(self._pmin):
                self.unit, self._per_uv = unit, per_uv
                break
        else:
            raise ValueError(f"{uv_per_count} µV per count cannot be written as an EDF physical range")
        self.gain = (float(self._pmax) - float(self._pmin)) / (self.dig_max - self.dig_min)
        self.offset = float(self._pmax) - self.gain * self.dig_max
        exact = start or dt.datetime.now()
        self.start = exact.replace(microsecond=0)  # the header's start: whole seconds
        #: where the first sample lies after the header's start (< 1 s): EDF+ says it in the
        #: first record's time-keeping TAL ("+0.52"), and every onset in the file counts from
        #: the header's start, so readers (edflib/pyedflib, MNE) place the data to the microsecond
        # (to 0.1 ms, an annotation onset's 4 decimals; rounded down, so never a whole "+1")
        self.offset_s = (exact - self.start) // dt.timedelta(microseconds=100) / 1e4
        self.subject = subject or Subject()
        self.records = 0
        self.samples_written = 0
        self._pending = np.empty((self.n_channels, 0), dtype=np.int32)
        self._annotations: list[Annotation] = []
        self._last_block: tuple[int, int] | None = None  # (file offset, bytes used) of the last annotation block
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self.closed = False
        header = self._header(prefilter, transducer)
        self.header_bytes = len(header)
        self.record_bytes = self.spr * self.n_channels * self.width + self.annot_bytes
        self.records = 0
        try:
            self._write_whole(header)
            os.fsync(self._fd)
        except OSError:
            os.close(self._fd)
            os.unlink(self.path)  # a file without a whole header is of no use to anyone
            raise

    # -- header ----------------------------------------------------------------------------
    def _header(self, prefilter: str, transducer: str) -> bytes:
        ns = self.n_channels + 1
        bdf = self.bits == 24
        h = bytearray()
        h += (b"\xffBIOSEMI" if bdf else _field("0", 8))
        h += _field(self.subject.patient_field(), 80)
        h += _field(self.subject.recording_field(self.start), 80)
        h += _field(self.start.strftime("%d.%m.%y"), 8) + _field(self.start.strftime("%H.%M.%S"), 8)
        h += _field(256 * (ns + 1), 8)
        h += _field("BDF+C" if bdf else "EDF+C", 44)
        h += _field(-1, 8)  # number of records: updated after every record
        h += _field(_num(self.record_s), 8) + _field(ns, 4)
        annot = "BDF Annotations" if bdf else "EDF Annotations"
        sig: list[tuple[object, ...]] = [
            (lab, transducer, self.unit, self._pmin, self._pmax, self.dig_min, self.dig_max, prefilter, self.spr)
            for lab in self.labels]
        full = 1 << (self.bits - 1)  # the annotation signal must declare the full range (EDF+ spec)
        sig.append((annot, "", "", "-1", "1", -full, full - 1, "", self.annot_bytes // self.width))
        widths = (16, 80, 8, 8, 8, 8, 8, 80, 8)
        for col, width in enumerate(widths):
            for row in sig:
                v = row[col]
                h += _field(_num(v) if isinstance(v, float) else v, width)
        h += b" " * 32 * ns
        return bytes(h)

    # -- data ---------------------------------------------------------------------------
    def to_counts(self, uv: np.ndarray) -> np.ndarray:
        """µV -> digital values, with the gain and offset the header implies."""
        counts = np.rint((np.asarray(uv, dtype=np.float64) * self._per_uv - self.offset) / self.gain)
        return np.clip(counts, self.dig_min + 1, self.dig_max).astype(np.int32)

    def write(self, uv: np.ndarray) -> None:
        uv = np.atleast_2d(uv)
        if uv.shape[0] != self.n_channels:
            raise ValueError(f"{self.path}: got {uv.shape[0]} channels, file has {self.n_channels}")
        counts = self.to_counts(np.nan_to_num(uv, nan=0.0))
        counts[:, np.isnan(uv).any(axis=0)] = self.dig_min
        self._append(counts)

    def gap(self, n: int) -> None:
        """``n`` samples are missing here: filled with the digital minimum and annotated."""
        if n <= 0:
            return
        self.annotate(self.samples_written_total / self.fs, n / self.fs, GAP_TEXT)
        block = self.spr * 10
        while n > 0:
            k = min(n, block)
            self._append(np.full((self.n_channels, k), self.dig_min, dtype=np.int32))
            n -= k

    @property
    def samples_written_total(self) -> int:
        """Samples given so far (written or waiting for their record to fill)."""
        return self.records * self.spr + self._pending.shape[1]

    def annotate(self, onset_s: float, duration_s: float | None, text: str) -> None:
        # one TAL must always fit a record's annotation signal; control characters never reach the file
        clean = re.sub(r"[\x00-\x1f\x7f]", " ", str(text))[:MAX_ANNOTATION_CHARS]
        self._annotations.append(Annotation(self.offset_s + onset_s, duration_s, clean))

    def _append(self, counts: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, counts], axis=1) if self._pending.size else counts
        while self._pending.shape[1] >= self.spr:
            self._write_record(self._pending[:, : self.spr])
            self._pending = self._pending[:, self.spr:]

    def _annotation_block(self, onset: float) -> bytes:
        keep = (f"+{_num(onset, 20)}\x14\x14\x00").encode()
        while self._annotations and len(keep) + len(self._annotations[0].tal()) <= self.annot_bytes:
            keep += self._annotations.pop(0).tal()
        return keep.ljust(self.annot_bytes, b"\x00")

    def _write_record(self, counts: np.ndarray) -> None:
        # (C order: a source's samples come channel-major transposed, and the 24-bit view below
        # needs each sample's 4 bytes side by side)
        data = np.ascontiguousarray(counts, dtype="<i4")
        if self.width == 2:
            raw = data.astype("<i2").tobytes()
        else:
            raw = data.view(np.uint8).reshape(data.shape + (4,))[..., :3].tobytes()
        block = self._annotation_block(self.offset_s + self.records * self.record_s)
        self._write_whole(raw + block)  # one write per record: never torn by kill -9
        os.fsync(self._fd)
        self._last_block = (self.header_bytes + self.records * self.record_bytes + len(raw),
                            len(block.rstrip(b"\x00")) + 1)  # keep the last TAL's closing 0
        self.records += 1
        self.samples_written = self.records * self.spr
        self._set_count(self.records)

    def _write_whole(self, record: bytes) -> None:
        """Write all of ``record`` or nothing: a short write is continued, and a failure
        (disk full) truncates the file back to its last whole record before raising."""
        view = memoryview(record)
        try:
            while view:
                done = os.write(self._fd, view)
                if done <= 0:
                    raise OSError(errno.EIO, "write made no progress")
                view = view[done:]
        except OSError:
            try:
                os.ftruncate(self._fd, self.header_bytes + self.records * self.record_bytes)
            except OSError:
                log.error("%s: could not truncate a torn record", self.path)
            raise

    def _set_count(self, n: int) -> None:
        field_bytes = _field(n, 8)
        if os.pwrite(self._fd, field_bytes, 236) != len(field_bytes):
            raise OSError(errno.EIO, "short write of the header's record count")
        os.fsync(self._fd)

    def _pad(self, n: int) -> None:
        """``n`` samples of 0 µV after the data (other viewers draw a flat line at zero, not a
        step to the digital minimum); an ``end_padding`` annotation says they are not data."""
        if n > 0:
            self._append(np.full((self.n_channels, n), self.to_counts(np.zeros(1))[0], dtype=np.int32))

    def deleted(self) -> bool:
        """Was the file deleted (by name) while being written? What is written to it then is lost
        when it closes."""
        try:
            return os.fstat(self._fd).st_nlink == 0
        except OSError:
            return False

    def end_data(self) -> None:
        """The data ends here (a rotation, a long gap): the record being filled goes to disk now,
        padded with 0 µV that an ``end_padding`` annotation marks, so no sample waits in memory
        while the file waits for its last annotations (a ``kill -9`` meanwhile had lost them).
        Annotations added later go into the last record's free room, or into more padding."""
        partial = self._pending.shape[1]
        if partial:
            pad = self.spr - partial
            # (first in the queue: it goes into the padded record, however many wait)
            self._annotations.insert(0, Annotation(self.offset_s + self.samples_written_total / self.fs,
                                                   pad / self.fs, "end_padding"))
            self._pad(pad)

    def _amend_last_record(self) -> None:
        """Put annotations left at close into the free room of the last record's annotation
        signal, so a recording that ends on a whole record needs no extra record."""
        if not self._annotations or self._last_block is None:
            return
        offset, used = self._last_block
        extra = b""
        while self._annotations and used + len(extra) + len(self._annotations[0].tal()) <= self.annot_bytes:
            extra += self._annotations.pop(0).tal()
        if extra:
            if os.pwrite(self._fd, extra, offset + used) != len(extra):
                raise OSError(errno.EIO, "short write of annotations")
            os.fsync(self._fd)
            self._last_block = (offset, used + len(extra))

    def _records_for(self, annotations: list[Annotation], first_room: int) -> int:
        """Padding records needed to hold ``annotations`` after ``first_room`` bytes of room."""
        room, records = first_room, 0
        overhead = 24  # the time-keeping TAL of each record
        for a in annotations:
            size = len(a.tal())
            while size > room:
                records += 1
                room = self.annot_bytes - overhead
            room -= size
        return records

    def flush_annotations(self) -> None:
        """Write pending annotations now (used at close): into the last record if they fit, else
        into padding of 0 µV that one ``end_padding`` annotation marks as not data."""
        real_end = self.samples_written_total
        partial = (self.spr - self._pending.shape[1]) % self.spr
        if not partial:
            self._amend_last_record()
            if not self._annotations:
                return
        room = (self.annot_bytes - 24) if partial else 0
        marker = Annotation(self.offset_s + real_end / self.fs, 99999.0, "end_padding")  # as long as the real one, or longer
        pad = partial + self._records_for([*self._annotations, marker], room) * self.spr
        # (first in the queue, as in ``end_data``: it goes into the first padded record, so a kill
        # while the later ones are written still leaves the padding marked; it had gone last, and
        # a cut-short padding had read as seconds of 0 µV data)
        self._annotations.insert(0, Annotation(self.offset_s + real_end / self.fs, pad / self.fs, "end_padding"))
        self._pad(pad)
        while self._annotations:  # only if the estimate above fell short
            self.annotate(self.samples_written_total / self.fs, self.record_s, "end_padding")
            self._pad(self.spr)

    def close(self) -> None:
        """Finish the last record (0 µV padding, annotated, only if needed) and the annotations."""
        if self.closed:
            return
        try:
            if self._pending.shape[1] or self._annotations:
                self.flush_annotations()
        finally:
            os.close(self._fd)
            self.closed = True

    def __enter__(self) -> EdfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading ------------------------------------------------------------------------------
@dataclass
class Signal:
    label: str
    unit: str
    phys_min: float
    phys_max: float
    dig_min: int
    dig_max: int
    spr: int
    prefilter: str = ""

    @property
    def gain(self) -> float:
        return (self.phys_max - self.phys_min) / (self.dig_max - self.dig_min)

    @property
    def offset(self) -> float:
        return self.phys_max - self.gain * self.dig_max

    @property
    def is_annotation(self) -> bool:
        return self.label.strip() in ("EDF Annotations", "BDF Annotations")


@dataclass
class EdfFile:
    path: str
    bdf: bool
    plus: str  # "", "EDF+C", "EDF+D", ...
    patient: str
    recording: str
    start: dt.datetime | None  # None: the header's date or time cannot be read
    header_bytes: int
    n_records: int
    record_s: float
    signals: list[Signal]
    annotations: list[Annotation] = field(default_factory=list)  # onsets from the first sample
    record_onsets: np.ndarray | None = None  # from time-keeping TALs (EDF+)
    truncated_bytes: int = 0
    warnings: list[str] = field(default_factory=list)  # what was wrong but could be read around

    def warn(self, text: str) -> None:
        log.warning("%s", text)
        self.warnings.append(text)

    @property
    def width(self) -> int:
        return 3 if self.bdf else 2

    @property
    def data_signals(self) -> list[int]:
        return [i for i, s in enumerate(self.signals) if not s.is_annotation]

    @property
    def record_bytes(self) -> int:
        return sum(s.spr for s in self.signals) * self.width

    @property
    def duration_s(self) -> float:
        """From the first record's start to the last one's end."""
        if self.record_onsets is not None and self.n_records:
            return float(self.record_onsets[-1] - self.first_record_s + self.record_s)
        return self.n_records * self.record_s

    @property
    def first_record_s(self) -> float:
        """The first record's start after the header's (EDF+ time-keeping; 0 for plain EDF): the
        header holds whole seconds, the fraction is here ("+0.52")."""
        if self.record_onsets is not None and len(self.record_onsets) and np.isfinite(self.record_onsets[0]):
            return float(self.record_onsets[0])
        return 0.0

    @property
    def data_start(self) -> dt.datetime | None:
        """When the first sample was taken: the header's start and ``first_record_s``."""
        return None if self.start is None else self.start + dt.timedelta(seconds=self.first_record_s)


#: the date an EDF+ file whose recording field says "Startdate X" (unknown) holds in its header
UNKNOWN_DATE = dt.date(1985, 1, 1)


def _text(b: bytes) -> str:
    return b.decode("latin-1").strip()


def read_header(path: str | os.PathLike, *, allow_truncated: bool = True) -> EdfFile:
    """Parse the header and annotations of an EDF/EDF+/BDF/BDF+ file. Raises FormatError
    (naming the file and the field) when it is not one."""
    path = os.fspath(path)
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            head = f.read(256)
            if len(head) < 256:
                raise FormatError(f"{name}: only {len(head)} bytes; an EDF header needs at least 256")
            bdf = head[:8] == b"\xffBIOSEMI"
            if not bdf and head[:8].strip() != b"0":
                raise FormatError(f"{name}: not an EDF/BDF file (version field is {head[:8]!r}, expected '0')")
            fields = {"header size": (184, 192, int), "number of data records": (236, 244, int),
                      "data record duration": (244, 252, float), "number of signals": (252, 256, int)}
            numbers: dict[str, float] = {}
            for field, (a, b, kind) in fields.items():
                try:
                    numbers[field] = kind(_text(head[a:b]))
                except ValueError as e:
                    raise FormatError(f"{name}: header field '{field}' is {_text(head[a:b])!r}; expected a "
                                      f"{'whole ' if kind is int else ''}number") from e
            header_bytes, n_records = int(numbers["header size"]), int(numbers["number of data records"])
            record_s, ns = numbers["data record duration"], int(numbers["number of signals"])
            if not (np.isfinite(record_s) and 0 < record_s <= 86400):
                raise FormatError(f"{name}: data record duration is {_text(head[244:252])!r} s; expected a "
                                  "positive number of seconds")
            if ns < 1 or header_bytes != 256 * (ns + 1):
                raise FormatError(f"{name}: header says {ns} signals and {header_bytes} header bytes; "
                                  f"expected {256 * (ns + 1)}")
            if ns > 4096:
                raise FormatError(f"{name}: header says {ns} signals; at most 4096 are supported")
            rest = f.read(256 * ns)
            if len(rest) < 256 * ns:
                raise FormatError(f"{name}: truncated inside the signal headers")
            # the size after the header was read: a recorder may be writing the file as we read it
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise FormatError(f"{name}: cannot read ({e.strerror or e})") from e

    def col(offset: int, width: int) -> list[str]:
        base = offset * ns
        return [_text(rest[base + i * width: base + (i + 1) * width]) for i in range(ns)]

    widths = [("label", 16), ("transducer", 80), ("unit", 8), ("pmin", 8), ("pmax", 8), ("dmin", 8),
              ("dmax", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32)]
    cols: dict[str, list[str]] = {}
    offset = 0
    for key, width in widths:
        cols[key] = col(offset, width)
        offset += width
    signals = []
    for i in range(ns):
        try:
            signals.append(Signal(cols["label"][i], cols["unit"][i], float(cols["pmin"][i]), float(cols["pmax"][i]),
                                  int(cols["dmin"][i]), int(cols["dmax"][i]), int(cols["spr"][i]), cols["prefilter"][i]))
        except ValueError as e:
            raise FormatError(f"{name}: signal {i + 1} ({cols['label'][i]!r}) has a non-numeric range or "
                              f"samples-per-record field") from e
        s = signals[-1]
        if not all(np.isfinite([s.phys_min, s.phys_max])) or max(abs(s.phys_min), abs(s.phys_max)) > 1e15:
            raise FormatError(f"{name}: signal {s.label!r} has physical range {cols['pmin'][i]}..{cols['pmax'][i]}; "
                              "expected finite numbers")
        if s.phys_min == s.phys_max and not s.label.endswith("Annotations"):
            raise FormatError(f"{name}: signal {s.label!r} has physical minimum and maximum both {cols['pmin'][i]}; "
                              "expected a range (every sample would read as that one value)")
        if s.dig_max <= s.dig_min or s.spr < 1:
            raise FormatError(f"{name}: signal {s.label!r} has digital range {s.dig_min}..{s.dig_max} and "
                              f"{s.spr} samples per record")
    start: dt.datetime | None
    try:
        start = dt.datetime.strptime(_text(head[168:176]) + " " + _text(head[176:184]), "%d.%m.%y %H.%M.%S")
    except ValueError:  # undated, as a CSV without clock times: a made-up date hid it in the history
        start = None
        log.warning("%s: start date/time %r unreadable (expected dd.mm.yy hh.mm.ss); the session is undated",
                    name, _text(head[168:176]) + " " + _text(head[176:184]))  # (the two fields had run together)
    if start is not None and start.date() == UNKNOWN_DATE and _text(head[88:168]).split()[:2] == ["Startdate", "X"]:
        # EDF+ "Startdate X": the date is unknown, and 01.01.85 (the first date EDF can hold) fills
        # the header, as MNE's and edfio's exports of a recording without a date write it. Read as
        # a date, the session lay in 1985, out of every history and trend plot's reach
        start = None
        log.warning("%s: the header says its start date is unknown ('Startdate X', 01.01.85); the session is undated",
                    name)
    edf = EdfFile(path, bdf, _text(head[192:236])[:5], _text(head[8:88]), _text(head[88:168]), start, header_bytes,
                  n_records, record_s, signals)
    if edf.record_bytes > MAX_RECORD_BYTES:
        raise FormatError(f"{name}: data records of {edf.record_bytes} bytes; at most {MAX_RECORD_BYTES >> 20} MiB "
                          "are supported")
    available = max(0, size - header_bytes) // edf.record_bytes if edf.record_bytes else 0
    torn = max(0, size - header_bytes) % edf.record_bytes if edf.record_bytes else 0
    if n_records < 0 or n_records > available:
        if not allow_truncated:
            raise FormatError(f"{name}: header promises {n_records} data records, file holds {available}")
        if n_records > available:
            edf.warn(f"{name}: header promises {n_records} data records, file holds {available} (truncated?)")
        elif n_records < 0:
            edf.warn(f"{name}: header's record count is {n_records} (recording interrupted?); read the "
                     f"{available} whole records on disk")
        edf.n_records = available
    edf.truncated_bytes = torn
    if torn and n_records != edf.n_records:
        edf.warn(f"{name}: {torn} bytes after the last whole data record ignored (torn record)")
    _read_annotations(edf)
    _check_timeline(edf)
    t0 = edf.first_record_s
    if t0:  # annotations count from the header's start in the file, from the first sample here
        # (to 100 ns, edflib's resolution: "+6.52" less "+0.52" is 6 s, not 5.999999999)
        edf.annotations = [Annotation(round(a.onset_s - t0, 7), a.duration_s, a.text) for a in edf.annotations]
    return edf


def _check_timeline(edf: EdfFile) -> None:
    """Record start times from the time-keeping TALs must agree with the header: in EDF+C
    they are record x duration (a mismatch is read as what the file holds, and said); in EDF+D
    they must increase, with holes no longer than ``MAX_GAP_S``."""
    onsets = edf.record_onsets
    name = os.path.basename(edf.path)
    if onsets is None or not len(onsets):
        return
    first = float(onsets[0])
    most = edf.record_s if "+D" not in edf.plus else MAX_GAP_S
    if math.isfinite(first) and not 0.0 <= first < most:
        # (the start is the header's plus this: a stamp beyond them dated a file in the year 5193)
        edf.warn(f"{name}: the first record is time-stamped {first:+g} s from the header's start, expected 0 to "
                 f"{most:g} s; the recording is taken to start at the header's time")
        onsets = edf.record_onsets = onsets - first
    rel = onsets - onsets[0]
    nominal = np.arange(len(onsets)) * edf.record_s
    if not np.all(np.isfinite(onsets)):
        bad = int(np.argmin(np.isfinite(onsets)))
        edf.warn(f"{name}: record {bad + 1} has no readable start time; records placed one after another")
        edf.record_onsets = nominal + (onsets[0] if np.isfinite(onsets[0]) else 0.0)
        return
    if "+D" not in edf.plus:
        if not np.allclose(rel, nominal, atol=TIME_TOLERANCE_S, rtol=0):
            bad = int(np.argmax(np.abs(rel - nominal) > TIME_TOLERANCE_S))
            edf.warn(f"{name}: continuous ({edf.plus or 'EDF'}) file, but record {bad + 1} is time-stamped "
                     f"{onsets[bad]:+g} s where record x duration gives {onsets[0] + nominal[bad]:+g} s; "
                     "read as the records it holds")
            edf.record_onsets = onsets[0] + nominal
        return
    steps = np.diff(rel)
    if np.any(steps < edf.record_s - TIME_TOLERANCE_S):
        bad = int(np.argmax(steps < edf.record_s - TIME_TOLERANCE_S)) + 1
        raise FormatError(f"{name}: record {bad + 1} starts at {onsets[bad]:+g} s, before the end of record {bad} "
                          f"({onsets[bad - 1] + edf.record_s:+g} s); EDF+D records must be in time order")
    if np.any(steps - edf.record_s > MAX_GAP_S):
        bad = int(np.argmax(steps - edf.record_s > MAX_GAP_S)) + 1
        raise FormatError(f"{name}: a hole of {steps[bad - 1] - edf.record_s:.0f} s before record {bad + 1}; "
                          f"more than {MAX_GAP_S / 86400:g} days between records is not believed")


def _timekeeping_only(mm: np.ndarray, spans: list[tuple[int, int]], chunk: int = 8192) -> dict[int, str]:
    """The records whose annotation signals hold nothing but the time-keeping TAL, without text
    or duration (every record our recorder writes, but for the few that annotate): record ->
    its onset's text. Found a few thousand records at a time (a day is 86,400 of them, read
    TAL by TAL in ~1 s); the rest are parsed TAL by TAL."""
    found: dict[int, str] = {}
    (a0, b0), others = spans[0], spans[1:]
    for r0 in range(0, len(mm), chunk):
        part = mm[r0:r0 + chunk]
        rows = np.ascontiguousarray(part[:, a0:b0])
        empty = np.ones(len(part), bool)
        for a, b in others:
            empty &= ~np.any(part[:, a:b], axis=1)
        # (an 'S' view drops each row's trailing NUL bytes, which end the TAL)
        for r, row in enumerate(rows.view(f"S{rows.shape[1]}").ravel().tolist(), start=r0):
            if (len(row) > 2 and row.endswith(b"\x14\x14") and row.count(b"\x14") == 2 and b"\x00" not in row
                    and b"\x15" not in row and empty[r - r0]):
                found[r] = row[:-2].decode("latin-1")
    return found


def _read_annotations(edf: EdfFile) -> None:
    ann_idx = [i for i, s in enumerate(edf.signals) if s.is_annotation]
    if not ann_idx or edf.n_records == 0:
        return
    offsets = np.cumsum([0] + [s.spr * edf.width for s in edf.signals])
    onsets = np.empty(edf.n_records)
    mm = np.memmap(edf.path, dtype=np.uint8, mode="r", offset=edf.header_bytes,
                   shape=(edf.n_records, edf.record_bytes))
    bad, capped = 0, False
    simple = _timekeeping_only(mm, [(offsets[i], offsets[i + 1]) for i in ann_idx])
    for r, stamp in simple.items():
        try:
            onset = float(stamp)
        except ValueError:
            bad += 1
            onsets[r] = r * edf.record_s
            continue
        finite = math.isfinite(onset)
        onsets[r] = onset if finite else np.nan
        bad += not finite
    for r in range(edf.n_records) if len(simple) < edf.n_records else ():
        if r in simple:
            continue
        first = True
        for i in ann_idx:
            raw = bytes(mm[r, offsets[i]: offsets[i + 1]])
            for tal in raw.split(b"\x00"):
                if not tal:
                    continue
                parts = tal.split(b"\x14")
                head = parts[0].decode("latin-1")
                onset_txt, _, dur_txt = head.partition("\x15")
                try:
                    onset = float(onset_txt)
                    dur = float(dur_txt) if dur_txt else None
                except ValueError:
                    bad += 1
                    continue
                texts = [p.decode("utf-8", "replace") for p in parts[1:] if p]
                if first and i == ann_idx[0]:  # the record's time-keeping TAL (it may carry text too)
                    onsets[r] = onset if np.isfinite(onset) else np.nan
                    first = False
                if not np.isfinite(onset) or (dur is not None and not (np.isfinite(dur) and dur >= 0)):
                    bad += 1
                    continue
                for t in texts:
                    if len(edf.annotations) >= MAX_ANNOTATIONS:
                        capped = True
                        break
                    edf.annotations.append(Annotation(onset, dur, t))
        if first:
            onsets[r] = r * edf.record_s
    del mm
    edf.record_onsets = onsets
    name = os.path.basename(edf.path)
    if bad:
        edf.warn(f"{name}: {counted(bad, 'annotation')} with an unreadable, infinite or negative time ignored")
    if capped:
        edf.warn(f"{name}: more than {MAX_ANNOTATIONS} annotations; the rest ignored")


def bad_spans(annotations: list[Annotation], end_s: float) -> list[tuple[float, float, str]]:
    """(onset s, duration s, text) of the stretches a file marks bad: annotations with a duration
    whose text starts with 'BAD' in any case (MNE's convention, 'BAD_muscle', 'bad_acq_skip',
    which its own analyses leave out), within the data."""
    out = []
    for a in annotations:
        if a.text[:3].upper() == "BAD" and a.duration_s and a.onset_s < end_s and a.onset_s + a.duration_s > 0:
            on = max(a.onset_s, 0.0)
            out.append((on, min(a.onset_s + a.duration_s, end_s) - on, a.text))
    return out


#: physical dimensions of EMG signals (lower case, µ as u); an empty one is taken for one too
VOLTAGE_UNITS = {"uv", "mv", "v", "nv", ""}


def _unit_key(unit: str) -> str:
    """A physical dimension in lower case with µ as u, also a µ written in UTF-8 (two bytes,
    read one by one as 'Âµ'): some writers put one in a header meant for ASCII."""
    return unit.strip().lower().replace("âµ", "u").replace("µ", "u")


def _is_voltage(unit: str) -> bool:
    return _unit_key(unit) in VOLTAGE_UNITS


class EdfReader:
    """Chunked reading of the data signals as µV float32 with NaN where data is missing
    (our gap annotations, or holes between EDF+D records)."""

    def __init__(self, path: str | os.PathLike, wanted: list[str] | None = None, keep_bad: bool = False) -> None:
        """``wanted``: the channels to read (``--channels``: labels or 0-based indices), chosen
        before the sample rates are compared, so a file whose signals differ in rate (EMG at
        1 kHz beside an accelerometer at 50 Hz) is read by choosing the channels of one rate.
        The stretches the file marks bad (``bad_spans``) read as lost data unless ``keep_bad``."""
        self.edf = read_header(path)
        e = self.edf
        sig = e.data_signals
        name = os.path.basename(e.path)
        if not sig:
            raise FormatError(f"{name}: no data signals (only annotations)")
        # each channel's name: its label, made distinct where labels repeat ('EMG calf #2'), over
        # all the data signals, so a channel has one name whichever are chosen
        names = dict(zip(sig, distinct_labels([e.signals[i].label for i in sig])))
        if wanted:
            sig = [sig[k] for k in select_channels([e.signals[i].label for i in sig], wanted, name,
                                                   [names[i] for i in sig])]
        else:
            # a signal in another unit than a voltage (a BioSemi 'Status' in Boolean, an
            # accelerometer in g, a temperature) is no EMG: it was read as µV, its steps and
            # range counted as artefacts and clipping. Left out unless chosen with --channels.
            volts = [i for i in sig if _is_voltage(e.signals[i].unit)]
            if volts and len(volts) < len(sig):
                others = [i for i in sig if i not in volts]
                e.warn(f"{name}: left out {', '.join(repr(e.signals[i].label) for i in others)} (unit "
                       f"{', '.join(repr(e.signals[i].unit) for i in others)}, not a voltage: no EMG); "
                       "--channels chooses them")
                sig = volts
        # what is analysed in another unit (every signal in one, a raw ADC export in 'counts',
        # or one chosen with --channels) is read as µV: said, since its sizes, floor and rate
        # are then in the file's own unit (a file of 'counts' had been analysed without a word)
        others = [i for i in sig if not _is_voltage(e.signals[i].unit)]
        if others:
            e.warn(f"{name}: {', '.join(repr(e.signals[i].label) for i in others)} in "
                   f"{', '.join(repr(e.signals[i].unit) for i in others)}, not a voltage: read as µV, so the sizes "
                   "and noise floor given in µV are in that unit")
        sprs = {e.signals[i].spr for i in sig}
        if len(sprs) != 1:
            groups = sorted(sprs, reverse=True)
            said = "; ".join(f"{', '.join(e.signals[i].label for i in sig if e.signals[i].spr == spr)}: "
                             f"{spr / e.record_s:g} Hz" for spr in groups)
            fastest = ",".join(e.signals[i].label for i in sig if e.signals[i].spr == groups[0])
            raise FormatError(f"{name}: signals have different sample rates ({said}); choose channels of one "
                              f"rate, e.g. --channels '{fastest}'")
        self.spr = sprs.pop()
        self.fs = self.spr / e.record_s
        self.channels = sig
        self.labels = [names[i] for i in sig]
        self._raw_labels = [e.signals[i].label for i in sig]
        self.units = [e.signals[i].unit for i in sig]
        self._layout = np.cumsum([0] + [s.spr * e.width for s in e.signals])
        # timeline: record r starts at sample round(onset * fs)
        onsets = e.record_onsets if e.record_onsets is not None else np.arange(e.n_records) * e.record_s
        # sample 0 is the first record's start; annotations count from the header's start
        self.record_start = np.rint((onsets - e.first_record_s) * self.fs).astype(np.int64)
        self.n_samples = int(self.record_start[-1] + self.spr) if e.n_records else 0
        end_s = self.n_samples / self.fs
        self.gaps = [(a.onset_s, min(a.duration_s or 0.0, end_s)) for a in e.annotations
                     if a.text == GAP_TEXT and 0 <= a.onset_s <= end_s]
        # our recorder pads the last record and says so: the data ends where the padding starts
        # (or beyond the end: a recorder killed while it wrote the padding left it shorter than said)
        for a in sorted((a for a in e.annotations if a.text == "end_padding"), key=lambda a: -a.onset_s):
            end = self.n_samples / self.fs
            if a.duration_s and a.onset_s < end and a.onset_s + a.duration_s > end - 1e-3:
                self.n_samples = max(int(round(a.onset_s * self.fs)), 0)
        bad = bad_spans(e.annotations, self.n_samples / self.fs)
        if bad and not keep_bad:
            self.gaps += [(on, d) for on, d, _ in bad]
            kinds = sorted({text for _, _, text in bad})
            e.warn(f"{name}: left out {counted(len(bad), 'stretch', 'stretches')} ({sum(d for _, d, _ in bad):.1f} s) "
                   f"the file marks bad ({', '.join(repr(k) for k in kinds[:4])}{', ...' if len(kinds) > 4 else ''}), "
                   "as lost data; --keep-bad analyses them")

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def warnings(self) -> list[str]:
        """What was wrong with the file but could be read around (for quality.warnings)."""
        return self.edf.warnings

    def select(self, wanted: list[str] | None) -> None:
        """Keep only the channels named (label, case-insensitive) or indexed (0-based) in ``wanted``."""
        keep = select_channels(self._raw_labels, wanted, os.path.basename(self.edf.path), self.labels)
        self.channels = [self.channels[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]
        self._raw_labels = [self._raw_labels[i] for i in keep]
        self.units = [self.units[i] for i in keep]

    @property
    def clip_uv(self) -> float | None:
        """|µV| at which the recording's input range ends (ADC clipping), from the header; None
        (flat tops tell clipping) when a range is not symmetric about 0 or the channels' ranges
        differ: then they are the data's own extremes, as some writers set them (MNE's export,
        pyedflib's default), not an amplifier's range. The nearer end had made each larger
        twitch beyond it "clipping", and the quietest channel's range every larger twitch of
        the others."""
        gains, offsets = self._scale()
        levels = []
        for k, i in enumerate(self.channels):
            s = self.edf.signals[i]
            lo = (s.dig_min + 1) * gains[k, 0] + offsets[k, 0]
            hi = s.dig_max * gains[k, 0] + offsets[k, 0]
            if not (lo < 0 < hi) or max(-lo, hi) > 1.01 * min(-lo, hi):
                return None
            levels.append(min(-lo, hi))
        if not levels or max(levels) > 1.01 * min(levels):
            return None
        return 0.999 * min(levels)

    def _scale(self) -> tuple[np.ndarray, np.ndarray]:
        gains, offsets = [], []
        for i in self.channels:
            s = self.edf.signals[i]
            unit = _unit_key(s.unit)
            k = {"uv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}.get(unit, 1.0)
            gains.append(s.gain * k)
            offsets.append(s.offset * k)
        return np.array(gains)[:, None], np.array(offsets)[:, None]

    def iter_records(self, records_per_chunk: int = 60) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_sample, uv)`` chunks; uv is float32 (channels, n) with NaN in gaps."""
        e = self.edf
        records_per_chunk = max(1, min(records_per_chunk, CHUNK_BYTES // max(e.record_bytes, 1)))
        dtype = np.dtype("<i2") if e.width == 2 else np.uint8
        gains, offsets = self._scale()
        gap_ranges = [(int(round(on * self.fs)), int(round((on + d) * self.fs))) for on, d in self.gaps]
        mm = np.memmap(e.path, dtype=np.uint8, mode="r", offset=e.header_bytes, shape=(e.n_records, e.record_bytes))
        try:
            for r0 in range(0, e.n_records, records_per_chunk):
                r1 = min(e.n_records, r0 + records_per_chunk)
                block = np.asarray(mm[r0:r1])
                out = np.empty((len(self.channels), (r1 - r0) * self.spr), dtype=np.float32)
                for k, i in enumerate(self.channels):
                    raw = block[:, self._layout[i]: self._layout[i + 1]]
                    if e.width == 2:
                        counts = raw.copy().view(dtype).reshape(-1).astype(np.float64)
                    else:
                        b = raw.reshape(-1, 3).astype(np.int32)
                        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
                        counts = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64)
                    out[k] = counts * gains[k, 0] + offsets[k, 0]
                starts = self.record_start[r0:r1]
                # EDF+D: each run of back-to-back records is yielded on its own; a hole between
                # runs shows as a jump in first_sample (memory stays one chunk, whatever the hole)
                breaks = [0, *(np.nonzero(np.diff(starts) != self.spr)[0] + 1).tolist(), len(starts)]
                for run_start, run_end in zip(breaks[:-1], breaks[1:]):
                    first = int(starts[run_start])
                    part = out[:, run_start * self.spr: run_end * self.spr]
                    for g0, g1 in gap_ranges:
                        lo, hi = max(g0 - first, 0), min(g1 - first, part.shape[1])
                        if lo < hi:
                            part[:, lo:hi] = np.nan
                    if first + part.shape[1] > self.n_samples:
                        part = part[:, : max(self.n_samples - first, 0)]
                    if part.shape[1]:
                        yield first, part
        finally:
            del mm

    def read_all(self) -> tuple[np.ndarray, float]:
        """Whole recording as (channels, n) µV with NaN in gaps, and fs. For short files/tests."""
        out = np.full((len(self.channels), self.n_samples), np.nan, dtype=np.float32)
        for first, x in self.iter_records():
            out[:, first: first + x.shape[1]] = x
        return out, self.fs


def header_never_written(path: str | os.PathLike) -> bool:
    """Did the writer end (a crash, a power cut) before the file's header was on disk? The file is
    shorter than its header, or its header is zeros (a filesystem's unwritten blocks): it never
    held a sample, and ``repair`` has nothing to mend. The recorder's recovery removes such a file,
    which it had said unrecoverable and left in the folder, for every ``analyze`` of it to fail on."""
    with open(path, "rb") as fh:
        head = fh.read(256)
        size = os.fstat(fh.fileno()).st_size
        if len(head) < 256:
            return True
        if not any(head):  # (all zeros, however long: nothing of it was written)
            return not any(any(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
    try:
        return size < int(head[184:192].decode("latin-1").strip())
    except ValueError:
        return False


def repair(path: str | os.PathLike) -> tuple[int, int]:
    """Make an interrupted recording consistent: drop a torn last record and set the header's
    record count to what is on disk. Returns (records in header before, records after).
    Never deletes a complete record."""
    path = os.fspath(path)
    edf = read_header(path)
    with open(path, "rb") as f:
        f.seek(236)
        try:
            before = int(_text(f.read(8)) or -1)
        except ValueError:
            before = -1
    size = os.path.getsize(path)
    available = max(0, size - edf.header_bytes) // edf.record_bytes if edf.record_bytes else 0
    if before <= available:
        # the count lags what is on disk when the process or the power went between a record's
        # fsync and the count's: the records after it that carry their own time stamp are whole
        # (a tail the filesystem left zero-filled carries none, and is cut off)
        edf.n_records = _stamped_records(path, edf, max(before, 0), available)
    good = edf.header_bytes + edf.n_records * edf.record_bytes
    with open(path, "r+b") as f:
        if size > good:
            f.truncate(good)
        f.seek(236)
        f.write(_field(edf.n_records, 8))
        f.flush()
        os.fsync(f.fileno())
    return before, edf.n_records


def _stamped_records(path: str, edf: EdfFile, trusted: int, available: int) -> int:
    """How many of the ``available`` records on disk to keep: the first ``trusted`` (the header
    counts them) and each one after that whose time-keeping TAL (the first in the annotation
    signal) is the record's own start, as our writer puts it in the record's single write."""
    ann = [i for i, s in enumerate(edf.signals) if s.is_annotation]
    if not ann or trusted >= available:
        return trusted
    start = sum(s.spr for s in edf.signals[: ann[0]]) * edf.width
    size = edf.signals[ann[0]].spr * edf.width

    def onset(f: BinaryIO, r: int) -> float | None:
        f.seek(edf.header_bytes + r * edf.record_bytes + start)
        block = f.read(size)
        # the record's last bytes: whole TALs ("+onset[\x15duration]\x14text\x14\x00") then zeros;
        # a record cut in them and zero-filled (a power cut) ends in a TAL without its end
        tals = block.rstrip(b"\x00").split(b"\x00")
        if not all(t[:1] in (b"+", b"-") and t.endswith(b"\x14") for t in tals):
            return None
        head, sep, rest = tals[0].partition(b"\x14")
        if not sep or rest != b"\x14":
            return None
        try:
            t = float(head.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
        return t if math.isfinite(t) else None

    with open(path, "rb") as f:
        first = onset(f, 0)
        if first is None or not 0 <= first < edf.record_s:
            return trusted
        n = trusted
        while n < available:
            t = onset(f, n)
            if t is None or abs(t - (first + n * edf.record_s)) > TIME_TOLERANCE_S:
                break
            n += 1
    return n
