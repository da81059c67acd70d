"""What every platform places, rendered from templates/: `render_cluster(settings, topology)`.

Platform-neutral. It returns the texts both adapters place the same way (each server's neo4j.conf, a
joining secondary's join-topology.sh, haproxy.cfg, the Prometheus and Grafana files) and, per server, the
decisions the adapters act on: memory plan, TLS policies, health check and ports. The adapters read those
decisions; they do not make them again. What one platform alone needs is rendered on its side
(components/aws/user_data.py: cloud-init, setup-neo4j.sh, the backup job, file places on the machine).

Decisions (dialect, modes, memory, TLS policies, ports) are made here in Python and handed to the
templates as plain values.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from components.databases import KEY_NAME, needs_keystore
from components.ip_blocklist import blocklist_setting
from components.monitoring import AlertThresholds, Ec2Discovery, ScrapeTarget, metrics_filter, render_monitoring
from components.neo4j_defaults import ALIAS_KEYSTORE_PATH, directories, jvm_flags
from components.plugins import GDS, Plugin, namespaces_of, plugin_servers, shipped_plugins
from components.ports import PORTS
from components.settings import NAMESPACE, ConfigError, Settings
from components.sizing import AdminBudget, MemoryPlan, admin_budget, machine_cpus, machine_memory, plan_memory
from components.templating import render_template
from components.topology import FABRIC, PRIMARY, SECONDARY, ClusterTopology, Server
from components.units import neo4j_size
from scripts.neo4j_ops.shared.versions import Version, line_of

Artifacts = dict[str, dict[str, str]]  # target (server or node name) → {relative path: text}

NEO4J_CONF_TEMPLATE = {"4.4": "neo4j/4.4/neo4j.conf.j2", "5": "neo4j/5/neo4j.conf.j2", "2025": "neo4j/5/neo4j.conf.j2"}

# metrics.filter comes from components/monitoring/metrics.py, with the metric names the alert rules and dashboard read.


@dataclass(frozen=True)
class SslPolicy:
    scope: str  # bolt | https | cluster | backup | fabric (4.4's Fabric proxy, its drivers to the cluster)
    client_auth: str  # NONE | REQUIRE
    verify_hostname: str


@dataclass(frozen=True)
class HealthCheck:
    """How a server is asked about itself (HAProxy's checks, the container's health check): over HTTP, or
    HTTPS when plain HTTP is off."""
    port: int
    ssl: bool
    write_path: str  # answers 200 on the writer of the default database only (Enterprise)
    read_path: str  # answers 200 where the default database is available

    @property
    def scheme(self) -> str:
        return "https" if self.ssl else "http"


@dataclass(frozen=True)
class Endpoint:
    name: str  # bolt | http | https | metrics | node_exporter
    port: int


@dataclass(frozen=True)
class ServerPlan:
    """What render decided for one server."""
    server: Server
    memory: MemoryPlan  # of the machine's RAM, or of the container's memory limit
    ssl_policies: tuple[SslPolicy, ...]  # the TLS scopes, each with its key and certificate in certificates/<scope>/
    health_check: HealthCheck
    client_endpoints: tuple[Endpoint, ...]  # Bolt, and HTTP and HTTPS while each is enabled
    scrape_endpoints: tuple[Endpoint, ...]  # what Prometheus scrapes on it: metrics (Enterprise), node exporter (AWS)
    joins_database_topology: bool  # runs join-topology.sh once it has started
    admin: AdminBudget  # bounds of the neo4j-admin processes run on it (the backup job's, a restore's)
    plugins: tuple[Plugin, ...] = ()  # neo4j:plugins it runs, installed from the package by install-plugins.sh


@dataclass(frozen=True)
class RenderedCluster:
    files: Artifacts  # the same texts on every platform, by target: server name, "haproxy", "monitoring"
    servers: Mapping[str, ServerPlan]  # by server name, in topology order
    fabric_proxies: Mapping[str, ServerPlan] = field(default_factory=dict)  # 4.4's Fabric proxies, by name

    @property
    def neo4j_hosts(self) -> dict[str, ServerPlan]:
        """The plan of every Neo4j DBMS (ClusterTopology.neo4j_hosts): the servers', then the Fabric proxies'."""
        return {**self.servers, **self.fabric_proxies}


def instance_type_of(settings: Settings, server: Server) -> str:
    return settings.core_instance_type if server.role == PRIMARY else settings.replica_instance_type


def memory_plan(settings: Settings, server: Server) -> MemoryPlan:
    ram = machine_memory(settings.platform, instance_type_of(settings, server), settings.container_memory)
    return plan_memory(ram, heap_override=settings.heap_size, page_cache_override=settings.page_cache_size)


def admin_budget_of(settings: Settings, server: Server) -> AdminBudget:
    """What neo4j-admin may use on `server` beside its running Neo4j (components/sizing.py admin_budget)."""
    cpus = machine_cpus(settings.platform, instance_type_of(settings, server))
    return admin_budget(memory_plan(settings, server), cpus)


def ssl_policies(settings: Settings) -> tuple[SslPolicy, ...]:
    if settings.tls == "disabled":
        return ()
    policies = [SslPolicy("bolt", "NONE", "false"), SslPolicy("https", "NONE", "false")]
    if settings.tls == "required" and settings.clustered:
        # Cluster and backup traffic is mutually authenticated with the cluster's own CA, and each member checks
        # that the peer's certificate names the host it dialled (every member dials the others, and the backup job
        # its own server, by the advertised hostname, which each server certificate names: components/program/tls.py).
        policies += [SslPolicy("cluster", "REQUIRE", "true"), SslPolicy("backup", "REQUIRE", "true")]
    return tuple(policies)


def health_check(settings: Settings) -> HealthCheck:
    """Enterprise answers /db/<database>/cluster/writable only on the writer; Community has no cluster
    endpoints (404), so there the one server is healthy when its discovery page answers."""
    if settings.edition == "enterprise":
        write, read = f"/db/{settings.database}/cluster/writable", f"/db/{settings.database}/cluster/available"
    else:
        write = read = "/"
    # With TLS required, plain HTTP is off: the check goes over HTTPS.
    if settings.tls == "required":
        return HealthCheck(PORTS.server.https, True, write, read)
    return HealthCheck(PORTS.server.http, False, write, read)


def client_endpoints(settings: Settings) -> tuple[Endpoint, ...]:
    """Plain HTTP is off with TLS required, HTTPS off with TLS disabled."""
    ports = PORTS.server
    return ((Endpoint("bolt", ports.bolt),)
            + ((Endpoint("http", ports.http),) if settings.tls != "required" else ())
            + ((Endpoint("https", ports.https),) if settings.tls != "disabled" else ()))


def scrape_endpoints(settings: Settings) -> tuple[Endpoint, ...]:
    """Only what runs: metrics are Enterprise-only (Community has no endpoint on 2004), and node exporter
    runs on the AWS servers (their cloud-init installs it), not in the Docker stack's Neo4j containers."""
    ports = PORTS.server
    return (((Endpoint("metrics", ports.metrics),) if settings.edition == "enterprise" else ())
            + ((Endpoint("node_exporter", ports.node_exporter),) if settings.platform == "aws" else ()))


def reloads_tls(settings: Settings) -> bool:
    """Renewed certificates are taken in without a restart: Enterprise 2025.03+ with TLS on. Both the
    setting and dbms.security.reloadTLS() are Enterprise-only (Operations Manual dev,
    configuration/configuration-settings.adoc and procedures/built-in-procedures.adoc label both
    "enterprise-edition", and a real Community 2025.10.1 has no such procedure: see
    tests/integration/test_cert_renewal_real_neo4j.py). Everything else restarts to take them in."""
    return (settings.edition == "enterprise" and settings.tls != "disabled"
            and line_of(settings.version).reloads_tls(Version.parse(settings.version)))


def joins_database_topology(settings: Settings, server: Server) -> bool:
    """5.x and 2025 allocate databases to servers; 4.4 read replicas host every database on their own."""
    return server.role == SECONDARY and settings.edition == "enterprise" and settings.version_line != "4.4"


def fabric_proxy_plan(settings: Settings, server: Server) -> ServerPlan:
    """A Fabric proxy (4.4): a standalone DBMS with the servers' client endpoints and TLS, plus the `fabric` SSL
    policy its drivers use to reach the cluster (Operations Manual 4.4, fabric/configuration.adoc:259: "SSL for
    Fabric drivers is configured using the `fabric` SSL policy."), checking each server's hostname against the
    cluster's CA. It holds no data of the stack: no plugins, no database topology; its health check is the HTTP(S)
    discovery page (a standalone DBMS has no /db/<name>/cluster/* status)."""
    plan = member_plan(settings, server)
    fabric = (SslPolicy("fabric", "NONE", "true"),) if settings.tls != "disabled" else ()
    check = plan.health_check
    clients = tuple(p for p in plan.ssl_policies if p.scope in ("bolt", "https"))  # not a member: no cluster, backup
    return ServerPlan(server=server, memory=plan.memory, ssl_policies=clients + fabric,
                      health_check=HealthCheck(check.port, check.ssl, "/", "/"), client_endpoints=plan.client_endpoints,
                      scrape_endpoints=plan.scrape_endpoints, joins_database_topology=False, admin=plan.admin)


def fabric_graphs(settings: Settings, topology: ClusterTopology) -> list[dict[str, Any]]:
    """fabric.graph.<id>.* of the stack's composite (settings allow one on 4.4, of local aliases only): each alias a
    graph, named as the alias, reached at the cores with neo4j:// as the manual's cluster example does
    (configuration.adoc:118 "fabric.graph.0.uri=neo4j://core1:7687,neo4j://core2:7687,neo4j://core3:7687"; :133 "The
    URIs refer to the `neo4j://` schema so that Fabric can retrieve a routing table and can use one of the members of
    the cluster to connect.")."""
    uri = ",".join(f"neo4j://{s.hostname}:{PORTS.server.bolt}" for s in topology.primaries)
    return [{"id": index, "name": alias.name, "uri": uri, "database": alias.database}
            for composite in settings.composites[:1] for index, alias in enumerate(composite.aliases)]


def fabric_conf(settings: Settings, topology: ClusterTopology) -> dict[str, Any]:
    """The Fabric block of a proxy's neo4j.conf: the database, its graphs, and with several proxies the routing group
    (configuration.adoc:191 "A comma-separated list of Neo4j DBMSs that share the same Fabric configuration.")."""
    proxies = topology.fabric_proxies
    return {"database": settings.composites[0].name, "graphs": fabric_graphs(settings, topology),
            "routing_servers": ",".join(f"{p.hostname}:{PORTS.server.bolt}" for p in proxies)
            if len(proxies) > 1 else ""}


def server_plan(settings: Settings, server: Server) -> ServerPlan:
    return fabric_proxy_plan(settings, server) if server.role == FABRIC else member_plan(settings, server)


def member_plan(settings: Settings, server: Server) -> ServerPlan:
    return ServerPlan(server=server, memory=memory_plan(settings, server), ssl_policies=ssl_policies(settings),
                      health_check=health_check(settings), client_endpoints=client_endpoints(settings),
                      scrape_endpoints=scrape_endpoints(settings),
                      joins_database_topology=joins_database_topology(settings, server),
                      admin=admin_budget_of(settings, server), plugins=plugins_of(settings, server))


# APOC's own settings, at their secure values (no file access, no triggers). APOC Core documentation
# (neo4j.com/docs/apoc, Configuration Options): "as of Neo4j v.5, APOC config settings are no longer supported in
# the neo4j.conf file. Users should move all apoc.* settings to the apoc.conf file." and apoc.conf "Must be
# located in the same folder as neo4j.conf". 4.4's neo4j.conf is strictly validated here
# (dbms.config.strict_validation=true refuses keys Neo4j does not know), so APOC 4.4 reads them from apoc.conf too.
APOC_SETTINGS = (("apoc.export.file.enabled", "false"), ("apoc.import.file.enabled", "false"),
                 ("apoc.trigger.enabled", "false"))


def plugins_of(settings: Settings, server: Server) -> tuple[Plugin, ...]:
    placed = plugin_servers(settings.plugins, settings.version, settings.version_line, settings.core_count,
                            settings.replica_count)
    return placed.get(server.name, ())


# Where the GDS licence lands on a server that runs GDS (the package's licenses directory, on both platforms).
GDS_LICENSE_FILE = "/var/lib/neo4j/licenses/gds.license"
GDS_LICENSE_KEY = "gdsLicense"


def gds_license_file(settings: Settings, server: Server) -> str | None:
    """The licence file's path where `server` runs GDS and neo4j:gdsLicense is set; else None."""
    if GDS_LICENSE_KEY in settings.secrets_set and any(p.key == GDS for p in plugins_of(settings, server)):
        return GDS_LICENSE_FILE
    return None


def plugin_conf(settings: Settings, server: Server) -> dict[str, Any]:
    plugins = plugins_of(settings, server)
    extra: list[tuple[str, str]] = []
    if license_file := gds_license_file(settings, server):
        # "gds.enterprise.license_file=/path/to/my/license/keyfile" (Configure plugins, every line); only where GDS
        # runs: strict validation refuses a GDS setting where the plugin is absent (GDS manual, cluster page).
        extra.append(("gds.enterprise.license_file", license_file))
    return {"namespaces": ",".join(namespaces_of(plugins)), "titles": ", ".join(p.title for p in plugins),
            "settings": extra}


def plugin_lists(settings: Settings, plan: ServerPlan) -> dict[str, list[dict[str, Any]]]:
    """What install-plugins.sh installs on the server and which shipped plugins it removes (plain values)."""
    keys = {p.key for p in plan.plugins}
    return {"install": [asdict(p) for p in plan.plugins],
            "remove": [asdict(p) for p in shipped_plugins(settings.version, settings.version_line).values()
                       if p.key not in keys]}


def render_install_plugins(settings: Settings, server: Server) -> str:
    return render_template("neo4j/install-plugins.sh.j2", server_name=server.name,
                           **plugin_lists(settings, server_plan(settings, server)))


def render_apoc_conf(settings: Settings, server: Server) -> str:
    lines = [f"# apoc.conf of {server.name} (stack {settings.stack}): no file export or import, no triggers."]
    return "\n".join(lines + [f"{k}={v}" for k, v in APOC_SETTINGS]) + "\n"


def neo4j_conf_values(settings: Settings, topology: ClusterTopology, server: Server) -> dict[str, Any]:
    plan = server_plan(settings, server)
    memory = plan.memory
    line = settings.version_line
    primary = server.role == PRIMARY
    if server.role == FABRIC:
        mode = "SINGLE"  # fabric/considerations.adoc:8 (topology.py FABRIC)
    elif line == "4.4":
        mode = "CORE" if primary else "READ_REPLICA"
    else:
        mode = "PRIMARY" if primary else "SECONDARY"
    primaries = len(topology.primaries)
    enabled = {endpoint.name for endpoint in plan.client_endpoints}
    return {
        "stack": settings.stack,
        "server_name": server.name,
        "role": server.role,
        "version": settings.version,
        "version_line": line,
        "edition": settings.edition,
        "platform": settings.platform,
        "enterprise": settings.edition == "enterprise",
        "clustered": settings.clustered and server.role != FABRIC,
        "fabric": fabric_conf(settings, topology) if server.role == FABRIC else None,
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
        "usage_report": str(settings.usage_report).lower(),
        "bolt_tls_level": {"disabled": "DISABLED", "optional": "OPTIONAL", "required": "REQUIRED"}[settings.tls],
        # With TLS required, plain HTTP is off too; HAProxy then checks health over HTTPS.
        "http_enabled": str("http" in enabled).lower(),
        "https_enabled": str("https" in enabled).lower(),
        "ssl_policies": [asdict(p) for p in plan.ssl_policies],
        "tls_reload": reloads_tls(settings),
        "heap": neo4j_size(memory.heap),
        "page_cache": neo4j_size(memory.page_cache),
        "memory_source": f"{memory.source} for {neo4j_size(memory.ram)} of RAM",
        # The shipped flags of the line (components/neo4j_defaults.py), then ours.
        "jvm_flags": list(jvm_flags(line, (f"-XX:MaxGCPauseMillis={settings.gc_max_pause_millis}",
                                           "-XX:+ExitOnOutOfMemoryError"))),
        # The package's paths; the import directory confines LOAD CSV's file:/// URLs on every line.
        "directories": [{"key": key, "path": path} for key, path in directories(settings.platform, line)],
        # LOAD CSV's http(s) URLs: never the metadata service, the machine itself or the private ranges.
        "ip_blocklist": blocklist_setting(line, settings.vpc_cidr),
        "tx_log_retention": settings.tx_log_retention,
        "tx_log_rotation_size": settings.tx_log_rotation_size,
        "slow_query_threshold": settings.slow_query_threshold,
        "metrics_filter": metrics_filter(line),
        "plugins": plugin_conf(settings, server),
        "alias_keystore": alias_keystore(settings),
    }


def alias_keystore(settings: Settings) -> dict[str, str] | None:
    """dbms.security.keystore.path and dbms.security.key.name where remote aliases need the keystore (5.x, 2025);
    the password is added by the platform with the file (never in this text, which user data and plan.json hold):
    AWS's setup-neo4j.sh from Secrets Manager, Docker's neo4j.conf upload from the stack secret."""
    if settings.version_line == "4.4" or not needs_keystore(settings.composites):
        return None
    return {"path": ALIAS_KEYSTORE_PATH[settings.platform], "key_name": KEY_NAME}


def extra_config(settings: Settings, server: Server) -> tuple[dict[str, str], str]:
    """neo4j:extraConfig with the server's role variant over it (settings.py checked every entry), and where
    the entries come from."""
    primary = server.role == PRIMARY
    role = settings.primary_extra_config if primary else settings.secondary_extra_config
    if server.role == FABRIC:
        role = ()  # a proxy takes every server's entries only
    source = "every server's"
    if role:
        source += f", and neo4j:{'primary' if primary else 'secondary'}ExtraConfig"
    return {**dict(settings.extra_config), **dict(role)}, source


def render_neo4j_conf(settings: Settings, topology: ClusterTopology, server: Server) -> str:
    extra, source = extra_config(settings, server)
    values = {**neo4j_conf_values(settings, topology, server),
              "extra_config": [{"key": key, "value": value} for key, value in extra.items()],
              "extra_config_source": source}
    text = render_template(NEO4J_CONF_TEMPLATE[settings.version_line], conf=values)
    # The last net: settings.py refuses what the templates own (components/neo4j_settings/owned.py); a key the
    # template rendered itself and extraConfig again would leave two values in one conf.
    keys = [line.partition("=")[0] for line in text.splitlines() if line and not line.startswith("#")]
    clash = sorted(key for key in extra if keys.count(key) > 1)
    if clash:
        raise ConfigError([f"{NAMESPACE}:extraConfig: {key}: set by the program for {server.name} already; allowed: "
                           f"a setting the program does not set" for key in clash])
    return text


# HAProxy's admin socket and the server states it saves across a reload (the packaged haproxy's own directory).
HAPROXY_STATE_DIR = "/var/lib/haproxy"
# haproxy.cfg's global maxconn by platform: the AWS pair serves the applications; the laptop's one HAProxy serves one
# developer's clients.
HAPROXY_MAXCONN = {"aws": 20000, "docker": 4096}


def haproxy_open_files(settings: Settings) -> int:
    """The open files HAProxy needs for its maxconn: two per connection (client and server side) plus its listeners,
    checks and resolvers. It raises its own limit where it may (root with CAP_SYS_RESOURCE: the AWS nodes) and
    refuses to start where it may not ("Cannot raise FD limit to 40035, limit is 20000": haproxy 2.6, maxconn 20000,
    in a container whose hard limit was 20000), so the docker adapter gives its container this limit."""
    return 2 * HAPROXY_MAXCONN[settings.platform] + 1024
# Where each worker chroots before it drops to the haproxy user: the packaged haproxy's home, root-owned and
# not writable by that user (Debian/Ubuntu's package and the official image both create it).
HAPROXY_CHROOT = "/var/lib/haproxy"


# HAProxy's TLS files on its node (both platforms): the cluster CA it verifies the servers with, and the entry
# certificate with its key in one PEM file (HAProxy's `crt` format), each written there before HAProxy starts.
HAPROXY_CA_FILE = "/etc/haproxy/ca.crt"
HAPROXY_ENTRY_PEM = "/etc/haproxy/entry.pem"


def entry_terminates_tls(settings: Settings) -> bool:
    """With TLS required, HAProxy ends the clients' TLS with the entry's own certificate (the entry name only: no
    server certificate carries it, issue 26 item 6) and opens TLS of its own to the chosen server, verifying the
    server's certificate against the cluster CA and the server's hostname. Bolt needs nothing of the connection
    it runs over, and bolt:// through HAProxy is a direct connection (no routing), so the client only ever sees
    the entry's certificate. With TLS optional the entry passes the bytes through as they come (plain or TLS to
    the server, whose certificate names the server, not the entry); disabled, nothing is encrypted."""
    return settings.tls == "required"


def render_haproxy_cfg(settings: Settings, topology: ClusterTopology) -> str:
    return render_template(
        "haproxy/haproxy.cfg.j2",
        stack=settings.stack,
        database=settings.database,
        ports=asdict(PORTS.haproxy),
        state_dir=HAPROXY_STATE_DIR,
        chroot_dir=HAPROXY_CHROOT,
        maxconn=HAPROXY_MAXCONN[settings.platform],
        entry_tls=entry_terminates_tls(settings),
        entry_pem=HAPROXY_ENTRY_PEM,
        ca_file=HAPROXY_CA_FILE,
        check=health_check(settings),
        servers=[{"name": s.name, "address": s.hostname, "bolt_port": PORTS.server.bolt}
                 for s in topology.servers],
        writers=[s.name for s in topology.primaries] if settings.clustered else [topology.servers[0].name],
    )


# Grafana's data source: Prometheus on the same node (AWS) or in the same network namespace (Docker), over
# loopback, where Prometheus alone listens on AWS (components/aws/user_data.py, prometheus-listen.conf).
PROMETHEUS_URL = f"http://127.0.0.1:{PORTS.monitoring.prometheus}"


def render_monitoring_files(settings: Settings, topology: ClusterTopology,
                            servers: Mapping[str, ServerPlan]) -> dict[str, str]:
    def port(plan: ServerPlan, name: str) -> int | None:
        return next((e.port for e in plan.scrape_endpoints if e.name == name), None)

    targets = [ScrapeTarget(s.name, s.role, s.hostname, port(servers[s.name], "metrics"),
                            port(servers[s.name], "node_exporter")) for s in topology.servers]
    # Each HAProxy node's stats port: on AWS the pair's own names (haproxy.<domain> is the load balancer there).
    haproxies = {node.name: f"{node.hostname}:{PORTS.haproxy.stats}" for node in topology.haproxy_nodes}
    return render_monitoring(
        stack=settings.stack, version_line=settings.version_line, targets=targets,
        thresholds=AlertThresholds(restore_drill_max_age_days=settings.restore_drill_max_age_days,
                                   failover_drill_max_age_days=settings.failover_drill_max_age_days),
        haproxy_target=None, haproxy_targets=haproxies, prometheus_url=PROMETHEUS_URL,
        # Node exporter on each HAProxy node too (AWS: templates/cloud-init/haproxy.yaml.j2), as on the servers.
        haproxy_node_exporter_port=PORTS.server.node_exporter if settings.platform == "aws" else None,
        discovery=ec2_discovery(settings, topology) if settings.platform == "aws" else None)


def ec2_discovery(settings: Settings, topology: ClusterTopology) -> Ec2Discovery:
    """On AWS Prometheus finds the Neo4j servers by their Name tag (<stack>-<server>, components/aws/machine.py),
    so a scale-out does not change the monitoring node's user data (which would replace it)."""
    prefix = f"{settings.stack}-"
    # Both kinds whatever the counts (components/topology.py names them core-<n>, replica-<n>): a first
    # secondary changes nothing here either. 4.4's Fabric proxies (fabric-<n>, Role tag fabric) only where the
    # stack has them, so no other stack's monitoring node gets new user data (and a new instance) for them.
    fabric = (f"{prefix}fabric-*",) if topology.fabric_proxies else ()
    return Ec2Discovery(region=settings.region, name_patterns=(f"{prefix}core-*", f"{prefix}replica-*", *fabric),
                        name_prefix=prefix, domain=topology.domain)


def local_bolt_uri(settings: Settings) -> str:
    """How a server's own scripts reach the cluster through itself: neo4j:// routes the administration
    command to the system database's leader. With TLS, the server's certificate names its DNS name, not
    localhost, hence +ssc (encrypted, certificate not checked) on loopback."""
    scheme = "neo4j" if settings.tls == "disabled" else "neo4j+ssc"
    return f"{scheme}://localhost:{PORTS.server.bolt}"


def render_join_topology(settings: Settings, topology: ClusterTopology, server: Server) -> str:
    return render_template(
        "neo4j/join-topology.sh.j2", server_name=server.name, stack=settings.stack, database=settings.database,
        local_uri=local_bolt_uri(settings), primaries=len(topology.primaries),
        secondaries=len(topology.secondaries), attempts=60, pause_seconds=10)


def render_cluster(settings: Settings, topology: ClusterTopology) -> RenderedCluster:
    servers = {s.name: server_plan(settings, s) for s in topology.servers}
    files: Artifacts = {}
    for server in topology.servers:
        files[server.name] = {"neo4j.conf": render_neo4j_conf(settings, topology, server)}
        if servers[server.name].joins_database_topology:
            files[server.name]["join-topology.sh"] = render_join_topology(settings, topology, server)
        if settings.plugins:
            files[server.name]["install-plugins.sh"] = render_install_plugins(settings, server)
        if any(p.key in ("apoc", "apoc-core") for p in servers[server.name].plugins):
            files[server.name]["apoc.conf"] = render_apoc_conf(settings, server)
    proxies = {p.name: server_plan(settings, p) for p in topology.fabric_proxies}
    for proxy in topology.fabric_proxies:
        files[proxy.name] = {"neo4j.conf": render_neo4j_conf(settings, topology, proxy)}
    if topology.haproxy:
        files["haproxy"] = {"haproxy.cfg": render_haproxy_cfg(settings, topology)}
    if topology.monitoring:
        files["monitoring"] = render_monitoring_files(settings, topology, servers)
    return RenderedCluster(files, servers, proxies)


def flatten(artifacts: Artifacts) -> dict[str, str]:
    """{"core-1/neo4j.conf": text, …}: the layout of build/<stack>/."""
    return {f"{target}/{path}": text for target, files in artifacts.items() for path, text in files.items()}
