"""The stack outputs, one typed contract: both adapters fill `StackOutputs`, __main__.py exports it, and
the operator commands (scripts/neo4j_ops/target.py) read it back from `pulumi stack output --json`.
An adapter hands it back in a `Deployment`, with the files it placed on the machines.

Plain Python: on the program side a value may be a Pulumi Output (an address known only after the
deploy), which `pulumi.export` resolves; read back, every value is plain JSON. Keys are the camelCase
of the field names (`bolt_uri` → `boltUri`), in field order. Other tools read them (README, "After the
deploy"): a key is added, never renamed or removed.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from components.ports import PORTS
from components.render import Artifacts
from components.settings import Settings
from components.topology import ClusterTopology


def wire_name(field_name: str) -> str:
    """The output key of a field: bolt_uri → boltUri, ca_cert_pem → caCertPem."""
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class ServerOutput:
    name: str  # "core-1"
    role: str  # primary | secondary (fabric: a 4.4 Fabric proxy, in StackOutputs.fabric_proxies)
    zone: str
    hostname: str  # the stable DNS name (advertised address)
    private_ip: Any  # AWS: the instance's address; Docker: its network name (container IPs change on restart)
    bolt_uri: str  # bolt:// to this one server, as the commands reach it


_SERVER_LISTS = ("servers", "fabric_proxies")  # the StackOutputs fields that list ServerOutput


@dataclass(frozen=True)
class StackOutputs:
    # For applications: HAProxy's write port when there is one (bolt://, HAProxy routes); else a driver-routed
    # neo4j:// (AWS) or core-1's published Bolt port (Docker).
    bolt_uri: Any
    routing_uri: str  # neo4j:// to the first primary: client-side routing from inside the cluster's network
    servers: tuple[ServerOutput, ...]
    fault_tolerance: int  # primaries that may fail while writes continue
    grafana_url: Any  # None without the monitoring node
    prometheus_url: Any
    backup_bucket: Any  # None on Docker
    secret_arns: Mapping[str, Any]  # Secrets Manager name → ARN; {} on Docker
    ca_cert_pem: Any  # the cluster CA (public); None with TLS disabled
    haproxy_uri: Any  # HAProxy's write frontend (to the leader), bolt://; None without HAProxy
    haproxy_read_uri: Any  # HAProxy's read frontend (to any server that hosts the database); None without HAProxy
    metrics_urls: Mapping[str, str]  # server → its Prometheus endpoint; {} on Community (no metrics)
    tls: str  # neo4j:tls: disabled | optional | required
    # AWS with neo4j:backupReplicaAccountId: what the other account applies to its replica bucket and key
    # ({"bucketPolicy", "keyPolicy", "bucketSettings"}, trusting exactly this stack's replication role); else None.
    offsite_account_policies: Any = None
    # Neo4j 4.4's Fabric proxies (neo4j:fabricProxyCount), each as a server is given (its role "fabric"); () elsewhere
    fabric_proxies: tuple[ServerOutput, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """What __main__.py exports, key by key."""
        document: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _SERVER_LISTS:
                value = [{wire_name(f.name): getattr(server, f.name) for f in fields(ServerOutput)}
                         for server in value]
            elif isinstance(value, Mapping):
                value = dict(value)
            document[wire_name(item.name)] = value
        return document

    @classmethod
    def from_json(cls, document: Any) -> StackOutputs:
        """The outputs as `pulumi stack output --json` prints them. A key an older stack did not export
        reads as None (a server's too); ValueError when the document is not outputs at all."""
        if not isinstance(document, Mapping):
            raise ValueError(f"stack outputs must be a JSON object, got {type(document).__name__}")
        values: dict[str, Any] = {f.name: document.get(wire_name(f.name)) for f in fields(cls)}
        for name in _SERVER_LISTS:
            servers = document.get(wire_name(name)) or []
            if not isinstance(servers, list) or not all(isinstance(item, Mapping) for item in servers):
                raise ValueError(f"stack output {wire_name(name)} must be a list of objects")
            values[name] = tuple(ServerOutput(**{f.name: item.get(wire_name(f.name)) for f in fields(ServerOutput)})
                                 for item in servers)
        return cls(**values)


def stack_outputs(settings: Settings, topology: ClusterTopology, *, bolt_uri: Any, server_addresses: Mapping[str, Any],
                  server_bolt_uris: Mapping[str, str], haproxy_uri: Any, haproxy_read_uri: Any, grafana_url: Any,
                  prometheus_url: Any, backup_bucket: Any, secret_arns: Mapping[str, Any],
                  ca_cert_pem: Any, offsite_account_policies: Any = None) -> StackOutputs:
    """The outputs of a cluster: what the topology decides here, the addresses from the adapter (by server name:
    the cluster's servers and 4.4's Fabric proxies)."""
    first = topology.primaries[0]

    def listed(servers: tuple) -> tuple[ServerOutput, ...]:
        return tuple(ServerOutput(s.name, s.role, s.zone, s.hostname, server_addresses[s.name],
                                  server_bolt_uris[s.name]) for s in servers)

    return StackOutputs(
        bolt_uri=bolt_uri,
        routing_uri=f"neo4j://{first.hostname}:{PORTS.server.bolt}",
        servers=listed(topology.servers),
        fault_tolerance=topology.fault_tolerance,
        grafana_url=grafana_url,
        prometheus_url=prometheus_url,
        backup_bucket=backup_bucket,
        secret_arns=dict(secret_arns),
        ca_cert_pem=ca_cert_pem,
        haproxy_uri=haproxy_uri,
        haproxy_read_uri=haproxy_read_uri,
        # The servers' own names: reached from inside the cluster's network (the VPC, the Docker network).
        metrics_urls={s.name: f"http://{s.hostname}:{PORTS.server.metrics}/metrics" for s in topology.servers}
        if settings.edition == "enterprise" else {},
        tls=settings.tls,
        offsite_account_policies=offsite_account_policies,
        fabric_proxies=listed(topology.fabric_proxies),
    )


@dataclass(frozen=True)
class Deployment:
    """What an adapter returns to __main__.py."""
    files: Artifacts  # every file it placed, by machine or container: scripts/plan.py writes them to build/<stack>/
    outputs: StackOutputs
