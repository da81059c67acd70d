"""Monitoring: the Prometheus + Grafana node, in a private subnet."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.aws.machine import NodeArgs, place_node
from components.ports import PORTS

ROOT_VOLUME_GB = 50  # Prometheus keeps its time series on the root volume


@dataclass(frozen=True)
class MonitoringArgs(NodeArgs):
    pass


class Monitoring(pulumi.ComponentResource):
    private_ip: pulumi.Output[str]
    grafana_url: str
    prometheus_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:Monitoring", name, None, opts)
        machine = place_node(name, args, self, root_volume_gb=ROOT_VOLUME_GB)
        self.private_ip = machine.instance.private_ip
        self.grafana_url = f"http://{args.node.hostname}:{PORTS.monitoring.grafana}"
        self.prometheus_url = f"http://{args.node.hostname}:{PORTS.monitoring.prometheus}"
        self.register_outputs({"privateIp": self.private_ip, "grafanaUrl": self.grafana_url,
                               "prometheusUrl": self.prometheus_url})
