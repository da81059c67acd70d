"""scripts/diagnose.py on cluster-only situations, against recorded Neo4j Enterprise responses
(tests/fixtures/enterprise/, derived from the Operations Manual: see the README there)."""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.diagnose import main, parse_prometheus
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from tests.conftest import ENTERPRISE


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")


def diagnose(scenario: str, capsys, tmp_path, *args: str) -> tuple[int, dict]:
    ca = tmp_path / "ca.crt"
    ca.write_text("(recorded runs never open it)")
    transport = RecordedTransport(ENTERPRISE / scenario, tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert",
                 str(ca), "--json", "--max-lag", "0.5", *args], transport=transport)
    report = json.loads(capsys.readouterr().out)
    assert transport.missing == []
    return code, report


def findings(report: dict, area: str) -> list[dict]:
    return [f for f in report["findings"] if f["area"] == area]


def test_healthy_cluster_needs_no_attention_from_recorded_enterprise_responses(capsys, tmp_path):
    code, report = diagnose("cluster-5.26-healthy.json", capsys, tmp_path)
    assert code == 0, report
    assert report["counts"] == {"critical": 0, "warning": 0, "info": report["counts"]["info"]}
    cache = findings(report, "page-cache")
    assert len(cache) == 4 and "hit ratio 99.9%" in cache[0]["summary"] and "of 12.00GiB" in cache[0]["summary"]
    assert findings(report, "leader")[0]["summary"] == ("writers: neo4j → core-1 (core-1.prod.neo4j.internal:7687), "
                                                        "system → core-2 (core-2.prod.neo4j.internal:7687)")


def test_struggling_writer_gets_a_finding_and_an_action_each_from_recorded_enterprise_responses(capsys, tmp_path):
    code, report = diagnose("cluster-5.26-troubled.json", capsys, tmp_path)
    assert code == 1
    slow = findings(report, "slow-query")
    assert len(slow) == 1 and slow[0]["server"] == "core-1"
    assert "neo4j-transaction-4242 by scientist on neo4j, running 73.4 s: MATCH (a:Account), (b:Account)" \
        in slow[0]["summary"]
    assert "TERMINATE TRANSACTION 'neo4j-transaction-4242'" in slow[0]["action"]
    blocked = findings(report, "blocked-transaction")
    assert "is Blocked by: [neo4j-transaction-4249]" in blocked[0]["summary"]
    assert blocked[0]["action"].endswith("end the blocker now: TERMINATE TRANSACTION 'neo4j-transaction-4249'")
    idle = findings(report, "open-transaction")
    assert "neo4j-transaction-4249 by app on neo4j open for 318.0 s without running a query, holding 3 locks" \
        in idle[0]["summary"]
    heap = next(f for f in findings(report, "heap") if f["server"] == "core-1")
    assert heap["severity"] == "warning" and "(95%)" in heap["summary"] and "neo4j:heapSize" in heap["action"]
    cache = next(f for f in findings(report, "page-cache") if f["server"] == "core-1")
    assert cache["severity"] == "warning" and "hit ratio 90.1%" in cache["summary"]
    assert "neo4j:pageCacheSize" in cache["action"]
    # Warnings first, then information.
    severities = [f["severity"] for f in report["findings"]]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)


def test_split_brain_is_critical_from_recorded_enterprise_responses(capsys, tmp_path):
    code, report = diagnose("cluster-5.26-split-brain.json", capsys, tmp_path)
    assert code == 1
    (split,) = findings(report, "split-brain")
    assert split["severity"] == "critical"
    assert split["summary"].startswith("SPLIT BRAIN: neo4j has 2 writers")
    assert "never restart the majority" in split["action"]


def test_lag_and_a_down_server_are_reported_from_recorded_enterprise_responses(capsys, tmp_path):
    code, report = diagnose("cluster-5.26-lagging-secondary.json", capsys, tmp_path)
    assert code == 1
    (lag,) = findings(report, "replication-lag")
    assert lag["severity"] == "warning" and "1200 transactions behind" in lag["summary"]
    code, report = diagnose("cluster-5.26-server-down.json", capsys, tmp_path)
    assert code == 1
    (down,) = findings(report, "reachability")
    assert down["severity"] == "critical" and down["server"] == "replica-1"
    assert "systemctl status neo4j" in down["action"]
    assert any("replica-1 is Unavailable" in f["summary"] for f in findings(report, "membership"))


def test_44_queries_and_metric_names_from_recorded_enterprise_responses(capsys):
    transport = RecordedTransport(ENTERPRISE / "cluster-4.4-healthy.json")
    code = main(["--servers", "core-1=core-1.prod.neo4j.internal:7687", "--json"], transport=transport)
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert [c.name for c in transport.calls if c.name in ("list_queries", "list_transactions")] == \
        ["list_queries", "list_transactions"]
    assert "hit ratio 99.7%" in findings(report, "page-cache")[0]["summary"]
    assert "of 6.00GiB" in findings(report, "page-cache")[0]["summary"]


SERVERS_44 = ("core-1:primary=core-1.prod.neo4j.internal:7687,core-2:primary=core-2.prod.neo4j.internal:7687,"
              "core-3:primary=core-3.prod.neo4j.internal:7687,"
              "replica-1:secondary=replica-1.prod.neo4j.internal:7687")


def diagnose_44(scenario: str | dict, capsys, *args: str) -> tuple[int, dict, RecordedTransport]:
    transport = RecordedTransport(scenario if isinstance(scenario, dict) else ENTERPRISE / scenario)
    code = main(["--servers", SERVERS_44, "--json", "--max-lag", "0.5", *args], transport=transport)
    report = json.loads(capsys.readouterr().out)
    assert transport.missing == []
    return code, report, transport


def test_replication_lag_of_44_is_measured_from_recorded_enterprise_4_4(capsys):
    code, report, _ = diagnose_44("cluster-4.4-healthy.json", capsys)
    assert code == 0, report
    (lag,) = findings(report, "replication-lag")
    assert lag["severity"] == "info"
    assert lag["summary"] == "all 6 copies are at their writer's last committed transaction"


def test_lagging_read_replica_is_a_warning_naming_it_from_recorded_enterprise_4_4(capsys):
    code, report, transport = diagnose_44("cluster-4.4-lagging-replica.json", capsys)
    assert code == 1
    (lag,) = findings(report, "replication-lag")
    assert lag["severity"] == "warning" and lag["server"] == "replica-1"
    assert lag["summary"] == ("replica-1 on neo4j is 14 transactions behind its writer and did not catch up "
                              "within 0.5 s")
    assert {c.endpoint for c in transport.calls_named("show_database_lag")} == {"replica-1"}


def test_44_actions_name_44_commands_from_recorded_enterprise_4_4(capsys):
    code, report, _ = diagnose_44("cluster-4.4-split-brain.json", capsys)
    assert code == 1
    (split,) = findings(report, "split-brain")
    assert "dbms.cluster.overview() on each side" in split["action"] and "SHOW SERVERS" not in split["action"]
    # A database in error: 4.4 names the reason in its `error` column (the 4.4 manual's
    # manage-databases/errors.adoc example: currentStatus "dirty", error "File system permissions").
    scenario = load_scenario(ENTERPRISE / "cluster-4.4-healthy.json")
    rows = scenario["endpoints"]["core-3"]["responses"]["show_databases"]["records"]
    row = next(r for r in rows if r["name"] == "neo4j" and r["address"].startswith("core-3."))
    row.update({"currentStatus": "dirty", "error": "File system permissions"})
    code, report, _ = diagnose_44(scenario, capsys)
    assert code == 1
    (database,) = findings(report, "database")
    assert database["summary"] == "neo4j on core-3 is dirty, requested online: File system permissions"
    assert "read error (SHOW DATABASES)" in database["action"]


def test_prometheus_text_is_parsed_with_labels_and_exponents():
    text = ('# HELP x y\n# TYPE neo4j_dbms_page_cache_hits_total counter\n'
            'neo4j_dbms_page_cache_hits_total 9.8412331E7\n'
            'neo4j_bolt_connections_opened_total{instance="a"} 12\nmalformed line\n')
    assert parse_prometheus(text) == {"neo4j_dbms_page_cache_hits_total": 98412331.0,
                                      "neo4j_bolt_connections_opened_total": 12.0}
