"""Prometheus durations ("15s", "1m", "1500ms"): read into milliseconds and written back."""
from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


def duration_ms(text: str) -> int:
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"not a Prometheus duration (e.g. 15s, 1m): {text!r}")
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


def format_ms(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
