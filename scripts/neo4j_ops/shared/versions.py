"""Neo4j releases and their version lines: the one rule, shared by the deploy config and every command.

A release belongs to a line by its number: 4.4.z is "4.4", every 5.x is "5" (its LTS is 5.26),
every calendar release from 2025.01 on is "2025". Nothing else has a line. What differs between
lines is asked of the `VersionLine` (`line.supports_show_servers`, `line.admin_dump_to_stdout(db)`),
never spelled as a comparison with "4.4" where it is used. Three uses, one rule:

  deployable_line(text)    neo4j:version in Pulumi.<stack>.yaml: a whole x.y.z, and of the releases
                           our templates are written for (4.4, the 5.26 LTS, calendar months 01-12);
                           components/settings.py delegates to it
  line_of(text)            a version backup and restore are given or read from a server: its line,
                           or ValueError (they refuse to guess which neo4j-admin to run)
  server_line(text)        what check and diagnose speak to a server that reported `text`: its line,
                           or the 5.x LTS dialect when it reports none or an unknown release (the
                           version check then fails on its own)

Plain data, standard library only: this module ships to the backup server with the backup tools,
and components/settings.py imports it (it lives here, not in components/, because only scripts/
is unpacked on that server).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_RELEASE = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?")
_EXACT = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int | None = None

    @classmethod
    def parse(cls, text: str) -> Version:
        """'5.26.30', '4.4', '2025.10.1' (anything after x.y[.z] is ignored); ValueError otherwise."""
        match = _RELEASE.match(text.strip())
        if not match:
            raise ValueError(unknown_release(text))
        patch = match["patch"]
        return cls(int(match["major"]), int(match["minor"]), int(patch) if patch is not None else None)

    @property
    def line(self) -> VersionLine | None:
        if (self.major, self.minor) == (4, 4):
            return LINE_44
        if self.major == 5:
            return LINE_5
        if self.major >= 2025:
            return LINE_2025
        return None

    def __str__(self) -> str:
        return ".".join(str(n) for n in (self.major, self.minor, self.patch) if n is not None)


@dataclass(frozen=True)
class VersionLine:
    """One line's dialect: what its servers answer, what its neo4j-admin takes, what its neo4j.conf names."""
    name: str  # "4.4" | "5" | "2025"

    def __str__(self) -> str:
        return self.name

    @property
    def _is_44(self) -> bool:
        return self.name == "4.4"

    # --- deploy: the releases our templates are written for ---------------------------------------------

    def deploys(self, version: Version) -> bool:
        """4.4.z; of 5.x only the LTS, 5.26; a calendar release of a real month."""
        if self.name == "5":
            return version.minor == 26
        if self.name == "2025":
            return 1 <= version.minor <= 12
        return True

    # --- what a running server answers (check, diagnose, backup, restore) --------------------------------

    @property
    def supports_show_servers(self) -> bool:
        """SHOW SERVERS (5.0+); 4.4 lists its members with CALL dbms.cluster.overview()."""
        return not self._is_44

    def has_cluster_status_check(self, version: Version) -> bool:
        """`CALL dbms.cluster.statusCheck([])` (Enterprise 5.24+ and 2025; Operations Manual 5.x, clustering/
        monitoring/status-check.adoc: "Neo4j 5.24 introduces the `dbms.cluster.statusCheck()` procedure, which can
        be used to monitor the ability to replicate in clustered databases")."""
        if self.name == "5":
            return (version.major, version.minor) >= (5, 24)
        return self.name == "2025"

    # --- scaling (scripts/neo4j_ops/scaling/) ------------------------------------------------------------

    @property
    def allocates_databases(self) -> bool:
        """5.0+: a server hosts only the databases allocated to it (ENABLE SERVER, ALTER DATABASE … SET TOPOLOGY,
        DEALLOCATE DATABASES FROM SERVER, DROP SERVER; Operations Manual 5.x, clustering/servers.adoc). 4.4: a
        read replica hosts every database by itself (4.4 clustering/deploy.adoc: "Now start the new Read Replica
        and let it add itself to the existing cluster"), and nothing is deallocated when one goes."""
        return not self._is_44

    def dry_runs_deallocation(self, version: Version) -> bool:
        """`DRYRUN DEALLOCATE DATABASES FROM SERVER …` (5.x clustering/databases.adoc: "`DRYRUN` is available
        from Neo4j 5.2 and later")."""
        return self.allocates_databases and (version.major, version.minor) >= (5, 2)

    def topology_parameters(self, version: Version) -> bool:
        """`ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES` (5.x and dev,
        clustering/databases.adoc: "starting from 5.26, you can use parameters to provide the number of
        primaries and secondaries"); before 5.26 the numbers and the name are written into the statement."""
        return self.allocates_databases and (version.major, version.minor) >= (5, 26)

    def reports_deallocated(self, version: Version) -> bool:
        """SHOW SERVERS says `Deallocated` once a deallocating server hosts only `system` (5.x
        clustering/servers.adoc: "Deallocated label:new[Introduced in 5.15]"); before, it stays Deallocating."""
        return self.allocates_databases and (version.major, version.minor) >= (5, 15)

    @property
    def supports_writer_column(self) -> bool:
        """SHOW DATABASES has `writer` and takes the name as a parameter (5.0+); 4.4 marks the writer by role
        'leader' and its manual documents no parameter for the name."""
        return not self._is_44

    @property
    def supports_show_settings(self) -> bool:
        """SHOW SETTINGS (5.0+); 4.4 has CALL dbms.listConfig()."""
        return not self._is_44

    @property
    def transactions_by_procedure(self) -> bool:
        """The tools read 4.4's transactions with dbms.listQueries()/listTransactions() and end them with
        dbms.killQuery()/killTransaction(); 5.x+ with SHOW TRANSACTIONS and TERMINATE TRANSACTION."""
        return self._is_44

    @property
    def transaction_timeout_setting(self) -> str:
        """The setting that bounds a transaction's time: 4.4 names it dbms.*, 5.x and 2025 db.*."""
        return "dbms.transaction.timeout" if self._is_44 else "db.transaction.timeout"

    @property
    def seeds_from_uri(self) -> bool:
        """CREATE DATABASE … OPTIONS {seedURI: …} seeds every member from a backup in S3 (5.x+; restore.py
        --cluster). 4.4 has no seed from URI: its cluster restore is the offline unbind + restore per core."""
        return not self._is_44

    def recreate_procedure(self, version: Version) -> str | None:
        """The procedure that replaces a standard database's store from a seed while it keeps its name and every
        privilege on it (restore.py --cluster), or None where there is none (4.4, 5.0-5.23).

        5.24-5.26 and 2025.01-03: `dbms.cluster.recreateDatabase` (Operations Manual 5.x, procedures/
        built-in-procedures.adoc, label new-5.24: "`dbms.cluster.recreateDatabase(database :: STRING, options = {}
        :: MAP)` | Recreates a database while keeping all RBAC settings"). The 5.x manual contradicts itself:
        clustering/databases.adoc calls it `dbms.recreateDatabase()`, but the procedure reference and
        recreate-database.adoc ("Neo4j 5.24 introduces the `dbms.cluster.recreateDatabase()` procedure") list only
        the `cluster` name, so that one. 2025.04+: `dbms.recreateDatabase` (dev, recreate-database.adoc: "In Neo4j
        2025.04, the `dbms.cluster.recreateDatabase()` procedure is deprecated in favor of
        `dbms.recreateDatabase()`")."""
        if self._is_44 or (version.major, version.minor) < (5, 24):
            return None
        if (version.major, version.minor) < (2025, 4):
            return "dbms.cluster.recreateDatabase"
        return "dbms.recreateDatabase"

    @property
    def seed_providers(self) -> str | None:
        """The dbms.databases.seed_from_uri_providers our conf sets: CloudSeedProvider, which reads s3:// with
        the server's own AWS credentials (its instance role) and seeds from a differential backup's chain.
        5.26's default lists S3SeedProvider first ("the first matching provider will be used"), which needs
        seedCredentials and identical keystores; 2025.01's default is CloudSeedProvider alone."""
        return None if self._is_44 else "CloudSeedProvider"

    @property
    def database_status_column(self) -> str:
        """The SHOW DATABASES column that says why a database is not in its requested state."""
        return "error" if self._is_44 else "statusMessage"

    # --- neo4j.conf ------------------------------------------------------------------------------------

    @property
    def has_server_settings(self) -> bool:
        """5.0 renamed the per-server settings dbms.* → server.* (dbms.directories.data → server.directories.data)."""
        return not self._is_44

    @property
    def discovery_on_cluster_port(self) -> bool:
        """2025.01+: discovery runs over the cluster port (dbms.cluster.endpoints), with no discovery listener."""
        return self.name == "2025"

    def reloads_tls(self, version: Version) -> bool:
        """2025.03+ (Enterprise) re-reads its certificates when `CALL dbms.security.reloadTLS()` runs, with
        dbms.security.tls_reload_enabled=true (Operations Manual dev, security/ssl-framework.adoc: "Starting
        from 2025.03, new certificates can be rotated in, and SSL configuration can be updated without
        requiring a restart"); 4.4, 5.x and 2025.01-02 only read them at start."""
        return self.name == "2025" and (version.major, version.minor) >= (2025, 3)

    # --- neo4j-admin ----------------------------------------------------------------------------------

    @property
    def supports_dump_to_stdout(self) -> bool:
        """`neo4j-admin database dump --to-stdout` (5.x+); 4.4's dump writes only to a file."""
        return not self._is_44

    @property
    def backs_up_to_artifacts(self) -> bool:
        """5.x+: `database backup --type=FULL|DIFF` adds one .backup artifact (full, then differentials) to a
        directory; 4.4: `backup` updates a backup folder in place."""
        return not self._is_44

    def admin_dump_to_stdout(self, database: str) -> list[str]:
        """Offline dump streamed to standard output."""
        if not self.supports_dump_to_stdout:
            raise ValueError("Neo4j 4.4's neo4j-admin dump cannot write to standard output")
        return ["database", "dump", "--to-stdout", database]  # --verbose would print to stdout too

    def admin_dump_to_path(self, database: str, directory: Path) -> list[str]:
        """Offline dump into `directory`/<database>.dump."""
        if self._is_44:
            return ["dump", f"--database={database}", f"--to={directory / dump_file_name(database)}"]
        return ["database", "dump", f"--to-path={directory}", "--overwrite-destination=true", database]

    def admin_load(self, database: str, directory: Path) -> list[str]:
        """Load `directory`/<database>.dump over the existing database (the server must be stopped)."""
        if self._is_44:
            return ["load", f"--from={directory / dump_file_name(database)}", f"--database={database}", "--force"]
        return ["database", "load", f"--from-path={directory}", "--overwrite-destination=true", database]

    @property
    def backup_types(self) -> tuple[str, ...]:
        """The --type values of `neo4j-admin database backup` (5.x+; Operations Manual 5.x/dev,
        backup-restore/online-backup.adoc: "Possible values are: `FULL`, `DIFF`, `AUTO`"). 4.4 has no
        --type: `backup` into an existing folder is incremental, with `--fallback-to-full` ("If an incremental
        backup fails, backup will move the old backup to `<name>.err.<N>` and fallback on a full backup")."""
        return () if self._is_44 else ("AUTO", "FULL", "DIFF")

    def backs_up_to_s3(self, version: Version) -> bool:
        """The online backup writes straight to `--to-path=s3://bucket/dir/` with a local `--temp-path`: 5.24+
        (so the 5.26 LTS) and 2025. Operations Manual 5.x, online-backup.adoc: "The `--to-path=<path>` option can
        also back up databases into AWS S3 buckets (from Neo4j 5.19), Google Cloud storage buckets (from Neo4j
        5.21), and Azure buckets (from 5.24)", and `--temp-path` is "(Introduced in 5.24)"; dev: "It is possible
        to back up databases into AWS S3 buckets … using the appropriate URI as the path". neo4j-admin reads
        `AWS_ENDPOINT_URL_S3` for other endpoints (aws-s3-overrides.adoc). 4.4 and 5.0-5.23 back up locally."""
        if self.name == "5":
            return (version.major, version.minor) >= (5, 24)
        return self.name == "2025"

    def checks_from_s3(self, version: Version) -> bool:
        """`database check --from-path=s3://…`: 5.19+ and 2025 (Operations Manual 5.x: check takes AWS S3
        buckets from 5.19; dev, consistency-checker.adoc: "The `--from-path=<path>` option can also check
        database artifacts in AWS S3 buckets")."""
        if self.name == "5":
            return (version.major, version.minor) >= (5, 19)
        return self.name == "2025"

    def admin_online_backup(self, database: str, source: str, directory: Path | str, *, kind: str = "AUTO",
                            check: bool = False, report_dir: Path | None = None,
                            temp_dir: Path | None = None) -> list[str]:
        """Enterprise online backup from `source` (host:port) into `directory` (see backs_up_to_artifacts).

        5.x+: `--type=kind` (one of backup_types); `directory` may be an s3:// URI where backs_up_to_s3, and
        `temp_dir` is its --temp-path ("the backup process still requires a temporary local directory").
        4.4: incremental into an existing folder, falling back to full; its own consistency check runs when
        `check` ("--check-consistency … Run a consistency check against the database backup", default true),
        its report in `report_dir`."""
        if self._is_44:
            args = ["backup", f"--from={source}", f"--backup-dir={directory}", f"--database={database}",
                    "--fallback-to-full=true", f"--check-consistency={'true' if check else 'false'}"]
            return args + ([f"--report-dir={report_dir}"] if check and report_dir else [])
        if kind not in self.backup_types:
            raise ValueError(f"--type {kind!r} is not one of {', '.join(self.backup_types)}")
        args = ["database", "backup", f"--from={source}", f"--to-path={directory}", f"--type={kind}"]
        return args + ([f"--temp-path={temp_dir}"] if temp_dir else []) + [database]

    def admin_check(self, database: str, source: Path | str, temp_dir: Path, report_dir: Path) -> list[str]:
        """Consistency check of a backup artifact, not of the live store.

        5.x+: `database check --from-path=<dir>` ("check the consistency of a database, a dump, or a full
        backup"; 5.x consistency-checker.adoc), extracting into --temp-path, the report into --report-path.
        4.4: `check-consistency --backup=<backup folder>`; `source` is that folder."""
        if self._is_44:
            return ["check-consistency", f"--backup={source}", f"--report-dir={report_dir}"]
        return ["database", "check", f"--from-path={source}", f"--temp-path={temp_dir}",
                f"--report-path={report_dir}", database]

    @property
    def checks_dumps(self) -> bool:
        """5.x+: `database check --from-path` reads a dump. 4.4's `check-consistency` reads only a store or a
        backup folder (4.4 tools/neo4j-admin/consistency-checker.adoc: "--database … Name of database",
        "--backup … Path to backup to check consistency of"), so a 4.4 dump is loaded into a scratch store
        first and that is checked (admin_check_store)."""
        return not self._is_44

    def admin_check_store(self, database: str, report_dir: Path) -> list[str]:
        """Consistency check of the (stopped) store of `database` that NEO4J_CONF points at."""
        if self._is_44:
            return ["check-consistency", f"--database={database}", f"--report-dir={report_dir}"]
        return ["database", "check", f"--report-path={report_dir}", database]

    @property
    def data_directory_setting(self) -> str:
        return "server.directories.data" if self.has_server_settings else "dbms.directories.data"

    def admin_aggregate(self, database: str, directory: Path) -> list[str]:
        """5.x+: fold the chain in `directory` into one full artifact (backup-restore/aggregate.adoc), what a
        differential needs before a check: "consistency check is not supported for differential backups. The
        backup chain must be aggregated into a full backup artifact before running consistency check"."""
        if self._is_44:
            raise ValueError("Neo4j 4.4 has no backup chains to aggregate")
        return ["database", "aggregate-backup", f"--from-path={directory}", database]

    @property
    def restores_until(self) -> bool:
        """`database restore --restore-until=<transaction id | UTC "YYYY-MM-DD hh:mm:ss">` (5.x and dev,
        backup-restore/restore-backup.adoc: "The restore recovers transaction logs up to, but not including, the
        transaction 123" / "recovers transactions that were committed before the provided timestamp"; "The
        `--restore-until=` argument must contain a UTC date and time"), in the synopsis since the 5.0 branch's
        (`[--restore-until=<recoveryCriteria>]`). 4.4's synopsis has no such option: `neo4j-admin restore
        --from=<path>[,<path>...] [--verbose] [--expand-commands] [--database=<database>] [--force] [--move]
        [--to-data-directory=<path>] [--to-data-tx-directory=<path>]`."""
        return not self._is_44

    def admin_restore(self, database: str, directory: Path, until: str | None = None) -> list[str]:
        """Restore the backup in `directory` (5.x+: its chain of artifacts; 4.4: the backup folder); `until`
        (see restores_until) stops the replay of the chain's transaction logs there. It is one argument:
        the manual's shell quotes (`--restore-until="2023-06-29 13:50:45"`) only keep its space in it."""
        if until is not None and not self.restores_until:
            raise ValueError(f"Neo4j {self.name}'s neo4j-admin restore has no --restore-until")
        if self._is_44:
            return ["restore", f"--from={directory / database}", f"--database={database}", "--force"]
        until_arg = [f"--restore-until={until}"] if until is not None else []
        return ["database", "restore", f"--from-path={directory}", *until_arg, "--overwrite-destination=true",
                database]

    def admin_set_initial_password(self, password: str) -> list[str]:
        if self._is_44:
            return ["set-initial-password", password]
        return ["dbms", "set-initial-password", password]


LINE_44, LINE_5, LINE_2025 = VersionLine("4.4"), VersionLine("5"), VersionLine("2025")
LINES = {line.name: line for line in (LINE_44, LINE_5, LINE_2025)}


def dump_file_name(database: str) -> str:
    return f"{database}.dump"


def unknown_release(text: str) -> str:
    return f"Neo4j {text} is not a release this tool knows (4.4.x, 5.x, 2025.x and later)"


def line_of(text: str) -> VersionLine:
    """The line of a release; ValueError for text that is no release or a release of no line."""
    line = Version.parse(text).line
    if line is None:
        raise ValueError(unknown_release(text))
    return line


def line_named(name: str) -> VersionLine:
    """'4.4' | '5' | '2025' (as manifests record it) → the line; ValueError for other names."""
    try:
        return LINES[name]
    except KeyError:
        raise ValueError(f"unknown version line {name!r} (known: {', '.join(LINES)})") from None


def server_line(text: str | None) -> VersionLine:
    """The dialect to speak to a server that reported `text`: its line, else the 5.x LTS's."""
    try:
        return line_of(text) if text else LINE_5
    except ValueError:
        return LINE_5


def deployable_line(text: str) -> VersionLine:
    """The line of a neo4j:version this program deploys; ValueError whose text says what is allowed."""
    if not _EXACT.match(text):
        raise ValueError("x.y.z")
    version = Version.parse(text)
    line = version.line
    if line is None or not line.deploys(version):
        raise ValueError("4.4.z, 5.26.z (the 5.x LTS) or a calendar release 2025.mm.z or later")
    return line
