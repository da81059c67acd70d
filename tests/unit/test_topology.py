import pytest

from components.topology import PRIMARY, SECONDARY, plan_topology
from tests.conftest import make_settings


@pytest.mark.parametrize("cores, tolerance", [(1, 0), (3, 1), (5, 2), (7, 3)])
def test_fault_tolerance_is_half_the_primaries_rounded_down(cores, tolerance):
    settings = make_settings(coreCount=cores, replicaCount=0)
    assert plan_topology(settings).fault_tolerance == tolerance


def test_servers_are_named_by_role_and_ordinal():
    topology = plan_topology(make_settings(coreCount=5, replicaCount=2))
    assert [s.name for s in topology.servers] == \
        ["core-1", "core-2", "core-3", "core-4", "core-5", "replica-1", "replica-2"]
    assert [s.role for s in topology.servers] == [PRIMARY] * 5 + [SECONDARY] * 2


def test_zones_are_spread_round_robin_across_cores_then_replicas():
    topology = plan_topology(make_settings(coreCount=5, replicaCount=2,
                                           availabilityZones=["eu-west-1a", "eu-west-1b", "eu-west-1c"]))
    assert [s.zone[-1] for s in topology.servers] == list("abcabca")


def test_a_zone_outage_never_takes_a_majority_of_primaries():
    for cores in (3, 5, 7):
        topology = plan_topology(make_settings(coreCount=cores, availabilityZones=["eu-west-1a", "eu-west-1b",
                                                                                  "eu-west-1c"]))
        worst = max(sum(1 for s in topology.primaries if s.zone == z) for z in ("eu-west-1a", "eu-west-1b",
                                                                               "eu-west-1c"))
        assert worst <= topology.fault_tolerance, cores


@pytest.mark.parametrize("version, port", [("4.4.40", 5000), ("5.26.30", 6000), ("2025.10.0", 6000)])
def test_discovery_lists_every_primary_on_the_lines_discovery_port(version, port):
    topology = plan_topology(make_settings(version=version, replicaCount=2))
    assert topology.discovery_endpoints == tuple(f"core-{i}.test.neo4j.internal:{port}" for i in (1, 2, 3))


def test_stable_hostnames_come_from_the_stack_domain():
    topology = plan_topology(make_settings(stack="prod"))
    assert topology.server("core-2").hostname == "core-2.prod.neo4j.internal"
    assert topology.haproxy.hostname == "haproxy.prod.neo4j.internal"


@pytest.mark.parametrize("cores", [1, 3, 5])
def test_no_replica_count_change_moves_the_backup_server(cores):
    # Scaling in or out must leave the backup job where it is: same server, same hostname, same zone.
    chosen = {plan_topology(make_settings(coreCount=cores, replicaCount=replicas)).backup_server
              for replicas in range(0, 6)}
    assert len(chosen) == 1
    (server,) = chosen
    assert server.name == "core-1" and server.role == PRIMARY


def test_no_core_count_change_moves_the_backup_server_either():
    chosen = {plan_topology(make_settings(coreCount=cores, replicaCount=replicas)).backup_server.hostname
              for cores in (1, 3, 5, 7) for replicas in (0, 2)}
    assert chosen == {"core-1.test.neo4j.internal"}


def test_haproxy_and_monitoring_nodes_follow_their_switches():
    topology = plan_topology(make_settings(haproxy=False, monitoring=False))
    assert topology.haproxy is None and topology.monitoring is None


def test_adding_replicas_leaves_the_primaries_unchanged():
    small = plan_topology(make_settings(replicaCount=1))
    large = plan_topology(make_settings(replicaCount=4))
    assert small.primaries == large.primaries
