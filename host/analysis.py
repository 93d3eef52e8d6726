"""Offline analysis of one recording: read in chunks, run the same streaming detector as
live use, summarise. Memory stays bounded whatever the file length."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from typing import Any

import numpy as np

from myotwitch.dsp import DetectorConfig, Event, Pipeline
from myotwitch.dsp.config import ConfigError
from myotwitch.host.errors import FormatError
from myotwitch.host.session import busy_floor_warning, summarize
from myotwitch.host.strict import strict

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction done, 0..1


#: what to do about values that look like volts: in a CSV, and in an EDF/BDF file
CSV_REMEDY = "use --units V or --units mV"
EDF_REMEDY = "the header's physical dimension or range is wrong; --units applies to CSV files only"


def check_units(x: np.ndarray, name: str, unit_hint: str, remedy: str = CSV_REMEDY) -> list[str]:
    """Warnings when the numbers do not look like surface EMG in µV (``remedy``: what to do
    when they look like volts or millivolts)."""
    warnings: list[str] = []
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return warnings
    p2p = float(np.percentile(finite, 99.5) - np.percentile(finite, 0.5))
    if 0 < p2p < 0.05:  # (flat is no unit: ``signal_problems`` says so)
        warnings.append(f"{name}: values span only {p2p:.3g} {unit_hint}; they look like volts or millivolts, "
                        f"not µV ({remedy})")
    elif np.allclose(finite[: 10000], np.round(finite[: 10000])) and p2p > 200 and finite.min() >= 0:
        warnings.append(f"{name}: values are non-negative whole numbers spanning {p2p:.0f}; they look like raw ADC "
                        "counts, not µV (give --units counts:UV_PER_COUNT:OFFSET)")
    return warnings


def _channel_name(c: int, labels: list[str] | None) -> str:
    """A channel as the user knows it: its label and its place (the 4th of a CSV's columns
    was "channel 3", by a 0-based index nobody counts by)."""
    if labels and c < len(labels) and labels[c]:
        return f"channel '{labels[c]}' (column {c + 1})" if labels.count(labels[c]) > 1 else f"channel '{labels[c]}'"
    return f"channel {c + 1}"


def _flat_problem(name: str, what: str, value: float) -> str:
    """What a channel that holds one value all along is: not analysable."""
    return (f"{name}: {what} is all zeros (electrode not connected?)" if value == 0 else
            f"{name}: {what} is constant at {value:g} (saturated or disconnected)")


def signal_problems(x: np.ndarray, name: str, labels: list[str] | None = None, flat: bool = True) -> list[str]:
    """All-zero, constant or saturated signals: not analysable. ``labels``: the channels' names;
    ``flat``: whether to judge flat channels from ``x`` (a file's analysis judges them over
    the whole file: ``_Flat``)."""
    problems = []
    for c in range(x.shape[0]):
        row = x[c][np.isfinite(x[c])]
        if row.size == 0:
            continue
        what = _channel_name(c, labels)
        if np.ptp(row) == 0:
            if flat:
                problems.append(_flat_problem(name, what, float(row[0])))
        elif row.size >= SATURATION_MIN_SAMPLES:
            at_rail = np.mean((row == row.max()) | (row == row.min()))
            if at_rail > 0.2:
                problems.append(f"{name}: {what} sits at its extreme values {at_rail:.0%} of the time (saturated)")
    return problems


class _Flat:
    """Which channels stay at one value over the whole file (the first chunk alone called a
    channel "all zeros" whose electrode was connected a minute in, and missed one that fell
    flat later)."""

    def __init__(self, n: int) -> None:
        self.value = np.full(n, np.nan)
        self.flat = np.ones(n, dtype=bool)

    def add(self, x: np.ndarray) -> None:
        for c in range(x.shape[0]):
            if not self.flat[c]:
                continue
            row = x[c][np.isfinite(x[c])]
            if row.size == 0:
                continue
            if np.isnan(self.value[c]):
                self.value[c] = row[0]
            self.flat[c] = bool(np.all(row == self.value[c]))

    def problems(self, name: str, labels: list[str] | None) -> list[str]:
        return [_flat_problem(name, _channel_name(int(c), labels), float(self.value[c]))
                for c in np.nonzero(self.flat & np.isfinite(self.value))[0]]


def analyze_reader(reader, config: DetectorConfig | None = None, progress: Progress | None = None,
                   name: str = "", start=None, device: dict | None = None,
                   extra_quality: dict | None = None) -> dict:
    """Run the detector over a reader's ``iter_records`` chunks and summarise."""
    fs = reader.fs
    try:
        pipe = Pipeline(fs, len(reader.channels), config)
    except ConfigError as e:
        raise FormatError(f"{name}: {e}") from e
    events: list[Event] = []
    expected = 0
    total = max(reader.n_samples, 1)
    checked = False
    problems: list[str] = []
    warnings: list[str] = []
    flat = _Flat(len(reader.channels))
    for first, x in reader.iter_records():
        flat.add(x)
        if first > expected:
            events += pipe.gap(first - expected)
        if not checked:
            from myotwitch.host.csvio import CsvReader

            # (--units applies to a CSV; an EDF/BDF header states its own unit and range)
            warnings += check_units(x, name, "units", CSV_REMEDY if isinstance(reader, CsvReader) else EDF_REMEDY)
            # (saturation from the first chunk; a channel flat all along from all of them, below)
            problems += signal_problems(x, name, reader.labels, flat=False)
            checked = True
        events += pipe.process(x)
        expected = first + x.shape[1]
        if progress:
            progress(min(expected / total, 1.0))
    events += pipe.flush()
    problems = flat.problems(name, reader.labels) + problems
    events.sort(key=lambda e: (e.onset_sample, e.channel))
    # (summarize gives the recorder's summaries the same warning; here it is logged too)
    busy = busy_floor_warning(events, pipe.quality()["noise_floor_uv_rms"], reader.labels, pipe.config, name)
    if busy:
        warnings.append(busy)
    for w in warnings + problems:
        log.warning("%s", w)
    q = dict(extra_quality or {})
    # what went wrong while reading (truncation, bad time stamps, skipped lines) comes first
    q["warnings"] = list(getattr(reader, "warnings", [])) + warnings + problems
    summary = summarize(events, pipe.episodes, pipe, file=name, start=start, labels=reader.labels,
                        device=device, extra_quality=q)
    return strict_summary(summary)


#: the quality figures a file too short to search has none of (``strict_summary``)
FLOOR_FIGURES = ("quality.noise_floor_uv_rms[", "quality.median_window_rms_uv[")
#: a channel's first samples are judged saturated only from this many on: of n samples of any
#: signal, its two extremes alone are 2/n of them (three samples had read "67 % saturated")
SATURATION_MIN_SAMPLES = 100


def strict_summary(summary: dict) -> dict:
    """NaN or infinite figures (all-NaN channels, non-finite ranges) become null, with a warning."""
    clean, replaced = strict(summary)
    if (clean.get("stats") or {}).get("twitches_per_hour", 0.0) is None:
        # no second searched (shorter than the detector's start-up): its note says so, and the
        # floors it could not measure are that, not figures to name by their JSON paths
        replaced = [r for r in replaced if not r.startswith(FLOOR_FIGURES)]
    if replaced:
        shown = ", ".join(replaced[:5]) + (f" and {len(replaced) - 5} more" if len(replaced) > 5 else "")
        text = f"{os.path.basename(str(summary.get('file') or ''))}: not computable (no finite data), left empty: {shown}"
        log.warning("%s", text)
        clean.setdefault("quality", {}).setdefault("warnings", []).append(text)
    return clean


def is_csv(path: str, head: bytes | None = None) -> bool:
    """Read as CSV (else as EDF/BDF): an EDF or BDF header's version field (``0`` and seven
    spaces, or 0xFF and ``BIOSEMI``) whatever the name (a recording renamed .csv was read as a
    CSV of binary junk); else by the name, else by the first byte. ``head``: the file's first
    bytes, when already read."""
    if head is None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError:
            head = b""
    if head[:8] in (b"0       ", b"\xffBIOSEMI"):
        return False
    low = path.lower()
    return low.endswith(".csv") or (head[:1] not in (b"0", b"\xff") and not low.endswith((".edf", ".bdf")))


def refuse_pipe(path: str) -> None:
    """A pipe or socket is no recording: reading one waits for a writer that may never come,
    and a batch stalled on it."""
    mode = os.stat(path).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise FormatError(f"{path}: is a pipe or socket, not a recording file")


def open_reader(path: str | os.PathLike, channels: list[str] | None = None, units: str | None = None,
                fs: float | None = None, keep_bad: bool = False):
    """An EDF/BDF or CSV reader for ``path`` (chosen by content/extension). ``keep_bad``: analyse
    the stretches an EDF+ file marks bad too (``EdfReader``)."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise FormatError(f"{name}: no such file")
    if os.path.isdir(path):
        raise FormatError(f"{path}: is a directory; give recording files (or a glob)")
    refuse_pipe(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.lstrip()[:1] in (b"{", b"["):
        raise FormatError(f"{name}: {_what_json(path)}")
    reader: Any
    if is_csv(path, head):
        from myotwitch.host.csvio import CsvReader

        what = _what_table(path)
        if what:
            raise FormatError(f"{name}: {what}")

        reader = CsvReader(path, units=units, fs=fs)
        reader.select(channels)
    else:
        from myotwitch.host.edf import EdfReader

        reader = EdfReader(path, channels, keep_bad=keep_bad)  # (channels chosen before the rates are compared)
    return reader


def _what_json(path: str) -> str:
    """What a JSON file given as a recording is, and what to give instead: myotwitch's own
    results had been guessed to be "an event log or a report?", and a recorder's sidecar given
    to a ``file:`` replay was told that a sidecar was expected."""
    kind = None
    try:
        if os.path.getsize(path) <= 64 << 20:  # (a larger one is no result of ours worth parsing)
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
            kind = doc.get("schema") if isinstance(doc, dict) else None
    except (OSError, ValueError):  # (JSON lines, or not JSON after all)
        pass
    if kind == "myotwitch.session/1":
        of = doc.get("file")
        of = f", of {os.path.basename(of)}" if isinstance(of, str) else ""
        return f"myotwitch's analysis of a recording (schema {kind}{of}), not a recording; give the recording itself"
    if kind == "myotwitch.analysis/1":
        return f"myotwitch's results of a batch (schema {kind}), not a recording; give the recordings themselves"
    if isinstance(kind, str) and kind.startswith("myotwitch."):
        return f"myotwitch's output (schema {kind}), not a recording; expected EDF, BDF or CSV samples"
    if path.endswith(".events.jsonl"):
        return "the recorder's event log, not a recording; expected EDF, BDF or CSV samples (the recording is beside it)"
    return "JSON, not a recording (an event log or a report?); expected EDF, BDF or CSV samples"


def _what_table(path: str) -> str | None:
    """What a CSV of myotwitch's own given as a recording is, by its header; None for any other.
    ``analyze out/sessions.csv`` had been refused as "column 'file': 'a.csv' is not a number of
    seconds", as if a recording's time column were bad."""
    from myotwitch.host.analyze_cmd import EVENT_COLUMNS, FAILED_COLUMNS, MANIFEST_COLUMNS, SESSION_COLUMNS
    from myotwitch.host.history import DAILY_COLUMNS

    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as fh:
            first = fh.readline(1 << 16)
    except OSError:
        return None
    cols = [c.strip() for c in first.lstrip("\ufeff").rstrip("\r\n").split(",")]
    them = "give the recordings themselves"
    if cols == SESSION_COLUMNS:
        return f"myotwitch's table of analysed sessions (the sessions.csv of `analyze --out-dir`), not a recording; {them}"
    if cols == FAILED_COLUMNS:
        return f"myotwitch's list of the files a batch could not analyse (failed.csv), not a recording; {them}"
    if cols == MANIFEST_COLUMNS:
        return f"myotwitch's list of a batch's results (manifest.csv), not a recording; {them}"
    if cols == EVENT_COLUMNS:
        return f"myotwitch's table of detected events (`analyze --csv`), not a recording; {them}"
    if cols[:len(DAILY_COLUMNS)] == DAILY_COLUMNS:
        return f"myotwitch's daily table (`history --csv`), not a recording; {them}"
    return None


def analyze_file(path: str | os.PathLike, config: DetectorConfig | None = None, channels: list[str] | None = None,
                 units: str | None = None, progress: Progress | None = None, say_marker: bool = True,
                 keep_bad: bool = False) -> dict:
    """Analyse one recording file; returns the session dict (see host.session). ``say_marker``:
    warn of a recorder's marker beside the file (not when the recorder repairs it); ``keep_bad``:
    analyse the stretches the file marks bad too."""
    path = os.fspath(path)
    reader = open_reader(path, channels, units, keep_bad=keep_bad)
    if reader.n_samples == 0:
        raise FormatError(f"{os.path.basename(path)}: holds no samples")
    if reader.fs < 250:
        where = ""
        if hasattr(reader, "time_label"):  # (a time column in ms must say so in its name: time_ms, Time (ms))
            unit = {"s": "seconds", "ms": "milliseconds"}.get(reader.time_unit, reader.time_unit)
            where = f" (from the time column '{reader.time_label}', read in {unit}" + (
                "; one in milliseconds says so in its name, e.g. 'time_ms' or 'Time (ms)')" if reader.time_unit == "s"
                else ")")
        raise FormatError(f"{os.path.basename(path)}: sample rate {reader.fs:g} Hz{where} is below 250 Hz; "
                          "twitches (3-30 ms) need at least 250 Hz")
    # an EDF header has a start; a CSV only when its time column holds clock time (Unix seconds);
    # otherwise the session is undated (None), never dated by when it was analysed
    start = getattr(getattr(reader, "edf", None), "data_start", None) or getattr(reader, "start", None)
    config = config or DetectorConfig()
    clip = getattr(reader, "clip_uv", None)
    if config.clip_uv is None and clip:
        config = config.replace(clip_uv=clip)  # the file's input range tells where clipping starts
    result = analyze_reader(reader, config, progress, name=path, start=start, device=recorded_by(reader))
    from myotwitch.host.recorder import marker_state

    state = marker_state(path) if say_marker else None
    if state is not None:
        name = os.path.basename(path)
        note = (f"{name}: still being recorded (its {name}.recording marker is there): this is what was "
                "written so far; the recorder adds the session to the history when it closes" if state == "live" else
                f"{name}: its recording was interrupted (the recorder's {name}.recording marker remains): this is what "
                "was written; the next `myotwitch record` into this folder repairs it (analyse it again then)")
        log.warning("%s", note)
        result["quality"]["warnings"].insert(0, note)
    return result


def recorded_by(reader) -> dict | None:
    """The device a myotwitch recording names in its header (``device <id> fw <version>`` in
    the signals' prefilter field, ``host/device_id.py``), as ``{"device_id", "firmware"}``; None
    for other files."""
    from myotwitch.host.device_id import read_prefilter

    edf = getattr(reader, "edf", None)
    for sig in getattr(edf, "signals", None) or []:
        found = read_prefilter(sig.prefilter)
        if found:
            return found
    return None


def still_recording(path: str) -> bool:
    """Is ``path`` a file a recorder writes, or one interrupted that its next start repairs (its
    marker is there)? Either way it is not yet a session for the history."""
    from myotwitch.host.recorder import marker_state

    return marker_state(path) is not None
