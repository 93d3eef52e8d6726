"""Self-contained HTML reports: plots embedded as PNG, readable on a phone."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
from collections.abc import Sequence

import numpy as np

from myotwitch.host.advice import MIN_SESSION_MINUTES, searched_s
from myotwitch.host.report_units import units_html
from myotwitch.host.wording import (
    counted,
    file_names,
    hms,
    local_clock,
    on_local_clock,
    per_channel,
    rate_text,
    when,
)

#: a shadow at the edge a table (or wide plot) can be swiped towards, so a phone shows that
#: more lies beyond it (pure CSS: the pages run no scripts)
SCROLL_HINT = """
.scroll,.wide{background:linear-gradient(to right,#fff 30%,#fff0),linear-gradient(to right,#fff0,#fff 70%) 100% 0,
radial-gradient(farthest-side at 0 50%,#0003,#0000),radial-gradient(farthest-side at 100% 50%,#0003,#0000) 100% 0;
background-repeat:no-repeat;background-size:40px 100%,40px 100%,14px 100%,14px 100%;
background-attachment:local,local,scroll,scroll}
"""
#: a plot this many inches wide or more keeps a readable size on a phone and scrolls sideways
WIDE_IN = 8.0

CSS = SCROLL_HINT + """
@media (max-width:700px){.wide{overflow-x:auto}.wide img{width:700px;max-width:none}}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:980px;padding:12px;
color:#1b1b1b;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.6em}
img{width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:.92em}
.scroll{overflow-x:auto;max-width:100%}h1,h2,h3,p{overflow-wrap:anywhere}td,th{overflow-wrap:break-word}
.num,th{white-space:nowrap}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}.num{text-align:right}
.consult{border-left:5px solid #c62828;padding:6px 10px;background:#fdecea;margin:6px 0}
.self-care{border-left:5px solid #2e7d32;padding:6px 10px;background:#edf7ed;margin:6px 0}
.info{border-left:5px solid #1565c0;padding:6px 10px;background:#e8f1fb;margin:6px 0}
.warn{border-left:5px solid #ef6c00;padding:6px 10px;background:#fff3e0;margin:6px 0}
.why{color:#555;font-size:.9em}.src{color:#777;font-size:.85em}.notice{background:#fff8e1;padding:8px;
border:1px solid #f0d98c}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(300px,100%),1fr));gap:8px}
.units{grid-template-columns:repeat(auto-fill,minmax(min(420px,100%),1fr))}.units img{max-width:480px}
"""


def _png(fig) -> str:
    """The figure as an inline PNG, its alternative text the figure's titles (for screen readers
    and when images are off: every image was "plot")."""
    sup = getattr(fig, "_suptitle", None)  # (Figure.get_suptitle needs matplotlib 3.8; 3.7 is allowed)
    titles = [t for t in ([sup.get_text()] if sup is not None else []) + [a.get_title() for a in fig.axes] if t]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    alt = html.escape("; ".join(dict.fromkeys(titles)) or "plot", quote=True)
    img = f'<img alt="{alt}" src="data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode() + '">'
    return f"<div class=wide>{img}</div>" if fig.get_figwidth() >= WIDE_IN else img


#: the timeline draws this many channels at most (one panel each)
TIMELINE_CHANNELS = 4


def _select_as_analysed(reader, names: list[str]) -> bool:
    """Pick the reader's channels that the analysis used (``analyze --channels soleus``: the
    panel named soleus drew the file's first channel), by position, so that labels holding
    digits or repeated labels cannot be misread as a selection. False when one is not among
    them (a signal that is no voltage, read only when chosen; or the file changed since)."""
    labels = list(reader.labels)
    if not names or labels == names:
        return True
    used: list[int] = []
    for name in names:
        i = next((k for k, lab in enumerate(labels) if lab == name and k not in used), None)
        if i is None:
            return False
        used.append(i)
    reader.select([str(i) for i in used])
    return True


def _signal_views(r: dict, bins: int = 1500, units: str | None = None, keep_bad: bool = False):
    """One pass over the file: a min/max envelope per channel (up to ``TIMELINE_CHANNELS``) for
    the timeline, the largest twitches' snippets (each from its own channel), a PSD of
    channel 0. ``units``: the CSV units the analysis read the file in (``analyze --units``);
    ``keep_bad``: it analysed the stretches the file marks bad (``--keep-bad``), so they are drawn."""
    from scipy import signal as sps

    from myotwitch.dsp.filters import bandpass_sos
    from myotwitch.host.analysis import open_reader
    from myotwitch.host.errors import FormatError

    def read(channels: list[str] | None = None):  # (as the analysis read it)
        return open_reader(r["file"], channels, units=units, keep_bad=keep_bad)

    try:
        reader = read()
    except FormatError:  # (signals of several rates: only the ones analysed can be opened together)
        reader = read(r.get("channels") or None)
    if not _select_as_analysed(reader, r.get("channels") or []):
        try:  # (a channel chosen with --channels that is read only when chosen: "Status" had drawn EXG2)
            reader = read(r.get("channels"))
        except FormatError:
            pass  # (the file changed since: draw it as it is)
    fs, n = reader.fs, max(reader.n_samples, 1)
    edges = np.linspace(0, n, bins + 1).astype(np.int64)
    shown = min(TIMELINE_CHANNELS, max(len(r.get("channels") or []), 1))
    lo = np.full((shown, bins), np.nan)
    hi = np.full((shown, bins), np.nan)
    sos = bandpass_sos(20.0, min(450.0, 0.45 * fs), fs, 2)
    # the mains the analysis found and removed is notched out of the drawing too: its hum had
    # drawn a band of ±30 µV around the trace, hiding the smaller twitches marked on it
    hum = [h for h in ((r.get("quality") or {}).get("mains") or {}).get("harmonics_hz") or []
           if isinstance(h, (int, float)) and 0 < h < 0.45 * fs]
    for h in hum:
        num, den = sps.iirnotch(h, 30.0, fs)
        sos = np.vstack([sos, sps.tf2sos(num, den)])
    twitch = [e for e in r.get("events", []) if e["kind"] == "twitch"]
    twitch = sorted(twitch, key=lambda e: -e["snr_db"])[:30]
    wanted = {(int(e["onset_s"] * fs), e["channel"]) for e in twitch}
    pre, post = int(0.02 * fs), int(0.06 * fs)
    snippets = []
    psd_data: list[np.ndarray] = []
    for first, x in reader.iter_records():
        shown = min(shown, x.shape[0])
        ys = {}
        for c in sorted({c for _, c in wanted} | set(range(shown))):
            if c >= x.shape[0]:
                continue
            raw = np.nan_to_num(x[c].astype(np.float64))
            y = sps.sosfiltfilt(sos, raw) if raw.size > 30 else raw
            y[~np.isfinite(x[c])] = np.nan
            ys[c] = y
        b0 = np.searchsorted(edges, first, side="right") - 1
        b1 = np.searchsorted(edges, first + x.shape[1], side="right")
        for b in range(max(b0, 0), min(b1, bins)):
            a, z = max(edges[b] - first, 0), min(edges[b + 1] - first, x.shape[1])
            for c in range(shown):
                seg = ys[c][a:z]
                if z > a and np.isfinite(seg).any():
                    lo[c, b] = np.fmin(lo[c, b], np.nanmin(seg))
                    hi[c, b] = np.fmax(hi[c, b], np.nanmax(seg))
        for onset, c in sorted(wanted):
            if first <= onset - pre and onset + post <= first + x.shape[1] and c in ys:
                snippets.append(ys[c][onset - pre - first: onset + post - first])
        if sum(p.size for p in psd_data) < 300 * fs:
            ch0 = np.nan_to_num(x[0].astype(np.float64))
            psd_data.append(ch0 - np.median(ch0))
    raw = np.concatenate(psd_data) if psd_data else np.zeros(16)
    f, p = sps.welch(raw, fs=fs, nperseg=int(min(fs * 2, raw.size)))
    return fs, edges, lo[:shown], hi[:shown], snippets, (f, p)


def _plots(r: dict, units: str | None = None, keep_bad: bool = False) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    from myotwitch.host.edf import read_quietly

    with read_quietly():  # (its warnings were said when it was analysed)
        fs, edges, lo, hi, snippets, (f, p) = _signal_views(r, units=units, keep_bad=keep_bad)
    t = edges[:-1] / fs / 60
    events = r.get("events", [])
    labels = list(r.get("channels") or [])
    n_ch = lo.shape[0]
    fig, axes = plt.subplots(n_ch, 1, figsize=(10, 1.2 + 1.6 * n_ch), sharex=True, squeeze=False)
    for c, ax in enumerate(axes[:, 0]):
        ax.fill_between(t, lo[c], hi[c], color="#555", lw=0, step="mid")
        top = np.nanmax(hi[c]) if np.isfinite(hi[c]).any() else 1
        mine = [e for e in events if e.get("channel", 0) == c]
        for e in mine:
            if e["kind"] == "contraction":
                ax.axvspan(e["onset_s"] / 60, e["offset_s"] / 60, color="#f0b429", alpha=0.35, lw=0)
        tw = [e["onset_s"] / 60 for e in mine if e["kind"] == "twitch"]
        ax.plot(tw, [top * 1.05] * len(tw), "v", color="#c62828", ms=4, label="twitch")
        art = [e["onset_s"] / 60 for e in mine if e["kind"] == "artifact"]
        ax.plot(art, [top * 1.12] * len(art), "x", color="#888", ms=4, label="artefact")
        for g in r.get("gaps", []):
            ax.axvspan(g["onset_s"] / 60, (g["onset_s"] + g["duration_s"]) / 60, color="#90caf9", alpha=0.5, lw=0)
        ax.set_ylabel(f"µV\n{labels[c] if c < len(labels) else f'channel {c}'}", fontsize=8)
    axes[-1, 0].set_xlabel("minutes from start")
    more = f" (first {n_ch} of {len(labels)} channels)" if len(labels) > n_ch else ""
    hummed = (r.get("quality") or {}).get("mains") or {}
    axes[0, 0].set_title("Timeline, band-passed" + (", mains removed" if hummed.get("harmonics_hz") else "")
                         + ": twitches ▼ and artefacts × on the channel they were counted on; "
                         f"contractions yellow, gaps blue{more}", fontsize=9)
    out["timeline"] = _png(fig)

    counts, hours, width = rate_bins(r)
    fig, ax = plt.subplots(figsize=(10, 2.4))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(hours > 0, counts / hours, np.nan)  # (a bin without data has no bar, not a 0)
    ax.bar(np.arange(len(counts)) * width, rate, width=width * 0.9, align="edge", color="#c62828")
    ax.set_xlabel("minutes from start")
    ax.set_ylabel("twitches per hour")
    # (a rate from zero; with no twitch anywhere matplotlib had drawn an axis of -0.04 to 0.04
    # with no bar on it, which read as a broken plot rather than as 0 an hour)
    ax.set_ylim(0, None if np.nanmax(rate, initial=0.0) > 0 else 1)
    ax.set_title(f"Twitch rate in {width}-minute bins (per hour searched)")
    out["rate"] = _png(fig)

    amps = [e["peak_to_peak_uv"] for e in events if e["kind"] == "twitch"]
    if not amps:  # (two empty plots had read "The 0 clearest twitches")
        out["amplitudes"], out["waveforms"] = "<p>No twitches were found, so there are no sizes or " \
            "waveforms to show.</p>", ""
        return _spectrum(out, r, labels, f, p, plt)
    fig, ax = plt.subplots(figsize=(5, 3))
    edges = np.logspace(np.log10(max(min(amps), 1)), np.log10(max(amps) + 1), 20).tolist()
    ax.hist(amps, bins=edges, color="#1565c0")
    ax.set_xscale("log")
    ax.set_xlabel("peak-to-peak (µV)")
    ax.set_ylabel("twitches")
    ax.set_title("Twitch sizes")
    out["amplitudes"] = _png(fig)

    fig, ax = plt.subplots(figsize=(5, 3))
    tt = (np.arange(int(0.08 * fs)) - int(0.02 * fs)) / fs * 1000
    for s in snippets:
        ax.plot(tt[: len(s)], s, lw=0.8, alpha=0.6)
    ax.set_xlabel("ms from onset")
    ax.set_ylabel("µV")
    ax.set_title(f"The {len(snippets)} clearest twitches, each on its channel")
    out["waveforms"] = _png(fig)
    return _spectrum(out, r, labels, f, p, plt)


def _spectrum(out: dict[str, str], r: dict, labels: list, f: np.ndarray, p: np.ndarray, plt) -> dict[str, str]:
    fig, ax = plt.subplots(figsize=(10, 2.8))
    ax.semilogy(f, np.maximum(p, 1e-12), color="#333", lw=0.8)
    lo_hz, hi_hz = r["detector"]["band_low_hz"], r["detector"]["band_high_hz"] or min(450, 0.45 * r["fs"])
    ax.axvspan(lo_hz, hi_hz, color="#a5d6a7", alpha=0.3, label="detection band")
    mains = (r["quality"].get("mains") or {})
    for h in mains.get("harmonics_hz") or []:
        ax.axvline(h, color="#c62828", lw=0.8, ls="--")
    ax.set_xlabel("Hz")
    ax.set_ylabel("µV²/Hz")
    name = labels[0] if labels else "channel 0"
    ax.set_title(f"Spectrum (first 5 min, {name}): band shaded" + (", mains lines dashed" if mains.get("harmonics_hz") else ""))
    out["spectrum"] = _png(fig)
    return out


def rate_bins(r: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """(twitches, hours searched, bin width in minutes) per bin of the session: a bin's rate is
    per hour of its data the detector searched, as the session's is, so a 20 s recording's
    one-minute bin, the last bin's part of one, and a bin with gaps no longer read a third (or
    less) of the rate, nor one after many gaps low by the share its detector was blind (its
    start-up, the settling after each gap: ``unsearched``; a summary from before they were kept
    has none, and its bins keep those seconds)."""
    dur_s = max(float(r["stats"]["duration_s"]), 1e-9)
    dur_min = dur_s / 60
    width = 10 if dur_min > 30 else max(1, int(dur_min // 6) or 1)
    nb = max(int(np.ceil(dur_min / width)), 1)
    counts = np.zeros(nb)
    for e in r.get("events", []):
        if e["kind"] == "twitch":
            counts[min(int(e["onset_s"] / 60 // width), nb - 1)] += 1
    lo = np.arange(nb) * width * 60.0
    hi = np.minimum(lo + width * 60.0, dur_s)
    seconds = np.maximum(hi - lo, 0.0)
    for g in [*r.get("gaps", []), *r.get("unsearched", [])]:
        g0, g1 = float(g["onset_s"]), float(g["onset_s"]) + float(g["duration_s"])
        seconds -= np.clip(np.minimum(hi, g1) - np.maximum(lo, g0), 0.0, None)
    return counts, np.maximum(seconds, 0.0) / 3600, width


def _advice_html(advice: dict | None) -> str:
    if not advice:
        return ""
    parts = ["<h2>Advice</h2>"]
    for item in advice["items"]:
        why = f'<div class="why">why: {html.escape(item["why"])}</div>' if item["why"] else ""
        parts.append(f'<div class="{_e(item["level"])}"><b>{_e(item["level"])}</b>: {_e(item["text"])}'
                     f'{why}<div class="src">source: reference article, section “{html.escape(item["section"])}”</div></div>')
    parts.append(f'<p class="notice">{html.escape(advice["notice"])}</p>')
    return "\n".join(parts)


def _session_html(r: dict, units: str | None = None, keep_bad: bool = False, name: str | None = None) -> str:
    st, q = r["stats"], r["quality"]
    plots = _plots(r, units, keep_bad)
    mains = q.get("mains") or {}
    rows = [("Duration", f"{hms(st['duration_s'])} ({hms(st['valid_s'])} with data)"),
            ("Twitches", f"{st['counts']['twitch']} ({rate_text(st['twitches_per_hour'])})"),
            ("Per channel", ", ".join(f"{lab}: {n}" for lab, n in zip(r["channels"], st["twitches_per_channel"]))),
            ("Episodes", str(st["episodes"])),
            ("Rejected", f"{counted(st['counts']['contraction'], 'contraction')}, "
                         f"{counted(st['counts']['artifact'], 'artefact')}"),
            ("Noise floor", per_channel(r.get("channels") or [], q["noise_floor_uv_rms"]) + " µV RMS"),
            ("Mains", f"{mains['frequency_hz']:g} Hz, {mains['level_uv_rms']:.1f} µV RMS (removed)"
             if mains.get("frequency_hz") else "not detected"),
            ("Gaps", f"{q['gaps']} ({q['gap_s']:.1f} s)")]
    table = "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"
    # what went wrong while reading or counting (a truncated file, a channel left out, a floor
    # over the resting bar where nothing counts): the terminal said it, the page had kept it back
    warned = "".join(f'<div class="warn"><b>warning</b>: {_e(w)}</div>' for w in q.get("warnings") or [])
    episodes = ""
    if r["episodes"]:
        episodes = ("<h3>Episodes</h3><table><tr><th>start (min)</th><th class=num>length (s)</th>"
                    "<th class=num>twitches</th><th class=num>largest (µV)</th></tr>" + "".join(
                        f"<tr><td>{_n(e['start_s'] / 60, '.1f')}</td><td class=num>{_n(e['duration_s'], '.0f')}</td>"
                        f"<td class=num>{_n(e['n_twitches'], 'd')}</td><td class=num>{_n(e['max_peak_to_peak_uv'], '.0f')}</td></tr>"
                        for e in r["episodes"][:50]) + "</table>")
    return (f"<h2>{_e(name or os.path.basename(r['file']))}</h2><p>{_e(when(r.get('start')))}</p>{table}{warned}"
            f"{plots['timeline']}{plots['rate']}<div class=grid>{plots['amplitudes']}{plots['waveforms']}</div>"
            f"{plots['spectrum']}{episodes}{units_html(r)}")


def _trend_html(results: list[dict], names: dict[str, str]) -> str:
    rs = sorted(results, key=lambda r: (local_clock(r.get("start")), r["file"]))
    from myotwitch.host.edf import person_of

    who = [person_of(r["file"]) for r in rs]
    several = len({w for w in who if w}) > 1
    fig = trend_figure(rs, who if several else None)
    # (the hours are those searched, which the rates are over: per hour is twitches over hours;
    # a batch of several people's files says whose each row is, as its plot draws a line each)
    rows = "".join(f"<tr><td>{_e(local_clock(r.get('start'))[:16])}</td>"
                   + (f"<td>{_e(w or '–')}</td>" if several else "") + f"<td>{_e(names[r['file']])}"
                   f"</td><td class=num>{_e(rate_text(r['stats']['twitches_per_hour'], '.1f', ''))}</td><td class=num>"
                   f"{_n(r['stats']['counts']['twitch'], 'd')}</td><td class=num>{_n(searched_s(r['stats']) / 3600, '.2f')}</td></tr>"
                   for r, w in zip(rs, who))
    return ("<h2>Across sessions</h2>" + _png(fig) + "<table><tr><th>start</th>"
            + ("<th>person</th>" if several else "") + "<th>file</th><th class=num>per hour</th>"
            "<th class=num>twitches</th><th class=num>hours</th></tr>" + rows + "</table>")


def _too_short(r: dict) -> bool:
    """Under the minute of data ``history`` and the advice want for a rate (``split_short``)."""
    st = r["stats"]
    return float(st.get("valid_s", st["duration_s"])) < 60.0 * MIN_SESSION_MINUTES


def _rate_or_nan(r: dict) -> float:
    """A session's rate for the trend line; NaN (no point) where it has none: no usable data,
    or under a minute of it (three 8 s files, 0, 0 and 960/h from 2 twitches, had stood among
    3-minute nights as the line's lowest and a high point; history leaves them out)."""
    rate = r["stats"]["twitches_per_hour"]
    return float("nan") if rate is None or _too_short(r) else float(rate)


def trend_figure(rs: list[dict], who: list[str | None] | None = None):
    """Rate per session on a date axis (dated ticks, never fractional session numbers).
    Sessions without a start time cannot be placed in time: they are left out and counted in
    the title; with none dated, the axis is whole session numbers. ``who``: the person each
    session is of, when they are several: a line each (three participants' nights had been
    joined into one line, read as one person's trend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(10, 2.8))
    dated = [r for r in rs if r.get("start")]
    if dated:
        # (on the local clock: a CSV's Unix start carries its UTC offset, an EDF's start has none)
        x: list = [on_local_clock(dt.datetime.fromisoformat(r["start"])) for r in dated]
        if who is None:
            ax.plot(x, [_rate_or_nan(r) for r in dated], "o-", color="#c62828")
        else:
            whose = [w for r, w in zip(rs, who) if r.get("start")]
            for person in sorted({w or "–" for w in whose}):
                mine = [i for i, w in enumerate(whose) if (w or "–") == person]
                ax.plot([x[i] for i in mine], [_rate_or_nan(dated[i]) for i in mine], "o-", label=person)
            ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        locator = mdates.AutoDateLocator(minticks=2, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        # (days with their month, "08 Oct": by default they read "08", "15", "22" beside an
        # offset "2026-Nov", the last tick's month, for nights from 5 October)
        concise = mdates.ConciseDateFormatter(locator)
        concise.formats[2], concise.offset_formats[2] = "%d %b", "%Y"
        ax.xaxis.set_major_formatter(concise)
        # (the sessions' span whether or not they have points: all under a minute, none has)
        pad = max(dt.timedelta(hours=1), (max(x) - min(x)) * 0.05)
        ax.set_xlim(min(x) - pad, max(x) + pad)
    else:
        ax.plot(range(1, len(rs) + 1), [_rate_or_nan(r) for r in rs], "o-", color="#c62828")
        ax.set_xlim(0.5, len(rs) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("session (no start times recorded)")
    ax.set_ylabel("twitches per hour")
    ax.set_ylim(bottom=0)  # (a rate from zero: without the short files' 0/h the axis began at 180)
    undated = len(rs) - len(dated) if dated else 0
    short = sum(1 for r in (dated or rs) if _too_short(r))
    left = [f"{undated} without a start time"] if undated else []
    left += [f"{short} under {MIN_SESSION_MINUTES:g} min of data"] if short else []
    ax.set_title("Sessions over time" + (f" ({' and '.join(left)} not shown)" if left else ""))
    return fig


def _e(value: object) -> str:
    """Every value that reaches the page is escaped, numbers included (they may come from a file)."""
    return html.escape(str(value), quote=True)


def _n(value: object, spec: str) -> str:
    """A number formatted and escaped; anything else shown as escaped text."""
    try:
        return _e(format(value, spec))
    except (TypeError, ValueError):
        return _e(value)


#: the report runs no script at all; images are embedded data: URIs, styles inline
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def write_report(path: str, results: list[dict], units: str | None = None, keep_bad: bool = False,
                 failed: Sequence[dict] = ()) -> None:
    """``units``: ``analyze --units``, the units its CSV files were read in (the plots read the
    files again, and drew a file in mV at a thousandth of its size); ``keep_bad``: ``--keep-bad``,
    so the stretches the files mark bad are drawn as they were analysed; ``failed``: the batch's
    files that could not be analysed (``file``, ``error``), named at the top."""
    body = []
    if failed:
        body.append(f"<h2>Not analysed ({len(failed)})</h2>" + "".join(
            f'<div class="warn">{_e(f["error"])}</div>' for f in failed))
    # (a study's P01/night 1.edf and P02/night 1.edf: by base name alone the table and the
    # headings named four files "night 1.edf", whose participant the page no longer said)
    names = file_names([r["file"] for r in results])
    if len(results) > 1:
        body.append(_trend_html(results, names))
    for r in results:
        body.append(_session_html(r, units, keep_bad, names[r["file"]]))
    body.append(_advice_html(results[-1].get("advice")))
    doc = (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
           f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"><meta name=viewport "
           f"content='width=device-width, initial-scale=1'><title>myotwitch report</title><style>{CSS}</style></head>"
           f"<body><h1>myotwitch report</h1><p>Generated {dt.datetime.now():%Y-%m-%d %H:%M}. Twitch counts from surface "
           f"EMG; not a medical device.</p>{''.join(body)}</body></html>")
    # a wide table scrolls inside its own box on a phone, never the page
    doc = doc.replace("<table>", "<div class=scroll><table>").replace("</table>", "</table></div>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(doc)
