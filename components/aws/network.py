"""The VPC: private subnets for Neo4j, public ones for NAT (and a public HAProxy), private DNS.

Each zone gets a private and a public subnet at fixed slots of the VPC range, so adding a zone
never renumbers an existing subnet. Backups reach S3 through a gateway endpoint, not the NAT.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# The VPC range splits into 16 equal blocks: zone i gets private block i and public block 8 + i
# (a /16 gives /20 subnets of 4091 usable addresses; a /24 gives /28 subnets of 11).
SPLIT_BITS = 4
MAX_ZONES = 2 ** SPLIT_BITS // 2


@dataclass(frozen=True)
class SubnetPlan:
    zone: str
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, zones: Sequence[str]) -> tuple[SubnetPlan, ...]:
    if len(zones) > MAX_ZONES:
        raise ValueError(f"{len(zones)} zones; the subnet plan has room for {MAX_ZONES}")
    network = ipaddress.ip_network(vpc_cidr)
    blocks = list(network.subnets(prefixlen_diff=SPLIT_BITS))
    return tuple(SubnetPlan(zone, str(blocks[i]), str(blocks[MAX_ZONES + i])) for i, zone in enumerate(zones))


@dataclass(frozen=True)
class NetworkArgs:
    stack: str
    vpc_cidr: str
    zones: tuple[str, ...]
    nat_gateway_per_zone: bool  # false: one NAT gateway, in the first zone, for every zone
    domain: str  # private Route 53 zone, e.g. prod.neo4j.internal
    s3_service_name: pulumi.Input[str]  # com.amazonaws.<region>.s3


# The buckets AWS keeps for the SSM agent in each region (its updates, documents, packages). Systems Manager User
# Guide, "SSM Agent communications with AWS managed S3 buckets": "These S3 buckets are publicly accessible [...]
# However, if you're using a virtual private cloud (VPC) endpoint in your Systems Manager operations, you must provide
# explicit permission [...] Otherwise, your resources can't access these public buckets." An endpoint policy that
# names only the stack's buckets would cut the agent (Session Manager, our only way in) off them.
SSM_AGENT_BUCKETS = ("aws-ssm-{region}", "aws-windows-downloads-{region}", "amazon-ssm-{region}",
                     "amazon-ssm-packages-{region}", "{region}-birdwatcher-prod", "aws-ssm-distributor-file-{region}",
                     "aws-ssm-document-attachments-{region}", "patch-baseline-snapshot-{region}")


def s3_endpoint_policy(bucket_arns: Sequence[pulumi.Input[str]], region: str,
                       partition: pulumi.Input[str] = "aws") -> pulumi.Output[str]:
    """The S3 gateway endpoint's policy: the stack's backup buckets (every action; each machine's role decides
    which it may use) and reading the SSM agent's buckets; nothing else, so nothing in the VPC copies data out to a
    bucket of its own through the endpoint. PrivateLink Guide, "Control access to VPC endpoints using endpoint
    policies": "By default, a VPC endpoint allows full access to the service with which it's associated."
    Nothing else on the machines is meant to use S3: their packages come from the Ubuntu archive, debian.neo4j.com,
    apt.grafana.com and PyPI through the NAT gateway (should one of them ever answer from an S3 bucket of this
    region, its requests take this endpoint and are refused: a boot on real AWS is the check)."""
    stack = [arn for bucket in bucket_arns for arn in (bucket, pulumi.Output.concat(bucket, "/*"))]
    agent = [pulumi.Output.concat("arn:", partition, f":s3:::{bucket.format(region=region)}/*")
             for bucket in SSM_AGENT_BUCKETS]
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "StackBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": stack},
            {"Sid": "SsmAgentBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": agent},
        ],
    })


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: dict[str, pulumi.Output[str]]  # zone → subnet
    public_subnet_ids: dict[str, pulumi.Output[str]]
    dns_zone_id: pulumi.Output[str]
    s3_endpoint_id: pulumi.Output[str]
    s3_prefix_list_id: pulumi.Output[str]  # the gateway endpoint's prefix list: S3's addresses in the region

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("neo4j-cluster:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self._component_name = name
        self._stack = args.stack

        def tags(label: str) -> dict[str, str]:
            return {"Name": f"{args.stack}-{label}"}

        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_support=True,
                          enable_dns_hostnames=True, tags=tags("vpc"), opts=child)
        # Nothing uses the default group; emptied, it grants nothing to what lands in it by mistake.
        aws.ec2.DefaultSecurityGroup(f"{name}-default", vpc_id=vpc.id, tags=tags("default-unused"), opts=child)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child)
        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=tags("public"), opts=child)
        aws.ec2.Route(f"{name}-public-internet", route_table_id=public_routes.id, destination_cidr_block="0.0.0.0/0",
                      gateway_id=gateway.id, opts=child)

        self.private_subnet_ids, self.public_subnet_ids = {}, {}
        nat_gateways: dict[str, pulumi.Output[str]] = {}
        private_route_tables = []
        for index, plan in enumerate(plan_subnets(args.vpc_cidr, args.zones)):
            zone = plan.zone
            public = aws.ec2.Subnet(f"{name}-public-{zone}", vpc_id=vpc.id, availability_zone=zone,
                                    cidr_block=plan.public_cidr, tags=tags(f"public-{zone}"), opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", subnet_id=public.id,
                                          route_table_id=public_routes.id, opts=child)
            if args.nat_gateway_per_zone or index == 0:
                address = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags(f"nat-{zone}"), opts=child)
                nat = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=address.id, subnet_id=public.id,
                                         tags=tags(f"nat-{zone}"),
                                         opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]))
                nat_gateways[zone] = nat.id

            private = aws.ec2.Subnet(f"{name}-private-{zone}", vpc_id=vpc.id, availability_zone=zone,
                                     cidr_block=plan.private_cidr, tags=tags(f"private-{zone}"), opts=child)
            # One route table per private subnet even with one NAT: switching to a NAT per zone
            # then changes routes only.
            routes = aws.ec2.RouteTable(f"{name}-private-{zone}", vpc_id=vpc.id, tags=tags(f"private-{zone}"),
                                        opts=child)
            aws.ec2.Route(f"{name}-private-{zone}-nat", route_table_id=routes.id, destination_cidr_block="0.0.0.0/0",
                          nat_gateway_id=nat_gateways.get(zone, nat_gateways[args.zones[0]]), opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", subnet_id=private.id, route_table_id=routes.id,
                                          opts=child)
            private_route_tables.append(routes.id)
            self.private_subnet_ids[zone] = private.id
            self.public_subnet_ids[zone] = public.id

        s3 = aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=vpc.id, service_name=args.s3_service_name,
                                 vpc_endpoint_type="Gateway", route_table_ids=private_route_tables, tags=tags("s3"),
                                 opts=child)
        self.s3_endpoint_id = s3.id
        self.s3_prefix_list_id = s3.prefix_list_id
        self._private_subnets = list(self.private_subnet_ids.values())
        self._vpc_id = vpc.id
        dns = aws.route53.Zone(f"{name}-dns", name=args.domain, vpcs=[{"vpc_id": vpc.id}],
                               comment=f"neo4j-cluster {args.stack}: stable names of the cluster's machines",
                               tags=tags("dns"), opts=child)

        self.vpc_id = vpc.id
        self.dns_zone_id = dns.zone_id
        self.register_outputs({"vpcId": self.vpc_id, "dnsZoneId": self.dns_zone_id,
                               "privateSubnetIds": self.private_subnet_ids, "publicSubnetIds": self.public_subnet_ids})

    def add_interface_endpoints(self, services: Sequence[str], service_prefix: pulumi.Input[str],
                                security_group_id: pulumi.Input[str]) -> None:
        """An interface endpoint per service (components/aws/egress.py), in every zone's private subnet, with private
        DNS: the service's regional name resolves to it inside the VPC, so no client changes. PrivateLink Guide,
        "Access an AWS service using an interface VPC endpoint": "If you enable private DNS for the endpoint, you can
        make requests to the AWS service using its default DNS name for the Region". AWS bills each endpoint per
        zone and hour (neo4j:egress says so)."""
        for service in services:
            aws.ec2.VpcEndpoint(f"{self._component_name}-{service}", vpc_id=self._vpc_id,
                                service_name=pulumi.Output.concat(service_prefix, f".{service}"),
                                vpc_endpoint_type="Interface", private_dns_enabled=True,
                                subnet_ids=self._private_subnets, security_group_ids=[security_group_id],
                                tags={"Name": f"{self._stack}-{service}"},
                                opts=pulumi.ResourceOptions(parent=self))

    def limit_s3_endpoint(self, bucket_arns: Sequence[pulumi.Input[str]], region: str,
                          partition: pulumi.Input[str] = "aws") -> None:
        """Attach `s3_endpoint_policy` (the buckets exist only after the network: a resource of its own)."""
        aws.ec2.VpcEndpointPolicy(f"{self._component_name}-s3", vpc_endpoint_id=self.s3_endpoint_id,
                                  policy=s3_endpoint_policy(bucket_arns, region, partition),
                                  opts=pulumi.ResourceOptions(parent=self))
