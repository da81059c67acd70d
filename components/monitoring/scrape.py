"""The scrape jobs and their targets, and prometheus.yml.

Only what exists is scraped: metrics are an Enterprise feature (Community servers have no endpoint on
2004), and node exporter runs on the AWS servers only. A target without a metrics port (or node
exporter port) is left out of that job; ScrapeJobs.present names the jobs that have a target, and only
their alerts and panels are rendered.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from components.monitoring.files import RULE_FILES_GLOB
from components.templating import render_template

ROLES = ("primary", "secondary")
HAPROXY_ROLE = "loadbalancer"  # the role label of the HAProxy nodes' targets

JOB_NEO4J = "neo4j"
JOB_NODE = "node"
JOB_HAPROXY = "haproxy"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_IPV6_RE = re.compile(r"^[0-9A-Fa-f:.]+$")


@dataclass(frozen=True)
class ScrapeTarget:  # one Neo4j server
    name: str  # "core-1", "replica-1"
    role: str  # "primary" | "secondary"
    address: str  # DNS name or IP reachable from the monitoring node
    # Neo4j Prometheus endpoint (server.metrics.prometheus.endpoint), 2004; None: the server exports no
    # metrics (Community Edition: metrics are Enterprise-only), so it is not in the `neo4j` job.
    metrics_port: int | None
    # prometheus-node-exporter (disk/CPU), 9100; None: none runs there (the Docker stack's containers).
    node_exporter_port: int | None


@dataclass(frozen=True)
class Ec2Discovery:
    """The Neo4j servers found by Prometheus's EC2 service discovery instead of listed (AWS): a scale-out leaves
    prometheus.yml, so the monitoring node's user data, as it is, and the node is not replaced. The servers are
    the running instances whose Name tag is <stack>-<server> (machine.py) for a server name pattern, the address
    their DNS name <server>.<domain>, the labels those of the listed targets (server, role, stack)."""
    region: str
    name_patterns: tuple[str, ...]  # Name tag patterns of the servers, e.g. ("prod-core-*", "prod-replica-*")
    name_prefix: str  # "prod-": stripped from the Name tag to give the server label
    domain: str  # "prod.neo4j.internal"
    refresh_interval: str = "60s"


@dataclass(frozen=True)
class ScrapeJobs:
    """The static targets of each job, as prometheus.yml.j2 lays them out ({"endpoint", "server"[, "role"]})."""
    neo4j: list[dict[str, str]]
    node: list[dict[str, str]]
    haproxy: list[dict[str, str]]
    # Node exporters listed even where EC2 discovery finds the servers': the HAProxy pair's (AWS).
    node_listed: list[dict[str, str]] = field(default_factory=list)

    @property
    def present(self) -> set[str]:
        """The jobs with at least one target: the alerts and panels of any other job are left out."""
        return {job for job, present in ((JOB_NEO4J, self.neo4j), (JOB_NODE, self.node or self.node_listed),
                                         (JOB_HAPROXY, self.haproxy)) if present}


def check_name(kind: str, value: str) -> None:
    if not _NAME_RE.match(value):
        raise ValueError(f"invalid {kind} {value!r}: letters, digits, '.', '_', '-' only")


def _endpoint(address: str, port: int) -> str:
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    if ":" in address:
        if not _IPV6_RE.match(address):
            raise ValueError(f"invalid address {address!r}")
        return f"[{address}]:{port}"
    if not _HOST_RE.match(address):
        raise ValueError(f"invalid address {address!r}")
    return f"{address}:{port}"


def scrape_jobs(targets: list[ScrapeTarget], *, haproxy_target: str | None,
                haproxy_targets: Mapping[str, str] | None,
                haproxy_node_exporter_port: int | None = None) -> ScrapeJobs:
    """The checked targets of every job. haproxy_targets: each HAProxy node by its name (the AWS pair);
    haproxy_target: the one node "haproxy"; haproxy_node_exporter_port: where node exporter listens on each of
    them (None: it runs on none, the Docker stack's container)."""
    seen: set[str] = set()
    neo4j_targets, node_targets = [], []
    for target in targets:
        check_name("server name", target.name)
        if target.role not in ROLES:
            raise ValueError(f"role of {target.name} must be one of {ROLES}, got {target.role!r}")
        if target.name in seen:
            raise ValueError(f"duplicate scrape target {target.name}")
        seen.add(target.name)
        labels = {"server": target.name, "role": target.role}
        if target.metrics_port is not None:
            neo4j_targets.append({"endpoint": _endpoint(target.address, target.metrics_port), **labels})
        if target.node_exporter_port is not None:
            node_targets.append({"endpoint": _endpoint(target.address, target.node_exporter_port), **labels})

    haproxy, node_listed = [], []
    named = dict(haproxy_targets or {}) or ({"haproxy": haproxy_target} if haproxy_target is not None else {})
    for server, haproxy_at in named.items():
        host, sep, port = haproxy_at.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"haproxy_target must be host:port, got {haproxy_at!r}")
        haproxy.append({"endpoint": _endpoint(host.strip("[]"), int(port)), "server": server})
        if haproxy_node_exporter_port is not None:
            node_listed.append({"endpoint": _endpoint(host.strip("[]"), haproxy_node_exporter_port),
                                "server": server, "role": HAPROXY_ROLE})
    return ScrapeJobs(neo4j=neo4j_targets, node=node_targets, haproxy=haproxy, node_listed=node_listed)


def _ports(targets: list[dict[str, str]]) -> set[int]:
    return {int(target["endpoint"].rpartition(":")[2]) for target in targets}


def render_prometheus_config(*, stack: str, version_line: str, scrape_interval: str, jobs: ScrapeJobs,
                             discovery: Ec2Discovery | None = None) -> str:
    if discovery is not None:
        for kind, targets in (("metrics", jobs.neo4j), ("node exporter", jobs.node + jobs.node_listed)):
            if len(_ports(targets)) > 1:  # one port per job: the discovered servers are addressed alike
                raise ValueError(f"EC2 discovery needs one {kind} port on every server, got {sorted(_ports(targets))}")
    return render_template(
        "prometheus/prometheus.yml.j2",
        stack=stack, version_line=version_line, scrape_interval=scrape_interval, rule_files=[RULE_FILES_GLOB],
        jobs={"neo4j": JOB_NEO4J, "node": JOB_NODE, "haproxy": JOB_HAPROXY},
        neo4j_targets=jobs.neo4j, node_targets=jobs.node, node_listed=jobs.node_listed, haproxy=jobs.haproxy,
        discovery=discovery, neo4j_port=min(_ports(jobs.neo4j), default=0),
        node_port=min(_ports(jobs.node + jobs.node_listed), default=0), haproxy_role=HAPROXY_ROLE)
