"""scripts/security.py against a real Neo4j Community 5.26: users (Community has no roles)."""
from __future__ import annotations

import json

import pytest
import yaml

from components.settings import RoleSpec, UserSpec
from scripts.neo4j_ops.bolt import Auth, NeoTransport
from scripts.neo4j_ops.checks import main as check_main
from scripts.neo4j_ops.security import apply_security, main
from tests.integration.conftest import PASSWORD
from tests.support.cypher import can_log_in

pytestmark = pytest.mark.integration

SECRETS = {"analyst": "analyst-secret-1", "scientist": "scientist-secret-1"}


@pytest.fixture
def stack_file(tmp_path):
    path = tmp_path / "Pulumi.itest.yaml"
    path.write_text(yaml.safe_dump({"config": {
        "neo4j:edition": "community", "neo4j:coreCount": 1, "neo4j:tls": "disabled",
        "neo4j:users": [{"name": "analyst"}, {"name": "scientist"}]}}))
    return path


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps(SECRETS))


def apply(capsys, neo4j_server, stack_file, *extra: str) -> tuple[int, dict, str]:
    code = main(["--stack-file", str(stack_file), "--uri", neo4j_server.uri, "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out), out


def test_users_are_created_idempotently(neo4j_server, stack_file, capsys):
    code, first, _ = apply(capsys, neo4j_server, stack_file)
    assert code == 0, first
    assert [(c["kind"], c["target"]) for c in first["changes"]] == [("create-user", "analyst"),
                                                                    ("create-user", "scientist")]
    code, second, _ = apply(capsys, neo4j_server, stack_file)
    assert code == 0
    assert second["changes"] == []
    assert second["unchanged"] == ["user analyst", "user scientist"]
    assert all(can_log_in(neo4j_server, user, password) for user, password in SECRETS.items())


def test_a_changed_secret_sets_the_password_without_printing_it(neo4j_server, stack_file, capsys, monkeypatch):
    apply(capsys, neo4j_server, stack_file)
    rotated = {**SECRETS, "analyst": "analyst-rotated-2"}
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps(rotated))
    code = main(["--stack-file", str(stack_file), "--uri", neo4j_server.uri])
    out = capsys.readouterr()
    assert code == 0
    assert "user analyst: password set" in out.out
    assert "= unchanged: user scientist" in out.out
    for secret in (*rotated.values(), *SECRETS.values(), PASSWORD):
        assert secret not in out.out + out.err
    assert can_log_in(neo4j_server, "analyst", "analyst-rotated-2")
    assert not can_log_in(neo4j_server, "analyst", SECRETS["analyst"])
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps(SECRETS))
    apply(capsys, neo4j_server, stack_file)  # back, for the other tests


def test_dry_run_changes_nothing(neo4j_server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps({"dry_run_user": "dry-run-secret-1"}))
    path = tmp_path / "Pulumi.dry.yaml"
    path.write_text(yaml.safe_dump({"config": {"neo4j:edition": "community", "neo4j:coreCount": 1,
                                               "neo4j:tls": "disabled",  # the test server's Bolt is plain
                                               "neo4j:users": [{"name": "dry_run_user"}]}}))
    code, report, _ = apply(capsys, neo4j_server, path, "--dry-run")
    assert code == 0 and report["dryRun"] is True
    assert [c["kind"] for c in report["changes"]] == ["create-user"]
    with neo4j_server.server.driver() as driver:
        records, _, _ = driver.execute_query("SHOW USERS YIELD user WHERE user = 'dry_run_user' RETURN user",
                                             database_="system")
    assert records == []


def test_a_user_without_a_password_in_the_secret_is_an_error(neo4j_server, tmp_path, capsys):
    path = tmp_path / "Pulumi.nopw.yaml"
    path.write_text(yaml.safe_dump({"config": {"neo4j:edition": "community", "neo4j:coreCount": 1,
                                               "neo4j:tls": "disabled",  # the test server's Bolt is plain
                                               "neo4j:users": [{"name": "nobody_knows"}]}}))
    code, report, _ = apply(capsys, neo4j_server, path)
    assert code == 1
    assert report["errors"] == ["user nobody_knows: no password in the user passwords secret "
                                "(neo4j:userPasswords), so it cannot be created"]


def test_roles_are_refused_on_community_with_a_clear_message(neo4j_server):
    transport = NeoTransport()
    try:
        report = apply_security(transport, neo4j_server.uri, Auth("neo4j", PASSWORD),
                                (UserSpec("analyst", ("data_scientist",)),),
                                (RoleSpec("data_scientist", ("MATCH {*} ON GRAPH neo4j",)),), SECRETS)
    finally:
        transport.close()
    assert not report.ok and report.changes == []
    assert "roles and user roles need Neo4j Enterprise" in report.errors[0]
    assert "community edition" in report.errors[0]


def test_check_finds_the_applied_users(neo4j_server, stack_file, capsys):
    apply(capsys, neo4j_server, stack_file)
    code = check_main(["--uri", neo4j_server.uri, "--stack-file", str(stack_file)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS  users" in out and "user analyst, user scientist" in out
    assert "SKIP  reader-cannot-write" in out and "every user may write" in out
