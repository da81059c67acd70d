"""components/docker/layout.py and images.py: ports on the laptop, paths in the containers, image pins."""
from __future__ import annotations

import re

import pytest

from components.docker.images import (
    GRAFANA_IMAGE,
    HAPROXY_IMAGE,
    PROMETHEUS_IMAGE,
    ImageRef,
    image_problems,
    neo4j_image,
)
from components.docker.layout import (
    GRAFANA_ADMIN_PASSWORD_FILE,
    HAPROXY_CA,
    HAPROXY_PUBLISHED,
    MONITORING_PUBLISHED,
    NEO4J_AUTH_FILE,
    NEO4J_DATA,
    NEO4J_HOME,
    NEO4J_LOGS,
    SECRET_FILE_MODE,
    certificate_places,
    monitoring_places,
    server_ports,
)
from components.monitoring import MONITORING_NODE_PATHS
from components.render import render_cluster, render_haproxy_cfg, render_neo4j_conf
from components.topology import plan_topology
from tests.conftest import make_settings


def docker_settings(**overrides):
    return make_settings(platform="docker", **overrides)


def test_core_1_publishes_bolt_and_https_ten_thousand_up():
    settings = docker_settings()
    assert settings.tls == "required"  # the default (commit f2784da): no plain HTTP connector to publish
    ports = server_ports(render_cluster(settings, plan_topology(settings)).servers)
    assert [(p.name, p.internal, p.external) for p in ports["core-1"]] == [
        ("bolt", 7687, 17687), ("https", 7473, 17473)]
    assert [p.external for p in ports["core-2"]] == [17787, 17573]


def test_core_1_publishes_bolt_http_and_https_ten_thousand_up_with_tls_optional():
    settings = docker_settings(tls="optional")  # as Pulumi.local.yaml says
    ports = server_ports(render_cluster(settings, plan_topology(settings)).servers)
    assert [(p.name, p.internal, p.external) for p in ports["core-1"]] == [
        ("bolt", 7687, 17687), ("http", 7474, 17474), ("https", 7473, 17473)]
    assert [p.external for p in ports["core-2"]] == [17787, 17574, 17573]


@pytest.mark.parametrize("tls, per_server", [("required", 2), ("optional", 3)])
def test_the_largest_cluster_publishes_no_port_twice(tls, per_server):
    settings = docker_settings(coreCount=11, replicaCount=50, containerMemory="1g", tls=tls)
    ports = server_ports(render_cluster(settings, plan_topology(settings)).servers)
    externals = [p.external for published in ports.values() for p in published]
    externals += [p.external for p in HAPROXY_PUBLISHED + MONITORING_PUBLISHED]
    # required: Bolt and HTTPS; optional: HTTP too. HAProxy 4, Prometheus and Grafana 2.
    assert len(externals) == len(set(externals)) == 61 * per_server + 6
    assert max(externals) < 32768  # below the usual ephemeral range


@pytest.mark.parametrize("tls, names", [("disabled", ["bolt", "http"]), ("optional", ["bolt", "http", "https"]),
                                        ("required", ["bolt", "https"])])
def test_only_enabled_connectors_are_published(tls, names):
    settings = docker_settings(tls=tls)
    ports = server_ports(render_cluster(settings, plan_topology(settings)).servers)
    assert [p.name for p in ports["replica-1"]] == names


@pytest.mark.parametrize("tls", ["optional", "required"])
def test_certificates_go_where_the_ssl_policies_of_neo4j_conf_look(tls):
    settings = docker_settings(tls=tls)
    topology = plan_topology(settings)
    conf = dict(line.split("=", 1) for line in render_neo4j_conf(settings, topology, topology.servers[0]).splitlines()
                if "=" in line and not line.startswith("#"))
    for policy in render_cluster(settings, topology).servers["core-1"].ssl_policies:
        key = f"dbms.ssl.policy.{policy.scope}"
        base = f"{NEO4J_HOME}/{conf[f'{key}.base_directory']}"
        places = certificate_places(policy.scope)
        assert places.private_key == f"{base}/{conf[f'{key}.private_key']}"
        assert places.public_certificate == f"{base}/{conf[f'{key}.public_certificate']}"
        assert places.trusted_ca.startswith(f"{base}/{conf[f'{key}.trusted_dir']}/")


def test_haproxy_ca_is_the_file_the_rendered_cfg_checks_with():
    settings = docker_settings(tls="required")
    assert f"ca-file {HAPROXY_CA}" in render_haproxy_cfg(settings, plan_topology(settings))


def test_every_monitoring_file_goes_to_exactly_one_container():
    prometheus, grafana = monitoring_places("prometheus"), monitoring_places("grafana")
    assert set(prometheus) | set(grafana) == set(MONITORING_NODE_PATHS) and not set(prometheus) & set(grafana)
    assert all(place.startswith("/etc/prometheus/") for place in prometheus.values())
    assert all(place.startswith(("/etc/grafana/provisioning/", "/var/lib/grafana/")) for place in grafana.values())


def test_neo4j_image_follows_version_and_edition():
    assert neo4j_image(docker_settings(version="5.26.30")).reference == "neo4j:5.26.30-enterprise"
    community = docker_settings(edition="community", acceptLicense=False, coreCount=1, replicaCount=0,
                                version="2025.10.0")
    assert neo4j_image(community).reference == "neo4j:2025.10.0"


@pytest.mark.parametrize("image", [HAPROXY_IMAGE, PROMETHEUS_IMAGE, GRAFANA_IMAGE])
def test_support_images_are_pinned_to_a_release(image):
    assert re.search(r"\d+\.\d+\.\d+", image.tag), image
    assert "latest" not in image.tag


def test_a_digest_pins_the_reference_too():
    digest = "sha256:" + "0" * 64
    assert ImageRef("haproxy", "3.2.4-alpine", digest).reference == f"haproxy:3.2.4-alpine@{digest}"


@pytest.mark.parametrize("version, refused", [("4.4.27", True), ("4.4.0", True), ("4.4.28", False), ("4.4.48", False),
                                              ("5.26.0", False), ("2025.01.0", False)])
def test_neo4j_images_that_cannot_read_the_password_from_a_file_are_refused(version, refused):
    problems = image_problems(docker_settings(version=version))
    assert bool(problems) == refused
    if refused:
        [problem] = problems
        assert problem.startswith(f"neo4j:version: got '{version}' with platform=docker; allowed: 4.4.28 or later")


def test_secret_files_sit_outside_the_directories_the_neo4j_entrypoint_rewrites_and_the_volumes():
    for place in (NEO4J_AUTH_FILE, GRAFANA_ADMIN_PASSWORD_FILE):
        assert place.startswith("/run/secrets/")
        assert not place.startswith((f"{NEO4J_HOME}/", f"{NEO4J_DATA}/", f"{NEO4J_LOGS}/", "/conf/"))
    assert NEO4J_AUTH_FILE != GRAFANA_ADMIN_PASSWORD_FILE
    assert SECRET_FILE_MODE == "0400"  # its owner reads it; nobody writes it
