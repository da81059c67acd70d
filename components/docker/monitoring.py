"""Prometheus and Grafana from their official images, with the rendered monitoring files.

The two share one network namespace, as they share the monitoring node on AWS: the rendered Grafana
data source points at http://127.0.0.1:9090 and works unchanged. Prometheus owns the namespace (the
network alias, the published ports 9090 and 3000); Grafana joins it. Grafana is replaced whenever
Prometheus is; after a bare `docker restart` of Prometheus, restart Grafana too.

Grafana's admin password is an uploaded file that GF_SECURITY_ADMIN_PASSWORD__FILE names (the image's
run.sh reads it into GF_SECURITY_ADMIN_PASSWORD inside the container), so `docker inspect` shows no secret.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.docker.containers import ContainerSpec, HealthCheck, Upload, container, pull, reachable_as, volume
from components.docker.images import GRAFANA_IMAGE, PROMETHEUS_IMAGE
from components.docker.layout import (
    GRAFANA_ADMIN_PASSWORD_FILE,
    GRAFANA_UID,
    MONITORING_PUBLISHED,
    PROMETHEUS_DATA,
    SECRET_FILE_MODE,
    monitoring_places,
)
from components.ports import PORTS
from components.topology import Node


@dataclass(frozen=True)
class MonitoringArgs:
    node: Node  # topology.monitoring
    files: dict[str, str]  # the rendered files["monitoring"]: prometheus/…, grafana/…
    network: pulumi.Input[str]
    grafana_admin_password: pulumi.Output[str] | None  # secret; None: Grafana's first-login admin/admin


def placed(files: dict[str, str], service: str) -> tuple[Upload, ...]:
    """The rendered files of `service` at the paths its official image reads them from."""
    return tuple(Upload(place, files[path]) for path, place in monitoring_places(service).items())


def grafana_admin_password(password: pulumi.Output[str] | None) -> tuple[tuple[str, ...], tuple[Upload, ...]]:
    """Grafana's (envs, uploads) for its admin password: a file only Grafana's user reads, and its path."""
    if password is None:
        return (), ()
    upload = Upload(GRAFANA_ADMIN_PASSWORD_FILE, pulumi.Output.secret(password), GRAFANA_UID, SECRET_FILE_MODE)
    return (f"GF_SECURITY_ADMIN_PASSWORD__FILE={GRAFANA_ADMIN_PASSWORD_FILE}",), (upload,)


class Monitoring(pulumi.ComponentResource):
    """Containers `<name>-prometheus` (with volume `<name>-prometheus-data`) and `<name>-grafana`."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:docker:Monitoring", name, None, opts)
        prometheus_image = pull(f"{name}-prometheus-image", PROMETHEUS_IMAGE, self)
        grafana_image = pull(f"{name}-grafana-image", GRAFANA_IMAGE, self)
        data = volume(f"{name}-prometheus-data", "monitoring", self)
        prometheus = container(f"{name}-prometheus", ContainerSpec(
            image=prometheus_image.image_id,
            role="monitoring",
            **reachable_as(args.network, args.node.hostname, args.node.name),
            ports=MONITORING_PUBLISHED,  # Grafana's port too: it lives in this namespace
            uploads=placed(args.files, "prometheus"),
            volumes=((data.name, PROMETHEUS_DATA),),
            health=HealthCheck(f"http://localhost:{PORTS.monitoring.prometheus}/-/healthy"),
        ), self)
        envs, secrets = grafana_admin_password(args.grafana_admin_password)
        grafana = container(f"{name}-grafana", ContainerSpec(
            image=grafana_image.image_id,
            role="monitoring",
            network_mode=prometheus.id.apply(lambda container_id: f"container:{container_id}"),
            uploads=(*placed(args.files, "grafana"), *secrets),
            envs=envs,
            health=HealthCheck(f"http://localhost:{PORTS.monitoring.grafana}/api/health"),
        ), self)
        self.register_outputs({"prometheus": prometheus.name, "grafana": grafana.name})
