"""Hostname verification on cluster and backup traffic (issue 26, item 6): with TLS required, the cluster and backup
SSL policies verify the peer's host name, so every address a member dials must be a name in the dialled server's
certificate (components/program/tls.py server_dns_names), as the rendered neo4j.conf advertises it."""
from __future__ import annotations

import re

import pytest

from components.aws.user_data import aws_artifacts
from components.program.tls import server_dns_names
from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings

_ADDRESS_KEYS = re.compile(r"^([a-z_.]*(?:advertised_address|discovery[a-z_.]*endpoints|initial_discovery_members"
                           r"|listen_address)[a-z_.]*)=(.+)$", re.M)


@pytest.mark.parametrize("version", ["4.4.40", "5.26.30", "2025.10.1"])
@pytest.mark.parametrize("platform", ["aws", "docker"])
def test_every_address_a_member_dials_is_named_in_that_members_certificate(version, platform):
    settings = make_settings(version=version, tls="required", coreCount=3, replicaCount=1, platform=platform)
    topology = plan_topology(settings)
    rendered = render_cluster(settings, topology)
    names = {s.hostname: set(server_dns_names(topology, s)) for s in topology.servers}
    for server in topology.servers:
        conf = rendered.files[server.name]["neo4j.conf"]
        assert re.search(r"^dbms\.ssl\.policy\.cluster\.verify_hostname=true$", conf, re.M), server.name
        assert re.search(r"^dbms\.ssl\.policy\.backup\.verify_hostname=true$", conf, re.M), server.name
        dialled = set()
        for key, value in _ADDRESS_KEYS.findall(conf):
            if "listen_address" in key:
                continue
            dialled |= {address.rsplit(":", 1)[0] for address in value.split(",") if address}
        assert dialled, f"{server.name}: no advertised or discovery address found"
        for host in dialled:
            owners = [s for s, certificate in names.items() if host in certificate and host == s]
            assert owners, f"{server.name} dials {host}, which no server certificate names as its hostname"
        assert server.hostname in names[server.hostname]


def test_the_backup_job_dials_a_name_its_servers_certificate_holds():
    settings = make_settings(tls="required")
    topology = plan_topology(settings)
    job = aws_artifacts(settings, topology)[topology.backup_server.name]["backup/neo4j-backup.sh"]
    host = topology.backup_server.hostname
    assert host in job and host in server_dns_names(topology, topology.backup_server)


@pytest.mark.parametrize("tls", ["optional", "disabled"])
def test_without_required_tls_there_is_no_cluster_policy_to_verify(tls):
    settings = make_settings(tls=tls)
    topology = plan_topology(settings)
    conf = render_cluster(settings, topology).files[topology.servers[0].name]["neo4j.conf"]
    assert "dbms.ssl.policy.cluster" not in conf
