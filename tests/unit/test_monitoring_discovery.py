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
    assert "static_configs" not in jobs["neo4j"]
    # The pair is fixed: listed, its HAProxy exporter and its node exporter (templates/cloud-init/haproxy.yaml.j2).
    assert "static_configs" in jobs["haproxy"]
    assert [group["targets"] for group in jobs["node"]["static_configs"]] == [
        ["haproxy-1.test.neo4j.internal:9100"], ["haproxy-2.test.neo4j.internal:9100"]]


def test_the_relabelling_leaves_the_listed_haproxy_nodes_their_labels_and_address():
    # Prometheus applies a job's relabel_configs to every target of it, listed ones too: the rules written for the
    # discovered servers must keep the HAProxy nodes' role (no Role tag to read) and address.
    from tests.support.prometheus_targets import scrape_labels

    config = prometheus_yml(coreCount=3, replicaCount=1)
    labels = scrape_labels(config, stack="test", servers=[("core-1", "primary"), ("replica-1", "secondary")])
    node = {found["server"]: found for job, found in labels if job == "node"}
    assert {name: (found["role"], found["__address__"]) for name, found in node.items()} == {
        "core-1": ("primary", "core-1.test.neo4j.internal:9100"),
        "replica-1": ("secondary", "replica-1.test.neo4j.internal:9100"),
        "haproxy-1": ("loadbalancer", "haproxy-1.test.neo4j.internal:9100"),
        "haproxy-2": ("loadbalancer", "haproxy-2.test.neo4j.internal:9100")}
    assert {found["stack"] for found in node.values()} == {"test"}


def test_docker_runs_no_node_exporter_beside_haproxy():
    jobs = {job["job_name"]: job for job in prometheus_yml(platform="docker", coreCount=3)["scrape_configs"]}
    assert "node" not in jobs


def test_a_scale_out_leaves_the_monitoring_nodes_user_data_as_it_is():
    def monitoring_user_data(replicas: int) -> str:
        settings = make_settings(coreCount=3, replicaCount=replicas)
        return aws_artifacts(settings, plan_topology(settings))["monitoring"]["cloud-init.yaml"]

    assert monitoring_user_data(1) == monitoring_user_data(2) == monitoring_user_data(0)


def test_docker_lists_its_containers():
    jobs = {job["job_name"]: job for job in prometheus_yml(platform="docker", coreCount=3)["scrape_configs"]}
    assert "ec2_sd_configs" not in jobs["neo4j"] and jobs["neo4j"]["static_configs"]


def test_each_haproxy_node_runs_the_node_exporter_it_is_scraped_on_and_its_sync_writes_there():
    import re

    from components.aws.user_data import TEXTFILE_DIR, render_haproxy_node

    files = render_haproxy_node(make_settings(), stack_nodes=2, node="haproxy-1", index=0, ca_secret="")
    user_data = yaml.safe_load(files["cloud-init.yaml"])
    assert "prometheus-node-exporter" in user_data["packages"]  # Debian's, whose textfile collector reads TEXTFILE_DIR
    sync_script = files["haproxy-config-sync.sh"]
    assert re.search(rf'^TEXTFILE_DIR=\$\{{TEXTFILE_DIR:-{re.escape(TEXTFILE_DIR)}\}}$', sync_script, re.M)
