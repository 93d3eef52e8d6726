"""CSV recordings: a time column (seconds) and one column per channel.

Units come from the header (``gastroc_uV``, ``soleus [mV]``, ``ch1 (V)``) or ``--units``
(``uV``, ``mV``, ``V`` or ``counts:UV_PER_COUNT[:OFFSET]``). Read in chunks, so long files
stay within bounded memory; the sample rate comes from the time column unless given."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import numpy as np

from myotwitch.host.channels import select_channels
from myotwitch.host.errors import FormatError

CHUNK_ROWS = 200_000
_UNIT_RE = re.compile(r"(?:[_\s\[(])(uv|µv|mv|v|counts)\]?\)?$", re.I)
_SCALE = {"uv": 1.0, "µv": 1.0, "mv": 1e3, "v": 1e6}


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
            k = float(parts[1])
            off = float(parts[2]) if len(parts) > 2 else 0.0
        except (IndexError, ValueError) as e:
            raise FormatError(f"--units {spec}: expected counts:UV_PER_COUNT[:OFFSET_COUNTS]") from e
        return k, -off * k
    raise FormatError(f"--units {spec}: expected uV, mV, V or counts:UV_PER_COUNT[:OFFSET]")


class CsvReader:
    def __init__(self, path: str | os.PathLike, units: str | None = None, fs: float | None = None) -> None:
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        with open(self.path, encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
            sample_lines = [fh.readline() for _ in range(2000)]
        self.delimiter = ";" if header.count(";") > header.count(",") else ("\t" if "\t" in header else ",")
        cols = [c.strip().strip('"') for c in header.strip().split(self.delimiter)]
        if len(cols) < 2:
            raise FormatError(f"{self.name}: needs a time column and at least one channel column; header is {header.strip()!r}")
        try:
            [float(c) for c in cols]
            raise FormatError(f"{self.name}: first line is numbers; expected a header like 'time_s,gastroc_uV'")
        except ValueError:
            pass
        self.all_labels = cols[1:]
        forced = parse_units(units)
        self._scale = []
        for c in self.all_labels:
            m = _UNIT_RE.search(c.lower())
            if forced is not None:
                self._scale.append(forced)
            elif m and m.group(1).lower() in _SCALE:
                self._scale.append((_SCALE[m.group(1).lower()], 0.0))
            else:
                self._scale.append((1.0, 0.0))  # assume µV; check_units warns if implausible
        self.labels = [_UNIT_RE.sub("", c) or c for c in self.all_labels]
        self.channels = list(range(len(self.all_labels)))
        rows = [line for line in sample_lines if line.strip()]
        t = []
        for i, line in enumerate(rows[:1000]):
            try:
                t.append(float(line.split(self.delimiter)[0]))
            except ValueError as e:
                raise FormatError(f"{self.name}: line {i + 2}, column 'time': {line.split(self.delimiter)[0]!r} "
                                  "is not a number") from e
        if fs is None:
            if len(t) < 2:
                raise FormatError(f"{self.name}: fewer than 2 data rows; cannot tell the sample rate")
            dtm = float(np.median(np.diff(t)))
            if dtm <= 0:
                raise FormatError(f"{self.name}: time column does not increase")
            fs = 1.0 / dtm
            if abs(fs - round(fs)) < 1e-3 * fs:
                fs = float(round(fs))
        self.fs = float(fs)
        self.t0 = t[0] if t else 0.0
        with open(self.path, "rb") as fh:
            self._n_rows = max(sum(1 for line in fh if line.strip()) - 1, 0)
        self.n_samples = self._n_rows

    def select(self, wanted: list[str] | None) -> None:
        keep = select_channels(self.labels, wanted, self.name)
        self.channels = [self.channels[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]

    def iter_records(self) -> Iterator[tuple[int, np.ndarray]]:
        first = 0
        ncols = len(self.all_labels) + 1
        with open(self.path, encoding="utf-8-sig", errors="replace") as fh:
            fh.readline()
            line_no = 1
            while True:
                lines = []
                for line in fh:
                    line_no += 1
                    if line.strip():
                        lines.append((line_no, line))
                    if len(lines) >= CHUNK_ROWS:
                        break
                if not lines:
                    return
                data = np.empty((len(lines), ncols))
                for j, (no, line) in enumerate(lines):
                    parts = line.rstrip("\r\n").split(self.delimiter)
                    if len(parts) != ncols:
                        raise FormatError(f"{self.name}: line {no} has {len(parts)} columns, header has {ncols}")
                    try:
                        data[j] = [float(p) if p.strip() not in ("", "nan", "NaN") else np.nan for p in parts]
                    except ValueError:
                        bad = next(k for k, p in enumerate(parts) if not _is_number(p))
                        col = "time" if bad == 0 else self.all_labels[bad - 1]
                        raise FormatError(f"{self.name}: line {no}, column '{col}': {parts[bad].strip()!r} "
                                          "is not a number") from None
                out = np.empty((len(self.channels), len(lines)), dtype=np.float32)
                for k, c in enumerate(self.channels):
                    scale, offset = self._scale[c]
                    out[k] = data[:, c + 1] * scale + offset
                yield first, out
                first += len(lines)


def _is_number(text: str) -> bool:
    t = text.strip()
    if t in ("", "nan", "NaN"):
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
