"""CSV reading: bounded memory and error text for any input (#16 item 6) and the edge cases
that gave wrong results (#16 item 9)."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest

from myotwitch.host.analysis import analyze_file, open_reader
from myotwitch.host.errors import FormatError


def rows(n, fs=1000.0, sep=",", end="\n", t0=0.0, jump_at=None, jump_s=0.0, jitter=0.0, trailing=""):
    rng = np.random.default_rng(0)
    t = t0 + np.arange(n) / fs + rng.uniform(-jitter, jitter, n)
    if jump_at is not None:
        t[jump_at:] += jump_s
    x = rng.normal(0, 10, n)
    return "".join(f"{a:.6f}{sep}{b:.3f}{trailing}{end}" for a, b in zip(t, x))


def test_trailing_separator_is_not_an_empty_channel(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("time_s,calf_uV,\n" + rows(5000, trailing=","))
    res = analyze_file(p)
    assert res["channels"] == ["calf"]
    assert res["stats"]["valid_s"] == pytest.approx(5.0)


def test_a_jump_in_the_time_column_is_a_gap(tmp_path):
    p = tmp_path / "j.csv"
    p.write_text("time_s,calf_uV\n" + rows(6000, jump_at=3000, jump_s=1000.0))
    res = analyze_file(p)
    assert res["quality"]["gaps"] == 1
    assert res["quality"]["gap_s"] == pytest.approx(1000.0, abs=0.002)
    assert res["stats"]["valid_s"] == pytest.approx(6.0, abs=0.002)
    assert any("time jumps by 1000" in w for w in res["quality"]["warnings"])


def test_cr_only_line_endings(tmp_path):
    p = tmp_path / "cr.csv"
    p.write_bytes(("time_s,calf_uV\r" + rows(3000, end="\r")).encode())
    res = analyze_file(p)
    assert res["stats"]["duration_s"] == pytest.approx(3.0)


@pytest.mark.parametrize("where", [2, 2500])
def test_nan_time_is_one_line_naming_the_line(tmp_path, where):
    p = tmp_path / "n.csv"
    lines = ("time_s,calf_uV\n" + rows(3000)).splitlines()
    lines[where] = "nan,1.0"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match=f"line {where + 1}, column 'time_s'") as e:  # (as the header names it)
        analyze_file(p)
    assert "\n" not in str(e.value)


def test_time_going_back_is_one_line(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("time_s,calf_uV\n" + rows(3000) + rows(3000))
    with pytest.raises(FormatError, match="line 3002: time goes back"):
        analyze_file(p)


def test_jittered_timestamps_give_the_true_rate_and_a_jitter_warning(tmp_path):
    p = tmp_path / "jit.csv"
    # time stamps taken by a busy host: each off by up to +-0.4 ms
    p.write_text("time_s,calf_uV\n" + rows(20_000, jitter=0.0004))
    reader = open_reader(p)
    assert reader.fs == 1000.0
    res = analyze_file(p)
    assert res["fs"] == 1000.0 and res["quality"]["gaps"] == 0
    assert any("jitter" in w for w in res["quality"]["warnings"])


def test_long_line_is_a_short_error_and_memory_stays_bounded(tmp_path):
    import tracemalloc

    p = tmp_path / "long.csv"
    p.write_bytes(b"1.0," * 2_000_000)  # 8 MB, no line break
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="line 1 is longer than") as e:
            analyze_file(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(str(e.value)) < 200 and peak < 5e6


@pytest.mark.parametrize("make", ["zero", "sparse", "digits"])
def test_cli_ends_bad_inputs_quickly_with_one_short_line(tmp_path, make):
    target = str(tmp_path / "huge.csv")
    if make == "zero":
        target = "/dev/zero"
    elif make == "sparse":  # 300 MB without a newline (sparse, so the test costs no disk)
        with open(target, "wb") as fh:
            fh.write(b"time_s,calf_uV,")
            fh.truncate(300 * 1024 * 1024)
    else:  # 30 MB of numbers without a newline: the error must not echo them
        with open(target, "wb") as fh:
            fh.write(b"0123456789" * 3_000_000)
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "myotwitch.host.cli", "analyze", target, "--no-index",
                        "--no-progress"], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 30
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300, r.stderr[:500]


def test_unix_time_column_is_not_mistaken_for_a_gap(tmp_path):
    p = tmp_path / "u.csv"
    p.write_text("time_s,calf_uV\n" + rows(3000, t0=1_764_000_000.0))
    res = analyze_file(p)
    assert res["quality"]["gaps"] == 0 and res["dated"] is True


def test_a_value_beyond_float32_is_missing_with_a_warning_naming_its_line(tmp_path, recwarn):
    """It printed numpy's "RuntimeWarning: overflow encountered in cast" with our source line."""
    from myotwitch.host.csvio import CsvReader

    x = np.random.default_rng(0).normal(0, 5, 3000)
    p = tmp_path / "big.csv"
    rows = [f"{i / 1000},{v}" for i, v in enumerate(x)]
    rows[100] = "0.1,1e300"
    p.write_text("time,ch0\n" + "\n".join(rows) + "\n")
    r = CsvReader(p)
    got = np.concatenate([u[0] for _, u in r.iter_records()])
    assert np.isinf(got[100]) and np.isfinite(np.delete(got, 100)).all()
    assert r.warnings == ["big.csv: line 102, column 'ch0': a value beyond ±3.4e38 µV; such values are read as missing"]
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("header, body, message", [
    ("a_uV,b_uV", "1,2\n3,4\n5,6\n", "the first column is 'a_uV', a channel by the unit in its name"),
    ("foo;bar", "1;2\n3;4\n5;6\n", "sample rate 0.5 Hz (from the time column 'foo', read in seconds; one in milliseconds"),
    ("stamp,calf_uV", "2,1\n1,2\n0,3\n", "the time column ('stamp') does not increase"),
])
def test_a_first_column_that_is_no_time_is_named(tmp_path, header, body, message):
    """A header without a time column had its first channel read as time: "time column does
    not increase", or a sample rate of 0.5 Hz, without a word about which column was meant."""
    p = tmp_path / "x.csv"
    p.write_text(header + "\n" + body)
    with pytest.raises(FormatError, match=re.escape(message)):
        analyze_file(p)


def test_quoted_numbers_and_a_latin1_header_are_read(tmp_path):
    """Spreadsheets quote numbers ('"0.001"' was "not a number"), and an older tool's Latin-1
    'calf_\xb5V' became 'calf_\ufffdV' and lost its unit."""
    body = rows(3000)
    quoted = tmp_path / "q.csv"
    quoted.write_text('"time_s","calf_uV"\n' + "".join(
        ",".join(f'"{v}"' for v in line.split(",")) + "\n" for line in body.splitlines()))
    plain = tmp_path / "p.csv"
    plain.write_text("time_s,calf_uV\n" + body)
    latin = tmp_path / "l.csv"
    latin.write_bytes(("time_s,calf_\u00b5V\n" + body).encode("latin-1"))
    ref = analyze_file(plain)
    for other in (quoted, latin):
        got = analyze_file(other)
        assert got["channels"] == ["calf"] and got["stats"] == ref["stats"]


def test_a_row_missing_one_channel_of_two_is_said_once(tmp_path):
    # such a row is a gap on every channel (the detector needs each sample on all of them): it
    # had been so without a word
    from myotwitch.host.csvio import CsvReader

    x = np.random.default_rng(0).normal(0, 5, (3000, 2))
    lines = [f"{i / 1000},{a},{b}" for i, (a, b) in enumerate(x)]
    lines[100] = "0.1,3.5,"
    lines[200] = "0.2,,"  # missing on both: a gap as any other, not this warning
    lines[900] = "0.9,,2.0"
    p = tmp_path / "two.csv"
    p.write_text("time,calf,shin\n" + "\n".join(lines) + "\n")
    r = CsvReader(p)
    got = np.concatenate([u for _, u in r.iter_records()], axis=1)
    assert got.shape == (2, 3000) and np.isnan(got[1, 100]) and np.isnan(got[0, 900])
    assert r.warnings == ["two.csv: line 102, column 'shin': missing where other channels have values; a sample "
                          "missing on one channel is a gap on every channel (so are such rows further on)"]


@pytest.mark.parametrize("t0, said", [(120.0, True), (0.0, False), (0.0005, False)])
def test_a_time_column_that_starts_later_says_where_times_count_from(tmp_path, t0, said):
    """An excerpt cut from 120 s on is reported in seconds from its first row, as every format
    is; that was nowhere said, so its events read 120 s early against its own time column."""
    p = tmp_path / "excerpt.csv"
    p.write_text("time_s,calf_uV\n" + rows(3000, t0=t0))
    warnings = analyze_file(p)["quality"]["warnings"]
    note = [w for w in warnings if "count from its first row" in w]
    assert len(note) == int(said), warnings
    if said:
        assert note[0] == ("excerpt.csv: times count from its first row, where the time column "
                           "('time_s') reads 120 s (add 120 to read them on that column)")


def test_stamps_rounded_to_the_millisecond_give_the_true_rate(tmp_path):
    """2 kHz written with its time to the millisecond (a spreadsheet's 3 decimals): the mean
    interval over the first 2000 rows rests on two stamps each off by up to half a step, and read
    1999 Hz; the recording then lasted 600.3 s instead of 600 and its twitches came 0.28 s late
    by its end (1.8 s an hour)."""
    n, fs = 2_000 * 120, 2000.0
    t = np.arange(n) / fs
    x = np.random.default_rng(0).normal(0, 10, n)
    p = tmp_path / "ms.csv"
    p.write_text("time_s,calf_uV\n" + "".join(f"{a:.3f},{b:.2f}\n" for a, b in zip(t, x)))
    reader = open_reader(p)
    assert reader.fs == fs
    assert any("jitter" in w and "2000 Hz" in w for w in reader.warnings)
    # exact stamps at 250 Hz, a jitter of +-0.4 ms at 1 kHz: the same rates as before
    for decimals, rate, jitter in ((3, 250.0, 0.0), (6, 1000.0, 0.0004)):
        q = tmp_path / f"{decimals}.csv"
        tt = np.arange(20_000) / rate + np.random.default_rng(1).uniform(-jitter, jitter, 20_000)
        q.write_text("time_s,calf_uV\n" + "".join(f"{a:.{decimals}f},1.0\n" for a in tt))
        assert open_reader(q).fs == rate


def test_a_pandas_row_index_before_the_time_is_named_as_such(tmp_path):
    """`df.to_csv(path)` writes the row index first, unnamed (',time_s,emg_uV'): it was read as
    the time, "sample rate 1 Hz (from the time column '')", which named no cause or remedy."""
    p = tmp_path / "pandas.csv"
    p.write_text(",time_s,emg_uV\n" + "".join(f"{i},{i / 1000:.3f},1.0\n" for i in range(3000)))
    with pytest.raises(FormatError, match=r"pandas.csv: the first column has no name and counts the rows .*: a row index .*index=False"):
        analyze_file(p)
