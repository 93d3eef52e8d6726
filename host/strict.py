"""Strict JSON values: NaN and infinities become null, and the caller learns where.

Python's json module writes bare ``NaN``/``Infinity`` by default, which is not JSON and
which strict parsers reject; a figure that could not be computed is ``null`` instead."""

from __future__ import annotations

import math
from typing import Any


def strict(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """``value`` with every non-finite float replaced by None, and the dotted paths replaced."""
    replaced: list[str] = []
    return _clean(value, where, replaced), replaced


def _clean(value: Any, where: str, replaced: list[str]) -> Any:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        replaced.append(where or "value")
        return None
    if isinstance(value, dict):
        return {k: _clean(v, f"{where}.{k}" if where else str(k), replaced) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, f"{where}[{i}]", replaced) for i, v in enumerate(value)]
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _clean(value.item(), where, replaced)  # numpy scalars
    return value
