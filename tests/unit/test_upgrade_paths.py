"""The version guard (scripts/neo4j_ops/shared/upgrade_paths.py, issue 24 item 1): which version changes a running
cluster may take. Each rule is the Neo4j Upgrade and Migration Guide's (quoted in the module):
- "You can upgrade from any version in the 2025–2026 series to any subsequent version" (Upgrade to any Neo4j
  2025–2026 version);
- "You can also upgrade from Neo4j 5.26 LTS to any Neo4j 2025-2026 version." (same page);
- "Neo4j 5.26 LTS is a checkpoint version. This means that: All upgrades from earlier than 5.26 must first upgrade to
  Neo4j 5.26 LTS." (same page);
- "Migrating a Neo4j 4.4 LTS server to any Neo4j 2025-2026 version is possible by first upgrading to 5.26 LTS (see
  Migrate databases from 4.4 LTS)" (same page): a migration, not a rolling upgrade;
- no path goes to an earlier release."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.shared.upgrade_paths import (
    CALENDAR,
    DOWNGRADE,
    FROM_LTS,
    MIGRATION,
    MINOR,
    PATCH,
    SAME,
    UNKNOWN,
    VIA_LTS,
    guard,
    refusal,
    upgrade_path,
)


@pytest.mark.parametrize("running, target, kind", [
    ("5.26.30", "5.26.30", SAME),
    ("4.4.40", "4.4.46", PATCH),
    ("5.26.1", "5.26.30", PATCH),
    ("5.20.0", "5.26.30", MINOR),
    ("5.26.30", "2025.10.1", FROM_LTS),
    ("5.26.30", "2026.01.0", FROM_LTS),
    ("2025.01.0", "2025.10.1", CALENDAR),
    ("2025.10.1", "2026.02.0", CALENDAR),
])
def test_supported_paths_are_allowed_and_named(running, target, kind):
    path = upgrade_path(running, target)
    assert (path.kind, path.allowed) == (kind, True)


@pytest.mark.parametrize("running, target, kind, words", [
    ("5.26.30", "4.4.46", DOWNGRADE, "a downgrade is not supported"),
    ("2025.10.1", "5.26.30", DOWNGRADE, "a downgrade is not supported"),
    ("2025.10.1", "2025.09.0", DOWNGRADE, "restore a backup taken before the upgrade"),
    ("5.26.30", "5.26.2", DOWNGRADE, "keep neo4j:version 5.26.30"),
    ("4.4.46", "5.26.30", MIGRATION, "`make migrate FROM=<this 4.4 stack> TO=<a new 5.26 stack>` plans it"),
    ("4.4.46", "2025.10.1", MIGRATION, "Migrate databases from 4.4 LTS"),
    ("5.20.0", "2025.10.1", VIA_LTS, "must first upgrade to Neo4j 5.26 LTS"),
    ("3.5.35", "5.26.30", UNKNOWN, "not a release this tool knows"),
    ("5.26.30", "banana", UNKNOWN, "not a release this tool knows"),
])
def test_unsupported_changes_are_refused_saying_why(running, target, kind, words):
    path = upgrade_path(running, target)
    assert (path.kind, path.allowed) == (kind, False)
    assert words in path.detail


def test_from_lts_names_discovery_v2():
    assert "V2_ONLY" in upgrade_path("5.26.30", "2025.10.1").detail
    assert upgrade_path("5.26.30", "2025.10.1").changes_line
    assert not upgrade_path("5.26.1", "5.26.30").changes_line


def test_a_half_done_upgrade_may_go_on():
    # mid-upgrade some servers already run the target: each release the cluster runs is judged on its own
    assert refusal(guard(["5.26.30", "2025.10.1", "5.26.30"], "2025.10.1")) is None
    assert [p.kind for p in guard({"5.26.30", "2025.10.1"}, "2025.10.1")] == [SAME, FROM_LTS]


def test_refusal_is_one_line_naming_key_versions_and_path():
    line = refusal(guard(["5.26.30"], "4.4.46"), key="VERSION")
    assert line.startswith("VERSION 4.4.46: the cluster runs Neo4j 5.26.30; a downgrade is not supported")
    assert "\n" not in line
    assert refusal(guard(["5.26.30"], "2025.10.1")) is None
