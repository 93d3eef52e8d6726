"""The ``myotwitch`` command: one entry point, one sub-command per way of using the sensor.

Errors a user can cause print one line on stderr and exit non-zero; ``--debug`` shows
tracebacks. Sub-commands import their heavy modules lazily so ``--help`` stays fast and the
headless parts never import Qt.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import re
import signal
import sqlite3
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, NoReturn

from myotwitch.host.errors import MyotwitchError, UsageError

if TYPE_CHECKING:
    from myotwitch.dsp import DetectorConfig

log = logging.getLogger("myotwitch")

EPILOG = """\
sources (--source):
  serial:PORT | serial:auto        USB serial (e.g. serial:/dev/ttyACM0); add ?baud=N for UART boards
  ble:NAME_OR_ADDRESS | ble:auto   Bluetooth LE (the device advertises the myotwitch service)
  sim:[key=value,...]              built-in simulator, e.g. sim:rate=2000,channels=2,twitch_rate=10,mains=50
  file:PATH[?speed=N]              replay a recording at N x real time (0 = as fast as possible)
  lsl:NAME | lsl:type=EMG          a Lab Streaming Layer stream (also lsl:source_id=ID); ?unit=uV when
                                   its metadata has no unit, ?channels=A,B to pick (needs myotwitch[lsl])
  brainflow:BOARD                  a BrainFlow board at 250 Hz or more: synthetic, cyton, ... or its id, with
                                   BrainFlow's connection options, e.g. brainflow:cyton?serial_port=/dev/ttyUSB0
                                   and ?channels=1,2 (needs myotwitch[brainflow])
  auto                             the first attached device; live falls back to the simulator (and says
                                   so), record never does (it is serial:auto there)

examples:
  myotwitch live                              # desktop app; simulator if nothing is plugged in
  myotwitch record --source serial:auto --out ~/emg --rotate daily
  myotwitch analyze night1.edf night2.edf --report report.html
  myotwitch simulate --pty                    # a virtual device any serial program can open
  myotwitch log caffeine 300 --unit mg && myotwitch advice
  myotwitch history --report history.html    # weeks of rates, diary and the advice's evidence
"""


def _version() -> str:
    try:
        return version("myotwitch")
    except PackageNotFoundError:
        return "0.1.0+source"


def add_detector_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("detector")
    g.add_argument("--mains", choices=["auto", "50", "60", "off"], default="auto",
                   help="mains frequency to remove (default: detect 50 or 60 Hz)")
    g.add_argument("--band", metavar="LO-HI", help="band-pass in Hz (default 20-450, capped at 0.45 x rate)")
    g.add_argument("--detector", choices=["energy", "envelope"], default="energy",
                   help="energy: shape-aware, finds most twitches of 8x the noise RMS (peak to peak) and "
                        "larger (default); envelope: the first-generation detector, misses most twitches under 10x")
    g.add_argument("--sensitivity", type=float, metavar="X",
                   help="threshold on the detector's statistic, in units of the noise floor (default 5.8 for "
                        "energy, 5 for envelope; the live app's 'Threshold x'). It is not a twitch size: at 5.8 "
                        "the energy detector finds twitches from about 8x the noise RMS. Lower finds smaller "
                        "twitches and more false ones")
    g.add_argument("--min-twitch", type=float, metavar="UV",
                   help="smallest twitch counted, peak-to-peak µV (default 15: keeps the spikes and tiny "
                        "potentials of a very quiet trace out of the counts). Lower it for a quiet front end; "
                        "under 10 it also lowers the 10 µV under which a potential is not even considered")
    g.add_argument("--max-rest-floor", type=float, metavar="UV",
                   help="highest noise floor (µV RMS) a muscle at rest gives; over it nothing counts as a twitch, "
                        "the background itself being muscle activity (default 25; 0 turns it off, e.g. for a "
                        "front end noisier than that at rest)")
    g.add_argument("--episode-gap", type=float, metavar="S", help="twitches closer than S seconds form one episode "
                   "(default 30)")


def add_lsl_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lsl", action="store_true", help="also publish the samples (type EMG, µV) and one JSON "
                   "marker per event (type Markers) as Lab Streaming Layer streams (needs myotwitch[lsl])")


def detector_config(args: argparse.Namespace) -> DetectorConfig:
    from myotwitch.dsp import DetectorConfig
    from myotwitch.dsp.config import ConfigError

    kw: dict = {}
    if args.mains != "auto":
        kw["mains"] = args.mains if args.mains == "off" else int(args.mains)
    if args.band:
        try:
            lo, hi = (float(v) for v in args.band.split("-"))
        except ValueError as e:
            raise UsageError(f"--band {args.band}: expected LO-HI in Hz, e.g. 20-450") from e
        kw["band_low_hz"], kw["band_high_hz"] = lo, hi
    kw["detector"] = args.detector
    if args.min_twitch is not None:
        kw["min_twitch_uv"] = args.min_twitch
    if args.max_rest_floor is not None:
        kw["max_rest_floor_uv"] = args.max_rest_floor
    if args.episode_gap is not None:
        kw["episode_gap_s"] = args.episode_gap
    cfg = DetectorConfig(**kw)
    if args.sensitivity is not None:
        cfg = cfg.with_sensitivity(args.sensitivity)
    try:
        cfg.validate(2000.0)
    except ConfigError as e:
        if "Nyquist" not in str(e) and "sample rate" not in str(e):
            raise UsageError(_named_option(args, str(e))) from e
    return cfg


#: the detector fields the command line sets -> its option and the argument holding the value
_FIELD_OPTIONS = {"band_low_hz": ("--band", "band"), "band_high_hz": ("--band", "band"),
                  "energy_on_threshold": ("--sensitivity", "sensitivity"), "on_threshold": ("--sensitivity", "sensitivity"),
                  "min_twitch_uv": ("--min-twitch", "min_twitch"), "max_rest_floor_uv": ("--max-rest-floor", "max_rest_floor"),
                  "episode_gap_s": ("--episode-gap", "episode_gap")}


def _named_option(args: argparse.Namespace, message: str) -> str:
    """A detector setting's complaint, led by the option the user typed and its value (the
    setting is checked at a stand-in rate of 2 kHz: the rate itself is not known yet)."""
    for field_name, (option, dest) in _FIELD_OPTIONS.items():
        if message.startswith(field_name) and getattr(args, dest, None) is not None:
            value = getattr(args, dest)
            return f"{option} {value if isinstance(value, str) else f'{value:g}'}: {message.split(' at fs=')[0]}"
    return message


# -- sub-commands ---------------------------------------------------------------------------------
def cmd_record(args: argparse.Namespace) -> int:
    from myotwitch.host.edf import Subject
    from myotwitch.host.recorder import Recorder, parse_duration
    from myotwitch.host.sources import open_source, parse_spec

    subject = Subject(code=args.patient_code or "X", sex=args.sex or "X", name=args.patient_name or "X",
                      birthdate=_date(args.birthdate) if args.birthdate else None)
    _say_header_changes(subject, args)
    duration = parse_duration(args.duration, "--duration")
    if args.rotate not in (None, "daily", "none"):
        parse_duration(args.rotate, "--rotate", extra="daily, none or ")
    events = args.events if args.events is not None else "auto"
    # every option and output is checked before the device is opened (or waited for)
    from myotwitch.host.outputs import check_folder, check_range, check_writable

    check_range("--status-interval", args.status_interval, 1.0, 86_400.0, "1 to 86400 seconds")
    if events not in ("auto", "none", "-"):
        check_writable("--events", events, made=args.out)
    config = detector_config(args)
    # a recorder never falls back to the simulator on its own: recording fake data unnoticed
    # would be worse than an error; `--source sim:` records the simulator on purpose
    spec = "serial:auto" if args.source == "auto" else args.source
    lsl_publisher(args, check_only=True)  # a missing pylsl fails before the device is opened
    # a file to replay is opened (its header read) before the folder is made: one that is no
    # recording had been refused after an empty --out was made
    src = open_source(spec) if parse_spec(spec)[0] == "file" else None
    # the folder is made last of the checks: `--events ''` had been refused after ./recordings was made
    made = not os.path.isdir(args.out)
    check_folder("--out", args.out)
    if hasattr(signal, "SIGHUP"):  # a reload (SIGHUP: rotate) before the recorder is up has no file to
        # rotate; by default it ended the process, which systemd's Restart=on-failure takes for a
        # clean stop: no recording that night (the recorder installs its own handler below)
        signal.signal(signal.SIGHUP, _no_file_to_rotate)
    prepare_detector()
    repaired = os.path.isdir(args.out)  # repaired even when the sensor is missing and the start fails
    if repaired:
        from myotwitch.host.recorder import recover

        recover(args.out, config)
    if args.wait:
        log.info("waiting for the sensor (%s); Ctrl+C stops", spec)
    if src is None:
        try:
            src = open_source(spec, wait=args.wait)
        except BaseException:  # (no sensor, or Ctrl+C while waiting): a folder made for nothing goes
            if made:
                with contextlib.suppress(OSError):
                    os.rmdir(args.out)  # (only while empty)
            raise
    rec = Recorder(src, args.out, config=config, rotate=args.rotate, duration_s=duration,
                   events_path=None if events == "none" else events, subject=subject,
                   annotate_rejected=not args.no_rejected, status_interval_s=args.status_interval,
                   publisher=lsl_publisher(args))
    rec.repaired = repaired  # (done above: its notes once)
    rec.install_signal_handlers()
    rec.run()
    # every file is closed: a Ctrl+C still arriving (pressed twice or thrice) changes nothing. The
    # interpreter's shutdown puts the default handler back in place of the recorder's, so one
    # then made a clean stop exit 130; ignored from the exit on, it stays ignored (an in-process
    # caller of main() keeps its own handling until then)
    atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
    for path in rec.closed_files:
        print(path, file=sys.stderr)
    return 0


def _no_file_to_rotate(*_: object) -> None:
    log.info("SIGHUP before recording began: no file to rotate yet")


def _say_header_changes(subject, args: argparse.Namespace) -> None:
    """Say how the patient fields are written when the EDF header cannot hold them as typed:
    ASCII only (accents dropped, other letters ``_``), 80 characters in all."""
    from myotwitch.host.edf import edfplus_text

    for option, value in (("--patient-name", args.patient_name), ("--patient-code", args.patient_code)):
        if value and edfplus_text(value) != value.replace(" ", "_"):
            log.warning("%s %r is written as %r (an EDF header holds ASCII only)", option, value, edfplus_text(value))
    field = subject.patient_field()
    if len(field) > 80:
        log.warning("the patient fields take %d characters and an EDF header keeps 80: %r", len(field), field[:80])


def prepare_detector() -> None:
    """Compile (first run) or load the optional kernels (``myotwitch[fast]``) before data flows,
    so their one-off seconds are not a stall in the acquisition thread. A Ctrl+C meanwhile stops
    the command once the compiler is done: raised where the compiler happened to be, inside a
    destructor, its KeyboardInterrupt was printed as ignored, and recording began."""
    from myotwitch.dsp import kernels

    pressed: list[int] = []
    try:
        before = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    except ValueError:  # (not the main thread: its signals are not ours to hold)
        kernels.front_end()
        return
    try:
        kernels.front_end()
    finally:
        signal.signal(signal.SIGINT, before)
    if pressed:
        raise KeyboardInterrupt


def lsl_publisher(args: argparse.Namespace, check_only: bool = False):
    """``--lsl``: the publisher of the EMG and Markers outlets (None without the flag)."""
    if not getattr(args, "lsl", False):
        return None
    if check_only:
        from myotwitch.host.sources.lsl import require_pylsl

        require_pylsl()
        return None
    from myotwitch.host.lsl_publish import LslPublisher

    return LslPublisher()


def _date(text: str):
    import datetime as dt

    try:
        day = dt.date.fromisoformat(text)
    except ValueError as e:
        raise UsageError(f"--birthdate {text}: expected YYYY-MM-DD") from e
    if day > dt.date.today():
        raise UsageError(f"--birthdate {text}: in the future (expected YYYY-MM-DD, the subject's birth date)")
    return day


def cmd_simulate(args: argparse.Namespace) -> int:
    from myotwitch.host.simtool import run_simulator

    return run_simulator(args)


def cmd_devices(args: argparse.Namespace) -> int:
    from myotwitch.host.devices import list_all
    from myotwitch.host.outputs import check_range

    check_range("--scan-time", args.scan_time, 0.1, 600, "0.1-600 seconds to scan for Bluetooth devices")
    check_range("--lsl-wait", args.lsl_wait, 0.0, 600, "0-600 seconds to look for LSL streams")

    return list_all(args)


def cmd_analyze(args: argparse.Namespace) -> int:
    from myotwitch.host.analyze_cmd import run_analyze

    return run_analyze(args, detector_config(args))


def cmd_live(args: argparse.Namespace) -> int:
    try:
        from myotwitch.host.gui.app import check_live, run_live
    except ImportError as e:
        raise MyotwitchError(f"the live app needs the GUI extra: pip install 'myotwitch[gui]' ({e.name} missing)") from e
    check_live(args)  # (no display: said at once, not after the kernels have loaded)
    lsl_publisher(args, check_only=True)
    prepare_detector()
    return run_live(args, detector_config(args))


def cmd_advice(args: argparse.Namespace) -> int:
    from myotwitch.host.advice_cmd import run_advice

    return run_advice(args)


def cmd_history(args: argparse.Namespace) -> int:
    from myotwitch.host.history_cmd import run_history

    return run_history(args)


def cmd_log(args: argparse.Namespace) -> int:
    from myotwitch.host.advice_cmd import run_log

    return run_log(args)


# -- parser -------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse, its errors in one line (the usage is one --help away, not 10 lines above them)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # a value that starts like a negative number ("-5s", "-0.5") is the option's value, so
        # its own check says what is wrong with it, not "expected one argument" (argparse
        # takes only plain numbers as values; none of the options is named like a number)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


ADVICE_HELP = """\
What your recordings and your diary suggest, from the rules in data/advice/rules.toml. Each
item says why it applies (the numbers it rests on) and which section of the reference article
it comes from, under one of three headings:

  SEE A DOCTOR ABOUT  twitching that is persistent (twitches on most recorded days over at
                      least 14 days), worsening (a rising rate over at least 6 sessions) or
                      spreading, or symptoms such as weakness, numbness or muscle loss;
  THINGS TO TRY       self-care that fits your diary: sleep, caffeine, stress, fluids, ...;
  GOOD TO KNOW        background, and associations in your own records (stated as such,
                      not as causes).

It reads the recordings that `myotwitch record` and `myotwitch analyze` added to your history
and the diary (`myotwitch log`); `myotwitch history` shows the same evidence day by day.
myotwitch is not a medical device: this is general information, not a diagnosis. If you are
worried, talk to a doctor.

examples:
  myotwitch log sleep 5.5 && myotwitch advice
  myotwitch advice --days 90
  myotwitch advice --json > advice.json"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="myotwitch",
        description="Count calf/ankle muscle twitches from surface EMG. myotwitch is not a medical device.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"myotwitch {_version()}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    # the same two after the command (``myotwitch analyze x.edf -q``); SUPPRESS keeps the value
    # given before it when they are not repeated
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug logging")
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=description or help_text, parents=[common],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        sp.set_defaults(func=func)
        return sp

    sp = add("live", cmd_live, "desktop app: live trace, twitch counter, episodes, advice",
             "Open the desktop app. With no device attached it runs on the built-in simulator and says so.")
    sp.add_argument("--source", default="auto", help="source spec, e.g. sim:, serial:auto, ble:auto, "
                    "file:REC.edf, lsl:NAME (all forms: myotwitch --help). Default auto: the last device or stream "
                    "that delivered data, else the first attached sensor, else the simulator")
    sp.add_argument("--window", type=float, default=None, help="seconds of trace shown (2-60; default: the last "
                    "one used, else 10)")
    sp.add_argument("--out", default=None, help="folder for recordings started from the app")
    sp.add_argument("--screenshot", metavar="PNG", help="save a screenshot of a 1280x760 window after "
                    "--run-for seconds (default 8) and quit")
    sp.add_argument("--run-for", type=float, metavar="S", help="quit after S seconds (demos, benchmarks)")
    add_lsl_option(sp)
    add_detector_options(sp)

    sp = add("record", cmd_record, "headless recorder: crash-safe EDF+ files and a live event log",
             "Record until stopped (SIGINT/SIGTERM stop cleanly, SIGHUP starts a new file).\n"
             "Files: OUT/myotwitch_<start>_<device>.edf (+ .summary.json when closed) and\n"
             "OUT/myotwitch_<start>.events.jsonl. An interrupted recording is repaired on the next start.")
    sp.add_argument("--source", default="auto", help="source spec, e.g. serial:auto, ble:auto, sim:, "
                    "lsl:NAME, brainflow:BOARD, file:REC.edf (all forms: myotwitch --help). Default auto = the "
                    "first attached USB device; use sim: to record the simulator")
    sp.add_argument("--out", default="recordings", help="output folder (default: ./recordings)")
    sp.add_argument("--wait", action="store_true", help="wait for the device to appear instead of failing "
                    "(for services started before the sensor is plugged in)")
    sp.add_argument("--rotate", metavar="1h|daily|none", help="start a new file every interval (e.g. 1h, 30m) or at "
                    "midnight (default none: one file, until a gap over 60 s)")
    sp.add_argument("--duration", metavar="T", help="stop after T of data (e.g. 90s, 8h)")
    sp.add_argument("--events", metavar="PATH", help="JSON-lines event log: a path, - for stdout, or none "
                    "(default: next to the recordings)")
    sp.add_argument("--no-rejected", action="store_true", help="do not annotate contractions and artefacts")
    sp.add_argument("--status-interval", type=float, default=60.0, metavar="S", help="status line every S seconds (default 60; 1 to 86400)")
    sp.add_argument("--patient-code", help="EDF+ patient code")
    sp.add_argument("--patient-name", help="EDF+ patient name (stored in the file header)")
    sp.add_argument("--sex", choices=["M", "F", "X"], help="EDF+ patient sex")
    sp.add_argument("--birthdate", metavar="YYYY-MM-DD", help="EDF+ patient birth date")
    add_lsl_option(sp)
    add_detector_options(sp)

    sp = add("analyze", cmd_analyze, "analyse recordings: counts, rates, episodes, quality, report, advice",
             "Analyse EDF/EDF+/BDF or CSV recordings (many files or globs). Prints a summary per file;\n"
             "--json/--csv/--report write machine-readable results. Exit code = number of files that failed.\n\n"
             "CSV files: a header line (after any '#' or '%' comment lines), the time first (in seconds;\n"
             "in milliseconds when its name says so: time_ms, 'Time (ms)'), then one column per channel\n"
             "with its unit in its name (calf_uV, 'soleus [mV]', 'ch1 (V)'; else --units, else µV).\n"
             "',', ';' or tab separated; decimal commas in ';' or tab files; empty, NA, N/A or NaN cells\n"
             "are missing samples. --channels keeps some columns (a marker column is left out so); EDF\n"
             "signals that are no voltage (a BioSemi Status) are left out unless chosen, and stretches an\n"
             "EDF+ file marks bad (annotations starting 'BAD', as MNE writes them) unless --keep-bad.\n\n"
             "examples:\n"
             "  myotwitch analyze night.edf --report night.html\n"
             "  myotwitch analyze 'lab/*.csv' --units mV --out-dir results -j 2\n"
             "  myotwitch analyze export.csv --channels 'gastroc,soleus' --json export.json")
    sp.add_argument("files", nargs="+", help="recordings (globs allowed; quoted, 'study/**/*.edf' reaches every folder depth)")
    sp.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="write the result as JSON (to stdout when no PATH or '-'): one file's result, or for "
                         "several files {\"schema\": ..., \"sessions\": [...]}")
    sp.add_argument("--csv", metavar="PATH", help="write the event table as CSV ('-': stdout)")
    sp.add_argument("--report", metavar="HTML", help="write a self-contained HTML report (plots embedded)")
    sp.add_argument("--out-dir", metavar="DIR", help="batch: write <name>.json per file and sessions.csv here, and failed.csv naming "
                    "the files that could not be analysed (files of the same name from several folders: their "
                    "paths from where they part, e.g. d1__x.edf.json), and manifest.csv listing this run's "
                    "results; an earlier run's results this run did not write are removed if unchanged); one run at a time: "
                    "a second run into the same DIR while one writes there is refused at once")
    sp.add_argument("--channels", metavar="A,B",
                    help="channels by name or 0-based index (where two share a label, the second is 'LABEL #2')")
    sp.add_argument("--units", metavar="U", help="CSV units: uV, mV, V or counts:UV_PER_COUNT[:OFFSET]")
    sp.add_argument("--keep-bad", action="store_true",
                    help="also analyse the stretches an EDF+ file marks bad (annotations starting 'BAD', as MNE "
                         "writes them); by default they are left out like lost data, and said")
    sp.add_argument("-j", "--jobs", type=int, default=None, help="parallel workers (default: all cores)")
    sp.add_argument("--scheduler", metavar="ADDRESS", help="run per-file work on a Dask cluster (needs myotwitch[dask])")
    sp.add_argument("--no-progress", action="store_true", help="no progress bar")
    indexing = sp.add_mutually_exclusive_group()
    indexing.add_argument("--no-index", action="store_true", help="do not add the sessions to the local session index")
    indexing.add_argument("--index", action="store_true",
                    help="add the sessions to the index even when their files name several people (by default such "
                         "a batch is someone else's study, not your history)")
    add_detector_options(sp)

    sp = add("simulate", cmd_simulate, "virtual device speaking the real protocol (for tests and demos)",
             "Run a virtual myotwitch device on a pseudo-terminal and print its path, so `myotwitch record\n"
             "--source serial:PATH`, `myotwitch live --source serial:PATH` or any serial program can open it.\n\n"
             "Building a board? Give the simulator your board's scale and sample width (--uv-per-count,\n"
             "--int24) and compare what the host says of both: `myotwitch record --source serial:PORT\n"
             "--duration 30s --out DIR` on each, then the summaries' stats (no decoder errors, no gaps).\n"
             "The frames are those of PROTOCOL.md; data/protocol holds byte-exact test vectors.")
    sp.add_argument("--pty", action="store_true", help="serve on a pseudo-terminal (what simulate always does; kept for scripts)")
    sp.add_argument("--link", metavar="PATH", help="also keep a symlink at PATH pointing to the current pty "
                    "(stable across simulated replugs)")
    sp.add_argument("--rate", type=float, default=1000.0, help="sample rate in Hz (default 1000; 250-4000)")
    sp.add_argument("--channels", type=int, default=1, help="channels (default 1; 1-8)")
    sp.add_argument("--twitch-rate", type=float, default=6.0, help="twitches per minute on each channel (default 6; 0 to 600)")
    sp.add_argument("--mains", default=None, metavar="50|60|off",
                    help="add 50 or 60 Hz interference (default: off)")
    sp.add_argument("--seed", type=int, default=1, help="random seed (default 1; same seed, same signal)")
    sp.add_argument("--duration", metavar="T", help="stop after T (e.g. 60s; default: until Ctrl+C)")
    sp.add_argument("--uv-per-count", type=float, default=0.125, metavar="UV",
                    help="µV per ADC count the device states, as a board's INFO does (default 0.125)")
    sp.add_argument("--int24", action="store_true", help="send 24-bit samples (sample format 2) instead of 16-bit")
    sp.add_argument("--bit-errors", type=float, default=0.0, metavar="RATE", help="bit errors per byte (default 0; at most 0.01)")
    sp.add_argument("--drop", type=float, default=0.0, metavar="P", help="probability of dropping a frame (default 0; at most 0.5)")
    sp.add_argument("--unplug-every", type=float, default=0.0, metavar="S", help="close the pty every S seconds "
                    "and open a new one (a replug), keeping the device's counter running (default 0: never; else at least 1)")
    sp.add_argument("--unplug-for", type=float, default=1.0, metavar="S", help="how long each unplug lasts (default 1; under half of --unplug-every)")
    sp.add_argument("--stall-every", type=float, default=0.0, metavar="S", help="stop sending every S seconds (default 0: never; else at least 1)")
    sp.add_argument("--stall-for", type=float, default=3.0, metavar="S", help="how long each stall lasts (default 3; under half of --stall-every)")
    sp.add_argument("--truth", metavar="JSON", help="write the ground-truth twitches here when stopping")

    sp = add("devices", cmd_devices, "list attached myotwitch devices (serial and BLE) and visible LSL streams")
    sp.add_argument("--no-ble", action="store_true", help="skip the Bluetooth scan")
    sp.add_argument("--no-lsl", action="store_true", help="skip looking for Lab Streaming Layer streams")
    sp.add_argument("--lsl-wait", type=float, default=1.0, metavar="S", help="seconds to look for LSL streams (default 1)")
    sp.add_argument("--scan-time", type=float, default=4.0, metavar="S", help="BLE scan seconds (default 4)")
    sp.add_argument("--probe-all", action="store_true", help="probe every serial port, not just known USB ids")

    sp = add("advice", cmd_advice, "what the twitch counts and your diary suggest (not a diagnosis)", ADVICE_HELP)
    sp.add_argument("--days", type=str, default=None, metavar="N",
                    help="how far back to look (1-3650; default: the rules' window, 28)")
    sp.add_argument("--json", nargs="?", const="-", metavar="PATH",
                    help="write JSON (to stdout when no PATH), as history --json does")
    sp.add_argument("--rules", metavar="TOML", help="use another rules file (its window too, unless --days)")

    sp = add("history", cmd_history, "your twitches over weeks: daily rates, diary, the evidence behind the advice")
    from myotwitch.host.history_cmd import configure_parser

    configure_parser(sp)

    sp = add("log", cmd_log, "symptom and intake diary: add, list, edit, delete entries",
             "Diary entries feed the advice. Examples:\n"
             "  myotwitch log caffeine 300 --unit mg       myotwitch log sleep 5.5   (or: sleep 330min)\n"
             "  myotwitch log symptom weakness --note 'left calf'   myotwitch log stress 4\n"
             "  myotwitch log medication salbutamol        myotwitch log --list\n"
             "  myotwitch log --edit 3 --set-value 200     myotwitch log --delete 3")
    sp.add_argument("what", nargs="?", help="caffeine | fluids | sleep | exercise | stress | symptom | medication")
    sp.add_argument("value", nargs="?", help="caffeine mg (or cups), fluids l, sleep h: an amount; stress 1-5; "
                    "exercise none|light|moderate|hard; symptom or medication: a name")
    sp.add_argument("--unit", help="unit of the value: caffeine mg|cups, fluids l|ml, sleep h|min (or typed onto "
                    "the value: 7h, 450min, 7h30m or 7:30, 2cups, 500ml)")
    sp.add_argument("--at", metavar="WHEN", help="time of the entry on this computer's clock (YYYY-MM-DD[ HH:MM], default "
                    "now); in the hour the clocks go back, with its UTC offset: 'YYYY-MM-DD HH:MM+01:00'")
    sp.add_argument("--note", help="free text")
    sp.add_argument("--list", action="store_true", help="list entries")
    sp.add_argument("--days", type=int, default=None, help="with --list: how far back (default 28)")
    sp.add_argument("--edit", type=int, metavar="ID", help="change entry ID (with --set-value/--at/--note)")
    sp.add_argument("--set-value", dest="set_value", metavar="V", help="with --edit: the new value")
    sp.add_argument("--delete", type=int, metavar="ID", help="delete entry ID")
    return p


def _subcommand(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (its first word that is not an option), before parsing."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    if _subcommand(sys.argv[1:] if argv is None else argv) == "record" and hasattr(signal, "SIGHUP"):
        # a reload (SIGHUP: a new file) in the second the imports take had ended the recorder
        # (Python's default); ignored until ``run_record`` says it has no file to rotate yet.
        # This module imports the detector (numpy, scipy) only from here on, so the window is
        # the interpreter's start alone
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    parser = build_parser()
    args = parser.parse_args(argv)  # (--help and usage errors end here, before numpy and scipy load)
    from myotwitch.dsp import kernels
    from myotwitch.dsp.config import ConfigError

    level = logging.DEBUG if args.debug else (logging.WARNING if args.quiet else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s" if args.debug
                        else "myotwitch: %(message)s", stream=sys.stderr)
    if not args.debug:
        for noisy in ("bleak", "asyncio", "matplotlib", "PIL", "distributed"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    kernels.on_compile = lambda: log.info("compiling the detector's kernels: the first run only, ~30 s "
                                          "(later runs load them in ~1 s)")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MyotwitchError as e:
        if args.debug:
            raise
        print(f"myotwitch: error: {e}", file=sys.stderr)
        return e.exit_code
    except ConfigError as e:
        if args.debug:
            raise
        print(f"myotwitch: error: {e}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as e:  # (found by a query, after the history database opened)
        if args.debug:
            raise
        from myotwitch.host.index import database_path, unusable

        print(f"myotwitch: error: {unusable(database_path(), e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if args.debug:
            raise
        print(f"myotwitch: internal error: {type(e).__name__}: {e} (run with --debug for details)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
