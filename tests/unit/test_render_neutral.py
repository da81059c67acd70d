"""Render is platform-neutral: the same texts and per-server decisions for AWS and Docker; what only EC2
needs is components/aws/user_data.py's, and the adapters act on render's decisions."""
from __future__ import annotations

import pytest
import yaml

from components.aws.user_data import (
    BACKUP_BOOT_FILES,
    BACKUP_DIFF_FILES,
    BACKUP_SERVER_ARCHIVED,
    FAILED_LOGINS_FILES,
    GROW_DATA_VOLUME_PLACES,
    SERVER_FILE_PLACES,
    aws_artifacts,
    backup_tooling_files,
)
from components.ports import PORTS
from components.render import (
    Endpoint,
    health_check,
    memory_plan,
    render_cluster,
    ssl_policies,
)
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.prometheus_targets import scrape_targets

SHAPES = {
    "cluster": {"replicaCount": 2},
    "tls-required": {"tls": "required"},
    "no-tls-4.4": {"tls": "disabled", "version": "4.4.46"},
    "community": {"edition": "community", "coreCount": 1, "replicaCount": 0, "acceptLicense": False},
}


@pytest.fixture(params=[(platform, shape) for platform in ("aws", "docker") for shape in SHAPES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def stack(request):
    platform, shape = request.param
    settings = make_settings(platform=platform, **SHAPES[shape])
    topology = plan_topology(settings)
    return settings, topology, render_cluster(settings, topology)


def test_render_makes_no_file_of_one_platform(stack):
    _, topology, rendered = stack
    for server in topology.servers:
        assert set(rendered.files[server.name]) <= {"neo4j.conf", "join-topology.sh"}
    assert "cloud-init.yaml" not in {path for files in rendered.files.values() for path in files}
    assert not any(path.startswith("backup/") for files in rendered.files.values() for path in files)


def test_each_server_plan_holds_the_decisions_its_texts_were_rendered_with(stack):
    settings, topology, rendered = stack
    assert list(rendered.servers) == [s.name for s in topology.servers]
    for server in topology.servers:
        plan = rendered.servers[server.name]
        conf = rendered.files[server.name]["neo4j.conf"]
        assert plan.server == server and plan.memory == memory_plan(settings, server)
        assert plan.ssl_policies == ssl_policies(settings) and plan.health_check == health_check(settings)
        for policy in plan.ssl_policies:
            assert f"ssl.policy.{policy.scope}.enabled=true" in conf
        names = [e.name for e in plan.client_endpoints]
        assert names[0] == "bolt" and ("http" in names) == (settings.tls != "required")
        assert ("https" in names) == (settings.tls != "disabled")
        assert plan.joins_database_topology == ("join-topology.sh" in rendered.files[server.name])


def test_the_health_check_haproxy_uses_is_the_servers_plan(stack):
    settings, topology, rendered = stack
    if not topology.haproxy:
        return
    check = rendered.servers[topology.servers[0].name].health_check
    cfg = rendered.files["haproxy"]["haproxy.cfg"]
    assert f"check port {check.port}" in cfg and f"uri {check.write_path}" in cfg
    assert ("check-ssl" in cfg) == check.ssl == (settings.tls == "required")


def test_prometheus_scrapes_the_endpoints_of_each_servers_plan(stack):
    settings, topology, rendered = stack
    config = yaml.safe_load(rendered.files["monitoring"]["prometheus/prometheus.yml"])
    # On AWS the servers are discovered (EC2 service discovery): resolved here as Prometheus would.
    targets = {target for _, target in scrape_targets(config, stack=settings.stack,
                                                      servers=[(s.name, s.role) for s in topology.servers])}
    for server in topology.servers:
        scraped = rendered.servers[server.name].scrape_endpoints
        assert (Endpoint("metrics", PORTS.server.metrics) in scraped) == (settings.edition == "enterprise")
        assert (Endpoint("node_exporter", PORTS.server.node_exporter) in scraped) == (settings.platform == "aws")
        for endpoint in scraped:
            assert f"{server.hostname}:{endpoint.port}" in targets


def test_ec2_machines_get_the_neutral_texts_unchanged_plus_their_own_files(stack):
    settings, topology, rendered = stack
    on_aws = aws_artifacts(settings, topology, rendered)
    for target, files in rendered.files.items():
        assert {path: on_aws[target][path] for path in files} == files
        # haproxy.cfg is published to S3 for the HAProxy nodes (on AWS the pair), whose user data does not hold it.
        machines = [n.name for n in topology.haproxy_nodes] if target == "haproxy" else [target]
        assert all("cloud-init.yaml" in on_aws[machine] for machine in machines)
    # The backup server's job: every backup/ file, but the differentials' units only where backups run in chains
    # (Enterprise 5.26 and 2025, Settings.backs_up_in_chains) with a neo4j:backupDiffSchedule.
    diff = {f"backup/{name}" for name in BACKUP_DIFF_FILES}
    backup = {path for path in SERVER_FILE_PLACES if path.startswith("backup/")} - (
        set() if settings.backs_up_in_chains and settings.backup_diff_schedule else diff)
    if topology.backup_server:
        # The job ships in the tooling archive (job/<name>); the user data holds only what fetches it.
        # So does the backup server's certificate renewal, with TLS (BACKUP_SERVER_ARCHIVED).
        boot = {f"backup/{name}" for name in BACKUP_BOOT_FILES}
        server_files = on_aws[topology.backup_server.name]
        archived = {name for name in BACKUP_SERVER_ARCHIVED if name in server_files}
        assert backup_tooling_files(on_aws, topology) == {
            f"job/{path.removeprefix('backup/')}": server_files[path] for path in (backup - boot) | archived}
        user_data = yaml.safe_load(server_files["cloud-init.yaml"])
        written = {f["path"] for f in user_data["write_files"]}
        assert {place for path, place in SERVER_FILE_PLACES.items() if path in backup | archived} & written == {
            SERVER_FILE_PLACES[path] for path in boot}
    for server in topology.servers:
        extra = set(on_aws[server.name]) - set(rendered.files[server.name]) - {"cloud-init.yaml"}
        # With TLS, the daily certificate renewal (renew-certificates.sh and its units).
        renewal = ({"renew-certificates.sh", "neo4j-cert-renew.service", "neo4j-cert-renew.timer"}
                   if rendered.servers[server.name].ssl_policies else set())
        assert renewal <= extra
        extra -= renewal
        # Every server counts its failed logins for Prometheus (node exporter runs on AWS only).
        assert set(FAILED_LOGINS_FILES) <= extra
        extra -= set(FAILED_LOGINS_FILES)
        # Every machine with a data volume grows its filesystem while it runs (a timer, components/aws/user_data.py).
        assert extra == {"setup-neo4j.sh", *GROW_DATA_VOLUME_PLACES} | (
            backup if server == topology.backup_server else set())
