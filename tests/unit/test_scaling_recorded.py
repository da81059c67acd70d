"""Scaling against responses recorded (derived) from the Operations Manual's examples: the exact Cypher sent,
in order, and the refusals. The scenarios are tests/fixtures/enterprise/scaling/*.json (derive.py there);
every write the code sends must be one the scenario answers, so an unexpected statement fails the run."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import Auth, statement_runner
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.scaling.plan import ScalingRefusedError
from scripts.neo4j_ops.scaling.run import Wait, scale_in, scale_out
from scripts.neo4j_ops.scaling.statements import literal, topology_statement
from scripts.neo4j_ops.shared.errors import OperationError, UsageError
from scripts.neo4j_ops.shared.versions import Version
from tests.conftest import ENTERPRISE

SCALING_FIXTURES = ENTERPRISE / "scaling"
ROUTING = "neo4j://core-1.prod.neo4j.internal:7687"
REPLICA_2 = "0d9e4c71-5a3b-4f6e-8e21-7c5b9a1d3f42"
REPLICA_2_ADDRESS = "replica-2.prod.neo4j.internal:7687"
ALTER = "ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES"
SHOW_SERVERS, SHOW_DATABASES = q.SHOW_SERVERS.cypher, q.SHOW_DATABASES.cypher
V526, V2025, V44 = Version.parse("5.26.30"), Version.parse("2025.10.1"), Version.parse("4.4.46")


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Cluster:
    """A recorded cluster: `run` for the scaling functions, and what was sent."""

    def __init__(self, scenario: str):
        self.transport = RecordedTransport(SCALING_FIXTURES / scenario)
        client = self.transport.client(ROUTING, Auth("neo4j", "not-a-real-password"))
        self.run = statement_runner(client, timeout=5)
        self.clock = Clock()
        self.wait = Wait(timeout_seconds=120, interval_seconds=5, sleep=self.clock.sleep, clock=self.clock)
        self.progress: list[str] = []

    def sent(self) -> list[str]:
        assert self.transport.missing == []
        return [call.cypher for call in self.transport.calls]

    def writes(self) -> list[tuple[str, dict]]:
        return [(c.cypher, c.params) for c in self.transport.calls if c.write]


# --- scale out ------------------------------------------------------------------------------------------


def test_scale_out_from_recorded_5_26_enables_the_server_left_free_sets_the_topology_and_waits():
    cluster = Cluster("scale-out-5.26.json")
    result = scale_out(cluster.run, V526, None, 3, 2, cluster.progress.append,
                       expected_addresses=[REPLICA_2_ADDRESS], wait=cluster.wait)
    assert cluster.sent() == [
        SHOW_SERVERS,  # 4 servers: replica-2 not listed yet
        SHOW_SERVERS,  # replica-2 Free (automatic enabling gets one poll)
        SHOW_SERVERS,  # still Free: enabled here
        f"ENABLE SERVER '{REPLICA_2}'",
        SHOW_SERVERS,  # Enabled
        SHOW_SERVERS,  # capacity for the topology
        SHOW_DATABASES,  # which databases
        ALTER,
        SHOW_DATABASES,  # neo4j store copying to replica-2
        SHOW_DATABASES,  # online
    ]
    assert cluster.writes() == [(f"ENABLE SERVER '{REPLICA_2}'", {}),
                                (ALTER, {"dbname": "neo4j", "primary": 3, "secondary": 2})]
    assert all(c.database == "system" for c in cluster.transport.calls)
    assert [s.cypher for s in result.statements] == [f"ENABLE SERVER '{REPLICA_2}'", ALTER]
    assert any("1/2 secondaries, not yet on replica-2" in line for line in cluster.progress)
    assert cluster.clock.now == 20.0  # four polls waited 5 s each
    assert result.notes == ["neo4j: 3 primaries, 2 secondaries, all online"]


def test_scale_out_from_recorded_2025_sends_no_enable_for_a_server_enabled_automatically():
    cluster = Cluster("scale-out-2025-auto-enabled.json")
    scale_out(cluster.run, V2025, None, 3, 2, cluster.progress.append, wait=cluster.wait)
    assert [c for c in cluster.sent() if not c.startswith("SHOW")] == [ALTER]
    assert cluster.writes() == [(ALTER, {"dbname": "neo4j", "primary": 3, "secondary": 2})]


def test_scale_out_names_only_the_databases_given():
    cluster = Cluster("scale-out-2025-auto-enabled.json")
    with pytest.raises(OperationError, match="movies online on 0/3 primaries"):
        scale_out(cluster.run, V2025, ["movies", "system"], 3, 2, cluster.progress.append, wait=cluster.wait)
    assert cluster.writes() == [(ALTER, {"dbname": "movies", "primary": 3, "secondary": 2})]  # never system


def test_scale_out_gives_up_with_what_is_missing_and_changes_nothing(tmp_path):
    cluster = Cluster("scale-out-2025-auto-enabled.json")
    with pytest.raises(OperationError) as failed:
        scale_out(cluster.run, V2025, None, 3, 3, cluster.progress.append, wait=cluster.wait,
                  expected_addresses=["replica-3.prod.neo4j.internal:7687"])
    assert "replica-3.prod.neo4j.internal:7687 not listed by SHOW SERVERS yet after 120s" in str(failed.value)
    assert "run the same command again" in str(failed.value)
    assert cluster.writes() == []


def test_scale_out_dry_run_reads_the_cluster_and_sends_no_write():
    cluster = Cluster("scale-out-5.26.json")
    result = scale_out(cluster.run, V526, None, 3, 2, cluster.progress.append, dry_run=True, wait=cluster.wait)
    assert cluster.writes() == []
    assert set(cluster.sent()) == {SHOW_SERVERS, SHOW_DATABASES}
    assert [(s.cypher, s.ran) for s in result.statements] == [(ALTER, False)]
    assert "would wait until the new servers are enabled: 4 of 5 servers listed" in result.notes
    assert cluster.clock.now == 0.0


def test_scale_out_on_4_4_only_waits_for_the_read_replica_in_the_cluster_overview():
    cluster = Cluster("scale-4.4.json")
    result = scale_out(cluster.run, V44, None, 3, 2, cluster.progress.append,
                       expected_addresses=[REPLICA_2_ADDRESS], wait=cluster.wait)
    overview = "CALL dbms.cluster.overview() YIELD id, addresses, databases, groups RETURN id, addresses, " \
               "databases, groups"
    assert cluster.sent() == [overview, overview]
    assert cluster.writes() == [] and result.statements == []
    assert "read replicas join by themselves" in result.notes[0]
    assert any("neo4j: 3/3 cores, 1/2 read replicas" in line for line in cluster.progress)


# --- scale in -------------------------------------------------------------------------------------------


def test_scale_in_from_recorded_5_26_cordons_lowers_deallocates_waits_then_drops():
    cluster = Cluster("scale-in-5.26.json")
    result = scale_in(cluster.run, V526, [REPLICA_2_ADDRESS], None, 3, 1, cluster.progress.append, wait=cluster.wait)
    assert cluster.sent() == [
        SHOW_SERVERS,
        SHOW_DATABASES,
        "CALL dbms.cluster.cordonServer($server)",
        ALTER,
        f"DRYRUN DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'",
        f"DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'",
        SHOW_SERVERS,  # Deallocating, still hosting neo4j: not yet
        SHOW_SERVERS,  # Deallocated, hosting system only
        f"DROP SERVER '{REPLICA_2}'",
    ]
    assert cluster.writes()[:2] == [("CALL dbms.cluster.cordonServer($server)", {"server": REPLICA_2}),
                                    (ALTER, {"dbname": "neo4j", "primary": 3, "secondary": 1})]
    assert result.dropped == [REPLICA_2_ADDRESS]
    assert "their machines may go now" in result.notes[-1]
    assert any("Deallocating hosting neo4j, system" in line for line in cluster.progress)


def test_scale_in_resumes_an_interrupted_run_without_repeating_what_was_done():
    cluster = Cluster("scale-in-5.26-resume.json")
    scale_in(cluster.run, V526, [REPLICA_2_ADDRESS], None, 3, 1, cluster.progress.append, wait=cluster.wait)
    assert [c for c in cluster.sent() if not c.startswith("SHOW")] == [f"DROP SERVER '{REPLICA_2}'"]


def test_scale_in_of_servers_no_longer_listed_sends_nothing():
    cluster = Cluster("scale-out-2025-auto-enabled.json")  # lists replica-1 and replica-2 only
    result = scale_in(cluster.run, V2025, ["replica-3.prod.neo4j.internal:7687"], None, 3, 2,
                      cluster.progress.append, wait=cluster.wait)
    assert cluster.writes() == []
    assert result.notes == ["replica-3.prod.neo4j.internal:7687: not in SHOW SERVERS (already gone)",
                            "nothing to move: the machines may go"]


def test_scale_in_refuses_to_drop_a_primary_when_no_majority_of_primaries_would_remain():
    cluster = Cluster("scale-in-5.26-core-unavailable.json")
    with pytest.raises(ScalingRefusedError) as refused:
        scale_in(cluster.run, V526, ["core-3.prod.neo4j.internal:7687"], None, 3, 2, cluster.progress.append,
                 wait=cluster.wait)
    message = str(refused.value)
    assert message.startswith("refused, nothing was changed: ")
    assert "neo4j: dropping primary core-3.prod.neo4j.internal:7687 leaves 1 available of its 3 primaries, no " \
           "majority" in message
    assert "system: dropping primary core-3" in message
    assert cluster.writes() == []


def test_scale_in_refuses_to_drop_the_last_server_hosting_a_database():
    cluster = Cluster("scale-in-5.26-last-copy.json")
    with pytest.raises(ScalingRefusedError) as refused:
        scale_in(cluster.run, V526, ["core-3"], None, 3, 2, cluster.progress.append, wait=cluster.wait)
    assert "scratch: every server that hosts it is leaving (core-3.prod.neo4j.internal:7687); it would be lost" \
        in str(refused.value)
    assert cluster.writes() == []


def test_scale_in_refuses_a_topology_the_servers_left_cannot_hold():
    cluster = Cluster("scale-in-5.26.json")
    with pytest.raises(ScalingRefusedError, match="3 primaries and 2 secondaries need 5 enabled servers; 4 would "
                                                  "remain"):
        scale_in(cluster.run, V526, [REPLICA_2_ADDRESS], None, 3, 2, cluster.progress.append, wait=cluster.wait)
    assert cluster.writes() == []


def test_scale_in_dry_run_shows_the_moves_and_the_drop_and_sends_no_write():
    cluster = Cluster("scale-in-5.26.json")
    result = scale_in(cluster.run, V526, [REPLICA_2_ADDRESS], None, 3, 1, cluster.progress.append, dry_run=True,
                      wait=cluster.wait)
    assert cluster.writes() == [(f"DRYRUN DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'", {})]  # read-only
    assert [(s.cypher, s.ran) for s in result.statements] == [
        ("CALL dbms.cluster.cordonServer($server)", False), (ALTER, False),
        (f"DRYRUN DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'", True),
        (f"DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'", False), (f"DROP SERVER '{REPLICA_2}'", False)]
    assert result.dropped == []


def test_scale_in_on_4_4_has_nothing_to_deallocate_and_refuses_a_core():
    cluster = Cluster("scale-4.4.json")
    result = scale_in(cluster.run, V44, [REPLICA_2_ADDRESS], None, 3, 1, cluster.progress.append, wait=cluster.wait)
    assert cluster.writes() == [] and result.statements == []
    assert "Neo4j 4.4: nothing to deallocate" in result.notes[-1]
    with pytest.raises(ScalingRefusedError, match="core-2.prod.neo4j.internal:7687 is a core member"):
        scale_in(cluster.run, V44, ["core-2.prod.neo4j.internal:7687"], None, 2, 1, cluster.progress.append,
                 wait=cluster.wait)


# --- statements -----------------------------------------------------------------------------------------


def test_the_topology_takes_parameters_from_5_26_and_literals_before():
    assert topology_statement(V526, "neo4j", 3, 2).params == {"dbname": "neo4j", "primary": 3, "secondary": 2}
    older = topology_statement(Version.parse("5.20.0"), "sales`db", 3, 2)
    assert (older.cypher, older.params) == ("ALTER DATABASE `sales``db` SET TOPOLOGY 3 PRIMARIES 2 SECONDARIES", {})


def test_a_server_name_that_is_no_id_or_host_is_never_written_into_a_statement():
    assert literal(REPLICA_2) == f"'{REPLICA_2}'"
    with pytest.raises(ScalingRefusedError):
        literal("x'; DROP DATABASE neo4j; //")


@pytest.mark.parametrize("primaries, secondaries", [(0, 1), (3, -1)])
def test_an_impossible_topology_is_a_usage_error(primaries, secondaries):
    cluster = Cluster("scale-in-5.26.json")
    with pytest.raises(UsageError, match="at least 1 primary"):
        scale_out(cluster.run, V526, None, primaries, secondaries, cluster.progress.append, wait=cluster.wait)
    assert cluster.transport.calls == []
