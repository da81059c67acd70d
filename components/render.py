"""Every file the machines need, rendered from templates/: `render_artifacts(settings, topology)`.

Decisions (dialect, modes, memory, TLS policies, ports) are made here in Python and handed to the
templates as plain values; the adapters (AWS, Docker) only place the resulting text.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from components.monitoring import (
    MONITORING_NODE_PATHS,
    AlertThresholds,
    ScrapeTarget,
    metrics_filter,
    render_monitoring,
)
from components.neo4j_defaults import IMPORT_DIRECTORY_KEY, directories, jvm_flags
from components.ports import PORTS
from components.secrets import secret_names
from components.settings import Settings
from components.sizing import MemoryPlan, machine_memory, plan_memory
from components.templating import render_template
from components.tooling import TOOLING_DIR, TOOLING_KEY
from components.topology import PRIMARY, SECONDARY, ClusterTopology, Server
from components.units import neo4j_size

Artifacts = dict[str, dict[str, str]]  # target (server or node name) → {relative path: text}

NEO4J_CONF_TEMPLATE = {"4.4": "neo4j/4.4/neo4j.conf.j2", "5": "neo4j/5/neo4j.conf.j2", "2025": "neo4j/5/neo4j.conf.j2"}
# Debian repository component per line (https://debian.neo4j.com).
NEO4J_APT_COMPONENT = {"4.4": "4.4", "5": "5", "2025": "latest"}

# metrics.filter comes from components/monitoring.py, next to the alert rules and dashboard that read it.


@dataclass(frozen=True)
class SslPolicy:
    scope: str  # bolt | https | cluster | backup
    client_auth: str  # NONE | REQUIRE
    verify_hostname: str


def memory_plan(settings: Settings, server: Server) -> MemoryPlan:
    instance_type = settings.core_instance_type if server.role == PRIMARY else settings.replica_instance_type
    ram = machine_memory(settings.platform, instance_type, settings.container_memory)
    return plan_memory(ram, heap_override=settings.heap_size, page_cache_override=settings.page_cache_size)


def ssl_policies(settings: Settings) -> tuple[SslPolicy, ...]:
    if settings.tls == "disabled":
        return ()
    policies = [SslPolicy("bolt", "NONE", "false"), SslPolicy("https", "NONE", "false")]
    if settings.tls == "required" and settings.clustered:
        # Cluster and backup traffic is mutually authenticated with the cluster's own CA.
        policies += [SslPolicy("cluster", "REQUIRE", "false"), SslPolicy("backup", "REQUIRE", "false")]
    return tuple(policies)


def neo4j_conf_values(settings: Settings, topology: ClusterTopology, server: Server) -> dict[str, Any]:
    memory = memory_plan(settings, server)
    line = settings.version_line
    primary = server.role == PRIMARY
    if line == "4.4":
        mode = "CORE" if primary else "READ_REPLICA"
    else:
        mode = "PRIMARY" if primary else "SECONDARY"
    primaries = len(topology.primaries)
    return {
        "stack": settings.stack,
        "server_name": server.name,
        "role": server.role,
        "version": settings.version,
        "version_line": line,
        "edition": settings.edition,
        "platform": settings.platform,
        "enterprise": settings.edition == "enterprise",
        "clustered": settings.clustered,
        "hostname": server.hostname,
        "ports": asdict(PORTS.server),
        "mode": mode,
        "default_primaries": primaries,
        # Formation waits for every primary, so the default database gets all of them (see the template).
        "minimum_initial_primaries": primaries,
        "default_secondaries": len(topology.secondaries),
        "minimum_runtime_cores": min(primaries, 3),
        "discovery_endpoints": ",".join(topology.discovery_endpoints),
        "auth_enabled": str(settings.auth_enabled).lower(),
        "bolt_tls_level": {"disabled": "DISABLED", "optional": "OPTIONAL", "required": "REQUIRED"}[settings.tls],
        # With TLS required, plain HTTP is off too; HAProxy then checks health over HTTPS.
        "http_enabled": str(settings.tls != "required").lower(),
        "https_enabled": str(settings.tls != "disabled").lower(),
        "ssl_policies": [asdict(p) for p in ssl_policies(settings)],
        "heap": neo4j_size(memory.heap),
        "page_cache": neo4j_size(memory.page_cache),
        "memory_source": f"{memory.source} for {neo4j_size(memory.ram)} of RAM",
        # The shipped flags of the line (components/neo4j_defaults.py), then ours.
        "jvm_flags": list(jvm_flags(line, (f"-XX:MaxGCPauseMillis={settings.gc_max_pause_millis}",
                                           "-XX:+ExitOnOutOfMemoryError"))),
        # The package's paths; the import directory confines LOAD CSV's file:/// URLs on every line.
        "directories": [{"key": key, "path": path} for key, path in directories(settings.platform, line)],
        "tx_log_retention": settings.tx_log_retention,
        "tx_log_rotation_size": settings.tx_log_rotation_size,
        "slow_query_threshold": settings.slow_query_threshold,
        "metrics_filter": metrics_filter(line),
    }


def render_neo4j_conf(settings: Settings, topology: ClusterTopology, server: Server) -> str:
    return render_template(NEO4J_CONF_TEMPLATE[settings.version_line],
                           conf=neo4j_conf_values(settings, topology, server))


def health_check_scheme(settings: Settings) -> dict[str, Any]:
    """How HAProxy asks a server about its role: HTTP, or HTTPS when plain HTTP is off.

    Enterprise answers /db/<database>/cluster/writable only on the writer; Community has no cluster
    endpoints (404), so there the one server is healthy when its discovery page answers.
    """
    if settings.edition == "enterprise":
        paths = {"write": f"/db/{settings.database}/cluster/writable",
                 "read": f"/db/{settings.database}/cluster/available"}
    else:
        paths = {"write": "/", "read": "/"}
    port, ssl = (PORTS.server.https, True) if settings.tls == "required" else (PORTS.server.http, False)
    return {"port": port, "ssl": ssl, **paths}


def render_haproxy_cfg(settings: Settings, topology: ClusterTopology) -> str:
    return render_template(
        "haproxy/haproxy.cfg.j2",
        stack=settings.stack,
        database=settings.database,
        ports=asdict(PORTS.haproxy),
        check=health_check_scheme(settings),
        servers=[{"name": s.name, "address": s.hostname, "bolt_port": PORTS.server.bolt}
                 for s in topology.servers],
        writers=[s.name for s in topology.primaries] if settings.clustered else [topology.servers[0].name],
    )


def _monitoring_artifacts(settings: Settings, topology: ClusterTopology) -> dict[str, str]:
    # Scrape only what runs: metrics are Enterprise-only (Community has no endpoint on 2004), and node
    # exporter runs on the AWS servers (cloud-init installs it), not in the Docker stack's Neo4j containers.
    metrics_port = PORTS.server.metrics if settings.edition == "enterprise" else None
    node_exporter_port = PORTS.server.node_exporter if settings.platform == "aws" else None
    targets = [ScrapeTarget(s.name, s.role, s.hostname, metrics_port, node_exporter_port) for s in topology.servers]
    haproxy = f"{topology.haproxy.hostname}:{PORTS.haproxy.stats}" if topology.haproxy else None
    return render_monitoring(
        stack=settings.stack, version_line=settings.version_line, targets=targets, thresholds=AlertThresholds(),
        haproxy_target=haproxy, prometheus_url=f"http://localhost:{PORTS.monitoring.prometheus}")


BACKUP_JOB_FILES = ("neo4j-backup.sh", "neo4j-backup.service", "neo4j-backup.timer",
                    "neo4j-restore-drill.service", "neo4j-restore-drill.timer")


def render_backup_job(settings: Settings, topology: ClusterTopology) -> dict[str, str]:
    values = {
        "stack": settings.stack,
        "database": settings.database,
        "version_line": settings.version_line,
        "enterprise": settings.edition == "enterprise",
        "backup_from": f"{topology.backup_server.hostname}:{PORTS.server.backup}",
        "staging_dir": "/var/backups/neo4j",
        "local_retention_days": settings.backup_local_retention_days,
        "schedule": settings.backup_schedule,
        "region": settings.region,
        "password_secret": secret_names(settings, topology).admin_password,
        "tools_dir": TOOLING_DIR,
    }
    return {f"backup/{name}": render_template(f"backup/{name}.j2", **values) for name in BACKUP_JOB_FILES}


def _user_data(role: str, files: dict[str, str], **values: Any) -> str:
    # cloud-init write_files: the same text the Docker stack uploads, under the paths below.
    return render_template(f"cloud-init/{role}.yaml.j2", files=files, **values)


# Where each rendered server file lives on an EC2 instance (cloud-init write_files).
SERVER_FILE_PLACES = {
    "neo4j.conf": "/etc/neo4j-cluster/neo4j.conf",
    "setup-neo4j.sh": "/usr/local/lib/neo4j-cluster/setup-neo4j.sh",
    "join-topology.sh": "/usr/local/lib/neo4j-cluster/join-topology.sh",
    "backup/neo4j-backup.sh": "/usr/local/lib/neo4j-cluster/neo4j-backup.sh",
    "backup/neo4j-backup.service": "/etc/systemd/system/neo4j-backup.service",
    "backup/neo4j-backup.timer": "/etc/systemd/system/neo4j-backup.timer",
    "backup/neo4j-restore-drill.service": "/etc/systemd/system/neo4j-restore-drill.service",
    "backup/neo4j-restore-drill.timer": "/etc/systemd/system/neo4j-restore-drill.timer",
}
JAVA_PACKAGE = {"4.4": "openjdk-11-jre-headless", "5": "openjdk-17-jre-headless", "2025": "openjdk-21-jre-headless"}


def license_answers(settings: Settings) -> tuple[str, ...]:
    """debconf answers that accept the Enterprise licence (Operations Manual, installation/linux/debian.adoc:
    "For Neo4j 5.3 and later" neo4j/accept-license; "For Neo4j 5.2 and earlier" neo4j/question)."""
    if settings.edition != "enterprise":
        return ()
    if settings.version_line == "4.4":
        return ("neo4j-enterprise neo4j/question select I ACCEPT", "neo4j-enterprise neo4j/license note")
    return ("neo4j-enterprise neo4j/accept-license select Accept commercial license",)


def local_bolt_uri(settings: Settings, topology: ClusterTopology) -> str:
    """How a server's own boot script reaches the cluster through itself: neo4j:// routes the
    administration command to the system database's leader. With TLS, the server's certificate
    names its DNS name, not localhost, hence +ssc (encrypted, certificate not checked) on loopback."""
    scheme = "neo4j" if settings.tls == "disabled" else "neo4j+ssc"
    return f"{scheme}://localhost:{PORTS.server.bolt}"


def joins_database_topology(settings: Settings, server: Server) -> bool:
    """5.x and 2025 allocate databases to servers; 4.4 read replicas host every database on their own."""
    return server.role == SECONDARY and settings.edition == "enterprise" and settings.version_line != "4.4"


def render_join_topology(settings: Settings, topology: ClusterTopology, server: Server) -> str:
    return render_template(
        "neo4j/join-topology.sh.j2", server_name=server.name, stack=settings.stack, database=settings.database,
        local_uri=local_bolt_uri(settings, topology), primaries=len(topology.primaries),
        secondaries=len(topology.secondaries), attempts=60, pause_seconds=10)


def render_setup_script(settings: Settings, topology: ClusterTopology, server: Server, *, tls_secret: str,
                        admin_password_secret: str, backup: bool) -> str:
    return render_template(
        "neo4j/setup-neo4j.sh.j2",
        server=asdict(server), stack=settings.stack, version=settings.version, edition=settings.edition,
        license_answers=license_answers(settings),
        import_dir=dict(directories("aws", settings.version_line))[IMPORT_DIRECTORY_KEY[settings.version_line]],
        joins_database_topology=joins_database_topology(settings, server),
        join_topology_script=SERVER_FILE_PLACES["join-topology.sh"],
        package="neo4j-enterprise" if settings.edition == "enterprise" else "neo4j",
        java_package=JAVA_PACKAGE[settings.version_line], apt_component=NEO4J_APT_COMPONENT[settings.version_line],
        region=settings.region, tls_secret=tls_secret, admin_password_secret=admin_password_secret,
        ssl_scopes=[p.scope for p in ssl_policies(settings)], backup=backup,
        tooling_key=TOOLING_KEY, tooling_dir=TOOLING_DIR,
        set_password_command="set-initial-password" if settings.version_line == "4.4"
        else "dbms set-initial-password")


def render_artifacts(settings: Settings, topology: ClusterTopology) -> Artifacts:
    names = secret_names(settings, topology)
    artifacts: Artifacts = {}
    backup_files = render_backup_job(settings, topology)
    for server in topology.servers:
        is_backup = server == topology.backup_server
        files = {
            "neo4j.conf": render_neo4j_conf(settings, topology, server),
            "setup-neo4j.sh": render_setup_script(
                settings, topology, server, tls_secret=names.tls[server.name] if settings.tls != "disabled" else "",
                admin_password_secret=names.admin_password, backup=is_backup),
            **(backup_files if is_backup else {}),
        }
        if joins_database_topology(settings, server):
            files["join-topology.sh"] = render_join_topology(settings, topology, server)
        files["cloud-init.yaml"] = _user_data(
            "neo4j", {SERVER_FILE_PLACES[path]: text for path, text in files.items()}, server=asdict(server))
        artifacts[server.name] = files
    if topology.haproxy:
        cfg = render_haproxy_cfg(settings, topology)
        artifacts["haproxy"] = {
            "haproxy.cfg": cfg,
            "cloud-init.yaml": _user_data("haproxy", {"/etc/haproxy/haproxy.cfg": cfg}, region=settings.region,
                                          ca_secret=names.ca if settings.tls == "required" else ""),
        }
    if topology.monitoring:
        files = _monitoring_artifacts(settings, topology)
        placed = {MONITORING_NODE_PATHS[path]: text for path, text in files.items()}
        files["cloud-init.yaml"] = _user_data("monitoring", placed, region=settings.region,
                                              grafana_password_secret=names.grafana_admin_password)
        artifacts["monitoring"] = files
    return artifacts


def flatten(artifacts: Artifacts) -> dict[str, str]:
    """{"core-1/neo4j.conf": text, …}: the layout of build/<stack>/."""
    return {f"{target}/{path}": text for target, files in artifacts.items() for path, text in files.items()}
