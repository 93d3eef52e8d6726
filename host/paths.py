"""Where shipped data lives: data/ next to the packages in a checkout, share/myotwitch when installed."""

from __future__ import annotations

import sys
from pathlib import Path


def data_dir() -> Path:
    here = Path(__file__).resolve().parents[1] / "data"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "myotwitch"
