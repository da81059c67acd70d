"""Facts about `system` are read with statements `system` accepts (issue 20, item 1): it refuses MATCH on every line,
so its counts are its users, databases and (Enterprise) roles; standard databases keep nodes and relationships. And
the rule that judges a real Community server's answer to a recorded statement (issue 20, item 6), with the reading of
recorded keys and scenario lines it relies on."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import BoltError
from scripts.neo4j_ops.facts import Counts, SystemCounts, count_database, count_graph, counts_from_json
from scripts.neo4j_ops.recorded import RecordedTransport, params_key, parse_key
from tests.support.recorded_replay import (
    CONSISTENT,
    CONTRADICTION,
    ENTERPRISE_ONLY,
    preparation,
    recorded_successes,
    scenario_line,
    verdict,
)


class SystemLikeServer:
    """A `run` that answers as a real server does: `system` refuses MATCH ("The following unsupported clauses were
    used: MATCH.", 5.26 and 2025; 4.4 the same words), Community refuses SHOW ROLES."""

    def __init__(self, edition: str = "enterprise"):
        self.edition = edition
        self.sent: list[tuple[str, str | None]] = []

    def __call__(self, statement: q.Named, params=None) -> list[dict]:
        self.sent.append((statement.cypher, statement.database))
        if statement.database == "system" and statement.cypher.startswith("MATCH"):
            raise BoltError("query", "The following unsupported clauses were used: MATCH.",
                            "Neo.ClientError.Statement.SemanticError")
        if statement is q.COMPONENTS:
            return [{"name": "Neo4j Kernel", "versions": ["5.26.30"], "edition": self.edition}]
        if statement.name == "count_roles" and self.edition == "community":
            raise BoltError("query", f"Unsupported administration command: {statement.cypher}",
                            "Neo.ClientError.Statement.UnsupportedAdministrationCommand")
        return [{"count": {"count_nodes": 171, "count_relationships": 253, "count_users": 3, "count_roles": 7,
                           "count_databases": 2}[statement.name]}]


@pytest.mark.parametrize("edition, expected", [("enterprise", SystemCounts(users=3, databases=2, roles=7)),
                                               ("community", SystemCounts(users=3, databases=2))])
def test_system_is_counted_by_its_users_databases_and_roles_never_with_match(edition, expected):
    server = SystemLikeServer(edition)
    assert count_database(server, "system") == expected
    assert all(not cypher.startswith("MATCH") for cypher, _ in server.sent)
    assert all(database == "system" for cypher, database in server.sent if cypher.startswith("SHOW"))


def test_a_standard_database_is_still_counted_by_nodes_and_relationships():
    server = SystemLikeServer()
    assert count_database(server, "neo4j") == Counts(171, 253)
    assert server.sent == [(q.COUNT_NODES.cypher, "neo4j"), (q.COUNT_RELATIONSHIPS.cypher, "neo4j")]


def test_the_edition_given_is_not_asked_again():
    server = SystemLikeServer("community")
    assert count_database(server, "SYSTEM", enterprise=False) == SystemCounts(users=3, databases=2)
    assert q.COMPONENTS.cypher not in [cypher for cypher, _ in server.sent]


def test_count_graph_over_a_recorded_client_sends_system_only_what_system_accepts():
    scenario = {"endpoints": {"core-1": {"uri": "bolt://core-1:7687", "responses": {
        "count_nodes": {"records": [{"count": 1}]}, "count_relationships": {"records": [{"count": 1}]},
        "count_users": {"records": [{"count": 3}]}, "count_databases": {"records": [{"count": 2}]},
        "count_roles": {"records": [{"count": 7}]}}}}}
    transport = RecordedTransport(scenario)
    counts = count_graph(transport.client("bolt://core-1:7687", None), "system", 5, enterprise=True)
    assert counts == SystemCounts(users=3, databases=2, roles=7)
    assert [(c.name, c.database) for c in transport.calls] == [
        ("count_users", "system"), ("count_databases", "system"), ("count_roles", "system")]
    assert all(c.answered for c in transport.calls)


@pytest.mark.parametrize("counts, text, document", [
    (Counts(171, 253), "171 nodes, 253 relationships", {"nodes": 171, "relationships": 253}),
    (SystemCounts(3, 2, 7), "3 users, 7 roles, 2 databases", {"users": 3, "databases": 2, "roles": 7}),
    (SystemCounts(1, 2), "1 users, 2 databases", {"users": 1, "databases": 2}),
])
def test_counts_are_written_and_read_back_as_a_manifest_holds_them(counts, text, document):
    assert str(counts) == text
    assert counts.to_json() == document
    assert counts_from_json(document) == counts


@pytest.mark.parametrize("document, complaint", [
    ({"nodes": 1}, "no 'relationships'"),
    ({"users": 1}, "no 'databases'"),
    ({"users": 1, "databases": True}, "'databases' is bool"),
    ({"nodes": "1", "relationships": 2}, "'nodes' is str"),
    ([1, 2], "not an object"),
])
def test_bad_counts_say_what_is_wrong(document, complaint):
    with pytest.raises(ValueError, match=complaint):
        counts_from_json(document)


# --- replaying recordings against Community: the rule ---------------------------------------------------------


@pytest.mark.parametrize("code, message, expected", [
    (None, "", CONSISTENT),
    # Enterprise-only commands, as 4.4.46, 5.26.30 and 2025.10.1 Community refuse them
    ("Neo.ClientError.Statement.UnsupportedAdministrationCommand", "Unsupported administration command: SHOW ROLES",
     ENTERPRISE_ONLY),
    ("Neo.ClientError.Statement.NotSystemDatabaseError", "Unsupported administration command: SHOW SERVERS YIELD *",
     ENTERPRISE_ONLY),
    ("Neo.DatabaseError.Statement.ExecutionFailed", "Failed to alter the specified user 'analyst': 'SET STATUS' is "
     "not available in community edition.", ENTERPRISE_ONLY),
    ("Neo.ClientError.Procedure.ProcedureNotFound", "There is no procedure with the name `dbms.cluster.overview` "
     "registered for this database instance.", ENTERPRISE_ONLY),
    ("Neo.ClientError.Procedure.ProcedureNotFound", "There is no procedure with the name `dbms.setDefaultDatabase` "
     "registered for this database instance.", ENTERPRISE_ONLY),
    ("Neo.ClientError.Procedure.ProcedureNotFound", "There is no procedure with the name `dbms.setConfigValue` "
     "registered for this database instance.", ENTERPRISE_ONLY),
    # everything else contradicts a recorded success
    ("Neo.ClientError.Statement.SemanticError", "The following unsupported clauses were used: MATCH.", CONTRADICTION),
    ("Neo.DatabaseError.Statement.ExecutionFailed", "The following unsupported clauses were used: MATCH.",
     CONTRADICTION),
    ("Neo.ClientError.Statement.SyntaxError", "Invalid input 'SERVERS': expected", CONTRADICTION),
    ("Neo.ClientError.Statement.SyntaxError", "Variable `writer` not defined (line 1, column 52)", CONTRADICTION),
    ("Neo.ClientError.Statement.ParameterMissing", "Expected parameter(s): database", CONTRADICTION),
    ("Neo.ClientError.Procedure.ProcedureNotFound", "There is no procedure with the name `dbms.listQueries` "
     "registered for this database instance.", CONTRADICTION),
    ("Neo.ClientError.Statement.NotSystemDatabaseError", "This is an administration command and it should be "
     "executed against the system database: SHOW USERS", CONTRADICTION),
])
def test_a_refusal_is_enterprise_only_when_community_lacks_the_feature(code, message, expected):
    assert verdict(code, message) == expected


@pytest.mark.parametrize("name, line", [("cluster-4.4-healthy.json", "4.4"), ("4.4-offline.json", "4.4"),
                                        ("cluster-5.26-troubled.json", "5"), ("2025.10-alias.json", "2025"),
                                        ("scale-out-2025-auto-enabled.json", "2025"), ("scale-in-5.26.json", "5")])
def test_a_scenario_is_of_the_line_its_file_name_says(name, line):
    assert scenario_line(Path(name)) == line


@pytest.mark.parametrize("params, user", [({}, None), ({"database": "neo4j"}, None), ({"via": "x"}, "analyst")])
@pytest.mark.parametrize("name", ["show_database_lag", "GRANT MATCH {*} ON GRAPH neo4j TO `x`",
                                  "CREATE DATABASE `a` OPTIONS {existingData: 'use'}"])
def test_a_recorded_key_reads_back_as_name_user_and_params(name, params, user):
    key = " ".join(part for part in (f"{name}@{user}" if user else name, params_key(params)) if part)
    assert parse_key(key) == (name, user, params)


def test_user_statements_run_in_the_state_they_were_recorded_in():
    assert preparation("CREATE USER `analyst` SET PASSWORD $password") == ["DROP USER `analyst` IF EXISTS"]
    assert preparation("ALTER USER `analyst` SET STATUS ACTIVE")[1].startswith("CREATE USER `analyst`")
    assert preparation("ALTER USER `neo4j` SET PASSWORD $password") == []
    assert preparation("SHOW USERS") == []


def test_every_line_has_recorded_statements_to_replay_and_system_gets_no_match():
    for line in ("4.4", "5", "2025"):
        statements = recorded_successes(line)
        assert statements, line
        assert not [s for s in statements if s.database == "system" and s.cypher.startswith("MATCH")]
