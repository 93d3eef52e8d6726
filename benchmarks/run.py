"""Run every benchmark and update benchmarks/RESULTS.md: python benchmarks/run.py [--quick]

--quick shortens the accuracy suite (2 min per case, 1 h of quiet rest, no baselines)."""

from __future__ import annotations

import argparse
import subprocess
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    accuracy = ["--minutes", "2", "--quiet-hours", "1", "--no-baselines"] if args.quick else []
    for name, extra in (("speed", []), ("link", []), ("frame_loss", []), ("analyze_speed", []), ("gui_fps", []), ("lsl", []),
                        ("accuracy", accuracy), ("heldout", ["--write"]), ("real_recordings", ["--write"]), ("fuzz", ["--minutes", "2"]),
                        ("units", ["--quick"] if args.quick else [])):
        print(f"\n=== {name} ===", flush=True)
        r = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra])
        if r.returncode:
            print(f"{name} failed ({r.returncode})", file=sys.stderr)


if __name__ == "__main__":
    main()
