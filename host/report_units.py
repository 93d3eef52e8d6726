"""The report's per-unit section: each recurring source's waveform (member snippets overlaid
on the template), when it fired (a raster), and its measures."""

from __future__ import annotations

import html

import numpy as np

from myotwitch.host.wording import counted

MAX_UNITS = 12
#: a unit with this many twitches or more is a recurring source, in the text and the report alike
RECURRING_MIN = 3
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e",
           "#283593", "#9e9d24", "#00695c", "#5d4037")

NOTE = ("A unit is a waveform that keeps recurring at this electrode position, so its twitches "
        "probably share one source. It is a measured grouping, not an anatomical motor unit and not a diagnosis.")


def _fmt(v, spec: str = ".1f", none: str = "–") -> str:
    return none if v is None else format(v, spec)


def units_html(r: dict) -> str:
    """HTML for the session's ``units`` (empty when there are none)."""
    recurring = recurring_units(r)
    # the largest ``MAX_UNITS``, in the session's order; the rest are named, not dropped unsaid
    shown = {id(u) for u in sorted(recurring, key=lambda u: -u["count"])[:MAX_UNITS]}
    units = [u for u in recurring if id(u) in shown]
    if not units:
        return ""
    rare = unrecurring_note(r)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from myotwitch.host.report import _png

    labels = r.get("channels") or []
    duration_min = max(r["stats"]["duration_s"] / 60.0, 1e-9)
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(units) + 0.9))
    for i, u in enumerate(units):
        t = np.asarray(u.get("onsets_s") or [], dtype=float) / 60.0
        ax.vlines(t, i - 0.4, i + 0.4, color=COLOURS[i % len(COLOURS)], lw=1)
    ax.set_yticks(range(len(units)), [u["unit"] for u in units])
    ax.set_xlim(0, duration_min)
    ax.invert_yaxis()
    ax.set_xlabel("minutes")
    ax.set_title("When each unit fired")
    parts = ["<h3>Recurring sources (units)</h3>", f'<p class="why">{html.escape(NOTE)}</p>', _png(fig)]

    cells = []
    for i, u in enumerate(units):
        cells.append(_unit_card(u, i, labels, plt, _png))
    # (a lone card kept a column of its own size: spread over the page, its small plot was blown up
    # to twice its pixels, blurred)
    parts.append("<div class='grid units'>" + "".join(cells) + "</div>")
    if len(recurring) > len(units):
        rest = [u for u in recurring if id(u) not in shown]
        parts.append(f'<p class="why">{counted(len(rest), "more recurring source")} with fewer twitches, not drawn here: '
                     + html.escape(", ".join(f"{u['unit']} ({u['count']})" for u in rest))
                     + ' (all are in the analysis JSON, <code>units</code>).</p>')
    if rare:
        parts.append(f'<p class="why">{html.escape(rare[0].upper() + rare[1:])}.</p>')
    return "\n".join(parts)


def recurring_units(r: dict) -> list[dict]:
    """The session's units of ``RECURRING_MIN`` twitches or more, in its order."""
    return [u for u in r.get("units") or [] if isinstance(u, dict) and u.get("count", 0) >= RECURRING_MIN]


def unrecurring_note(r: dict) -> str:
    """A sentence naming the waveforms seen fewer than ``RECURRING_MIN`` times, which the text
    and the report leave out (their ids are why the shown units' numbers have gaps); empty
    when there are none."""
    rare = [u for u in r.get("units") or [] if u.get("count", 0) < RECURRING_MIN]
    if not rare:
        return ""
    names = ", ".join(u["unit"] for u in rare[:8]) + (", ..." if len(rare) > 8 else "")
    more = " more" if len(rare) < len(r.get("units") or []) else ""
    return f"{len(rare)}{more} seen only once or twice ({names}): not recurring yet, listed in the JSON"


def _unit_card(u: dict, i: int, labels: list, plt, png) -> str:
    colour = COLOURS[i % len(COLOURS)]
    ch = int(u.get("channel", 0))
    fs = float(u.get("template_fs") or 1000.0)
    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    for s in u.get("snippets") or []:
        if ch < len(s):
            y = np.asarray(s[ch], dtype=float)
            ax.plot(np.arange(y.size) / fs * 1000.0, y, color="#999", lw=0.7, alpha=0.6)
    tmpl = u.get("template") or []
    if ch < len(tmpl):
        y = np.asarray(tmpl[ch], dtype=float)
        ax.plot(np.arange(y.size) / fs * 1000.0, y, color=colour, lw=2, label="template")
    ax.set_xlabel("ms")
    ax.set_ylabel("µV")
    label = labels[ch] if ch < len(labels) else f"channel {ch}"
    ax.set_title(f"{u['unit']}, {u['count']} twitches: members (grey) and template")
    rows = [("count", str(u["count"])),
            ("rate", f"{_fmt(u.get('rate_per_hour'))} per hour"),
            ("median size", f"{_fmt(u.get('median_peak_to_peak_uv'), '.0f')} µV peak-to-peak"),
            ("duration", f"{_fmt(u.get('duration_ms'))} ms"),
            ("phases / turns", f"{_fmt(u.get('phases'), 'd')} / {_fmt(u.get('turns'), 'd')}"),
            ("interval", f"median {_fmt(u.get('isi_median_s'))} s, CV {_fmt(u.get('isi_cv'), '.2f')}"),
            ("seen", f"{_fmt((u.get('first_seen_s') or 0) / 60)}–{_fmt((u.get('last_seen_s') or 0) / 60)} min")]
    if u.get("channels_peak_to_peak_uv"):
        rows.append(("on each channel", ", ".join(
            f"{labels[c] if c < len(labels) else c}: {v:.0f} µV" for c, v in enumerate(u["channels_peak_to_peak_uv"]))))
    if u.get("known_as"):
        rows.append(("seen before as", str(u["known_as"])))
    table = "<table>" + "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"
    return f"<div><h4>{html.escape(u['unit'])} on {html.escape(str(label))}</h4>{png(fig)}{table}</div>"
