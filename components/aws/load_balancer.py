"""LoadBalancer: the clients' entry point, an HAProxy pair behind a Network Load Balancer.

    clients ──► haproxy.<domain> (Route 53 alias) ──► NLB, internal (or internet-facing: neo4j:haproxyPublic)
                                                        │ TCP listeners: Bolt writes, Bolt reads
                                  ┌─────────────────────┴─────────────────────┐
                          haproxy-1 (zone 1)                          haproxy-2 (zone 2)
                                  └──────── the Neo4j servers (haproxy.cfg) ───┘

Losing a node or its zone: "If a target becomes unhealthy, the load balancer sends a TCP RST for packets
received on the client connections associated with the target", and "If you enable cross-zone load balancing,
each load balancer node routes requests to the healthy targets in all enabled Availability Zones" (Elastic Load
Balancing, Network Load Balancers, "Health checks for Network Load Balancer target groups"): the NLB checks
HAProxy's own health endpoint (templates/haproxy/haproxy.cfg.j2, frontend health) every HEALTH_INTERVAL seconds
and takes a node out after UNHEALTHY_AFTER failed checks; clients reconnect to the other node. When no node is
healthy (no writer anywhere during a leader election) the NLB "automatically sends traffic to all registered
targets (fail open)" ("Update the target group health settings for your Network Load Balancer").

Changing haproxy.cfg replaces nothing: the rendered file is an S3 object (HAPROXY_CONFIG_KEY) that each node
loads, checked with `haproxy -c` and reloaded seamlessly, on its own schedule (haproxy-config-sync.timer,
never both in the same minute). The nodes' user data holds no haproxy.cfg; it is held back like a Neo4j
server's (ignore_changes) and applied one node at a time by `make rollout` (neo4j:rolloutRelease haproxy-1 …).

Public (neo4j:haproxyPublic): the NLB is internet-facing in the public subnets and the output address is its
DNS name (clients outside the VPC cannot resolve the private zone); the HAProxy nodes stay private. This
replaces the single node's Elastic IP.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.machine import MachineArgs, MachineContext, place_machine
from components.aws.user_data import HAPROXY_CONFIG_KEY, HAPROXY_CONFIG_SHA256_TAG, HAPROXY_CONFIG_TAG
from components.ports import PORTS
from components.topology import Node

ROOT_VOLUME_GB = 16
# The NLB's active health check (intervals 5-300 s, thresholds 2-10): a node is out ~20 s after it stops.
HEALTH_INTERVAL = 10
UNHEALTHY_AFTER = 2
HEALTHY_AFTER = 2
# Bolt connections are pooled and long-lived (haproxy.cfg: timeout client 1h); the NLB's TCP idle timeout
# (default 350 s) would otherwise drop idle pooled connections silently.
TCP_IDLE_TIMEOUT = 3600
# A node replaced in its rollout step: its connections get this long to finish, then are closed.
DEREGISTRATION_DELAY = 60


@dataclass(frozen=True)
class Listener:
    """One client port of HAProxy the NLB forwards, and the health path that says this node can serve it."""
    name: str
    port: int
    health_path: str


LISTENERS = (
    Listener("write", PORTS.haproxy.bolt_write, "/health/write"),
    Listener("read", PORTS.haproxy.bolt_read, "/health/read"),
)


@dataclass(frozen=True)
class LoadBalancerArgs:
    entry: Node  # topology.haproxy: haproxy.<domain>, the name clients use
    nodes: tuple[Node, ...]  # topology.haproxy_nodes: the pair, in two zones
    instance_type: str
    user_data: Mapping[str, str]  # node name → its cloud-init.yaml (no haproxy.cfg in it)
    haproxy_cfg: str  # the rendered haproxy.cfg, published as the S3 object the nodes load
    vpc_id: pulumi.Input[str]
    node_subnet_ids: Mapping[str, pulumi.Input[str]]  # zone → private subnet
    balancer_subnet_ids: Mapping[str, pulumi.Input[str]]  # zone → the NLB's subnet (public ones when public)
    security_group_id: pulumi.Input[str]  # the HAProxy nodes
    balancer_security_group_id: pulumi.Input[str]  # the NLB
    config_bucket: pulumi.Input[str]  # the backup bucket's name; the config lives under its tooling/ prefix
    config_bucket_arn: pulumi.Input[str]
    reads_secrets: tuple[pulumi.Input[str], ...]
    context: MachineContext
    released: frozenset[str] = frozenset()  # neo4j:rolloutRelease: nodes that may take held-back changes now
    public: bool = False


def plan_balancer_zones(nodes: tuple[Node, ...]) -> tuple[str, ...]:
    """The NLB's zones: those of the pair, each once, in order."""
    zones = tuple(dict.fromkeys(node.zone for node in nodes))
    if len(zones) < 2:
        raise ValueError(f"the HAProxy pair is in {len(zones)} zone(s); it needs two (neo4j:availabilityZones)")
    return zones


class LoadBalancer(pulumi.ComponentResource):
    address: pulumi.Output[str] | str  # what clients connect to: haproxy.<domain>, or the public NLB's DNS name
    dns_name: pulumi.Output[str]  # the NLB's own name
    private_ips: dict[str, pulumi.Output[str]]  # node → address

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stack = args.context.stack
        zones = plan_balancer_zones(args.nodes)

        # The config object; the ARN waits for it, so the nodes' policy (and through it the nodes) follow it.
        config = aws.s3.BucketObjectv2(f"{name}-haproxy-cfg", bucket=args.config_bucket, key=HAPROXY_CONFIG_KEY,
                                       content=args.haproxy_cfg, content_type="text/plain", opts=child)
        config_arn = pulumi.Output.all(args.config_bucket_arn, config.id).apply(
            lambda values: f"{values[0]}/{HAPROXY_CONFIG_KEY}")
        config_url = pulumi.Output.concat("s3://", args.config_bucket, f"/{HAPROXY_CONFIG_KEY}")

        machines = {}
        for node in args.nodes:
            machines[node.name] = place_machine(f"{name}-{node.name}", MachineArgs(
                host=node.name, hostname=node.hostname, instance_type=args.instance_type,
                user_data=args.user_data[node.name], subnet_id=args.node_subnet_ids[node.zone],
                security_group_id=args.security_group_id, root_volume_gb=ROOT_VOLUME_GB,
                reads_secrets=args.reads_secrets, reads_objects=(config_arn,),
                # The object, and its sha256 (haproxy-config-sync.sh loads no other): changed in place by each `up`.
                tags={HAPROXY_CONFIG_TAG: config_url,
                      HAPROXY_CONFIG_SHA256_TAG: hashlib.sha256(args.haproxy_cfg.encode()).hexdigest()},
                metadata_tags=True,
                # Held back like a Neo4j server: a new instance only in its own rollout step, never both at once.
                replace_on_new_user_data=False, released=node.name in args.released), args.context, self)
        self.private_ips = {node: machine.instance.private_ip for node, machine in machines.items()}

        balancer = aws.lb.LoadBalancer(
            f"{name}-nlb", load_balancer_type="network", internal=not args.public,
            subnets=[args.balancer_subnet_ids[zone] for zone in zones],
            enable_cross_zone_load_balancing=True, security_groups=[args.balancer_security_group_id],
            tags={"Name": f"{stack}-haproxy"}, opts=child)
        for listener in LISTENERS:
            group = aws.lb.TargetGroup(
                f"{name}-{listener.name}", port=listener.port, protocol="TCP", target_type="instance",
                vpc_id=args.vpc_id, deregistration_delay=str(DEREGISTRATION_DELAY), connection_termination=True,
                health_check={"enabled": True, "protocol": "HTTP", "port": str(PORTS.haproxy.health),
                              "path": listener.health_path, "matcher": "200", "interval": HEALTH_INTERVAL,
                              "healthy_threshold": HEALTHY_AFTER, "unhealthy_threshold": UNHEALTHY_AFTER},
                tags={"Name": f"{stack}-haproxy-{listener.name}"}, opts=child)
            for node, machine in machines.items():
                aws.lb.TargetGroupAttachment(f"{name}-{listener.name}-{node}", target_group_arn=group.arn,
                                             target_id=machine.instance.id, port=listener.port, opts=child)
            aws.lb.Listener(f"{name}-{listener.name}", load_balancer_arn=balancer.arn, port=listener.port,
                            protocol="TCP", tcp_idle_timeout_seconds=TCP_IDLE_TIMEOUT,
                            default_actions=[{"type": "forward", "target_group_arn": group.arn}], opts=child)
        # The name clients already use now follows the NLB (an alias: no TTL to wait out on its side).
        aws.route53.Record(f"{name}-haproxy", zone_id=args.context.dns_zone_id, name=args.entry.hostname,
                           type="A", aliases=[{"name": balancer.dns_name, "zone_id": balancer.zone_id,
                                               "evaluate_target_health": True}], opts=child)
        self.dns_name = balancer.dns_name
        self.address = balancer.dns_name if args.public else args.entry.hostname
        self.register_outputs({"address": self.address, "dnsName": self.dns_name, "privateIps": self.private_ips})
