"""Episode grouping: twitches on any channel closer than ``gap_s`` form one episode."""

from __future__ import annotations

from myotwitch.dsp.events import Episode, Event


class EpisodeGrouper:
    """Streaming episode stage. Feed twitches (any order within the not-yet-final horizon)
    with ``process``; episodes are returned once ``advance(t)`` shows no later twitch can join."""

    def __init__(self, gap_s: float = 30.0) -> None:
        if gap_s <= 0:
            raise ValueError(f"episode gap must be > 0 s, got {gap_s}")
        self.gap_s = gap_s
        self.reset()

    def reset(self) -> None:
        self._pending: list[Event] = []
        self._last_end = float("-inf")  # latest twitch end among pending
        self._added = False

    def process(self, events: list[Event], horizon_s: float | None = None) -> list[Episode]:
        for e in events:
            if e.kind == "twitch":
                self._pending.append(e)
                self._last_end = max(self._last_end, e.offset_s)
                self._added = True
        return self.advance(horizon_s) if horizon_s is not None else []

    def advance(self, horizon_s: float) -> list[Episode]:
        """Close every episode whose last twitch ended more than ``gap_s`` before ``horizon_s``
        (the earliest time a future twitch can still start)."""
        if not self._pending:
            return []
        if not self._added and horizon_s - self._last_end <= self.gap_s:
            return []  # nothing new, and the last episode can still grow: the common case
        self._added = False
        self._pending.sort(key=lambda e: (e.onset_s, e.channel))
        closed: list[Episode] = []
        group: list[Event] = []
        keep_from = 0
        for i, ev in enumerate(self._pending):
            if group and ev.onset_s - max(g.offset_s for g in group) > self.gap_s:
                closed.append(_episode(group))
                group = []
                keep_from = i
            group.append(ev)
        if group and horizon_s - max(g.offset_s for g in group) > self.gap_s:
            closed.append(_episode(group))
            keep_from = len(self._pending)
        self._pending = self._pending[keep_from:]
        self._last_end = max((e.offset_s for e in self._pending), default=float("-inf"))
        return closed

    def flush(self) -> list[Episode]:
        return self.advance(float("inf"))


def _episode(group: list[Event]) -> Episode:
    return Episode(
        start_s=min(e.onset_s for e in group),
        end_s=max(e.offset_s for e in group),
        n_twitches=len(group),
        channels=tuple(sorted({e.channel for e in group})),
        max_peak_to_peak_uv=max(e.peak_to_peak_uv for e in group),
    )


def group_episodes(events: list[Event], gap_s: float = 30.0) -> list[Episode]:
    """Offline grouping of a finished event list."""
    grouper = EpisodeGrouper(gap_s)
    grouper.process(events)
    return grouper.flush()
