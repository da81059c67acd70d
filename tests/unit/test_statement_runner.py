"""The one `Run` (queries.py): a statement goes to its own database, in its own mode, filed under its name."""
from __future__ import annotations

from scripts.neo4j_ops.bolt import Reply, statement_runner
from scripts.neo4j_ops.queries import SHOW_DATABASES, Named


class RecordingClient:
    uri = "neo4j://core-1:7687"

    def __init__(self):
        self.calls = []

    def run(self, name, cypher, params=None, *, database=None, write=False, bookmarks=(), timeout=None):
        self.calls.append((name, cypher, params, database, write, timeout))
        return Reply(records=[{"name": "neo4j"}])


def test_a_named_read_goes_to_its_database_as_a_read_under_its_name():
    client = RecordingClient()
    records = statement_runner(client, timeout=7)(SHOW_DATABASES)
    assert records == [{"name": "neo4j"}]
    assert client.calls == [("show_databases", "SHOW DATABASES YIELD *", None, "system", False, 7)]


def test_a_statement_built_at_run_time_is_a_write_filed_under_its_own_text():
    client = RecordingClient()
    statement = Named.built("ALTER DATABASE `sales` SET TOPOLOGY 3 PRIMARIES", "system")
    statement_runner(client)(statement, {"x": 1})
    assert client.calls == [(statement.cypher, statement.cypher, {"x": 1}, "system", True, None)]
