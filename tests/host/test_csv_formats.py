"""CSV exports of other lab software as a researcher meets them: units in brackets, missing
values spelt as R and spreadsheets spell them, time columns in milliseconds, decimal commas."""

import numpy as np
import pytest

from myotwitch.host.analysis import analyze_file, open_reader
from myotwitch.host.errors import FormatError


def write(path, header, n=3000, fs=1000.0, t_scale=1.0, sep=",", fmt=None, cells=None):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 5, (2, n))
    lines = [header]
    for i in range(n):
        row = [f"{i / fs * t_scale:.6g}", f"{x[0, i]:.3f}", f"{x[1, i]:.3f}"]
        if cells is not None:
            row = cells(i, row)
        lines.append(sep.join(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", ["time_s,calf [mV],soleus [mV]", "time_s,calf (uV),soleus (uV)",
                                    "Time (s),calf uV,soleus uV"])
def test_channel_names_lose_the_unit_and_the_space_before_it(tmp_path, header):
    r = open_reader(write(tmp_path / "u.csv", header))
    assert r.labels == ["calf", "soleus"]


@pytest.mark.parametrize("token", ["NA", "N/A", "#N/A", "null", "NULL", "None", "nan", ""])
def test_missing_values_as_lab_software_writes_them(tmp_path, token):
    """R writes NA, Excel #N/A, databases null: a missing sample, not an error."""
    p = write(tmp_path / "m.csv", "time_s,calf_uV,soleus_uV",
              cells=lambda i, row: [row[0], token, row[2]] if i in (1000, 1001) else row)
    res = analyze_file(p)
    assert res["quality"]["gaps"] == 1
    assert any("missing where other channels have values" in w for w in res["quality"]["warnings"])


def test_a_word_in_a_cell_is_still_an_error_naming_it(tmp_path):
    p = write(tmp_path / "w.csv", "time_s,calf_uV,soleus_uV",
              cells=lambda i, row: [row[0], "lead off", row[2]] if i == 10 else row)
    with pytest.raises(FormatError, match=r"line 12, column 'calf_uV': 'lead off' is not a number"):
        analyze_file(p)


@pytest.mark.parametrize("header, scale", [("time_ms,calf_uV,soleus_uV", 1e3), ("Time (ms),calf_uV,soleus_uV", 1e3),
                                           ("t [ms],calf_uV,soleus_uV", 1e3), ("time_us,calf_uV,soleus_uV", 1e6),
                                           ("Time (s),calf_uV,soleus_uV", 1.0), ("time,calf_uV,soleus_uV", 1.0)])
def test_a_time_column_in_milliseconds_says_so_in_its_name(tmp_path, header, scale):
    res = analyze_file(write(tmp_path / "ms.csv", header, fs=2000.0, t_scale=scale))
    assert res["fs"] == 2000.0
    assert res["stats"]["duration_s"] == pytest.approx(1.5)


def test_an_unnamed_millisecond_column_is_refused_with_the_way_out(tmp_path):
    with pytest.raises(FormatError, match=r"read in seconds; one in milliseconds says so in its name, e\.g\. 'time_ms'"):
        analyze_file(write(tmp_path / "t.csv", "time,calf_uV,soleus_uV", t_scale=1e3))


def test_an_excerpt_in_milliseconds_is_said_in_its_own_unit(tmp_path):
    p = write(tmp_path / "x.csv", "time_ms,calf_uV,soleus_uV", t_scale=1e3,
              cells=lambda i, row: [f"{5000 + i:.6g}", *row[1:]])
    res = analyze_file(p)
    assert res["stats"]["duration_s"] == pytest.approx(3.0)
    assert any("reads 5000 ms (add 5000 to read them on that column)" in w for w in res["quality"]["warnings"])


@pytest.mark.parametrize("sep", [";", "\t"])
def test_decimal_commas_are_read(tmp_path, sep):
    """A European spreadsheet's export: '0,001;12,5'. It was "'0,000' is not a number"."""
    comma = tmp_path / "c.csv"
    write(comma, sep.join(["Time [s]", "calf [mV]", "soleus [mV]"]), sep=sep,
          cells=lambda i, row: [v.replace(".", ",") for v in [row[0], f"{float(row[1]) / 1e3:.6f}",
                                                             f"{float(row[2]) / 1e3:.6f}"]])
    point = tmp_path / "p.csv"
    write(point, sep.join(["Time [s]", "calf [mV]", "soleus [mV]"]), sep=sep,
          cells=lambda i, row: [row[0], f"{float(row[1]) / 1e3:.6f}", f"{float(row[2]) / 1e3:.6f}"])
    a, b = analyze_file(comma), analyze_file(point)
    assert a["fs"] == b["fs"] == 1000.0
    assert a["channels"] == ["calf", "soleus"]
    assert a["quality"]["raw_rms_uv"] == b["quality"]["raw_rms_uv"]
    assert a["quality"]["raw_rms_uv"][0] == pytest.approx(5.0, rel=0.1)


def test_decimal_commas_beside_a_marker_column(tmp_path):
    """A marker in the first rows ('start', 'Stim. A') of a decimal-comma export: the words were
    taken as a sign of no decimal commas, and the file failed at its first time ("'0,000' is not
    a number"), with --channels leaving the marker out or not."""
    p = write(tmp_path / "m.csv", ";".join(["time_s", "calf_uV", "soleus_uV", "marker"]), sep=";",
              cells=lambda i, row: [v.replace(".", ",") for v in row] + [{3: "start", 7: "Stim. A"}.get(i, "")])
    res = analyze_file(p, channels=["calf", "soleus"])
    assert res["fs"] == 1000.0 and res["stats"]["duration_s"] == pytest.approx(3.0)
    assert res["quality"]["raw_rms_uv"][0] == pytest.approx(5.0, rel=0.1)
    with pytest.raises(FormatError, match="column 'marker': 'start' is not a number"):
        analyze_file(p)


def test_commas_in_a_comma_separated_file_are_still_separators(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("time_s,calf_uV\n" + "".join(f"{i / 1000:.3f},{(i % 7) - 3}\n" for i in range(3000)))
    assert analyze_file(p)["channels"] == ["calf"]


def test_a_marker_column_left_out_with_channels_is_not_read(tmp_path):
    """Lab software adds a marker column ('stim' on a few rows). The refusal pointed nowhere, and
    `--channels calf,soleus` was refused the same: every column was read, chosen or not."""
    p = write(tmp_path / "m.csv", "time_s,calf_uV,soleus_uV,marker",
              cells=lambda i, row: [*row, "stim" if i % 1000 == 500 else ""])
    with pytest.raises(FormatError) as e:
        analyze_file(p)
    assert str(e.value) == ("m.csv: line 502, column 'marker': 'stim' is not a number (a column that is no channel, "
                            "such as markers, is left out with --channels, e.g. --channels 'calf,soleus')")
    res = analyze_file(p, channels=["calf", "soleus"])
    assert res["channels"] == ["calf", "soleus"] and res["stats"]["duration_s"] == pytest.approx(3.0)
    assert res["quality"]["gaps"] == 0


def test_a_preamble_of_comment_lines_before_the_header_is_skipped(tmp_path):
    """Lab software writes '# exported by ...' lines before the header: "needs a time column
    ... header is '# exported by AcqKnowledge 5.0'". Errors still name the file's own lines."""
    body = write(tmp_path / "b.csv", "time_s,calf_uV,soleus_uV").read_text()
    p = tmp_path / "p.csv"
    p.write_text("# exported by AcqKnowledge 5.0\n% subject: S01\n\n" + body.replace("\n0.005,", "\n0.005x,", 1))
    with pytest.raises(FormatError, match=r"line 10, column 'time_s': '0.005x' is not a number"):
        analyze_file(p)
    p.write_text("# exported by AcqKnowledge 5.0\n% subject: S01\n\n" + body)
    res = analyze_file(p)
    assert res["channels"] == ["calf", "soleus"] and res["stats"]["duration_s"] == pytest.approx(3.0)


def test_numpys_commented_header_is_the_header(tmp_path):
    """np.savetxt writes its header as '# time_s,calf_uV': numbers follow the last comment line."""
    p = tmp_path / "s.csv"
    np.savetxt(p, np.column_stack([np.arange(3000) / 1000, np.random.default_rng(0).normal(0, 5, 3000)]),
               delimiter=",", header="# exported\ntime_s,calf_uV")
    r = open_reader(p)
    assert r.labels == ["calf"] and r.time_label == "time_s" and r.n_samples == 3000
    assert analyze_file(p)["stats"]["duration_s"] == pytest.approx(3.0)


def test_units_that_contradict_the_columns_own_are_said(tmp_path):
    """`analyze lab/*.csv --units mV`, meant for the exports without units, read a file whose
    columns say uV at a thousand times their size, without a word."""
    p = write(tmp_path / "u.csv", "time_s,calf_uV,soleus")
    res = analyze_file(p, units="mV")
    assert ("u.csv: column 'calf_uV' names another unit than --units mV; read in mV as --units says (leave "
            "--units out to read each column in the unit its name gives)") in res["quality"]["warnings"]
    assert not any("names another unit" in w for w in analyze_file(p, units="uV")["quality"]["warnings"])


def test_an_openbci_gui_recording_is_named_and_the_way_out_given(tmp_path):
    """The OpenBCI GUI's text files start with a packet counter (0-255, again and again), not a
    time: read as seconds it was "sample rate 9.657 Hz ... is below 250 Hz"."""
    p = tmp_path / "OpenBCI-RAW-2026-12-01.txt"
    head = ("%OpenBCI Raw EXG Data\n%Number of channels = 2\n%Sample Rate = 250 Hz\n"
            "%Board = OpenBCI_GUI$BoardCytonSerial\n"
            "Sample Index, EXG Channel 0, EXG Channel 1, Accel Channel 0, Timestamp, Timestamp (Formatted)\n")
    rows = "".join(f"{k % 256}.0, {k % 7 - 3}.5, {k % 5 - 2}.25, 0.0, {1796600000 + k / 250:.3f}, "
                   f"2026-12-07 10:00:00.000\n" for k in range(600))
    p.write_text(head + rows)
    with pytest.raises(FormatError, match="OpenBCI GUI recording .* save the session as BDF\\+"):
        open_reader(str(p))


def test_a_unix_time_start_carries_its_utc_offset(tmp_path, monkeypatch):
    """A time column in Unix seconds is an instant; its start was written as this computer's wall
    clock without an offset, so one file read 07:00 on a computer in UTC and 02:00 in New York,
    each a plain time that could not be told apart from an EDF's own clock. With the offset, both
    computers state the same instant; the session list, index and report still show local time."""
    import datetime as dt
    import time

    pytest.importorskip("matplotlib")
    from myotwitch.host.report import write_report

    unix0 = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.timezone.utc).timestamp()
    p = tmp_path / "unix.csv"
    t = unix0 + np.arange(3000) / 1000
    p.write_text("unix_time,calf_uV\n" + "".join(f"{a:.3f},{b:.2f}\n" for a, b in zip(
        t, np.random.default_rng(0).normal(0, 5, 3000))))
    starts = []
    try:
        for zone in ("UTC", "America/New_York"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            res = analyze_file(p)
            starts.append(res["start"])
            assert dt.datetime.fromisoformat(res["start"]).timestamp() == pytest.approx(unix0)
        # beside an EDF's start, which has no offset, the report's trend still draws
        other = tmp_path / "other.csv"
        other.write_text(p.read_text())
        edf_like = dict(res, file=str(other), start="2026-11-24T22:30:00")
        write_report(str(tmp_path / "r.html"), [edf_like, res])
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert starts == ["2026-11-25T07:00:00+00:00", "2026-11-25T02:00:00-05:00"]


def _iso_rows(path, stamps, sep=","):
    rng = np.random.default_rng(2)
    lines = ["timestamp,calf_uV"] + [f"{s}{sep}{v:.3f}" for s, v in zip(stamps, rng.normal(0, 5, len(stamps)))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_iso_time_column_is_read_and_dates_the_recording(tmp_path):
    """Clock time written as ISO 8601, as databases and spreadsheets export it, had been
    refused ("'2026-11-01T22:00:00.000' is not a number"): it gives the rate, the gaps and the
    start (the recording's clock as written, with its UTC offset when it has one)."""
    import datetime as dt

    t0 = dt.datetime(2026, 11, 1, 22, 0, 0)
    stamps = [t0 + dt.timedelta(microseconds=500 * i) for i in range(6000)]
    stamps = stamps[:3000] + [s + dt.timedelta(seconds=2) for s in stamps[3000:]]  # a 2 s gap
    res = analyze_file(_iso_rows(tmp_path / "iso.csv", [s.isoformat(timespec="microseconds") for s in stamps]))
    assert res["fs"] == 2000.0 and res["start"] == "2026-11-01T22:00:00"
    assert res["stats"]["valid_s"] == pytest.approx(3.0) and res["stats"]["duration_s"] == pytest.approx(5.0, abs=0.01)
    assert res["quality"]["gaps"] == 1
    zoned = analyze_file(_iso_rows(tmp_path / "z.csv", [s.isoformat(sep=" ", timespec="milliseconds") + "Z"
                                                        for s in stamps[:3000:2]]))
    assert zoned["fs"] == 1000.0 and dt.datetime.fromisoformat(zoned["start"]) == t0.replace(tzinfo=dt.timezone.utc)
    bad = [s.isoformat() for s in stamps[:3000]]
    bad[2500] = "soon"
    with pytest.raises(FormatError, match=r"line 2502, column 'timestamp': 'soon' is not an ISO 8601 time"):
        analyze_file(_iso_rows(tmp_path / "bad.csv", bad))


def test_pandas_datetime_index_export_is_read(tmp_path):
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2026-11-01 22:00", periods=4000, freq="1ms", name="time")
    pd.DataFrame({"calf_uV": np.random.default_rng(3).normal(0, 5, 4000)}, index=idx).to_csv(tmp_path / "p.csv")
    res = analyze_file(tmp_path / "p.csv")
    assert res["fs"] == 1000.0 and res["start"] == "2026-11-01T22:00:00" and res["stats"]["duration_s"] == 4.0


@pytest.mark.parametrize("text, expected", [
    ("2026-11-01T22:00:00.125Z", "2026-11-01T22:00:00.125000+00:00"),
    ("2026-11-01 22:00:00.000333333", "2026-11-01T22:00:00.000333"),  # (pandas' nanoseconds)
    ("2026-11-01T22:00:00.5+0100", "2026-11-01T22:00:00.500000+01:00"),
    ("2026-11-01T22:00", "2026-11-01T22:00:00"),
    ("12.5", None), ("2026-11-01", None), ("2026-11-01Tlate", None),
])
def test_iso_times_as_exporters_write_them(text, expected):
    """Python 3.10's fromisoformat reads neither a 'Z' nor 9-digit fractions (the project
    supports 3.10): what the time column may hold is read alike on every Python."""
    from myotwitch.host.csvio import _iso_time

    got = _iso_time(text)
    assert (got.isoformat() if got is not None else None) == expected


def test_an_unnamed_first_column_of_times_is_the_time_column(tmp_path):
    """Only an unnamed first column that counts the rows is pandas' row index: an unnamed
    column of seconds, or pandas' unnamed DatetimeIndex, is the time."""
    import datetime as dt

    secs = tmp_path / "secs.csv"
    secs.write_text(",calf_uV,soleus_uV\n" + "".join(f"{i / 1000:.3f},1.0,2.0\n" for i in range(3000)))
    assert analyze_file(secs)["fs"] == 1000.0
    t0 = dt.datetime(2026, 11, 1, 22)
    iso = tmp_path / "iso.csv"
    iso.write_text(",calf_uV,soleus_uV\n" + "".join(
        f"{(t0 + dt.timedelta(milliseconds=i)).isoformat(sep=' ')},1.0,2.0\n" for i in range(3000)))
    res = analyze_file(iso)
    assert res["fs"] == 1000.0 and res["start"] == "2026-11-01T22:00:00"


@pytest.mark.parametrize("before, after", [
    ("2026-11-01T02:59:58", "2026-11-01T02:00:00"),  # (no clock goes back that night)
    ("2026-10-25T01:59:58", "2026-10-25T01:00:00"),  # (an hour before they went back)
    ("2026-10-25T02:59:58", "2026-10-25T01:59:00"),  # (back past the repeated hour: not the clocks)
])
def test_local_clock_times_going_back_otherwise_say_what_to_do(tmp_path, berlin, before, after):
    """Clock times without an offset that go back other than as the clocks did, a sample on, are
    refused as before; the refusal said only "expected increasing times"."""
    import datetime as dt

    t0, t1 = dt.datetime.fromisoformat(before), dt.datetime.fromisoformat(after)
    stamps = [t0 + dt.timedelta(milliseconds=i) for i in range(2000)]
    stamps += [t1 + dt.timedelta(milliseconds=i) for i in range(2000)]
    back = (t0 + dt.timedelta(milliseconds=1999) - t1).total_seconds()
    with pytest.raises(FormatError, match=rf"line 2002: time goes back by {back:g} s; its clock times have no UTC "
                                          "offset"):
        analyze_file(_iso_rows(tmp_path / "dst.csv", [s.isoformat() for s in stamps]))


def _clock_rows(path, parts, zones=None):
    """A file of clock times at 1 kHz, without an offset (or each part's of ``zones``): each
    part its first time and its number of rows."""
    import datetime as dt

    return _iso_rows(path, [(dt.datetime.fromisoformat(first) + dt.timedelta(milliseconds=i))
                            .isoformat(sep=" ", timespec="milliseconds") + (zones[k] if zones else "")
                            for k, (first, n) in enumerate(parts) for i in range(n)])


@pytest.mark.parametrize("chunk_rows", [None, 777])
@pytest.mark.parametrize("first, n", [("2026-10-25T02:59:50", 10_000),  # (it goes back after the rate's first rows)
                                      ("2026-10-25T02:59:59", 1000)])  # (within them)
def test_local_clock_times_that_go_back_with_the_clocks_are_read_whole(tmp_path, berlin, monkeypatch, chunk_rows,
                                                                      first, n):
    """A logger on local time writes the hour the clocks go back twice (02:59:59.999, then
    02:00:00.000 again): such a night's file had been refused whole ("time goes back by 3600
    s"), its data lost. Where the times go back by the clock's shift and the two instants are a
    sample apart, the rest is read as the hour's second pass: the file reads as one written
    with its offsets, without a gap, and its warnings say where and how it was read."""
    from myotwitch.host import csvio

    if chunk_rows:  # (the shift carries from chunk to chunk)
        monkeypatch.setattr(csvio, "CHUNK_ROWS", chunk_rows)
    parts = [(first, n), ("2026-10-25T02:00:00", 10_000)]
    plain = analyze_file(_clock_rows(tmp_path / "night.csv", parts))
    zoned = analyze_file(_clock_rows(tmp_path / "zoned.csv", parts, zones=["+02:00", "+01:00"]))
    assert plain["fs"] == zoned["fs"] == 1000.0
    assert plain["stats"]["duration_s"] == pytest.approx((n + 10_000) / 1000.0, abs=0.002)
    assert plain["stats"]["valid_s"] == zoned["stats"]["valid_s"] and plain["quality"]["gaps"] == 0
    assert plain["start"] == first and len(plain["events"]) == len(zoned["events"])
    said = [w for w in plain["quality"]["warnings"] if "UTC offset" in w]
    assert said == [f"night.csv: line {n + 2}: its times, without a UTC offset, go back from 2026-10-25 "
                    "02:59:59.999 to 2026-10-25 02:00:00.000 as this computer's clock went back by 1 h (from +02:00 "
                    "to +01:00): read from there on as the repeated hour's second pass (+01:00), following on "
                    "without a gap"]


@pytest.mark.parametrize("first, then, gap", [
    ("2026-10-25T02:59:58", "2026-10-25T02:00:05", 5.0),  # (the clocks went back, and 5 s are missing)
    ("2026-10-25T02:50:00", "2026-10-25T02:10:00", 1198.0),  # (unplugged 02:50 +02:00 to 02:10 +01:00)
])
def test_local_clock_times_that_go_back_with_the_clocks_over_a_gap_are_read_with_it(tmp_path, berlin, first,
                                                                                    then, gap):
    """Data that stopped before the clocks went back and came again in the repeated hour's second
    pass goes back as written (a logger unplugged at 02:50, plugged in again at 02:10 after the
    clocks went back at 03:00): the file had been refused whole. Read at the clock's new reading
    the second part follows the first, after a gap: both parts are read, the gap is the true
    one, and the warnings say how it was read."""
    parts = [(first, 2000), (then, 3000)]
    plain = analyze_file(_clock_rows(tmp_path / "night.csv", parts))
    zoned = analyze_file(_clock_rows(tmp_path / "zoned.csv", parts, zones=["+02:00", "+01:00"]))
    assert plain["stats"]["valid_s"] == pytest.approx(5.0, abs=0.002) == zoned["stats"]["valid_s"]
    assert plain["stats"]["duration_s"] == pytest.approx(zoned["stats"]["duration_s"]) == pytest.approx(5.0 + gap,
                                                                                                          abs=0.01)
    assert plain["quality"]["gaps"] == zoned["quality"]["gaps"] == 1
    said = [w for w in plain["quality"]["warnings"] if "UTC offset" in w]
    assert len(said) == 1 and said[0].startswith("night.csv: line 2002: its times, without a UTC offset, go back")
    assert said[0].endswith(f"read from there on as the repeated hour's second pass (+01:00), after a gap of "
                            f"{gap + 0.001:g} s in the data")


def test_local_clock_times_that_skip_the_hour_the_clocks_do_follow_on(tmp_path, berlin):
    """The night the clocks go forward a logger on local time jumps from 01:59:59.999 to
    03:00:00.000: that had been read as a gap of an hour (its 5 s recording said to last 1 h,
    and 'the link lost data often' for the data after it). It follows on; a jump of an hour on
    another night is still a gap."""
    res = analyze_file(_clock_rows(tmp_path / "spring.csv", [("2026-03-29T01:59:58", 2000),
                                                             ("2026-03-29T03:00:00", 3000)]))
    assert res["stats"]["duration_s"] == pytest.approx(5.0, abs=0.002) and res["quality"]["gaps"] == 0
    assert res["stats"]["valid_s"] == pytest.approx(5.0, abs=0.002)
    said = [w for w in res["quality"]["warnings"] if "UTC offset" in w or "gap" in w]
    assert said == ["spring.csv: line 2002: its times, without a UTC offset, jump from 2026-03-29 01:59:59.999 to "
                    "2026-03-29 03:00:00.000 as this computer's clock went forward by 1 h (from +01:00 to +02:00): "
                    "read as following on without a gap (the hour skipped never came)"]
    other = analyze_file(_clock_rows(tmp_path / "gap.csv", [("2026-04-05T01:59:58", 2000),
                                                            ("2026-04-05T03:00:00", 3000)]))
    assert other["stats"]["duration_s"] == pytest.approx(3605.0, abs=0.01) and other["quality"]["gaps"] == 1


@pytest.mark.parametrize("parts, zones, gap", [
    ([("2026-03-29T01:50:00", 2000), ("2026-03-29T03:10:00", 3000)], ["+01:00", "+02:00"], 1198.0),  # (spring)
    ([("2026-10-25T02:50:00", 2000), ("2026-10-25T03:30:00", 3000)], ["+02:00", "+01:00"], 5998.0),  # (autumn)
])
def test_a_stop_in_the_data_over_the_clock_change_is_as_long_as_the_time_that_passed(tmp_path, berlin, parts,
                                                                                       zones, gap):
    """Data that stops before the clocks change and comes again after it: the gap read as written
    had been an hour too long in spring (01:50 to 03:10 is 20 min) and an hour too short in
    autumn (02:50 on the first pass to 03:30 is 100 min). It is the time that passed, as the
    file written with its offsets reads, and the warnings say so."""
    plain = analyze_file(_clock_rows(tmp_path / "night.csv", parts))
    zoned = analyze_file(_clock_rows(tmp_path / "zoned.csv", parts, zones=zones))
    assert plain["stats"]["duration_s"] == pytest.approx(zoned["stats"]["duration_s"]) == pytest.approx(5.0 + gap,
                                                                                                          abs=0.01)
    assert plain["quality"]["gaps"] == 1 and plain["stats"]["valid_s"] == pytest.approx(5.0, abs=0.002)
    said = [w for w in plain["quality"]["warnings"] if "UTC offset" in w]
    assert len(said) == 1 and "over the time this computer's clock went" in said[0], said
    assert said[0].endswith(f"read at its new reading, after a gap of {gap + 0.001:g} s in the data")
    # (in the repeated hour a jump forward is read on one pass, as written: 02:10 to 02:50 is 40 min)
    same = analyze_file(_clock_rows(tmp_path / "same.csv", [("2026-10-25T02:10:00", 2000),
                                                            ("2026-10-25T02:50:00", 3000)]))
    assert same["stats"]["duration_s"] == pytest.approx(2400.0 + 3.0, abs=0.01)


@pytest.mark.parametrize("first, said", [
    ("2026-10-25T02:30:00", "d.csv: its first time, 2026-10-25 02:30:00, has no UTC offset and came twice on this "
                            "computer's clock (at +02:00, then at +01:00 after the clocks went back); dated the earlier "
                            "(+02:00): if it was the later, write the offset in the file (2026-10-25T02:30:00+01:00)"),
    ("2026-03-29T02:30:00", "d.csv: its first time, 2026-03-29 02:30:00, has no UTC offset and never came on this "
                            "computer's clock (the clocks went forward past it); dated as written: write the offset"),
])
def test_a_start_without_an_offset_that_is_not_one_instant_is_said(tmp_path, berlin, capsys, first, said):
    """Clock times without a UTC offset starting in the hour the clocks went back (came twice)
    or skipped (never came) had dated the session as written without a word, an hour off the
    other reading. The file is still read whole, and its warning says which reading was taken
    and how to make it exact."""
    import datetime as dt

    from myotwitch.host.cli import main

    t0 = dt.datetime.fromisoformat(first)
    p = _iso_rows(tmp_path / "d.csv", [(t0 + dt.timedelta(milliseconds=i)).isoformat(timespec="milliseconds")
                                       for i in range(3000)])
    res = analyze_file(p)
    assert res["start"] == first and res["stats"]["duration_s"] == pytest.approx(3.0, abs=0.01)
    ours = [w for w in res["quality"]["warnings"] if "UTC offset" in w]
    assert len(ours) == 1 and ours[0].startswith(said), res["quality"]["warnings"]
    assert main(["analyze", str(p), "--no-index", "--no-progress"]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if "UTC offset" in line]
    assert len(shown) == 1 and said in shown[0]


@pytest.mark.parametrize("first", ["2026-10-25T01:30:00", "2026-10-25T03:30:00", "2026-10-25T02:30:00+01:00",
                                   "2026-03-29T01:30:00", "2026-03-29T03:30:00"])
def test_a_start_that_is_one_instant_has_no_such_warning(tmp_path, berlin, first):
    import datetime as dt

    t0 = dt.datetime.fromisoformat(first)
    p = _iso_rows(tmp_path / "d.csv", [(t0 + dt.timedelta(milliseconds=i)).isoformat(timespec="milliseconds")
                                       for i in range(3000)])
    assert not [w for w in analyze_file(p)["quality"]["warnings"] if "UTC offset" in w]


def test_starts_with_a_utc_offset_are_listed_by_this_computers_clock(tmp_path, monkeypatch):
    """A CSV's start with its UTC offset (07:00Z) and an EDF's plain start (03:00, its own
    clock) on a computer in New York: the history and the trend plot place the CSV at 02:00,
    but the session list, sessions.csv and the report's table had sorted and shown it by its
    own clock, 07:00, after the EDF."""
    import csv
    import time

    from myotwitch.host.analyze_cmd import write_sessions_csv
    from myotwitch.host.wording import local_clock

    def result(name, start):
        return {"file": name, "start": start, "stats": {"duration_s": 60.0, "valid_s": 60.0, "twitches_per_hour": 0.0,
                                                       "episodes": 0, "counts": {"twitch": 0, "contraction": 0,
                                                                                 "artifact": 0}},
                "quality": {"noise_floor_uv_rms": [3.0], "mains": None, "gaps": 0}}
    try:
        monkeypatch.setenv("TZ", "America/New_York")
        time.tzset()
        rs = [result("edf.edf", "2026-11-25T03:00:00"), result("utc.csv", "2026-11-25T07:00:00+00:00")]
        write_sessions_csv(str(tmp_path / "s.csv"), rs)
        with open(tmp_path / "s.csv", newline="") as fh:
            assert [row["file"] for row in csv.DictReader(fh)] == ["utc.csv", "edf.edf"]
        assert local_clock(rs[1]["start"])[:16] == "2026-11-25T02:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
