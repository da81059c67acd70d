"""The one way this stack builds an image pull, a volume and a container.

Every container: restart unless stopped, published ports on 127.0.0.1 only, files uploaded before
it starts (uploads happen between create and start), an HTTP health check run with the image's
own wget, and labels naming the stack and role (`docker ps --filter label=neo4j-cluster.stack=local`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

from components.docker.images import ImageRef
from components.docker.layout import LOOPBACK, PublishedPort

RESTART = "unless-stopped"
LABEL_STACK = "neo4j-cluster.stack"
LABEL_ROLE = "neo4j-cluster.role"


@dataclass(frozen=True)
class Upload:
    path: str  # absolute path in the container
    content: pulumi.Input[str]  # a secret Output stays secret in the container's state
    owner: str | None = None  # numeric uid (and gid) in the image
    permissions: str | None = None  # e.g. "0600"
    binary: bool = False  # content is base64 of the file's bytes (the provider's content_base64)


@dataclass(frozen=True)
class HealthCheck:
    url: str  # fetched from inside the container
    insecure: bool = False  # HTTPS with the cluster's own certificate: skip verification on loopback
    start_period: str = "30s"

    def tests(self) -> list[str]:
        flags = "--no-check-certificate " if self.insecure else ""
        return ["CMD-SHELL", f"wget -q -O /dev/null {flags}{self.url} || exit 1"]


@dataclass(frozen=True)
class ContainerSpec:
    image: pulumi.Input[str]  # an image id (RemoteImage.image_id), never a tag: tags make every `up` replace
    role: str
    hostname: str | None = None
    network: pulumi.Input[str] | None = None  # network name; None with network_mode
    aliases: tuple[str, ...] = ()
    ports: tuple[PublishedPort, ...] = ()
    uploads: tuple[Upload, ...] = ()
    envs: tuple[pulumi.Input[str], ...] = ()
    volumes: tuple[tuple[pulumi.Input[str], str], ...] = ()  # (volume name, path in the container)
    health: HealthCheck | None = None
    memory_mb: int | None = None  # limit; swap is not allowed beyond it
    network_mode: pulumi.Input[str] | None = None  # "container:<id>": join that container's network namespace
    stop_seconds: int | None = None  # grace period before SIGKILL on stop and on destroy
    # Inputs (Python names) `pulumi up` leaves as they are on an existing container (ignore_changes): the
    # Neo4j servers hold back everything that would replace or resize them until their rollout step.
    held_back: tuple[str, ...] = ()
    user: str | None = None  # None: the image's own USER
    open_files: int | None = None  # the nofile limit (soft and hard); None: the Docker engine's default


def reachable_as(network: pulumi.Input[str], hostname: str, short_name: str) -> dict[str, Any]:
    """ContainerSpec fields that put a container on `network` under its stable DNS name and short name."""
    return {"network": network, "hostname": hostname, "aliases": (hostname, short_name)}


def pull(name: str, image: ImageRef, parent: pulumi.Resource) -> docker.RemoteImage:
    # keep_locally: `make down` leaves the (large) images for the next `make up`.
    return docker.RemoteImage(name, name=image.reference, keep_locally=True,
                              opts=pulumi.ResourceOptions(parent=parent))


def _labels(role: str) -> list[dict[str, str]]:
    return [{"label": LABEL_STACK, "value": pulumi.get_stack()}, {"label": LABEL_ROLE, "value": role}]


def volume(name: str, role: str, parent: pulumi.Resource) -> docker.Volume:
    return docker.Volume(name, name=name, labels=_labels(role), opts=pulumi.ResourceOptions(parent=parent))


def _present(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def container(name: str, spec: ContainerSpec, parent: pulumi.Resource) -> docker.Container:
    """A container named `name` (in Pulumi and in Docker) from `spec`."""
    health = spec.health
    return docker.Container(
        name,
        name=name,
        image=spec.image,
        hostname=spec.hostname,
        restart=RESTART,
        envs=list(spec.envs) or None,
        networks_advanced=[{"name": spec.network, "aliases": list(spec.aliases)}] if spec.network else None,
        network_mode=spec.network_mode,
        ports=[{"internal": p.internal, "external": p.external, "ip": LOOPBACK} for p in spec.ports] or None,
        uploads=[_present(file=u.path, **{"content_base64" if u.binary else "content": u.content}, owner=u.owner,
                          group=u.owner, permissions=u.permissions)
                 for u in spec.uploads] or None,
        volumes=[{"volume_name": source, "container_path": path} for source, path in spec.volumes] or None,
        healthcheck={"tests": health.tests(), "interval": "10s", "timeout": "5s", "retries": 6,
                     "start_period": health.start_period} if health else None,
        memory=spec.memory_mb,
        memory_swap=spec.memory_mb,
        stop_timeout=spec.stop_seconds,
        user=spec.user,
        ulimits=[{"name": "nofile", "soft": spec.open_files, "hard": spec.open_files}] if spec.open_files else None,
        destroy_grace_seconds=spec.stop_seconds,
        labels=_labels(spec.role),
        # The Docker name is fixed, so a replacement must remove the old container first.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True,
                                    ignore_changes=list(spec.held_back) or None),
    )
