"""Small Cypher chores of the tests against a real server (a LocalNeo4j of tests/support/neo4j_local.py, any
line): whether a user can log in, waiting until the server shows the transactions a test started, and ending
the queries a test left running on a shared server."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


def wait_for_transactions(local: LocalNeo4j, holds: Callable[[list[dict[str, Any]]], bool],
                          timeout: float = 60) -> bool:
    """Poll SHOW TRANSACTIONS (as the admin) until `holds(rows)` is true; each row has currentQuery, status and
    elapsed (seconds, the server's own elapsedTime). False when `timeout` passes first (the test's own
    assertions then say what is missing)."""
    deadline = time.monotonic() + timeout
    with local.server.driver() as admin:
        while True:
            records, _, _ = admin.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery, status, elapsedTime RETURN currentQuery, status, elapsedTime")
            rows = [{"currentQuery": r["currentQuery"] or "", "status": r["status"] or "",
                     "elapsed": r["elapsedTime"].days * 86400 + r["elapsedTime"].seconds
                     + r["elapsedTime"].nanoseconds / 1e9} for r in records]
            if holds(rows):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


def running_longer_than(rows: list[dict[str, Any]], starting_with: str, seconds: float) -> bool:
    """A transaction whose current query starts with `starting_with` has run more than `seconds`."""
    return any(r["currentQuery"].startswith(starting_with) and r["elapsed"] > seconds for r in rows)
