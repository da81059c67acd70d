"""The Operations Manual's setting lists (components/neo4j_settings/<line>.json, vendored from
../shared/neo4j-settings/) and their validity rule."""
from __future__ import annotations

from components.neo4j_settings.catalogue import CATALOGUE_DIR, pattern_regex, setting_list

# The one copy: the core reads it too (neo4j:extraConfig is checked against it).
SETTINGS_DIR = CATALOGUE_DIR
# Settings a conf may carry several times (the README of the setting lists says so).
REPEATABLE = {"server.jvm.additional", "dbms.jvm.additional"}
# Deprecated settings we set on purpose, and why.
DEPRECATED_ON_PURPOSE = {
    # 5.26 still defaults to discovery v1; V2_ONLY is how 5.x keeps its member list on upgrade to 2025.
    ("5", "dbms.cluster.discovery.version"),
}


__all__ = ["DEPRECATED_ON_PURPOSE", "REPEATABLE", "SETTINGS_DIR", "conf_entries", "known", "setting_list"]


def known(line: str, key: str) -> dict | None:
    """The setting's metadata when `key` is valid for the line, else None."""
    data = setting_list(line)
    if key in data["settings"]:
        return data["settings"][key]
    for pattern in data["patterns"]:
        if pattern_regex(pattern).match(key):
            return data.get("pattern_settings", {}).get(pattern, {"enterprise": False, "deprecated": False})
    return None


def conf_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {raw!r}"
        entries.append((key, value))
    return entries
