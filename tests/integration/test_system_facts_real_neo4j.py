"""Facts about `system` are read with statements `system` accepts (issue 20, item 1), on the real Community server of
every line (4.4.46, 5.26.30, 2025.10.1: the session's `line_server`). `system` refuses MATCH on all three, which is
why the nightly backup of `system` exited 1: its counts are its users and databases (Community has no roles)."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.bolt import Auth, NeoTransport
from scripts.neo4j_ops.facts import Counts, SystemCounts, count_graph
from tests.integration.conftest import PASSWORD


@pytest.fixture
def client(line_server):
    transport = NeoTransport(timeout=30)
    try:
        yield transport.client(line_server.uri, Auth("neo4j", PASSWORD))
    finally:
        transport.close()


def test_system_is_counted_with_statements_system_accepts_on_every_line(line_server, client):
    with line_server.server.driver() as admin:
        users = len(admin.execute_query("SHOW USERS", database_="system").records)  # other tests add users
    assert count_graph(client, "system", 30) == SystemCounts(users=users, databases=2, roles=None)


def test_a_standard_database_is_still_counted_by_nodes_and_relationships(line_server, client):
    with line_server.server.driver() as admin:
        nodes = admin.execute_query("MATCH (n) RETURN count(n) AS c", database_="neo4j").records[0]["c"]
        relationships = admin.execute_query("MATCH ()-[r]->() RETURN count(r) AS c", database_="neo4j").records[0]["c"]
    assert count_graph(client, "neo4j", 30) == Counts(nodes, relationships)
