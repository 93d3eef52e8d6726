"""Shared helpers for the benchmark scripts (each also runs alone: python benchmarks/NAME.py)."""

from __future__ import annotations

import os
import pathlib
import platform
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _section(name: str) -> re.Pattern[str]:
    """The section ``## name`` of RESULTS.md, heading included, up to the next one."""
    return re.compile(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", re.S | re.M)


def read_section(name: str) -> str | None:
    """The body of the section ``## name`` of RESULTS.md (None when there is none)."""
    m = _section(name).search(RESULTS.read_text()) if RESULTS.exists() else None
    return m.group(1) if m else None


def notes_after_tables(section: str | None) -> str:
    """The written analysis that follows a section's last table line ('' when there is none)."""
    lines = (section or "").splitlines()
    last = max((i for i, ln in enumerate(lines) if ln.startswith("|")), default=len(lines) - 1)
    return "\n".join(lines[last + 1:]).strip()


def write_section(name: str, body: str, keep_notes: bool = False) -> None:
    """Replace (or add) the section ``## name`` of RESULTS.md with ``body``; with ``keep_notes``
    the analysis written below the section's tables stays (a script that prints only tables
    would otherwise drop it at every rerun)."""
    notes = notes_after_tables(read_section(name)) if keep_notes else ""
    if notes:
        body = f"{body.strip()}\n\n{notes}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nRegenerate with `python benchmarks/run.py` (or one script alone).\n"
    block = f"## {name}\n\n{body.strip()}\n"
    pattern = _section(name)
    text = pattern.sub(block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)
