"""check's overview names why a server gave no facts: a refused login, a failed TLS handshake, a query that ran
past --timeout (the server answered, slowly: a README block's check once showed such a server as
"unreachable"), or no answer at all."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.bolt import AUTH, TIMEOUT, TLS, UNREACHABLE, Auth, BoltError, TlsOptions
from scripts.neo4j_ops.checks.overview import overview_rows
from scripts.neo4j_ops.facts import ServerFacts, ServerSpec
from scripts.neo4j_ops.target import Target


@pytest.mark.parametrize(("kind", "health"), [(AUTH, "auth failed"), (TLS, "tls failed"), (TIMEOUT, "too slow"),
                                              (UNREACHABLE, "unreachable")])
def test_a_server_without_facts_is_shown_with_the_reason(kind, health):
    spec = ServerSpec("core-1", "bolt://127.0.0.1:7687")
    target = Target(servers=[spec], servers_given=False, routing_uri=None, auth=Auth("neo4j", "pw"),
                    tls=TlsOptions())
    rows = overview_rows(target, [ServerFacts(spec, error=BoltError(kind, "what the driver said"))], [])
    assert [row["health"] for row in rows] == [health]
