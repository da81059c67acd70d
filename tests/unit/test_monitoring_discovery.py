"""On AWS Prometheus discovers the Neo4j servers (EC2 service discovery) instead of listing them: a scale-out leaves
prometheus.yml, and so the monitoring node's user data, unchanged (tests/engine: no machine is replaced). The
Docker stack keeps listing its containers."""
from __future__ import annotations

import yaml

from components.aws.user_data import aws_artifacts
from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings

PROMETHEUS_YML = "prometheus/prometheus.yml"


def prometheus_yml(**stack) -> dict:
    settings = make_settings(**stack)
    return yaml.safe_load(render_cluster(settings, plan_topology(settings)).files["monitoring"][PROMETHEUS_YML])


def test_aws_finds_the_servers_by_their_name_tag_and_scrapes_them_by_dns_name():
    jobs = {job["job_name"]: job for job in prometheus_yml(coreCount=3, replicaCount=1)["scrape_configs"]}
    for job, port in (("neo4j", 2004), ("node", 9100)):
        [discovery] = jobs[job]["ec2_sd_configs"]
        assert discovery["port"] == port
        assert {"name": "tag:Name", "values": ["test-core-*", "test-replica-*"]} in discovery["filters"]
        assert {"name": "instance-state-name", "values": ["running"]} in discovery["filters"]
        address = next(r for r in jobs[job]["relabel_configs"] if r.get("target_label") == "__address__")
        assert address["replacement"] == f"${{1}}.test.neo4j.internal:{port}"
        assert "static_configs" not in jobs[job]
    assert "static_configs" in jobs["haproxy"]  # the pair is fixed: listed


def test_a_scale_out_leaves_the_monitoring_nodes_user_data_as_it_is():
    def monitoring_user_data(replicas: int) -> str:
        settings = make_settings(coreCount=3, replicaCount=replicas)
        return aws_artifacts(settings, plan_topology(settings))["monitoring"]["cloud-init.yaml"]

    assert monitoring_user_data(1) == monitoring_user_data(2) == monitoring_user_data(0)


def test_docker_lists_its_containers():
    jobs = {job["job_name"]: job for job in prometheus_yml(platform="docker", coreCount=3)["scrape_configs"]}
    assert "ec2_sd_configs" not in jobs["neo4j"] and jobs["neo4j"]["static_configs"]
