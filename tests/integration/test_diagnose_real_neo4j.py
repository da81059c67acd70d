"""scripts/diagnose.py against a real Neo4j Community 5.26: a slow query and an open transaction."""
from __future__ import annotations

import json
import threading

import pytest

from scripts.neo4j_ops.diagnose import main
from tests.integration.conftest import PASSWORD
from tests.support.cypher import running_longer_than, terminate_queries, wait_for_transactions

pytestmark = pytest.mark.integration
SLOW = "UNWIND range(1, 2000000000) AS x WITH x WHERE x % 7 = 0 RETURN count(*) AS n"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)


def diagnose(capsys, neo4j_server, *extra: str) -> tuple[int, dict]:
    code = main(["--uri", neo4j_server.uri, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_quiet_server_needs_no_attention(neo4j_server, capsys):
    code, report = diagnose(capsys, neo4j_server)
    assert code == 0, report
    areas = {f["area"] for f in report["findings"]}
    assert {"heap", "page-cache", "transactions", "leader"} <= areas
    heap = next(f for f in report["findings"] if f["area"] == "heap")
    assert "MiB used" in heap["summary"]  # read from JMX java.lang:type=Memory
    page_cache = next(f for f in report["findings"] if f["area"] == "page-cache")
    assert "size 32.00MiB" in page_cache["summary"] and "no metrics endpoint" in page_cache["summary"]


def test_slow_query_and_open_transaction_are_reported_with_actions(neo4j_server, capsys):
    driver = neo4j_server.server.driver()
    slow_done = threading.Event()

    def slow_query():
        try:  # an auto-commit query: execute_query would retry it after TERMINATE
            with driver.session() as session:
                session.run(SLOW).consume()
        except Exception:  # noqa: BLE001 - terminated below
            pass
        finally:
            slow_done.set()

    threading.Thread(target=slow_query, daemon=True).start()
    session = driver.session()
    open_tx = session.begin_transaction()
    open_tx.run("CREATE (:DiagnoseProbe {at: timestamp()})").consume()
    try:  # the slow query has run past --slow-query's second (by the server's clock)
        wait_for_transactions(neo4j_server, lambda rows: running_longer_than(rows, "UNWIND range(1, 2000000000)", 1.2))
        code, report = diagnose(capsys, neo4j_server, "--slow-query", "1")
        assert code == 1
        slow = next(f for f in report["findings"] if f["area"] == "slow-query")
        assert slow["severity"] == "warning" and "UNWIND range(1, 2000000000)" in slow["summary"]
        assert "TERMINATE TRANSACTION 'neo4j-transaction-" in slow["action"] and "PROFILE" in slow["action"]
        idle = next(f for f in report["findings"] if f["area"] == "open-transaction")
        assert "without running a query" in idle["summary"] and "holding" in idle["summary"]
        counts = next(f for f in report["findings"] if f["area"] == "transactions")
        assert counts["summary"].endswith("2 open transactions")
    finally:
        open_tx.rollback()
        session.close()
        terminate_queries(neo4j_server, "UNWIND range(1, 2000000000)")
        slow_done.wait(30)
        driver.close()


def test_text_report_lists_findings_with_their_actions(neo4j_server, capsys):
    code = main(["--uri", neo4j_server.uri])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("diagnose: 1 server of neo4j://127.0.0.1:")
    assert "Neo4j 5.26.30 community" in out
    assert "summary: 0 critical, 0 warning" in out and "nothing needs attention" in out
