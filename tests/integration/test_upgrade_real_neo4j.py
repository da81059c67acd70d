"""Version changes on real Neo4j Community servers (issue 24, item 4): the offline steps of
scripts/neo4j_ops/upgrade/offline.py, run one by one on servers of 4.4.46, 5.26.30 and 2025.10.1 configured
by our templates (tests/support/neo4j_local.py `prepare`; the releases from tests/support/neo4j_dist.py).

What each step is and which sentence of the Upgrade and Migration Guide it follows is in offline.py; here a
step's command runs as written: `neo4j-admin …` with the step's release (run_neo4j_admin), `neo4j stop` and
`neo4j start` as the release's server stopping and starting, a configure step as a new NEO4J_HOME with the
release's own rendered neo4j.conf plus the step's settings (the data directory it takes over).

The new home is given another initial password than the store's: the admin and the second user log in with
the passwords of the store, so they come from the upgraded `system`, not from the new home's auth.ini.

  (a) 5.26.30 → 2025.10.1: data, schema and users intact; the store format is measured before and after
      (`neo4j-admin database info`): it stays record-aligned-1.1, no `database migrate` is needed.
  (b) 4.4.46 → 5.26.30 (dump, load, migrate, system included) → 2025.10.1: intact at each stop. 5.26.30's
      `database migrate system` migrates the files and then fails its system upgrade (measured; see
      offline.SYSTEM_UPGRADE_FAILURE): accepted only with the format migrated, and the first start upgrades
      system itself, users intact. The stopped 5.26.30 store is then dumped by the command make migrate's seed
      server sends (upgrade/migrate.py store_commands; its migrate text is the step's own, offline.migrate_argv).
  (c) a downgrade: the version guard (shared/upgrade_paths.py) refuses 2025.10.1 → 5.26.30 while the 2025
      server runs, before anything is stopped; and, measured, what the real 5.26.30 does with the store
      2025.10.1 ran when the guard is bypassed (it exits, naming the refusal).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from neo4j.exceptions import ConstraintError

from scripts.neo4j_ops.shared.upgrade_paths import DOWNGRADE, guard, refusal
from scripts.neo4j_ops.upgrade.migrate import DUMP, MIGRATE, store_commands
from scripts.neo4j_ops.upgrade.offline import (
    ADMIN,
    CONFIGURE,
    START,
    STOP,
    OfflineStep,
    UnsupportedPathError,
    offline_steps,
)
from tests.support.cypher import can_log_in
from tests.support.neo4j_dist import NEO4J_VERSIONS, Neo4jDistError, run_neo4j_admin
from tests.support.neo4j_local import LocalNeo4j, local_jvm_args, prepare

pytestmark = pytest.mark.integration

V44, V5, V2025 = NEO4J_VERSIONS["4.4"], NEO4J_VERSIONS["5"], NEO4J_VERSIONS["2025"]
PASSWORD = "upgrade-admin-secret-1"  # the admin's password in the store being upgraded
NEW_HOME_PASSWORD = "new-home-secret-1"  # the new home's auth.ini: never valid once system is taken over
ANALYST = ("analyst", "analyst-secret-1")  # the second user, made with CREATE USER
PEOPLE = 100
START_TIMEOUT = 180


# --- the store: data, an index, a constraint, a second user ---------------------------------------------------


def seed(local: LocalNeo4j) -> None:
    """The same statements on every line (4.4 takes FOR … REQUIRE too; its index is a BTREE one)."""
    with local.server.driver() as driver:
        driver.execute_query("CREATE CONSTRAINT person_id FOR (p:Person) REQUIRE p.id IS UNIQUE")
        driver.execute_query("CREATE INDEX person_name FOR (p:Person) ON (p.name)")
        driver.execute_query("UNWIND range(1, $n) AS i CREATE (:Person {id: i, name: 'person-' + toString(i)})",
                             n=PEOPLE)
        driver.execute_query("MATCH (a:Person), (b:Person) WHERE b.id = a.id + 1 CREATE (a)-[:KNOWS]->(b)")
        driver.execute_query(f"CREATE USER {ANALYST[0]} SET PASSWORD $pw CHANGE NOT REQUIRED", pw=ANALYST[1],
                             database_="system")


@dataclass
class Observed:
    version: str
    people: int
    knows: int
    id_sum: int
    indexes: dict[str, tuple[str, str]]  # name -> (type, state), token lookup indexes left out
    constraints: dict[str, str]  # name -> type
    users: set[str]
    duplicate_refused: bool
    admin_logs_in: bool
    analyst_logs_in: bool
    analyst_wrong_password_refused: bool
    new_home_password_refused: bool


def observe(local: LocalNeo4j) -> Observed:
    with local.server.driver() as driver:
        driver.execute_query("CALL db.awaitIndexes(120)")  # migrated indexes populate after the first start
        row = driver.execute_query("MATCH (p:Person) RETURN count(p) AS n, sum(p.id) AS ids").records[0]
        knows = driver.execute_query("MATCH (:Person)-[k:KNOWS]->(:Person) RETURN count(k) AS n").records[0]["n"]
        indexes = {r["name"]: (r["type"], r["state"]) for r in driver.execute_query(
            "SHOW INDEXES YIELD name, type, state WHERE type <> 'LOOKUP' RETURN name, type, state").records}
        constraints = {r["name"]: r["type"] for r in driver.execute_query(
            "SHOW CONSTRAINTS YIELD name, type RETURN name, type").records}
        users = {r["user"] for r in driver.execute_query("SHOW USERS YIELD user RETURN user",
                                                         database_="system").records}
        try:
            driver.execute_query("CREATE (:Person {id: 1, name: 'duplicate'})")
            refused = False
        except ConstraintError:
            refused = True
    return Observed(local.version, row["n"], knows, row["ids"], indexes, constraints, users, refused,
                    can_log_in(local, "neo4j", PASSWORD), can_log_in(local, *ANALYST),
                    not can_log_in(local, ANALYST[0], "not-" + ANALYST[1]),
                    not can_log_in(local, "neo4j", NEW_HOME_PASSWORD))


def assert_intact(seen: Observed, *, index_type: str) -> None:
    assert (seen.people, seen.knows, seen.id_sum) == (PEOPLE, PEOPLE - 1, PEOPLE * (PEOPLE + 1) // 2), seen
    assert seen.indexes.get("person_name") == (index_type, "ONLINE"), seen.indexes
    assert seen.indexes.get("person_id") == (index_type, "ONLINE"), seen.indexes  # the constraint's index
    assert seen.constraints.get("person_id") in ("UNIQUENESS", "NODE_PROPERTY_UNIQUENESS"), seen.constraints
    assert seen.duplicate_refused, f"{seen.version}: the uniqueness constraint no longer holds"
    assert seen.users == {"neo4j", ANALYST[0]}, seen.users
    assert seen.admin_logs_in and seen.analyst_logs_in and seen.analyst_wrong_password_refused, seen
    assert seen.new_home_password_refused, seen  # the users are the store's, not the new home's auth.ini


def store_format(local: LocalNeo4j, database: str, release: str) -> str:
    """`neo4j-admin database info`'s "Store format version" (5.x and 2025 only; the server stopped)."""
    result = run_neo4j_admin(["database", "info", database], local.home, version=release,
                             jvm_args=local_jvm_args(release))
    assert result.returncode == 0, result.stdout + result.stderr
    for line in result.stdout.splitlines():
        if line.startswith("Store format version:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(result.stdout)


# --- running the offline steps ----------------------------------------------------------------------------------


@dataclass
class Runner:
    """Runs OfflineSteps: one LocalNeo4j (NEO4J_HOME) per release, made by that release's configure step."""
    base: Path
    servers: dict[str, LocalNeo4j]
    timings: list[tuple[str, float]] = field(default_factory=list)
    observed: dict[str, Observed] = field(default_factory=dict)
    tolerated: list[str] = field(default_factory=list)

    def run(self, steps: tuple[OfflineStep, ...]) -> None:
        for step in steps:
            began = time.monotonic()
            if step.kind == STOP:
                self.servers[step.release].stop()
            elif step.kind == ADMIN:
                assert step.argv[0] == "neo4j-admin", step
                local = self.servers[step.release]
                result = run_neo4j_admin(list(step.argv[1:]), local.home, version=step.release,
                                         jvm_args=local_jvm_args(step.release))
                output = result.stdout + result.stderr
                if result.returncode != 0 and step.tolerate and step.tolerate in output:
                    # offline.SYSTEM_UPGRADE_FAILURE: accepted only when the store files were migrated
                    assert store_format(local, step.database, step.release) == "record-aligned-1.1", output
                    self.tolerated.append(str(step))
                else:
                    assert result.returncode == 0, f"{step}\n{output}"
            elif step.kind == CONFIGURE:
                local = prepare(self.base / step.release, password=NEW_HOME_PASSWORD, version=step.release)
                conf = local.home / "conf" / "neo4j.conf"
                conf.write_text(conf.read_text() + "".join(f"\n{k}={v}" for k, v in step.settings) + "\n")
                local.password, local.server.auth = PASSWORD, ("neo4j", PASSWORD)
                self.servers[step.release] = local
            elif step.kind == START:
                local = self.servers[step.release]
                local.start(START_TIMEOUT)
                self.observed[step.release] = observe(local)
            else:
                raise AssertionError(f"unknown step {step}")
            self.timings.append((str(step), round(time.monotonic() - began, 1)))

    def stop_all(self) -> None:
        for local in self.servers.values():
            local.stop()


def seeded(base: Path, release: str) -> LocalNeo4j:
    local = prepare(base / release, password=PASSWORD, version=release)
    local.start(START_TIMEOUT)
    seed(local)
    return local


# --- (a) 5.26.30 → 2025.10.1, and (c) back -------------------------------------------------------------------


@dataclass
class Upgrade526:
    runner: Runner
    source: LocalNeo4j
    target: LocalNeo4j
    before: Observed
    formats_before: dict[str, str]
    formats_after: dict[str, str]


@pytest.fixture(scope="module")
def upgraded_526(tmp_path_factory):
    """A 5.26.30 store with data and users, upgraded to 2025.10.1 by the offline steps; both servers stopped."""
    base = tmp_path_factory.mktemp("upgrade-526")
    source = seeded(base, V5)
    runner = Runner(base, {V5: source})
    try:
        before = observe(source)
        steps = offline_steps(V5, V2025, databases=["system", "neo4j"], dump_dir=base / "dumps",
                              data_dir=source.home / "data")
        assert [s.kind for s in steps] == [STOP, CONFIGURE, START]
        runner.run(steps[:2])  # stopped; 2025's home configured on the same data directory
        formats_before = {db: store_format(source, db, V5) for db in ("system", "neo4j")}
        runner.run(steps[2:])
        target = runner.servers[V2025]
        target.stop()
        formats_after = {db: store_format(target, db, V2025) for db in ("system", "neo4j")}
        yield Upgrade526(runner, source, target, before, formats_before, formats_after)
    finally:
        runner.stop_all()
        print(f"\n5.26 -> 2025 step times (s): {runner.timings}")


def test_a_526_store_with_data_and_users_is_started_by_2025_after_the_documented_steps(upgraded_526):
    run = upgraded_526
    assert_intact(run.before, index_type="RANGE")
    assert_intact(run.runner.observed[V2025], index_type="RANGE")
    # 2025 ran on the 5.26 data directory, and made no store of its own in its new home.
    conf = (run.target.home / "conf" / "neo4j.conf").read_text()
    assert f"server.directories.data={run.source.home / 'data'}" in conf
    assert not (run.target.home / "data" / "databases").exists()


def test_a_the_2025_start_needs_no_store_migration_on_community(upgraded_526):
    # Measured: 5.26.30 and 2025.10.1 both write Community's record-aligned-1.1, so nothing migrates the
    # format; the first 2025 start upgrades what it upgrades in place (Operations Manual dev,
    # migrate-database.adoc line 12: "An upgrade to the latest `MINOR` format version is an automatic
    # operation performed on database startup.").
    run = upgraded_526
    assert run.formats_before == {"system": "record-aligned-1.1", "neo4j": "record-aligned-1.1"}
    assert run.formats_after == run.formats_before


def test_c_a_downgrade_is_refused_by_the_guard_before_anything_stops_and_526_refuses_the_2025_store(upgraded_526):
    """(1) The version guard (shared/upgrade_paths.py, pure) refuses 2025.10.1 → 5.26.30 from the release the running
    server reports, while it runs: nothing is stopped, and offline_steps has no steps for it. (2) What the real
    server does when the guard is bypassed: 5.26.30 reads the transaction log 2025.10.1 wrote for system, finds a
    newer kernel version and exits before Bolt answers."""
    run = upgraded_526
    run.target.start(START_TIMEOUT)
    try:
        with run.target.server.driver() as driver:
            kernel = "CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' RETURN versions"
            running = [v for r in driver.execute_query(kernel).records for v in r["versions"]]
        assert running == [V2025]
        paths = guard(running, V5)
        assert [p.kind for p in paths] == [DOWNGRADE]
        assert refusal(paths).startswith(f"neo4j:version {V5}: the cluster runs Neo4j {V2025}; a downgrade")
        with pytest.raises(UnsupportedPathError, match="downgrade"):
            offline_steps(V2025, V5, databases=["system", "neo4j"], dump_dir=run.runner.base / "dumps",
                          data_dir=run.source.home / "data")
        assert run.target.is_running()  # refused before anything was stopped
        assert observe(run.target).people == PEOPLE
    finally:
        run.target.stop()

    began = time.monotonic()
    with pytest.raises(Neo4jDistError, match="exited"):
        run.source.start(START_TIMEOUT)
    run.source.stop()
    print(f"\n5.26 on the 2025 store exited after {time.monotonic() - began:.1f} s")
    logged = (run.source.home / "logs" / "neo4j.log").read_text(errors="replace")
    assert "which we don't support downgrading from" in logged, logged[-3000:]
    assert "highest supported Kernel Version" in logged


# --- (b) 4.4.46 → 5.26.30 → 2025.10.1 -------------------------------------------------------------------------


def test_b_44_store_migrated_to_526_and_on_to_2025_keeps_data_schema_and_users(tmp_path):
    source = seeded(tmp_path, V44)
    runner = Runner(tmp_path, {V44: source})
    try:
        before = observe(source)
        assert_intact(before, index_type="BTREE")
        (tmp_path / "dumps").mkdir()
        steps = offline_steps(V44, V2025, via=V5, databases=["neo4j", "system"], dump_dir=tmp_path / "dumps",
                              data_dir=tmp_path / "data")
        assert [(s.kind, s.release, s.database) for s in steps if s.kind == ADMIN] == [
            (ADMIN, V44, "system"), (ADMIN, V44, "neo4j"), (ADMIN, V5, "system"), (ADMIN, V5, "neo4j"),
            (ADMIN, V5, "system"), (ADMIN, V5, "neo4j")]
        # make migrate's seed server runs the same migrate text (migrate.store_commands), then dumps the migrated
        # store as the seed: that dump, as make migrate sends it, on the stopped 5.26.30 before 2025 takes over
        stop_526 = next(i for i, s in enumerate(steps) if s.kind == STOP and s.release == V5)
        runner.run(steps[:stop_526 + 1])
        seed_dir = tmp_path / "seed-dumps"
        sent = store_commands("neo4j", tmp_path / "unused-4.4-backup", seed_dir)
        assert next(s.argv for s in steps if s.kind == ADMIN and s.release == V5 and s.database == "neo4j"
                    and "migrate" in s.argv) == sent[MIGRATE]
        seed_dir.mkdir()
        dumped = run_neo4j_admin(list(sent[DUMP][1:]), runner.servers[V5].home, version=V5,
                                 jvm_args=local_jvm_args(V5))
        assert dumped.returncode == 0, dumped.stdout + dumped.stderr
        assert (seed_dir / "neo4j.dump").stat().st_size > 0
        runner.run(steps[stop_526 + 1:])
        print(f"\nfailures tolerated (offline.SYSTEM_UPGRADE_FAILURE): {runner.tolerated}")
        # The BTREE index and the constraint's BTREE index came through as RANGE (--force-btree-indexes-to-range).
        assert_intact(runner.observed[V5], index_type="RANGE")
        assert_intact(runner.observed[V2025], index_type="RANGE")
        runner.servers[V2025].stop()
        formats = {db: store_format(runner.servers[V2025], db, V2025) for db in ("system", "neo4j")}
        print(f"\nstore formats after 4.4 -> 5.26 -> 2025: {formats}")
    finally:
        runner.stop_all()
        print(f"\n4.4 -> 5.26 -> 2025 step times (s): {runner.timings}")
