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
