"""Twitches over weeks: per-day rates, the diary beside them, and what each time rule of the
advice (persistent, worsening, spreading) measured. Every verdict and number comes from the
advice engine's own functions and rules file, so the history explains the advice instead of
re-deriving it. Used by ``myotwitch history`` (text, JSON, CSV, HTML) and the live app."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import math
import os
import statistics
from collections import defaultdict

from myotwitch.host.advice import (
    METRICS,
    MIN_SESSION_MINUTES,
    RuleSet,
    compute_metrics,
    counting_note,
    counting_summary,
    daily_rates,
    evaluate,
    rule_recordings,
    searched_s,
    site_changes,
    split_short,
    without_usable_data,
)
from myotwitch.host.index import distinct_sessions
from myotwitch.host.report_units import recurring_units
from myotwitch.host.wording import counted, wrap

SCHEMA = "myotwitch.history/1"
#: diary kinds drawn beside the rates, with how a day's entries combine and the unit shown
DIARY_SERIES = {"caffeine": ("sum", "mg"), "sleep": ("sum", "h"), "stress": ("mean", "1-5"),
                "exercise": ("max", "0-3"), "fluids": ("sum", "l")}


def _rate(twitches: float, seconds: float) -> float:
    return twitches / max(seconds / 3600, 1e-9)


def _named_units(s: dict) -> list[dict]:
    """The session's units with a lasting name (host/unit_registry.py): only those are the same
    source from one session to the next. A per-session label ("U2") is not: two files' U2 had
    been added up as one unit."""
    return [u for u in s.get("units") or [] if isinstance(u, dict) and u.get("known_as")]


def _unit_label(u: dict) -> str:
    return f"unit {u['known_as']}"


def build_history(sessions: list[dict], diary: list[dict], ruleset: RuleSet, *, days: int,
                  now: dt.datetime | None = None) -> dict:
    """The history of the last ``days`` days as plain data (JSON-ready apart from NaN cleaning).
    ``sessions`` are index rows, undated ones included (they are counted, not placed in time)."""
    now = now or dt.datetime.now()
    # (a night and a copy of it cut short, or exported again, are one recording: had been added twice)
    sessions = distinct_sessions(sessions)
    rs = dataclasses.replace(ruleset, definitions={**ruleset.definitions, "window_days": days})
    d = rs.definitions
    since = now - dt.timedelta(days=days)
    undated = [s for s in sessions if s.get("start") is None]
    dated = sorted((s for s in sessions if s.get("start") is not None and s["start"] >= since),
                   key=lambda s: s["start"])
    dated, short = split_short(dated, d)
    diary = [e for e in diary if e["time"] >= since]
    # the defaults the rules see when unmeasured; (the short ones too: it parts them again the
    # same way, and joins them into their recordings first)
    m = {**METRICS, **compute_metrics(dated + short, diary, rs, now)}

    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for s in dated:
        by_day[s["start"].date()].append(s)
    rates = daily_rates(by_day)
    # a unit can only be seen where its electrodes were: its rate is over the hours of the
    # sessions recorded with the same channels as one that named it (a night at another site
    # is no time it was silent)
    unit_sites: dict[str, set[tuple]] = defaultdict(set)
    for s in dated:
        for u in _named_units(s):
            unit_sites[_unit_label(u)].add(tuple(s.get("channels") or ()))

    def unit_hours_in(label: str, ss: list[dict]) -> float:
        return sum(searched_s(x) for x in ss if tuple(x.get("channels") or ()) in unit_sites[label])

    day_rows = []
    for day in sorted(by_day):
        ss = by_day[day]
        # (the hours are those searched, as the rates are over; ``valid_s`` in older rows)
        searched = sum(searched_s(s) for s in ss)
        per_channel: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        per_unit: dict[str, int] = defaultdict(int)
        for s in ss:
            for label, n in zip(s.get("channels") or [], s.get("per_channel") or []):
                per_channel[label][0] += n
                per_channel[label][1] += searched_s(s)  # (on any channel: none kept per channel)
            for u in _named_units(s):
                per_unit[_unit_label(u)] += int(u.get("count") or 0)
        day_rows.append({
            "date": day.isoformat(), "sessions": len(ss), "hours": searched / 3600,
            "recorded_hours": sum(s["duration_s"] for s in ss) / 3600,
            "twitches": sum(s["twitches"] for s in ss), "rate_per_hour": rates[day],
            "episodes": sum(s.get("episodes") or 0 for s in ss),
            "twitch_day": rates[day] >= d["persistent_min_rate"],
            "per_channel": {k: {"twitches": int(n), "rate_per_hour": _rate(n, v)} for k, (n, v) in per_channel.items()},
            # a unit's rate over the day's hours at its site: it is silent in the sessions there
            # it is missing from (over its own sessions' hours alone, 19 twitches read 142/h
            # where the day's 0.43 h give 44/h)
            "per_unit": {k: {"twitches": n, "rate_per_hour": _rate(n, unit_hours_in(k, ss))}
                         for k, n in per_unit.items()},
        })

    first_seen: dict[str, str] = {}
    for s in dated:
        for label, n in zip(s.get("channels") or [], s.get("per_channel") or []):
            if n > 0 and label not in first_seen:
                first_seen[label] = s["start"].date().isoformat()
    # (the rules weigh recordings, a night's rotated files as one: so are they stated here)
    recs = rule_recordings(dated, short, d)
    sites = site_changes(recs)
    channels = {}
    for label, v in sites.items():
        # (the counts and hours are the files' that give a rate, as the days' are: a recording's
        # short file, joined in for the rules, had added its twitches over none of its hours)
        here = [(n, searched_s(s)) for s in dated for lab, n in zip(s.get("channels") or [], s.get("per_channel") or [])
                if lab == label]
        n, hours = sum(k for k, _ in here), sum(h for _, h in here)
        channels[label] = {"twitches": n, "hours": hours / 3600,
                           "rate_per_hour": _rate(n, hours), "first_seen": first_seen.get(label),
                           "early_rate_per_hour": v["early_rate"], "late_rate_per_hour": v["late_rate"],
                           "late_twitches": v["late_twitches"], "new": v["new"]}
    unit_sessions = [s for s in dated if _named_units(s)]
    # (the recurring ones only, as `analyze` and its report list them: a waveform seen once or
    # twice is no unit there, and was counted here)
    unnamed = sum(1 for s in dated for u in recurring_units(s) if not u.get("known_as"))
    units: dict[str, dict] = {}
    for s in unit_sessions:
        for u in _named_units(s):
            row = units.setdefault(_unit_label(u), {"unit": u.get("unit"), "channel": u.get("channel"), "twitches": 0,
                                                    "first_seen": None})
            row["twitches"] += int(u.get("count") or 0)
            if (u.get("count") or 0) > 0 and row["first_seen"] is None:
                row["first_seen"] = s["start"].date().isoformat()
    for label, row in units.items():
        row["rate_per_hour"] = _rate(row["twitches"], unit_hours_in(label, dated))

    tested = m["trend_sessions"] > 0
    start_rate, end_rate = m["trend_start_rate"], m["trend_end_rate"]
    split = next((v["split_at"] for v in sites.values() if v["split_at"] is not None), None)
    rules = {
        "persistent": {"fires": bool(m["persistent"]), "twitch_days": m["twitch_days"],
                       "recorded_days": m["recorded_days"], "span_days": m["span_days"],
                       "min_rate_per_hour": d["persistent_min_rate"], "min_span_days": d["persistent_days"],
                       "min_fraction": d["persistent_fraction"]},
        "worsening": {"fires": bool(m["worsening"]), "tested": tested, "sessions": len(recs),
                      "min_sessions": d["trend_min_sessions"], "p": m["trend_p"] if tested else None,
                      "max_p": d["trend_p"], "start_rate_per_hour": start_rate if tested else None,
                      "end_rate_per_hour": end_rate if tested else None,
                      "fold_change": end_rate / max(start_rate, 1.0) if tested else None,
                      "min_fold_change": d["trend_min_ratio"],
                      "line": {"from": recs[0]["start"].isoformat(), "to": recs[-1]["start"].isoformat(),
                               "start_rate_per_hour": start_rate, "end_rate_per_hour": end_rate} if tested else None},
        "spreading": {"fires": bool(m["spreading"]), "detail": m["spreading_detail"],
                      "split_at": split.isoformat() if split else None,
                      "new_channels": sorted(k for k, v in sites.items() if v["new"]),
                      "first_seen": first_seen,
                      "units_first_seen": {k: v["first_seen"] for k, v in units.items()},
                      "twitching_elsewhere_logged": m["symptom_twitching_elsewhere"]},
    }
    associations = {
        "caffeine": {"associated": bool(m["caffeine_association"]), "threshold_mg": d["high_caffeine_mg"],
                     "high_rate_per_hour": m["caffeine_high_rate"], "low_rate_per_hour": m["caffeine_low_rate"],
                     "high_n": m["caffeine_high_n"], "low_n": m["caffeine_low_n"], "p": m.get("_caffeine_p"),
                     "min_n": d["association_min_days"]},
        "sleep": {"associated": bool(m["sleep_association"]), "threshold_h": d["short_sleep_h"],
                  "short_rate_per_hour": m["sleep_short_rate"], "long_rate_per_hour": m["sleep_long_rate"],
                  "short_n": m["sleep_short_n"], "long_n": m["sleep_long_n"], "p": m.get("_sleep_p"),
                  "min_n": d["association_min_days"]},
    }
    items = evaluate(rs, m)
    return {
        "schema": SCHEMA, "generated": now.isoformat(timespec="seconds"), "rules_file": rs.path,
        "window": {"days": days, "from": since.date().isoformat(), "to": now.date().isoformat()},
        "sessions": [{"start": s["start"].isoformat(), "file": s.get("file"), "hours": searched_s(s) / 3600,
                      "twitches": s["twitches"], "rate_per_hour": s["twitches_per_hour"],
                      "episodes": s.get("episodes") or 0} for s in dated],
        "undated": {"count": len(undated), "files": [os.path.basename(s.get("file") or "") for s in undated]},
        "short": {"count": len(short), "min_minutes": float(d.get("min_session_minutes", MIN_SESSION_MINUTES)),
                  "files": [os.path.basename(s.get("file") or "") for s in short],
                  # (of them, those without usable data: no rate whatever their length)
                  "no_usable_data": sum(1 for s in short if without_usable_data(s))},
        "counting": counting_summary(dated),
        "days": day_rows, "diary": diary_days(diary), "channels": channels, "units": units,
        "unnamed_units": unnamed,
        "rules": rules, "associations": associations,
        "advice": {"notice": rs.notice, "items": [i.to_dict() for i in items]},
    }


def diary_days(diary: list[dict]) -> list[dict]:
    """One row per diary day: each kind combined over the day, symptoms and medicines listed."""
    days: dict[dt.date, dict] = defaultdict(lambda: defaultdict(list))
    for e in diary:
        days[e["time"].date()][e["kind"]].append(e["value"] if e["kind"] in DIARY_SERIES else e["name"])
    out = []
    for day in sorted(days):
        row: dict = {"date": day.isoformat()}
        for kind, (how, _) in DIARY_SERIES.items():
            vals = [float(v) for v in days[day].get(kind, []) if v is not None]
            row[kind] = (None if not vals else sum(vals) if how == "sum" else statistics.fmean(vals) if how == "mean"
                         else max(vals))
        row["symptoms"] = sorted(set(days[day].get("symptom", [])))
        row["medication"] = sorted(set(days[day].get("medication", [])))
        out.append(row)
    return out


# -- words and numbers shared by the text, the HTML page and the live app ---------------------------
def fmt_p(p: float | None) -> str:
    return "–" if p is None else (f"{p:.2g}" if p < 0.001 else f"{p:.3f}")


def fmt_rate(r: float | None) -> str:
    return "–" if r is None else f"{r:.1f}/h"


def rule_statements(h: dict) -> list[tuple[str, bool, str]]:
    """(rule, fires, one sentence of evidence with the numbers the rule used) per time rule."""
    out = []
    p = h["rules"]["persistent"]
    out.append(("persistent", p["fires"],
                f"Persistent rule: {'persistent' if p['fires'] else 'not persistent'} — twitches (at least "
                f"{p['min_rate_per_hour']:g}/h) on {p['twitch_days']} of {p['recorded_days']} recorded days, over "
                f"{p['span_days']} days (the rule needs at least {p['min_fraction']:.0%} of the recorded days, over "
                f"at least {p['min_span_days']} days)"))
    w = h["rules"]["worsening"]
    if w["tested"]:
        line = w["line"]
        out.append(("worsening", w["fires"],
                    f"Worsening rule: {'worsening' if w['fires'] else 'not worsening'} — Kendall trend test over "
                    f"{counted(w['sessions'], 'recording')}, one-sided p = {fmt_p(w['p'])} (the rule needs p < {w['max_p']:g}); Theil–Sen "
                    f"fitted rate {fmt_rate(w['start_rate_per_hour'])} on {line['from'][:10]} → "
                    f"{fmt_rate(w['end_rate_per_hour'])} on {line['to'][:10]}, fold change "
                    f"{w['fold_change']:.2f}"
                    # (a fitted start under 1/h is divided as 1/h: a fold from 0 is no number)
                    + (" over a start counted as 1/h" if w["start_rate_per_hour"] < 1.0 else "")
                    + f" (the rule needs at least {w['min_fold_change']:g})"))
    else:
        why = (f"needs at least {w['min_sessions']} dated sessions, {w['sessions']} recorded"
               if w["sessions"] < w["min_sessions"] else "every session has the same rate")
        out.append(("worsening", False, f"Worsening rule: not worsening — not tested: {why}"))
    s = h["rules"]["spreading"]
    seen = ", ".join(f"{k} {v}" for k, v in sorted(s["first_seen"].items(), key=lambda kv: kv[1])) or "none yet"
    text = f"Spreading rule: {'spreading' if s['fires'] else 'not spreading'} — channels first seen with twitches: {seen}"
    if s["new_channels"]:
        text += f" (newly twitching: {', '.join(s['new_channels'])})"
    if s["units_first_seen"]:
        text += "; units first seen: " + ", ".join(f"{k} {v}" for k, v in s["units_first_seen"].items() if v)
    if s["split_at"]:
        chans = h["channels"]
        text += (f"; rates before and after {s['split_at'][:10]}: " + ", ".join(
            f"{k} {fmt_rate(v['early_rate_per_hour'])} → {fmt_rate(v['late_rate_per_hour'])}" for k, v in chans.items()))
    else:
        text += "; a new site needs at least 4 dated sessions to compare halves"
    if s["twitching_elsewhere_logged"]:
        text += f"; twitching elsewhere logged {counted(s['twitching_elsewhere_logged'], 'time')} in the diary"
    out.append(("spreading", s["fires"], text))
    return out


def association_statements(h: dict) -> list[tuple[str, bool, str]]:
    """Associations in words, with rates, counts and p; never as causes."""
    out = []
    c = h["associations"]["caffeine"]
    if min(c["high_n"], c["low_n"]) < c["min_n"]:
        text = (f"Caffeine: not enough data (needs {c['min_n']} sessions after high-caffeine days "
                f"(≥ {c['threshold_mg']:g} mg) and {c['min_n']} after other diary days; have {c['high_n']} and "
                f"{c['low_n']})")
    else:
        text = (f"Caffeine: sessions after high-caffeine days (≥ {c['threshold_mg']:g} mg) averaged "
                f"{fmt_rate(c['high_rate_per_hour'])} (n = {c['high_n']}) against {fmt_rate(c['low_rate_per_hour'])} "
                f"(n = {c['low_n']}) after other days; one-sided Mann–Whitney p = {fmt_p(c['p'])}: "
                + ("an association, not proof of a cause" if c["associated"] else "no clear association"))
    out.append(("caffeine", c["associated"], text))
    s = h["associations"]["sleep"]
    if min(s["short_n"], s["long_n"]) < s["min_n"]:
        text = (f"Sleep: not enough data (needs {s['min_n']} sessions after short nights (< {s['threshold_h']:g} h) "
                f"and {s['min_n']} after longer ones; have {s['short_n']} and {s['long_n']})")
    else:
        text = (f"Sleep: sessions after short nights (< {s['threshold_h']:g} h) averaged "
                f"{fmt_rate(s['short_rate_per_hour'])} (n = {s['short_n']}) against "
                f"{fmt_rate(s['long_rate_per_hour'])} (n = {s['long_n']}) after longer nights; one-sided "
                f"Mann–Whitney p = {fmt_p(s['p'])}: "
                + ("an association, not proof of a cause" if s["associated"] else "no clear association"))
    out.append(("sleep", s["associated"], text))
    return out


def counting_statement(h: dict) -> str:
    """``advice.counting_note`` of the history's sessions."""
    return counting_note(h.get("counting") or {"sets": [], "differ": [], "unknown": 0})


def short_statement(h: dict) -> str:
    """The files set aside as giving no rate, named (files: a rotated recording's pieces are
    each one, and "3 recordings" had stood over three pieces of two)."""
    short = h.get("short") or {"count": 0}
    n, none = short["count"], short.get("no_usable_data", 0)
    if not n:
        return ""
    files = f"{', '.join(short['files'][:5])}{' …' if n > 5 else ''}"
    are = "is" if n == 1 else "are"
    if not none:
        return (f"{counted(n, 'file')} under {short['min_minutes']:g} min of data {are} too short to give a rate "
                f"and {are} left out: {files}")
    return (f"{counted(n, 'file')} {'gives' if n == 1 else 'give'} no rate and {are} left out ({none} without "
            "usable data" + (f", {n - none} under {short['min_minutes']:g} min of data" if n > none else "") + f"): {files}")


def no_days_statement(h: dict) -> str:
    """What to do when no recording in the window gives a rate: record, or record longer (the
    ones there were too short; "Record to add sessions" read as if they had not counted at all)."""
    short = h.get("short") or {"count": 0}
    if short["count"]:
        return (f"no recording in this window is long enough to give a rate (at least {short['min_minutes']:g} min "
                "of data): record for longer, e.g. `myotwitch record --duration 8h` over a night.")
    return ("no dated recordings in this window. Record (`myotwitch record`) or analyse files "
            "(`myotwitch analyze FILE`) to add sessions.")


def undated_statement(h: dict) -> str:
    n = h["undated"]["count"]
    return (f"{counted(n, 'undated session')} (no start time in the file) {'is' if n == 1 else 'are'} kept in the "
            f"index but left out of the trends: {', '.join(h['undated']['files'][:5])}{' …' if n > 5 else ''}") if n else ""


def counts_statement(h: dict) -> str:
    """How many dated files and recordings, on how many days. The rules weigh recordings (a
    night's rotated files are one), so where files were joined both counts are said: a study of
    37 files with five nights rotated into 3 files each had read "34 dated sessions" above a
    worsening rule "over 24 sessions"."""
    files, recs = len(h["sessions"]), h["rules"]["worsening"]["sessions"]
    what = (counted(files, "dated session") if files == recs else
            f"{counted(files, 'dated file')} ({counted(recs, 'recording')}: files that follow one another are one)")
    return f"{what} on {counted(len(h['days']), 'day')}"


def format_history(h: dict, width: int = 100) -> str:
    """Plain text with the same numbers as the JSON and the HTML page."""
    w = h["window"]
    # (the files the statements quote, kept whole on a line)
    names = [*h["undated"]["files"], *(h.get("short") or {}).get("files", [])]
    out = [wrap(f"myotwitch history {w['from']} to {w['to']} ({w['days']} days): {counts_statement(h)}", width)]
    if h["undated"]["count"]:
        out.append(wrap(undated_statement(h), width, names))
    if short_statement(h):
        out.append(wrap(short_statement(h), width, names))
    if counting_statement(h):
        out.append(wrap(counting_statement(h), width))
    if not h["days"]:
        out.append(wrap(no_days_statement(h), width))
    if h["days"] or h["diary"]:
        out += ["", "date         hours  twitches    rate/h  episodes  diary"]
        recorded = {r["date"]: r for r in h["days"]}
        diary = {r["date"]: r for r in h["diary"]}
        for day in sorted(set(recorded) | set(diary)):
            r = recorded.get(day)
            numbers = (f"{r['hours']:5.2f}  {r['twitches']:8d}  {r['rate_per_hour']:8.1f}  {r['episodes']:8d}" if r
                       else f"{'–':>5}  {'–':>8}  {'–':>8}  {'–':>8}")
            out.append(f"{day}  {numbers}  {diary_text(diary.get(day))}".rstrip())
    # (wrapped as the statements are, a channel's or unit's name kept whole: seven channels and
    # 39 units had made lines of 360 and 2,000 characters, which a terminal broke anywhere)
    if h["channels"]:
        out += ["", wrap("per channel: " + "; ".join(
            f"{k} {v['twitches']} twitches, {fmt_rate(v['rate_per_hour'])}, first seen {v['first_seen'] or '–'}"
            for k, v in h["channels"].items()), width, h["channels"], subsequent_indent="  ")]
    if h["units"]:
        out.append(wrap("per unit: " + "; ".join(
            f"{k} {v['twitches']} {'twitch' if v['twitches'] == 1 else 'twitches'}, {fmt_rate(v['rate_per_hour'])}, "
            f"first seen {v['first_seen'] or '–'}" for k, v in h["units"].items()), width, h["units"],
            subsequent_indent="  "))
    if h.get("unnamed_units"):
        n = h["unnamed_units"]
        out.append(f"({counted(n, 'recurring unit')} without a lasting name, each known in its own session only, "
                   f"{'is' if n == 1 else 'are'} not followed across sessions)")
    out += ["", "WHAT THE TIME RULES MEASURED"]
    for _, _, text in rule_statements(h):
        out.append(wrap(text, width, initial_indent="  * ", subsequent_indent="    "))
    out += ["", "ASSOCIATIONS (not causes)"]
    for _, _, text in association_statements(h):
        out.append(wrap(text, width, initial_indent="  * ", subsequent_indent="    "))
    out += ["", f"rules: {h['rules_file']}", wrap(h["advice"]["notice"], width)]
    return "\n".join(out)


def diary_text(r: dict | None) -> str:
    if not r:
        return ""
    from myotwitch.host.advice_cmd import shown_value

    # (as `log --list` shows them: "6.67 h" and "moderate", not "6.66667 h" and "2")
    parts = [f"{k} {shown_value(k, k, r[k])}" for k in DIARY_SERIES if r.get(k) is not None]
    parts += [f"symptom {s.replace('_', ' ')}" for s in r["symptoms"]]
    parts += [f"medication {s}" for s in r["medication"]]
    return ", ".join(parts)


def strict(obj: object) -> object:
    """A copy safe for strict JSON: NaN and infinities become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


#: the first columns of ``history --csv``'s daily table (a column per channel, unit and diary series follow)
DAILY_COLUMNS = ["date", "hours", "twitches", "rate_per_hour", "episodes"]


def write_csv(h: dict, path: str) -> None:
    """One row per day with recordings or diary entries: rates, hours, episodes, channels, diary."""
    labels = sorted(h["channels"])
    units = sorted(h["units"])
    rec = {r["date"]: r for r in h["days"]}
    diary = {r["date"]: r for r in h["diary"]}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*DAILY_COLUMNS, *[f"rate_per_hour:{k}" for k in labels],
                    *[f"rate_per_hour:{k}" for k in units], *[f"{k}_{u}" for k, (_, u) in DIARY_SERIES.items()],
                    "symptoms", "medication"])
        for day in sorted(set(rec) | set(diary)):
            r, dy = rec.get(day), diary.get(day) or {}

            def num(v: object) -> str:
                return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)

            w.writerow([day, num(r and r["hours"]), num(r and r["twitches"]), num(r and r["rate_per_hour"]),
                        num(r and r["episodes"]),
                        *[num(r and (r["per_channel"].get(k) or {}).get("rate_per_hour")) for k in labels],
                        *[num(r and (r["per_unit"].get(k) or {}).get("rate_per_hour")) for k in units],
                        *[num(dy.get(k)) for k in DIARY_SERIES], ";".join(dy.get("symptoms", [])),
                        ";".join(dy.get("medication", []))])
