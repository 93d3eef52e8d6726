"""CSV recordings: a time column (seconds) and one column per channel.

Units come from the header (``gastroc_uV``, ``soleus [mV]``, ``ch1 (V)``) or ``--units``
(``uV``, ``mV``, ``V`` or ``counts:UV_PER_COUNT[:OFFSET]``). Read in chunks, so long files
stay within bounded memory; the sample rate comes from the time column unless given."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import re
from collections.abc import Generator, Iterator

import numpy as np

from myotwitch.host.channels import distinct_labels, select_channels
from myotwitch.host.errors import FormatError
from myotwitch.host.protocol import MAX_UV_PER_COUNT

CHUNK_ROWS = 200_000
MAX_LINE = 64 * 1024  # characters; a recording's line is a few dozen
CHUNK_CHARS = 16 << 20  # characters of text parsed at a time
MAX_CHANNELS = 256
GAP_INTERVALS = 2.5  # a time step above this many sample intervals is a gap
MAX_GAP_S = 7 * 86400.0
#: s; a step in clock times under this is no move of the clocks (the least, as daylight saving time
#: begins or ends, is Lord Howe Island's 30 min; elsewhere an hour)
CLOCK_SHIFT_MIN_S = 1500.0
#: a line before the header that starts so is a comment (a preamble of lab software's)
COMMENT = ("#", "%")
_UNIT_RE = re.compile(r"(?:[_\s\[(])(uv|µv|mv|v|counts)\]?\)?$", re.I)
_SCALE = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6}
#: the time column's unit, from its name (``time_ms``, ``Time (ms)``, ``t [s]``); seconds unless it says
_TIME_UNIT_RE = re.compile(r"(?:^|[_\s\[(])(s|sec|secs|seconds|ms|msec|millis|milliseconds|us|µs|usec|microseconds)\]?\)?$",
                           re.I)
_TIME_UNIT = {"ms": "ms", "msec": "ms", "millis": "ms", "milliseconds": "ms", "us": "µs", "µs": "µs", "usec": "µs",
              "microseconds": "µs"}
_SECONDS_PER = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}


def parse_units(spec: str | None) -> tuple[float, float] | None:
    """'mV' -> (1000, 0); 'counts:0.125:-2048' -> (0.125, -2048 counts offset in µV terms)."""
    if spec is None:
        return None
    s = spec.strip().lower()
    if s in _SCALE:
        return _SCALE[s], 0.0
    if s.startswith("counts:"):
        parts = s.split(":")
        try:
            if len(parts) > 3:
                raise ValueError("too many parts")
            k = float(parts[1])
            off = float(parts[2]) if len(parts) > 2 else 0.0
        except (IndexError, ValueError) as e:
            raise FormatError(f"--units {spec}: expected counts:UV_PER_COUNT[:OFFSET_COUNTS]") from e
        # (counts:0 had read every channel as all zeros, "electrode not connected?", and nan as a
        # file without data; the scale is bounded as a device's INFO is)
        if not 0 < k < MAX_UV_PER_COUNT or not math.isfinite(off):
            raise FormatError(f"--units {spec}: expected a scale above 0 and under {MAX_UV_PER_COUNT:g} µV per "
                              "count and a finite offset (counts:UV_PER_COUNT[:OFFSET_COUNTS], e.g. counts:0.125)")
        return k, -off * k
    raise FormatError(f"--units {spec}: expected uV, mV, V or counts:UV_PER_COUNT[:OFFSET]")


class CsvReader:
    """Reads a CSV recording in chunks. Memory is bounded by ``CHUNK_ROWS`` x ``MAX_LINE``,
    whatever the file holds: a line longer than ``MAX_LINE`` is an error, not a buffer.

    The sample rate is the mean interval over gap-free rows; where the stamps jitter or are
    rounded to a coarse step, the slope of a line through the longest gap-free run's stamps
    (whose errors cancel, where the mean interval's rest on the run's two ends); a jump in the time column is a gap, a time that goes back
    or is not a number is an error naming the line (clock times without a UTC offset that follow the
    clocks back or forward a sample on, as daylight saving time ends or begins, are read on: ``_follow_clock``)."""

    def __init__(self, path: str | os.PathLike, units: str | None = None, fs: float | None = None) -> None:
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self.warnings: list[str] = []
        self._start_twice: str | None = None  # (the warning that the first time came twice, if it did)
        self._said_huge = False  # (values beyond float32: said once)
        self._said_partial = False  # (a row missing some channels only: said once)
        lines = self._lines()
        try:
            self._header_line, header = next(lines)
            # a preamble of comment lines ('# exported by ...', '% subject S01') or blank ones
            # before the header, as lab software writes it: the header is the first other line
            comment: tuple[int, str] | None = None
            while header.lstrip("\ufeff \t").startswith(COMMENT) or not header.strip():
                if header.strip():
                    comment = (self._header_line, header)
                self._header_line, header = next(lines)
            first = [(self._header_line, header)]
            if comment is not None and _all_numbers(header):
                # numpy's savetxt writes its header as a comment ('# time_s,calf_uV'): the last
                # comment line is the header when numbers follow it
                (self._header_line, header), first = (comment[0], comment[1].lstrip(" \t#%")), first
            else:
                first = []
            sample_lines = first + list(itertools.islice(lines, 2000 - len(first)))
        except StopIteration:
            raise FormatError(f"{self.name}: is empty; expected a header like 'time_s,gastroc_uV'") from None
        finally:
            lines.close()
        self.delimiter = ";" if header.count(";") > header.count(",") else ("\t" if "\t" in header else ",")
        cols = [c.strip().strip('"') for c in header.strip().split(self.delimiter)]
        while len(cols) > 2 and cols[-1] == "":  # a trailing separator is not an empty channel
            cols.pop()
        if len(cols) < 2 or not all(cols[1:]):
            # (one column: the file is split by something else, a space or a '|', which had been
            # left for the user to guess)
            split = " (columns separated by ',', ';' or a tab)" if len(cols) < 2 else ""
            raise FormatError(f"{self.name}: needs a time column and at least one channel column{split}; header is "
                              f"{_quote(header.strip())}")
        try:
            [float(c) for c in cols]
            raise FormatError(f"{self.name}: first line is numbers; expected a header like 'time_s,gastroc_uV'")
        except ValueError:
            pass
        if cols[0].lower() == "sample index" and any(c.lower().startswith("exg channel") for c in cols):
            # (its first column counts packets, 0-255 over and over: read as seconds it gave "sample
            # rate 9.657 Hz is below 250 Hz", which did not say what the file was or what to do)
            raise FormatError(f"{self.name}: an OpenBCI GUI recording (its first column is the packet's sample "
                              "index, not a time), which is not read here: save the session as BDF+ in the "
                              "OpenBCI GUI and analyse that, or record the board with --source "
                              "'brainflow:cyton?serial_port=PORT'")
        if _UNIT_RE.search(cols[0].lower()):
            raise FormatError(f"{self.name}: the first column is {cols[0]!r}, a channel by the unit in its name; the "
                              "first column must be the time in seconds (e.g. 'time_s')")
        #: the time column's name, as the header gives it (errors name it so)
        self.time_label = cols[0]
        unit = _TIME_UNIT_RE.search(cols[0])
        #: the time column's unit as its name gives it ("s", "ms" or "µs"), and its factor to seconds
        self.time_unit = _TIME_UNIT.get(unit.group(1).lower(), "s") if unit else "s"
        self._t_scale = _SECONDS_PER[self.time_unit]
        if len(cols) - 1 > MAX_CHANNELS:
            raise FormatError(f"{self.name}: header has {len(cols) - 1} channel columns; at most {MAX_CHANNELS} "
                              "are supported")
        self.all_labels = cols[1:]
        forced = parse_units(units)
        self._scale = []
        contradicted = []
        for c in self.all_labels:
            m = _UNIT_RE.search(c.lower())
            if forced is not None:
                self._scale.append(forced)
                if m and m.group(1).lower() in _SCALE and (_SCALE[m.group(1).lower()], 0.0) != forced:
                    contradicted.append(c)
            elif m and m.group(1).lower() in _SCALE:
                self._scale.append((_SCALE[m.group(1).lower()], 0.0))
            else:
                self._scale.append((1.0, 0.0))  # assume µV; check_units warns if implausible
        if contradicted:  # (a batch's --units meant for the files whose columns name no unit)
            self.warnings.append(f"{self.name}: column {', '.join(repr(c) for c in contradicted)} names another unit "
                                 f"than --units {units}; read in {units} as --units says (leave --units out to "
                                 "read each column in the unit its name gives)")
        self._raw_labels = [_UNIT_RE.sub("", c).strip() or c for c in self.all_labels]  # ("soleus [mV]": "soleus")
        # (made distinct where they repeat, 'calf' and 'calf #2': calf_uV beside calf [mV])
        self.labels = distinct_labels(self._raw_labels)
        self._names = list(self.labels)  # (every column's channel name, whatever --channels keeps)
        self.channels = list(range(len(self.all_labels)))
        numbered = [(no, line) for no, line in sample_lines if line.strip()]
        rows = [line for _, line in numbered]
        #: numbers written with a decimal comma ('0,125' in a ';' or tab separated file, as
        #: spreadsheets in much of Europe export them): read as '0.125'
        self.decimal_comma = self.delimiter != "," and _decimal_comma(rows[:50], self.delimiter)
        if self.decimal_comma:
            rows = [line.replace(",", ".") for line in rows]
        if cols[0] == "" and len(cols) > 2 and _row_numbers(rows[:50], self.delimiter):
            # (pandas' to_csv writes its row index first, unnamed, unless index=False: read as the
            # time it gave "sample rate 1 Hz (from the time column '')", naming no cause. An unnamed
            # first column of times, or pandas' unnamed DatetimeIndex, is the time column)
            raise FormatError(f"{self.name}: the first column has no name and counts the rows 0, 1, 2, ...: a row "
                              f"index (pandas' to_csv writes one unless index=False), not the time, which must come "
                              f"first; header is {_quote(header.strip())}: save it again with index=False, or remove "
                              "that column")
        #: the first row's time when the column holds ISO 8601 times ('2026-11-01T22:00:00.125', as
        #: pandas, spreadsheets and databases export clock time): times are then counted from it
        self._iso_origin = _iso_time(rows[0].split(self.delimiter)[0]) if rows else None
        if self._iso_origin is not None:
            self.time_unit, self._t_scale = "s", 1.0
        #: the first row's instant, where its clock time has no UTC offset (read on this computer's
        #: clock, the earlier where it came twice): the clocks' own jumps are followed from it
        self._naive_origin = (self._iso_origin.replace(fold=0).astimezone()
                              if self._iso_origin is not None and self._iso_origin.tzinfo is None else None)
        t = []
        for (no, _), line in zip(numbered, rows):
            t.append(self._time(line.split(self.delimiter)[0], no))
        if fs is None:
            sample = np.asarray(t)
            step = float(np.median(np.diff(sample))) if len(sample) > 1 else 0.0
            if step > 0:  # (a night's file whose first rows hold the hour the clocks went back)
                self._follow_clock(sample, 0.0, None, -step, GAP_INTERVALS * step, numbered)
            fs = self._rate(sample)
        self.fs = float(fs)
        self.t0 = t[0] if t else 0.0
        # a time column in Unix seconds (2001-2096) dates the recording; relative time does not.
        # (with this computer's UTC offset: a Unix time is an instant, and without its offset the
        # start read 07:00 on a computer in UTC and 02:00 in New York, from the same file)
        self.start = dt.datetime.fromtimestamp(self.t0).astimezone() if 1e9 <= self.t0 < 4e9 else None
        if self._iso_origin is not None:  # (the recording's clock as written: with its offset when it has one)
            self.start = self._iso_origin
            if self._iso_origin.tzinfo is None:
                self._say_start_not_once(self._iso_origin)
        elif self.start is None and abs(self.t0) > max(2.0 / self.fs, 0.01):  # (an excerpt cut from a longer one)
            raw = f"{self.t0 / self._t_scale:g}"
            self.warnings.append(f"{self.name}: times count from its first row, where the time column "
                                 f"('{self.time_label}') reads {raw} {self.time_unit} (add {raw} to read them on that "
                                 "column)")
        self._n_rows = sum(1 for no, line in self._lines() if no > self._header_line and line.strip())
        self.n_samples = self._n_rows

    def _say_start_not_once(self, start: dt.datetime) -> None:
        """A warning when the first row's time, without a UTC offset, is not one instant on this
        computer's clock: in the hour the clocks went back it came twice, in the hour they went
        forward never. The file is still read and dated as written (the history places it so,
        the earlier of the two where it came twice); it had been so without a word, an hour off
        the other reading (as ``log --at`` refuses such a time, a file's data is not thrown away)."""
        from myotwitch.host.wording import not_once_on_local_clock

        offsets = not_once_on_local_clock(start)
        if offsets is None:
            return
        written = start.isoformat(sep=" ", timespec="seconds")
        if offsets:
            self._start_twice = (
                f"{self.name}: its first time, {written}, has no UTC offset and came twice on this computer's clock "
                f"(at {offsets[0]}, then at {offsets[1]} after the clocks went back); dated the earlier ({offsets[0]}): "
                f"if it was the later, write the offset in the file ({start:%Y-%m-%dT%H:%M:%S}{offsets[1]}) or "
                "times in UTC (Z)")
            self.warnings.append(self._start_twice)
        else:
            self.warnings.append(
                f"{self.name}: its first time, {written}, has no UTC offset and never came on this computer's clock "
                "(the clocks went forward past it); dated as written: write the offset the recording's clock had in "
                "the file (e.g. +01:00) or times in UTC (Z)")

    def _follow_clock(self, t: np.ndarray, shift: float, prev: float | None, lo: float, hi: float,
                      rows: list[tuple[int, str]], say: bool = False) -> float:
        """Clock times without a UTC offset as the seconds that passed, on this computer's clock.
        ``t`` holds ``rows``' as written, from the first row's (``_iso_seconds``), and gets the seconds
        the clocks moved since that row (``shift``) added, in place; ``prev`` is the row before's.
        Where they go back by the clocks' own shift as daylight saving time ends (02:59:59.99, then
        02:00:00.00, the hour's second pass) or jump forward by it as it begins (01:59:59.99, then
        03:00:00.00, the hour that never came), and the two instants are a sample apart (``lo`` to
        ``hi`` s: the earlier read at the clock's reading before, the later at the other), the rows
        from there on are read so, and the file's warnings say it (``say``); the shift then
        returned carries to the next chunk. Read as written, such a night's file had been refused
        whole ("time goes back by 3600 s"), and the spring night's read with an hour's gap that
        was none. A stop in the data over the change (times that go back as written yet forward at
        the clock's new reading, or jump to a time the clock showed once) is read at the new
        reading too: a gap as long as the time that passed. Any other step back stays an error,
        any other jump a gap as written (``iter_records``)."""
        origin, written_origin = self._naive_origin, self._iso_origin
        if origin is None or written_origin is None or not len(t):
            return shift
        offset = origin.utcoffset() or dt.timedelta(0)
        t += shift
        steps = np.diff(t, prepend=t[0] if prev is None else prev)
        # (no zone moves its clocks by under half an hour: no other step needs a look)
        for j in np.flatnonzero(((steps < lo) | (steps > hi)) & (np.abs(steps) > CLOCK_SHIFT_MIN_S)).tolist():
            before = float(t[j - 1]) if j or prev is None else prev  # (a first row's step is 0 without prev)
            written = written_origin + dt.timedelta(seconds=float(t[j]) - shift)
            gap: tuple[dt.datetime, float] | None = None
            readings = [written.replace(fold=fold).astimezone() for fold in (0, 1)]
            # (a time the clock showed once: its offset is certain, so a jump over the change is a gap
            # of the true length; in the repeated hour a jump forward is read as written, on one pass)
            once = readings[0].utcoffset() == readings[1].utcoffset()
            for at in readings:
                moved = (offset - (at.utcoffset() or dt.timedelta(0))) / dt.timedelta(seconds=1)
                if moved != shift and lo <= float(t[j]) - before + moved - shift <= hi:
                    break
                if moved != shift and (steps[j] < lo or once) and float(t[j]) - before + moved - shift > hi:
                    gap = (at, moved)  # (read at the clock's new reading: a gap forward, of its true length)
            else:
                if gap is None:
                    continue
                at, moved = gap
            t[j:] += moved - shift
            if say:
                self._say_clock_moved(rows[j][0], origin + dt.timedelta(seconds=before), at,
                                      written_origin + dt.timedelta(seconds=before - shift), written,
                                      float(t[j]) - before if gap is not None else None)
            shift = moved
        return shift

    def _say_clock_moved(self, line_no: int, was: dt.datetime, now: dt.datetime, was_written: dt.datetime,
                         written: dt.datetime, gap_s: float | None = None) -> None:
        """The file's warning that its times followed the clocks back or forward (``_follow_clock``):
        ``was`` and ``now`` the two rows' instants, ``was_written`` and ``written`` their times,
        ``gap_s`` the seconds between them where the data stopped over the change."""
        from myotwitch.host.wording import utc_offset

        was = was.astimezone()
        moved = (now.utcoffset() or dt.timedelta(0)) - (was.utcoffset() or dt.timedelta(0))
        amount = abs(moved) / dt.timedelta(minutes=1)
        by = f"{amount / 60:g} h" if amount % 60 == 0 else f"{amount:g} min"
        times = (f"from {was_written.isoformat(sep=' ', timespec='milliseconds')} to "
                 f"{written.isoformat(sep=' ', timespec='milliseconds')}")
        clocks = f"this computer's clock went {'back' if moved < dt.timedelta(0) else 'forward'} by {by} " \
                 f"(from {utc_offset(was)} to {utc_offset(now)})"
        gap = "following on without a gap" if gap_s is None else f"after a gap of {gap_s:g} s in the data"
        head = f"{self.name}: line {line_no}: its times, without a UTC offset,"
        if moved < dt.timedelta(0) and self._start_twice in self.warnings:
            self.warnings.remove(self._start_twice)  # (the rows before the change were its first pass)
        if written < was_written:
            self.warnings.append(f"{head} go back {times} as {clocks}: read from there on as the repeated hour's "
                                 f"second pass ({utc_offset(now)}), {gap}")
        elif moved > dt.timedelta(0) and gap_s is None:
            self.warnings.append(f"{head} jump {times} as {clocks}: read as following on without a gap (the hour "
                                 "skipped never came)")
        else:  # (a stop in the data over the change: the gap is the time that passed, not the clock's)
            self.warnings.append(f"{head} jump {times} over the time {clocks}: read at its new reading, {gap}")

    def _lines(self) -> Generator[tuple[int, str], None, None]:
        """(line number, text) for every line (LF, CRLF or CR endings), each bounded in length."""
        with open(self.path, encoding=self._encoding(), errors="replace") as fh:
            no = 0
            while True:
                line = fh.readline(MAX_LINE + 1)
                if not line:
                    return
                no += 1
                if len(line) > MAX_LINE and not line.endswith(("\n", "\r")):
                    raise FormatError(f"{self.name}: line {no} is longer than {MAX_LINE} characters "
                                      "(not a CSV recording?)")
                yield no, line

    def _encoding(self) -> str:
        """UTF-8 (with or without a BOM), else Latin-1: a header written by an older tool in
        Latin-1 ('Wade_\xb5V') had its µ replaced by '\ufffd', and lost its unit."""
        enc = getattr(self, "_enc", None)
        if enc is None:
            with open(self.path, "rb") as fh:
                head = fh.read(MAX_LINE)
            try:
                head.decode("utf-8")
                enc = "utf-8-sig"
            except UnicodeDecodeError as e:
                cut = len(head) == MAX_LINE and e.start > len(head) - 4  # (a character cut by the read)
                enc = "utf-8-sig" if cut else "latin-1"
            self._enc = enc
        return enc

    def _time(self, text: str, line_no: int) -> float:
        if self._iso_origin is not None:
            return self._iso_seconds(text, line_no)
        try:
            value = float(text.strip().strip('"'))
        except ValueError:
            raise FormatError(f"{self.name}: line {line_no}, column '{self.time_label}': {_quote(text)} is not a "
                              "number of seconds or an ISO 8601 time such as 2026-11-01T22:00:00.125") from None
        if not np.isfinite(value):
            raise FormatError(f"{self.name}: line {line_no}, column '{self.time_label}': {_quote(text)} is not a time")
        return value * self._t_scale

    def _iso_seconds(self, text: str, line_no: int) -> float:
        """Seconds from the first row's ISO 8601 time (exact to the microsecond they are written to)."""
        when = _iso_time(text)
        try:
            if when is None:
                raise TypeError
            assert self._iso_origin is not None
            return (when - self._iso_origin) / dt.timedelta(seconds=1)
        except TypeError:  # (not a time, or one with a UTC offset beside one without)
            raise FormatError(f"{self.name}: line {line_no}, column '{self.time_label}': {_quote(text.strip())} is "
                              "not an ISO 8601 time like the first row's") from None

    def _rate(self, t: np.ndarray) -> float:
        if len(t) < 2:
            raise FormatError(f"{self.name}: fewer than 2 data rows; cannot tell the sample rate")
        d = np.diff(t)
        med = float(np.median(d))
        if med <= 0:
            raise FormatError(f"{self.name}: the time column ('{self.time_label}') does not increase")
        steady = d <= GAP_INTERVALS * med  # leave out gaps
        # the time spanned by gap-free runs over their intervals: jitter cancels except at the ends
        interval = float(d[steady].sum() / steady.sum()) if steady.any() else med
        if not interval > 0:
            raise FormatError(f"{self.name}: the time column ('{self.time_label}') does not increase")
        jitter = float(np.std(d[steady])) / np.sqrt(2) if steady.sum() > 1 else 0.0
        if jitter > 0.05 * interval:
            # stamps rounded to a coarse step (2 kHz written to the millisecond) or taken by a busy
            # host: the first and last stamp of the run, which the mean interval is, are each off
            # by up to a step, a step over the head's 1 s (0.05 %: 2 kHz read as 1999 Hz, events
            # 0.28 s late after 10 minutes); the line through all of the longest gap-free run's
            # stamps is off by a few thousandths of that
            run = np.flatnonzero(np.diff(np.concatenate(([0], steady.view(np.int8), [0]))))
            lo, hi = max(zip(run[::2], run[1::2]), key=lambda r: r[1] - r[0])
            if hi - lo >= 2:
                interval = float(np.polyfit(np.arange(hi - lo + 1), t[lo:hi + 1], 1)[0]) or interval
        fs = 1.0 / interval
        if abs(fs - round(fs)) < 2e-3 * fs:
            fs = float(round(fs))
        if jitter > 0.05 * interval:
            self.warnings.append(f"{self.name}: time stamps jitter by {jitter * 1e3:.3g} ms RMS around a "
                                 f"{interval * 1e3:.4g} ms interval; sample rate taken as {fs:g} Hz from a line "
                                 "through the stamps, samples placed one interval apart")
        return fs

    def select(self, wanted: list[str] | None) -> None:
        keep = select_channels(self._raw_labels, wanted, self.name, self.labels)
        self.channels = [self.channels[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]
        self._raw_labels = [self._raw_labels[i] for i in keep]

    def iter_records(self) -> Iterator[tuple[int, np.ndarray]]:
        ncols = len(self.all_labels) + 1
        index = 0  # sample index of the next row
        last_t: float | None = None
        shift = 0.0  # s added to the clock times read since the clocks last went back or forward
        jumps = 0
        lines = self._lines()
        for no, _ in lines:  # the preamble and the header
            if no >= self._header_line:
                break
        while True:
            chunk = []
            size = 0
            for no, line in lines:
                if line.strip():
                    chunk.append((no, line))
                    size += len(line)
                if len(chunk) >= CHUNK_ROWS or size >= CHUNK_CHARS:
                    break
            if not chunk:
                if jumps > 3:
                    self.warnings.append(f"{self.name}: {jumps - 3} more jumps in the time column treated as gaps")
                return
            # only the time and the chosen channels are read: a column left out with --channels
            # (a marker or event column holding words) is no error
            use = [0] + [c + 1 for c in self.channels]
            every = len(use) == ncols
            data = np.empty((len(chunk), ncols)) if every else np.full((len(chunk), ncols), np.nan)
            where: slice | list[int] = slice(None) if every else use
            for j, (no, line) in enumerate(chunk):
                if self.decimal_comma:
                    line = line.replace(",", ".")
                parts = line.rstrip("\r\n").split(self.delimiter)
                if len(parts) == ncols + 1 and not parts[-1].strip():
                    parts.pop()  # trailing separator
                if len(parts) != ncols:
                    raise FormatError(f"{self.name}: line {no} has {len(parts)} columns, header has {ncols}")
                if not every:
                    parts = [parts[k] for k in use]
                if self._iso_origin is not None:
                    parts[0] = repr(self._iso_seconds(parts[0], no))
                try:
                    data[j, where] = _values(parts)
                except ValueError:
                    parts = [p.strip().strip('"') for p in parts]  # (quoted numbers, as spreadsheets write them)
                    if all(_is_number(p) for p in parts):
                        data[j, where] = _values(parts)
                        continue
                    bad = use[next(k for k, p in enumerate(parts) if not _is_number(p))]
                    col = self.time_label if bad == 0 else self.all_labels[bad - 1]
                    others = [n for k, n in enumerate(self._names) if k != bad - 1]
                    hint = (f" (a column that is no channel, such as markers, is left out with --channels, e.g. "
                            f"--channels '{','.join(others)}')" if bad > 0 and others else "")
                    raise FormatError(f"{self.name}: line {no}, column '{col}': "
                                      f"{_quote(parts[use.index(bad)].strip())} is not a number{hint}") from None
            t = data[:, 0] * self._t_scale
            if not np.all(np.isfinite(t)):
                j = int(np.argmin(np.isfinite(t)))
                raise FormatError(f"{self.name}: line {chunk[j][0]}, column '{self.time_label}': {t[j]} is not a time")
            shift = self._follow_clock(t, shift, last_t, -1.0 / self.fs, GAP_INTERVALS / self.fs, chunk,
                                       say=True)
            steps = np.diff(t, prepend=t[0] if last_t is None else last_t)
            if np.any(steps < -1.0 / self.fs):
                j = int(np.argmax(steps < -1.0 / self.fs))
                clock = (self._iso_origin is not None and self._iso_origin.tzinfo is None
                         and abs(steps[j] + 3600.0) < 60.0)
                raise FormatError(f"{self.name}: line {chunk[j][0]}: time goes back by {-steps[j]:.6g} s; "
                                  + ("its clock times have no UTC offset, and an hour repeats when daylight saving "
                                     "time ends: export them with their offset (+01:00) or in UTC (Z)" if clock else
                                     "expected increasing times"))
            gap_at = np.nonzero(steps > GAP_INTERVALS / self.fs)[0]
            out = np.empty((len(self.channels), len(chunk)), dtype=np.float32)
            for k, c in enumerate(self.channels):
                scale, offset = self._scale[c]
                with np.errstate(over="ignore"):  # (beyond float32: infinite, read as missing as inf is)
                    out[k] = data[:, c + 1] * scale + offset
                if not self._said_huge:
                    huge = np.isfinite(data[:, c + 1]) & ~np.isfinite(out[k])
                    if huge.any():
                        self._said_huge = True
                        self.warnings.append(f"{self.name}: line {chunk[int(np.argmax(huge))][0]}, column "
                                             f"'{self.all_labels[c]}': a value beyond ±3.4e38 µV; such values "
                                             "are read as missing")
            if not self._said_partial and len(self.channels) > 1:
                missing_at = ~np.isfinite(out)
                partial = missing_at.any(axis=0) & ~missing_at.all(axis=0)
                if partial.any():
                    self._said_partial = True
                    j = int(np.argmax(partial))
                    empty = self.all_labels[self.channels[int(np.argmax(missing_at[:, j]))]]
                    self.warnings.append(f"{self.name}: line {chunk[j][0]}, column '{empty}': missing where other "
                                         "channels have values; a sample missing on one channel is a gap on every "
                                         "channel (so are such rows further on)")
            start = 0
            for j in [*gap_at.tolist(), len(chunk)]:
                if j > start:
                    yield index, out[:, start:j]
                    index += j - start
                if j < len(chunk):
                    if steps[j] > MAX_GAP_S:
                        raise FormatError(f"{self.name}: line {chunk[j][0]}: time jumps by {steps[j]:.6g} s; more "
                                          f"than {MAX_GAP_S / 86400:g} days is not believed")
                    missing = int(round(steps[j] * self.fs)) - 1
                    jumps += 1
                    if jumps <= 3:
                        self.warnings.append(f"{self.name}: line {chunk[j][0]}: time jumps by {steps[j]:.6g} s; "
                                             f"treated as a gap of {missing / self.fs:.6g} s")
                    index += missing
                start = j
            last_t = float(t[-1])


def _row_numbers(rows: list[str], delimiter: str) -> bool:
    """Do the rows' first cells count them, 0, 1, 2, ... (or from another whole number)?"""
    cells = [row.split(delimiter, 1)[0].strip().strip('"') for row in rows]
    if len(cells) < 2 or not all(c.isdigit() for c in cells):
        return False
    first = int(cells[0])
    return all(int(c) == first + i for i, c in enumerate(cells))


def _iso_time(text: str) -> dt.datetime | None:
    """An ISO 8601 date and time (``T`` or a space between them, a ``Z`` or UTC offset or none),
    None for anything else: a number is no ISO time."""
    text = text.strip().strip('"')
    if len(text) < 16 or text[4:5] != "-" or text[10:11] not in ("T", " "):
        return None
    # (Python 3.10 reads neither a "Z" nor fractions of other than 3 or 6 digits, as pandas
    # writes nanoseconds: the fraction is cut or padded to microseconds)
    m = _ISO_PARTS.fullmatch(text)
    if m is not None:
        frac = (m.group(2) or "")[1:]
        zone = m.group(3) or ""
        zone = zone[:3] + ":" + zone[3:] if len(zone) == 5 else zone  # (+0100 as +01:00)
        text = m.group(1) + ("." + (frac + "000000")[:6] if frac else "") + ("+00:00" if zone in ("Z", "z") else zone)
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


#: an ISO 8601 date and time: the part up to the seconds, a fraction, a zone
_ISO_PARTS = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|z|[+-]\d{2}:?\d{2})?")


def _quote(text: str, limit: int = 40) -> str:
    """``repr`` of user text, cut short: an error message never echoes a whole file."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


#: a cell that is missing (read as NaN), in lower case: empty, or as R, spreadsheets and
#: databases write a missing value (NA, N/A, #N/A, null, None)
_MISSING = frozenset({"", "nan", "na", "n/a", "#n/a", "null", "none"})


def _values(parts: list[str]) -> list[float]:
    """A row's cells as numbers, missing ones NaN; ValueError when one is not a number."""
    return [np.nan if p.strip().lower() in _MISSING else float(p) for p in parts]


def _all_numbers(line: str) -> bool:
    """Is every cell of ``line`` a number (with any of the separators)?"""
    cells = re.split(r"[,;\t]", line.strip())
    return bool(cells) and all(c.strip().strip('"') and _is_number(c.strip('"')) for c in cells)


def _decimal_comma(rows: list[str], delimiter: str) -> bool:
    """Do these rows write numbers with a decimal comma (``0,001;12,5``)? Some number is
    written with a comma and none with a point. Cells that are no number either way (a marker
    column's words, 'Stim. A', left out with --channels) say nothing: they had made a file with
    a marker in its first rows unreadable, --channels or not ("'0,000' is not a number")."""
    comma = False
    for line in rows:
        for c in line.rstrip("\r\n").split(delimiter):
            c = c.strip().strip('"')
            if "." in c and _is_number(c):
                return False
            comma = comma or ("," in c and _is_number(c.replace(",", ".")))
    return comma


def _is_number(text: str) -> bool:
    t = text.strip()
    if t.lower() in _MISSING:
        return True
    try:
        float(t)
        return True
    except ValueError:
        return False


def write_csv(path: str | os.PathLike, x: np.ndarray, fs: float, labels: list[str]) -> None:
    """Write (channels, n) µV as CSV with a time column (used for exports and tests)."""
    t = np.arange(x.shape[1]) / fs
    header = "time_s," + ",".join(f"{lab}_uV" for lab in labels)
    np.savetxt(path, np.column_stack([t, x.T]), delimiter=",", header=header, comments="", fmt="%.6g")
