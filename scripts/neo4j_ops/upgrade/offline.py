"""The offline steps of a version change on one server, as the Upgrade and Migration Guide orders them.

Pure: `offline_steps(source, target, …)` returns frozen `OfflineStep`s, each the command an operator runs
(its argv), which release's binaries run it, and why (the guide's or the Operations Manual's sentence).
Nothing here runs anything: tests/integration/test_upgrade_real_neo4j.py runs these steps on real Community
servers of 4.4.46, 5.26.30 and 2025.10.1, and `make migrate` is meant to run the same list.

Paths (the guide's pages under https://neo4j.com/docs/upgrade-migration-guide/current/):

* 5.x → a later 5.x, 5.26 → 2025.x, 2025.x → a later 2025.x: the standalone upgrade. version-5/upgrade-minor:
  "Stop the old Neo4j server. Install the new version of Neo4j. Start the new Neo4j server."
  version-2025-2026/upgrade/standalone/tar-example: "The conf, data, certificates, licenses, and plugins […]
  directories are configured using the server.directories.* configuration settings […]. This means you can
  replace the DBMS binaries without affecting the configuration and state." So the new release's neo4j.conf
  (ours is rendered per line) names the old data directory. No store migration: the store format of Community
  (record-aligned-1.1) is the same on 5.26.30 and 2025.10.1 (measured by `neo4j-admin database info` before and
  after; Operations Manual dev, migrate-database.adoc line 12: "An upgrade to the latest `MINOR` format version
  is an automatic operation performed on database startup.").
  version-2025-2026: "All upgrades from earlier than 5.26 must first upgrade to Neo4j 5.26 LTS."
* 4.4 → 5.26: a migration into a new DBMS. version-5/migration: "Databases can only be migrated to Neo4j 5.26
  LTS from Neo4j 4.4 LTS."; version-5/migration/migrate-databases: "If you are migrating databases from an
  installation of Neo4j 4.4 Community Edition, you will need to take the database offline and perform a backup
  using the neo4j-admin dump command." and "…you need to restore your dump file using the neo4j-admin database
  load command." then "Use the neo4j-admin database migrate command to update the file metadata to the 5
  format". Community keeps its users in `system`, which has no metadata script (that is Enterprise's
  `backup --include-metadata`), so `system` is dumped, loaded and migrated like the others (as the guide's
  version-5/ce-to-ee page dumps and loads `system` with its users).
* 4.4 → 2025.x: version-2025-2026: "Migrating a Neo4j 4.4 LTS server to any Neo4j 2025-2026 version is
  possible by first upgrading to 5.26 LTS […] and then upgrading from Neo4j 5.26 LTS" (give `via`).
* What has no path (a downgrade, 5.x below 5.26 to 2025) is refused with the version guard's own words
  (shared/upgrade_paths.py): a real 5.26.30 refuses a store 2025.10.1 has run (measured: "…which we don't
  support downgrading from."), and the guard refuses before anything is stopped.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..shared.upgrade_paths import CALENDAR, FROM_LTS, MIGRATION, MINOR, PATCH, SAME, upgrade_path
from ..shared.versions import LINE_5, LINE_44, Version

STOP, ADMIN, CONFIGURE, START = "stop", "neo4j-admin", "configure", "start"

GUIDE = "https://neo4j.com/docs/upgrade-migration-guide/current/"
WHY_STOP_UPGRADE = ("Upgrade and Migration Guide, version-5/upgrade-minor (and version-2025-2026/upgrade/standalone): "
                    "\"Stop the old Neo4j server.\"")
WHY_CONFIGURE_UPGRADE = ("version-2025-2026/upgrade/standalone/tar-example: the data directory is configured with "
                         "the server.directories.* settings, so \"you can replace the DBMS binaries without affecting "
                         "the configuration and state\"; the new release's neo4j.conf names the same data directory")
WHY_START_UPGRADE = ("version-5/upgrade-minor: \"Start the new Neo4j server.\" The store is upgraded as it starts "
                     "(Operations Manual, migrate-database.adoc: \"An upgrade to the latest MINOR format version is an "
                     "automatic operation performed on database startup.\")")
WHY_STOP_MIGRATE = ("version-5/migration/migrate-databases: \"If you are migrating databases from an installation of "
                    "Neo4j 4.4 Community Edition, you will need to take the database offline and perform a backup "
                    "using the neo4j-admin dump command.\"")
WHY_DUMP = "the same page: the dump of each database, system included (Community's users live in system)"
WHY_CONFIGURE_MIGRATE = ("version-5/migration: \"To migrate databases from Neo4j 4.4 you must first configure a new "
                         "Neo4j 5 DBMS\"")
WHY_LOAD = ("version-5/migration/migrate-databases: \"If you are migrating databases from an installation of Neo4j "
            "4.4 Community Edition, you need to restore your dump file using the neo4j-admin database load "
            "command.\" (Operations Manual 5.x, restore-dump.adoc line 8: replacing an existing database needs "
            "\"the --overwrite-destination option\")")
WHY_MIGRATE = ("version-5/migration/migrate-databases: \"Use the neo4j-admin database migrate command to update the "
               "file metadata to the 5 format\"; --force-btree-indexes-to-range because 4.4's BTREE indexes and "
               "constraints are otherwise dropped (Operations Manual 5.x, migrate-database.adoc: \"BTREE indexes are "
               "not supported in Neo4j 5 and the neo4j-admin database migrate command will remove all BTREE indexes "
               "and BTREE index-backed constraints.\")")
WHY_START_MIGRATE = ("Operations Manual 5.x, migrate-database.adoc: \"The newly created indexes will be populated in "
                     "the background on the first database start up following the migration\"")

# Measured on 5.26.30 Community (neo4j-admin of the Maven artifacts, tests/support/neo4j_dist.py): `database migrate
# system` on a loaded 4.4 system dump migrates the store files (`database info`: record-aligned-1.1) and then exits
# 1 in its second part, the system database's component upgrade (MigrateStoreCommand.upgradeSystemDb): "Failed to
# register security procedures: Unable to set up injection for procedure `AuthProcedures` […]". The first server
# start upgrades system itself (guide, version-5/ce-to-ee: "From version 5.9, the system database is automatically
# upgraded"), and the users log in (test_upgrade_real_neo4j.py). A runner accepts this failure only when the
# store format is migrated afterwards.
SYSTEM_UPGRADE_FAILURE = "Failed to register security procedures"

DATA_DIRECTORY_SETTING = "server.directories.data"  # 5.x and 2025 (4.4: dbms.directories.data; never a target)


@dataclass(frozen=True)
class OfflineStep:
    """One step: `kind` stop | neo4j-admin | configure | start, run with `release`'s binaries.

    argv: the command as the guide writes it (`neo4j stop`, `neo4j-admin database load …`, `neo4j start`);
    empty for configure. settings: the neo4j.conf lines a configure step adds to the release's own conf.
    database: the database a neo4j-admin step works on."""
    kind: str
    release: str
    argv: tuple[str, ...]
    why: str
    database: str | None = None
    settings: tuple[tuple[str, str], ...] = field(default=())
    tolerate: str = ""  # a failure whose output holds this text is expected; see SYSTEM_UPGRADE_FAILURE

    def __str__(self) -> str:
        what = " ".join(f"{k}={v}" for k, v in self.settings) if self.kind == CONFIGURE else " ".join(self.argv)
        return f"[{self.release}] {self.kind}: {what}"


class UnsupportedPathError(ValueError):
    """No offline path from `source` to `target`; the message names the supported one."""


def offline_steps(source: str, target: str, *, databases: Sequence[str], dump_dir: Path, data_dir: Path,
                  via: str | None = None) -> tuple[OfflineStep, ...]:
    """The steps from `source` to `target` (x.y.z releases) for one standalone server.

    databases: every database the server hosts, `system` included (it is dumped and migrated first, so the
    users come along). dump_dir: where a 4.4 migration keeps its dumps. data_dir: the data directory the
    target release uses (for an upgrade, the source's own; for a migration, the new DBMS's). via: the 5.26
    release a 4.4 → 2025 path passes through."""
    path = upgrade_path(source, target)  # the version guard's rule (shared/upgrade_paths.py)
    if path.kind == SAME:
        return ()
    if path.kind not in (PATCH, MINOR, FROM_LTS, CALENDAR, MIGRATION):
        raise UnsupportedPathError(str(path))
    old, new = Version.parse(source), Version.parse(target)
    names = _ordered(databases)
    if old.line is LINE_44:
        if new.line is LINE_44:
            raise UnsupportedPathError(f"Neo4j {source} → {target}: a 4.4 patch is rolled out, not covered here")
        if new.line is LINE_5:
            if new.minor != 26:
                raise UnsupportedPathError(f"Neo4j {source} → {target}: 4.4 databases migrate only to the 5.26 LTS "
                                      "(Upgrade and Migration Guide, version-5/migration)")
            return _migration(source, target, names, dump_dir, data_dir)
        lts = Version.parse(via) if via else None
        if lts is None or lts.line is not LINE_5 or lts.minor != 26:
            raise UnsupportedPathError(f"Neo4j {source} → {target}: 4.4 goes to 2025 through the 5.26 LTS; name the "
                                  "5.26 release as `via` (version-2025-2026: first upgrading to 5.26 LTS)")
        return (*_migration(source, via, names, dump_dir, data_dir), *_upgrade(via, target, data_dir))
    return _upgrade(source, target, data_dir)


def migrate_argv(database: str) -> tuple[str, ...]:
    """5.26's store migration of one 4.4 store (WHY_MIGRATE): the one text the real servers' test runs
    (tests/integration/test_upgrade_real_neo4j.py, through offline_steps) and `make migrate` sends (migrate.py)."""
    return ("neo4j-admin", "database", "migrate", "--force-btree-indexes-to-range", database)


def _ordered(databases: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(databases))
    if "system" not in names:
        raise UnsupportedPathError("the databases must include system (Community keeps its users there)")
    return ("system", *(name for name in names if name != "system"))


def _upgrade(source: str, target: str, data_dir: Path) -> tuple[OfflineStep, ...]:
    return (
        OfflineStep(STOP, source, ("neo4j", "stop"), WHY_STOP_UPGRADE),
        OfflineStep(CONFIGURE, target, (), WHY_CONFIGURE_UPGRADE,
                    settings=((DATA_DIRECTORY_SETTING, str(data_dir)),)),
        OfflineStep(START, target, ("neo4j", "start"), WHY_START_UPGRADE),
    )


def _migration(source: str, target: str, databases: tuple[str, ...], dump_dir: Path,
               data_dir: Path) -> tuple[OfflineStep, ...]:
    old_line, new_line = Version.parse(source).line, Version.parse(target).line
    dumps = tuple(OfflineStep(ADMIN, source, ("neo4j-admin", *old_line.admin_dump_to_path(db, dump_dir)), WHY_DUMP, db)
                  for db in databases)
    loads = tuple(OfflineStep(ADMIN, target, ("neo4j-admin", *new_line.admin_load(db, dump_dir)), WHY_LOAD, db)
                  for db in databases)
    migrations = tuple(OfflineStep(ADMIN, target, migrate_argv(db), WHY_MIGRATE, db,
                                   tolerate=SYSTEM_UPGRADE_FAILURE if db == "system" else "")
                       for db in databases)
    return (
        OfflineStep(STOP, source, ("neo4j", "stop"), WHY_STOP_MIGRATE),
        *dumps,
        OfflineStep(CONFIGURE, target, (), WHY_CONFIGURE_MIGRATE,
                    settings=((DATA_DIRECTORY_SETTING, str(data_dir)),)),
        *loads,
        *migrations,
        OfflineStep(START, target, ("neo4j", "start"), WHY_START_MIGRATE),
    )
