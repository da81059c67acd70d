"""The primaries but the first set the initial password without reading it (issue 26, item 3): they write the
admin's line of data/dbms/auth.ini from its own secret (components/passwords.admin_auth_line). On real Community
servers of every line: the line is what `neo4j-admin [dbms] set-initial-password` writes for the same password and
salt, and a server started from our line alone logs the admin in with the password (and refuses another)."""
from __future__ import annotations

import re

import neo4j
import pytest
from neo4j import GraphDatabase

from components.passwords import admin_auth_line, auth_line
from tests.support.neo4j_dist import NEO4J_VERSIONS
from tests.support.neo4j_local import _auth_file, prepare, start_all

pytestmark = pytest.mark.integration

PASSWORD = "Hashed-admin-pass-7"


@pytest.mark.parametrize("line", sorted(NEO4J_VERSIONS))
def test_our_auth_line_is_what_neo4j_admin_writes_for_that_salt(line):
    written = _auth_file(PASSWORD, NEO4J_VERSIONS[line]).strip()
    match = re.fullmatch(r"neo4j:SHA-256,([0-9a-f]{64}),([0-9a-f]{64}),1024:", written)
    assert match, written
    assert auth_line("neo4j", PASSWORD, bytes.fromhex(match[2])) == written
    assert auth_line("neo4j", PASSWORD + "!", bytes.fromhex(match[2])) != written


@pytest.mark.parametrize("line", sorted(NEO4J_VERSIONS))
def test_a_server_started_from_our_auth_line_logs_the_admin_in_with_the_password(line, tmp_path):
    local = prepare(tmp_path / "n1", password="replaced-below-1", version=NEO4J_VERSIONS[line])
    # As setup-neo4j.sh writes it: the secret's text with the newline `aws --output text` ends it with.
    (local.home / "data" / "dbms" / "auth.ini").write_text(admin_auth_line(PASSWORD, "test") + "\n")
    local.password = PASSWORD
    local.server.auth = ("neo4j", PASSWORD)
    start_all([local])
    try:
        with GraphDatabase.driver(local.uri, auth=("neo4j", PASSWORD)) as driver:
            records, _, _ = driver.execute_query("SHOW CURRENT USER YIELD user, passwordChangeRequired",
                                                 database_="system")
            assert records[0]["user"] == "neo4j" and records[0]["passwordChangeRequired"] is False
        with GraphDatabase.driver(local.uri, auth=("neo4j", "replaced-below-1")) as wrong, \
                pytest.raises(neo4j.exceptions.AuthError):
            wrong.verify_connectivity()
    finally:
        local.stop()
