"""``myotwitch analyze``: one or many recordings -> summaries, JSON/CSV, HTML report, advice.

Many files run in parallel (all cores by default, or a Dask cluster with --scheduler); a bad
file is reported on one line and skipped; the exit code is the number of files that failed."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import glob
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import IO, TYPE_CHECKING

from myotwitch.dsp import DetectorConfig
from myotwitch.host.errors import FormatError, HistoryError, MyotwitchError, UsageError
from myotwitch.host.session import SIDECAR, sidecar_recording
from myotwitch.host.wording import (
    NO_RATE,
    counted,
    figure,
    file_names,
    hms,
    local_clock,
    per_channel,
    rate_text,
    seconds_text,
)

if TYPE_CHECKING:
    from myotwitch.host.advice import Advice

log = logging.getLogger(__name__)
ANALYSIS_SCHEMA = "myotwitch.analysis/1"
#: the name the recorder gives a session's event log
EVENT_LOG = ".events.jsonl"
EVENT_COLUMNS = ["file", "channel", "channel_label", "kind", "onset_s", "offset_s", "duration_ms", "peak_to_peak_uv",
                 "snr_db", "reason", "unit"]


def expand(patterns: list[str]) -> tuple[list[str], list[str]]:
    """The files that ``patterns`` name (a pattern's ``**`` spans any depth of folders, as in a
    shell with globstar: ``study/**/*.edf`` had read ``study/*/*.edf`` and left out, unsaid, a
    participant's files one folder deeper), and the patterns that name none."""
    files, missing = [], []
    for p in patterns:
        if not p.strip():  # (an empty name is no file, not a path to the current folder)
            missing.append(p)
            continue
        hits = sorted(glob.glob(os.path.expanduser(p), recursive=True)) if any(c in p for c in "*?[") else [p]
        # (``study/**/*`` names the folders on the way too: they are no recordings, but a pattern
        # that names folders alone is refused for them, as a folder given by name is)
        hits = [h for h in hits if not os.path.isdir(h)] or hits
        if not hits:
            missing.append(p)
        files += hits
    # one file given twice (c.csv and ./c.csv, or a name beside a pattern that finds it) is analysed
    # once: it had been analysed again for each, listed as that many sessions in sessions.csv and
    # the --json, and written as one NAME.json over the other
    first: dict[str, str] = {}
    for f in dict.fromkeys(files):
        was = first.setdefault(os.path.realpath(f), f)
        if was != f:
            log.info("%s: the same file as %s, analysed once", f, was)
    return list(first.values()), missing


def analyze_one(path: str, config: DetectorConfig, channels: list[str] | None, units: str | None,
                keep_bad: bool = False) -> dict:
    """Worker: returns the session dict or {'file': path, 'error': message}. Never raises."""
    from myotwitch.host.analysis import analyze_file

    try:
        if path.endswith(SIDECAR):  # a recorder's sidecar: already analysed, use it as is
            return _load_summary(path)
        return analyze_file(path, config, channels, units, keep_bad=keep_bad)
    except MyotwitchError as e:
        return {"file": path, "error": str(e)}
    except MemoryError:
        return {"file": path, "error": f"{os.path.basename(path)}: out of memory"}
    except Exception as e:  # noqa: BLE001 - one bad file must not stop a batch
        return {"file": path, "error": f"{os.path.basename(path)}: {type(e).__name__}: {e}"}


def _load_summary(path: str) -> dict:
    from myotwitch.host.analysis import refuse_pipe
    from myotwitch.host.errors import FormatError
    from myotwitch.host.session import SCHEMA

    name = os.path.basename(path)
    try:
        refuse_pipe(path)  # (before the open, which would wait for a writer)
        with open(path, encoding="utf-8") as fh:
            s = json.load(fh)
    except (OSError, json.JSONDecodeError) as e:
        raise FormatError(f"{name}: not a readable summary ({e})") from e
    if not isinstance(s, dict) or s.get("schema") != SCHEMA or "stats" not in s:
        raise FormatError(f"{name}: not a myotwitch session summary (expected schema {SCHEMA})")
    from myotwitch.host.summary_check import validate_summary

    s = validate_summary(s, name)  # a sidecar is outside input: its shape and types are checked
    beside = sidecar_recording(path)
    if beside is not None and not os.path.isfile(str(s["file"])):
        # the folder was moved or copied since: the recording is the one beside its sidecar, so
        # the history keys it by that file's content, as when the recording itself is analysed
        # (by the old path, the same night had counted twice)
        s["file"] = beside
    return s


def _batch(files: list[str], named: list[str]) -> list[str]:
    """The files to analyse: a sidecar whose recording is in the batch too is left out (the
    recording is analysed once, with the settings given now), and so is a recorder's event
    log that a pattern picked up (``dir/*``; one ``named`` as such is refused as no
    recording); each is said once."""
    given = {os.path.realpath(f) for f in files}
    out = []
    for f in files:
        rec = sidecar_recording(f)
        if rec is not None and os.path.realpath(rec) in given:
            log.info("%s: its recording %s is in this batch and is analysed instead", f, rec)
        elif f.endswith(EVENT_LOG) and f not in named:
            log.info("%s: the recorder's event log, not a recording: skipped", f)
        else:
            out.append(f)
    return out


class BatchInterrupted(Exception):
    """Ctrl+C during a batch: ``done`` holds the files analysed by then, so their results are
    still written (a night's batch stopped at its 50th file had lost all 49)."""

    def __init__(self, done: list[dict], finished: list[int]) -> None:
        super().__init__("interrupted")
        self.done = done
        #: the positions in the batch of the files ``done`` holds (a sidecar's result names the
        #: recording, not the sidecar given, so names cannot tell which were done)
        self.finished = finished


def _run_local(files, config, channels, units, jobs, bar, single_bar: bool, keep_bad: bool = False) -> list[dict]:
    """One file (with a per-file progress bar when asked) or a process pool over many;
    ``BatchInterrupted`` with the finished files' results on Ctrl+C."""
    if len(files) == 1 and single_bar:
        return [_single_with_bar(files[0], config, channels, units, keep_bad)]
    if len(files) == 1 or jobs == 1:
        done = []
        try:
            for f in files:
                done.append(analyze_one(f, config, channels, units, keep_bad))
                if bar:
                    bar.update(1)
        except KeyboardInterrupt:
            raise BatchInterrupted(done, list(range(len(done)))) from None
        return done
    from myotwitch.dsp import kernels

    kernels.prepare()  # compiled once here, not in every worker at once (and said once)
    results: list[dict] = [{} for _ in files]
    context = multiprocessing.get_context()  # (the platform's own: fork, spawn or forkserver)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_end_with_parent,
                               initargs=(os.getpid(), context.get_start_method()))
    try:
        futures = {pool.submit(analyze_one, f, config, channels, units, keep_bad): i for i, f in enumerate(files)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if bar:
                bar.update(1)
    except KeyboardInterrupt:
        _stop_pool(pool)
        raise BatchInterrupted([r for r in results if r], [i for i, r in enumerate(results) if r]) from None
    pool.shutdown()
    return results


#: how often a worker looks whether its parent is gone, where it cannot be told (not Linux), s
PARENT_POLL_S = 0.5
#: Linux's prctl option that sends the calling process a signal when its parent dies
_PR_SET_PDEATHSIG = 1


def _end_with_parent(main: int, start_method: str) -> None:
    """A pool worker's initializer: the worker ends itself when the batch's main process
    (``main``) dies. One killed outright (SIGKILL, the OOM killer) runs nothing of its own,
    neither the Ctrl+C handling nor the pool's shutdown, and its workers had analysed on as
    orphans for as long as their files took (two for ~14 minutes), a core each.

    Forked or spawned, the worker is the main process's child. On Linux the kernel then sends it
    SIGTERM as its parent dies (``prctl(PR_SET_PDEATHSIG)``; measured: gone 0.01 s after the
    SIGKILL, also while in a 15 s C call that holds the GIL, which a thread of its own must wait
    out: 14.9 s). The signal follows the *thread* that forked the worker: all of the pool's are
    started by the thread running ``_run_local`` (at the first submit with fork, at each submit
    as needed with spawn; without ``max_tasks_per_child`` the pool's own thread starts none),
    which waits there until the pool is done, so it outlives them. Elsewhere (macOS, Windows)
    a daemon thread looks every ``PARENT_POLL_S`` whether the parent changed (an orphan is
    handed to another; measured 0.15 s) and ends the worker (``os._exit``: nothing to save,
    its result has nowhere to go). A parent gone before either was in place is caught by
    comparing it with ``main``.

    With forkserver (Python 3.14's default on Linux) the parent is the fork server, which lives
    on while any worker does (each holds its pipe): a daemon thread waits on the main process's
    sentinel, a pipe only that process holds open, and ends the worker when it closes. (With
    fork the sentinel does not do: each worker holds its elders' pipes too.) SIGTERM is put back
    to its default: a handler inherited from the forking process would not end the worker."""
    import signal
    import threading

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if start_method == "forkserver":
        from multiprocessing.connection import wait

        sentinel = getattr(multiprocessing.parent_process(), "sentinel", None)
        if sentinel is not None:
            threading.Thread(target=lambda: (wait([sentinel]), os._exit(1)), name="myotwitch-parent-watch",
                             daemon=True).start()
        return
    parent = os.getppid()
    if parent != main:  # (gone before the worker got here)
        os._exit(1)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            told = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
        except (OSError, AttributeError):
            told = False
        if told:
            if os.getppid() != parent:  # (gone meanwhile)
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="myotwitch-parent-watch", daemon=True).start()


#: how long a stopped worker may take to end before it is killed, s
STOP_WAIT_S = 2.0


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once on Ctrl+C: the files not begun are cancelled and the running workers
    ended (SIGTERM, then SIGKILL after ``STOP_WAIT_S``), and waited for, so none is left behind.
    A SIGINT that reached the main process alone (``kill -INT``, not the terminal's, which
    reaches the workers too) had left them analysing their files to the end, and the exit
    waited for them (measured: 59.7 s for workers a minute from done; now 1 s)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for w in workers:
        if w.is_alive():
            w.terminate()
    for w in workers:
        w.join(STOP_WAIT_S)
        if w.is_alive():
            w.kill()
            w.join(STOP_WAIT_S)


def _single_with_bar(path, config, channels, units, keep_bad: bool = False) -> dict:
    from tqdm import tqdm

    from myotwitch.host.analysis import analyze_file

    with tqdm(total=100, desc=os.path.basename(path)[:30], unit="%", leave=False, file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}") as bar:
        last = [0]

        def tick(frac: float) -> None:
            now = int(frac * 100)
            if now > last[0]:
                bar.update(now - last[0])
                last[0] = now

        try:
            return analyze_file(path, config, channels, units, progress=tick, keep_bad=keep_bad)
        except MyotwitchError as e:
            return {"file": path, "error": str(e)}


def _run_dask(address, files, config, channels, units, progress, keep_bad: bool = False) -> list[dict]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as e:
        raise UsageError("--scheduler needs Dask: pip install 'myotwitch[dask]'") from e
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise UsageError(f"--scheduler {address}: cannot connect ({e})") from e
    with client:
        futures = client.map(analyze_one, files, config=config, channels=channels, units=units, keep_bad=keep_bad,
                             pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(files)
        for fut in dask_completed(futures):
            results[index[fut.key]] = fut.result()
            if progress:
                progress.update(1)
    return results


def summary_text(r: dict) -> str:
    """The readable terminal summary of one session."""
    st, q = r["stats"], r["quality"]
    hours = st["valid_s"] / 3600
    mains = q.get("mains") or {}
    lines = [
        f"{r['file']}",
        f"  duration   {hms(st['duration_s'])} ({hms(st['valid_s'])} with data), {r['fs']:g} Hz, "
        f"channels: {', '.join(r['channels'])}",
        f"  twitches   {st['counts']['twitch']}  ({rate_text(st['twitches_per_hour'])}"
        + (f"; per channel {', '.join(f'{lab} {n}' for lab, n in zip(r['channels'], st['twitches_per_channel']))}"
           if len(r["channels"]) > 1 else "")
        + (f"; median size {st['median_twitch_uv']:.0f} µV p-p)" if st["median_twitch_uv"] else ")"),
        f"  episodes   {st['episodes']}" + (f" (longest {seconds_text(max(e['duration_s'] for e in r['episodes']))}, "
                                              f"most twitches {max(e['n_twitches'] for e in r['episodes'])})"
                                              if r["episodes"] else ""),
        f"  rejected   {counted(st['counts']['contraction'], 'contraction')}, {counted(st['counts']['artifact'], 'artefact')}",
        f"  quality    noise floor {per_channel(r.get('channels') or [], q['noise_floor_uv_rms'])} µV RMS; mains "
        + (f"{mains['frequency_hz']:g} Hz at {mains['level_uv_rms']:.1f} µV RMS (removed)" if mains.get("frequency_hz")
           else "not detected")
        + f"; clipped {100 * max((v for v in q.get('clipped_fraction') or [] if v is not None), default=0):.2f}%; gaps {q['gaps']} ({q['gap_s']:.1f} s)",
    ]
    from myotwitch.host.report_units import recurring_units, unrecurring_note

    units = recurring_units(r)
    if units:  # recurring sources: the three largest groups, with their share of the twitches
        lines.append(f"  units      {counted(len(units), 'recurring waveform')}: " + ", ".join(
            f"{u['unit']} with {counted(u['count'], 'twitch', 'twitches')}"
            + (f" (lasting name {u['known_as']})" if u.get("known_as") else "")
            for u in sorted(units, key=lambda u: -u["count"])[:3]) + (", ..." if len(units) > 3 else ""))
    rare = unrecurring_note(r)
    if rare:
        lines.append(f"  units      {rare}")
    for w in q.get("warnings", []):
        lines.append(f"  warning    {w}")
    if st["twitches_per_hour"] is None:
        lines.append(f"  note       {NO_RATE}: no second the detector could search (all gaps, or shorter than "
                     "its start-up), so no rate; the batch, the history and the advice leave it out")
    elif hours < 0.05:
        lines.append("  note       under 3 minutes of data: rates are rough")
    return "\n".join(lines)


def write_events_csv(path: str, results: list[dict]) -> None:
    """The event table; ``path`` '-' is stdout."""
    if path == "-":
        _events_csv(sys.stdout, results)
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        _events_csv(fh, results)


def _events_csv(fh: IO[str], results: list[dict]) -> None:
    w = csv.DictWriter(fh, fieldnames=EVENT_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in results:
        for e in r.get("events", []):
            w.writerow({**e, "file": r["file"], "channel_label": r["channels"][e["channel"]]})


#: ``--out-dir``'s sessions.csv, one row per file analysed
SESSION_COLUMNS = ["file", "start", "duration_s", "valid_s", "searched_s", "twitches", "twitches_per_hour", "episodes",
                   "contractions", "artifacts", "noise_floor_uv_rms", "mains_hz", "gaps"]
#: ``--out-dir``'s failed.csv, one row per file not analysed
FAILED_COLUMNS = ["file", "error"]


def write_sessions_csv(path: str, results: list[dict]) -> None:
    cols = SESSION_COLUMNS
    rows = sorted(results, key=lambda r: (local_clock(r.get("start")), r["file"]))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            st, q = r["stats"], r["quality"]
            w.writerow([r["file"], r.get("start") or "", f"{st['duration_s']:.1f}", f"{st['valid_s']:.1f}",
                        "" if st.get("searched_s") is None else f"{st['searched_s']:.1f}",
                        st["counts"]["twitch"], _csv_rate(st["twitches_per_hour"]),
                        st["episodes"],
                        st["counts"]["contraction"], st["counts"]["artifact"],
                        ";".join(figure(v, ".2f") for v in q["noise_floor_uv_rms"]),
                        (q.get("mains") or {}).get("frequency_hz") or "", q["gaps"]])


def _csv_rate(rate: float | None) -> str:
    """A rate in ``sessions.csv``: empty where the file has none (no usable data), not 0."""
    return "" if rate is None else f"{rate:.2f}"


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse bad options and unwritable outputs before any file is analysed."""
    from myotwitch.host.outputs import check_files, check_folder, check_range

    check_range("-j/--jobs", args.jobs, 1, 4096, "a number of parallel workers, 1 or more")
    if args.units is not None:  # (once, before the batch: each CSV had failed with the same line)
        from myotwitch.host.csvio import parse_units

        try:
            parse_units(args.units)
        except FormatError as e:
            raise UsageError(str(e)) from e
    if args.json == "-" and args.csv == "-":
        raise UsageError("--json - and --csv -: only one of them can go to stdout; give the other a file name")
    for option, path in _output_files(args):
        # (a recording's name: --json takes the word after it, so `--json a.csv b.csv` named a.csv)
        recording = (".edf", ".bdf", ".rec") + ((".csv",) if option == "--json" else ())
        if path.lower().endswith(recording):
            hint = (" (--json takes the word after it as its file: give the recordings first, or --json FILE.json)"
                    if option == "--json" else "")
            raise UsageError(f"{option} {path}: that is a recording's name, not an output file; it would be "
                             f"overwritten{hint}")
    if args.csv and args.csv != "-" and _holds_other_than_events(args.csv):
        raise UsageError(f"--csv {args.csv}: the file exists and is not an event table of myotwitch's (a "
                         "recording?); it would be overwritten (give another file name)")
    # (`--out-dir res --csv res/events.csv`: res is made before they are written, and had been
    # refused as "folder res does not exist")
    check_files(_output_files(args), made=args.out_dir)
    if args.out_dir is not None:  # (check_folder refuses an empty name, which had written no results)
        check_folder("--out-dir", args.out_dir)
        if not _manifest_is_ours(os.path.join(args.out_dir, MANIFEST)):
            raise UsageError(f"--out-dir {args.out_dir}: {MANIFEST} there is not the list of results myotwitch "
                             "writes; it would be overwritten (give another folder)")


def _csv_head(path: str, columns: list[str]) -> tuple[bytes, bool] | None:
    """The first bytes of the file at ``path`` and whether they are the CSV header ``columns``
    (after a UTF-8 byte-order mark), as myotwitch writes it; None where it cannot be read."""
    header = ",".join(columns).encode()
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(header) + 3)
    except OSError:
        return None
    return head, head.lstrip(b"\xef\xbb\xbf").startswith(header)


def _holds_other_than_events(path: str) -> bool:
    """Does ``path`` exist with something in it other than an event table ``--csv`` wrote?"""
    head = _csv_head(path, EVENT_COLUMNS)
    return head is not None and bool(head[0]) and not head[1]


def _output_files(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The (option, path) of each output file given (not stdout)."""
    return [(o, p) for o, p in (("--json", args.json), ("--csv", args.csv), ("--report", args.report))
            if p is not None and p != "-"]


def check_not_inputs(args: argparse.Namespace, files: list[str]) -> None:
    """No output file is one of the recordings: writing it would destroy the recording."""
    inputs = {os.path.realpath(f) for f in files}
    for option, path in _output_files(args):
        if os.path.realpath(path) in inputs:
            raise UsageError(f"{option} {path}: that is one of the recordings to analyse; it would be "
                             f"overwritten (give another file name)")


def _say_units_unused(units: str, files: list[str]) -> None:
    """``--units`` scales CSV samples; an EDF/BDF header gives its own units and scaling, so
    the option does nothing there: say so rather than leave the user believing it applied."""
    from myotwitch.host.analysis import is_csv

    edf = [os.path.basename(f) for f in files if not is_csv(f)]
    if edf:
        more = f" and {len(edf) - 1} more" if len(edf) > 1 else ""
        log.warning("--units %s is for CSV files; not applied to %s%s, whose EDF/BDF header gives the units",
                    units, edf[0], more)


def run_analyze(args: argparse.Namespace, config: DetectorConfig) -> int:
    check_outputs(args)
    if not args.out_dir:
        return _analyze(args, config)
    from myotwitch.host.outputs import hold_folder

    # held from before the first file to the last write: two runs into one folder had interleaved
    # their results, manifests and removals of each other's files
    with hold_folder("--out-dir", args.out_dir):
        return _analyze(args, config)


def _analyze(args: argparse.Namespace, config: DetectorConfig) -> int:
    files, missing = expand(args.files)
    for m in missing:
        print(f"myotwitch: error: {_missing(m)}", file=sys.stderr)
    given = len(files)
    files = _batch(files, args.files)
    if not files:
        if given:  # (every file given was left out: nothing was analysed, which is no success)
            print("myotwitch: error: no recordings among the files given (event logs and sidecars of "
                  "recordings in the batch are left out)", file=sys.stderr)
        return min(len(missing), 125) or 1
    check_not_inputs(args, files)
    if args.units:
        _say_units_unused(args.units, files)
    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    jobs = args.jobs or os.cpu_count() or 1
    # (a bar only for a person: in a log file its redraws are line noise)
    show = not args.no_progress and sys.stderr.isatty()
    progress = None
    if show and len(files) > 1:
        from tqdm import tqdm

        progress = tqdm(total=len(files), desc="analysing", unit="file", file=sys.stderr)
    interrupted, finished = False, list(range(len(files)))
    try:
        if args.scheduler:
            results = _run_dask(args.scheduler, files, config, channels, args.units, progress, args.keep_bad)
        else:
            results = _run_local(files, config, channels, args.units, jobs, progress, bool(show), args.keep_bad)
    except BatchInterrupted as e:
        interrupted, results, finished = True, e.done, e.finished
    finally:
        if progress:
            progress.close()
    ok = [r for r in results if "error" not in r]
    failed = [r for r in results if "error" in r]
    for r in failed:
        print(f"myotwitch: error: {_as_given(r)}", file=sys.stderr)
    if interrupted:
        # the files not analysed are named in the outputs as the failed ones are
        done_at = set(finished)
        failed += [{"file": f, "error": f"{os.path.basename(f)}: not analysed (interrupted)"}
                   for i, f in enumerate(files) if i not in done_at]
        log.warning("interrupted after %d of %d files; the results of those are written, and the others named as "
                    "not analysed (Ctrl+C again stops now)", len(results), len(files))
    run_advice = None
    if ok:
        from myotwitch.host.advice import advise
        from myotwitch.host.index import database_path

        db_broken = False
        # a demo is nobody's history; a recording still being written is added by its recorder
        from myotwitch.host.analysis import still_recording

        kept_out = [_shipped_example(r["file"]) or still_recording(r["file"]) for r in ok]
        # a study's recordings of several people are no one's history: they had fed "your" rates
        # and advice (the advice then reads the history alone)
        people = _people(r["file"] for r, out in zip(ok, kept_out) if not out)
        others = len(people) > 1 and not getattr(args, "index", False)
        if others:
            kept_out = [True] * len(ok)
            shown = ", ".join(repr(x) for x in people[:3]) + (f" and {len(people) - 3} more" if len(people) > 3
                                                               else "")
            # nor do they get advice: it reads one person's history and diary (the user's own), and
            # had come out under each subject's file and in their report as if it were about them
            log.warning("%sno advice: these files name %d different people (%s); analyse your own files apart%s",
                        "" if args.no_index else "not added to your history, ", len(people), shown,
                        "" if args.no_index else ", or give --index to add them all")
        if not args.no_index:
            from myotwitch.host.unit_registry import register_summary

            for r, out in zip(ok, kept_out):
                if not out:
                    register_summary(r)  # units seen in earlier sessions keep their lasting names
        # one advice for the run: the history and every file analysed now (the user's own; the
        # ones kept out only when nothing else was given), each file's JSON carrying it
        mine = [r for r, out in zip(ok, kept_out) if not out] or ok
        try:
            if not others:
                # (the files kept out of the history, or all with --no-index, are not in it: a copy
                # of a recording among them is not one that `history --forget` could remove)
                run_advice = advise(extra_sessions=mine, extras_indexed=not args.no_index
                                    and not all(kept_out))
                for r in ok:
                    r["advice"] = run_advice.to_dict()
        except HistoryError as e:  # (the analysis stands; only what the history adds is missing)
            log.warning("advice unavailable, and the sessions are not added to the history: %s", e)
            db_broken = True
        except MyotwitchError as e:
            log.warning("advice unavailable: %s", e)
        except Exception as e:  # noqa: BLE001 - a broken diary database must never stop the analysis
            log.warning("advice unavailable, and the sessions are not added to the history: the history database "
                        "%s cannot be read (%s: %s)", database_path(), type(e).__name__, e)
            db_broken = True
        if not args.no_index and not db_broken:
            try:
                from myotwitch.host.index import SessionIndex

                with SessionIndex.default() as idx:
                    for r, out in zip(ok, kept_out):
                        if not out:
                            idx.add_summary(r)
            except Exception as e:  # noqa: BLE001 - the index is a convenience
                log.warning("session index %s not updated (%s: %s)", database_path(), type(e).__name__, e)
    several = given + len(missing) > 1 or any(c in p for p in args.files for c in "*?[")
    not_read = [{"file": m, "error": _missing(m)} for m in missing] + [
        {"file": str(r["file"]), "error": _as_given(r)} for r in failed]
    _write_outputs(args, ok, run_advice, several, not_read)
    if interrupted:
        return 130
    return min(len(failed) + len(missing), 125)


def _missing(name: str) -> str:
    """The line for a file given that is not there (an empty name, from a shell variable left
    unset, had read ": no such file")."""
    return f"{name}: no such file" if name.strip() else f"{name!r}: an empty file name"


def _as_given(r: dict) -> str:
    """A failed file's error naming it by the path it was given as: readers name a file by its
    base name, and in a batch two folders' x.csv (or /dev/null's "null") could not be told apart."""
    error, path = str(r["error"]), str(r["file"])
    name = os.path.basename(path)
    if error.startswith(name + ":") and name != path:
        return path + error[len(name):]
    return error


def _out_names(files: list[str]) -> dict[str, str]:
    """file -> the name of its result in ``--out-dir``: its base name without the extension, or,
    where two files of the batch share that, its path from where their paths part (folders
    joined by ``__``, extension kept), so that no result overwrites another."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    keys = [st.casefold() for st in stems]  # (Rec and rec are one file where names ignore case)
    groups: dict[str, list[str]] = {}  # (one pass: a batch of thousands compared each file with all)
    for f, key in zip(files, keys):
        groups.setdefault(key, []).append(os.path.abspath(f))
    out = {}
    for f, stem, key in zip(files, stems, keys):
        same = groups[key]
        if len(same) == 1:
            out[f] = stem
            continue
        try:
            common = os.path.commonpath([os.path.dirname(g) for g in same])
            rel = os.path.relpath(os.path.abspath(f), common)
        except ValueError:  # (two drives: no common folder)
            rel = os.path.splitdrive(os.path.abspath(f))[1].lstrip("\\/")
        out[f] = rel.replace(os.sep, "__").replace("/", "__")
    return out


def _people(files) -> list[str]:
    """The different people the EDF/BDF headers among ``files`` name (sorted; files that name no
    one, or cannot be read, are left out)."""
    from myotwitch.host.edf import person_of

    return sorted({who for who in map(person_of, files) if who})


def _shipped_example(path: str) -> bool:
    """Is ``path`` one of the example recordings shipped in the package's data folder (or a
    copy of one: the README's example names the one in a source checkout)? Their analysis is
    shown, but they are not the user's sessions: the history and the advice's rules over past
    sessions leave them out."""
    from myotwitch.host.index import content_key
    from myotwitch.host.paths import data_dir

    examples = data_dir() / "examples"
    try:
        if os.path.realpath(path).startswith(os.path.realpath(examples) + os.sep):
            return True
        twin = examples / os.path.basename(path)
        return (twin.is_file() and twin.stat().st_size == os.path.getsize(path)
                and content_key(twin) == content_key(path) is not None)
    except (OSError, ValueError):
        return False


def _write_failed_csv(path: str, failed: Sequence[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FAILED_COLUMNS)
        for f in failed:
            w.writerow([f["file"], f["error"]])


def _json_bytes(payload: object) -> bytes:
    return json.dumps(payload, indent=1, default=str).encode("utf-8")


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _write_json(path: str, payload: object) -> None:
    _write_bytes(path, _json_bytes(payload))


#: ``--out-dir``'s list of the per-file results the last run wrote there, with their SHA-256
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["output", "recording", "sha256", "run"]


def _manifest_is_ours(path: str) -> bool:
    """Is there no file at ``path``, or one ``_write_manifest`` wrote (its header)?"""
    if not os.path.lexists(path):
        return True
    head = _csv_head(path, MANIFEST_COLUMNS)
    return head is not None and head[1]


def _read_manifest(folder: str) -> dict[str, str]:
    """output name -> SHA-256 of the per-file results an earlier run listed in ``folder``'s
    manifest (none when there is none, or it is not ours)."""
    path = os.path.join(folder, MANIFEST)
    if not _manifest_is_ours(path):
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return {row["output"]: row["sha256"] for row in csv.DictReader(fh) if row.get("output") and row.get("sha256")}
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}


def _sha256(path: str) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _remove_stale(folder: str, earlier: dict[str, str], now: dict[str, tuple[str, str]]) -> None:
    """Remove the results an earlier run wrote into ``folder`` (its manifest lists them) that
    this run did not write (a file that failed this time, or was not in the batch): left there,
    they had been read as this run's. Only a file provably ours goes: a plain ``.json`` in the
    folder whose content is still, to the byte, what that run wrote; one changed since (the
    user's now) stays, and is said. Files no manifest lists are never touched."""
    gone, kept = 0, []
    for name, digest in earlier.items():
        path = os.path.join(folder, name)
        if name in now or os.path.basename(name) != name or not name.endswith(".json") or os.path.islink(path) \
                or not os.path.isfile(path):
            continue
        if _sha256(path) != digest:
            kept.append(name)
            continue
        try:
            os.remove(path)
            gone += 1
        except OSError as e:
            log.warning("%s: an earlier run's result, not this run's, cannot be removed (%s)", path, e.strerror or e)
    if gone:
        log.info("%s: removed %s an earlier run wrote that this run did not (see %s)", folder,
                 counted(gone, "result"), MANIFEST)
    if kept:
        one = len(kept) == 1
        log.warning("%s: %s, written by an earlier run, %s changed since and %s left as %s: not this run's "
                    "result%s (%s lists this run's)", folder,
                    ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else ""),
                    "has" if one else "have", "is" if one else "are", "it is" if one else "they are",
                    "" if one else "s", MANIFEST)


def _write_manifest(path: str, written: dict[str, tuple[str, str]]) -> None:
    run = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_COLUMNS)
        for name, (recording, digest) in sorted(written.items()):
            w.writerow([name, recording, digest, run])


def _write_outputs(args: argparse.Namespace, ok: list[dict], run_advice: Advice | None, several: bool,
                   failed: Sequence[dict] = ()) -> None:
    """``several``: more than one file, or a pattern, was given (the JSON is then the list of
    sessions, however many were analysed). ``failed``: the files not analysed (``file``,
    ``error``): the batch's JSON lists them, and so do ``failed.csv`` in ``--out-dir`` and the
    report; a batch of 60 files whose outputs held 57 had said which 3 only on stderr."""
    from myotwitch.host.outputs import Writes

    write = Writes()
    if args.out_dir and write(args.out_dir, lambda: os.makedirs(args.out_dir, exist_ok=True)):
        names = _out_names([r["file"] for r in ok])
        failed_before = len(write.failed)
        earlier = _read_manifest(args.out_dir)
        results: dict[str, tuple[str, str]] = {}  # output name -> (recording, sha256 of what was written)
        for r in ok:
            name = names[r["file"]] + ".json"
            out = os.path.join(args.out_dir, name)
            data = _json_bytes(r)
            if write(out, functools.partial(_write_bytes, out, data)):
                results[name] = (str(r["file"]), hashlib.sha256(data).hexdigest())
        _remove_stale(args.out_dir, earlier, results)
        manifest = os.path.join(args.out_dir, MANIFEST)
        write(manifest, lambda: _write_manifest(manifest, results))
        sessions = os.path.join(args.out_dir, "sessions.csv")
        written = write(sessions, lambda: write_sessions_csv(sessions, ok))
        not_read = os.path.join(args.out_dir, "failed.csv")
        if failed:
            written = write(not_read, lambda: _write_failed_csv(not_read, failed)) and written
        elif os.path.exists(not_read):  # (an earlier run's list, of files this run has read)
            write(not_read, lambda: os.remove(not_read))
        if written and len(write.failed) == failed_before:
            log.info("%s, sessions.csv and %s (this run's results) written to %s%s", counted(len(ok), "JSON file"), MANIFEST,
                     args.out_dir,
                     f", and failed.csv naming the {counted(len(failed), 'file')} not analysed" if failed else "")
    if args.csv == "-":
        write_events_csv("-", ok)
    elif args.csv:
        write(args.csv, lambda: write_events_csv(args.csv, ok), "event table (CSV)")
    if args.report and ok:
        from myotwitch.host.report import write_report

        write(args.report, lambda: write_report(args.report, ok, args.units, args.keep_bad, failed), "report")
    if args.json:
        payload = ({"schema": ANALYSIS_SCHEMA, "sessions": ok, "failed": list(failed)} if several or not ok
                   else ok[0])
        if args.json == "-":
            print(json.dumps(payload, indent=1, default=str))
        else:
            write(args.json, lambda: _write_json(args.json, payload), "JSON")
    if "-" not in (args.json, args.csv):  # (stdout carries the data alone)
        for r in ok:
            print(summary_text(r))
            print()
        if len(ok) > 1:
            print("sessions (oldest first):")
            names = file_names([r["file"] for r in ok])
            rates = {r["file"]: rate_text(r["stats"]["twitches_per_hour"], "7.1f", "/h") for r in ok}
            wide = max(9, *(len(v) for v in rates.values()))  # ("no usable data" is wider than a rate)
            for r in sorted(ok, key=lambda r: (local_clock(r.get("start")), r["file"])):
                st = r["stats"]
                print(f"  {local_clock(r.get('start'))[:16]:16}  {rates[r['file']]:>{wide}}  {st['counts']['twitch']:6d} "
                      f"twitches  {hms(st['valid_s'])}  {names[r['file']]}")
            print()  # (the advice's first heading had run on from the list's last line)
        if run_advice is not None:
            from myotwitch.host.advice import format_advice

            print(format_advice(run_advice))
    write.done()
