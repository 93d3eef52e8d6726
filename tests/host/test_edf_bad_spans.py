"""Stretches another tool marks bad (MNE's 'BAD_' annotations: a movement, a loose lead) are
left out of the analysis like lost data, and said; ``--keep-bad`` analyses them."""

import json

import numpy as np
import pytest

from myotwitch.dsp.synth import case_spec, synthesize
from myotwitch.host.analysis import analyze_file
from myotwitch.host.cli import main

mne = pytest.importorskip("mne")
pytest.importorskip("edfio")  # (MNE's EDF export)


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """60 s of twitching calf at 1 kHz exported by MNE, 20-35 s annotated BAD_muscle."""
    x, truth = synthesize(case_spec("clean_rest", 1000.0, 60.0, seed=3).with_(twitch_rate=60.0))
    info = mne.create_info(["gastroc"], 1000.0, ["emg"])
    raw = mne.io.RawArray(x.astype(np.float64) * 1e-6, info, verbose="error")  # (MNE holds volts)
    raw.set_annotations(mne.Annotations([20.0, 50.0], [15.0, 0.0], ["BAD_muscle", "note"]))
    path = tmp_path_factory.mktemp("bad") / "marked.edf"
    mne.export.export_raw(str(path), raw, fmt="edf", verbose="error")
    return path, truth


def test_a_stretch_marked_bad_is_left_out_and_said(marked):
    path, truth = marked
    kept = analyze_file(path)
    everything = analyze_file(path, keep_bad=True)
    inside = [e for e in everything["events"] if e["kind"] == "twitch" and 20.0 <= e["onset_s"] < 35.0]
    assert len(inside) >= 5  # (the stretch held twitches)
    assert not [e for e in kept["events"] if 20.0 <= e["onset_s"] < 35.0]

    def twitches_outside(r):
        return [e["onset_sample"] for e in r["events"] if e["kind"] == "twitch" and not 19.0 <= e["onset_s"] < 36.0]

    assert twitches_outside(kept) == twitches_outside(everything)
    # the hours the rate is over leave the stretch out, as they do lost data
    assert kept["stats"]["valid_s"] == pytest.approx(everything["stats"]["valid_s"] - 15.0, abs=0.6)
    said = [w for w in kept["quality"]["warnings"] if "marks bad" in w]
    assert said == ["marked.edf: left out 1 stretch (15.0 s) the file marks bad ('BAD_muscle'), as lost data; "
                    "--keep-bad analyses them"]
    assert not [w for w in everything["quality"]["warnings"] if "marks bad" in w]


def test_keep_bad_on_the_command_line(marked, tmp_path, caplog):
    path, _ = marked
    out = tmp_path / "r.json"
    assert main(["analyze", str(path), "--no-index", "--keep-bad", "--json", str(out), "--no-progress"]) == 0
    with_bad = json.loads(out.read_text())
    assert main(["analyze", str(path), "--no-index", "--json", str(out), "--no-progress"]) == 0
    without = json.loads(out.read_text())
    assert with_bad["stats"]["counts"]["twitch"] > without["stats"]["counts"]["twitch"]
    assert "marks bad" in caplog.text


@pytest.mark.parametrize("keep", [False, True])
def test_the_report_draws_a_bad_stretch_as_it_was_analysed(marked, tmp_path, report_views, keep):
    """The report reads the file again for its plots: with --keep-bad it had left the stretch
    blank while listing the twitches found there."""
    pytest.importorskip("matplotlib")
    path, _ = marked
    args = ["analyze", str(path), "--no-index", "--no-progress", "--report", str(tmp_path / "r.html")]
    assert main(args + (["--keep-bad"] if keep else [])) == 0
    fs, edges, lo, hi, _, _ = report_views[0]
    t = edges[:-1] / fs
    inside = (t > 22) & (t < 33)
    assert np.isfinite(hi[0][inside]).all() == keep and np.isfinite(hi[0][t < 15]).all()
