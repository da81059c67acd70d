"""`make migrate FROM=<4.4 stack> TO=<5.26 stack>` (scripts/migrate.py → scripts/neo4j_ops/upgrade/migrate.py and
migrate_command.py, issue 24 item 3) against recorded stacks: tests/fixtures/enterprise/migrate-4.4-legacy.json (FROM)
and migrate-5.26-prod.json (TO), DERIVED by hand from the manual (the fixture README says how).

Rules quoted (Upgrade and Migration Guide, version-5/migration/migrate-databases): "Make sure Neo4j 5 does not already
host any databases with the same name as those that you want to migrate (ignoring the system database)."; "If you are
migrating to a cluster, only restore them to one server; later you will use this server to seed the others."; "Use
the neo4j-admin restore command to restore each of your databases, except the system database"; "Use the neo4j-admin
database migrate command to update the file metadata to the 5 format". Operations Manual 5.x, authentication-
authorization/database-administration.adoc: "The `DATABASE[S] _name_` part of the command can be replaced by `HOME
DATABASE`." (5 has no DEFAULT DATABASE privilege target; 4.4's PUBLIC holds "GRANT ACCESS ON DEFAULT DATABASE")."""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from scripts.neo4j_ops.shared.errors import UsageError
from scripts.neo4j_ops.upgrade.migrate import MigrationError, check_stacks, free_target, translate_privilege
from scripts.neo4j_ops.upgrade.migrate_command import main
from tests.support.migrate_stacks import FROM, FROM_URI, NOW, TO, TO_URI, stack_files


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")


def scenario(**to_responses) -> RecordedTransport:
    merged = load_scenario(FROM)
    to = load_scenario(TO)
    merged["endpoints"].update(to["endpoints"])
    merged["endpoints"]["prod-core-1"]["responses"].update(to_responses)
    return RecordedTransport(merged)


def run(tmp_path, capsys, *extra, transport=None, versions=("4.4.46", "5.26.30"), frm="legacy", to="prod"):
    transport = transport or scenario()
    code = main(["--from", frm, "--to", to, "--from-uri", FROM_URI, "--to-uri", TO_URI, "--quiet",
                 *stack_files(tmp_path, *versions), *extra], transport=transport, backups={}, now=NOW)
    out = capsys.readouterr()
    return code, out.out, out.err, transport


def writes(transport: RecordedTransport) -> list[str]:
    return [c.cypher for c in transport.calls if c.write]


def test_dry_run_from_recorded_stacks_plans_restore_migrate_seed_create_and_users(capsys):
    code = main(["--from", "legacy", "--to", "prod", "--dry-run", "--quiet", "--from-uri", FROM_URI,
                 "--to-uri", TO_URI, "--to-ca-cert", str(FROM), "--replay", str(FROM), "--replay", str(TO)], now=NOW)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert "  DROP DATABASE `neo4j` IF EXISTS WAIT" in lines  # TO's empty default database, first
    for db in ("neo4j", "sales"):  # the verified 4.4 backups of the recorded bucket
        assert f"  4.4 backup: s3://acme-neo4j-legacy-backups/legacy/{db}/20261204T020000Z/{db}.tar" in lines
        fetch = next(i for i, line in enumerate(lines) if line.startswith(
            f"  [core-1] mkdir -p /var/lib/neo4j/data/migration/{db} && aws s3 cp --region eu-west-1 s3://acme-neo4j-"
            f"legacy-backups/legacy/{db}/"))
        here = f"/var/lib/neo4j/data/migration/{db}"
        assert "sha256sum -c -" in lines[fetch] and f"tar -xf {here}/{db}.tar" in lines[fetch]
        assert lines[fetch + 1] == (f"  [core-1] runuser -u neo4j -- neo4j-admin database restore --from-path="
                                    f"{here}/unpacked/{db} --overwrite-destination=true {db}")
        assert lines[fetch + 2] == f"  [core-1] runuser -u neo4j -- neo4j-admin database migrate " \
                                   f"--force-btree-indexes-to-range {db}"
        assert lines[fetch + 3].endswith(f"runuser -u neo4j -- neo4j-admin database dump --to-path=/var/lib/neo4j/"
                                         f"data/migration/dumps --overwrite-destination=true {db}")
        # the seed under the 4.4 backup's timestamp: a re-run finds what it uploaded
        seed = f"s3://acme-neo4j-backups/prod/{db}/20261204T020000Z/{db}.dump"
        assert f"aws s3 cp --region eu-west-1 /var/lib/neo4j/data/migration/dumps/{db}.dump {seed} --metadata " \
               "sha256=$sha" in lines[fetch + 4]
        assert f"CREATE DATABASE `{db}` IF NOT EXISTS OPTIONS {{existingData: 'use', seedURI: '{seed}'}} WAIT" in out
    assert "Database system" not in out  # "except the system database"
    assert "  GRANT ACCESS ON HOME DATABASE TO `PUBLIC`" in lines
    assert "  GRANT MATCH {*} ON HOME GRAPH NODE * TO `auditor`" in lines
    assert "ON DEFAULT" not in "\n".join(s for s in lines if not s.startswith("  rewritten:"))
    assert "  CREATE USER `analyst` SET PASSWORD $password CHANGE REQUIRED SET HOME DATABASE `sales`" in lines
    assert "  CREATE USER `auditor` SET PASSWORD $password CHANGE REQUIRED SET STATUS SUSPENDED" in lines
    assert "  CREATE ROLE `auditor` IF NOT EXISTS" in lines and "CREATE ROLE `reader`" not in out
    assert "  kept as prod has them: neo4j" in lines
    assert lines[-1] == "dry run: nothing was changed"


def test_dry_run_sends_no_write_to_either_stack(tmp_path, capsys):
    code, out, err, transport = run(tmp_path, capsys, "--dry-run")
    assert code == 0, err
    assert writes(transport) == []
    assert {c.endpoint for c in transport.calls} == {"legacy-core-1", "prod-core-1"}
    assert "4.4 backup: a new backup on a 4.4 server: neo4j-admin backup --database=sales" in out  # no manifests
    assert "--include-metadata=all" in out


@pytest.mark.parametrize(("versions", "frm", "to", "expected"), [
    (("5.26.30", "5.26.30"), "legacy", "prod", "FROM=legacy runs Neo4j 5.26.30, not 4.4"),
    (("4.4.46", "2025.10.1"), "legacy", "prod", "TO=prod runs Neo4j 2025.10.1, not 5.26"),
    (("4.4.46", "5.26.30"), "prod", "prod", "TO=prod is FROM"),
])
def test_versions_and_same_stack_are_refused_in_one_line_before_anything_is_asked(tmp_path, capsys, versions, frm,
                                                                                   to, expected):
    code, out, err, transport = run(tmp_path, capsys, "--dry-run", versions=versions, frm=frm, to=to)
    assert code == 2 and out == ""
    assert err.startswith("migrate: " + expected) and err.count("\n") == 1, err
    assert transport.calls == []


def test_a_running_release_other_than_the_stack_files_is_refused(tmp_path, capsys):
    transport = scenario(components={"records": [{"name": "Neo4j Kernel", "versions": ["2025.10.1"],
                                                  "edition": "enterprise"}]})
    code, out, err, _ = run(tmp_path, capsys, "--dry-run", transport=transport)
    assert code == 2 and "TO=prod runs Neo4j 2025.10.1, not 5.26" in err and "make upgrade STACK=prod" in err


def test_to_holding_a_database_with_data_is_refused_and_nothing_written(tmp_path, capsys):
    transport = scenario(count_nodes={"records": [{"count": 171}]})
    code, out, err, transport = run(tmp_path, capsys, transport=transport)
    assert code == 1 and out == ""
    assert err == ("migrate: FAILED: TO already holds neo4j (171 nodes, 0 relationships); the guide: \"Make sure "
                   "Neo4j 5 does not already host any databases with the same name as those that you want to "
                   "migrate\": migrate into a new stack (make migrate never drops a database that holds data)\n")
    assert writes(transport) == []


def test_a_real_run_without_a_verified_backup_is_refused_naming_the_database_before_anything_is_sent(tmp_path,
                                                                                                      capsys):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"analyst": "analyst-secret-1", "auditor": "auditor-secret-1"}))
    code, out, err, transport = run(tmp_path, capsys, "--user-passwords-file", str(passwords))  # backups={}
    assert code == 1 and out == ""
    assert err.startswith("migrate: FAILED: database neo4j, sales, step fetch: no verified 4.4 backup in legacy's "
                          "bucket; run `make backup STACK=legacy`"), err
    assert writes(transport) == []


def test_users_only_recreates_users_roles_and_privileges_in_order_on_to_alone(tmp_path, capsys):
    planned = ["CREATE USER `analyst` SET PASSWORD $password CHANGE REQUIRED SET HOME DATABASE `sales`",
               "CREATE USER `auditor` SET PASSWORD $password CHANGE REQUIRED SET STATUS SUSPENDED",
               "CREATE ROLE `auditor` IF NOT EXISTS", "GRANT ROLE `reader` TO `analyst`",
               "GRANT ROLE `auditor` TO `auditor`"]
    privileges = [translate_privilege(r["command"])[0] for r in
                  load_scenario(FROM)["endpoints"]["legacy-core-1"]["responses"]["SHOW PRIVILEGES AS COMMANDS"]
                  ["records"]]
    transport = scenario(**{s: {"systemUpdates": 1} for s in planned + privileges})
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"analyst": "analyst-secret-1", "auditor": "auditor-secret-1"}))
    code, out, err, transport = run(tmp_path, capsys, "--users-only", "--user-passwords-file", str(passwords),
                                    transport=transport)
    assert code == 0, err
    sent = [c for c in transport.calls if c.write]
    assert [c.cypher for c in sent] == planned + privileges
    assert {c.endpoint for c in sent} == {"prod-core-1"} and {c.database for c in sent} == {"system"}
    assert f"done: {planned[0]}" in out


def test_users_only_without_a_password_for_a_user_is_refused_before_any_write(tmp_path, capsys):
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"analyst": "analyst-secret-1"}))
    code, out, err, transport = run(tmp_path, capsys, "--users-only", "--user-passwords-file", str(passwords))
    assert code == 2 and "names no password for auditor" in err
    assert writes(transport) == []


def test_4_4_default_targets_are_written_home_and_others_kept():
    assert translate_privilege("DENY ACCESS ON DEFAULT DATABASE TO `x`") == (
        "DENY ACCESS ON HOME DATABASE TO `x`", "4.4's ON DEFAULT … is ON HOME … in 5")
    assert translate_privilege("GRANT WRITE ON DEFAULT GRAPH TO `x`")[0] == "GRANT WRITE ON HOME GRAPH TO `x`"
    assert translate_privilege("GRANT ACCESS ON DATABASE `default` TO `x`") == (
        "GRANT ACCESS ON DATABASE `default` TO `x`", None)


def test_only_empty_same_named_databases_on_to_are_dropped():
    assert free_target(["neo4j", "sales"], {"neo4j": (0, 0)}) == ["neo4j"]
    assert free_target(["sales"], {"neo4j": (5, 0)}) == []  # not one of FROM's: left alone
    with pytest.raises(MigrationError, match="sales \\(not counted\\)"):
        free_target(["sales"], {"sales": None})


def test_check_stacks_accepts_only_44_into_526():
    check_stacks("legacy", "prod", "4.4.46", "5.26.30")
    for versions in (("4.4.46", "5.25.1"), ("4.3.9", "5.26.30"), ("4.4.46", None)):
        with pytest.raises(UsageError):
            check_stacks("legacy", "prod", *versions)
