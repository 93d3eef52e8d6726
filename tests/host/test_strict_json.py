"""--json is strict JSON: figures that cannot be computed are null with a warning (#16 item 8);
undated recordings are not dated at analysis time (#18 item 4)."""

import json
import subprocess
import sys

import numpy as np

from myotwitch.host.analysis import analyze_file
from myotwitch.host.csvio import write_csv
from myotwitch.host.edf import EdfWriter
from myotwitch.host.strict import strict


def _reject_constants(name):
    raise ValueError(f"bare {name} in JSON")


def test_all_nan_channel_gives_null_and_a_warning_in_json(tmp_path):
    p = tmp_path / "nan.csv"
    x = np.random.default_rng(0).normal(0, 10, (2, 5000))
    x[1] = np.nan
    write_csv(p, x, 1000.0, ["gastroc", "dead"])
    out = tmp_path / "o.json"
    r = subprocess.run([sys.executable, "-m", "myotwitch.host.cli", "analyze", str(p), "--json", str(out),
                        "--no-index", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text(), parse_constant=_reject_constants)
    assert data["quality"]["noise_floor_uv_rms"][1] is None
    # (every row misses the dead channel, so every row is a gap: its note says no usable data, and
    # the floors it could not measure are not named again)
    assert data["stats"]["twitches_per_hour"] is None
    assert not any("not computable" in w for w in data["quality"]["warnings"])


def test_a_non_finite_figure_of_a_searched_file_is_null_and_named():
    from myotwitch.host.analysis import strict_summary

    s = strict_summary({"file": "/x/a.edf", "stats": {"twitches_per_hour": 12.0},
                        "quality": {"noise_floor_uv_rms": [3.1, float("nan")], "warnings": []}})
    assert s["quality"]["noise_floor_uv_rms"] == [3.1, None]
    assert s["quality"]["warnings"] == ["a.edf: not computable (no finite data), left empty: "
                                        "quality.noise_floor_uv_rms[1]"]


def test_infinite_physical_range_gives_strict_json(tmp_path):
    p = tmp_path / "inf.edf"
    with EdfWriter(p, fs=1000, labels=["calf"], uv_per_count=0.125) as w:
        w.write(np.random.default_rng(1).normal(0, 10, (1, 5000)))
    data = bytearray(p.read_bytes())
    data[256 + 16 + 80 + 8: 256 + 16 + 80 + 8 + 8] = b"-inf    "  # physical minimum of the EMG signal
    p.write_bytes(bytes(data))
    try:
        res = analyze_file(p)
    except Exception as e:  # noqa: BLE001 - refusing the file in one line is fine too
        assert "\n" not in str(e) and type(e).__name__ == "FormatError"
        return
    json.loads(json.dumps(res, default=str), parse_constant=_reject_constants)


def test_strict_replaces_every_non_finite_value_and_says_where():
    clean, where = strict({"a": [1.0, float("nan")], "b": {"c": np.float64("inf")}, "d": "x"})
    assert clean == {"a": [1.0, None], "b": {"c": None}, "d": "x"}
    assert where == ["a[1]", "b.c"]


def test_csv_without_clock_time_is_undated(tmp_path):
    p = tmp_path / "rel.csv"
    write_csv(p, np.random.default_rng(2).normal(0, 10, (1, 3000)), 1000.0, ["calf"])
    res = analyze_file(p)
    assert res["start"] is None and res["dated"] is False


def test_csv_with_unix_time_column_uses_the_files_own_time(tmp_path):
    p = tmp_path / "abs.csv"
    t0 = 1_764_000_000.0  # 2025-11-24
    x = np.random.default_rng(3).normal(0, 10, 3000)
    rows = "\n".join(f"{t0 + i / 1000:.3f},{v:.3f}" for i, v in enumerate(x))
    p.write_text("time_s,calf_uV\n" + rows + "\n")
    res = analyze_file(p)
    assert res["dated"] is True and res["start"].startswith("2025-11-2")


def test_edf_is_dated_by_its_header(tmp_path):
    import datetime as dt

    p = tmp_path / "d.edf"
    with EdfWriter(p, fs=1000, labels=["calf"], uv_per_count=0.125, start=dt.datetime(2026, 1, 2, 3, 4, 5)) as w:
        w.write(np.random.default_rng(4).normal(0, 10, (1, 3000)))
    res = analyze_file(p)
    assert res["dated"] is True and res["start"] == "2026-01-02T03:04:05"


def test_a_file_too_short_to_search_says_so_once(tmp_path):
    """Three samples: the note says there is no usable data; the floors it could not measure had
    also been named by their JSON paths ("quality.noise_floor_uv_rms[0]"), and its two extremes,
    two samples of three, had read as a channel "saturated 67 % of the time"."""
    p = tmp_path / "tiny.csv"
    write_csv(p, np.array([[1.0, 2.0, 3.0]]), 1000.0, ["calf"])
    s = analyze_file(str(p))
    assert s["stats"]["twitches_per_hour"] is None
    assert s["quality"]["noise_floor_uv_rms"] == [None]  # (still null in the JSON)
    assert not any("quality." in w or "saturated" in w for w in s["quality"]["warnings"]), s["quality"]["warnings"]
    long = tmp_path / "rail.csv"  # a long channel at its rails is still called saturated
    x = np.where(np.random.default_rng(2).random(5000) < 0.5, -100.0, 100.0)
    x[::7] = 0.0
    write_csv(long, x[None, :], 1000.0, ["calf"])
    assert any("saturated" in w for w in analyze_file(str(long))["quality"]["warnings"])
