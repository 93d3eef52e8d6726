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
    assert any("not computable" in w for w in data["quality"]["warnings"])


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
