"""The history as one self-contained HTML page: dated plots embedded as PNG data URIs, no
scripts (a Content-Security-Policy forbids them), no outside resources, readable on a phone."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import re

from myotwitch.host.history import (
    DIARY_SERIES,
    association_statements,
    counting_statement,
    counts_statement,
    diary_text,
    fmt_rate,
    no_days_statement,
    rule_statements,
    short_statement,
    undated_statement,
)
from myotwitch.host.report import SCROLL_HINT

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSS = SCROLL_HINT + """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:860px;padding:12px;
color:#1b1b1b;line-height:1.45;font-size:16px;overflow-wrap:anywhere}
h1{font-size:1.45em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:1.6em}
img{display:block;width:100%;max-width:760px;height:auto;margin:8px 0}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.92em;min-width:100%}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;white-space:nowrap}.num{text-align:right}
td.wrap{white-space:normal;min-width:12em}
.fires{border-left:5px solid #c62828;padding:6px 10px;background:#fdecea;margin:6px 0}
.quiet{border-left:5px solid #2e7d32;padding:6px 10px;background:#edf7ed;margin:6px 0}
.assoc{border-left:5px solid #1565c0;padding:6px 10px;background:#e8f1fb;margin:6px 0}
.note{background:#fff8e1;padding:8px;border:1px solid #f0d98c}.src{color:#666;font-size:.85em}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=160, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def natural(label: str) -> list:
    """A sort key that puts numbers in a name in their order: unit P2 before unit P10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def _day(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso[:10])


def _num(t: dt.datetime) -> float:
    """Matplotlib's date number: the axes stay dated (day and month on each tick) and typed."""
    import matplotlib.dates as mdates

    return float(mdates.date2num(t))


def plots(h: dict) -> dict[str, str]:
    """name -> base64 PNG: rate (with the fitted trend), hours and episodes, channels, units, diary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plt.rcParams.update({"font.size": 13})
    lo = _day(h["window"]["from"])
    hi = _day(h["window"]["to"]) + dt.timedelta(days=1)
    days = h["days"]
    x = [_num(_day(r["date"]) + dt.timedelta(hours=12)) for r in days]

    def dated(ax) -> None:
        ax.set_xlim(_num(lo), _num(hi))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
        # every tick its day and month ("22 Nov"): a concise axis labelled 08 15 22 with a
        # "2026-Dec" offset was read as December's days when they were November's
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
        ax.grid(axis="y", alpha=0.3)

    out = {}
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(x, [r["rate_per_hour"] for r in days], width=0.8, color="#c62828", alpha=0.85, label="rate per day")
    w = h["rules"]["worsening"]
    if w["line"]:
        ln = w["line"]
        ax.plot([_num(dt.datetime.fromisoformat(ln["from"])), _num(dt.datetime.fromisoformat(ln["to"]))],
                [ln["start_rate_per_hour"], ln["end_rate_per_hour"]], "--", color="#111", lw=2,
                label=f"Theil–Sen fit (fold {w['fold_change']:.2f})")
        ax.legend(loc="upper left", fontsize=9, frameon=False)
    ax.set_ylabel("twitches per hour")
    ax.set_title("Twitch rate per recorded day")
    dated(ax)
    out["rate"] = _png(fig)

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6, 3.6), sharex=True)
    a1.bar(x, [r["hours"] for r in days], width=0.8, color="#607d8b")
    a1.set_ylabel("hours")
    a1.set_title("Hours with data and episodes per day")
    a2.bar(x, [r["episodes"] for r in days], width=0.8, color="#8e24aa")
    a2.set_ylabel("episodes")
    # (no half episodes; at most 4 steps: a day of 34 episodes had labelled every 4th, 0 to 32,
    # and the labels of the 1.3-inch panel ran into each other)
    a2.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    a1.yaxis.set_major_locator(MaxNLocator(nbins=4))
    dated(a1)
    dated(a2)
    out["hours"] = _png(fig)

    for name, key, first in (("channels", "per_channel", h["rules"]["spreading"]["first_seen"]),
                             ("units", "per_unit", h["rules"]["spreading"]["units_first_seen"])):
        labels = sorted({k for r in days for k in r[key]}, key=natural)
        if not labels:
            continue
        # the legend under the plot, in a panel of its own as tall as its rows: drawn over the
        # plot, 39 units' legend had covered the points and run over the date axis below it
        ncol = 4
        rows = -(-len(labels) // ncol)
        fig, (ax, lax) = plt.subplots(2, 1, figsize=(6, 3.2 + 0.19 * rows),
                                      gridspec_kw={"height_ratios": [2.6, 0.19 * rows + 0.05], "hspace": 0.3})
        for i, label in enumerate(labels):
            pts = [(xx, r[key][label]["rate_per_hour"]) for xx, r in zip(x, days) if label in r[key]]
            # (unclipped: a point on the last day or at the top was cut by the frame; past ten
            # lines the colours come round again, each round with another marker)
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], "osD^v"[i // 10 % 5] + "-", ms=3,
                            label=label, clip_on=False)
            if first.get(label):
                ax.axvline(_num(_day(first[label])), color=line.get_color(), ls=":", lw=1.5)
        ax.set_ylabel("twitches per hour")
        ax.set_ylim(bottom=0)  # (a rate from zero: one point alone got an axis of 240-265)
        ax.set_title(f"Rate per {name[:-1]} (dotted: first seen)")
        dated(ax)
        lax.axis("off")
        lax.legend(*ax.get_legend_handles_labels(), loc="upper center", fontsize=8, frameon=False, ncol=ncol,
                   borderaxespad=0)
        out[name] = _png(fig)

    diary = h["diary"]
    kinds = [k for k in DIARY_SERIES if any(r.get(k) is not None for r in diary)]
    marks = [r for r in diary if r["symptoms"] or r["medication"]]
    if kinds or marks:
        rows = len(kinds) + (1 if marks else 0)
        fig, axes = plt.subplots(rows, 1, figsize=(6, 1.25 * rows + 0.6), sharex=True, squeeze=False)
        for ax, kind in zip(axes[:, 0], kinds):
            pts = [(_num(_day(r["date"]) + dt.timedelta(hours=12)), r[kind]) for r in diary if r.get(kind) is not None]
            ax.bar([p[0] for p in pts], [p[1] for p in pts], width=0.8, color="#1565c0")
            ax.set_ylabel(f"{kind}\n({DIARY_SERIES[kind][1]})", fontsize=9)
            dated(ax)
        if marks:
            ax = axes[-1, 0]
            notes = []
            for r in marks:
                at = _num(_day(r["date"]) + dt.timedelta(hours=12))
                ax.plot([at], [0], "v", color="#c62828", ms=9)
                notes.append(ax.annotate(", ".join(r["symptoms"] + r["medication"]).replace("_", " "), (at, 0),
                                         xytext=(0, 8), textcoords="offset points", ha="center", fontsize=7))
            ax.set_yticks([])
            ax.set_ylabel("symptoms,\nmedicines", fontsize=9)
            dated(ax)
            _unstack(fig, ax, notes)
        axes[0, 0].set_title("Diary")
        out["diary"] = _png(fig)
    return out


def _unstack(fig, ax, notes: list) -> None:
    """Raise a diary label that would overprint one before it (a symptom and a medicine logged 4
    days apart on a 90-day axis had read "weakmagnesium") a line above it, up to four lines."""
    renderer = fig.canvas.get_renderer()
    placed: list = []
    for note in notes:
        for level in range(4):
            note.xyann = (0, 8 + 9 * level)
            box = note.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        placed.append(note.get_window_extent(renderer))


def _table(head: list[str], rows: list[list[str]], wrap_last: bool = False) -> str:
    """First column a label, the rest numbers (right-aligned); a long last text column wraps."""
    def cls(i: int, n: int) -> str:
        return "" if i == 0 else " class=wrap" if wrap_last and i == n - 1 else " class=num"

    th = "".join(f"<th{cls(i, len(head))}>{html.escape(c)}</th>" for i, c in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td{cls(i, len(r))}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<div class=scroll><table><tr>{th}</tr>{body}</table></div>"


def render_history(h: dict) -> str:
    """The page as a string."""
    pics = plots(h)
    w = h["window"]
    parts = [f"<h1>Your twitches over {w['days']} days</h1>",
             f"<p>{html.escape(w['from'])} to {html.escape(w['to'])}: {html.escape(counts_statement(h))}. Rates are twitches per hour the detector searched (recorded data less its start-up and the settling after gaps). Generated "
             f"{html.escape(h['generated'][:16].replace('T', ' '))}.</p>"]
    if h["undated"]["count"]:
        parts.append(f"<p class=note>{html.escape(undated_statement(h))}</p>")
    if short_statement(h):
        parts.append(f"<p class=note>{html.escape(short_statement(h))}</p>")
    if counting_statement(h):
        parts.append(f"<p class=note>{html.escape(counting_statement(h))}</p>")
    if not h["days"]:
        text = no_days_statement(h)
        parts.append(f"<p class=note>{html.escape(text[0].upper() + text[1:])}</p>")
    parts.append("<h2>What the time rules measured</h2>")
    for _, fires, text in rule_statements(h):
        parts.append(f"<div class={'fires' if fires else 'quiet'}>{html.escape(text)}</div>")
    parts.append(f"<p class=src>Same definitions and thresholds as the advice (rules file "
                 f"{html.escape(h['rules_file'].rsplit('/', 1)[-1])}).</p>")
    if "rate" in pics:
        parts.append(_img(pics["rate"], "twitch rate per recorded day"
                          + (" with the fitted trend line" if h["rules"]["worsening"]["line"] else "")))
        parts.append(_img(pics["hours"], "hours with data and episodes per day"))
    for name in ("channels", "units"):
        if name in pics:
            parts.append(_img(pics[name], f"rate per {name[:-1]} per day"))
    parts.append("<h2>Diary</h2>")
    parts.append(_img(pics["diary"], "diary: caffeine, sleep, stress, exercise, fluids, symptoms")
                 if "diary" in pics else "<p>No diary entries in this window (add some with "
                 "<code>myotwitch log</code>).</p>")
    parts.append("<h2>Associations</h2>")
    for _, associated, text in association_statements(h):
        parts.append(f"<div class=assoc>{'<b>association</b>: ' if associated else ''}{html.escape(text)}</div>")
    parts.append("<p class=src>Associations say what went together in your own records, not what causes what.</p>")
    diary = {r["date"]: r for r in h["diary"]}
    recorded = {r["date"]: r for r in h["days"]}
    parts.append("<h2>Days</h2>")
    # every day with a recording or a diary entry, as the terminal and the CSV list them (a
    # symptom logged on a day without a recording was missing here)
    parts.append(_table(["date", "hours", "twitches", "rate", "episodes", "diary"],
                        [[day, *([f"{r['hours']:.2f}", str(r["twitches"]), fmt_rate(r["rate_per_hour"]),
                                  str(r["episodes"])] if (r := recorded.get(day)) else ["–"] * 4),
                          diary_text(diary.get(day))] for day in sorted(set(recorded) | set(diary))],
                        wrap_last=True))
    if h["channels"]:
        parts.append("<h2>Channels and units</h2>")
        rows = [[k, str(v["twitches"]), fmt_rate(v["rate_per_hour"]), v["first_seen"] or "–"]
                for k, v in h["channels"].items()]
        rows += [[k, str(v["twitches"]), fmt_rate(v["rate_per_hour"]), v["first_seen"] or "–"]
                 for k, v in h["units"].items()]
        parts.append(_table(["channel / unit", "twitches", "rate", "first seen"], rows, wrap_last=True))
    items = h["advice"]["items"]
    if items:
        parts.append("<h2>Advice</h2>")
        level_class = {"consult": "fires", "self-care": "quiet", "info": "assoc"}
        for i in items:
            # (each item names the article's section it paraphrases, as the analysis report, the
            # terminal and the live app do; the page had left it out)
            parts.append(f"<div class={level_class.get(i['level'], 'assoc')}><b>{html.escape(i['level'])}</b>: "
                         f"{html.escape(i['text'])}" + (f"<div class=src>why: {html.escape(i['why'])}</div>"
                                                        if i["why"] else "")
                         + f"<div class=src>source: reference article, section “{html.escape(i['section'])}”</div>"
                         + "</div>")
    parts.append(f"<p class=note>{html.escape(h['advice']['notice'])}</p>")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<meta name=viewport content='width=device-width, initial-scale=1'><title>myotwitch history</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")


def write_history_report(path: str, h: dict) -> None:
    text = render_history(h)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
