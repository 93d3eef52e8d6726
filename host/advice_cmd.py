"""``myotwitch advice`` and ``myotwitch log`` (the diary)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import re

from myotwitch.host.advice import MAX_WINDOW_DAYS as MAX_DAYS
from myotwitch.host.errors import UsageError
from myotwitch.host.outputs import Writes, check_files, write_text

log = logging.getLogger(__name__)

KINDS = {
    "caffeine": ("mg", "caffeine in mg (or --unit cups: 1 cup of coffee ~ 95 mg)"),
    "fluids": ("l", "fluids in litres (or --unit ml)"),
    "sleep": ("h", "hours slept (or --unit min)"),
    "exercise": ("level", "none, light, moderate or hard (0-3)"),
    "stress": ("level", "1 (calm) to 5 (very stressed)"),
    "symptom": ("name", "pain, weakness, numbness, muscle_loss, coordination, twitching_elsewhere"),
    "medication": ("name", "the medicine's name, e.g. salbutamol"),
}
SYMPTOM_WORDS = {
    "pain": "pain", "ache": "pain", "weakness": "weakness", "weak": "weakness", "numbness": "numbness",
    "numb": "numbness", "tingling": "numbness", "muscle_loss": "muscle_loss", "muscle-loss": "muscle_loss",
    "wasting": "muscle_loss", "atrophy": "muscle_loss", "coordination": "coordination", "clumsiness": "coordination",
    "balance": "coordination", "twitching_elsewhere": "twitching_elsewhere", "elsewhere": "twitching_elsewhere",
    "spreading": "twitching_elsewhere",
}
#: words that name a symptom inside a longer phrase ("muscle weakness", "pins and needles",
#: "loss of balance"); a phrase is that symptom when its words name this one only
SYMPTOM_PHRASE_WORDS = {
    **{w: s for w, s in SYMPTOM_WORDS.items() if "_" not in w and "-" not in w},
    "painful": "pain", "aching": "pain", "wasted": "muscle_loss", "shrinking": "muscle_loss", "mass": "muscle_loss",
    "needles": "numbness", "unsteady": "coordination", "clumsy": "coordination", "uncoordinated": "coordination",
}

NEGATIONS = {"no", "not", "without", "never", "none", "gone", "less"}


def symptom_name(text: str) -> str | None:
    """The symptom a diary word or phrase names: ``weak``, ``muscle weakness``, ``loss of
    muscle mass``, ``pins and needles``, ``poor balance`` (the article's red flags, as people
    say them); None when it names none, or several ("pain and numbness": one entry each)."""
    key = text.strip().lower().replace(" ", "_")
    if key in SYMPTOM_WORDS:
        return SYMPTOM_WORDS[key]
    if NEGATIONS & set(_phrase_words(text)):  # ("no pain", "weakness gone": not that symptom)
        return None
    named = phrase_symptoms(text)
    return named.pop() if len(named) == 1 else None


def phrase_symptoms(text: str) -> set[str]:
    """The symptoms the words of a phrase name (``SYMPTOM_PHRASE_WORDS``), negated or not."""
    return {SYMPTOM_PHRASE_WORDS[w] for w in _phrase_words(text) if w in SYMPTOM_PHRASE_WORDS}


def _phrase_words(text: str) -> list[str]:
    return re.split(r"[\s_\-/,.]+", text.lower())


EXERCISE = {"none": 0, "light": 1, "moderate": 2, "hard": 3}


#: the kinds that take a unit, with the units they accept
UNITS = {"caffeine": ("mg", "cup", "cups"), "fluids": ("l", "ml"), "sleep": ("h", "min")}


#: a caffeine amount in mg this small was probably meant in cups
CUPS_HINT_MG = 10


def _echo(text: str | None, most: int = 40) -> str:
    """User input quoted back in an error, cut short (a pasted paragraph filled the screen)."""
    text = text or ""
    return text if len(text) <= most else text[: most - 1] + "…"


def check_days(days: int) -> int:
    """``--days`` of ``log``, ``advice`` and ``history``: 1 to ``MAX_DAYS``."""
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days {days}: expected 1 to {MAX_DAYS} days")
    return days


#: a time with its UTC offset (``2026-10-25 02:30+01:00``, ``2026-10-25T00:30Z``)
_WITH_OFFSET = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))", re.IGNORECASE)
_WHEN_FORMS = "YYYY-MM-DD or 'YYYY-MM-DD HH:MM'"


def parse_when(text: str | None) -> dt.datetime:
    """The entry's time on this computer's clock, as the history places recordings (now when not
    given). A time without a zone is read on this computer's clock; one in the hour the clocks
    went back came twice and is refused unless its UTC offset says which (``+02:00``), and one
    the clocks skipped is refused (either had been stored as the one reading, an hour off the
    other). Entries in the future are refused (they would count forever), and so is an empty
    --at (it had meant "now" without a word)."""
    from myotwitch.host.wording import not_once_on_local_clock, on_local_clock

    if text is None:
        return dt.datetime.now().replace(second=0, microsecond=0)
    if not text.strip():
        raise UsageError(f"--at '': expected {_WHEN_FORMS} (leave --at out for now)")
    when: dt.datetime | None = None
    m = _WITH_OFFSET.fullmatch(text.strip())
    if m:
        try:
            when = dt.datetime.strptime(f"{m[1]} {m[2]}", "%Y-%m-%d %H:%M")
            offset = dt.timedelta(0) if m[3] else (1 if m[4] == "+" else -1) * dt.timedelta(
                hours=int(m[5]), minutes=int(m[6]))
            when = on_local_clock(when.replace(tzinfo=dt.timezone(offset)))
        except ValueError:  # (an impossible date, or an offset of 24 h or more)
            when = None
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        if when is not None:
            break
        try:
            when = dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
        offsets = not_once_on_local_clock(when)
        if offsets:
            raise UsageError(f"--at '{text}': came twice on this computer's clock (at {offsets[0]}, then at "
                             f"{offsets[1]} after the clocks went back); say which with its UTC offset, e.g. "
                             f"'{when:%Y-%m-%d %H:%M}{offsets[1]}'")
        if offsets is not None:
            raise UsageError(f"--at '{text}': never came on this computer's clock (the clocks went forward "
                             "past it); expected a time that did")
    if when is None:
        raise UsageError(f"--at '{text}': expected {_WHEN_FORMS}, on this computer's clock "
                         "(or with a UTC offset: 'YYYY-MM-DD HH:MM+01:00')")
    if when > dt.datetime.now() + dt.timedelta(minutes=5):
        raise UsageError(f"--at '{text}': is in the future; diary entries record what already happened")
    if when < dt.datetime.now() - dt.timedelta(days=MAX_DAYS):
        raise UsageError(f"--at '{text}': more than {MAX_DAYS // 365} years ago; expected the date it happened")
    return when


def parse_entry(what: str, value: str | None, unit: str | None) -> tuple[str, str, float | None]:
    """Validate one diary entry -> (kind, name, value). Raises UsageError with what was expected."""
    kind = (what or "").lower()
    if kind not in KINDS:
        raise UsageError(f"unknown diary entry '{_echo(what)}': expected one of {', '.join(KINDS)}")
    if unit is not None and unit.lower() not in UNITS.get(kind, ()):
        accepted = f"use {' or '.join(UNITS[kind])}" if kind in UNITS else f"{kind} takes no unit"
        raise UsageError(f"{kind} unit '{unit}': {accepted}")
    if value is None:
        raise UsageError(f"'{kind}' needs a value: {KINDS[kind][1]}")
    if kind == "symptom":
        name = symptom_name(value)
        if name is None:
            several = sorted(phrase_symptoms(value))
            if len(several) > 1:
                raise UsageError(f"symptom '{_echo(value)}' names {len(several)} symptoms ({', '.join(several)}): "
                                 "log each as its own entry")
            raise UsageError(f"unknown symptom '{_echo(value)}': expected {KINDS['symptom'][1]}")
        return kind, name, None
    if kind == "medication":
        if not value.strip() or len(value) > 80:
            raise UsageError("medication: give its name (at most 80 characters)")
        return kind, value.strip().lower(), None
    if kind == "exercise" and value.lower() in EXERCISE:
        return kind, kind, float(EXERCISE[value.lower()])
    if kind == "sleep":
        value, unit = _hours_and_minutes(value, unit)
    value, unit = _unit_in_value(kind, value, unit)
    try:
        number = float(value)
    except ValueError as e:
        if kind == "exercise":
            raise UsageError(f"exercise '{_echo(value)}': use {KINDS['exercise'][1]}") from e
        raise UsageError(f"'{kind}' value '{_echo(value)}' is not a number ({KINDS[kind][1]})") from e
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"'{kind}' value {value}: expected a number of 0 or more ({KINDS[kind][1]})")
    u = (unit or KINDS[kind][0]).lower()
    if kind == "caffeine":
        number = number * 95 if u in ("cup", "cups") else number
        if u not in ("mg", "cup", "cups"):
            raise UsageError(f"caffeine unit '{unit}': use mg or cups")
        if number > 3000:
            raise UsageError(f"caffeine {number:g} mg in one entry is implausible (over 3000 mg)")
        if unit is None and 0 < number < CUPS_HINT_MG:
            log.warning("caffeine %g mg noted; if you meant cups, give `log caffeine %g --unit cups` (about 95 mg each)",
                        number, number)
    elif kind == "fluids":
        number = number / 1000 if u == "ml" else number
        if u not in ("l", "ml"):
            raise UsageError(f"fluids unit '{unit}': use l or ml")
        if number > 15:
            hint = f"; in millilitres: `myotwitch log fluids {number:g} --unit ml`" if unit is None else ""
            raise UsageError(f"fluids {number:g} l in one entry is implausible (over 15 l{hint})")
    elif kind == "sleep":
        number = number / 60 if u == "min" else number
        if number > 24:
            hint = f"; in minutes: `myotwitch log sleep {number:g} --unit min`" if unit is None else ""
            raise UsageError(f"sleep {number:g} h: a night has at most 24 hours{hint}")
    elif kind == "stress" and number not in (1, 2, 3, 4, 5):  # (a level, as exercise's: 3.5 had been kept as
        # "3.5 of 5"; only a day's mean of several entries, in the history, falls between them)
        raise UsageError(f"stress {number:g}: use a whole level, 1 (calm) to 5 (very stressed)")
    elif kind == "exercise" and number not in (0, 1, 2, 3):
        raise UsageError(f"exercise '{value}': use none, light, moderate or hard (0-3)")
    return kind, kind, number


def _unit_in_value(kind: str, value: str, unit: str | None) -> tuple[str, str | None]:
    """A unit typed onto the number (``7h``, ``450min``, ``200mg``, ``2cups``, ``500ml``,
    ``1.5 l``): the number and that unit, as if given with --unit. Only for the kinds that
    take units; one that is not theirs, or that contradicts --unit, is refused in one line."""
    m = _VALUE_UNIT.match(value)
    if kind not in UNITS or m is None:
        return value, unit
    number, typed = m.group(1), m.group(2).lower()
    if typed not in UNITS[kind]:
        raise UsageError(f"{kind} '{_echo(value)}': unit '{_echo(m.group(2))}' is not one of "
                         f"{', '.join(UNITS[kind])} ({KINDS[kind][1]})")
    if unit is not None and unit.lower() != typed:
        raise UsageError(f"{kind} '{_echo(value)}' with --unit {unit}: give the unit once")
    return number, typed


def _hours_and_minutes(value: str, unit: str | None) -> tuple[str, str | None]:
    """A night typed in hours and minutes (``7h30m``, ``7h30``, ``7:30``, as ``record --duration``
    takes ``1h30m``): its hours, as ``7.5`` with the unit h; had been refused as "not a number"."""
    m = _HOURS_MINUTES.match(value)
    if m is None:
        return value, unit
    if unit is not None and unit.lower() != "h":
        raise UsageError(f"sleep '{_echo(value)}' with --unit {unit}: give the unit once")
    hours, minutes = int(m.group(1)), int(m.group(2) or m.group(3))
    if minutes >= 60:
        raise UsageError(f"sleep '{_echo(value)}': minutes go up to 59 (e.g. 7h30m)")
    return repr(hours + minutes / 60), "h"


#: hours and minutes: ``7h30m``, ``7h30``, ``7 h 30 min``, ``7:30``
_HOURS_MINUTES = re.compile(r"^\s*([0-9]+)\s*(?:h\s*([0-9]{1,2})\s*(?:m|min)?|:([0-9]{2}))\s*$", re.I)

#: a number with a unit typed onto it: ``7h``, ``450 min``, ``1.5l``
_VALUE_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]+)\s*$")


def shown_value(kind: str, name: str, value: float | None) -> str:
    """An entry's value as the diary stores it, with its unit (caffeine in mg, fluids in l,
    sleep in h, whatever unit it was typed in)."""
    if value is None:
        return name.replace("_", " ") if kind == "symptom" else name  # (as history shows it)
    if kind == "exercise" and value in EXERCISE.values():
        return next(word for word, level in EXERCISE.items() if level == value)
    if kind == "stress":
        return f"{round(value, 1):g} of 5"  # (a day's mean in the history: 3.3, not 3.33333)
    if kind == "sleep" and 0 < value < 1:
        return f"{value * 60:.0f} min"
    unit = KINDS.get(kind, ("",))[0]
    number = f"{round(value, 3 if kind == 'fluids' else 2):g}"  # (a sip of 20 ml read "0 l")
    return f"{number} {unit}" if unit in ("mg", "l", "h") else number


#: how far back ``log --list`` looks by default (days)
LIST_DAYS = 28


def _one_action(args: argparse.Namespace) -> None:
    """Adding, listing, editing and deleting are separate commands: with two of them, one was
    done and the other dropped without a word."""
    if args.what is not None and not args.what.strip():
        raise UsageError(f"diary entry '': expected one of {', '.join(KINDS)}")
    actions = [name for name, given in (("an entry to add", args.what is not None), ("--list", args.list),
                                        ("--edit", args.edit is not None), ("--delete", args.delete is not None))
               if given]
    if len(actions) > 1:
        raise UsageError(f"give one of an entry to add, --list, --edit ID or --delete ID, not {' and '.join(actions)}")
    if args.edit is None and args.set_value is not None:
        raise UsageError("--set-value goes with --edit ID")
    if args.list or args.delete is not None or (args.what is None and args.edit is None):
        extra = [o for o, given in (("--at", args.at is not None), ("--note", args.note is not None),
                                    ("--unit", getattr(args, "unit", None) is not None)) if given]
        if extra:
            alone = "--delete" if args.delete is not None else "--list"
            raise UsageError(f"{extra[0]} goes with an entry to add or --edit ID, not {alone}"
                             f"{'' if args.list or args.delete is not None else ' (what `log` does with no entry)'}")
    if args.days is not None and (args.what is not None or args.edit is not None or args.delete is not None):
        # (`log caffeine 100 --days 5` had added the entry and dropped --days without a word)
        raise UsageError("--days goes with --list (how far back to list), not with "
                         + ("an entry to add" if args.what is not None else "--edit" if args.edit is not None
                            else "--delete"))
    if args.edit is not None and args.set_value is None and args.at is None and args.note is None:
        raise UsageError(f"--edit {args.edit}: nothing to change; give --set-value, --at or --note")


def run_log(args: argparse.Namespace) -> int:
    from myotwitch.host.index import SessionIndex

    _one_action(args)
    with SessionIndex.default() as idx:
        if args.delete is not None:
            if not idx.delete_entry(args.delete):
                raise UsageError(f"no diary entry with id {args.delete} (see `myotwitch log --list`)")
            print(f"deleted entry {args.delete}")
            return 0
        if args.edit is not None:
            fields: dict = {"note": args.note}
            if args.at:
                fields["time"] = parse_when(args.at)
            if args.set_value is not None:
                row = [e for e in idx.entries() if e["id"] == args.edit]
                if not row:
                    raise UsageError(f"no diary entry with id {args.edit}")
                _, new_name, new_value = parse_entry(row[0]["kind"], args.set_value, args.unit)
                fields.update(name=new_name, value=new_value)
            if not idx.update_entry(args.edit, **fields):
                raise UsageError(f"no diary entry with id {args.edit} (see `myotwitch log --list`)")
            print(f"updated entry {args.edit}")
            return 0
        if args.list or not args.what:
            days = LIST_DAYS if args.days is None else args.days
            check_days(days)
            since = dt.datetime.now() - dt.timedelta(days=days)
            rows = idx.entries(since)
            if not rows:
                print(f"no diary entries in the last {days} days. Add one: myotwitch log sleep 7")
            for e in rows:
                shown = shown_value(e["kind"], e["name"], e["value"])
                print(f"{e['id']:>4}  {e['time']:%Y-%m-%d %H:%M}  {e['kind']:<10} {shown:<19} {e['note'] or ''}".rstrip())
            return 0
        kind, name, value = parse_entry(args.what, args.value, args.unit)
        entry_id = idx.add_entry(parse_when(args.at), kind, name, value, args.note)
        print(f"logged #{entry_id}: {kind} {shown_value(kind, name, value)}")
    return 0


def run_advice(args: argparse.Namespace) -> int:
    from myotwitch.host.advice import advise, format_advice, load_rules
    from myotwitch.host.history_cmd import parse_days

    rules = load_rules(args.rules) if args.rules else load_rules()
    # the rules' own window unless --days says otherwise, as `history` reads it: with a rules
    # file of another window, advice had looked 28 days back and history that window
    rules.definitions["window_days"] = parse_days(args.days, int(rules.definitions["window_days"]))
    # (a file, as history's and analyze's --json take one: `advice --json advice.json` had been
    # "unrecognized arguments")
    check_files([("--json", args.json)])
    advice = advise(ruleset=rules)
    if args.json is None:
        print(format_advice(advice))
        return 0
    text = json.dumps(advice.to_dict(), indent=1, default=str)
    if args.json == "-":
        print(text)
        return 0
    write = Writes()
    write(args.json, lambda: write_text(args.json, text + "\n"), "JSON")
    write.done()
    return 0
