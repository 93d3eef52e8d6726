"""`myotwitch analyze`: outputs, batch behaviour, Dask, and one clear line for every bad input."""

import csv
import json
import pathlib
import shutil

import numpy as np
import pytest

from myotwitch.dsp import DetectorConfig, detect
from myotwitch.host.analysis import analyze_file
from myotwitch.host.cli import main
from myotwitch.host.csvio import write_csv
from myotwitch.host.edf import EdfReader, EdfWriter
from myotwitch.host.errors import FormatError

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "data" / "examples"
EDF = EXAMPLES / "calf-10min.edf"


def test_chunked_analysis_equals_whole_array_detection(example_edf_analysis):
    r = example_edf_analysis  # analyze_file(EDF), once per run (tests/host/conftest.py)
    x, fs = EdfReader(EDF).read_all()
    from myotwitch.dsp import DetectorConfig

    ref = detect(x, fs, DetectorConfig(clip_uv=EdfReader(EDF).clip_uv))
    assert [e["onset_sample"] for e in r["events"]] == [e.onset_sample for e in ref.events]
    assert r["stats"]["counts"]["twitch"] == len(ref.twitches) > 50


def test_json_schema(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["analyze", str(EDF), "--json", str(out), "--no-progress"]) == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "myotwitch.session/1"
    for key in ("events", "episodes", "stats", "quality", "advice"):
        assert key in r
    ev = r["events"][0]
    for key in ("onset_s", "offset_s", "duration_ms", "peak_to_peak_uv", "snr_db", "channel", "kind", "reason"):
        assert key in ev
    assert r["quality"]["mains"]["frequency_hz"] == 50.0
    assert r["quality"]["gaps"] == 1 and r["quality"]["gap_s"] == pytest.approx(1.5)
    assert any(i["level"] == "info" for i in r["advice"]["items"]) and r["advice"]["notice"]
    printed = capsys.readouterr().out
    assert "twitches" in printed and "noise floor" in printed and "not a medical device" in printed


def test_json_to_stdout_is_one_object(capsys):
    assert main(["analyze", str(EDF), "--json", "--no-progress", "--no-index"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["file"] == str(EDF)


def test_csv_input_gives_the_same_twitches(tmp_path, example_edf_analysis):
    x, fs = EdfReader(EDF).read_all()
    p = tmp_path / "same.csv"
    write_csv(p, np.nan_to_num(x[:, :120_000]), fs, ["gastrocnemius", "soleus"])
    a = analyze_file(p)
    b = example_edf_analysis  # analyze_file(EDF)
    onsets_b = [e["onset_s"] for e in b["events"] if e["kind"] == "twitch" and e["onset_s"] < 119.5]
    onsets_a = [e["onset_s"] for e in a["events"] if e["kind"] == "twitch"]
    assert len(onsets_a) == len(onsets_b) > 10
    assert np.allclose(onsets_a, onsets_b, atol=0.003)


def test_csv_units_from_header_and_option(tmp_path):
    x, fs = EdfReader(EDF).read_all()
    x = np.nan_to_num(x[:1, :30_000])
    mv = tmp_path / "mv.csv"
    np.savetxt(mv, np.column_stack([np.arange(x.shape[1]) / fs, x[0] / 1000]), delimiter=",",
               header="time_s,calf_mV", comments="")
    counts = tmp_path / "counts.csv"
    np.savetxt(counts, np.column_stack([np.arange(x.shape[1]) / fs, np.rint(x[0] / 0.125) + 2048]), delimiter=",",
               header="time_s,calf", comments="", fmt="%.6f")
    ref = analyze_file(mv)["stats"]["counts"]["twitch"]
    assert ref > 0
    assert analyze_file(counts, units="counts:0.125:2048")["stats"]["counts"]["twitch"] == ref


def test_batch_runs_in_parallel_skips_a_bad_file_and_counts_it(tmp_path, capsys):
    good = []
    for i in range(3):
        p = tmp_path / f"night{i}.edf"
        shutil.copy(EDF, p)
        good.append(str(p))
    bad = tmp_path / "broken.edf"
    bad.write_bytes(b"0       garbage")
    outdir = tmp_path / "out"
    code = main(["analyze", *good, str(bad), "--jobs", "2", "--out-dir", str(outdir), "--csv",
                 str(tmp_path / "events.csv"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.edf" in err and "Traceback" not in err
    rows = list(csv.DictReader((outdir / "sessions.csv").read_text().splitlines()))
    assert len(rows) == 3 and len(list(outdir.glob("night*.json"))) == 3
    events = list(csv.DictReader((tmp_path / "events.csv").read_text().splitlines()))
    assert {r["file"] for r in events} == set(good)


def test_glob_and_missing_file(tmp_path, capsys):
    shutil.copy(EDF, tmp_path / "a.edf")
    assert main(["analyze", str(tmp_path / "*.edf"), str(tmp_path / "nope.edf"), "--no-progress", "--no-index"]) == 1
    assert "nope.edf: no such file" in capsys.readouterr().err


def test_report_is_self_contained_html(tmp_path):
    out = tmp_path / "report.html"
    assert main(["analyze", str(EDF), "--report", str(out), "--no-progress", "--no-index"]) == 0
    text = out.read_text()
    assert text.count("data:image/png;base64,") >= 5
    assert 'name=viewport' in text and "source: reference article" in text
    assert "http://" not in text.replace("http://www.w3.org", "") and "<script" not in text


def test_dask_scheduler_gives_the_same_results(tmp_path, capsys, example_edf_analysis):
    distributed = pytest.importorskip("distributed")
    files = []
    for i in range(2):
        p = tmp_path / f"n{i}.edf"
        shutil.copy(EDF, p)
        files.append(str(p))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        out = tmp_path / "d.json"
        assert main(["analyze", *files, "--scheduler", cl.scheduler_address, "--json", str(out), "--no-progress",
                     "--no-index"]) == 0
    d = json.loads(out.read_text())
    local = example_edf_analysis  # analyze_file(EDF)
    assert [s["stats"]["counts"] for s in d["sessions"]] == [local["stats"]["counts"]] * 2


# -- bad input: one clear line each ----------------------------------------------------------------
def _edf(path, x, fs=1000.0, labels=None):
    w = EdfWriter(path, fs=fs, labels=labels or [f"c{i}" for i in range(x.shape[0])], uv_per_count=0.125)
    w.write(x)
    w.close()
    return path


def test_truncated_edf_is_read_up_to_the_damage(tmp_path, caplog):
    p = tmp_path / "cut.edf"
    shutil.copy(EDF, p)
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size // 2 + 123)
    r = analyze_file(p)
    assert 250 < r["stats"]["duration_s"] < 350
    assert "truncated" in caplog.text


@pytest.mark.parametrize("content, message", [
    (b"0       " + b"x" * 100, "only 108 bytes"),
    (b"%PDF-1.4" + b" " * 400, "not an EDF/BDF file"),
])
def test_corrupt_edf(tmp_path, content, message):
    p = tmp_path / "bad.edf"
    p.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        analyze_file(p)


def test_csv_with_text_in_a_number_column(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time_s,calf_uV\n0.000,1.0\n0.001,2.0\n0.002,oops\n0.003,1.0\n")
    with pytest.raises(FormatError, match=r"t.csv: line 4, column 'calf_uV': 'oops' is not a number"):
        analyze_file(p)


def test_file_without_emg_channels(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("time_s\n0\n0.001\n")
    with pytest.raises(FormatError, match="needs a time column and at least one channel"):
        analyze_file(p)


@pytest.mark.parametrize("sep", [" ", "|"])
def test_csv_split_by_another_character_names_the_separators_read(tmp_path, sep):
    """A file split by spaces or '|' was refused as lacking a time column, which it has."""
    p = tmp_path / "x.csv"
    p.write_text(sep.join(["time_s", "calf_uV"]) + "\n" + "".join(f"{i / 1000}{sep}1.0\n" for i in range(10)))
    with pytest.raises(FormatError, match=r"x.csv: needs a time column .*separated by ',', ';' or a tab"):
        analyze_file(p)


def test_sample_rate_below_250(tmp_path):
    p = _edf(tmp_path / "slow.edf", np.zeros((1, 2000)), fs=200.0)
    with pytest.raises(FormatError, match="sample rate 200 Hz is below 250 Hz"):
        analyze_file(p)


@pytest.mark.parametrize("make, warning", [
    (lambda n: np.zeros((1, n)), "all zeros"),
    (lambda n: np.full((1, n), 4095.875), "constant"),
    (lambda n: np.random.default_rng(0).normal(0, 5e-6, (1, n)), "look like volts"),
])
def test_implausible_signals_warn(tmp_path, make, warning):
    x = make(20_000)
    if "volts" in warning:
        p = tmp_path / "v.csv"
        write_csv(p, x, 1000.0, ["calf"])
    else:
        p = _edf(tmp_path / "s.edf", x)
    r = analyze_file(p)
    assert any(warning in w for w in r["quality"]["warnings"])


def test_adc_counts_warn(tmp_path):
    x = np.rint(np.random.default_rng(1).normal(2048, 40, (1, 20_000)))
    p = tmp_path / "counts.csv"
    write_csv(p, x, 1000.0, ["calf"])
    assert any("ADC counts" in w for w in analyze_file(p)["quality"]["warnings"])


def test_channel_selection_by_name_and_index(tmp_path, example_edf_analysis):
    by_name = analyze_file(EDF, channels=["soleus"])
    by_index = analyze_file(EDF, channels=["1"])
    both = example_edf_analysis  # analyze_file(EDF)
    assert by_name["channels"] == ["soleus"] == by_index["channels"]
    # a twitch seen on both channels counts once in the totals; each channel's detections are its hits
    assert by_name["stats"]["counts"]["twitch"] == both["stats"]["channel_hits"][1]
    assert sum(both["stats"]["twitches_per_channel"]) == both["stats"]["counts"]["twitch"]
    with pytest.raises(FormatError, match="no channel 'tibialis' \\(channels: gastrocnemius, soleus\\)"):
        analyze_file(EDF, channels=["tibialis"])


def test_edf_plus_d_records_are_placed_on_the_timeline(tmp_path):
    """Another program's discontinuous EDF+D: a jump in the records' time-keeping onsets is a gap."""
    rng = np.random.default_rng(3)
    x = np.rint(rng.normal(0, 40, (1, 6000)) / 0.125) * 0.125
    p = _edf(tmp_path / "d.edf", x)
    data = bytearray(p.read_bytes())
    data[192:197] = b"EDF+D"
    w_hdr = 256 * 3  # header: 1 EMG signal + the annotation signal
    rec = 1000 * 2 + 512
    for r, new in ((3, b"+9"), (4, b"+10"), (5, b"+11")):
        at = w_hdr + r * rec + 2000
        old = f"+{r}".encode()
        assert data[at: at + len(old)] == old
        # rewrite the onset; a longer one ("+10") pushes the rest of the TAL into the zero padding
        tail = bytes(data[at + len(old): at + 500])
        data[at: at + 500] = (new + tail)[:500]
    p.write_bytes(bytes(data))
    r = EdfReader(p)
    y, fs = r.read_all()
    assert y.shape[1] == 12_000
    assert np.isnan(y[0, 3000:9000]).all() and np.isfinite(y[0, 9000:12_000]).all()
    np.testing.assert_array_equal(y[0, 9000:12_000], x[0, 3000:6000].astype(np.float32))
    res = analyze_file(p)
    assert res["quality"]["gaps"] == 1 and res["quality"]["gap_s"] == pytest.approx(6.0)


def test_the_summary_text_names_channels_counts_in_number_and_accounts_for_every_unit():
    """"1 contractions", floors without their channels, and units seen once or twice left
    out unsaid (the report numbered its units with gaps)."""
    import copy

    from myotwitch.host.analyze_cmd import summary_text
    from myotwitch.host.paths import data_dir

    r = copy.deepcopy(analyze_file(str(data_dir() / "examples" / "calf-30s.csv"), DetectorConfig()))
    r["stats"]["counts"]["contraction"] = 1
    r["quality"]["noise_floor_uv_rms"] = [3.25, None]
    r["units"] = [{"unit": "U1", "count": 4}, {"unit": "U2", "count": 1}, {"unit": "U3", "count": 3}]
    text = summary_text(r)
    assert "rejected   1 contraction," in text
    assert f"noise floor {r['channels'][0]} 3.2, {r['channels'][1]} n/a µV RMS" in text
    assert "2 recurring waveforms: U1 with 4 twitches, U3 with 3 twitches" in text
    assert "1 more seen only once or twice (U2)" in text


def _recorded(folder):
    from myotwitch.host.recorder import Recorder
    from myotwitch.host.sources import open_source

    rec = Recorder(open_source("sim:rate=1000,channels=1,twitch_rate=30,seed=5,speed=0"), str(folder),
                   events_path=str(folder / "x.events.jsonl"), status_interval_s=999, duration_s=90.0)
    rec.run()
    [edf] = rec.closed_files
    return pathlib.Path(edf)


def test_a_moved_recording_folder_stays_one_session_in_the_history(tmp_path, capsys):
    """The sidecar named the recording by its old path, so the history keyed the same night
    twice (by content when the EDF was analysed, by the old path when its sidecar was)."""
    from myotwitch.host.index import SessionIndex

    edf = _recorded(tmp_path / "night")
    assert main(["analyze", str(edf)]) == 0
    moved = tmp_path / "moved"
    shutil.move(str(tmp_path / "night"), moved)
    sidecar = moved / (edf.stem + ".summary.json")
    assert main(["analyze", str(sidecar), "--json", str(tmp_path / "s.json")]) == 0
    with SessionIndex.default() as idx:
        rows = idx.sessions(include_undated=True)
    assert len(rows) == 1
    assert json.loads((tmp_path / "s.json").read_text())["file"] == str(moved / edf.name)


def test_a_batch_analyses_a_recording_once_and_skips_event_logs(tmp_path, caplog):
    import logging

    edf = _recorded(tmp_path / "night")
    caplog.set_level(logging.INFO, logger="myotwitch")
    assert main(["analyze", str(tmp_path / "night" / "*"), "--json", str(tmp_path / "all.json")]) == 0
    sessions = json.loads((tmp_path / "all.json").read_text())["sessions"]
    assert [s["file"] for s in sessions] == [str(edf)]
    said = caplog.text
    assert "x.events.jsonl: the recorder's event log, not a recording: skipped" in said
    assert f"its recording {edf} is in this batch" in said


def test_batch_errors_name_each_file_by_the_path_given(tmp_path, capsys):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.csv").write_text("")
    assert main(["analyze", str(tmp_path / "d1" / "x.csv"), str(tmp_path / "d2" / "x.csv"), "/dev/null"]) == 3
    err = capsys.readouterr().err
    for path in (tmp_path / "d1" / "x.csv", tmp_path / "d2" / "x.csv", "/dev/null"):
        assert f"myotwitch: error: {path}:" in err


def test_out_dir_is_made_only_inside_a_folder_that_exists(tmp_path, capsys):
    csv_file = str(pathlib.Path(__file__).parents[2] / "data" / "examples" / "calf-30s.csv")
    missing = tmp_path / "not-mounted" / "results"
    assert main(["analyze", csv_file, "--out-dir", str(missing)]) == 2
    assert f"folder {missing.parent} does not exist" in capsys.readouterr().err
    assert not missing.parent.exists()
    assert main(["analyze", csv_file, "--out-dir", str(tmp_path / "results")]) == 0
    assert (tmp_path / "results" / "sessions.csv").is_file()


def test_unit_warnings_fit_the_file(tmp_path):
    """An EDF of zeros was told it "looks like volts" and to use --units, which EDF files refuse;
    an EDF that does look like volts is pointed at its header instead."""
    from myotwitch.host.edf import EdfWriter

    rng = np.random.default_rng(3)
    for name, uv in (("zeros.edf", np.zeros((1, 20_000))),
                     ("volts.edf", np.round(rng.normal(0, 0.005, (1, 20_000)) / 1e-6) * 1e-6)):  # (µV, on its counts)
        w = EdfWriter(tmp_path / name, fs=1000, labels=["calf"], uv_per_count=1e-6)
        w.write(uv)
        w.close()
    zeros = analyze_file(str(tmp_path / "zeros.edf"), DetectorConfig())["quality"]["warnings"]
    assert not any("volts" in w for w in zeros)
    volts = analyze_file(str(tmp_path / "volts.edf"), DetectorConfig())["quality"]["warnings"]
    assert any("look like volts" in w and "header's physical dimension" in w and "--units V" not in w for w in volts)


def test_a_batch_left_with_nothing_to_analyse_fails_and_says_so(tmp_path, capsys):
    (tmp_path / "night.events.jsonl").write_text('{"type": "device"}\n')
    assert main(["analyze", str(tmp_path / "*.jsonl"), "--json", str(tmp_path / "o.json")]) == 1
    assert "no recordings among the files given" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_a_recording_given_with_its_sidecar_is_still_a_batch_in_the_json(tmp_path):
    edf = _recorded(tmp_path / "night")
    sidecar = edf.with_name(edf.stem + ".summary.json")
    assert main(["analyze", str(edf), str(sidecar), "--json", str(tmp_path / "o.json")]) == 0
    out = json.loads((tmp_path / "o.json").read_text())
    assert [s["file"] for s in out["sessions"]] == [str(edf)]  # (two files given: the batch schema)


@pytest.mark.parametrize("codes, extra, added", [(("S01", "S02"), [], 0), (("S01", "S02"), ["--index"], 2),
                                                 (("P01", "P01"), [], 2), (("X", "X"), [], 2)])
def test_a_batch_of_several_people_s_files_is_not_added_to_your_history(tmp_path, caplog, codes, extra, added):
    """A researcher's folder of subjects' recordings had joined the personal history (and the
    advice about "your" twitching); files that name one person, or no one, still join it."""
    import datetime as dt

    from myotwitch.dsp.synth import SynthSpec, synthesize
    from myotwitch.host.cli import main
    from myotwitch.host.edf import EdfWriter, Subject
    from myotwitch.host.index import SessionIndex

    files = []
    for k, code in enumerate(codes):
        x, _ = synthesize(SynthSpec(fs=1000.0, duration_s=20.0, seed=k))
        path = str(tmp_path / f"rec{k}.edf")
        w = EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 20 + k, 22),
                      subject=Subject(code=code))
        w.write(x)
        w.close()
        files.append(path)
    from myotwitch.host.advice_cmd import parse_when

    with SessionIndex.default() as idx:  # (the user's own diary: advice about *them*)
        idx.add_entry(parse_when(None), "symptom", "weakness", None, None)
    out = tmp_path / "o.json"
    with caplog.at_level("WARNING"):
        assert main(["analyze", *files, "--no-progress", "--json", str(out), *extra]) == 0
    with SessionIndex.default() as idx:
        assert len(idx.sessions(include_undated=True)) == added
    said = "not added to your history, no advice: these files name 2 different people ('S01', 'S02')" in caplog.text
    assert said == (added == 0), caplog.text
    # the user's diary had come out as advice under each subject's file ("You noted muscle weakness")
    advice = [s.get("advice") for s in json.loads(out.read_text())["sessions"]]
    if added:
        assert all(a and "consult-weakness" in [i["id"] for i in a["items"]] for a in advice), advice
    else:
        assert advice == [None, None]


def test_index_and_no_index_together_are_refused(capsys):
    from myotwitch.host.cli import main

    with pytest.raises(SystemExit):
        main(["analyze", str(EDF), "--index", "--no-index"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_floor_no_muscle_gives_is_blamed_on_the_scale_as_record_and_live_say(tmp_path):
    """Over 1000 µV RMS the recorder and the live app say the µV per count is wrong (or an
    electrode off); the analysis of the same file still said "a working muscle"."""
    import numpy as np

    from myotwitch.host.analysis import analyze_file

    rng = np.random.default_rng(5)
    p = tmp_path / "unscaled.csv"
    np.savetxt(p, np.column_stack([np.arange(20_000) / 1000, rng.normal(0, 3000, 20_000)]), delimiter=",",
               header="time_s,calf_uV", comments="")
    [said] = [w for w in analyze_file(p)["quality"]["warnings"] if "noise floor was over" in w]
    assert "µV per count is wrong" in said and "a working muscle" not in said


def test_a_pattern_s_double_star_reaches_every_folder_depth(tmp_path):
    """`analyze 'study/**/*.csv'` read 'study/*/*.csv': the files of a participant's visit one
    folder deeper, and those at the top, were left out without a word."""
    from myotwitch.host.analyze_cmd import expand

    made = [tmp_path / "study" / "top.csv", tmp_path / "study" / "P01" / "a.csv",
            tmp_path / "study" / "P02" / "visit 1" / "b.csv", tmp_path / "study" / "P02" / "visit 1" / "c.edf"]
    for p in made:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("time_s,calf\n")
    files, missing = expand([str(tmp_path / "study" / "**" / "*.csv")])
    assert sorted(files) == sorted(str(p) for p in made if p.suffix == ".csv") and missing == []
    files, _ = expand([str(tmp_path / "study" / "**" / "*")])
    assert sorted(files) == sorted(str(p) for p in made)  # (the folders on the way are no recordings)
    files, _ = expand([str(tmp_path / "study" / "P0*")])
    assert len(files) == 2  # (a pattern naming folders alone: they are refused one by one, as before)


def test_the_files_not_analysed_are_named_in_the_outputs_too(tmp_path, caplog):
    """A batch's outputs held the files it could analyse and nothing else: a study's 60 files
    gave 57 sessions, and which 3 failed, and why, was said only on stderr, gone from a job's
    log. The batch JSON lists them under ``failed``, --out-dir writes failed.csv, the report
    names them."""
    pytest.importorskip("matplotlib")
    good = tmp_path / "P01 night.csv"
    rng = np.random.default_rng(0)
    np.savetxt(good, np.column_stack([np.arange(3000) / 1000, rng.normal(0, 5, 3000)]), delimiter=",",
               header="time_s,calf", comments="")
    empty = tmp_path / "P02 night.edf"
    empty.write_bytes(b"")
    outdir, js, page = tmp_path / "out", tmp_path / "all.json", tmp_path / "r.html"
    caplog.set_level("INFO")
    code = main(["analyze", str(good), str(empty), str(tmp_path / "gone.edf"), str(tmp_path / "none*.bdf"),
                 "--out-dir", str(outdir),
                 "--json", str(js), "--report", str(page), "--no-progress", "--no-index"])
    assert code == 3
    assert "failed.csv naming the 3 files not analysed" in caplog.text
    failed = json.loads(js.read_text())["failed"]
    assert [f["file"] for f in failed] == [str(tmp_path / "none*.bdf"), str(empty), str(tmp_path / "gone.edf")]
    assert failed[1]["error"].startswith(f"{empty}: ") and "0 bytes" in failed[1]["error"]
    rows = list(csv.DictReader((outdir / "failed.csv").read_text(encoding="utf-8").splitlines()))
    assert rows == failed
    assert len(list(csv.DictReader((outdir / "sessions.csv").read_text().splitlines()))) == 1
    html = page.read_text(encoding="utf-8")
    assert "Not analysed (3)" in html and "gone.edf: no such file" in html
    # the next run into the folder, with every file read, leaves no stale list behind
    assert main(["analyze", str(good), "--out-dir", str(outdir), "--no-progress", "--no-index"]) == 0
    assert not (outdir / "failed.csv").exists()


def _stopped_at_the_second_of_three(tmp_path, monkeypatch, seed):
    """Three CSV recordings; a Ctrl+C comes while the second is analysed."""
    from myotwitch.host import analyze_cmd

    rng = np.random.default_rng(seed)
    files = []
    for i in range(3):
        p = tmp_path / f"n{i}.csv"
        np.savetxt(p, np.column_stack([np.arange(3000) / 1000, rng.normal(0, 5, 3000)]), delimiter=",",
                   header="time_s,calf", comments="")
        files.append(str(p))
    real = analyze_cmd.analyze_one

    def stopped_at_the_second(path, *a, **kw):
        if path == files[1]:
            raise KeyboardInterrupt
        return real(path, *a, **kw)

    monkeypatch.setattr(analyze_cmd, "analyze_one", stopped_at_the_second)
    return files


def test_ctrl_c_in_a_batch_keeps_the_files_analysed_by_then(tmp_path, monkeypatch, caplog):
    """A batch stopped with Ctrl+C at its 2nd of 3 files ended with exit code 130 and nothing
    written: the 1st file's finished analysis was lost with the rest. Now it is written, and the
    files not analysed are named in the outputs as failed ones are."""
    files = _stopped_at_the_second_of_three(tmp_path, monkeypatch, 2)
    out, js = tmp_path / "out", tmp_path / "all.json"
    code = main(["analyze", *files, "-j", "1", "--out-dir", str(out), "--json", str(js), "--no-progress", "--no-index"])
    assert code == 130
    d = json.loads(js.read_text())
    assert [s["file"] for s in d["sessions"]] == [files[0]]
    assert [f["file"] for f in d["failed"]] == files[1:] and "interrupted" in d["failed"][0]["error"]
    assert (out / "n0.json").is_file() and (out / "failed.csv").is_file()
    assert "interrupted after 1 of 3 files" in caplog.text


def test_ctrl_c_does_not_name_a_sidecar_already_read_as_not_analysed(tmp_path, monkeypatch):
    """A recorder's sidecar's result names its recording, not the sidecar given: after Ctrl+C
    every sidecar read by then had been named "not analysed" too (by the names finished)."""
    from myotwitch.host.analysis import analyze_file

    files = _stopped_at_the_second_of_three(tmp_path, monkeypatch, 3)
    sidecar = tmp_path / "n0.summary.json"
    sidecar.write_text(json.dumps(analyze_file(files[0])))
    js = tmp_path / "all.json"
    code = main(["analyze", str(sidecar), *files[1:], "-j", "1", "--json", str(js), "--no-progress", "--no-index"])
    assert code == 130
    d = json.loads(js.read_text())
    assert len(d["sessions"]) == 1 and [f["file"] for f in d["failed"]] == files[1:]
