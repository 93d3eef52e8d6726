"""The advice engine: rules as data (data/advice/rules.toml), metrics from recordings and the
diary, and "why" for every item. Consult items come first; a not-a-diagnosis notice always
goes with the advice. Used by `myotwitch advice`, `analyze` reports and the live app."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from myotwitch.host.errors import FormatError
from myotwitch.host.paths import data_dir
from myotwitch.host.wording import counted

LEVELS = ("consult", "self-care", "info")
SYMPTOMS = ("pain", "weakness", "numbness", "muscle_loss", "coordination", "twitching_elsewhere")

#: every metric a rule may use, with its value when there is no data
METRICS: dict[str, object] = {
    "twitches_total": 0, "sessions": 0, "short_sessions": 0, "no_data_sessions": 0, "rate_latest": 0.0,
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
    #: what the reader should know about the numbers themselves (sessions counted with different
    #: detector settings)
    caveats: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"notice": self.notice, "items": [i.to_dict() for i in self.items], "caveats": list(self.caveats),
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


#: definitions every rules file must give, all numbers
DEFINITIONS = ("window_days", "persistent_days", "persistent_fraction", "persistent_min_rate", "trend_min_sessions",
               "trend_p", "trend_min_ratio", "association_min_days", "high_caffeine_mg", "short_sleep_h",
               "symptom_days")
#: the rules' window, the diary, the history and its trends look back at most this many days
#: (10 years: one bound for every --days and for a diary entry's --at)
MAX_WINDOW_DAYS = 3650


def _kind(value: object) -> str:
    return "text" if isinstance(value, str) else "number"


def _check_types(tree: ast.AST) -> None:
    """Text metrics compare only with text, numbers and flags only with numbers and flags."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            kinds = {_kind(METRICS[o.id]) if isinstance(o, ast.Name) else _kind(o.value)
                     for o in operands if isinstance(o, (ast.Name, ast.Constant))}
            if len(kinds) > 1 or any(not isinstance(o, (ast.Name, ast.Constant)) for o in operands):
                raise ValueError(f"'{ast.unparse(node)}' compares text with a number")
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (bool, int, float, str)):
            raise ValueError(f"constant {node.value!r} is not a number, flag or text")


def _why_fields(template: str) -> list[tuple[str, str, str | None]]:
    """(literal, metric, format spec) pieces of a ``why`` template; only plain metric names,
    no positions, attributes, indexes or nested fields."""
    import string

    out: list[tuple[str, str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"'{template}': {e}") from e
    for literal, field_name, spec, conversion in parsed:
        if field_name is None:
            out.append((literal, "", None))
            continue
        if field_name not in METRICS:
            raise ValueError(f"'{{{field_name}}}' is not a metric (use plain metric names, e.g. {{rate_latest}})")
        if conversion or (spec and "{" in spec):
            raise ValueError(f"'{{{field_name}}}': conversions and nested fields are not allowed")
        out.append((literal, field_name, spec or ""))
    return out


#: a word with its plural ending in brackets right after a number ("{sessions} recording(s)",
#: "{symptom_pain} time(s)", "twitch(es)"): said singular for exactly one, plural otherwise
_PLURAL_AFTER = re.compile(r"^(\s+)(\w+)\((e?s)\)")


def format_why(template: str, values: dict) -> str:
    """Fill a ``why`` template with plain metric values: no attribute or index lookups, ever."""
    parts = []
    before = ""  # (a number filled in just before this literal, as shown: "1" for 1.0 shown so)
    for literal, name, spec in _why_fields(template):
        if before:
            literal = _PLURAL_AFTER.sub(r"\1\2" if before == "1" else r"\1\2\3", literal, count=1)
        parts.append(literal)
        before = ""
        if name:
            value = values.get(name, METRICS[name])
            if not isinstance(value, (bool, int, float, str)):
                value = str(value)
            parts.append(format(value, spec or ""))
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                before = parts[-1]
    return "".join(parts)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and fully validate a rules file; FormatError (one line) names the rule and field at
    fault, so nothing fails later while advice is computed."""
    path = Path(path) if path else data_dir() / "advice" / "rules.toml"
    name = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FormatError(f"{path}: rules file not found") from e
    except IsADirectoryError as e:
        raise FormatError(f"{path}: is a folder, expected a rules file") from e
    except UnicodeDecodeError as e:
        raise FormatError(f"{name}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from e
    except RecursionError as e:
        raise FormatError(f"{name}: nested too deeply") from e
    except tomllib.TOMLDecodeError as e:
        raise FormatError(f"{name}: not valid TOML ({e})") from e
    except OSError as e:
        raise FormatError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        return _validated(raw, name, str(path))
    except RecursionError as e:
        raise FormatError(f"{name}: nested too deeply") from e


def _validated(raw: dict, name: str, path: str) -> RuleSet:
    def fail(msg: str) -> FormatError:
        return FormatError(f"{name}: {msg}")

    for key in ("notice", "sections", "definitions", "medications", "rule"):
        if key not in raw:
            raise fail(f"missing '{key}'")
    unknown_top = set(raw) - {"notice", "sections", "definitions", "medications", "rule"}
    if unknown_top:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown_top))}")
    if not isinstance(raw["notice"], str) or not raw["notice"].strip():
        raise fail("'notice' must be non-empty text")
    sections = raw["sections"]
    if not isinstance(sections, dict) or not sections or \
            not all(isinstance(v, str) and v.strip() for v in sections.values()):
        raise fail("[sections] must map keys to headings (text)")
    d = raw["definitions"]
    if not isinstance(d, dict):
        raise fail("[definitions] must be a table")
    for key in DEFINITIONS:
        if key not in d:
            raise fail(f"[definitions] is missing '{key}'")
    for key, value in d.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
            raise fail(f"[definitions] '{key}' must be a number of 0 or more, not {value!r}")
    if not 1 <= d["window_days"] <= MAX_WINDOW_DAYS:
        raise fail(f"[definitions] 'window_days' must be 1 to {MAX_WINDOW_DAYS}")
    meds = raw["medications"]
    if not isinstance(meds, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v) for v in meds.values()):
        raise fail("[medications] must map each class to a list of names (text)")
    if not isinstance(raw["rule"], list) or not all(isinstance(r, dict) for r in raw["rule"]):
        raise fail("'rule' must be a list of [[rule]] tables")
    rules, seen = [], set()
    for i, r in enumerate(raw["rule"]):
        rid = r.get("id") if isinstance(r.get("id"), str) and r.get("id") else f"#{i + 1}"
        for key in ("id", "section", "level", "when", "text"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise fail(f"rule '{rid}': field '{key}' must be a non-empty string")
        if rid in seen:
            raise fail(f"rule '{rid}' is defined twice")
        seen.add(rid)
        if r["level"] not in LEVELS:
            raise fail(f"rule '{rid}': level '{r['level']}' must be one of {', '.join(LEVELS)}")
        if r["section"] not in sections:
            raise fail(f"rule '{rid}': section '{r['section']}' is not a section of the reference "
                       f"article (one of {', '.join(sections)})")
        unknown = set(r) - {"id", "section", "level", "when", "text", "why", "example", "near_miss"}
        if unknown:
            raise fail(f"rule '{rid}': unknown field(s) {', '.join(sorted(unknown))}")
        try:
            tree = parse_condition(r["when"])
            _check_types(tree)
        except ValueError as e:
            raise fail(f"rule '{rid}': field 'when': {e}") from e
        why = r.get("why", "")
        if not isinstance(why, str):
            raise fail(f"rule '{rid}': field 'why' must be text")
        try:
            _why_fields(why)
        except ValueError as e:
            raise fail(f"rule '{rid}': field 'why': {e}") from e
        for key in ("example", "near_miss"):
            case = r.get(key, {})
            if not isinstance(case, dict):
                raise fail(f"rule '{rid}': field '{key}' must be a table of metric values")
            for metric, value in case.items():
                if metric not in METRICS:
                    raise fail(f"rule '{rid}': field '{key}': unknown metric '{metric}'")
                if _kind(value) != _kind(METRICS[metric]) or not isinstance(value, (bool, int, float, str)):
                    raise fail(f"rule '{rid}': field '{key}': '{metric}' must be {_kind(METRICS[metric])}")
        # a trial run on the defaults and on the crafted cases: anything that would fail later fails now
        for case in ({}, r.get("example", {}), r.get("near_miss", {})):
            values = {**METRICS, **d, **case}
            try:
                evaluate_condition(tree, values)
                format_why(why, values)
            except (TypeError, ValueError) as e:
                raise fail(f"rule '{rid}': cannot be evaluated ({e})") from e
        rules.append(Rule(r["id"], sections[r["section"]], r["level"], r["when"], r["text"].strip(), why,
                          r.get("example", {}), r.get("near_miss", {})))
    return RuleSet(raw["notice"].strip(), sections, d, meds, rules, path)


def evaluate(ruleset: RuleSet, metrics: dict) -> list[AdviceItem]:
    """The rules that fire, consult first, each with its reason filled in."""
    full = {**METRICS, **metrics}
    items = []
    for r in ruleset.rules:
        if evaluate_condition(parse_condition(r.when), full):
            try:
                why = format_why(r.why, full) if r.why else ""
            except (KeyError, ValueError, TypeError):
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


def searched_s(s: dict) -> float:
    """The seconds a session's rate is over (a session row's or a summary's ``stats``): those
    the detector searched, or, in a row or summary from before they were kept, ``valid_s``
    (all the seconds of data, its start-up and the settling after gaps too)."""
    v = s.get("searched_s")
    return float(s["valid_s"] if v is None else v)


def daily_rates(by_day: dict[dt.date, list[dict]]) -> dict[dt.date, float]:
    """Twitches per hour of each day: the day's twitches over its hours searched."""
    return {day: sum(x["twitches"] for x in ss) / max(sum(searched_s(x) for x in ss) / 3600, 1e-9)
            for day, ss in by_day.items()}


def site_changes(sessions: list[dict]) -> dict[str, dict]:
    """Per channel (site): twitches, and the rates before and after the middle session. A site is
    new when it had data but (almost) no twitches in the first half and clearly has them in the
    second: at most 0.5/h before, then at least 5 twitches and 2/h. Sessions oldest first."""
    per_site: dict[str, list[tuple[dt.datetime, int, float]]] = defaultdict(list)
    for s in sessions:
        for label, n in zip(s.get("channels") or [], s.get("per_channel") or []):
            # (over the seconds searched on any channel: a channel's own are not kept)
            per_site[label].append((s["start"], n, searched_s(s)))
    mid = sessions[len(sessions) // 2]["start"] if len(sessions) >= 4 else None
    out: dict[str, dict] = {}
    for label, rows in per_site.items():
        early = [(n, v) for t, n, v in rows if mid is not None and t < mid]
        late = [(n, v) for t, n, v in rows if mid is not None and t >= mid]
        e_rate = sum(n for n, _ in early) / max(sum(v for _, v in early) / 3600, 1e-9) if early else 0.0
        l_n = sum(n for n, _ in late)
        l_rate = l_n / max(sum(v for _, v in late) / 3600, 1e-9) if late else 0.0
        out[label] = {"twitches": sum(n for _, n, _ in rows), "split_at": mid, "early_rate": e_rate,
                      "late_rate": l_rate, "late_twitches": l_n,
                      "new": bool(early) and e_rate < 0.5 and l_n >= 5 and l_rate >= 2.0}
    return out


#: ``min_session_minutes`` when a rules file predates it
MIN_SESSION_MINUTES = 1.0


def without_usable_data(s: dict) -> bool:
    """Has the session row no rate (``twitches_per_hour`` null: no second the detector could
    search)? Its 0 twitches are no measured 0/h."""
    return s.get("twitches_per_hour", 0.0) is None


def split_short(sessions: list[dict], definitions: dict) -> tuple[list[dict], list[dict]]:
    """(sessions long enough to give a rate, the shorter ones). A recording of a second or two
    with one twitch in it reads thousands an hour: one such file made a trend line climb to
    200,000/h. The short ones are listed, not measured, unless they are part of a recording
    long enough (``recordings``) that gives a rate on their day; so are those without usable
    data (``twitches_per_hour`` None), whose 0 twitches had counted as a day at 0/h."""
    least = 60.0 * float(definitions.get("min_session_minutes", MIN_SESSION_MINUTES))
    # (a file without usable data has no rate, null: not a measured 0/h to pull the rates down)
    gives = [s["valid_s"] >= least and not without_usable_data(s) for s in sessions]
    # a short file of a longer recording (a rotated recording's last minutes, the seconds
    # between two unplugs) is part of that recording's measure, on a day one of its long files
    # gives a rate for: its twitches had been left out of the day (`record --rotate 1m` for 150 s:
    # the last 30 s piece, 11 of 62 twitches)
    dated = sorted((i for i, s in enumerate(sessions) if s.get("start") is not None),
                   key=lambda i: sessions[i]["start"])
    recs, of = _grouped([sessions[i] for i in dated])
    long_days = {(of[k], sessions[i]["start"].date()) for k, i in enumerate(dated) if gives[i]}
    for k, i in enumerate(dated):
        if not gives[i] and not without_usable_data(sessions[i]) and recs[of[k]]["valid_s"] >= least \
                and (of[k], sessions[i]["start"].date()) in long_days:
            gives[i] = True
    return [s for s, g in zip(sessions, gives) if g], [s for s, g in zip(sessions, gives) if not g]


def rule_sessions(sessions: list[dict], definitions: dict, now: dt.datetime) -> tuple[list[dict], list[dict]]:
    """The dated sessions in the rules' window, oldest first, as ``split_short`` parts them:
    (those the rules measure, those too short to give a rate)."""
    window = dt.timedelta(days=min(definitions["window_days"], MAX_WINDOW_DAYS))
    dated = sorted((s for s in sessions if s.get("start") is not None and s["start"] >= now - window),
                   key=lambda s: s["start"])
    return split_short(dated, definitions)


#: files that follow one another within this long are one recording to the rules: a recorder's
#: rotated files (``--rotate 1h`` makes a night eight or more), or a new file after an unplug
JOIN_GAP_S = 600.0


def recordings(sessions: list[dict]) -> list[dict]:
    """The dated sessions (oldest first) with the files of one recording joined into one. The
    rules weigh sessions: a night's hourly files had made eight "sessions", so a rate rising
    over one night read as a trend worsening over weeks, the latest rate was a 3-minute tail
    file's, and a new unit seen in two of the night's files was "seen in two sessions". Files
    join when they follow within ``JOIN_GAP_S`` with the same channels, counted alike, from the
    same device where both say which; a file continues the recording it follows most closely,
    not merely the last one begun (two sensors recorded at once, each in hourly files, had
    made one recording of files taking turns)."""
    return _grouped(sessions)[0]


def _grouped(sessions: list[dict]) -> tuple[list[dict], list[int]]:
    """``recordings`` and, for each of the sessions, the index of the recording it is part of."""
    out: list[dict] = []
    of: list[int] = []
    open_: list[int] = []  # the recordings a later file may still continue
    for s in sessions:
        open_ = [i for i in open_ if (s["start"] - _end(out[i])).total_seconds() <= JOIN_GAP_S]
        fits = [i for i in open_ if _continues(out[i], s)]
        if fits:
            i = min(fits, key=lambda i: abs((s["start"] - _end(out[i])).total_seconds()))
            out[i] = _joined(out[i], s)
        else:
            i = len(out)
            open_.append(i)
            out.append(s)
        of.append(i)
    return out, of


def rule_recordings(files: list[dict], short: list[dict], definitions: dict) -> list[dict]:
    """The recordings the rules weigh: every dated file joined (``recordings``), the short ones
    too, so a 30-second file after an unplug no longer parts a night in two; then those long
    enough to give a rate (``split_short``)."""
    return split_short(recordings(sorted(files + short, key=lambda s: s["start"])), definitions)[0]


def _end(s: dict) -> dt.datetime:
    return s["start"] + dt.timedelta(seconds=s["duration_s"] or 0.0)


def _continues(a: dict, b: dict) -> bool:
    da, db = a.get("device"), b.get("device")
    return (-1.0 <= (b["start"] - _end(a)).total_seconds() <= JOIN_GAP_S
            and (a.get("channels") or []) == (b.get("channels") or []) and a.get("counting") == b.get("counting")
            and (da is None or db is None or da == db))


def _joined(a: dict, b: dict) -> dict:
    """One session of two files that follow each other (``_continues``)."""
    out = dict(a)
    end = max(_end(a), _end(b))
    out["duration_s"] = (end - a["start"]).total_seconds()
    # (over the seconds of usable data: a file without any, whose seconds the detector could
    # not search, had added them to the hours its recording's rate is over)
    usable = [x for x in (a, b) if not without_usable_data(x)]
    out["valid_s"] = sum(float(x["valid_s"]) for x in usable)
    out["searched_s"] = sum(searched_s(x) for x in usable)
    out["twitches"] = a["twitches"] + b["twitches"]
    out["twitches_per_hour"] = out["twitches"] / (out["searched_s"] / 3600) if out["searched_s"] > 0 else None
    out["episodes"] = (a.get("episodes") or 0) + (b.get("episodes") or 0)
    pa, pb = a.get("per_channel") or [], b.get("per_channel") or []
    out["per_channel"] = [x + y for x, y in zip(pa, pb)] if len(pa) == len(pb) else pa or pb
    units: dict[object, dict] = {}
    for i, u in enumerate((a.get("units") or []) + (b.get("units") or [])):
        name = u.get("known_as") if isinstance(u, dict) else None
        if name is None or name not in units:  # (a file's own ids, U3 in one and U3 in the next, are no one unit)
            units[name if name is not None else ("file", i)] = dict(u) if isinstance(u, dict) else u
        else:
            units[name]["count"] = int(units[name].get("count") or 0) + int(u.get("count") or 0)
    out["units"] = list(units.values())
    out["files"] = a.get("files", [a.get("file")]) + [b.get("file")]
    out["device"] = a.get("device") or b.get("device")
    return out


def _med_words(name: str) -> str:
    """A logged medicine's words, space separated ("symbicort/ventolin 100mcg" -> "symbicort
    ventolin 100mcg"), so a class's names are found at the start of any of them."""
    return " ".join(re.split(r"[\s,;:/+()-]+", name.lower())).strip()


def compute_metrics(sessions: list[dict], diary: list[dict], ruleset: RuleSet,
                    now: dt.datetime | None = None) -> dict:
    """Turn session rows (host.index) and diary entries into the metric values the rules use."""
    d = ruleset.definitions
    now = now or dt.datetime.now()
    window = dt.timedelta(days=min(d["window_days"], MAX_WINDOW_DAYS))
    files, short = rule_sessions(sessions, d, now)
    sessions = rule_recordings(files, short, d)  # (days are the files'; trends, sites and units the recordings')
    # entries dated in the future (a typo, a wrong clock) would count forever: leave them out
    diary = [e for e in diary if now - window <= e["time"] <= now + dt.timedelta(minutes=5)]
    m: dict = {"window_days": d["window_days"], "short_sleep_h": d["short_sleep_h"],
               "high_caffeine_mg": d["high_caffeine_mg"], "symptom_days": d["symptom_days"]}
    m["sessions"] = len(sessions)
    m["short_sessions"] = len(short)
    m["no_data_sessions"] = sum(1 for s in short if without_usable_data(s))
    m["twitches_total"] = sum(s["twitches"] for s in sessions)
    m["rate_latest"] = sessions[-1]["twitches_per_hour"] if sessions else 0.0

    # per day
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for s in files:
        by_day[s["start"].date()].append(s)
    day_rate = daily_rates(by_day)
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
    sites = site_changes(sessions)
    totals = {k: v["twitches"] for k, v in sites.items()}
    if totals and sum(totals.values()) > 0:
        top = max(totals, key=lambda k: totals[k])
        m["one_site"], m["one_site_share"] = top, totals[top] / sum(totals.values())
    new_sites = [label for label, v in sites.items() if v["new"]]
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
    # (a name anywhere in what was logged: "mixed amphetamine salts", "ventolin inhaler")
    words = {med: f" {_med_words(med)}" for med in meds}
    for cls, members in ruleset.medications.items():
        for med in meds:
            if any(med.startswith(x) or f" {x}" in words[med] for x in members):
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
    if sleep:  # a night is a day's entries together (a night and a nap, or a night logged in two parts), as history draws them
        nights = daily("sleep")
        m["sleep_avg_h"] = statistics.fmean(nights.values())
        m["short_sleep_nights"] = sum(1 for h in nights.values() if h < d["short_sleep_h"])
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
    intake = [(e["time"], float(e["value"])) for e in diary if e["kind"] == "caffeine" and e["value"] is not None]
    _associations(m, sessions, caffeine, intake, sleep, d)
    return m


def _caffeine_before(s: dict, caffeine: dict, intake: list[tuple[dt.datetime, float]]) -> float | None:
    """The caffeine that came before session ``s``: the day before's for a recording that starts
    at night (before noon); for one that starts later, what that day's diary logged up to its
    start (a cup logged after an evening recording did not come before it). None when the day
    has no caffeine logged."""
    day = s["start"].date()
    if s["start"].hour < 12:
        return caffeine.get(day - dt.timedelta(days=1))
    if day not in caffeine:
        return None
    return sum(v for t, v in intake if t.date() == day and t <= s["start"])


def _associations(m: dict, sessions: list[dict], caffeine: dict, intake: list[tuple[dt.datetime, float]],
                  sleep: list[dict], d: dict) -> None:
    """Rates on sessions after high-caffeine days / short nights vs the others, with a one-sided
    Mann-Whitney test; stated as associations, never as causes."""
    from scipy import stats

    def compare(groups: tuple[list[float], list[float]]) -> tuple[bool, float, float, float | None]:
        hi, lo = groups
        if len(hi) < d["association_min_days"] or len(lo) < d["association_min_days"]:
            return False, 0.0, 0.0, None
        a, b = statistics.fmean(hi), statistics.fmean(lo)
        p = float(stats.mannwhitneyu(hi, lo, alternative="greater").pvalue)
        return bool(a >= 1.5 * max(b, 0.5) and p < 0.1), a, b, p

    hi: list[float] = []
    lo: list[float] = []
    for s in sessions:
        mg = _caffeine_before(s, caffeine, intake)
        if mg is not None:
            (hi if mg >= d["high_caffeine_mg"] else lo).append(s["twitches_per_hour"])
    ok, a, b, m["_caffeine_p"] = compare((hi, lo))  # the p-values are shown by `myotwitch history`
    m.update(caffeine_association=ok, caffeine_high_rate=a, caffeine_low_rate=b, caffeine_high_n=len(hi),
             caffeine_low_n=len(lo))
    short: list[float] = []
    long_: list[float] = []
    for s in sessions:
        before = [e for e in sleep if dt.timedelta(0) <= s["start"] - e["time"] <= dt.timedelta(hours=24)]
        if before:  # the night before it: that day's entries until the recording (a night and a nap are one)
            day = before[-1]["time"].date()
            hours = sum(e["value"] for e in before if e["time"].date() == day)
            (short if hours < d["short_sleep_h"] else long_).append(s["twitches_per_hour"])
    ok, a, b, m["_sleep_p"] = compare((short, long_))
    m.update(sleep_association=ok, sleep_short_rate=a, sleep_long_rate=b, sleep_short_n=len(short),
             sleep_long_n=len(long_))


def advise(sessions: list[dict] | None = None, diary: list[dict] | None = None, *, ruleset: RuleSet | None = None,
           now: dt.datetime | None = None, index=None, extra_session: dict | None = None,
           extra_sessions: Sequence[dict] = (), leave_out: Sequence[str] = (),
           extras_indexed: bool = True) -> Advice:
    """Structured advice. With no sessions/diary given, reads the local session index.
    ``extra_sessions`` (one run's files) are included as if they were indexed
    (``extras_indexed``: whether the run adds them to the index after this); so is
    ``extra_session``, the live window's session, after the check for copies of one recording,
    with the files it recorded into the index (``leave_out``) left out: its session holds them
    (a file of its, under a minute, would have been set aside as too short on its own)."""
    ruleset = ruleset or load_rules()
    now = now or dt.datetime.now()
    if sessions is None or diary is None:
        from myotwitch.host.index import SessionIndex

        idx = index or SessionIndex.default()
        since = now - dt.timedelta(days=min(ruleset.definitions["window_days"], MAX_WINDOW_DAYS))
        try:
            if sessions is None:  # lasting unit names for sessions indexed before they were registered
                from myotwitch.host.unit_registry import attach_sightings

                sessions = attach_sightings(idx.sessions(since), getattr(idx, "path", None))
            diary = idx.entries(since) if diary is None else diary
        finally:
            if index is None:
                idx.close()
    from myotwitch.host.index import distinct_sessions, resolved, summary_row

    gone = {resolved(f) for f in leave_out}
    # the same recording already indexed (by content or path) counts once: looked up, not asked of
    # every row (a batch of 800 files had spent 10 s resolving paths pair by pair)
    rows: list[dict] = []
    paths: set[str] = set()
    for s in sessions:
        path = resolved(str(s["file"])) if s.get("file") else ""
        if path not in gone:
            rows.append(s)
            paths.add(path)
    paths.discard("")
    keys = {r.get("key") for r in rows if r.get("key")}

    def add(extra: dict) -> None:
        row = summary_row(extra)  # (its file resolved)
        if row["start"] is None:  # undated ones stay out of trends
            return
        if (row["key"] and row["key"] in keys) or (row["file"] and row["file"] in paths):
            return
        rows.append(row)
        keys.add(row["key"])
        paths.add(row["file"])
    before = len(rows)
    for extra in extra_sessions:
        add(extra)
    # a night and a copy of it cut short, or its BDF beside its EDF, in the index or the batch: once
    outside = () if extras_indexed else {r["file"] for r in rows[before:]}
    rows[:] = distinct_sessions(rows, outside)
    if extra_session is not None:
        add(extra_session)
    sessions = rows
    metrics = compute_metrics(sessions, diary, ruleset, now)
    note = counting_note(counting_summary(rule_sessions(sessions, ruleset.definitions, now)[0]))
    return Advice(ruleset.notice, evaluate(ruleset, metrics), metrics, [note] if note else [])


def counting_summary(sessions: list[dict]) -> dict:
    """The detector settings the sessions were counted with: each set and how many sessions
    used it, the settings in which they differ, and how many sessions were indexed before the
    index kept them (``unknown``)."""
    seen: dict[str, dict] = {}
    for s in sessions:
        c = s.get("counting")
        if c is not None:
            seen.setdefault(json.dumps(c, sort_keys=True), {"settings": c, "sessions": 0})["sessions"] += 1
    sets = list(seen.values())
    differ = sorted({k for a in sets for b in sets for k in a["settings"] if a["settings"][k] != b["settings"].get(k)})
    return {"sets": sets, "differ": differ, "unknown": sum(1 for s in sessions if s.get("counting") is None)}


#: the index's counting settings as the note names them (its JSON keys, "band_high_hz 225.0 / 450.0",
#: had been shown to the reader), with their units
SETTING_WORDS = {"detector": ("detector", ""), "energy_on_threshold": ("energy detector threshold", ""),
                 "on_threshold": ("envelope detector threshold", ""), "min_twitch_uv": ("smallest twitch counted", " µV"),
                 "max_rest_floor_uv": ("highest rest floor", " µV"), "band_low_hz": ("band's lower edge", " Hz"),
                 "band_high_hz": ("band's upper edge", " Hz")}


def _setting_values(key: str, values: list) -> str:
    """``band's upper edge 225 / 450 Hz``: one setting's values, one per set of sessions."""
    name, unit = SETTING_WORDS.get(key, (key, ""))
    text = " / ".join(f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v) for v in values)
    return f"{name} {text}{unit}"


def counting_note(c: dict) -> str:
    """A warning when rates were counted with different detector settings (``counting_summary``;
    or with settings the index does not know): a change between them may be the settings'."""
    if len(c["sets"]) > 1 and c["differ"]:
        what = "; ".join(_setting_values(k, [x["settings"].get(k) for x in c["sets"]]) for k in c["differ"])
        how = "Analyse the files again with one setting to compare them."
        if c["differ"] == ["band_high_hz"]:
            # (no option chosen differs: the band's default upper edge follows each file's rate,
            # and "one setting" named nothing the person had set)
            lows = {x["settings"].get("band_low_hz") for x in c["sets"]}
            highs = [x["settings"].get("band_high_hz") for x in c["sets"]]
            if len(lows) == 1 and all(isinstance(h, (int, float)) for h in highs):
                low = lows.pop()
                how = ("Recordings at different sample rates get different bands by default (the upper edge is "
                       "0.45 x the rate, at most 450 Hz); to count them alike, analyse them again with "
                       f"--band {low if isinstance(low, (int, float)) else 20:g}-{min(highs):g}.")
        return (f"these files were counted with different detector settings ({what}; "
                f"{' / '.join(str(x['sessions']) for x in c['sets'])} files): a change in rate between them may "
                f"be the settings', not the muscle's. {how}")
    if c["unknown"] and c["sets"]:
        return (f"{counted(c['unknown'], 'session')} {'was' if c['unknown'] == 1 else 'were'} indexed before the index kept the detector settings; if the "
                "settings or the version of myotwitch changed since, analyse those files again to compare rates.")
    return ""


def _nothing_to_advise(m: dict) -> str:
    """Why there is no advice, from what the window held (recordings dated before it, e.g. an
    old file analysed today, are not in it: "no twitches recorded yet" would be wrong)."""
    days = m.get("window_days", 28)
    if not m.get("sessions"):
        short = m.get("short_sessions", 0)
        none = m.get("no_data_sessions", 0)
        if short and none:  # (without usable data: no rate, whatever their length)
            why = "no usable data" if short == none else f"{none} without usable data, {short - none} under a minute"
            return (f"{short} recording{'s' if short != 1 else ''} in the last {days} days, "
                    f"{'none' if short != 1 else 'not'} giving a rate ({why}); nothing in the diary calls for advice.")
        if short:  # (too short to give a rate, so the rules leave them out)
            return (f"{short} recording{'s' if short != 1 else ''} in the last {days} days, "
                    f"{'all too short' if short != 1 else 'too short'} to give a rate; nothing in the diary calls "
                    "for advice.")
        return f"No recordings from the last {days} days and nothing in the diary that calls for advice."
    n = m.get("twitches_total", 0)
    counted = "no twitches" if not n else f"{n:,} twitch{'es' if n != 1 else ''}"
    return (f"{m['sessions']} recording{'s' if m['sessions'] != 1 else ''} in the last {days} days "
            f"({counted}): nothing in them or in the diary calls for advice.")


def format_advice(advice: Advice, width: int = 100) -> str:
    """Plain text, grouped by level, consult first, each item with why and its source."""
    from myotwitch.host.wording import wrap

    titles = {"consult": "SEE A DOCTOR ABOUT", "self-care": "THINGS TO TRY", "info": "GOOD TO KNOW"}
    out = []
    for level in LEVELS:
        items = [i for i in advice.items if i.level == level]
        if not items:
            continue
        out.append(titles[level])
        for i in items:
            out.append(wrap(i.text, width, initial_indent="  * ", subsequent_indent="    "))
            if i.why:
                out.append(wrap(f"why: {i.why}", width, initial_indent="    ", subsequent_indent="    "))
            out.append(f"    source: reference article, \"{i.section}\"")
        out.append("")
    if not advice.items:
        out.append(_nothing_to_advise(advice.metrics) + "\n")
    for c in advice.caveats:
        out.append(wrap(f"note: {c}", width) + "\n")
    out.append(wrap(advice.notice, width))
    return "\n".join(out)

