"""restore.py --cluster --all: every standard database of a backup run under its own name, then the run's composites
and aliases, in order (targets, composites, aliases), remote aliases' passwords from the environment, never shown.

The cluster's rows are DERIVED (tests/fixtures/enterprise/cluster-restore/derive.py); the run manifest is built as
backup.py writes it (run_manifest.RunManifest). Statements quoted from the Operations Manual 5.x
(database-administration/syntax.adoc): "CREATE COMPOSITE DATABASE name [IF NOT EXISTS]", "CREATE ALIAS name [IF NOT
EXISTS] FOR DATABASE targetName AT 'url' USER username PASSWORD 'password' [DRIVER "{" setting: value[, ...] "}"]
[PROPERTIES "{" key: value[, ...] "}"]"; aliases/manage-aliases-composite-databases.adoc: "CREATE ALIAS
`library`.`romance` FOR DATABASE `romance-books` AT 'neo4j+s://location:7687' USER alice PASSWORD 'password'".
"""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from scripts.neo4j_ops.backup.cluster_all import describe_all, execute_all, password_env, plan_all
from scripts.neo4j_ops.backup.cluster_plan import ClusterState
from scripts.neo4j_ops.backup.run_manifest import Alias, Composite, RunDatabase, RunManifest
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.shared.errors import BackupError, UsageError
from scripts.neo4j_ops.shared.versions import LINE_5, LINE_44, LINE_2025, Version
from tests.support.cluster_restore_replay import BUCKET, load, manifest, upload_backup

STAMP = "20250131T020000Z"
V526, V2025 = Version.parse("5.26.30"), Version.parse("2025.10.1")
SECRET = "s3cr3t-not-shown"
ENV = "NEO4J_ALIAS_PASSWORD_LIBRARY_SCI_FI"


def run_manifest() -> RunManifest:
    return RunManifest(
        stack="prod", timestamp=STAMP, started=STAMP, completed=STAMP, host="replica-1", neo4j_version="5.26.30",
        edition="enterprise",
        databases=(RunDatabase("system", "complete", f"prod/system/{STAMP}/", "full"),
                   RunDatabase("neo4j", "complete", f"prod/neo4j/{STAMP}/", "full"),
                   RunDatabase("sales", "complete", f"prod/sales/{STAMP}/", "full"),
                   RunDatabase("old", "failed", None, error="no space left")),
        composites=(Composite("library", ("library.romance", "library.sci-fi")),),
        aliases=(Alias("library.sci-fi", "sci-fi-books", "remote", composite="library", url="neo4j+s://other:7687",
                       user="alice", driver={"connection_timeout": 60, "ssl_enforced": True}),
                 Alias("library.romance", "sales", "local", composite="library"),
                 Alias("films", "neo4j", "local", properties={"team": "movies"})))


def state() -> ClusterState:
    return ClusterState.parse("neo4j", [], load("5.26-cluster.json")["endpoints"]["core-1"]["responses"]
                              ["show_databases"]["records"])


def manifests():
    return {db: replace(manifest(), database=db, files=(replace(manifest().files[0], name=f"{db}.backup"),))
            for db in ("neo4j", "sales")}


def the_plan(line=LINE_5, version=V526):
    return plan_all(line, version, run_manifest(), manifests(), BUCKET, state())


def test_every_database_under_its_own_name_then_composites_then_aliases():
    plan = the_plan()
    assert [(p.name, p.swap) for p in plan.databases] == [("neo4j", "recreate"), ("sales", "recreate")]
    assert plan.databases[0].steps[0].cypher == (f"CALL dbms.cluster.recreateDatabase('neo4j', {{seedURI: "
                                                 f"'s3://{BUCKET}/prod/neo4j/{STAMP}/neo4j.backup'}})")
    # sales is not in the cluster any more: created under its own name, seeded, on the default database's topology
    assert plan.databases[1].steps[0].cypher == (
        f"CREATE DATABASE `sales` TOPOLOGY 3 PRIMARIES 1 SECONDARY OPTIONS {{existingData: 'use', seedURI: "
        f"'s3://{BUCKET}/prod/sales/{STAMP}/sales.backup'}}")
    assert [s.cypher for s in plan.catalogue] == [
        "CREATE COMPOSITE DATABASE `library` IF NOT EXISTS",
        "CREATE ALIAS `films` IF NOT EXISTS FOR DATABASE `neo4j` PROPERTIES {`team`: 'movies'}",
        "CREATE ALIAS `library`.`romance` IF NOT EXISTS FOR DATABASE `sales`",
        "CREATE ALIAS `library`.`sci-fi` IF NOT EXISTS FOR DATABASE `sci-fi-books` AT 'neo4j+s://other:7687' USER "
        "`alice` PASSWORD $password DRIVER {connection_timeout: duration({seconds: 60}), ssl_enforced: true}"]
    assert plan.secrets == (ENV,)
    assert any(s.startswith("system: restored offline") for s in plan.skipped)
    assert "old: its backup in run 20250131T020000Z failed (no space left)" in plan.skipped


def test_the_dry_run_text_says_where_each_password_comes_from_and_shows_none():
    plan = the_plan(LINE_2025, V2025)
    text = describe_all(plan)
    assert "CALL dbms.recreateDatabase('neo4j'" in text
    assert f"its password from ${ENV}" in text
    assert "the stack has no secret for them: each is read from its environment variable" in text
    assert SECRET not in text and SECRET not in json.dumps(plan.to_json())
    assert password_env("library.sci-fi") == ENV


def test_a_line_without_the_recreate_procedure_is_refused():
    with pytest.raises(UsageError, match="Restore each database with --database"):
        the_plan(LINE_44, Version.parse("4.4.46"))
    with pytest.raises(UsageError, match="5.23.0 has none"):
        the_plan(LINE_5, Version.parse("5.23.0"))


class Run:
    def __init__(self, fail: str = ""):
        self.calls: list[tuple[str, dict | None]] = []
        self.fail = fail

    def __call__(self, statement, params=None):
        self.calls.append((statement.cypher, params))
        if self.fail and statement.cypher.startswith(self.fail):
            raise RuntimeError("refused")
        return []


def test_a_missing_password_is_refused_before_anything_changes():
    run, restored = Run(), []
    with pytest.raises(UsageError, match=f"set {ENV} .* nothing was changed"):
        execute_all(the_plan(), run, lambda m: None, restored.append, environ={})
    assert run.calls == [] and restored == []


def test_databases_first_then_the_catalogue_with_the_password_as_a_parameter_only():
    run, restored, log = Run(), [], []
    execute_all(the_plan(), run, log.append, lambda p: restored.append(p.name), environ={ENV: SECRET})
    assert restored == ["neo4j", "sales"]
    assert [c.split(" IF")[0] for c, _ in run.calls] == ["CREATE COMPOSITE DATABASE `library`", "CREATE ALIAS `films`",
                                                        "CREATE ALIAS `library`.`romance`",
                                                        "CREATE ALIAS `library`.`sci-fi`"]
    assert run.calls[-1][1] == {"password": SECRET} and [p for _, p in run.calls[:-1]] == [None] * 3
    assert SECRET not in "\n".join(log)


def test_a_failed_database_stops_the_run_saying_what_is_done_and_left():
    def run_one(p):
        if p.name == "sales":
            raise BackupError("Unable to start database")
    with pytest.raises(BackupError) as failure:
        execute_all(the_plan(), Run(), lambda m: None, run_one, environ={ENV: SECRET})
    text = str(failure.value)
    assert "'sales': Unable to start database" in text and "restored before it: neo4j" in text
    assert "the catalogue was not recreated" in text


def test_a_failed_catalogue_statement_says_what_is_left_without_the_password():
    with pytest.raises(BackupError) as failure:
        execute_all(the_plan(), Run(fail="CREATE ALIAS `library`.`romance`"), lambda m: None, lambda p: None,
                    environ={ENV: SECRET})
    text = str(failure.value)
    assert "created: CREATE COMPOSITE DATABASE `library`, CREATE ALIAS `films`" in text
    assert "left to run on system: CREATE ALIAS `library`.`romance`" in text and SECRET not in text


def test_counts_of_a_created_database_are_compared_like_any_other():
    sales = the_plan().databases[1]
    assert sales.counts == Counts(171, 253) and [s.kind for s in sales.steps] == ["cypher", "wait_online", "counts"]


def test_restore_py_all_dry_run_reads_the_newest_run_manifest_and_each_backup_from_the_bucket(restore_s3, tmp_path,
                                                                                            monkeypatch):
    from scripts.neo4j_ops.backup import cluster_restore as cr
    from scripts.neo4j_ops.backup.cluster_all import run_all
    from scripts.neo4j_ops.backup.run_manifest import run_key
    from scripts.neo4j_ops.recorded import RecordedTransport

    for m in manifests().values():
        upload_backup(restore_s3, m, b"artifact of " + m.database.encode())
    older = replace(run_manifest(), timestamp="20250130T020000Z", databases=())
    for r in (older, run_manifest()):
        restore_s3.put_object(Bucket=BUCKET, Key=run_key("prod", r.timestamp), Body=r.to_json().encode())
    monkeypatch.delenv(ENV, raising=False)
    opts = cr.ClusterRestoreOptions(bucket=BUCKET, stack="prod", database="neo4j", dry_run=True,
                                    uri="neo4j://core-1.prod.neo4j.internal:7687", auth=None, work_dir=tmp_path,
                                    log=lambda m: None)
    result = run_all(opts, transport=RecordedTransport(load("5.26-cluster.json")), s3=restore_s3)
    text = result["summary"]
    assert text.startswith("dry run, nothing changed\nrestore every database of backup run 20250131T020000Z")
    assert "CALL dbms.cluster.recreateDatabase('neo4j'" in text and "CREATE DATABASE `sales`" in text
    assert f"not set here: {ENV}" in text
    with pytest.raises(UsageError, match="no run manifest under s3://acme-neo4j-backups/prod/runs/ at or before"):
        run_all(replace(opts, at="20250101T000000Z"), transport=RecordedTransport(load("5.26-cluster.json")),
                s3=restore_s3)


@pytest.mark.parametrize("argv, message", [(["--all"], "--all restores a cluster: it goes with --cluster"),
                                           (["--all", "--cluster", "--beside", "--dry-run"], "neither --replay nor")])
def test_restore_py_all_is_refused_where_it_does_not_apply(argv, message, capsys, tmp_path):
    from scripts.neo4j_ops.backup.commands import restore_main

    code = restore_main(["--bucket", BUCKET, "--stack", "prod", "--latest", "--work-dir", str(tmp_path), *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_a_remote_aliass_password_may_come_from_the_stack_secret_as_make_databases_reads_it():
    """One source for both: the stack secret neo4j:aliasPasswords, exported as NEO4J_ALIAS_PASSWORDS (issue 21)."""
    from scripts.neo4j_ops.backup.cluster_all import PASSWORDS_ENV, secret_value

    environ = {PASSWORDS_ENV: json.dumps({"library.sci-fi": "from-the-stack-secret"})}
    assert secret_value(ENV, environ) == "from-the-stack-secret"
    assert secret_value(ENV, {**environ, ENV: "named-alone"}) == "named-alone"
    assert secret_value(ENV, {}) is None
    with pytest.raises(UsageError, match="not a JSON object"):
        secret_value(ENV, {PASSWORDS_ENV: "[1]"})
