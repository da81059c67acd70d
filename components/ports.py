"""Every TCP port the cluster uses, in one table: `PORTS`.

Render writes them into neo4j.conf, haproxy.cfg and prometheus.yml; the AWS adapter opens exactly
these in its security groups; the Docker adapter publishes them on 127.0.0.1. Nothing else names a
port number.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerPorts:
    """What a Neo4j server's machine listens on."""
    bolt: int = 7687
    http: int = 7474
    https: int = 7473
    discovery: int = 5000  # 4.4 and 5.x discovery v1 only
    cluster: int = 6000  # transactions/catch-up; discovery v2 in 5.x and 2025
    raft: int = 7000
    routing: int = 7688
    backup: int = 6362
    metrics: int = 2004  # Prometheus endpoint (Enterprise)
    node_exporter: int = 9100  # the machine's exporter (AWS)


@dataclass(frozen=True)
class HaproxyPorts:
    bolt_write: int = 7687  # to the leader
    bolt_read: int = 7689  # to any server that hosts the database
    stats: int = 8404  # stats page and /metrics
    health: int = 8405  # the entry point's health (/health/write, /health/read): the NLB checks it


@dataclass(frozen=True)
class MonitoringPorts:
    prometheus: int = 9090
    grafana: int = 3000


@dataclass(frozen=True)
class Ports:
    server: ServerPorts = ServerPorts()
    haproxy: HaproxyPorts = HaproxyPorts()
    monitoring: MonitoringPorts = MonitoringPorts()


PORTS = Ports()
