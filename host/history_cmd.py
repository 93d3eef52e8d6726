"""``myotwitch history``: your twitches over weeks, and the evidence behind the advice."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

from myotwitch.host.advice import MAX_WINDOW_DAYS as MAX_DAYS
from myotwitch.host.advice_cmd import check_days
from myotwitch.host.errors import UsageError
from myotwitch.host.outputs import Writes, check_files, write_text
from myotwitch.host.wording import counted

DESCRIPTION = """\
Show your twitch rate over the days and weeks you recorded, with your diary beside it, and
what the advice's time rules measured:

  persistent  days with twitches out of the days you recorded, and over how long a span;
  worsening   a Kendall trend test of the session rates against time (its p-value) and a
              Theil-Sen fitted line from the first session to the last (its fold change);
  spreading   when each channel (and each motor unit, once the analysis reports units) was
              first seen twitching, and the rates before and after the middle session.

Rates are twitches per hour searched (of recorded data, less the detector's start-up and
its settling after gaps), so 10 minutes is not read like a night.
Associations (rates after high-caffeine days, after short nights) are shown with their
counts and p-values; they are associations, not causes. The verdicts use the same rules
file as `myotwitch advice` (data/advice/rules.toml), so the two always agree.

Sessions come from the local index: `myotwitch record` and `myotwitch analyze` add them.
A file is one session however it is named (relative path, symlink, copy), and two files
that hold the same stretch of one recording (a copy cut short, a BDF beside its EDF) count
once. Undated files (no start time, e.g. CSV without timestamps) are kept but left out of the
trends, and the output says so."""

EXAMPLES = """\
examples:
  myotwitch history                          # the last 28 days in the terminal
  myotwitch history --days 90 --report history.html
  myotwitch history --json history.json --csv days.csv
  myotwitch history --forget night3.edf      # remove one session from the index
  myotwitch history --before 2026-01-01      # remove dated sessions older than that
"""


def configure_parser(sp: argparse.ArgumentParser) -> None:
    sp.description = DESCRIPTION
    sp.epilog = EXAMPLES
    sp.add_argument("--days", type=str, default=None, metavar="N",
                    help=f"how far back to look (1-{MAX_DAYS}; default: the rules' window, 28)")
    sp.add_argument("--report", metavar="HTML", help="write a self-contained HTML page (needs myotwitch[report])")
    sp.add_argument("--json", nargs="?", const="-", metavar="PATH", help="write JSON (to stdout when no PATH)")
    sp.add_argument("--csv", metavar="PATH", help="write one row per day (rates, hours, episodes, diary)")
    sp.add_argument("--rules", metavar="TOML", help="use another rules file (as `advice --rules`)")
    g = sp.add_argument_group("removing sessions from the index")
    g.add_argument("--forget", metavar="FILE", action="extend", nargs="+",
                   help="remove the sessions of these files (found by content, or by path if the file is gone; "
                        "`history --json` lists the sessions' files)")
    g.add_argument("--before", metavar="YYYY-MM-DD", help="remove the dated sessions that started before this date")


def parse_days(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        days = int(text)
    except ValueError as e:
        raise UsageError(f"--days {text}: expected a whole number of days, 1 to {MAX_DAYS}") from e
    return check_days(days)


#: how the daily table ``--csv`` writes begins
DAILY_HEADER = b"date,hours,twitches,"


def _check_not_recordings(args: argparse.Namespace) -> None:
    """No output is written over a recording (a CSV one too: ``check_files`` knows EDF/BDF by
    their header), as ``analyze`` refuses for its own: ``history --csv night.csv`` had replaced
    the night with the daily table."""
    for option, path in (("--json", args.json), ("--csv", args.csv)):
        if not path or path == "-":
            continue
        if option == "--json" and path.lower().endswith((".csv", ".edf", ".bdf", ".rec")):
            raise UsageError(f"{option} {path}: that is a recording's name, not an output file; it would be "
                             "overwritten (give --json FILE.json)")
        if option != "--csv" or not os.path.isfile(path):  # (reading a pipe, /dev/stdout, waits)
            continue
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(DAILY_HEADER) + 3)
        except OSError:
            continue
        if head and not head.lstrip(b"\xef\xbb\xbf").startswith(DAILY_HEADER):
            raise UsageError(f"{option} {path}: the file exists and is not a daily table of myotwitch's (a "
                             "recording?); it would be overwritten (give another file name)")


def run_history(args: argparse.Namespace) -> int:
    from myotwitch.host.advice import load_rules
    from myotwitch.host.index import SessionIndex

    if args.before is not None and not args.before.strip():
        raise UsageError("--before '': expected a date YYYY-MM-DD")
    if args.forget or args.before:
        # removing is a command of its own: a --report beside it was not written, without a word
        shown = [o for o, given in (("--days", args.days), ("--report", args.report), ("--json", args.json),
                                    ("--csv", args.csv), ("--rules", args.rules)) if given is not None]
        if shown:
            removing = "--forget" if args.forget else "--before"
            raise UsageError(f"{shown[0]} goes with showing the history, not with {removing}, which removes sessions "
                             "and shows nothing: run them one after the other")
        return _remove(args)
    rules = load_rules(args.rules) if args.rules else load_rules()
    days = parse_days(args.days, int(rules.definitions["window_days"]))
    _check_not_recordings(args)
    check_files([("--report", args.report), ("--csv", args.csv), ("--json", args.json)])
    from myotwitch.host.history import build_history, format_history, strict, write_csv

    now = dt.datetime.now()
    with SessionIndex.default() as idx:
        from myotwitch.host.unit_registry import attach_sightings

        # lasting unit names for sessions indexed before they were registered, as the advice reads them
        sessions = attach_sightings(idx.sessions(include_undated=True), getattr(idx, "path", None))
        diary = idx.entries(now - dt.timedelta(days=days))
    h = build_history(sessions, diary, rules, days=days, now=now)
    write = Writes()
    if args.csv:
        write(args.csv, lambda: write_csv(h, args.csv), "daily table (CSV)")
    if args.report:
        from myotwitch.host.history_report import write_history_report

        write(args.report, lambda: write_history_report(args.report, h), "history report")
    if args.json:
        text = json.dumps(strict(h), indent=1, allow_nan=False)
        if args.json == "-":
            print(text)
            write.done()
            return 0
        write(args.json, lambda: write_text(args.json, text), "JSON")
    print(format_history(h))
    write.done()
    return 0


def _remove(args: argparse.Namespace) -> int:
    from myotwitch.host.index import SessionIndex

    before = None
    if args.before:
        try:
            before = dt.datetime.combine(dt.date.fromisoformat(args.before), dt.time())
        except ValueError as e:
            raise UsageError(f"--before {args.before}: expected a date YYYY-MM-DD") from e
        if before > dt.datetime.now() + dt.timedelta(days=1):
            raise UsageError(f"--before {args.before}: is in the future, so every dated session would go; "
                             "to remove them all, give tomorrow's date")
    missing = []
    with SessionIndex.default() as idx:
        for f in args.forget or []:  # (every file given: one not in the index stopped the ones after it)
            n = idx.forget(f)
            if n:
                print(f"removed {counted(n, 'session')} of {f}")
            else:
                missing.append(f)
        if before is not None:
            n = idx.forget_before(before)
            undated = sum(1 for s in idx.sessions(include_undated=True) if s["start"] is None)
            print(f"removed {counted(n, 'session')} that started before {before:%Y-%m-%d}"
                  + (f"; {counted(undated, 'undated session')} kept (remove {'it' if undated == 1 else 'them'} with "
                     "--forget FILE)" if undated else ""))
    for f in missing:
        print(f"myotwitch: error: {f}: no session of this file in the index (`myotwitch history --json` lists the "
              "sessions' files)", file=sys.stderr)
    return 2 if missing else 0
