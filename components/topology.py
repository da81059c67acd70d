"""Which servers a cluster has, where they sit, how they find each other: `plan_topology`."""
from __future__ import annotations

from dataclasses import dataclass

from components.ports import PORTS
from components.settings import Settings

PRIMARY = "primary"
SECONDARY = "secondary"
# 4.4's Fabric proxy: a standalone DBMS (dbms.mode=SINGLE), never a cluster member. Operations Manual 4.4,
# fabric/considerations.adoc:8: "The DBMS hosting the Fabric virtual database cannot be part of a Causal Cluster: it
# can only be a DBMS with `dbms.mode=SINGLE`."
FABRIC = "fabric"
HAPROXY_PAIR = 2  # HAProxy nodes on AWS


@dataclass(frozen=True)
class Server:
    name: str  # "core-1", "replica-2"
    role: str  # PRIMARY | SECONDARY (FABRIC: a proxy of `fabric_proxies`, never in `servers`)
    ordinal: int  # 1-based within its role
    zone: str
    zone_index: int  # slot in settings.availability_zones
    hostname: str  # stable DNS name: advertised address and discovery endpoint


@dataclass(frozen=True)
class Node:
    """A support machine: HAProxy or monitoring."""
    name: str
    zone: str
    hostname: str


@dataclass(frozen=True)
class ClusterTopology:
    domain: str
    servers: tuple[Server, ...]
    haproxy: Node | None
    monitoring: Node | None
    backup_server: Server  # runs the scheduled backup job: core-1, whatever the replica (or core) count
    discovery_endpoints: tuple[str, ...]  # host:port of every primary, in the line's discovery port
    # The machines behind `haproxy` (the name clients use): on AWS the pair haproxy-1, haproxy-2 in two zones
    # behind a load balancer; on Docker the one container `haproxy` itself. Empty without HAProxy.
    haproxy_nodes: tuple[Node, ...] = ()
    # 4.4's Fabric proxies (neo4j:fabricProxyCount), role FABRIC: outside `servers` (not cluster members, no backups,
    # no HAProxy backend, no rollout step), each serving the stack's composite as its Fabric database.
    fabric_proxies: tuple[Server, ...] = ()

    @property
    def primaries(self) -> tuple[Server, ...]:
        return tuple(s for s in self.servers if s.role == PRIMARY)

    @property
    def secondaries(self) -> tuple[Server, ...]:
        return tuple(s for s in self.servers if s.role == SECONDARY)

    @property
    def fault_tolerance(self) -> int:
        """Primaries that may fail while the cluster still accepts writes."""
        return (len(self.primaries) - 1) // 2

    @property
    def neo4j_hosts(self) -> tuple[Server, ...]:
        """Every Neo4j DBMS the stack runs, each on a machine or in a container of its own: the cluster's servers,
        then 4.4's Fabric proxies. What each platform places alike (neo4j.conf, certificate, boot)."""
        return self.servers + self.fabric_proxies

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)


def cluster_domain(settings: Settings) -> str:
    # Private DNS zone (Route 53 on AWS, network aliases on Docker): names survive replacement.
    return f"{settings.stack}.neo4j.internal"


def plan_topology(settings: Settings) -> ClusterTopology:
    domain = cluster_domain(settings)
    zones = settings.availability_zones

    def place(index: int) -> tuple[str, int]:
        return zones[index % len(zones)], index % len(zones)

    servers = []
    for index in range(settings.core_count):
        zone, slot = place(index)
        servers.append(Server(f"core-{index + 1}", PRIMARY, index + 1, zone, slot, f"core-{index + 1}.{domain}"))
    for index in range(settings.replica_count):
        # Replicas continue the round-robin where the cores stopped, so zones stay balanced.
        zone, slot = place(settings.core_count + index)
        servers.append(Server(f"replica-{index + 1}", SECONDARY, index + 1, zone, slot,
                              f"replica-{index + 1}.{domain}"))

    entry = Node("haproxy", zones[0], f"haproxy.{domain}") if settings.haproxy else None
    haproxy_nodes: tuple[Node, ...] = ()
    if entry and settings.platform == "aws":
        # Two zones (settings refuse a single-zone stack with HAProxy): losing a machine or a zone leaves one.
        haproxy_nodes = tuple(Node(f"haproxy-{i + 1}", zones[i % len(zones)], f"haproxy-{i + 1}.{domain}")
                              for i in range(HAPROXY_PAIR))
    elif entry:
        haproxy_nodes = (entry,)
    discovery_port = PORTS.server.discovery if settings.version_line == "4.4" else PORTS.server.cluster
    primaries = [s for s in servers if s.role == PRIMARY]
    proxies = []
    for index in range(settings.fabric_proxy_count):
        # Zones continue after the servers, so two proxies sit in two zones where the stack has them.
        zone, slot = place(len(servers) + index)
        proxies.append(Server(f"fabric-{index + 1}", FABRIC, index + 1, zone, slot, f"fabric-{index + 1}.{domain}"))
    return ClusterTopology(
        domain=domain,
        servers=tuple(servers),
        haproxy=entry,
        haproxy_nodes=haproxy_nodes,
        monitoring=Node("monitoring", zones[-1], f"monitoring.{domain}") if settings.monitoring else None,
        # The job's host is fixed so that scaling never moves the backup timer, its staging directory or its
        # bucket access to another machine: core-1 exists in every stack and no count change removes it. Which
        # server the backup is read from is chosen when the job runs, from the cluster's own view (a secondary
        # first; scripts/neo4j_ops/backup/source.py), so the host need not be a secondary.
        backup_server=primaries[0],
        discovery_endpoints=tuple(f"{s.hostname}:{discovery_port}" for s in primaries),
        fabric_proxies=tuple(proxies),
    )
