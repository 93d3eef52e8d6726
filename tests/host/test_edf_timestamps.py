"""EDF+ time stamps are checked against the header, not trusted (#16 item 5), and what went
wrong while reading reaches quality.warnings (#18 item 5)."""

import datetime as dt
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myotwitch.host.analysis import analyze_file
from myotwitch.host.edf import EdfReader, EdfWriter, read_header
from myotwitch.host.errors import FormatError

HEADER = 256 * 3  # one EMG signal and the annotation signal
RECORD = 1000 * 2 + 512


def make(path, seconds=20, annotations=()):
    rng = np.random.default_rng(1)
    with EdfWriter(path, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 11, 1, 22)) as w:
        w.write(np.rint(rng.normal(0, 10, (1, seconds * 1000)) / 0.125) * 0.125)
        for a in annotations:
            w.annotate(*a)
    return path


def set_onset(path, record, new, plus=None):
    data = bytearray(path.read_bytes())
    at = HEADER + record * RECORD + 2000
    old = f"+{record}".encode()
    assert data[at: at + len(old)] == old
    tail = bytes(data[at + len(old): at + 500])
    data[at: at + 500] = (new + tail)[:500]
    if plus:
        data[192:197] = plus
    path.write_bytes(bytes(data))


def test_continuous_file_with_a_wild_last_time_stamp_is_read_as_what_it_holds(tmp_path):
    p = make(tmp_path / "a.edf")
    set_onset(p, 19, b"+100000")
    tracemalloc.start()
    try:
        res = analyze_file(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res["stats"]["duration_s"] == pytest.approx(20.0)
    assert peak < 200e6
    assert any("record 20 is time-stamped +100000" in w for w in res["quality"]["warnings"])


def test_two_flipped_bits_in_a_time_stamp_do_not_stretch_the_file(tmp_path):
    p = make(tmp_path / "b.edf")
    set_onset(p, 10, b"+18")
    r = EdfReader(p)
    assert r.duration_s == pytest.approx(20.0)
    assert any("record 11" in w for w in r.edf.warnings)


def test_discontinuous_file_with_a_huge_hole_is_refused_in_one_line(tmp_path):
    p = make(tmp_path / "c.edf")
    set_onset(p, 19, b"+1000000", plus=b"EDF+D")
    with pytest.raises(FormatError, match="hole of .* before record 20") as e:
        read_header(p)
    assert "\n" not in str(e.value)


def test_discontinuous_file_with_a_long_hole_costs_no_memory(tmp_path):
    p = make(tmp_path / "d.edf")
    set_onset(p, 19, b"+100000", plus=b"EDF+D")
    tracemalloc.start()
    try:
        res = analyze_file(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6
    assert res["stats"]["valid_s"] == pytest.approx(20.0)
    assert res["quality"]["gaps"] == 1


def test_out_of_order_time_stamps_are_one_clear_error(tmp_path):
    p = make(tmp_path / "e.edf")
    set_onset(p, 5, b"+2", plus=b"EDF+D")
    with pytest.raises(FormatError, match="record 6 starts at \\+2 s, before the end of record 5"):
        analyze_file(p)


@pytest.mark.parametrize("duration", [float("inf"), float("nan"), -3.0])
def test_gap_annotation_with_an_impossible_duration_is_ignored_and_said(tmp_path, duration):
    p = make(tmp_path / "f.edf", annotations=[(2.0, duration, "gap")])
    res = analyze_file(p)
    assert res["stats"]["valid_s"] == pytest.approx(20.0)
    assert any(": 1 annotation with an unreadable, infinite or negative time" in w for w in res["quality"]["warnings"])


@pytest.mark.parametrize("value", [b"0       ", b"nan     ", b"-1      "])
def test_record_length_zero_is_one_clear_error(tmp_path, value):
    p = make(tmp_path / "g.edf")
    data = bytearray(p.read_bytes())
    data[244:252] = value
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="data record duration") as e:
        analyze_file(p)
    assert "\n" not in str(e.value)


def test_truncated_file_says_so_in_quality_warnings(tmp_path):
    p = make(tmp_path / "h.edf")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - RECORD * 3 - 700])
    res = analyze_file(p)
    assert res["stats"]["duration_s"] == pytest.approx(16.0)
    warnings = res["quality"]["warnings"]
    assert any("header promises 20 data records, file holds 16" in w for w in warnings)


def set_record_tals(path, record, tals):
    """Replace record ``record``'s whole annotation signal with ``tals`` (NUL-padded)."""
    data = bytearray(path.read_bytes())
    at = HEADER + record * RECORD + 2000
    data[at: at + 512] = tals.ljust(512, b"\x00")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("tals", [
    b"+3\x14\x14\x00",                          # plain time keeping, as the recorder writes
    b"+3\x14\x14\x00+3.5\x14note\x14\x00",      # a second TAL with text
    b"+3\x14note on the clock\x14\x00",         # text on the time-keeping TAL itself
    b"+3\x151\x14\x14\x00",                     # a duration on it
    b"+x\x14\x14\x00",                          # unreadable
    b"+inf\x14\x14\x00",                        # not finite
    b"\x14\x14\x00",                            # no onset at all
    b"\x00+3\x14\x14\x00",                      # starts with a NUL
    b"\xa0+3\x14\x14\x00",                      # a Latin-1 no-break space (float() strips it from text)
])
def test_records_read_at_once_read_as_tal_by_tal(tmp_path, monkeypatch, tals):
    """Records holding only their time stamp are read in one pass over the file; every record
    must come out as the TAL-by-TAL parser reads it, whichever way it is written."""
    import myotwitch.host.edf as edf
    p = make(tmp_path / "i.edf", annotations=[(7.25, 0.5, "marker")])
    set_record_tals(p, 3, tals)
    fast = read_header(p)
    at_once = edf._timekeeping_only
    monkeypatch.setattr(edf, "_timekeeping_only", lambda mm, spans: at_once(mm, spans, chunk=3))
    fast_in_chunks = read_header(p)
    monkeypatch.setattr(edf, "_timekeeping_only", lambda mm, spans: {})
    slow = read_header(p)
    for got in (fast, fast_in_chunks):
        np.testing.assert_array_equal(got.record_onsets, slow.record_onsets)
        assert got.annotations == slow.annotations
        assert got.warnings == slow.warnings
    assert any(a.text == "marker" for a in fast.annotations)


_NUMBER = st.lists(st.sampled_from([b"+", b"-", b"0", b"1", b"3", b".", b"e", b"x", b"inf", b"nan", b" ", b"\xa0", b"_"]),
                   max_size=6).map(b"".join)
#: one TAL: onset, perhaps a duration, then texts, each closed by 0x14, the TAL by a NUL
_TAL = st.tuples(_NUMBER, st.one_of(st.just(b""), _NUMBER.map(lambda d: b"\x15" + d)),
                 st.lists(st.sampled_from([b"", b"note", b"gap"]), max_size=2)).map(
    lambda t: t[0] + t[1] + b"\x14" + b"".join(x + b"\x14" for x in t[2]) + (b"" if t[2] else b"\x14") + b"\x00")
_NOISE = st.lists(st.sampled_from([b"+", b"1", b".", b"\x14", b"\x15", b"\x00", b"x"]), max_size=12).map(b"".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tals=st.lists(st.one_of(_TAL, _NOISE), min_size=0, max_size=3).map(b"".join), record=st.integers(0, 19))
def test_any_annotation_bytes_read_at_once_as_tal_by_tal(tmp_path, monkeypatch, tals, record):
    """Whatever bytes a record's annotation signal holds (well-formed TALs with odd numbers,
    durations and texts, or garbage), the bulk reader and the TAL-by-TAL parser agree on the
    record onsets, the annotations and the warnings."""
    import myotwitch.host.edf as edf
    p = tmp_path / "j.edf"
    if not p.exists():
        make(p)
    base = p.read_bytes()
    try:
        set_record_tals(p, record, tals[:512])
        got = []
        for bulk in (True, False):
            if not bulk:
                monkeypatch.setattr(edf, "_timekeeping_only", lambda mm, spans: {})
            try:
                h = read_header(p)
                got.append((h.record_onsets.tobytes(), h.annotations, h.warnings))
            except FormatError as e:
                got.append(("error", str(e)))
        monkeypatch.undo()
        assert got[0] == got[1]
    finally:
        p.write_bytes(base)


def test_an_unreadable_start_date_makes_an_undated_session_the_history_lists(tmp_path, caplog):
    """It was dated 1985-01-01, which no `history --days` reaches, and so it was not listed among
    the undated sessions either: the session was in the index but could not be seen."""
    from myotwitch.host.index import SessionIndex

    p = make(tmp_path / "d.edf")
    with open(p, "r+b") as fh:
        fh.seek(168)
        fh.write(b"99.99.99")
    assert read_header(p).start is None
    res = analyze_file(p)
    assert res["dated"] is False and "unreadable" in caplog.text
    assert "'99.99.99 22.00.00'" in caplog.text  # (date and time as two fields, not run together)
    idx = SessionIndex.default()
    idx.add_summary(res)
    assert [s["file"] for s in idx.sessions(include_undated=True)] == [res["file"]]
    assert idx.sessions() == []  # not among the dated ones, at 1985 or any other date


@pytest.mark.parametrize("plus, stamp", [(None, b"+99999999999"), (None, b"+1.5"), (None, b"-2")])
def test_a_first_record_stamped_beyond_reason_starts_at_the_header(tmp_path, plus, stamp, caplog):
    """The start is the header's plus the first record's stamp: one of 10^11 s dated the file in
    the year 5193 (never in the history), and 10^12 s was an OverflowError."""
    p = make(tmp_path / "w.edf", annotations=[(5.0, 0.01, "note")])
    set_onset(p, 0, stamp, plus)
    h = read_header(p)
    assert h.data_start == dt.datetime(2026, 11, 1, 22) and h.first_record_s == 0.0
    assert "the first record is time-stamped" in caplog.text and "header's time" in caplog.text
    res = analyze_file(p)
    assert res["start"].startswith("2026-11-01T22:00:00") and res["stats"]["duration_s"] == pytest.approx(20.0)


def test_an_edf_plus_export_without_a_date_is_undated_not_1985(tmp_path):
    """MNE (and edfio) export a recording without a measurement date as EDF+ "Startdate X" with
    01.01.85 in the header; read as a date, the session lay in 1985, where no history reaches,
    and stretched the report's trend axis over four decades."""
    from myotwitch.host.index import SessionIndex

    p = make(tmp_path / "x.edf")
    with open(p, "r+b") as fh:
        fh.seek(88)
        fh.write(b"Startdate X X X X".ljust(80))
        fh.write(b"01.01.8500.00.00")
    assert read_header(p).start is None
    res = analyze_file(p)
    assert res["dated"] is False and res["start"] is None
    idx = SessionIndex.default()
    idx.add_summary(res)
    assert [s["file"] for s in idx.sessions(include_undated=True)] == [res["file"]]
    # a file that names its date keeps 01.01.85 (a real, if old, recording)
    with open(p, "r+b") as fh:
        fh.seek(88)
        fh.write(b"Startdate 01-JAN-1985 X X X".ljust(80))
    assert read_header(p).start == dt.datetime(1985, 1, 1)
