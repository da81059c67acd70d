"""Docker adapter: the same cluster as containers on one network of the local Docker engine.

Each server, HAProxy and the monitoring node is a container whose hostname and network alias are
the topology's stable DNS names (core-1.<stack>.neo4j.internal, …), so the rendered neo4j.conf,
haproxy.cfg and prometheus.yml work unchanged. Ports are published on 127.0.0.1 only
(components/docker/layout.py lists them); images are pinned in components/docker/images.py.

Outputs have the AWS stack's shape. Locally:
  boltUri     bolt://127.0.0.1:7687 through HAProxy, else bolt:// to core-1's published port
              (bolt:// because a neo4j:// routing table names the servers by their network names,
              which the laptop cannot resolve; with several servers, server-side routing forwards writes)
  routingUri  neo4j://core-1.<domain>:7687, for clients on the Docker network `neo4j-<stack>-net`
  servers     name, role, zone, hostname, privateIp (the network name: container IPs change on restart),
              boltUri (bolt://127.0.0.1:<published port>)
  haproxyUri, haproxyReadUri  bolt://127.0.0.1:7687 and :7689 (HAProxy's write and read ports), None without it
  metricsUrls each server's metrics endpoint by its network name, as routingUri: from the Docker network only
  backupBucket None, secretArns {}: secrets stay in the Pulumi stack and the containers' state, and reach
              the containers as files under /run/secrets, never as environment variables.
"""
from __future__ import annotations

import pulumi

from components import outputs
from components.docker.images import image_problems
from components.docker.layout import LOOPBACK, PublishedPort, published_port, server_ports
from components.docker.load_balancer import LoadBalancer, LoadBalancerArgs
from components.docker.monitoring import Monitoring, MonitoringArgs
from components.docker.network import ClusterNetwork, ClusterNetworkArgs
from components.docker.servers import HELD_BACK_ON_SERVER_CONTAINERS, Neo4jServers, Neo4jServersArgs
from components.outputs import Deployment
from components.passwords import admin_password_problems
from components.ports import PORTS
from components.program.stack_config import alias_keystore
from components.program.tls import ClusterCertificates, crt_file
from components.render import GDS_LICENSE_KEY, RenderedCluster, entry_terminates_tls, haproxy_open_files
from components.settings import NAMESPACE, Settings
from components.topology import ClusterTopology

# What code outside the adapter may use (the offline plan, scripts/neo4j_ops/plan/, reads the held-back inputs):
# tests/unit/test_import_direction.py holds scripts/ to this package and away from its modules.
__all__ = ["build_docker", "stack_outputs", "HELD_BACK_ON_SERVER_CONTAINERS"]


def build_docker(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster) -> Deployment:
    config = pulumi.Config(NAMESPACE)
    admin_password = config.require_secret("adminPassword")  # read first: a missing one stops before any resource
    # The engine hands the program its secrets decrypted (preview and up alike): check the password now, so a
    # bad one stops the program before any resource, not the containers at their first start.
    problems = image_problems(settings) + admin_password_problems(
        pulumi.runtime.get_config(config.full_key("adminPassword")), settings)
    if problems:
        raise pulumi.RunError("invalid stack config:\n" + "\n".join(problems))  # no traceback, no password
    keystore = alias_keystore(settings)  # remote aliases: a missing keystore stops the program here
    grafana_password = config.get_secret("grafanaAdminPassword")
    name = f"neo4j-{settings.stack}"
    ports = server_ports(rendered.neo4j_hosts)  # 4.4's Fabric proxies after the servers

    certificates = (ClusterCertificates(f"{name}-tls", topology, entry=entry_terminates_tls(settings))
                    if settings.tls != "disabled" else None)
    network = ClusterNetwork(name, ClusterNetworkArgs(domain=topology.domain))
    Neo4jServers(name, Neo4jServersArgs(
        settings=settings, topology=topology, rendered=rendered, network=network.name, ports=ports,
        admin_password=admin_password, certificates=certificates, alias_keystore=keystore,
        # neo4j:gdsLicense, for the containers that run GDS (Neo4jServers places it where render names it).
        gds_license=config.require_secret(GDS_LICENSE_KEY) if GDS_LICENSE_KEY in settings.secrets_set else None))
    if topology.haproxy:
        # It checks the servers over HTTPS (TLS required) with the cluster's CA.
        https_checks = any(plan.health_check.ssl for plan in rendered.servers.values())
        LoadBalancer(name, LoadBalancerArgs(
            node=topology.haproxy, haproxy_cfg=rendered.files["haproxy"]["haproxy.cfg"], network=network.name,
            ca_cert_pem=certificates.ca_cert_pem if certificates and https_checks else None,
            entry_pem=crt_file(certificates.entry) if certificates and certificates.entry else None,
            open_files=haproxy_open_files(settings)))
    if topology.monitoring:
        Monitoring(name, MonitoringArgs(
            node=topology.monitoring, files=rendered.files["monitoring"], network=network.name,
            grafana_admin_password=grafana_password))
        if grafana_password is None:
            pulumi.log.warn(f"{NAMESPACE}:grafanaAdminPassword is not set: Grafana starts with admin/admin and "
                            f"asks for a new password at the first login")
    # Docker places the neutral files as they are (as container uploads).
    return Deployment(rendered.files, stack_outputs(settings, topology, ports, certificates))


def stack_outputs(settings: Settings, topology: ClusterTopology, ports: dict[str, tuple[PublishedPort, ...]],
                  certificates: ClusterCertificates | None) -> outputs.StackOutputs:
    bolt = {server: published_port(published, "bolt") for server, published in ports.items()}
    monitoring = f"http://{LOOPBACK}:" if topology.monitoring else None
    haproxy = f"bolt://{LOOPBACK}:" if topology.haproxy else None
    return outputs.stack_outputs(
        settings, topology,
        bolt_uri=f"{haproxy}{PORTS.haproxy.bolt_write}" if haproxy
        else f"bolt://{LOOPBACK}:{bolt[topology.primaries[0].name]}",
        server_addresses={s.name: s.hostname for s in topology.neo4j_hosts},
        server_bolt_uris={s.name: f"bolt://{LOOPBACK}:{bolt[s.name]}" for s in topology.neo4j_hosts},
        haproxy_uri=f"{haproxy}{PORTS.haproxy.bolt_write}" if haproxy else None,
        haproxy_read_uri=f"{haproxy}{PORTS.haproxy.bolt_read}" if haproxy else None,
        grafana_url=f"{monitoring}{PORTS.monitoring.grafana}" if monitoring else None,
        prometheus_url=f"{monitoring}{PORTS.monitoring.prometheus}" if monitoring else None,
        backup_bucket=None, secret_arns={},
        ca_cert_pem=certificates.ca_cert_pem if certificates else None)
