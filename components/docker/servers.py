"""The Neo4j servers as containers of the official image, each with its data and logs volumes.

neo4j.conf stays authoritative. It is uploaded over $NEO4J_HOME/conf/neo4j.conf (not into /conf, whose
files the entrypoint copies over the whole conf directory), and the only NEO4J_* variables passed,
NEO4J_AUTH_PATH and NEO4J_ACCEPT_LICENSE_AGREEMENT, are ones the entrypoint never turns into settings. What
the entrypoint still appends concerns keys the file leaves unset: its Docker defaults (such as
server.directories.run=/run, or the cluster advertised addresses of a lone enterprise server) and
server.directories.logs=/logs for the image's /logs volume. Every key we render keeps our value.

The admin password is a file, not NEO4J_AUTH (which `docker inspect` would show): NEO4J_AUTH_PATH names
the uploaded `neo4j/<password>` file, owned by the image's neo4j user and readable by it alone. The
entrypoint sets it as the initial password on the first start only; afterwards the system database
on the data volume holds the password, so a later change of the secret does not change it
(`ALTER CURRENT USER SET PASSWORD FROM … TO …` does).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.docker.containers import ContainerSpec, HealthCheck, Upload, container, pull, reachable_as, volume
from components.docker.images import neo4j_image
from components.docker.layout import (
    NEO4J_APOC_CONF,
    NEO4J_AUTH_FILE,
    NEO4J_CONF,
    NEO4J_DATA,
    NEO4J_EXTENSION_SCRIPT,
    NEO4J_JOIN_TOPOLOGY,
    NEO4J_JOIN_TOPOLOGY_LOG,
    NEO4J_LOGS,
    NEO4J_UID,
    SECRET_FILE_MODE,
    PublishedPort,
    certificate_places,
)
from components.neo4j_defaults import ALIAS_KEYSTORE_PATH
from components.program.stack_config import AliasKeystore
from components.program.tls import ClusterCertificates
from components.render import Artifacts, RenderedCluster, ServerPlan, SslPolicy, gds_license_file
from components.settings import Settings
from components.sizing import MIB
from components.templating import render_template
from components.topology import ClusterTopology, Server

# Neo4j checkpoints on shutdown; Docker's default 10 s would kill it midway.
STOP_SECONDS = 120
# A cluster forms only when enough primaries are up: give the first start time before counting failures.
START_PERIOD = "180s"
# What `pulumi up` must never apply to a running Neo4j container, as AWS holds back what would replace a
# server (components/aws/machine.py): the Docker provider changes only restart, max_retry_count, cpu_shares,
# memory, cpu_set and memory_swap in place (terraform-provider-docker, resourceDockerContainerUpdate); every
# other input it is given forces a new container. Memory is held back as well: the heap and page cache in the
# uploaded neo4j.conf are sized for it, so the limit changes with the conf, in the server's rollout step.
# Not held back: restart (in place, no restart of Neo4j), destroy_grace_seconds (read only when deleting).
HELD_BACK_ON_SERVER_CONTAINERS = ("image", "uploads", "envs", "hostname", "networks_advanced", "ports", "volumes",
                                  "healthcheck", "memory", "memory_swap", "stop_timeout", "labels")


@dataclass(frozen=True)
class Neo4jServersArgs:
    settings: Settings
    topology: ClusterTopology
    rendered: RenderedCluster  # each server's neo4j.conf (and join-topology.sh), and render's plan of it
    network: pulumi.Input[str]
    ports: dict[str, tuple[PublishedPort, ...]]  # layout.server_ports(...)
    admin_password: pulumi.Output[str]  # secret
    certificates: ClusterCertificates | None  # None when TLS is disabled
    alias_keystore: AliasKeystore | None = None  # remote aliases' keystore (stack_config.alias_keystore); else None
    gds_license: pulumi.Output[str] | None = None  # neo4j:gdsLicense (secret); None: not given


def certificate_uploads(policies: tuple[SslPolicy, ...], certificates: ClusterCertificates | None,
                        server: str) -> tuple[Upload, ...]:
    """Key, certificate and CA of `server` under certificates/<scope>/ for every SSL policy of its neo4j.conf."""
    if certificates is None:
        return ()
    mine = certificates.servers[server]
    uploads: list[Upload] = []
    for policy in policies:
        places = certificate_places(policy.scope)
        uploads += [Upload(places.private_key, mine.private_key_pem, NEO4J_UID, "0600"),
                    Upload(places.public_certificate, mine.cert_pem, NEO4J_UID, "0644"),
                    Upload(places.trusted_ca, certificates.ca_cert_pem, NEO4J_UID, "0644")]
    return tuple(uploads)


def neo4j_auth_upload(admin_password: pulumi.Output[str]) -> Upload:
    """The entrypoint's `neo4j/<password>` file; the password stays a secret in the container's state."""
    content = pulumi.Output.secret(pulumi.Output.concat("neo4j/", admin_password))
    return Upload(NEO4J_AUTH_FILE, content, NEO4J_UID, SECRET_FILE_MODE)


def join_topology_uploads(server: str, artifacts: Artifacts) -> tuple[tuple[Upload, ...], tuple[str, ...]]:
    """A secondary that must ask for its place in the database topology (render decides which) gets
    join-topology.sh and the extension script that runs it; returns (uploads, extra envs)."""
    script = artifacts[server].get("join-topology.sh")
    if script is None:
        return (), ()
    extension = render_template("docker/neo4j-extension.sh.j2", server_name=server, auth_file=NEO4J_AUTH_FILE,
                                join_script=NEO4J_JOIN_TOPOLOGY, log_file=NEO4J_JOIN_TOPOLOGY_LOG)
    uploads = (Upload(NEO4J_JOIN_TOPOLOGY, script, None, "0755"),
               Upload(NEO4J_EXTENSION_SCRIPT, extension, None, "0644"))
    return uploads, (f"EXTENSION_SCRIPT={NEO4J_EXTENSION_SCRIPT}",)


def conf_upload(conf: str, keystore: AliasKeystore | None) -> Upload:
    """neo4j.conf, readable by neo4j alone; with remote aliases, the keystore's password line after the rendered
    text (a secret then, as the file's content in the container's state)."""
    if keystore is None:
        return Upload(NEO4J_CONF, conf, NEO4J_UID, "0600")
    content = pulumi.Output.secret(pulumi.Output.concat(conf, "dbms.security.keystore.password=", keystore.password,
                                                        "\n"))
    return Upload(NEO4J_CONF, content, NEO4J_UID, "0600")


def gds_license_uploads(settings: Settings, server: Server,
                        license_text: pulumi.Output[str] | None) -> tuple[Upload, ...]:
    """neo4j:gdsLicense where the server runs GDS: the file gds.enterprise.license_file names, neo4j's alone."""
    path = gds_license_file(settings, server)
    if path is None or license_text is None:
        return ()
    return (Upload(path, license_text, NEO4J_UID, "0600"),)


def keystore_uploads(keystore: AliasKeystore | None) -> tuple[Upload, ...]:
    """The remote aliases' keystore, the same file in every server container, neo4j's alone."""
    if keystore is None:
        return ()
    return (Upload(ALIAS_KEYSTORE_PATH["docker"], keystore.keystore_base64, NEO4J_UID, "0600", binary=True),)


def neo4j_envs(settings: Settings) -> tuple[str, ...]:
    """No secret: the admin password is the file NEO4J_AUTH_PATH names (neo4j_auth_upload)."""
    auth = f"NEO4J_AUTH_PATH={NEO4J_AUTH_FILE}"
    if settings.edition == "enterprise" and settings.accept_license:
        return "NEO4J_ACCEPT_LICENSE_AGREEMENT=yes", auth
    return (auth,)


def plugin_envs_and_uploads(plan: ServerPlan, files: dict[str, str]) -> tuple[tuple[str, ...], tuple[Upload, ...]]:
    """neo4j:plugins the image's documented way: NEO4J_PLUGINS, a JSON list of the image's plugin names (ours are the
    same, the manual's Key column). The entrypoint (docker-neo4j, docker-image-src/<4.4|5|calver>/coredb/
    docker-entrypoint.sh, install_neo4j_plugins) copies a plugin the image ships from its "location"
    (/var/lib/neo4j/labs/apoc-*-core.jar, /var/lib/neo4j/products/neo4j-graph-data-science-*.jar, ...) into
    plugins/ and downloads one only when no such jar is in the image; its default settings for the plugin
    (dbms.security.procedures.unrestricted=<namespace>) are skipped, "because it is already set" in our neo4j.conf.
    apoc.conf goes beside neo4j.conf."""
    if not plan.plugins:
        return (), ()
    envs = ("NEO4J_PLUGINS=" + json.dumps([p.key for p in plan.plugins]),)
    uploads = (Upload(NEO4J_APOC_CONF, files["apoc.conf"], NEO4J_UID, "0600"),) if "apoc.conf" in files else ()
    return envs, uploads


def neo4j_health(plan: ServerPlan) -> HealthCheck:
    check = plan.health_check  # plain HTTP, or HTTPS when tls=required turns HTTP off
    return HealthCheck(f"{check.scheme}://localhost:{check.port}/", insecure=check.ssl, start_period=START_PERIOD)


def held_back(settings: Settings, server: str) -> tuple[str, ...]:
    """An existing server container keeps its image, uploads, env and the rest (a new container takes the
    new ones) until neo4j:rolloutRelease names it: `make rollout` replaces one container per step."""
    return () if server in settings.rollout_release else HELD_BACK_ON_SERVER_CONTAINERS


class Neo4jServers(pulumi.ComponentResource):
    """Per server `<name>-<server>`: the container and its volumes `<name>-<server>-data|logs`."""

    containers: dict[str, docker.Container]

    def __init__(self, name: str, args: Neo4jServersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:docker:Neo4jServers", name, None, opts)
        settings = args.settings
        image = pull(f"{name}-neo4j-image", neo4j_image(settings), self)
        envs = neo4j_envs(settings)
        auth = neo4j_auth_upload(args.admin_password)
        self.containers = {}
        # The cluster's servers, then 4.4's Fabric proxies (standalone DBMSs with the neo4j.conf render gave them).
        plans = args.rendered.neo4j_hosts
        for server in args.topology.neo4j_hosts:
            plan = plans[server.name]
            child = f"{name}-{server.name}"
            data = volume(f"{child}-data", server.role, self)
            logs = volume(f"{child}-logs", server.role, self)
            conf = conf_upload(args.rendered.files[server.name]["neo4j.conf"], args.alias_keystore)
            joins, join_envs = join_topology_uploads(server.name, args.rendered.files)
            plugin_envs, plugin_uploads = plugin_envs_and_uploads(plan, args.rendered.files[server.name])
            self.containers[server.name] = container(child, ContainerSpec(
                image=image.image_id,
                role=server.role,
                **reachable_as(args.network, server.hostname, server.name),
                ports=args.ports[server.name],
                uploads=(conf, auth, *joins, *plugin_uploads, *keystore_uploads(args.alias_keystore),
                         *gds_license_uploads(settings, server, args.gds_license),
                         *certificate_uploads(plan.ssl_policies, args.certificates, server.name)),
                envs=envs + join_envs + plugin_envs,
                volumes=((data.name, NEO4J_DATA), (logs.name, NEO4J_LOGS)),
                health=neo4j_health(plan),
                memory_mb=plan.memory.ram // MIB,
                stop_seconds=STOP_SECONDS,
                held_back=held_back(settings, server.name),
            ), self)
        self.register_outputs({"containers": {server: c.name for server, c in self.containers.items()}})
