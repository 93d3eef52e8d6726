"""Choosing channels of a recording by name or index (shared by the EDF and CSV readers)."""

from __future__ import annotations

from myotwitch.host.errors import FormatError


def select_channels(labels: list[str], wanted: list[str] | None, file_name: str) -> list[int]:
    """Positions in ``labels`` of the channels named (case-insensitive) or indexed (0-based)
    in ``wanted``; all of them when ``wanted`` is empty."""
    if not wanted:
        return list(range(len(labels)))
    keep: list[int] = []
    for w in wanted:
        if w.isdigit() and int(w) < len(labels):
            keep.append(int(w))
            continue
        hits = [i for i, lab in enumerate(labels) if lab.lower() == w.lower()]
        if not hits:
            raise FormatError(f"{file_name}: no channel '{w}' (channels: {', '.join(labels)})")
        keep += hits
    twice = sorted({labels[i] for i in keep if keep.count(i) > 1})
    if twice:
        raise FormatError(f"{file_name}: channel '{twice[0]}' chosen twice (--channels {','.join(wanted)})")
    return keep
