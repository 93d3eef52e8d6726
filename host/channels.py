"""Choosing channels of a recording by name or index (shared by the EDF and CSV readers)."""

from __future__ import annotations

from myotwitch.host.errors import FormatError

#: what sets apart the second and later channels that share a label ("EMG calf #2")
REPEAT_MARK = " #"


def distinct_labels(labels: list[str], max_len: int | None = None) -> list[str]:
    """Each channel's name in the outputs: its label, or, for the second and later of channels
    that share one (case-insensitive: an EDF with two 'EMG calf'), the label and its place
    among them ('EMG calf #2', a name no other channel has). The history keeps a channel's
    twitches by its name: two channels of one name had been added up there as one. With
    ``max_len`` (an EDF label's 16 characters) the label is cut so its place still fits."""
    taken = {lab.casefold() for lab in labels}
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        n = seen[lab.casefold()] = seen.get(lab.casefold(), 0) + 1
        if n == 1:
            out.append(lab)
            continue
        while (name := _numbered(lab, n, max_len)).casefold() in taken:
            n += 1
        taken.add(name.casefold())
        out.append(name)
    return out


def _numbered(label: str, n: int, max_len: int | None) -> str:
    """``label`` as the ``n``-th channel of its name ('calf #2'), cut to fit ``max_len``."""
    mark = f"{REPEAT_MARK}{n}"
    return (label if max_len is None else label[:max(0, max_len - len(mark))].rstrip()) + mark


def select_channels(labels: list[str], wanted: list[str] | None, file_name: str,
                    names: list[str] | None = None, option: str = "--channels ") -> list[int]:
    """Positions in ``labels`` of the channels named (case-insensitive) or indexed (0-based)
    in ``wanted``; all of them when ``wanted`` is empty. ``names``: the channels' names in the
    outputs (``distinct_labels``' by default), which choose them too. A label that several
    channels share chooses none: one line says which, and how to choose one (with ``option``,
    as the user gives channels there: ``--channels 2``, or a stream's ``?channels=2``)."""
    if not wanted:
        return list(range(len(labels)))
    names = names if names is not None else distinct_labels(labels)
    keep: list[int] = []
    for w in wanted:
        if w.isdigit() and int(w) < len(labels):
            keep.append(int(w))
            continue
        same = [i for i, lab in enumerate(labels) if lab.lower() == w.lower()]
        if len(same) > 1:
            ways = " or ".join(f"{option}{i}" for i in same[:3])
            also = " or ".join(f"'{names[i]}'" for i in same[:3])
            raise FormatError(f"{file_name}: {len(same)} channels are labelled '{w}' (0-based indices "
                              f"{', '.join(map(str, same))}); choose one by its index ({ways}) or by its name in "
                              f"the outputs ({also})")
        hits = [i for i, name in enumerate(names) if name.lower() == w.lower()] or same
        if not hits:
            raise FormatError(f"{file_name}: no channel '{w}' (channels: {', '.join(names)})")
        keep += hits
    twice = sorted({names[i] for i in keep if keep.count(i) > 1})
    if twice:
        raise FormatError(f"{file_name}: channel '{twice[0]}' chosen twice ({option}{','.join(wanted)})")
    return keep
