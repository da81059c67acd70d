"""LoadBalancer: the HAProxy node in front of the cluster, private by default or public with an EIP."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.machine import NodeArgs, place_node

ROOT_VOLUME_GB = 16


@dataclass(frozen=True)
class LoadBalancerArgs(NodeArgs):
    public: bool = False  # a public subnet and an Elastic IP; subnet_id must then be a public one


class LoadBalancer(pulumi.ComponentResource):
    private_ip: pulumi.Output[str]
    public_ip: pulumi.Output[str] | None

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:LoadBalancer", name, None, opts)
        # A public HAProxy gets an address at launch (it installs packages at boot, before the
        # Elastic IP can be attached) and then the Elastic IP that clients keep across replacements.
        machine = place_node(name, args, self, root_volume_gb=ROOT_VOLUME_GB, public_ip=args.public)
        self.private_ip = machine.instance.private_ip
        self.public_ip = None
        if args.public:
            address = aws.ec2.Eip(f"{name}-{args.node.name}", domain="vpc", instance=machine.instance.id,
                                  tags={"Name": f"{args.context.stack}-{args.node.name}"},
                                  opts=pulumi.ResourceOptions(parent=self))
            self.public_ip = address.public_ip
        self.register_outputs({"privateIp": self.private_ip, "publicIp": self.public_ip})
