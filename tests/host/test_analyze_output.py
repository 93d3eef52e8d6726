"""What `analyze` prints for a person at a terminal."""

import numpy as np
import pytest


def write(path, n=3000, fs=1000.0):
    x = np.random.default_rng(1).normal(0, 5, n)
    np.savetxt(path, np.column_stack([np.arange(n) / fs, x]), delimiter=",", header="time_s,calf_uV", comments="")
    return path


def test_the_session_list_and_the_advice_are_apart(tmp_path, capsys):
    """`analyze a b` printed the advice's first line straight under the session list."""
    from myotwitch.host.cli import main

    a, b = write(tmp_path / "a.csv"), write(tmp_path / "b.csv")
    assert main(["analyze", str(a), str(b), "--no-index", "-j", "1"]) == 0
    out = capsys.readouterr().out
    listing = out[out.index("sessions (oldest first):"):]
    last_row = listing.splitlines()[2]
    assert last_row.rstrip().endswith("b.csv")
    assert listing.splitlines()[3] == ""


def test_analyze_help_teaches_the_csv_layout(capsys):
    """`analyze --help` said "EDF/EDF+/BDF or CSV" and nothing of what a CSV must look like."""
    from myotwitch.host.cli import main

    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = capsys.readouterr().out
    for words in ("time_ms", "calf_uV", "--units", "decimal commas", "NA", "--channels", "examples:"):
        assert words in out, words
