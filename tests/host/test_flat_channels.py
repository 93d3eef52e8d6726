"""A flat channel (electrode not connected) is named as the user knows it, and judged over
the whole file, not its first chunk."""

import numpy as np

from myotwitch.host import csvio
from myotwitch.host.analysis import analyze_file


def write(path, header, columns, fs=1000.0):
    n = columns[0].size
    t = np.arange(n) / fs
    np.savetxt(path, np.column_stack([t, *columns]), delimiter=",", header=header, comments="", fmt="%.6g")
    return path


def test_a_flat_column_is_named_by_its_label(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 5, (2, 3000))
    p = write(tmp_path / "z.csv", "time_s,gastroc_uV,soleus_uV,unused_uV", [x[0], x[1], np.zeros(3000)])
    res = analyze_file(p)
    assert any("channel 'unused' is all zeros" in w for w in res["quality"]["warnings"]), res["quality"]["warnings"]
    assert not any("channel 2 " in w for w in res["quality"]["warnings"])


def test_a_channel_connected_later_is_not_all_zeros(tmp_path, monkeypatch):
    monkeypatch.setattr(csvio, "CHUNK_ROWS", 1000)  # (the first chunk holds only the unconnected start)
    rng = np.random.default_rng(1)
    late = rng.normal(0, 5, 4000)
    late[:1500] = 0.0
    p = write(tmp_path / "l.csv", "time_s,calf_uV,soleus_uV", [rng.normal(0, 5, 4000), late])
    assert not any("all zeros" in w for w in analyze_file(p)["quality"]["warnings"])


def test_a_constant_channel_is_named_by_its_label(tmp_path, monkeypatch):
    monkeypatch.setattr(csvio, "CHUNK_ROWS", 1000)
    rng = np.random.default_rng(2)
    p = write(tmp_path / "c.csv", "time_s,calf_uV,soleus_uV", [rng.normal(0, 5, 4000), np.full(4000, 12.5)])
    assert any("channel 'soleus' is constant at 12.5" in w for w in analyze_file(p)["quality"]["warnings"])
