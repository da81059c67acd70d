"""Where things are on the docker platform: published ports on the laptop, files in the containers.

Pure data, no Pulumi. Every published port binds 127.0.0.1 only.

Ports on the laptop:
  HAProxy       Bolt (writes) 7687, Bolt (reads) 7689, stats and /metrics 8404, health 8405
  Prometheus    9090          Grafana 3000
  Neo4j server  container port + 10000 + 100 x its position in the topology (core-1 is 0):
                core-1   Bolt 17687  HTTP 17474  HTTPS 17473
                core-2   Bolt 17787  HTTP 17574  HTTPS 17573
                replica-1 of 3 cores: Bolt 17987, HTTP 17774, HTTPS 17773
                HTTP is published only while plain HTTP is on (tls != required), HTTPS while TLS is on.
The stride of 100 keeps Bolt, HTTP and HTTPS of all 61 possible servers apart (the largest is 23687).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from components.monitoring import MONITORING_NODE_PATHS
from components.ports import PORTS
from components.render import ServerPlan

LOOPBACK = "127.0.0.1"
SERVER_PORT_OFFSET = 10000
SERVER_PORT_STRIDE = 100


@dataclass(frozen=True)
class PublishedPort:
    name: str  # "bolt", "http", "https", "bolt_write", "prometheus", …
    internal: int  # in the container
    external: int  # on the laptop, bound to LOOPBACK


def server_ports(servers: Mapping[str, ServerPlan]) -> dict[str, tuple[PublishedPort, ...]]:
    """Server name → its published ports: the client endpoints render enabled on it (Bolt always; HTTP and
    HTTPS while they are on). `servers` is render's plan of each server, in topology order."""
    return {
        name: tuple(PublishedPort(e.name, e.port, e.port + SERVER_PORT_OFFSET + SERVER_PORT_STRIDE * position)
                    for e in plan.client_endpoints)
        for position, (name, plan) in enumerate(servers.items())
    }


def same_ports(ports: dict[str, int]) -> tuple[PublishedPort, ...]:
    """Ports published under their own numbers (HAProxy, Prometheus, Grafana)."""
    return tuple(PublishedPort(name, port, port) for name, port in ports.items())


HAPROXY_PUBLISHED = same_ports(asdict(PORTS.haproxy))
MONITORING_PUBLISHED = same_ports(asdict(PORTS.monitoring))


def published_port(ports: tuple[PublishedPort, ...], name: str) -> int:
    return next(port.external for port in ports if port.name == name)


# --- files in the containers ---------------------------------------------------------------------

# The official Neo4j image: NEO4J_HOME, and the uid/gid of its `neo4j` user (4.4, 5 and calendar images).
NEO4J_HOME = "/var/lib/neo4j"
NEO4J_UID = "7474"
# Uploaded over the image's own neo4j.conf (not into /conf, which the entrypoint would copy over the
# whole conf directory, dropping the image's log configuration files).
NEO4J_CONF = f"{NEO4J_HOME}/conf/neo4j.conf"
# APOC's own settings file, beside neo4j.conf (neo4j:plugins with APOC).
NEO4J_APOC_CONF = f"{NEO4J_HOME}/conf/apoc.conf"
NEO4J_DATA = "/data"  # the image's VOLUMEs; $NEO4J_HOME/data and /logs link to them
NEO4J_LOGS = "/logs"

# Secrets are files, never environment variables: `docker inspect` shows a container's environment.
# Docker's own place for secret files, outside $NEO4J_HOME (whose files the neo4j entrypoint chowns and
# chmods) and outside the volumes. The upload creates the directory (root-owned, 0755).
SECRETS_DIR = "/run/secrets"
# "neo4j/<password>": the neo4j entrypoint reads it when NEO4J_AUTH_PATH names it (4.4.28+, 5.14+, calendar).
NEO4J_AUTH_FILE = f"{SECRETS_DIR}/neo4j-auth"
# The official Grafana image runs as this uid; its run.sh reads GF_<KEY>__FILE files into GF_<KEY>.
GRAFANA_UID = "472"
GRAFANA_ADMIN_PASSWORD_FILE = f"{SECRETS_DIR}/grafana-admin-password"
SECRET_FILE_MODE = "0400"  # read by its owner only

# Our scripts in the Neo4j containers, outside $NEO4J_HOME: a secondary's join-topology.sh and the
# extension script the entrypoint sources before it starts Neo4j (EXTENSION_SCRIPT names it).
NEO4J_TOOLS_DIR = "/opt/neo4j-cluster"
NEO4J_JOIN_TOPOLOGY = f"{NEO4J_TOOLS_DIR}/join-topology.sh"
NEO4J_EXTENSION_SCRIPT = f"{NEO4J_TOOLS_DIR}/extension.sh"
NEO4J_JOIN_TOPOLOGY_LOG = f"{NEO4J_LOGS}/join-topology.log"


@dataclass(frozen=True)
class CertificatePlaces:
    private_key: str
    public_certificate: str
    trusted_ca: str


def certificate_places(scope: str) -> CertificatePlaces:
    """Where neo4j.conf's `dbms.ssl.policy.<scope>` looks (base_directory=certificates/<scope>)."""
    base = f"{NEO4J_HOME}/certificates/{scope}"
    return CertificatePlaces(f"{base}/private.key", f"{base}/public.crt", f"{base}/trusted/ca.crt")


# The official HAProxy image reads this file; the rendered haproxy.cfg names the CA file it checks with.
HAPROXY_CFG = "/usr/local/etc/haproxy/haproxy.cfg"
HAPROXY_CA = "/etc/haproxy/ca.crt"

# The official Prometheus and Grafana images use the same paths as the monitoring node's Debian
# packages: /etc/prometheus (prometheus.yml resolves rules/*.yml next to it), /etc/grafana/provisioning
# and /var/lib/grafana (the dashboard provider's directory).
PROMETHEUS_DATA = "/prometheus"


def monitoring_places(service: str) -> dict[str, str]:
    """Rendered monitoring file → its path in the `prometheus` or `grafana` container."""
    return {path: place for path, place in MONITORING_NODE_PATHS.items() if path.startswith(f"{service}/")}
