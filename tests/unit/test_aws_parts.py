"""The AWS adapter's pure parts: subnet plan, security flows, lifecycle rules, user data packing."""
from __future__ import annotations

import base64
import gzip
import ipaddress
import random

import pytest
import yaml

from components.aws.backup_store import BackupStoreArgs, lifecycle_rules
from components.aws.machine import USER_DATA_LIMIT, compressed_user_data
from components.aws.network import plan_subnets
from components.aws.security import (
    ENTRY,
    FABRIC,
    HAPROXY,
    MONITORING,
    NEO4J,
    cidr_label,
    cidr_peer,
    plan_flows,
    plan_groups,
)
from components.monitoring import PROMETHEUS_CONFIG
from components.ports import PORTS
from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.prometheus_targets import scrape_targets

CLUSTER_PORTS = {5000, 6000, 7000, 7688, 6362}
CLIENT_PORTS = {7687, 7474, 7473}


# 4.4 with a composite served by two Fabric proxies (components/databases.py, topology.py FABRIC).
FABRIC_44 = {"version": "4.4.46", "databases": [{"name": "books"}], "fabricProxyCount": 2,
             "composites": [{"name": "library", "aliases": [{"name": "books", "database": "books"}]}]}


def flows_of(**overrides):
    settings = make_settings(**overrides)
    topology = plan_topology(settings)
    rendered = render_cluster(settings, topology)
    return plan_flows(settings, topology, rendered.servers, rendered.fabric_proxies)


# --- subnets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("vpc_cidr", ["10.42.0.0/16", "10.40.0.0/20", "192.168.7.0/24"])
def test_subnets_lie_inside_the_vpc_and_never_overlap(vpc_cidr):
    plans = plan_subnets(vpc_cidr, ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    vpc = ipaddress.ip_network(vpc_cidr)
    subnets = [ipaddress.ip_network(c) for p in plans for c in (p.private_cidr, p.public_cidr)]
    assert all(s.subnet_of(vpc) for s in subnets)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    assert all(s.prefixlen <= 28 for s in subnets), "AWS's smallest subnet is a /28"


def test_adding_a_zone_leaves_existing_subnets_alone():
    before = plan_subnets("10.42.0.0/16", ["eu-west-1a", "eu-west-1b"])
    after = plan_subnets("10.42.0.0/16", ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    assert after[:2] == before


def test_more_zones_than_subnet_slots_is_refused():
    with pytest.raises(ValueError, match="room for 8"):
        plan_subnets("10.42.0.0/16", [f"us-east-1{c}" for c in "abcdefghi"])


# --- security flows --------------------------------------------------------------------------------


def test_cluster_ports_are_open_only_between_neo4j_servers():
    flows = flows_of(version="4.4.40")
    cluster = [f for f in flows if f.port in CLUSTER_PORTS]
    assert {f.port for f in cluster} == CLUSTER_PORTS
    assert all(f.target == NEO4J and f.source == NEO4J for f in cluster)


def test_discovery_v1_port_is_closed_on_5x():
    assert 5000 not in {f.port for f in flows_of(version="5.26.30")}


def test_a_single_server_opens_no_cluster_port():
    flows = flows_of(coreCount=1, replicaCount=0)
    assert not [f for f in flows if f.port in CLUSTER_PORTS]


def test_neo4j_endpoints_accept_haproxy_and_client_cidrs_only():
    flows = flows_of(clientCidrs=["203.0.113.0/24"], adminCidrs=["198.51.100.0/24"])
    sources = {f.source for f in flows if f.target == NEO4J and f.port in CLIENT_PORTS}
    assert sources == {HAPROXY, "203.0.113.0/24"}


@pytest.mark.parametrize("tls", ["required", "optional", "disabled"])
def test_the_cluster_status_endpoints_are_reachable_from_haproxy_only(tls):
    """HAProxy checks /db/<db>/cluster/writable and /available on the servers' HTTP(S) port (haproxy.cfg's `check
    port`): that port takes the HAProxy group and no range, not even the VPC's; Bolt still takes the clients."""
    settings = make_settings(tls=tls, vpcCidr="10.9.0.0/16")
    topology = plan_topology(settings)
    rendered = render_cluster(settings, topology)
    flows = plan_flows(settings, topology, rendered.servers)
    check_ports = {plan.health_check.port for plan in rendered.servers.values()}
    http_ports = {e.port for plan in rendered.servers.values() for e in plan.client_endpoints if e.name != "bolt"}
    assert check_ports <= http_ports
    assert {(f.port, f.source) for f in flows if f.target == NEO4J and f.port in http_ports} == {
        (port, HAPROXY) for port in http_ports}
    assert {f.source for f in flows if f.target == NEO4J and f.port == 7687} == {HAPROXY, "10.9.0.0/16"}


def test_without_haproxy_clients_keep_the_http_port():
    flows = flows_of(haproxy=False, clientCidrs=["203.0.113.0/24"], tls="required")
    assert {(f.port, f.source) for f in flows if f.target == NEO4J and f.port in CLIENT_PORTS} == {
        (7687, "203.0.113.0/24"), (7473, "203.0.113.0/24")}


def test_without_client_cidrs_only_the_vpc_reaches_bolt():
    flows = flows_of(vpcCidr="10.9.0.0/16")
    bolt = {(f.target, f.source) for f in flows if f.port == 7687}
    # The servers from HAProxy and the VPC; HAProxy only from its load balancer, which takes the VPC.
    assert bolt == {(NEO4J, HAPROXY), (NEO4J, "10.9.0.0/16"), (HAPROXY, ENTRY), (ENTRY, "10.9.0.0/16")}


def scraped_ports(settings, topology) -> dict[str, set[int]]:
    """{security group: ports} of every target in the rendered prometheus.yml."""
    config = yaml.safe_load(render_cluster(settings, topology).files["monitoring"][PROMETHEUS_CONFIG])
    hosts = {s.hostname: NEO4J for s in topology.servers}
    hosts |= {p.hostname: FABRIC for p in topology.fabric_proxies}  # 4.4's Fabric proxies, a group of their own
    hosts |= {node.hostname: HAPROXY for node in topology.haproxy_nodes}  # each node of the pair
    out: dict[str, set[int]] = {}
    servers = [(s.name, s.role) for s in topology.neo4j_hosts]  # the machines with a Name and a Role tag
    for _, target in scrape_targets(config, stack=settings.stack, servers=servers):
        host, port = target.rsplit(":", 1)
        out.setdefault(hosts[host], set()).add(int(port))
    return out


@pytest.mark.parametrize("overrides", [
    {},
    {"tls": "required", "haproxy": False},
    {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False},
    FABRIC_44,
])
def test_monitoring_reaches_exactly_the_ports_its_prometheus_scrapes(overrides):
    settings = make_settings(**overrides)
    topology = plan_topology(settings)
    flows = flows_of(**overrides)
    opened: dict[str, set[int]] = {}
    for flow in flows:
        if flow.source == MONITORING:
            opened.setdefault(flow.target, set()).add(flow.port)
    assert opened == scraped_ports(settings, topology)
    # Metrics endpoint and node exporter on Enterprise; node exporter only on Community. No Bolt, no HTTP(S).
    expected = {9100} | ({2004} if settings.edition == "enterprise" else set())
    assert opened[NEO4J] == expected
    assert opened.get(FABRIC) == (expected if topology.fabric_proxies else None)


def test_fabric_proxies_take_bolt_from_clients_and_reach_the_members_bolt_alone():
    flows = flows_of(**FABRIC_44, clientCidrs=["203.0.113.0/24"], adminCidrs=["198.51.100.0/24"])
    # Clients dial a proxy directly (haproxy.cfg balances the members only), Bolt alone; Prometheus scrapes it.
    assert {(f.port, f.source) for f in flows if f.target == FABRIC} == {
        (7687, "203.0.113.0/24"), (2004, MONITORING), (9100, MONITORING)}
    # Its drivers (fabric.graph.<n>.uri, neo4j:// at the cores) reach the members' Bolt and nothing else of them.
    assert {(f.target, f.port) for f in flows if f.source == FABRIC} == {(NEO4J, 7687)}
    # Without proxies there is no such group.
    settings = make_settings()
    assert FABRIC not in plan_groups(plan_topology(settings))
    assert not [f for f in flows_of() if FABRIC in (f.target, f.source)]


def test_metrics_and_node_exporter_are_for_monitoring_only():
    flows = flows_of(clientCidrs=["0.0.0.0/0"], allowWorldAccess=True)
    # 9100 on the HAProxy pair too: node exporter there (templates/cloud-init/haproxy.yaml.j2), for Prometheus alone.
    assert {(f.target, f.source) for f in flows if f.port in (2004, 9100)} == {(NEO4J, MONITORING),
                                                                              (HAPROXY, MONITORING)}


def test_haproxy_bolt_ports_take_client_cidrs_and_stats_take_prometheus_only():
    flows = flows_of(clientCidrs=["203.0.113.0/24"], adminCidrs=["198.51.100.0/24"])
    bolt_ports = (PORTS.haproxy.bolt_write, PORTS.haproxy.bolt_read)
    # Clients reach the load balancer; the HAProxy nodes take Bolt and the health checks from it only.
    assert {(f.target, f.port, f.source) for f in flows if f.target in (HAPROXY, ENTRY)
            and f.port not in (PORTS.haproxy.stats, PORTS.server.node_exporter)} == {
        *((ENTRY, port, "203.0.113.0/24") for port in bolt_ports),
        *((HAPROXY, port, ENTRY) for port in (*bolt_ports, PORTS.haproxy.health))}
    stats = {f.source for f in flows if f.target == HAPROXY and f.port == PORTS.haproxy.stats}
    # Admins too once; now the stats page answers on loopback only (haproxy.cfg) and the port serves Prometheus.
    assert stats == {MONITORING}


def test_grafana_is_for_admin_cidrs_only_and_prometheus_for_nobody():
    flows = flows_of(clientCidrs=["203.0.113.0/24"], adminCidrs=["198.51.100.0/24"])
    # Prometheus listens on the monitoring node's loopback, behind Grafana (prometheus-listen.conf).
    assert {(f.port, f.source) for f in flows if f.target == MONITORING} == {(3000, "198.51.100.0/24")}


def test_only_listening_http_ports_are_opened():
    required = {f.port for f in flows_of(tls="required") if f.target == NEO4J}
    disabled = {f.port for f in flows_of(tls="disabled") if f.target == NEO4J}
    assert 7474 not in required and 7473 in required
    assert 7473 not in disabled and 7474 in disabled


def test_no_flow_opens_ssh_and_none_is_repeated():
    flows = flows_of(clientCidrs=["203.0.113.0/24", "203.0.113.0/24"], adminCidrs=["203.0.113.0/24"])
    assert 22 not in {f.port for f in flows}
    keys = [(f.target, f.port, f.source) for f in flows]
    assert len(keys) == len(set(keys))


def test_without_haproxy_and_monitoring_no_flow_names_their_groups():
    flows = flows_of(haproxy=False, monitoring=False)
    assert {f.target for f in flows} | {f.source for f in flows if f.between_groups} == {NEO4J}


@pytest.mark.parametrize("cidr, argument", [("203.0.113.0/24", "cidr_ipv4"), ("0.0.0.0/0", "cidr_ipv4"),
                                            ("2001:db8::/32", "cidr_ipv6"), ("::/0", "cidr_ipv6")])
def test_each_cidr_goes_in_the_rule_argument_of_its_address_family(cidr, argument):
    assert cidr_peer(cidr) == {argument: cidr}


def test_rule_names_keep_their_ipv4_form_and_hold_no_colon_for_ipv6():
    assert cidr_label("10.0.0.0/8") == "10.0.0.0-8"  # unchanged: renaming would replace deployed rules
    assert cidr_label("2001:db8::/32") == "2001-db8---32"


# --- backups ---------------------------------------------------------------------------------------


def backup_args(**overrides) -> BackupStoreArgs:
    values = {"stack": "t", "retention_days": 30, "transition_days": 7, "transition_storage_class": "GLACIER_IR",
              "noncurrent_days": 5, "chain_days": 7}
    return BackupStoreArgs(**{**values, **overrides})


def test_lifecycle_expires_by_age_alone_when_the_lock_ends_transitions_and_cleans_up():
    backups, markers = lifecycle_rules(backup_args())
    for rule in (backups, markers):  # not the tooling object; no rule looks at a tag a server could set
        assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": "t/"}
    assert backups["expiration"] == {"days": 30 + 7}  # retention + chain days: the Object Lock's period
    assert backups["transitions"] == [{"days": 7, "storage_class": "GLACIER_IR"}]
    assert backups["noncurrent_version_expiration"] == {"noncurrent_days": 5}
    assert backups["abort_incomplete_multipart_upload"]["days_after_initiation"] >= 1
    assert markers["expiration"] == {"expired_object_delete_marker": True}


def test_zero_transition_days_means_no_transition():
    assert all("transitions" not in rule for rule in lifecycle_rules(backup_args(transition_days=0)))


# --- user data -------------------------------------------------------------------------------------


def test_user_data_is_gzip_that_cloud_init_reads_back_exactly():
    text = "#cloud-config\n" + "write_files: []\n" * 2000
    packed = base64.b64decode(compressed_user_data(text))
    assert gzip.decompress(packed).decode() == text
    assert compressed_user_data(text) == compressed_user_data(text), "same text, same bytes: no spurious diffs"


def test_user_data_over_the_ec2_limit_is_refused():
    noise = random.Random(0).randbytes(USER_DATA_LIMIT).hex()  # hex digits pack to about half: still too big
    with pytest.raises(ValueError, match="EC2 allows"):
        compressed_user_data(noise)


def test_backup_tooling_archive_is_reproducible_and_holds_the_scripts():
    import io
    import tarfile

    from components.tooling import tooling_archive

    first, second = tooling_archive(), tooling_archive()
    assert first == second
    names = tarfile.open(fileobj=io.BytesIO(first)).getnames()
    assert {"backup.py", "restore.py", "neo4j_ops/backup/make_backup.py"} <= set(names)
