"""Byte sizes as Neo4j and humans write them (512m, 8g, 16GiB)."""
from __future__ import annotations

import re

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in "512m", "8g", "16GiB", "1.5g" (binary units, as neo4j.conf reads them)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def neo4j_size(size: int) -> str:
    """The shortest exact neo4j.conf form: 8g, 1536m, 300k."""
    for suffix, unit in (("g", 1024 ** 3), ("m", 1024 ** 2), ("k", 1024)):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)
