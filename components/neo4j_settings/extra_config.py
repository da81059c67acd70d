"""neo4j:extraConfig and its per-role variants: any neo4j.conf setting of the stack's line, checked before render.

Each entry is refused, one line each naming the stack key and the setting, when:
- the line's catalogue (the Operations Manual's settings page, catalogue.py) has no such setting: with the
  closest names (difflib), and the line that has it when it is another line's name;
- the program sets it itself (owned.py, derived from the conf templates): with the stack key that controls it;
- the manual labels it as added in a release after the stack's neo4j:version (that server does not know it);
- it is labelled Enterprise Edition and the stack runs Community (a real Community server of each line does not
  know most of them, and strict validation, which our conf turns on, stops it; the few it knows have no effect);
- the value is not of the setting's type (values.py, from the manual's "Valid values" text): with what is.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from components.neo4j_settings import catalogue, owned
from components.neo4j_settings.values import value_type

LINE_NAMES = {"4.4": "4.4", "5": "5.x", "2025": "2025.x"}
_CONTROL = {chr(code) for code in range(32)} | {"\x7f"}


def conf_value(value: object) -> str | None:
    """The neo4j.conf text of a stack file value: text and numbers as written, booleans true/false, a list of
    them joined by commas (the manual's comma-separated lists). None: no value a conf line can hold."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float, str)):
        text = str(value)
        return None if _CONTROL & set(text) else text.strip()
    if isinstance(value, list) and value and all(not isinstance(v, (list, dict)) for v in value):
        parts = [conf_value(v) for v in value]
        return None if None in parts else ",".join(parts)  # type: ignore[arg-type]
    return None


MAP_ALLOWED = ("a map of neo4j.conf settings to values, such as {db.transaction.timeout: 30s} (values: text, "
               "numbers, true/false, or a list joined by commas; one line each)")


def parse_map(value: Any) -> tuple[tuple[str, str], ...]:
    """The stack file's map (or the engine's JSON text of it) as (setting, conf text) pairs, in the file's order."""
    if isinstance(value, str) and value.strip()[:1] == "{":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(MAP_ALLOWED) from None
    if value in (None, ""):
        return ()
    if not isinstance(value, dict):
        raise ValueError(MAP_ALLOWED)
    pairs = []
    for key, item in value.items():
        text = conf_value(item)
        if not isinstance(key, str) or text is None:
            raise ValueError(f"{MAP_ALLOWED}; {key!r} has {json.dumps(item, default=str)}")
        pairs.append((key.strip(), text))
    return tuple(pairs)


def _unknown(stack_key: str, key: str, line: str, version: str) -> str:
    close = difflib.get_close_matches(key, catalogue.names(line), n=2, cutoff=0.6)
    elsewhere = [LINE_NAMES[other] for other in catalogue.LINES if other != line and catalogue.lookup(other, key)]
    hint = f"; did you mean {' or '.join(close)}?" if close else "; see the Operations Manual's settings page"
    if elsewhere:
        hint = f" (it is a setting of Neo4j {' and '.join(elsewhere)})" + hint
    return f"{stack_key}: {key}: not a neo4j.conf setting of Neo4j {version}{hint}"


def problems(stack_key: str, entries: Iterable[tuple[str, str]], *, line: str, version: str,
             edition: str) -> list[str]:
    """One line per refused entry of `stack_key` (neo4j:extraConfig, neo4j:primaryExtraConfig, …)."""
    found = []
    for key, value in entries:
        setting = catalogue.lookup(line, key)
        if setting is None:
            found.append(_unknown(stack_key, key, line, version))
            continue
        who = owned.owner(line, key)
        if who is not None:
            instead = (f"change {who} instead" if who.startswith("neo4j:")
                       else f"it stays as {who} sets it")
            found.append(f"{stack_key}: {key}: set by the program for every server; {instead}")
            continue
        if setting.since and catalogue.release(setting.since) > catalogue.release(version):
            found.append(f"{stack_key}: {key}: added in Neo4j {setting.since}, newer than neo4j:version {version} "
                         f"(its server does not know it and refuses to start); allowed: a setting of {version}, or "
                         f"neo4j:version {setting.since} or later")
            continue
        if edition == "community" and setting.enterprise:
            found.append(f"{stack_key}: {key}: an Enterprise Edition setting, and neo4j:edition is community "
                         f"(Community refuses to start on most of them, and ignores the rest); allowed: Community "
                         f"settings, or neo4j:edition enterprise")
            continue
        kind = value_type(setting.valid_values)
        if not kind.accepts(value):
            found.append(f"{stack_key}: {key}: got {value!r}; allowed: {kind.allowed}")
    return found
