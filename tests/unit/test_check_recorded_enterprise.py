"""Cluster-only behaviour of scripts/check.py (several servers, roles, leaders, lag, RBAC, metrics),
against recorded Neo4j Enterprise responses (tests/fixtures/enterprise/, derived from the Operations
Manual's documented output: see the README there). The whole command runs, only the transport is
replayed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.checks import main
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from tests.conftest import ENTERPRISE

ADMIN = "admin-secret-not-real"
USERS = {"analyst": "analyst-secret-not-real", "scientist": "scientist-secret-not-real"}


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", ADMIN)
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps(USERS))


def replay(scenario: str | dict, capsys, ca: Path, *args: str, stack: bool = True):
    """Run check.py against a recorded scenario; the prod stack's outputs and config when `stack`."""
    transport = RecordedTransport(scenario if isinstance(scenario, dict) else ENTERPRISE / scenario,
                                  tls=TlsOptions(str(ca)))
    argv = ["--ca-cert", str(ca), *args]
    if stack:
        argv = ["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), *argv]
    code = main(argv, transport=transport)
    out = capsys.readouterr().out
    status = {p[1]: p[0] for p in (line.split() for line in out.splitlines())
              if len(p) >= 2 and p[0] in ("PASS", "FAIL", "SKIP")}
    lines = {p[1]: line for line, p in ((line, line.split()) for line in out.splitlines())
             if len(p) >= 2 and p[0] in ("PASS", "FAIL", "SKIP")}
    return code, out, status, lines, transport


def test_healthy_cluster_passes_every_check_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, transport = replay("cluster-5.26-healthy.json", capsys, ca)
    assert code == 0, out
    assert transport.missing == []
    expected_pass = ["bolt:core-1", "bolt:core-2", "bolt:core-3", "bolt:replica-1", "topology", "databases",
                     "writers", "replication-lag", "routing", "haproxy", "tls", "users", "reader-cannot-write",
                     "metrics"]
    assert {name: status[name] for name in expected_pass} == dict.fromkeys(expected_pass, "PASS")
    assert status["backup-bucket"] == "SKIP"
    assert "fault tolerance 1" in lines["topology"]
    assert "core-1=primary, core-2=primary, core-3=primary, replica-1=secondary" in lines["topology"]
    assert "neo4j → core-1" in lines["writers"] and "system → core-2" in lines["writers"]
    # The overview table, like the classic cluster overview.
    assert "core-1     core-1.prod.neo4j.internal:7687     leader     neo4j     online  -" in out
    assert "replica-1  replica-1.prod.neo4j.internal:7687  secondary  neo4j     online  0 tx, 0.0 s" in out
    # Servers are asked in parallel; HAProxy's read frontend is the stack's port 7689.
    assert {c.endpoint for c in transport.calls_named("components")} == {"core-1", "core-2", "core-3", "replica-1"}
    assert sorted(c.endpoint for c in transport.calls_named("probe_read")) == ["haproxy-read", "routing"]
    # The probe write ran on the routing URI as the admin user and was deleted there.
    assert sorted((c.endpoint, c.write) for c in transport.calls_named("probe_delete")) == [("haproxy", True),
                                                                                           ("routing", True)]


def test_split_brain_is_reported_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, _ = replay("cluster-5.26-split-brain.json", capsys, ca)
    assert code == 1
    assert status["writers"] == "FAIL"
    line = lines["writers"]
    assert "SPLIT BRAIN: database neo4j has 2 writers" in line
    assert "core-1 (core-1.prod.neo4j.internal:7687) according to core-1, core-2, replica-1" in line
    assert "core-3 (core-3.prod.neo4j.internal:7687) according to core-3" in line
    assert "Stop client writes" in line
    assert out.rstrip().endswith(")") and "1 check failed: writers" in out


def test_database_without_a_leader_is_reported_from_recorded_enterprise_responses(capsys, ca):
    code, _, status, lines, _ = replay("cluster-5.26-no-leader.json", capsys, ca)
    assert code == 1 and status["writers"] == "FAIL"
    assert "database neo4j has NO writer (no leader)" in lines["writers"]


def test_lagging_secondary_fails_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, transport = replay("cluster-5.26-lagging-secondary.json", capsys, ca,
                                                 "--max-lag", "0.5")
    assert code == 1 and status["replication-lag"] == "FAIL"
    assert "replica-1 on neo4j is 1200 transactions behind the writer and did not catch up within 0.5 s" \
        in lines["replication-lag"]
    assert "1200 tx" in out and "(behind)" in out
    polls = transport.calls_named("show_database_lag")
    assert polls and {c.endpoint for c in polls} == {"replica-1"}  # only the lagging copy is polled


def test_secondary_that_catches_up_passes_with_its_lag_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, transport = replay("cluster-5.26-lag-catches-up.json", capsys, ca, "--max-lag", "5")
    assert code == 0, out
    assert status["replication-lag"] == "PASS"
    assert "worst: replica-1 on neo4j: 1200 transactions, caught up in" in lines["replication-lag"]
    assert len(transport.calls_named("show_database_lag")) == 3


def test_unreachable_server_is_named_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, _ = replay("cluster-5.26-server-down.json", capsys, ca)
    assert code == 1
    assert status["bolt:replica-1"] == "FAIL"
    assert "replica-1 (bolt://replica-1.prod.neo4j.internal:7687): cannot reach" in lines["bolt:replica-1"]
    assert "replica-1 is Unavailable" in lines["topology"]
    assert "Server is unavailable" in lines["databases"]
    assert "replica-1  replica-1.prod.neo4j.internal:7687  -" in out and "unreachable" in out
    assert status["bolt:core-1"] == status["writers"] == status["routing"] == "PASS"


def test_free_server_is_reported_from_recorded_enterprise_responses(capsys, ca):
    code, _, status, lines, _ = replay("cluster-5.26-free-server.json", capsys, ca)
    assert code == 1 and status["topology"] == "FAIL"
    assert "(replica-2.prod.neo4j.internal:7687) is Free: started but never enabled" in lines["topology"]


def test_server_in_the_wrong_role_is_reported_from_recorded_enterprise_responses(capsys, ca):
    code, _, status, lines, _ = replay("cluster-5.26-wrong-role.json", capsys, ca)
    assert code == 1 and status["topology"] == "FAIL"
    assert "replica-1 hosts databases as primary, expected secondary" in lines["topology"]


def test_reader_that_can_write_is_reported_loudly_from_recorded_enterprise_responses(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    del scenario["endpoints"]["routing"]["responses"]["probe_write@analyst"]
    code, _, status, lines, transport = replay(scenario, capsys, ca)
    assert code == 1 and status["reader-cannot-write"] == "FAIL"
    assert "READER CAN WRITE: analyst created a node on neo4j" in lines["reader-cannot-write"]
    # …and the node it created was removed as the admin.
    assert [c.user for c in transport.calls_named("probe_delete")].count("neo4j") == 3


def test_missing_user_and_role_are_reported_from_recorded_enterprise_responses(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    for endpoint in scenario["endpoints"].values():
        if "show_users" in endpoint.get("responses", {}):
            endpoint["responses"]["show_users"]["records"] = endpoint["responses"]["show_users"]["records"][:2]
            endpoint["responses"]["show_roles"]["records"] = [{"role": "reader"}, {"role": "admin"}]
    code, _, status, lines, _ = replay(scenario, capsys, ca)
    assert code == 1 and status["users"] == "FAIL"
    assert "role data_scientist is missing" in lines["users"] and "user scientist is missing" in lines["users"]
    assert "run scripts/security.py" in lines["users"]


def test_metrics_endpoint_down_fails_naming_the_server_from_recorded_enterprise_responses(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    scenario["endpoints"]["core-2"]["metrics"]["status"] = 503
    code, _, status, lines, _ = replay(scenario, capsys, ca)
    assert code == 1 and status["metrics"] == "FAIL"
    assert lines["metrics"].split("  ", 2)[-1].strip() == \
        "core-2 (http://core-2.prod.neo4j.internal:2004/metrics): HTTP 503"


def test_plain_bolt_accepted_although_tls_is_required_from_recorded_enterprise_responses(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    scenario["endpoints"]["core-3"]["tls"]["plain"] = "accepted"
    code, _, status, lines, _ = replay(scenario, capsys, ca)
    assert code == 1 and status["tls"] == "FAIL"
    assert "core-3 accepts plain (unencrypted) Bolt although TLS is required" in lines["tls"]


SERVERS_44 = ("core-1:primary=core-1.prod.neo4j.internal:7687,core-2:primary=core-2.prod.neo4j.internal:7687,"
              "core-3:primary=core-3.prod.neo4j.internal:7687,"
              "replica-1:secondary=replica-1.prod.neo4j.internal:7687")
ROUTING_44 = "neo4j://core-1.prod.neo4j.internal:7687"
# The columns of the 4.4 Operations Manual's lag query (docs-operations, branch 4.4, clustering/deploy.adoc).
LAG_COLUMNS_44 = "YIELD name, serverID, address, role, lastCommittedTxn, replicationLag"


def test_cluster_overview_of_44_from_recorded_enterprise_responses(capsys, ca):
    code, out, status, lines, transport = replay(
        "cluster-4.4-healthy.json", capsys, ca, "--servers", SERVERS_44, "--uri", ROUTING_44,
        "--expect-version", "4.4", stack=False)
    assert code == 0, out
    assert transport.missing == []
    assert status["topology"] == "PASS" and "dbms.cluster.overview()" in lines["topology"]
    assert transport.calls_named("show_servers") == []  # 4.4 has no SHOW SERVERS
    assert "core-1     core-1.prod.neo4j.internal:7687     leader" in out


def test_replication_lag_passes_when_every_copy_is_at_the_leader_from_recorded_enterprise_4_4(capsys, ca):
    code, out, status, lines, transport = replay("cluster-4.4-healthy.json", capsys, ca, "--servers", SERVERS_44,
                                                 "--uri", ROUTING_44, stack=False)
    assert code == 0, out
    assert status["replication-lag"] == "PASS"
    # 3 copies besides the leader, of neo4j and of system.
    assert "all 6 copies are at their writer's last committed transaction" in lines["replication-lag"]
    assert "replica-1  replica-1.prod.neo4j.internal:7687  secondary  neo4j     online  0 tx, 0.0 s" in out
    assert transport.calls_named("show_database_lag") == []  # nothing behind: nothing to poll


def test_lagging_read_replica_fails_naming_it_from_recorded_enterprise_4_4(capsys, ca):
    code, out, status, lines, transport = replay("cluster-4.4-lagging-replica.json", capsys, ca,
                                                 "--servers", SERVERS_44, "--uri", ROUTING_44, "--max-lag", "0.5",
                                                 stack=False)
    assert code == 1 and status["replication-lag"] == "FAIL"
    assert transport.missing == []
    assert lines["replication-lag"].split("  ", 2)[-1].strip() == (
        "replica-1 on neo4j is 14 transactions behind the writer and did not catch up within 0.5 s")
    assert "14 tx" in out and "(behind)" in out
    assert "1 check failed: replication-lag" in out
    polls = transport.calls_named("show_database_lag")
    assert polls and {c.endpoint for c in polls} == {"replica-1"}
    # 4.4 is asked as its manual does: no writer column (4.4 has none; asking for it is an error there).
    assert {c.params["database"] for c in polls} == {"neo4j"}
    assert all(LAG_COLUMNS_44 in c.cypher and "writer" not in c.cypher for c in polls)


def test_read_replica_that_catches_up_within_max_lag_passes_from_recorded_enterprise_4_4(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-4.4-lagging-replica.json")
    replica = scenario["endpoints"]["replica-1"]["responses"]
    behind = replica['show_database_lag {"database": "neo4j"}']
    caught_up = {"records": [r | {"lastCommittedTxn": 21423, "replicationLag": 0} for r in behind["records"]]}
    replica['show_database_lag {"database": "neo4j"}'] = [behind, caught_up]
    code, out, status, lines, transport = replay(scenario, capsys, ca, "--servers", SERVERS_44, "--uri", ROUTING_44,
                                                 "--max-lag", "5", stack=False)
    assert code == 0, out
    assert status["replication-lag"] == "PASS"
    assert "worst: replica-1 on neo4j: 14 transactions, caught up in" in lines["replication-lag"]
    assert len(transport.calls_named("show_database_lag")) == 2


def test_split_brain_in_44_is_reported_from_recorded_enterprise_responses(capsys, ca):
    code, _, status, lines, _ = replay("cluster-4.4-split-brain.json", capsys, ca,
                                       "--servers", "core-1.prod.neo4j.internal:7687,core-3.prod.neo4j.internal:7687",
                                       "--uri", ROUTING_44, stack=False)
    assert code == 1 and status["writers"] == "FAIL"
    assert "SPLIT BRAIN: database neo4j has 2 writers" in lines["writers"]


def test_json_output_for_machines_from_recorded_enterprise_responses(capsys, ca):
    code, out, _, _, _ = replay("cluster-5.26-split-brain.json", capsys, ca, "--json")
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    assert document["version"] == "5.26.30" and document["edition"] == "enterprise"
    writers = next(c for c in document["checks"] if c["name"] == "writers")
    assert writers["status"] == "FAIL" and "SPLIT BRAIN" in writers["detail"]
    assert {"server", "address", "role", "database", "health", "lag"} == set(document["servers"][0])


def test_backup_bucket_is_written_and_cleaned_with_moto(capsys, ca, mocked_aws):
    import boto3

    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="prod-backups", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    code, out, status, lines, _ = replay("cluster-5.26-healthy.json", capsys, ca, "--backup-bucket", "prod-backups")
    assert s3.list_objects_v2(Bucket="prod-backups").get("KeyCount") == 0
    assert code == 0, out
    assert "s3://prod-backups: wrote and deleted neo4j-cluster-check/probe-" in lines["backup-bucket"]
    code, _, status, lines, _ = replay("cluster-5.26-healthy.json", capsys, ca, "--backup-bucket", "no-such")
    assert code == 1 and status["backup-bucket"] == "FAIL"
    assert "s3://no-such is not writable: The specified bucket does not exist" in lines["backup-bucket"]
