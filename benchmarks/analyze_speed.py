"""`myotwitch analyze` end to end: 24 h of 1 kHz single-channel EDF (read + detect + JSON),
x real time and peak RSS, and the batch speed-up on 2 cores.
Run: python benchmarks/analyze_speed.py"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import machine, write_section
from myotwitch.dsp.synth import case_spec, synthesize
from myotwitch.host.edf import EdfWriter

CHILD = r"""
import json, resource, sys, time
from myotwitch.host.analysis import analyze_file
t = time.perf_counter()
r = analyze_file(sys.argv[1])
text = json.dumps(r, default=str)
dt = time.perf_counter() - t
print(dt, r["stats"]["duration_s"], r["stats"]["counts"]["twitch"], len(text),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_edf(path: str, hours: float, tile: np.ndarray) -> None:
    w = EdfWriter(path, fs=1000.0, labels=["calf"], uv_per_count=0.125)
    n = int(hours * 3600 * 1000)
    done = 0
    while done < n:
        k = min(tile.shape[1], n - done)
        w.write(tile[:, :k])
        done += k
    w.close()


def main() -> None:
    x, _ = synthesize(case_spec("mixed", 1000.0, 600.0, seed=4))
    x = np.nan_to_num(x)
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "day.edf")
        write_edf(big, 24, x)
        out = subprocess.run([sys.executable, "-c", CHILD, big], capture_output=True, text=True, check=True, env=env)
        secs, dur, n_tw, n_json, rss = (float(v) for v in out.stdout.split())
        files = []
        for i in range(4):
            p = os.path.join(tmp, f"night{i}.edf")
            write_edf(p, 4.0, x)
            files.append(p)
        times = {}
        for jobs in (1, 2):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "myotwitch.host.cli", "-q", "analyze", *files, "--jobs", str(jobs),
                            "--no-progress", "--no-index", "--json", os.path.join(tmp, f"j{jobs}.json")],
                           check=True, env=env, capture_output=True)
            times[jobs] = time.perf_counter() - t
            json.loads(open(os.path.join(tmp, f"j{jobs}.json")).read())
    body = (f"{machine()}.\n\n| measure | result | target |\n|---|---|---|\n"
            f"| analyze 24 h x 1 kHz x 1 ch EDF (read + detect + JSON, one core) | {secs:.1f} s = "
            f"**{dur / secs:,.0f}x real time** ({n_tw:.0f} twitches, {n_json / 1e6:.1f} MB JSON) | >= 5,000x |\n"
            f"| peak RSS for that file | **{rss:.0f} MB** | < 500 MB |\n"
            f"| batch of 4 x 4 h files, `--jobs 1` vs `--jobs 2` (whole command) | {times[1]:.1f} s vs {times[2]:.1f} s = "
            f"**{times[1] / times[2]:.2f}x speed-up** | |")
    print(body)
    write_section("Offline analysis", body)


if __name__ == "__main__":
    main()
