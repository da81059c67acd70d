"""Roles and privileges (Enterprise-only RBAC) of scripts/security.py, against recorded Neo4j
Enterprise responses (tests/fixtures/enterprise/security-*.json, derived: see the README there)."""
from __future__ import annotations

import json

from components.settings import RoleSpec, UserSpec
from scripts.neo4j_ops.bolt import Auth
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.security import apply_security, main
from tests.conftest import ENTERPRISE

URI = "neo4j://core-1.prod.neo4j.internal:7687"
ADMIN = Auth("neo4j", "admin-secret-not-real")
SECRETS = {"analyst": "analyst-secret-not-real", "scientist": "scientist-secret-not-real"}
# The prod stack's config (Pulumi.prod.yaml).
USERS = (UserSpec("analyst", ("reader",)), UserSpec("scientist", ("data_scientist",)))
ROLES = (RoleSpec("data_scientist", ("MATCH {*} ON GRAPH neo4j", "EXECUTE PROCEDURE gds.* ON DBMS")),)


def apply(scenario: str, *, dry_run: bool = False, passwords=SECRETS):
    transport = RecordedTransport(ENTERPRISE / scenario)
    report = apply_security(transport, URI, ADMIN, USERS, ROLES, passwords, dry_run=dry_run)
    return report, transport


def writes(transport: RecordedTransport) -> list[str]:
    return [c.name for c in transport.calls if c.write]


def test_fresh_cluster_gets_role_privileges_users_and_memberships_from_recorded_enterprise_responses():
    report, transport = apply("security-5.26-fresh.json")
    assert report.ok, report.errors
    assert transport.missing == []
    assert [(c.kind, c.target) for c in report.changes] == [
        ("create-role", "data_scientist"),
        ("grant-privilege", "data_scientist"),
        ("grant-privilege", "data_scientist"),
        ("grant-privilege", "data_scientist"),
        ("create-user", "analyst"), ("grant-role", "analyst"),
        ("create-user", "scientist"), ("grant-role", "scientist"),
    ]
    # The privileges granted are the server's normal form of the configured ones (via a temporary role).
    assert [c.detail for c in report.changes if c.kind == "grant-privilege"] == [
        "role data_scientist: GRANT EXECUTE PROCEDURE gds.* ON DBMS TO `data_scientist`",
        "role data_scientist: GRANT MATCH {*} ON GRAPH `neo4j` NODE * TO `data_scientist`",
        "role data_scientist: GRANT MATCH {*} ON GRAPH `neo4j` RELATIONSHIP * TO `data_scientist`",
    ]
    statements = writes(transport)
    assert statements.index("CREATE ROLE `neo4jcluster_tmp_data_scientist`") < \
        statements.index("GRANT MATCH {*} ON GRAPH neo4j TO `neo4jcluster_tmp_data_scientist`")
    assert statements.count("DROP ROLE `neo4jcluster_tmp_data_scientist` IF EXISTS") == 2  # before and after
    assert statements.index("CREATE ROLE `data_scientist`") < statements.index("GRANT ROLE `data_scientist` TO "
                                                                               "`scientist`")
    # Passwords travel only as parameters, and never into the recording keys.
    creates = [c for c in transport.calls if c.name.startswith("CREATE USER")]
    assert [c.params for c in creates] == [{"password": SECRETS["analyst"]}, {"password": SECRETS["scientist"]}]
    assert all("$password" in c.name for c in creates)


def test_second_run_changes_nothing_from_recorded_enterprise_responses():
    report, transport = apply("security-5.26-applied.json")
    assert report.ok and transport.missing == []
    assert report.changes == []
    assert report.unchanged == ["role data_scientist (3 privileges)", "user analyst (roles: reader)",
                                "user scientist (roles: data_scientist)"]
    # Only the temporary role was touched; nothing of the managed state was written.
    assert all("neo4jcluster_tmp_data_scientist" in statement for statement in writes(transport))


def test_drift_is_corrected_from_recorded_enterprise_responses():
    report, transport = apply("security-5.26-drift.json")
    assert report.ok and transport.missing == []
    assert [c.detail for c in report.changes] == [
        "role data_scientist: REVOKE GRANT WRITE ON GRAPH `neo4j` FROM `data_scientist`",
        "user analyst: password set (it differed from the secret)",
        "user analyst: reactivated",
        "user scientist: role editor revoked",
    ]
    assert report.unmanaged == ["role legacy_etl"]
    assert "user scientist" not in report.unchanged


def test_dry_run_writes_only_the_temporary_role_from_recorded_enterprise_responses():
    report, transport = apply("security-5.26-fresh.json", dry_run=True)
    assert report.ok and report.dry_run
    assert len(report.changes) == 8
    assert all("neo4jcluster_tmp_data_scientist" in statement for statement in writes(transport))


def test_a_privilege_the_server_rejects_is_an_error_naming_it():
    transport = RecordedTransport(ENTERPRISE / "security-5.26-fresh.json")
    bad = (RoleSpec("data_scientist", ("MATCH {*} ON GRAPH neo4j", "TELEPORT ON DBMS")),)
    transport.scenario["endpoints"]["core-1"]["responses"][
        "GRANT TELEPORT ON DBMS TO `neo4jcluster_tmp_data_scientist`"] = {
        "error": {"kind": "query", "code": "Neo.ClientError.Statement.SyntaxError",
                  "message": "Invalid input 'TELEPORT'"}}
    report = apply_security(transport, URI, ADMIN, USERS, bad, SECRETS)
    assert not report.ok
    assert report.errors[0] == ("role data_scientist: the server rejects privilege 'TELEPORT ON DBMS': "
                                "Invalid input 'TELEPORT'")
    assert "DROP ROLE `neo4jcluster_tmp_data_scientist` IF EXISTS" in writes(transport)[-1]


def test_command_applies_the_prod_stack_and_never_prints_passwords(capsys, monkeypatch, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("(recorded runs never open it)")
    monkeypatch.setenv("NEO4J_PASSWORD", ADMIN.password)
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps(SECRETS))
    transport = RecordedTransport(ENTERPRISE / "security-5.26-fresh.json")
    code = main(["--stack", "prod", "--uri", URI, "--ca-cert", str(ca)], transport=transport)
    out = capsys.readouterr()
    assert code == 0, out
    assert out.out.startswith(f"security: applied 8 changes on {URI} (enterprise edition)")
    assert "+ user analyst created" in out.out and "+ user scientist: role data_scientist granted" in out.out
    for secret in (*SECRETS.values(), ADMIN.password):
        assert secret not in out.out + out.err
