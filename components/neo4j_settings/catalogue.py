"""The Operations Manual's neo4j.conf settings of each version line, read lazily from the data files here.

`<line>.json` (vendored unchanged from the workplace's shared/neo4j-settings/, README.md beside it says how
they were made): every setting name of the line, with its Enterprise label, and the placeholder families
(`dbms.ssl.policy.<scope>.*`, …). `valid-values/<line>.json` (extract.py says how): the manual's "Valid
values" text of each setting. The tests read the same files (tests/support/neo4j_settings.py): one copy.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE_DIR = Path(__file__).resolve().parent
LINES = ("4.4", "5", "2025")


@dataclass(frozen=True)
class Setting:
    name: str  # the catalogue's name: a setting, or a family with a placeholder (`dbms.ssl.policy.<scope>.enabled`)
    enterprise: bool | None  # the manual labels it Enterprise Edition (None: 4.4 leaves most unlabelled)
    deprecated: bool
    valid_values: str | None  # the manual's "Valid values" text; None when the page gives none
    since: str | None = None  # the release that introduced it, where the manual labels it ("2026.04", "5.26.4")


@cache
def setting_list(line: str) -> dict:
    """`<line>.json` as stored."""
    return json.loads((CATALOGUE_DIR / f"{line}.json").read_text())


@cache
def _valid_values(line: str) -> dict[str, str]:
    return json.loads((CATALOGUE_DIR / "valid-values" / f"{line}.json").read_text())["valid_values"]


@cache
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A placeholder stands for one dot-free segment; `<scope>` for a lowercase word (the README's rule)."""
    parts = re.split(r"(<[^>]+>)", pattern)
    regex = "".join(
        (r"[a-z]+" if part == "<scope>" else r"[^.]+") if part.startswith("<") else re.escape(part)
        for part in parts)
    return re.compile(f"^{regex}$")


def lookup(line: str, key: str) -> Setting | None:
    """The setting `key` names on the line (an exact name, or a member of a placeholder family), else None."""
    data = setting_list(line)
    if key in data["settings"]:
        meta, name = data["settings"][key], key
    else:
        name = next((p for p in data["patterns"] if pattern_regex(p).match(key)), None)
        if name is None:
            return None
        meta = data.get("pattern_settings", {}).get(name, {})
    return Setting(name, meta.get("enterprise"), bool(meta.get("deprecated")), _valid_values(line).get(name),
                   meta.get("since"))


def release(text: str) -> tuple[int, ...]:
    """"2026.01.3" → (2026, 1, 3), comparable with a stack's version ("5.26" ≤ "5.26.4")."""
    return tuple(int(part) for part in text.split("."))


def names(line: str) -> tuple[str, ...]:
    """Every name of the line's catalogue (settings and placeholder families), for did-you-mean."""
    data = setting_list(line)
    return tuple(data["settings"]) + tuple(data["patterns"])
