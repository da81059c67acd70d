"""The stack's one Docker network: the servers find each other by their network aliases."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.docker.containers import LABEL_STACK


@dataclass(frozen=True)
class ClusterNetworkArgs:
    domain: str  # the topology's private domain, e.g. local.neo4j.internal (for the label only)


class ClusterNetwork(pulumi.ComponentResource):
    """A bridge network named `<name>-net`; `name` is what containers join."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:docker:Network", name, None, opts)
        network = docker.Network(
            f"{name}-net", name=f"{name}-net", driver="bridge",
            labels=[{"label": LABEL_STACK, "value": pulumi.get_stack()},
                    {"label": "neo4j-cluster.domain", "value": args.domain}],
            opts=pulumi.ResourceOptions(parent=self))
        self.name = network.name
        self.register_outputs({"name": self.name})
