"""Two channels of one label (an EDF with two 'EMG calf'): `--channels` by that label is refused
in one line saying how to choose one; every output names them apart ('EMG calf #2'), and the
history keeps them apart (it had added them up as one channel, with its hours counted twice)."""

import csv
import datetime as dt
import json

import numpy as np
import pytest

from myotwitch.host.cli import main
from myotwitch.host.edf import EdfWriter

LABELS = ["EMG calf", "EMG soleus", "EMG calf"]


def edf(path, seconds=90, fs=1000):
    """An EDF whose first and third signals are both labelled 'EMG calf', as other programs
    write them (our writer makes a device's labels unique: the third is relabelled in place)."""
    rng = np.random.default_rng(5)
    w = EdfWriter(path, fs=fs, labels=[LABELS[0], LABELS[1], "EMG calf 3"], uv_per_count=0.125,
                  start=(dt.datetime.now() - dt.timedelta(days=1)).replace(microsecond=0))
    for _ in range(seconds):
        w.write(rng.normal(0, 5, (len(LABELS), fs)))
    w.close()
    raw = bytearray(path.read_bytes())
    at = raw.index(b"EMG calf 3", 256)  # (the labels' field follows the 256-byte header)
    raw[at:at + 10] = b"EMG calf  "
    path.write_bytes(bytes(raw))
    return path


def test_distinct_labels():
    from myotwitch.host.channels import distinct_labels

    assert distinct_labels(["a", "b", "A", "a"]) == ["a", "b", "A #2", "a #3"]
    # (a name the file already uses is not given again)
    assert distinct_labels(["x", "x #2", "x"]) == ["x", "x #2", "x #3"]
    assert distinct_labels(["a", "b"]) == ["a", "b"]
    assert distinct_labels(["soleus-medial-16", "SOLEUS-MEDIAL-16"], max_len=16) == ["soleus-medial-16", "SOLEUS-MEDIAL #2"]


def test_a_devices_labels_in_its_files_are_named_apart_as_analysis_names_them(tmp_path):
    """A device that sends one label twice: its files keep the muscle's name for both channels
    ('calf', 'calf #2'; the second had become 'ch2'), within EDF's 16 characters, and another
    EDF reader reads the same names; empty and reserved labels still get ``chN``."""
    import pyedflib

    from myotwitch.host.stream import safe_labels

    sent = ["calf", "Calf", "", "EDF Annotations", "gastrocnemius-lat", "gastrocnemius-lat"]
    names = ["calf", "Calf #2", "ch3", "ch4", "gastrocnemius-la", "gastrocnemius #2"]
    assert safe_labels(sent) == tuple(names)
    path = tmp_path / "d.edf"
    w = EdfWriter(path, fs=500, labels=sent, uv_per_count=0.125, start=dt.datetime(2026, 12, 1, 22, 0))
    w.write(np.zeros((len(sent), 500)))
    w.close()
    with pyedflib.EdfReader(str(path)) as f:
        assert f.getSignalLabels() == names


def test_a_shared_label_chooses_no_channel_and_says_how_to_choose_one(tmp_path, capsys):
    f = edf(tmp_path / "two calves.edf")
    assert main(["analyze", str(f), "--channels", "EMG calf", "--no-index", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "two calves.edf" in err and "'EMG calf'" in err and "--channels 0 or --channels 2" in err
    assert "'EMG calf #2'" in err


@pytest.mark.parametrize("choice", ["EMG calf #2", "2"])
def test_the_second_is_chosen_by_its_index_or_its_name(tmp_path, choice):
    f = edf(tmp_path / "rec.edf", seconds=5)
    out = tmp_path / "r.json"
    assert main(["analyze", str(f), "--channels", choice, "--no-index", "--no-progress", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["channels"] == ["EMG calf #2"]


def test_every_output_and_the_history_keep_the_two_apart(tmp_path):
    f = edf(tmp_path / "rec.edf")
    out, events = tmp_path / "r.json", tmp_path / "events.csv"
    assert main(["analyze", str(f), "--no-progress", "--json", str(out), "--csv", str(events)]) == 0
    s = json.loads(out.read_text())
    assert s["channels"] == ["EMG calf", "EMG soleus", "EMG calf #2"]
    with open(events, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["channel_label"] == s["channels"][int(r["channel"])] for r in rows)
    from myotwitch.host.advice import load_rules
    from myotwitch.host.history import build_history
    from myotwitch.host.index import SessionIndex

    with SessionIndex.default() as idx:
        sessions = idx.sessions()
    assert [r["channels"] for r in sessions] == [s["channels"]]
    h = build_history(sessions, [], load_rules(), days=28)
    hours = s["stats"]["searched_s"] / 3600  # (the hours its rates are over)
    assert set(h["channels"]) == {"EMG calf", "EMG soleus", "EMG calf #2"}
    assert h["channels"]["EMG calf"]["hours"] == pytest.approx(hours)  # (not twice the file's)
