"""`make migrate … ARGS=--users-only` on real Community servers (issue 24, item 3): users of a 4.4.46 server re-created
on a 5.26.30 server by scripts/neo4j_ops/upgrade/migrate_command.py, over Bolt, as a real run does it.

Community has one user store and no roles (SHOW ROLES and SHOW PRIVILEGES AS COMMANDS are Enterprise): the users
alone are re-created here; roles and privileges are planned from the recorded Enterprise stacks (tests/unit/
test_migrate.py). The Guide restores every database "except the system database", so users come from 4.4's SHOW
USERS: each with the password given for it, change required (SHOW USERS gives no password). The 4.4 server is only
read: its users are as they were."""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.upgrade.migrate_command import main
from tests.support.cypher import can_log_in
from tests.support.neo4j_dist import NEO4J_VERSIONS
from tests.support.neo4j_local import prepare, start_all

pytestmark = pytest.mark.integration

ADMIN = "migrate-admin-secret-1"
USERS = {"analyst": "analyst-secret-1", "viewer": "viewer-secret-1"}


def users_of(local) -> dict[str, bool]:
    with local.server.driver() as driver:
        rows = driver.execute_query("SHOW USERS YIELD user, passwordChangeRequired", database_="system").records
    return {r["user"]: r["passwordChangeRequired"] for r in rows}


def test_users_of_a_44_server_are_recreated_on_526_with_the_given_passwords_and_44_is_unchanged(
        tmp_path, monkeypatch, capsys):
    old = prepare(tmp_path / "old", password=ADMIN, version=NEO4J_VERSIONS["4.4"])
    new = prepare(tmp_path / "new", password=ADMIN, version=NEO4J_VERSIONS["5"])
    try:
        start_all([old, new])
        with old.server.driver() as driver:
            for user in USERS:
                driver.execute_query(f"CREATE USER {user} SET PASSWORD 'old-{user}-1' CHANGE NOT REQUIRED",
                                     database_="system")
        before = users_of(old)
        assert before == {"neo4j": False, "analyst": False, "viewer": False}
        passwords = tmp_path / "passwords.json"
        passwords.write_text(json.dumps(USERS))
        monkeypatch.setenv("NEO4J_PASSWORD", ADMIN)
        code = main(["--from", "legacy", "--to", "fresh", "--from-uri", old.uri, "--to-uri", new.uri, "--users-only",
                     "--user-passwords-file", str(passwords), "--quiet"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "done: CREATE USER `analyst` SET PASSWORD $password CHANGE REQUIRED" in out
        assert "kept as fresh has them: neo4j" in out
        assert "FROM has no roles to read (SHOW ROLES is Enterprise): users only" in out
        assert users_of(new) == {"neo4j": False, "analyst": True, "viewer": True}
        for user, password in USERS.items():
            assert can_log_in(new, user, password)
            assert not can_log_in(new, user, f"old-{user}-1")
        assert users_of(old) == before  # FROM only read
        assert can_log_in(old, "analyst", "old-analyst-1")

        # a second run: TO has the users now, so nothing is re-created
        code = main(["--from", "legacy", "--to", "fresh", "--from-uri", old.uri, "--to-uri", new.uri, "--users-only",
                     "--quiet"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        assert "kept as fresh has them: analyst, neo4j, viewer" in out and "done:" not in out
    finally:
        old.stop()
        new.stop()
