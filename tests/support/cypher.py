"""Small Cypher chores of the tests against a real server (a LocalNeo4j of tests/support/neo4j_local.py, any
line): whether a user can log in, and ending the queries a test left running on a shared server."""
from __future__ import annotations

from tests.support.neo4j_local import LocalNeo4j


def can_log_in(local: LocalNeo4j, user: str, password: str) -> bool:
    """True when `user` gets a connection with `password`, False when the server refuses the credentials."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    try:
        with GraphDatabase.driver(local.uri, auth=(user, password)) as driver:
            driver.verify_connectivity()
        return True
    except AuthError:
        return False


def terminate_queries(local: LocalNeo4j, starting_with: str) -> None:
    """Terminate (as the admin) every transaction whose current query starts with `starting_with`."""
    with local.server.driver() as admin:
        records, _, _ = admin.execute_query(
            "SHOW TRANSACTIONS YIELD transactionId AS id, currentQuery "
            "WHERE currentQuery STARTS WITH $start RETURN id", start=starting_with)
        if records:
            admin.execute_query("TERMINATE TRANSACTIONS $ids", ids=[r["id"] for r in records])
