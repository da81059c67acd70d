"""Monitoring: the Prometheus + Grafana node, in a private subnet."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.aws.machine import DataVolume, NodeArgs, place_node
from components.ports import PORTS

ROOT_VOLUME_GB = 20  # OS, Prometheus and Grafana; the time series live on the data volume
PROMETHEUS_VOLUME_GB = 50  # mounted on /var/lib/prometheus by mount-prometheus-data.sh


@dataclass(frozen=True)
class MonitoringArgs(NodeArgs):
    data_volumes_deletable: bool = False  # neo4j:dataVolumesDeletable
    grafana_https: bool = False  # Grafana serves HTTPS with the cluster CA's certificate (TLS not disabled)


class Monitoring(pulumi.ComponentResource):
    private_ip: pulumi.Output[str]
    grafana_url: str
    prometheus_url: str

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:Monitoring", name, None, opts)
        # Replaced for new config like every support node, but its time series stay on their volume; a scale-out
        # is no new config here, since Prometheus discovers the servers.
        machine = place_node(name, args, self, root_volume_gb=ROOT_VOLUME_GB,
                             data_volume=DataVolume(size_gb=PROMETHEUS_VOLUME_GB, zone=args.node.zone,
                                                    deletable=args.data_volumes_deletable),
                             discovers_instances=True)  # Prometheus finds the servers (components/render.py)
        self.private_ip = machine.instance.private_ip
        scheme = "https" if args.grafana_https else "http"
        self.grafana_url = f"{scheme}://{args.node.hostname}:{PORTS.monitoring.grafana}"
        self.prometheus_url = f"http://{args.node.hostname}:{PORTS.monitoring.prometheus}"
        self.register_outputs({"privateIp": self.private_ip, "grafanaUrl": self.grafana_url,
                               "prometheusUrl": self.prometheus_url})
