"""Small Cypher chores of the tests against a real server (a LocalNeo4j of tests/support/neo4j_local.py, any
line): whether a user can log in."""
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

