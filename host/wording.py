"""Counts in sentences: "1 contraction", "2 contractions" (shared by the text and the report)."""

from __future__ import annotations

import datetime as dt
import os
import re
import textwrap

#: a noise floor over this many µV RMS is more than a muscle gives at the skin: the stream's scale
#: is wrong (a board's µV per count without its front-end gain) or an electrode is off
IMPLAUSIBLE_FLOOR_UV = 1000.0


def busy_floor_reason(floors) -> str:
    """Why channels' noise floors are over the resting bar, in words (``floors``: theirs, µV RMS)."""
    if max((float(v) for v in floors), default=0.0) > IMPLAUSIBLE_FLOOR_UV:
        return (f"over {IMPLAUSIBLE_FLOOR_UV:g} µV RMS is more than a muscle gives at the skin: the device's µV "
                "per count is wrong (its front-end gain, FRONTEND_GAIN in the firmware), or an electrode is off")
    return "a working muscle, or poor skin contact"


def file_names(files: list[str]) -> dict[str, str]:
    """file -> how a batch's lists and pages name it: its base name, or its path as given where
    two files of the batch share a base name (a study's P01/night 1.edf and P02/night 1.edf)."""
    base = [os.path.basename(f) for f in files]
    return {f: b if base.count(b) == 1 else f for f, b in zip(files, base)}


def wrap(text: str, width: int, names=(), **kw) -> str:
    """``textwrap.fill`` that never splits a file name across lines: ``names`` (files or paths the
    text quotes) and `commands` in backquotes are kept whole at their spaces, and no word is broken
    at a hyphen or for its length (a path longer than the line stands on a line of its own). A
    history had printed "...: n" and "ö.csv" on the next line for the file "n ö.csv"."""
    kept = {n for n in names if n and " " in n} | set(re.findall(r"`[^`\n]*`", text))
    for n in sorted(kept, key=len, reverse=True):  # (the longest first: a name that holds another)
        text = text.replace(n, n.replace(" ", "\0"))  # (no file name holds a NUL)
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False, **kw).replace("\0", " ")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def figure(value: float | None, fmt: str) -> str:
    """A figure, or "n/a" where it could not be computed (null in the JSON)."""
    return "n/a" if value is None else format(value, fmt)


#: what a session without usable data shows where its rate would be (``session.rate_per_hour``)
NO_RATE = "no usable data"


def rate_text(rate: float | None, fmt: str = ".1f", unit: str = " per hour") -> str:
    """A session's twitch rate ("12.5 per hour"), or ``NO_RATE`` where it has none: a file
    without a second the detector could search had read "0.0 per hour", a measured zero."""
    return NO_RATE if rate is None else f"{format(rate, fmt)}{unit}"


def per_channel(labels: list[str], values: list[float | None], fmt: str = ".1f") -> str:
    """One figure per channel, each named ("gastrocnemius 3.7, soleus 3.6")."""
    figures = [figure(v, fmt) for v in values]
    if len(labels) != len(figures):
        return ", ".join(figures)
    return ", ".join(f"{name} {f}" for name, f in zip(labels, figures))


def seconds_text(s: float) -> str:
    """A duration in seconds: whole ones from 10 s on, under that with its fraction (a
    ``record --duration 0.5s`` had closed its file with "(0 s, 0 twitches)")."""
    return f"{s:.0f} s" if s >= 9.95 else f"{round(s, 1 if s >= 1 else 2):g} s"


def hms(seconds: float) -> str:
    """A duration as h:mm:ss."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def on_local_clock(t: dt.datetime) -> dt.datetime:
    """``t`` on this computer's clock, without a zone: one with a UTC offset (a CSV's Unix or ISO
    times) is turned to it, a plain one (an EDF's own clock) stays."""
    return t.astimezone().replace(tzinfo=None) if t.tzinfo else t


def utc_offset(t: dt.datetime) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    sign, off = ("-", -off) if off < dt.timedelta(0) else ("+", off)
    return f"{sign}{off.seconds // 3600:02d}:{off.seconds % 3600 // 60:02d}"


def not_once_on_local_clock(t: dt.datetime) -> list[str] | None:
    """Is a time without a zone, read on this computer's clock, not one instant? The UTC offsets
    it came at, twice (``["+02:00", "+01:00"]``: the hour the clocks went back), or ``[]`` when it
    never came (the hour they went forward past); None for any other time."""
    first, second = t.replace(fold=0).astimezone(), t.replace(fold=1).astimezone()
    if first.utcoffset() == second.utcoffset():
        return None
    if first.replace(tzinfo=None) != t.replace(fold=0) or second.replace(tzinfo=None) != t.replace(fold=0):
        return []
    return [utc_offset(first), utc_offset(second)]


def _iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def local_clock(iso: str | None) -> str:
    """A session's ISO start on this computer's clock (``on_local_clock``), as the history and
    the trend plot place it ("" when undated, the text as it is when it is not ISO). Lists sort
    and show starts so; by their own clocks a UTC file had stood among the others by UTC."""
    if not iso:
        return ""
    t = _iso(iso)
    return iso if t is None else on_local_clock(t).isoformat()


def when(iso: str | None) -> str:
    """A session's ISO start time as people read it ("2026-12-07 04:39:01"); "" when undated,
    the text as it is when it is not ISO."""
    if not iso:
        return ""
    t = _iso(iso)
    if t is None:
        return iso
    return t.strftime("%Y-%m-%d %H:%M:%S") + (t.strftime(" %Z") if t.tzinfo else "")
