"""Security groups: every allowed connection is one `Flow`, planned from the settings.

`plan_flows` is pure: the list a reviewer (and a test) reads. For a flow between two groups the
component opens the port on both sides (ingress on the target, egress on the source); a flow from
a CIDR needs ingress only. Groups start with no rule at all, so nothing else is open: no SSH
(Session Manager replaces it), and outbound only what neo4j:egress allows (egress.py): the AWS APIs through the
VPC's endpoints and the boot's package sources, or (open) HTTP(S) anywhere.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.egress import EgressRule
from components.ports import PORTS
from components.render import ServerPlan
from components.settings import Settings
from components.topology import ClusterTopology

NEO4J = "neo4j"
HAPROXY = "haproxy"
MONITORING = "monitoring"
ENTRY = "entry"  # the Network Load Balancer in front of the HAProxy pair
ENDPOINTS = "endpoints"  # the interface VPC endpoints of the AWS APIs (neo4j:egress endpoints)
FABRIC = "fabric"  # 4.4's Fabric proxies: standalone DBMSs, not members, so not in the servers' group
GROUP_PURPOSE = {
    NEO4J: "Neo4j servers",
    FABRIC: "Neo4j 4.4 Fabric proxies",
    HAPROXY: "HAProxy in front of the Neo4j servers",
    ENTRY: "Network Load Balancer in front of the HAProxy pair",
    MONITORING: "Prometheus and Grafana",
    ENDPOINTS: "Interface VPC endpoints of the AWS APIs",
}
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Flow:
    target: str  # the group that accepts the connection
    port: int
    source: str  # a group name, or a CIDR
    why: str

    @property
    def between_groups(self) -> bool:
        return self.source in GROUP_PURPOSE


def plan_groups(topology: ClusterTopology) -> tuple[str, ...]:
    return ((NEO4J,) + ((FABRIC,) if topology.fabric_proxies else ()) + ((HAPROXY, ENTRY) if topology.haproxy else ())
            + ((MONITORING,) if topology.monitoring else ()))


def client_sources(settings: Settings) -> tuple[str, ...]:
    # No client CIDRs: clients inside the VPC only (the documented meaning of an empty clientCidrs).
    return settings.client_cidrs or (settings.vpc_cidr,)


def plan_flows(settings: Settings, topology: ClusterTopology, servers: Mapping[str, ServerPlan],
               proxies: Mapping[str, ServerPlan] | None = None) -> tuple[Flow, ...]:
    """`servers`: render's plan of each server, whose client and scrape endpoints are opened; `proxies`: of each
    4.4 Fabric proxy (RenderedCluster.fabric_proxies)."""
    ports = PORTS.server
    groups = plan_groups(topology)
    flows: list[Flow] = []

    def allow(target: str, port_list: list[int], sources: tuple[str, ...], why: str) -> None:
        for source in dict.fromkeys(sources):  # a CIDR listed twice is one rule
            flows.extend(Flow(target, port, source, why) for port in port_list)

    if settings.clustered:
        # Discovery v1 (port 5000) only exists in 4.4; 5.x and 2025 discover over the cluster port.
        cluster = ([ports.discovery] if settings.version_line == "4.4" else []) + [ports.cluster, ports.raft,
                                                                                  ports.routing, ports.backup]
        allow(NEO4J, cluster, (NEO4J,), "cluster traffic between members")
    # Only the endpoints the servers listen on (render decides: plain HTTP is off with TLS required, HTTPS
    # off without TLS), and exactly what Prometheus scrapes there: no Bolt, no HTTP(S) for monitoring.
    def endpoints(kind: str, names: tuple[str, ...] | None = None,
                  plans: Mapping[str, ServerPlan] = servers) -> list[int]:
        return list(dict.fromkeys(e.port for plan in plans.values() for e in getattr(plan, kind)
                                  if names is None or e.name in names))

    if HAPROXY in groups:
        allow(NEO4J, endpoints("client_endpoints", ("bolt",)), (HAPROXY, *client_sources(settings)), "Bolt clients")
        # The HTTP(S) port serves the cluster status endpoints HAProxy's health checks read (/db/*/cluster/*,
        # /dbms/cluster/status); a security group cannot open part of a port, so the port is HAProxy's alone.
        allow(NEO4J, endpoints("client_endpoints", ("http", "https")), (HAPROXY,),
              "HAProxy health checks (cluster status endpoints)")
    else:
        allow(NEO4J, endpoints("client_endpoints"), client_sources(settings), "Bolt and HTTP(S) clients")
    if MONITORING in groups:
        allow(NEO4J, endpoints("scrape_endpoints"), (MONITORING,), "Prometheus scrapes")
    if FABRIC in groups:
        fabric = proxies or {}
        # Clients reach a proxy directly (haproxy.cfg balances the cluster's servers only), over Bolt: a Fabric
        # query is Cypher, and with several proxies the routing table it hands out names them (fabric.routing.servers).
        allow(FABRIC, endpoints("client_endpoints", ("bolt",), fabric), client_sources(settings),
              "Bolt clients of the Fabric database")
        # Its drivers reach the cluster as the graphs' neo4j:// URIs say (render.fabric_graphs): the cores' Bolt for
        # the routing table, then Bolt to the members it names. Nothing else of the members: the routing port is
        # the members' own server-side routing, the cluster and backup ports the members'.
        allow(NEO4J, [ports.bolt], (FABRIC,), "Fabric proxies' drivers (fabric.graph URIs)")
        if MONITORING in groups:
            allow(FABRIC, endpoints("scrape_endpoints", None, fabric), (MONITORING,), "Prometheus scrapes")
    if HAPROXY in groups:
        # Clients reach the pair only through the load balancer. "Referencing the security group associated with
        # your Network Load Balancer in the security groups associated with your targets ensures that your targets
        # accept traffic from your Network Load Balancer even if you enable client IP preservation" (Elastic Load
        # Balancing, Network Load Balancers, "Update the security groups for your Network Load Balancer").
        bolt = [PORTS.haproxy.bolt_write, PORTS.haproxy.bolt_read]
        allow(ENTRY, bolt, client_sources(settings), "Bolt clients")
        allow(HAPROXY, bolt + [PORTS.haproxy.health], (ENTRY,), "Bolt through the load balancer, its health checks")
        # Prometheus's /metrics only: the stats page answers on the node's loopback alone (haproxy.cfg), which
        # an admin reaches through a Session Manager port forward.
        allow(HAPROXY, [PORTS.haproxy.stats], (MONITORING,) if MONITORING in groups else (), "HAProxy metrics")
        # Node exporter on each node of the pair (templates/cloud-init/haproxy.yaml.j2), as on the servers.
        allow(HAPROXY, [PORTS.server.node_exporter], (MONITORING,) if MONITORING in groups else (),
              "Prometheus scrapes node exporter")
    if MONITORING in groups:
        # Prometheus listens on the node's loopback only (behind Grafana, which asks for a password).
        allow(MONITORING, [PORTS.monitoring.grafana], settings.admin_cidrs, "Grafana for admins")
    return tuple(flows)


def cidr_peer(cidr: str) -> dict[str, str]:
    """The rule argument a CIDR goes in: an IPv6 range in `cidr_ipv4` is refused by AWS."""
    return {"cidr_ipv6" if ipaddress.ip_network(cidr).version == 6 else "cidr_ipv4": cidr}


def cidr_label(cidr: str) -> str:
    # For the resource name: "10.0.0.0/8" → "10.0.0.0-8" (as before); an IPv6 range's "::" would read as a URN
    # delimiter, so its colons become dashes too.
    return cidr.replace("/", "-").replace(":", "-")


@dataclass(frozen=True)
class SecurityGroupsArgs:
    stack: str
    vpc_id: pulumi.Input[str]
    groups: tuple[str, ...]
    flows: tuple[Flow, ...]
    egress: tuple[EgressRule, ...]  # egress.plan_egress: outbound beyond the flows
    s3_prefix_list_id: pulumi.Input[str] | None = None  # the S3 gateway endpoint's (rules to "s3")


class SecurityGroups(pulumi.ComponentResource):
    ids: dict[str, pulumi.Output[str]]  # group name → security group id

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:SecurityGroups", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The interface endpoints' group, when a rule leads there: it admits HTTPS from the stack's groups only.
        endpoint_group = (ENDPOINTS,) if any(rule.to == ENDPOINTS for rule in args.egress) else ()
        self.ids = {
            group: aws.ec2.SecurityGroup(f"{name}-{group}", vpc_id=args.vpc_id,
                                         description=f"{GROUP_PURPOSE[group]} of stack {args.stack}",
                                         tags={"Name": f"{args.stack}-{group}"}, opts=child).id
            for group in args.groups + endpoint_group
        }

        def rule(kind: type, rule_name: str, group: str, port: int, why: str, **peer: pulumi.Input[str]) -> None:
            kind(rule_name, security_group_id=self.ids[group], ip_protocol="tcp", from_port=port, to_port=port,
                 description=why, opts=child, **peer)

        for flow in args.flows:
            if flow.between_groups:
                rule(aws.vpc.SecurityGroupIngressRule, f"{name}-{flow.target}-in-{flow.port}-from-{flow.source}",
                     flow.target, flow.port, flow.why, referenced_security_group_id=self.ids[flow.source])
                rule(aws.vpc.SecurityGroupEgressRule, f"{name}-{flow.source}-out-{flow.port}-to-{flow.target}",
                     flow.source, flow.port, flow.why, referenced_security_group_id=self.ids[flow.target])
            else:
                label = cidr_label(flow.source)
                rule(aws.vpc.SecurityGroupIngressRule, f"{name}-{flow.target}-in-{flow.port}-from-{label}",
                     flow.target, flow.port, flow.why, **cidr_peer(flow.source))
        for out in args.egress:  # the load balancer's group is in none: it talks to the HAProxy nodes only
            if out.to == "internet":
                peer: dict[str, pulumi.Input[str]] = {"cidr_ipv4": ANYWHERE}
            elif out.to == "s3":
                peer = {"prefix_list_id": args.s3_prefix_list_id}
            else:
                peer = {"referenced_security_group_id": self.ids[ENDPOINTS]}
                rule(aws.vpc.SecurityGroupIngressRule, f"{name}-{ENDPOINTS}-in-{out.port}-from-{out.group}",
                     ENDPOINTS, out.port, f"{out.why} (from the {out.group} group)",
                     referenced_security_group_id=self.ids[out.group])
            rule(aws.vpc.SecurityGroupEgressRule, f"{name}-{out.group}-out-{out.port}-to-{out.to}", out.group,
                 out.port, out.why, **peer)
        self.register_outputs({"ids": self.ids})
