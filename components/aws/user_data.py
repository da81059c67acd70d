"""What only the EC2 machines need, rendered from templates/: `aws_artifacts(settings, topology, rendered)`.

On top of the platform-neutral render (components/render.py), each Neo4j server gets its boot script
(setup-neo4j.sh), the backup server its systemd job, and every machine its cloud-init user data, which
writes the rendered files to their places on the machine (SERVER_FILE_PLACES, MONITORING_NODE_PATHS); the backup
job alone comes with the stack's tooling archive instead (backup_tooling_files), for EC2's 16 KB.
Plain Python, no Pulumi: scripts/plan.py and the tests render it too.

User data holds no secret: the boot scripts read them from Secrets Manager under the fixed names of
components/aws/secret_names.py, and the backup job reads its bucket from the instance's tags (IMDSv2).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from components.aws.secret_names import SecretNames, alias_keystore_secret, gds_license_secret, secret_names
from components.job_users import (
    BACKUP_JOB,
    CERT_RENEWAL,
    TOPOLOGY_JOIN,
    creates_job_users,
    job_users,
    reads_admin_password,
    sets_password_from_hash,
    user_of,
    user_of_on,
)
from components.monitoring import FAILED_LOGINS_WINDOW, MONITORING_NODE_PATHS
from components.neo4j_defaults import IMPORT_DIRECTORY_KEY, directories
from components.ports import PORTS
from components.render import (
    APOC_SETTINGS,
    HAPROXY_CA_FILE,
    HAPROXY_ENTRY_PEM,
    HAPROXY_STATE_DIR,
    PROMETHEUS_URL,
    Artifacts,
    RenderedCluster,
    ServerPlan,
    admin_budget_of,
    alias_keystore,
    entry_terminates_tls,
    gds_license_file,
    local_bolt_uri,
    memory_plan,
    plugin_lists,
    reloads_tls,
    render_cluster,
)
from components.settings import Settings
from components.templating import render_template
from components.tooling import TOOLING_DIR, TOOLING_KEY, TOOLING_SHA256_TAG
from components.topology import FABRIC, ClusterTopology
from components.units import neo4j_size
from scripts.neo4j_ops.shared.versions import line_of

# Every machine with a data volume grows its filesystem when the volume grew in place, while it runs: a timer
# (templates/aws/grow-data-volume.*.j2) that the boot script enables once the volume is mounted.
GROW_DATA_VOLUME_PLACES = {
    "grow-data-volume.sh": "/usr/local/lib/neo4j-cluster/grow-data-volume.sh",
    "grow-data-volume.service": "/etc/systemd/system/grow-data-volume.service",
    "grow-data-volume.timer": "/etc/systemd/system/grow-data-volume.timer",
}
GROW_EVERY_MINUTES = 5
# setup-neo4j.sh's DATA_DIR: the Neo4j data directory of the Debian package (components/neo4j_defaults.py).
NEO4J_DATA_DIR = "/var/lib/neo4j/data"
# The Debian package's NEO4J_HOME: labs/, products/ and plugins/ under it (Operations Manual, File locations).
NEO4J_HOME = "/var/lib/neo4j"
# Where each server file lives on an EC2 instance (cloud-init write_files).
SERVER_FILE_PLACES = {
    **GROW_DATA_VOLUME_PLACES,
    "neo4j.conf": "/etc/neo4j-cluster/neo4j.conf",
    "setup-neo4j.sh": "/usr/local/lib/neo4j-cluster/setup-neo4j.sh",
    "join-topology.sh": "/usr/local/lib/neo4j-cluster/join-topology.sh",
    "backup/neo4j-backup.sh": "/usr/local/lib/neo4j-cluster/neo4j-backup.sh",
    "backup/refresh-backup-tooling.sh": "/usr/local/lib/neo4j-cluster/refresh-backup-tooling.sh",
    "backup/neo4j-backup.service": "/etc/systemd/system/neo4j-backup.service",
    "backup/neo4j-backup.timer": "/etc/systemd/system/neo4j-backup.timer",
    "backup/neo4j-backup-diff.service": "/etc/systemd/system/neo4j-backup-diff.service",
    "backup/neo4j-backup-diff.timer": "/etc/systemd/system/neo4j-backup-diff.timer",
    "backup/neo4j-restore-drill.service": "/etc/systemd/system/neo4j-restore-drill.service",
    "backup/neo4j-restore-drill.timer": "/etc/systemd/system/neo4j-restore-drill.timer",
    "backup/neo4j-backup-freshness.service": "/etc/systemd/system/neo4j-backup-freshness.service",
    "backup/neo4j-backup-freshness.timer": "/etc/systemd/system/neo4j-backup-freshness.timer",
    "renew-certificates.sh": "/usr/local/lib/neo4j-cluster/renew-certificates.sh",
    "neo4j-cert-renew.service": "/etc/systemd/system/neo4j-cert-renew.service",
    "neo4j-cert-renew.timer": "/etc/systemd/system/neo4j-cert-renew.timer",
    **{name: place for name, place in (
        ("neo4j-failed-logins.sh", "/usr/local/lib/neo4j-cluster/neo4j-failed-logins.sh"),
        ("neo4j-failed-logins.service", "/etc/systemd/system/neo4j-failed-logins.service"),
        ("neo4j-failed-logins.timer", "/etc/systemd/system/neo4j-failed-logins.timer"))},
}
# Node exporter's textfile collector directory (Debian's prometheus-node-exporter) and Neo4j's security log
# (the Debian package's logs directory, components/neo4j_defaults.py).
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
NEO4J_SECURITY_LOG = "/var/log/neo4j/security.log"
FAILED_LOGINS_FILES = ("neo4j-failed-logins.sh", "neo4j-failed-logins.service", "neo4j-failed-logins.timer")
HAPROXY_CFG_PLACE = "/etc/haproxy/haproxy.cfg"
# The monitoring node keeps Prometheus's time series on its own data volume (components/aws/monitoring.py).
PROMETHEUS_DATA_DIR = "/var/lib/prometheus"
MOUNT_PROMETHEUS_DATA = "mount-prometheus-data.sh"
MOUNT_PROMETHEUS_DATA_PLACE = f"/usr/local/lib/neo4j-cluster/{MOUNT_PROMETHEUS_DATA}"
# Prometheus listens on loopback only, behind Grafana on the same node (a drop-in for the package's unit).
PROMETHEUS_LISTEN = "prometheus-listen.conf"
PROMETHEUS_LISTEN_PLACE = f"/etc/systemd/system/prometheus.service.d/{PROMETHEUS_LISTEN}"
PROMETHEUS_LISTEN_ADDRESS = f"127.0.0.1:{PORTS.monitoring.prometheus}"
# Grafana over HTTPS (TLS not disabled): its certificate from Secrets Manager before each start (a drop-in).
GRAFANA_TLS_DIR = "/etc/grafana/tls"
GRAFANA_TLS_PLACES = {
    "fetch-grafana-tls.sh": "/usr/local/lib/neo4j-cluster/fetch-grafana-tls.sh",
    "grafana-tls.conf": "/etc/systemd/system/grafana-server.service.d/grafana-tls.conf",
}


def render_grafana_tls(settings: Settings, topology: ClusterTopology, secret: str) -> dict[str, str]:
    """The fetch script and the grafana-server drop-in that make Grafana serve HTTPS (components/program/tls.py)."""
    values = {"region": settings.region, "secret": secret, "tls_dir": GRAFANA_TLS_DIR,
              "fetch_script": GRAFANA_TLS_PLACES["fetch-grafana-tls.sh"], "hostname": topology.monitoring.hostname}
    return {name: render_template(f"grafana/{name}.j2", **values) for name in GRAFANA_TLS_PLACES}
# Debian repository component per line (https://debian.neo4j.com, or neo4j:aptRepositoryUrl's mirror of it), and
# the JRE each line runs on.
NEO4J_APT_COMPONENT = {"4.4": "4.4", "5": "5", "2025": "latest"}
JAVA_PACKAGE = {"4.4": "openjdk-11-jre-headless", "5": "openjdk-17-jre-headless", "2025": "openjdk-21-jre-headless"}

# Where setup-neo4j.sh writes the bucket for refresh-backup-tooling.sh (neo4j-backup.service's EnvironmentFile).
TOOLING_ENV_FILE = "/etc/neo4j-cluster/backup-tooling.env"
# The backup job travels in the stack's tooling archive (components/tooling.py), under this folder, not in user
# data (EC2's 16 KB): refresh-backup-tooling.sh installs it to SERVER_FILE_PLACES when the archive changed, so a
# change to the job reaches the backup server without a new instance. User data keeps only what fetches it.
BACKUP_JOB_ARCHIVE_FOLDER = "job"
BACKUP_BOOT_FILES = ("refresh-backup-tooling.sh",)
# The backup server's certificate renewal (renew-certificates.sh, ~3.5 KB of its gzipped user data) comes with the
# job in the archive too: the fetcher in its user data leaves no room for it and for neo4j:extraConfig under EC2's
# 16 KB. setup-neo4j.sh installs the archive before it enables neo4j-cert-renew.timer, and the refresh enables
# every timer of the job, so the backup server renews as every other server does.
BACKUP_SERVER_ARCHIVED = ("renew-certificates.sh", "neo4j-cert-renew.service", "neo4j-cert-renew.timer")
SYSTEMD_UNIT_DIR = "/etc/systemd/system"
BACKUP_JOB_FILES = ("neo4j-backup.sh", "refresh-backup-tooling.sh", "neo4j-backup.service", "neo4j-backup.timer",
                    "neo4j-restore-drill.service", "neo4j-restore-drill.timer",
                    "neo4j-backup-freshness.service", "neo4j-backup-freshness.timer")
# Enterprise 5.26 and 2025: differentials between the full backups (neo4j:backupDiffSchedule, unless off).
BACKUP_DIFF_FILES = ("neo4j-backup-diff.service", "neo4j-backup-diff.timer")
# The full and the differential job take it in turn (flock), never both at once.
BACKUP_LOCK_FILE = "/run/neo4j-backup.lock"


def backs_up_in_chains(settings: Settings) -> bool:
    """Enterprise 5.26 and 2025 (Settings.backs_up_in_chains): the full and the differential timer."""
    return settings.backs_up_in_chains


def render_backup_job(settings: Settings, topology: ClusterTopology) -> dict[str, str]:
    # Every neo4j-admin the job runs beside the host's Neo4j is bounded by the host's memory plan (sizing.py).
    admin = admin_budget_of(settings, topology.backup_server)
    names, bolt_user = secret_names(settings, topology), user_of(settings, topology, BACKUP_JOB)
    values = {
        "admin_heap": neo4j_size(admin.heap),
        "admin_off_heap": neo4j_size(admin.off_heap),
        "check_threads": admin.threads,
        # The RAM that budget is for: the tools fall back to the least budget on a smaller machine (the instance
        # keeps its old type until `make rollout`; scripts/neo4j_ops/backup/machine_fit.py).
        "admin_sized_for": neo4j_size(memory_plan(settings, topology.backup_server).ram),
        "stack": settings.stack,
        "database": settings.database,
        "version_line": settings.version_line,
        "enterprise": settings.edition == "enterprise",
        "backup_from": f"{topology.backup_server.hostname}:{PORTS.server.backup}",
        "bolt_port": PORTS.server.bolt,  # the job reaches its own server on loopback
        "staging_dir": "/var/backups/neo4j",
        "local_retention_days": settings.backup_local_retention_days,
        "chains": backs_up_in_chains(settings),
        "schedule": settings.backup_full_schedule if backs_up_in_chains(settings) else settings.backup_schedule,
        "diff_schedule": settings.backup_diff_schedule,
        "lock_file": BACKUP_LOCK_FILE,
        "region": settings.region,
        # Its own Neo4j user (components/job_users.py: reads only), the admin on Community (no roles).
        "bolt_user": bolt_user,
        "password_secret": names.job_users.get(bolt_user, names.admin_password),
        "tools_dir": TOOLING_DIR,
        "tooling_key": TOOLING_KEY,
        "sha_tag": TOOLING_SHA256_TAG,
        "tooling_env_file": TOOLING_ENV_FILE,
        "refresh_tooling_script": SERVER_FILE_PLACES["backup/refresh-backup-tooling.sh"],
        "job_folder": BACKUP_JOB_ARCHIVE_FOLDER,
        "job_script": SERVER_FILE_PLACES["backup/neo4j-backup.sh"],
        "unit_dir": SYSTEMD_UNIT_DIR,
        "textfile_dir": TEXTFILE_DIR,  # refresh-backup-tooling.sh's refusal metric
        "s3_endpoint": settings.backup_s3_endpoint,  # "": AWS S3
    }
    names = BACKUP_JOB_FILES + (BACKUP_DIFF_FILES if values["chains"] and settings.backup_diff_schedule else ())
    return {f"backup/{name}": render_template(f"backup/{name}.j2", **values) for name in names}


def backup_job_archive_files(backup_job: dict[str, str]) -> dict[str, str]:
    """The job's files as the tooling archive holds them (job/<name>): all of render_backup_job but what fetches
    the archive (BACKUP_BOOT_FILES, in user data). Each lands on the machine at its SERVER_FILE_PLACES path."""
    return {f"{BACKUP_JOB_ARCHIVE_FOLDER}/{path.removeprefix('backup/')}": text for path, text in backup_job.items()
            if path.removeprefix("backup/") not in BACKUP_BOOT_FILES}


def backup_tooling_files(artifacts: Artifacts, topology: ClusterTopology) -> dict[str, str]:
    """What the AWS adapter adds to the stack's tooling archive: the backup server's job and its certificate
    renewal (BACKUP_SERVER_ARCHIVED), archive name → text."""
    server = artifacts[topology.backup_server.name]
    return backup_job_archive_files({path: text for path, text in server.items()
                                     if path.startswith("backup/") or path in BACKUP_SERVER_ARCHIVED})


def render_grow_data_volume(data_dir: str) -> dict[str, str]:
    """The grow script and its systemd service and timer for the filesystem mounted on `data_dir`."""
    values = {"data_dir": data_dir, "every_minutes": GROW_EVERY_MINUTES,
              "script_path": GROW_DATA_VOLUME_PLACES["grow-data-volume.sh"]}
    return {name: render_template(f"aws/{name}.j2", **values) for name in GROW_DATA_VOLUME_PLACES}


def license_answers(settings: Settings) -> tuple[str, ...]:
    """debconf answers that accept the Enterprise licence (Operations Manual, installation/linux/debian.adoc:
    "For Neo4j 5.3 and later" neo4j/accept-license; "For Neo4j 5.2 and earlier" neo4j/question)."""
    if settings.edition != "enterprise":
        return ()
    if settings.version_line == "4.4":
        return ("neo4j-enterprise neo4j/question select I ACCEPT", "neo4j-enterprise neo4j/license note")
    return ("neo4j-enterprise neo4j/accept-license select Accept commercial license",)


def render_setup_script(settings: Settings, plan: ServerPlan, *, tls_secret: str, admin_password_secret: str,
                        backup: bool, job_users: tuple[dict[str, Any], ...] = (), join_user: str = "neo4j",
                        join_secret: str = "", admin_auth_secret: str = "") -> str:
    """admin_password_secret "": a server that never reads it (all but the first primary); admin_auth_secret: the
    admin's auth.ini line a primary but the first sets the initial password with. job_users: the users and roles the
    first primary creates ({"name", "secret", "grants"}); join_user and join_secret: who join-topology.sh is."""
    line = settings.version_line
    return render_template(
        "neo4j/setup-neo4j.sh.j2",
        server=asdict(plan.server), stack=settings.stack, version=settings.version, edition=settings.edition,
        license_answers=license_answers(settings),
        import_dir=dict(directories("aws", line))[IMPORT_DIRECTORY_KEY[line]],
        joins_database_topology=plan.joins_database_topology,
        join_topology_script=SERVER_FILE_PLACES["join-topology.sh"],
        package="neo4j-enterprise" if settings.edition == "enterprise" else "neo4j",
        java_package=JAVA_PACKAGE[line], apt_component=NEO4J_APT_COMPONENT[line],
        # neo4j:aptRepositoryUrl and neo4j:aptSigningKey: Neo4j's repository or a mirror, and its key by URL or inline.
        apt_repository=settings.apt_repository_url, apt_key_url=settings.apt_signing_key_url,
        apt_key_text=settings.apt_signing_key_text,
        region=settings.region, tls_secret=tls_secret, admin_password_secret=admin_password_secret,
        admin_auth_secret=admin_auth_secret, ssl_scopes=[p.scope for p in plan.ssl_policies], backup=backup,
        tooling_env_file=TOOLING_ENV_FILE,
        tooling_key=TOOLING_KEY, tooling_dir=TOOLING_DIR, s3_endpoint=settings.backup_s3_endpoint,
        refresh_tooling_script=SERVER_FILE_PLACES["backup/refresh-backup-tooling.sh"],
        set_password_command="set-initial-password" if line == "4.4" else "dbms set-initial-password",
        job_users=job_users, local_uri=local_bolt_uri(settings), join_user=join_user,
        join_secret=join_secret or admin_password_secret,
        # neo4j:plugins: install-plugins.sh copies the package's jars (/var/lib/neo4j/labs, products) into its plugins
        # directory; apoc.conf goes beside neo4j.conf.
        plugins=[p.key for p in plan.plugins] if settings.plugins else None, **plugin_lists(settings, plan),
        # apoc.conf's lines (render's apoc.conf less its comment), written by the step itself.
        apoc_conf=[f"{k}={v}" for k, v in APOC_SETTINGS] if any(p.directory == "labs" for p in plan.plugins) else [],
        neo4j_home=NEO4J_HOME,
        # Remote aliases: the keystore file and its password's line in neo4j.conf, from the stack's secret.
        alias_keystore={**keystore, "secret": alias_keystore_secret(settings.stack)}
        if (keystore := alias_keystore(settings)) else None,
        # neo4j:gdsLicense on the servers that run GDS: the file gds.enterprise.license_file names.
        gds_license={"path": license_file, "secret": gds_license_secret(settings.stack)}
        if (license_file := gds_license_file(settings, plan.server)) else None)


# How long renew-certificates.sh waits for a restarted server to serve again (and its cluster to be whole).
CERT_RENEW_RESTART_WAIT_SECONDS = 900


def cert_renew_time(topology: ClusterTopology, plan: ServerPlan) -> tuple[int, int]:
    """(hour, minute) UTC of a server's daily renewal: 09:15 for the first server of the topology, an hour
    later for each next one (4.4's Fabric proxies after the servers), so two servers never restart for a
    certificate at the same time."""
    index = topology.neo4j_hosts.index(plan.server)
    return (9 + index) % 24, 15 + 30 * ((index // 24) % 2)


def render_cert_renewal(settings: Settings, topology: ClusterTopology, plan: ServerPlan, *, tls_secret: str,
                        admin_password_secret: str, user: str = "neo4j") -> dict[str, str]:
    """renew-certificates.sh and its daily timer: the renewed certificate of the server's secret reaches the
    running server (reloaded on Enterprise 2025.03+, else this server alone restarts while the rest is up)."""
    line = line_of(settings.version)
    scopes = [p.scope for p in plan.ssl_policies]
    served = [(e.name, e.port) for e in plan.client_endpoints if e.name in ("bolt", "https") and e.name in scopes]
    hour, minute = cert_renew_time(topology, plan)
    script = render_template(
        "neo4j/renew-certificates.sh.j2", server=asdict(plan.server), stack=settings.stack, version=settings.version,
        edition=settings.edition, region=settings.region, tls_secret=tls_secret,
        admin_password_secret=admin_password_secret, user=user, ssl_scopes=scopes, bolt_port=PORTS.server.bolt,
        # A Fabric proxy is a standalone DBMS: it restarts without asking a cluster it is no member of.
        served_ports=served, reload=reloads_tls(settings),
        clustered=settings.clustered and plan.server.role != FABRIC,
        expected_servers=len(topology.servers), supports_show_servers=line.supports_show_servers,
        members_query_name="SHOW SERVERS" if line.supports_show_servers else "CALL dbms.cluster.overview()",
        restart_wait_seconds=CERT_RENEW_RESTART_WAIT_SECONDS)
    units = {"server_name": plan.server.name, "stack": settings.stack,
             "script": SERVER_FILE_PLACES["renew-certificates.sh"],
             "restart_wait_seconds": CERT_RENEW_RESTART_WAIT_SECONDS, "hour": hour, "minute": minute}
    return {"renew-certificates.sh": script,
            "neo4j-cert-renew.service": render_template("neo4j/neo4j-cert-renew.service.j2", **units),
            "neo4j-cert-renew.timer": render_template("neo4j/neo4j-cert-renew.timer.j2", **units)}


def render_failed_logins(settings: Settings, server_name: str) -> dict[str, str]:
    """The every-minute count of failed logins in security.log, for Neo4jFailedLogins (node exporter textfile)."""
    values = {"server_name": server_name, "stack": settings.stack, "security_log": NEO4J_SECURITY_LOG,
              "textfile_dir": TEXTFILE_DIR, "script": SERVER_FILE_PLACES["neo4j-failed-logins.sh"],
              "window": FAILED_LOGINS_WINDOW}
    return {name: render_template(f"prometheus/{name}.j2", **values) for name in FAILED_LOGINS_FILES}


def haproxy_needs_the_ca(rendered: RenderedCluster) -> bool:
    """HAProxy checks the servers over HTTPS (TLS required), verifying them with the cluster's CA."""
    return any(plan.health_check.ssl for plan in rendered.servers.values())


# The HAProxy pair: haproxy.cfg is an S3 object under the backup bucket's tooling/ prefix (never expires), each
# node reads exactly that object (its HAPROXY_CONFIG_TAG instance tag names it) and loads it when it changed.
HAPROXY_CONFIG_KEY = "tooling/haproxy/haproxy.cfg"
HAPROXY_CONFIG_TAG = "HaproxyConfig"
# Its sha256, set by the deploy with the object: haproxy-config-sync.sh (root) loads no other config.
HAPROXY_CONFIG_SHA256_TAG = "HaproxyConfigSha256"
HAPROXY_SYNC_PLACES = {
    "haproxy-config-sync.sh": "/usr/local/lib/neo4j-cluster/haproxy-config-sync.sh",
    "haproxy-config-sync.service": "/etc/systemd/system/haproxy-config-sync.service",
    "haproxy-config-sync.timer": "/etc/systemd/system/haproxy-config-sync.timer",
}
# Every HAPROXY_SYNC_MINUTES, node i at minute offset i: a new config never reaches both in the same minute.
HAPROXY_SYNC_MINUTES = 2
# How long a reloaded node may take to find a server again (checks: inter 2s, rise 2) before it rolls back.
HAPROXY_HEALTH_WAIT_SECONDS = 20


def render_haproxy_node(settings: Settings, *, stack_nodes: int, node: str, index: int,
                        ca_secret: str, entry_secret: str = "") -> dict[str, str]:
    """One node's files: the sync script and its systemd units, and the user data that places them."""
    period = max(HAPROXY_SYNC_MINUTES, stack_nodes)
    schedule = f"*-*-* *:{index % period:02d}/{period}:00"
    files = {
        "haproxy-config-sync.sh": render_template(
            "haproxy/haproxy-config-sync.sh.j2", stack=settings.stack, cfg_path=HAPROXY_CFG_PLACE,
            health_port=PORTS.haproxy.health, health_wait_seconds=HAPROXY_HEALTH_WAIT_SECONDS,
            object_tag=HAPROXY_CONFIG_TAG, sha_tag=HAPROXY_CONFIG_SHA256_TAG, region=settings.region,
            state_dir=HAPROXY_STATE_DIR, entry_secret=entry_secret, entry_pem=HAPROXY_ENTRY_PEM,
            textfile_dir=TEXTFILE_DIR),  # the refused config's metric (node exporter runs on the node too)
        "haproxy-config-sync.service": render_template(
            "haproxy/haproxy-config-sync.service.j2", stack=settings.stack,
            script_path=HAPROXY_SYNC_PLACES["haproxy-config-sync.sh"]),
        "haproxy-config-sync.timer": render_template(
            "haproxy/haproxy-config-sync.timer.j2", stack=settings.stack, node=node, schedule=schedule,
            period_minutes=period,
            schedule_note=f"minute {index % period} of every {period}; the other node of the pair at another"),
    }
    placed = [{"path": HAPROXY_SYNC_PLACES[name], "text": text, "mode": "0755" if name.endswith(".sh") else "0644"}
              for name, text in files.items()]
    files["cloud-init.yaml"] = render_template(
        "cloud-init/haproxy.yaml.j2", node=node, files=placed, region=settings.region, ca_secret=ca_secret,
        ca_file=HAPROXY_CA_FILE, entry_secret=entry_secret, entry_pem=HAPROXY_ENTRY_PEM,
        object_tag=HAPROXY_CONFIG_TAG, sync_script=HAPROXY_SYNC_PLACES["haproxy-config-sync.sh"],
        state_dir=HAPROXY_STATE_DIR)
    return files


def _user_data(role: str, files: dict[str, str], **values: Any) -> str:
    # cloud-init write_files: the same text the Docker stack uploads, under the machine's paths.
    return render_template(f"cloud-init/{role}.yaml.j2", files=files, **values)


def _server_files(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster, names: SecretNames,
                  backup_job: dict[str, str], name: str) -> dict[str, str]:
    plan = rendered.neo4j_hosts[name]  # a server of the cluster, or a 4.4 Fabric proxy: the same boot path
    neutral = rendered.files[name]
    is_backup = plan.server == topology.backup_server
    # Least privilege (components/job_users.py): each job logs in as its own user where the edition has roles.
    renewal = user_of_on(settings, topology, plan.server, CERT_RENEWAL)
    join = user_of(settings, topology, TOPOLOGY_JOIN)
    creates = [{"name": u.name, "secret": names.job_users[u.name], "grants": u.grants}
               for u in job_users(settings, topology)] if creates_job_users(topology, name) else []
    files = {
        "neo4j.conf": neutral["neo4j.conf"],
        "setup-neo4j.sh": render_setup_script(
            settings, plan, tls_secret=names.tls[name] if plan.ssl_policies else "",
            admin_password_secret=names.admin_password if reads_admin_password(topology, plan.server) else "",
            admin_auth_secret=names.admin_auth if sets_password_from_hash(topology, plan.server) else "",
            backup=is_backup, job_users=tuple(creates), join_user=join,
            join_secret=names.job_users.get(join, names.admin_password)),
        # Next to setup-neo4j.sh, whose functions it shares (_certificates.sh.j2): gzip, whose window is 32 KB,
        # finds them again in the user data only when the two are close.
        **(render_cert_renewal(settings, topology, plan, tls_secret=names.tls[name],
                               admin_password_secret=names.job_users.get(renewal, names.admin_password),
                               user=renewal) if plan.ssl_policies else {}),
        **(backup_job if is_backup else {}),
        **render_grow_data_volume(NEO4J_DATA_DIR),
        **render_failed_logins(settings, name),
        # neo4j:plugins: setup-neo4j.sh's install_plugins step does what install-plugins.sh does and writes apoc.conf
        # (their functions and lines included there: one copy fits EC2's 16 KB of user data).
        **{path: text for path, text in neutral.items() if path not in ("neo4j.conf", "install-plugins.sh",
                                                                           "apoc.conf")},
    }
    # The job itself comes with the tooling archive (backup_tooling_files); user data holds what fetches it.
    files["cloud-init.yaml"] = _user_data("neo4j", {SERVER_FILE_PLACES[path]: text for path, text in files.items()
                                                    if in_user_data(path, backup_server=is_backup)},
                                          server=asdict(plan.server))
    return files


def in_user_data(path: str, *, backup_server: bool) -> bool:
    """Whether a server file travels in its user data (else in the tooling archive, backup_tooling_files)."""
    if path.startswith("backup/"):
        return path.removeprefix("backup/") in BACKUP_BOOT_FILES
    return not (backup_server and path in BACKUP_SERVER_ARCHIVED)


def aws_artifacts(settings: Settings, topology: ClusterTopology, rendered: RenderedCluster | None = None) -> Artifacts:
    """Every file of every EC2 machine: the neutral render (`rendered`, rendered here when not given)
    plus setup-neo4j.sh, the backup job and each machine's cloud-init.yaml."""
    if rendered is None:
        rendered = render_cluster(settings, topology)
    names = secret_names(settings, topology)
    backup_job = render_backup_job(settings, topology)
    artifacts: Artifacts = {s.name: _server_files(settings, topology, rendered, names, backup_job, s.name)
                            for s in topology.neo4j_hosts}
    if topology.haproxy:
        # The config is published once (S3, HAPROXY_CONFIG_KEY) and loaded by each node of the pair on its own
        # schedule; the nodes' user data does not hold it (components/aws/load_balancer.py).
        artifacts["haproxy"] = {"haproxy.cfg": rendered.files["haproxy"]["haproxy.cfg"]}
        for index, node in enumerate(topology.haproxy_nodes):
            artifacts.setdefault(node.name, {}).update(render_haproxy_node(
                settings, stack_nodes=len(topology.haproxy_nodes), node=node.name, index=index,
                ca_secret=names.ca if haproxy_needs_the_ca(rendered) else "",
                entry_secret=names.entry_tls if entry_terminates_tls(settings) else ""))
    if topology.monitoring:
        files = dict(rendered.files["monitoring"])
        placed = {MONITORING_NODE_PATHS[path]: text for path, text in files.items()}
        files[MOUNT_PROMETHEUS_DATA] = placed[MOUNT_PROMETHEUS_DATA_PLACE] = render_template(
            f"aws/{MOUNT_PROMETHEUS_DATA}.j2", data_dir=PROMETHEUS_DATA_DIR)
        files[PROMETHEUS_LISTEN] = placed[PROMETHEUS_LISTEN_PLACE] = render_template(
            f"prometheus/{PROMETHEUS_LISTEN}.j2", listen_address=PROMETHEUS_LISTEN_ADDRESS,
            datasource_url=PROMETHEUS_URL)
        for name, text in render_grow_data_volume(PROMETHEUS_DATA_DIR).items():
            files[name] = placed[GROW_DATA_VOLUME_PLACES[name]] = text
        if settings.tls != "disabled":  # the CA exists: Grafana gets a certificate (components/aws/__init__.py)
            for name, text in render_grafana_tls(settings, topology, names.grafana_tls).items():
                files[name] = placed[GRAFANA_TLS_PLACES[name]] = text
        files["cloud-init.yaml"] = _user_data("monitoring", placed, region=settings.region,
                                              grafana_password_secret=names.grafana_admin_password,
                                              mount_prometheus_data=MOUNT_PROMETHEUS_DATA_PLACE)
        artifacts["monitoring"] = files
    return artifacts
