"""Which version changes a running cluster may take, and by which path: the version guard of `make rollout` and
`make upgrade` (issue 24, item 1). Pure: two release numbers in, an `UpgradePath` out.

The supported paths, from the Neo4j Upgrade and Migration Guide:
  patch     a later release of the same line and minor (4.4.x → 4.4.y, 5.26.x → 5.26.y): rolled out one server at a
            time like any other change
  minor     5.a → 5.b, b > a (version-5/upgrade-minor/in-place-rolling: "This is an example of how to do a rolling
            upgrade, by upgrading individual servers one at a time. This approach keeps the cluster available
            throughout the upgrade.")
  from-lts  5.26 → any 2025.x or later ("Upgrade to any Neo4j 2025–2026 version": "You can also upgrade from Neo4j
            5.26 LTS to any Neo4j 2025-2026 version."), with discovery service v2 first (version-2025-2026/upgrade/
            in-place-rolling: "In the 2025.01 release, discovery service v1 is removed. Therefore, you must
            transition to v2 before upgrading to any 2025-2026 version.")
  calendar  a calendar release to a later one ("You can upgrade from any version in the 2025–2026 series to any
            subsequent version, by following the instructions for either standalone servers or clusters. The
            upgrade steps are identical to upgrading Neo4j 5.")
Refused:
  a downgrade: the guide documents upgrades to a later ("subsequent") version only; an older release cannot be
            rolled onto a store a newer one wrote. Restoring a backup taken before the upgrade is the way back.
  5.x below 5.26 → 2025: "Neo4j 5.26 LTS is a checkpoint version. This means that: All upgrades from earlier than
            5.26 must first upgrade to Neo4j 5.26 LTS."
  4.4 → 5 or 2025: a migration, not an upgrade ("Migrating a Neo4j 4.4 LTS server to any Neo4j 2025-2026 version is
            possible by first upgrading to 5.26 LTS (see Migrate databases from 4.4 LTS)"): back up, restore into a
            new 5.26 stack, migrate the store: `make migrate FROM=<4.4 stack> TO=<5.26 stack>` (issue 24, item 3).

Standard library only (this package ships to the backup server), and components/ may import it (one-way rule).
"""
from __future__ import annotations

from dataclasses import dataclass

from .versions import LINE_5, LINE_44, LINE_2025, Version, unknown_release

SAME, PATCH, MINOR, FROM_LTS, CALENDAR = "same", "patch", "minor", "from-lts", "calendar"
DOWNGRADE, MIGRATION, VIA_LTS, UNKNOWN = "downgrade", "migration", "via-lts", "unknown"
ALLOWED = (SAME, PATCH, MINOR, FROM_LTS, CALENDAR)
MIGRATE_NOTE = "`make migrate FROM=<this 4.4 stack> TO=<a new 5.26 stack>` plans it (issue 24, item 3)"


@dataclass(frozen=True)
class UpgradePath:
    running: str
    target: str
    kind: str  # one of ALLOWED, or DOWNGRADE | MIGRATION | VIA_LTS | UNKNOWN
    detail: str  # the supported path, or why not and what to do, in words

    @property
    def allowed(self) -> bool:
        return self.kind in ALLOWED

    @property
    def changes_line(self) -> bool:
        return self.kind == FROM_LTS

    def __str__(self) -> str:
        return f"{self.running} → {self.target}: {self.detail}"


def upgrade_path(running: str, target: str) -> UpgradePath:
    """The path from the release a server runs to `target` (both x.y.z); never raises for a bad release: that is
    an UNKNOWN path whose detail says what is allowed."""
    try:
        have, want = Version.parse(running), Version.parse(target)
    except ValueError as error:
        return UpgradePath(running, target, UNKNOWN, str(error))
    if have.line is None or want.line is None:
        bad = running if have.line is None else target
        return UpgradePath(running, target, UNKNOWN, unknown_release(bad))
    have_key, want_key = (have.major, have.minor, have.patch or 0), (want.major, want.minor, want.patch or 0)

    def path(kind: str, detail: str) -> UpgradePath:
        return UpgradePath(running, target, kind, detail)

    if have_key == want_key:
        return path(SAME, "no version change")
    if want_key < have_key:
        return path(DOWNGRADE, f"a downgrade is not supported (the Upgrade and Migration Guide upgrades only to a "
                               f"later release; {have} wrote stores {want} may not read): keep neo4j:version {have}, "
                               f"or restore a backup taken before the upgrade into a new stack")
    if have.line == LINE_44:
        if want.line == LINE_44:
            return path(PATCH, f"a 4.4 patch ({have} → {want}), rolled out one server at a time")
        return path(MIGRATION, f"4.4 → {want.line.name} is a migration, not an upgrade: back up every database, "
                               f"restore into a new 5.26 stack and migrate the store (Upgrade and Migration Guide, "
                               f"\"Migrate databases from 4.4 LTS\"), then 5.26 → 2025 by `make upgrade`; "
                               f"{MIGRATE_NOTE}")
    if have.line == LINE_5 and want.line == LINE_5:
        if have.minor == want.minor:
            return path(PATCH, f"a 5.{have.minor} patch ({have} → {want}), rolled out one server at a time")
        return path(MINOR, f"a rolling minor upgrade within 5 ({have} → {want}), one server at a time")
    if have.line == LINE_5 and want.line == LINE_2025:
        if have.minor != 26:
            return path(VIA_LTS, f"{have} → {want} skips the 5.26 LTS, a checkpoint version (\"All upgrades from "
                                 f"earlier than 5.26 must first upgrade to Neo4j 5.26 LTS\"): set neo4j:version "
                                 f"5.26.z and roll that out first")
        return path(FROM_LTS, f"the rolling upgrade from the 5.26 LTS to {want} (Upgrade and Migration Guide, "
                              f"in-place rolling upgrade), with discovery service v2 on every server first "
                              f"(dbms.cluster.discovery.version=V2_ONLY)")
    # both calendar releases, the target the later one
    return path(CALENDAR, f"a calendar release to a later one ({have} → {want}), one server at a time")


def guard(running: list[str] | tuple[str, ...] | set[str], target: str) -> list[UpgradePath]:
    """The path from each distinct release the cluster runs (mid-upgrade some servers already run the target)."""
    return [upgrade_path(version, target) for version in sorted(set(running))]


def refusal(paths: list[UpgradePath], *, key: str = "neo4j:version") -> str | None:
    """One line for the first refused path, naming the key; None when every path is allowed."""
    bad = next((p for p in paths if not p.allowed), None)
    if bad is None:
        return None
    return f"{key} {bad.target}: the cluster runs Neo4j {bad.running}; {bad.detail}"


__all__ = ["ALLOWED", "CALENDAR", "DOWNGRADE", "FROM_LTS", "MIGRATION", "MINOR", "PATCH", "SAME",
           "UNKNOWN", "UpgradePath", "VIA_LTS", "guard", "refusal", "upgrade_path"]
