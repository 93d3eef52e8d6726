"""The advice engine: rules as data (data/advice/rules.toml), metrics from recordings and the
diary, and "why" for every item. Consult items come first; a not-a-diagnosis notice always
goes with the advice. Used by `myotwitch advice`, `analyze` reports and the live app."""

from __future__ import annotations

import ast
import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from myotwitch.host.errors import FormatError
from myotwitch.host.paths import data_dir

LEVELS = ("consult", "self-care", "info")
SYMPTOMS = ("pain", "weakness", "numbness", "muscle_loss", "coordination", "twitching_elsewhere")

#: every metric a rule may use, with its value when there is no data
METRICS: dict[str, object] = {
    "twitches_total": 0, "sessions": 0, "rate_latest": 0.0,
    "persistent": False, "twitch_days": 0, "recorded_days": 0, "span_days": 0,
    "worsening": False, "trend_start_rate": 0.0, "trend_end_rate": 0.0, "trend_sessions": 0, "trend_p": 1.0,
    "spreading": False, "spreading_detail": "",
    **{f"symptom_{s}": 0 for s in SYMPTOMS},
    "symptoms_any": 0, "symptoms_list": "", "pattern": "", "symptom_days": 14,
    "medication_linked": 0, "medication_names": "", "medication_classes": "",
    "short_sleep_nights": 0, "short_sleep_h": 6, "sleep_avg_h": 0.0,
    "hard_exercise_days": 0, "window_days": 28,
    "fluid_days": 0, "fluids_avg_l": 0.0,
    "caffeine_avg_mg": 0.0, "caffeine_association": False, "caffeine_high_rate": 0.0, "caffeine_low_rate": 0.0,
    "caffeine_high_n": 0, "caffeine_low_n": 0, "high_caffeine_mg": 300,
    "sleep_association": False, "sleep_short_rate": 0.0, "sleep_long_rate": 0.0, "sleep_short_n": 0,
    "sleep_long_n": 0,
    "stress_avg": 0.0, "one_site_share": 0.0, "one_site": "",
    "units_known": 0, "units_new": 0, "units_span_days": 0, "units_new_detail": "",
}


@dataclass(frozen=True)
class Rule:
    id: str
    section: str
    level: str
    when: str
    text: str
    why: str = ""
    example: dict = field(default_factory=dict)
    near_miss: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AdviceItem:
    id: str
    level: str
    section: str
    text: str
    why: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RuleSet:
    notice: str
    sections: dict[str, str]  # key -> heading in the reference article
    definitions: dict
    medications: dict[str, list[str]]
    rules: list[Rule]
    path: str = ""


@dataclass
class Advice:
    notice: str
    items: list[AdviceItem]
    metrics: dict

    def to_dict(self) -> dict:
        return {"notice": self.notice, "items": [i.to_dict() for i in self.items],
                "metrics": {k: v for k, v in self.metrics.items() if not k.startswith("_")}}


# -- the condition language: comparisons, and/or/not, names of metrics, constants ----------------
_ALLOWED = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.Compare, ast.Gt, ast.GtE,
            ast.Lt, ast.LtE, ast.Eq, ast.NotEq, ast.Name, ast.Load, ast.Constant)


def parse_condition(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise ValueError(f"cannot parse '{text}': {e.msg}") from e
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(f"'{text}': {type(node).__name__} is not allowed (use metrics, numbers, "
                             "comparisons, and, or, not)")
        if isinstance(node, ast.Name) and node.id not in METRICS:
            raise ValueError(f"'{text}': unknown metric '{node.id}'")
    return tree


def evaluate_condition(tree: ast.AST, metrics: dict) -> object:
    def ev(n: ast.AST) -> object:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.BoolOp):
            vals = (ev(v) for v in n.values)
            return all(vals) if isinstance(n.op, ast.And) else any(vals)
        if isinstance(n, ast.UnaryOp):
            return not ev(n.operand)
        if isinstance(n, ast.Compare):
            left = ev(n.left)
            for op, right_node in zip(n.ops, n.comparators):
                right = ev(right_node)
                ok = {ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b, ast.Lt: lambda a, b: a < b,
                      ast.LtE: lambda a, b: a <= b, ast.Eq: lambda a, b: a == b,
                      ast.NotEq: lambda a, b: a != b}[type(op)](left, right)
                if not ok:
                    return False
                left = right
            return True
        if isinstance(n, ast.Name):
            return metrics.get(n.id, METRICS[n.id])
        if isinstance(n, ast.Constant):
            return n.value
        raise ValueError(f"unsupported expression node {type(n).__name__}")

    return ev(tree)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and validate a rules file; FormatError names the rule and field at fault."""
    path = Path(path) if path else data_dir() / "advice" / "rules.toml"
    name = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FormatError(f"{path}: rules file not found") from e
    except tomllib.TOMLDecodeError as e:
        raise FormatError(f"{name}: not valid TOML ({e})") from e
    for key in ("notice", "sections", "definitions", "medications", "rule"):
        if key not in raw:
            raise FormatError(f"{name}: missing '{key}'")
    rules, seen = [], set()
    for i, r in enumerate(raw["rule"]):
        rid = r.get("id") or f"#{i + 1}"
        for key in ("id", "section", "level", "when", "text"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise FormatError(f"{name}: rule '{rid}': field '{key}' must be a non-empty string")
        if rid in seen:
            raise FormatError(f"{name}: rule '{rid}' is defined twice")
        seen.add(rid)
        if r["level"] not in LEVELS:
            raise FormatError(f"{name}: rule '{rid}': level '{r['level']}' must be one of {', '.join(LEVELS)}")
        if r["section"] not in raw["sections"]:
            raise FormatError(f"{name}: rule '{rid}': section '{r['section']}' is not a section of the reference "
                              f"article (one of {', '.join(raw['sections'])})")
        try:
            parse_condition(r["when"])
        except ValueError as e:
            raise FormatError(f"{name}: rule '{rid}': field 'when': {e}") from e
        unknown = set(r) - {"id", "section", "level", "when", "text", "why", "example", "near_miss"}
        if unknown:
            raise FormatError(f"{name}: rule '{rid}': unknown field(s) {', '.join(sorted(unknown))}")
        rules.append(Rule(r["id"], raw["sections"][r["section"]], r["level"], r["when"], r["text"].strip(), r.get("why", ""),
                          r.get("example", {}), r.get("near_miss", {})))
    return RuleSet(raw["notice"].strip(), raw["sections"], raw["definitions"], raw["medications"], rules, str(path))


def evaluate(ruleset: RuleSet, metrics: dict) -> list[AdviceItem]:
    """The rules that fire, consult first, each with its reason filled in."""
    full = {**METRICS, **metrics}
    items = []
    for r in ruleset.rules:
        if evaluate_condition(parse_condition(r.when), full):
            try:
                why = r.why.format(**full) if r.why else ""
            except (KeyError, ValueError):
                why = ""
            items.append(AdviceItem(r.id, r.level, r.section, r.text, why))
    items.sort(key=lambda i: LEVELS.index(i.level))
    return items


# -- metrics from recordings and diary ---------------------------------------------------------------
def _kendall_trend(times: list[float], rates: list[float]) -> tuple[float, float, float]:
    """(one-sided p for a rising trend, fitted start, fitted end) by Kendall tau + Theil-Sen."""
    from scipy import stats

    tau = stats.kendalltau(times, rates)
    p_two = float(tau.pvalue) if tau.pvalue == tau.pvalue else 1.0
    p = p_two / 2 if tau.statistic > 0 else 1 - p_two / 2
    slope, intercept, *_ = stats.theilslopes(rates, times)
    return p, intercept + slope * times[0], intercept + slope * times[-1]


def compute_metrics(sessions: list[dict], diary: list[dict], ruleset: RuleSet,
                    now: dt.datetime | None = None) -> dict:
    """Turn session rows (host.index) and diary entries into the metric values the rules use."""
    d = ruleset.definitions
    now = now or dt.datetime.now()
    window = dt.timedelta(days=d["window_days"])
    sessions = sorted((s for s in sessions if s["start"] >= now - window), key=lambda s: s["start"])
    diary = [e for e in diary if e["time"] >= now - window]
    m: dict = {"window_days": d["window_days"], "short_sleep_h": d["short_sleep_h"],
               "high_caffeine_mg": d["high_caffeine_mg"], "symptom_days": d["symptom_days"]}
    m["sessions"] = len(sessions)
    m["twitches_total"] = sum(s["twitches"] for s in sessions)
    m["rate_latest"] = sessions[-1]["twitches_per_hour"] if sessions else 0.0

    # per day
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for s in sessions:
        by_day[s["start"].date()].append(s)
    day_rate = {day: sum(x["twitches"] for x in ss) / max(sum(x["valid_s"] for x in ss) / 3600, 1e-9)
                for day, ss in by_day.items()}
    if day_rate:
        days = sorted(day_rate)
        m["recorded_days"] = len(days)
        m["span_days"] = (days[-1] - days[0]).days + 1
        m["twitch_days"] = sum(1 for v in day_rate.values() if v >= d["persistent_min_rate"])
        m["persistent"] = (m["span_days"] >= d["persistent_days"]
                           and m["twitch_days"] >= d["persistent_fraction"] * m["recorded_days"])
    # trend
    if len(sessions) >= d["trend_min_sessions"]:
        t = [(s["start"] - sessions[0]["start"]).total_seconds() / 86400 for s in sessions]
        r = [s["twitches_per_hour"] for s in sessions]
        if len(set(r)) > 1:
            p, start, end = _kendall_trend(t, r)
            m.update(trend_p=p, trend_start_rate=max(start, 0.0), trend_end_rate=max(end, 0.0),
                     trend_sessions=len(sessions))
            m["worsening"] = p < d["trend_p"] and end >= d["trend_min_ratio"] * max(start, 1.0)
    # sites
    per_site: dict[str, list[tuple[dt.datetime, int, float]]] = defaultdict(list)
    for s in sessions:
        for label, n in zip(s.get("channels") or [], s.get("per_channel") or []):
            per_site[label].append((s["start"], n, s["valid_s"]))
    totals = {k: sum(n for _, n, _ in v) for k, v in per_site.items()}
    if totals and sum(totals.values()) > 0:
        top = max(totals, key=lambda k: totals[k])
        m["one_site"], m["one_site_share"] = top, totals[top] / sum(totals.values())
    new_sites = []
    if len(sessions) >= 4:
        mid = sessions[len(sessions) // 2]["start"]
        for label, rows in per_site.items():
            early = [(n, v) for t, n, v in rows if t < mid]
            late = [(n, v) for t, n, v in rows if t >= mid]
            e_rate = sum(n for n, _ in early) / max(sum(v for _, v in early) / 3600, 1e-9) if early else 0.0
            l_n = sum(n for n, _ in late)
            l_rate = l_n / max(sum(v for _, v in late) / 3600, 1e-9) if late else 0.0
            if early and e_rate < 0.5 and l_n >= 5 and l_rate >= 2.0:
                new_sites.append(label)
    # diary
    symptom_cut = now - dt.timedelta(days=d["symptom_days"])
    for sname in SYMPTOMS:
        m[f"symptom_{sname}"] = sum(1 for e in diary if e["kind"] == "symptom" and e["name"] == sname
                                    and e["time"] >= symptom_cut)
    elsewhere = m["symptom_twitching_elsewhere"] > 0
    # recurring sources (host/unit_registry.py): new ones that keep firing, over >= 2 weeks
    from myotwitch.host.unit_registry import new_unit_metrics

    m.update(new_unit_metrics(sessions, d.get("new_unit_span_days", 14), d.get("new_unit_baseline_days", 7),
                              d.get("new_unit_min_sessions", 2)))
    new_units = (m["units_span_days"] >= d.get("new_unit_span_days", 14)
                 and m["units_new"] >= d.get("new_units_min", 2))
    m["spreading"] = bool(new_sites) or elsewhere or new_units
    m["spreading_detail"] = "; ".join(
        ([f"twitches newly recorded on {', '.join(new_sites)}"] if new_sites else [])
        + ([f"{m['units_new']} new recurring twitch sources over {m['units_span_days']} days"] if new_units else [])
        + (["twitching elsewhere in your diary"] if elsewhere else []))
    listed = [s.replace("_", " ") for s in SYMPTOMS[:5] if m[f"symptom_{s}"]]
    m["symptoms_any"] = len(listed)
    m["symptoms_list"] = ", ".join(listed)
    m["pattern"] = " and ".join(p for p, on in (("persistent", m.get("persistent")), ("spreading", m["spreading"])) if on)
    meds = {e["name"].lower() for e in diary if e["kind"] == "medication"}
    classes, names = set(), set()
    for cls, members in ruleset.medications.items():
        for med in meds:
            if any(med == x or med.startswith(x) for x in members):
                classes.add(cls.replace("_", " "))
                names.add(med)
    m["medication_linked"] = len(names)
    m["medication_names"] = ", ".join(sorted(names))
    m["medication_classes"] = ", ".join(sorted(classes))

    def daily(kind: str) -> dict[dt.date, float]:
        out: dict[dt.date, float] = defaultdict(float)
        for e in diary:
            if e["kind"] == kind and e["value"] is not None:
                out[e["time"].date()] += float(e["value"])
        return dict(out)

    sleep = [e for e in diary if e["kind"] == "sleep" and e["value"] is not None]
    if sleep:
        m["sleep_avg_h"] = statistics.fmean(e["value"] for e in sleep)
        m["short_sleep_nights"] = sum(1 for e in sleep if e["value"] < d["short_sleep_h"])
    m["hard_exercise_days"] = len({e["time"].date() for e in diary if e["kind"] == "exercise" and (e["value"] or 0) >= 3})
    fluids = daily("fluids")
    if fluids:
        m["fluid_days"] = len(fluids)
        m["fluids_avg_l"] = statistics.fmean(fluids.values())
    caffeine = daily("caffeine")
    if caffeine:
        m["caffeine_avg_mg"] = statistics.fmean(caffeine.values())
    stress = [e["value"] for e in diary if e["kind"] == "stress" and e["value"] is not None]
    if stress:
        m["stress_avg"] = statistics.fmean(stress)
    _associations(m, sessions, caffeine, sleep, d)
    return m


def _associations(m: dict, sessions: list[dict], caffeine: dict, sleep: list[dict], d: dict) -> None:
    """Rates on sessions after high-caffeine days / short nights vs the others, with a one-sided
    Mann-Whitney test; stated as associations, never as causes."""
    from scipy import stats

    def compare(groups: tuple[list[float], list[float]]) -> tuple[bool, float, float]:
        hi, lo = groups
        if len(hi) < d["association_min_days"] or len(lo) < d["association_min_days"]:
            return False, 0.0, 0.0
        a, b = statistics.fmean(hi), statistics.fmean(lo)
        p = stats.mannwhitneyu(hi, lo, alternative="greater").pvalue
        return bool(a >= 1.5 * max(b, 0.5) and p < 0.1), a, b

    hi: list[float] = []
    lo: list[float] = []
    for s in sessions:
        day = s["start"].date()
        # the day of the session, or the day before for recordings that start at night
        mg = caffeine.get(day if s["start"].hour >= 12 else day - dt.timedelta(days=1))
        if mg is not None:
            (hi if mg >= d["high_caffeine_mg"] else lo).append(s["twitches_per_hour"])
    ok, a, b = compare((hi, lo))
    m.update(caffeine_association=ok, caffeine_high_rate=a, caffeine_low_rate=b, caffeine_high_n=len(hi),
             caffeine_low_n=len(lo))
    short: list[float] = []
    long_: list[float] = []
    for s in sessions:
        before = [e for e in sleep if dt.timedelta(0) <= s["start"] - e["time"] <= dt.timedelta(hours=24)]
        if before:
            (short if before[-1]["value"] < d["short_sleep_h"] else long_).append(s["twitches_per_hour"])
    ok, a, b = compare((short, long_))
    m.update(sleep_association=ok, sleep_short_rate=a, sleep_long_rate=b, sleep_short_n=len(short),
             sleep_long_n=len(long_))


def advise(sessions: list[dict] | None = None, diary: list[dict] | None = None, *, ruleset: RuleSet | None = None,
           now: dt.datetime | None = None, index=None, extra_session: dict | None = None) -> Advice:
    """Structured advice. With no sessions/diary given, reads the local session index.
    ``extra_session`` (an analyze summary) is included as if it were indexed."""
    ruleset = ruleset or load_rules()
    now = now or dt.datetime.now()
    if sessions is None or diary is None:
        from myotwitch.host.index import SessionIndex

        idx = index or SessionIndex.default()
        since = now - dt.timedelta(days=ruleset.definitions["window_days"])
        if sessions is None:
            from myotwitch.host.unit_registry import attach_sightings

            sessions = attach_sightings(idx.sessions(since), getattr(idx, "path", None))
        diary = idx.entries(since) if diary is None else diary
        if index is None:
            idx.close()
    sessions = list(sessions)
    if extra_session is not None:
        st = extra_session["stats"]
        start = dt.datetime.fromisoformat(extra_session["start"]) if extra_session.get("start") else now
        if not any(s.get("file") == extra_session.get("file") for s in sessions):
            sessions.append({"file": extra_session.get("file"), "start": start, "duration_s": st["duration_s"],
                             "valid_s": st["valid_s"], "twitches": st["counts"]["twitch"],
                             "twitches_per_hour": st["twitches_per_hour"], "episodes": st["episodes"],
                             "per_channel": st["twitches_per_channel"], "channels": extra_session["channels"],
                             "units": extra_session.get("units")})
    metrics = compute_metrics(sessions, diary, ruleset, now)
    return Advice(ruleset.notice, evaluate(ruleset, metrics), metrics)


def format_advice(advice: Advice, width: int = 100) -> str:
    """Plain text, grouped by level, consult first, each item with why and its source."""
    import textwrap

    titles = {"consult": "SEE A DOCTOR ABOUT", "self-care": "THINGS TO TRY", "info": "GOOD TO KNOW"}
    out = []
    for level in LEVELS:
        items = [i for i in advice.items if i.level == level]
        if not items:
            continue
        out.append(titles[level])
        for i in items:
            out.append(textwrap.fill(i.text, width, initial_indent="  * ", subsequent_indent="    "))
            if i.why:
                out.append(textwrap.fill(f"why: {i.why}", width, initial_indent="    ", subsequent_indent="    "))
            out.append(f"    source: reference article, \"{i.section}\"")
        out.append("")
    if not advice.items:
        out.append("No twitches recorded yet and nothing in the diary that calls for advice.\n")
    out.append(textwrap.fill(advice.notice, width))
    return "\n".join(out)

