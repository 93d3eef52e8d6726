"""Counts in sentences: "1 contraction", "2 contractions" (shared by the text and the report)."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def figure(value: float | None, fmt: str) -> str:
    """A figure, or "n/a" where it could not be computed (null in the JSON)."""
    return "n/a" if value is None else format(value, fmt)


def per_channel(labels: list[str], values: list[float | None], fmt: str = ".1f") -> str:
    """One figure per channel, each named ("gastrocnemius 3.7, soleus 3.6")."""
    figures = [figure(v, fmt) for v in values]
    if len(labels) != len(figures):
        return ", ".join(figures)
    return ", ".join(f"{name} {f}" for name, f in zip(labels, figures))


def hms(seconds: float) -> str:
    """A duration as h:mm:ss."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def when(iso: str | None) -> str:
    """A session's ISO start time as people read it ("2026-12-07 04:39:01"); "" when undated,
    the text as it is when it is not ISO."""
    if not iso:
        return ""
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return t.strftime("%Y-%m-%d %H:%M:%S") + (t.strftime(" %Z") if t.tzinfo else "")
