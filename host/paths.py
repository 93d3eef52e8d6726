"""Where shipped data lives: the ``myotwitch.data`` package (data/ in a checkout)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_dir() -> Path:
    """The folder holding advice/, examples/ and protocol/. Installed wheels and editable
    installs both keep it on disk, so a real path (not only a Traversable) can be returned."""
    return Path(str(resources.files("myotwitch.data")))
