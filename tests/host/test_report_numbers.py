"""The analysis report's plots show the numbers the summary states: a CSV read with --units is
drawn in those units."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from myotwitch.host import report  # noqa: E402
from myotwitch.host.cli import main  # noqa: E402


def test_the_report_draws_a_csv_in_the_units_it_was_analysed_in(tmp_path, monkeypatch):
    """`analyze x.csv --units mV --report r.html` counted in µV but drew the file again as µV:
    traces and twitch snippets a thousand times too small."""
    rng = np.random.default_rng(0)
    n = 5000
    x = rng.normal(0, 0.005, n)  # mV: 5 µV RMS
    x[2000:2010] += 0.3 * np.sin(np.linspace(0, 2 * np.pi, 10))  # a 600 µV twitch
    p = tmp_path / "mv.csv"
    np.savetxt(p, np.column_stack([np.arange(n) / 1000, x]), delimiter=",", header="time_s,calf", comments="")
    seen = []
    original = report._signal_views

    def spy(r, *a, **kw):
        out = original(r, *a, **kw)
        seen.append(out)
        return out

    monkeypatch.setattr(report, "_signal_views", spy)
    monkeypatch.setenv("MYOTWITCH_HOME", str(tmp_path / "home"))
    assert main(["analyze", str(p), "--units", "mV", "--no-index", "--report", str(tmp_path / "r.html")]) == 0
    fs, edges, lo, hi, snippets, _ = seen[0]
    assert np.nanmax(hi) > 100  # µV, as analysed (in mV it peaked at 0.3)
