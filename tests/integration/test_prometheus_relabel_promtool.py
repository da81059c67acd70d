"""The node job's relabelling on AWS, run by the real `promtool check service-discovery` (Debian's prometheus 2.42:
"Perform service discovery for the given job name and report the results, including relabeling." -- its --help).

Prometheus applies a job's relabel_configs to every target of it: the rules written for the Neo4j servers found by
EC2 discovery (server from the Name tag, role from the Role tag, address from the server) also run on the HAProxy
nodes the job lists. They must leave those their role (no Role tag there) and their address. The EC2 discovery
itself is left out (it would call the EC2 API); tests/unit/test_monitoring_discovery.py models it."""
from __future__ import annotations

import json
import subprocess

import yaml

from components.render import render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool


def test_the_listed_haproxy_nodes_keep_their_labels_and_address_through_the_relabelling(tmp_path):
    promtool = require_tool("promtool")
    settings = make_settings(coreCount=3, replicaCount=1)
    config = yaml.safe_load(render_cluster(settings, plan_topology(settings)).files["monitoring"][
        "prometheus/prometheus.yml"])
    [node] = [job for job in config["scrape_configs"] if job["job_name"] == "node"]
    assert node.pop("ec2_sd_configs")  # the servers' discovery: not here
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump({"global": config["global"], "scrape_configs": [node]}))
    result = subprocess.run([promtool, "check", "service-discovery", "--timeout=1s", str(path), "node"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = {target["labels"]["server"]: target["labels"] for target in json.loads(result.stdout)}
    assert {server: (labels["role"], labels["stack"], labels["__address__"]) for server, labels in found.items()} == {
        "haproxy-1": ("loadbalancer", "test", "haproxy-1.test.neo4j.internal:9100"),
        "haproxy-2": ("loadbalancer", "test", "haproxy-2.test.neo4j.internal:9100")}
