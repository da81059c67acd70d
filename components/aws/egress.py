"""What the machines may reach outside the VPC (neo4j:egress), planned as data: the interface VPC endpoints of the
AWS APIs they call, and the outbound rules of each security group.

`endpoints` (the default): every AWS API a machine calls goes to an interface endpoint of the VPC, each with a
private DNS name, so the regional name the AWS CLI, boto3, the SSM agent and Neo4j's AWS SDK already use
(`secretsmanager.<region>.amazonaws.com`, ...) resolves to the endpoint's addresses in the VPC. PrivateLink Guide,
"Access an AWS service using an interface VPC endpoint": "If you enable private DNS for the endpoint, you can make
requests to the AWS service using its default DNS name for the Region". S3 goes through the gateway endpoint
(network.py), reached by its prefix list: VPC User Guide, "Gateway endpoints": "you can reference the prefix list ID
of the service in the outbound rules of your security group". The endpoints' group admits 443 from the stack's
groups only. What is left on the internet is the boot's package installs (PACKAGE_SOURCES): the Ubuntu archive over
HTTP for every machine, and HTTPS only for the groups whose boot installs from an HTTPS-only source.

`open`: every group reaches 0.0.0.0/0 on 80 and 443, the AWS APIs through the NAT gateway, and no endpoint is made
(no hourly endpoint cost). A stack says so explicitly (dev does).

Which APIs: tests/unit/test_aws_egress.py reads every rendered file of the machines and the tooling archive and
fails on a call to a service no endpoint covers, so a new call cannot ship without its endpoint.
"""
from __future__ import annotations

from dataclasses import dataclass

ENDPOINTS = "endpoints"
OPEN = "open"
EGRESS_MODES = (ENDPOINTS, OPEN)
HTTP, HTTPS = 80, 443


@dataclass(frozen=True)
class InterfaceService:
    name: str  # the service's endpoint name: com.amazonaws.<region>.<name>
    callers: str  # who on the machines calls it


INTERFACE_SERVICES = (
    InterfaceService("secretsmanager", "the boot scripts, certificate renewal, the backup job, HAProxy's CA and "
                                       "Grafana read their secrets (aws secretsmanager get-secret-value)"),
    # Systems Manager User Guide, "Improve the security of EC2 instances by using VPC endpoints for Systems Manager":
    # com.amazonaws.region.ssm, com.amazonaws.region.ssmmessages ("required only if you're connecting to your
    # instances through a secure data channel using Session Manager") and com.amazonaws.region.ec2messages.
    InterfaceService("ssm", "the SSM agent (Session Manager, the only way onto a machine), and restore.py "
                            "--cluster's commands to the servers (SsmShell)"),
    InterfaceService("ssmmessages", "Session Manager's data channel"),
    InterfaceService("ec2messages", "the SSM agent's command channel"),
    # The session document streams every session to CloudWatch Logs (sessions.py): the agent writes it.
    InterfaceService("logs", "the SSM agent streams each session's log to the stack's log group"),
    InterfaceService("ec2", "restore.py --cluster on the backup server finds the servers' instances (SsmShell)"),
)
# Not here, on purpose: KMS (the machines never call it: S3 and Secrets Manager use the stack's keys on their behalf,
# and keys.py allows a key's use only through those services, kms:ViaService) and STS (instance role credentials
# come from the instance metadata service, not from STS). A call to either would fail the derivation test first.

# The AWS CLI's and boto3's service names for the endpoint that serves them.
CLIENT_SERVICE = {"s3api": "s3", "s3": "s3", "secretsmanager": "secretsmanager", "ssm": "ssm", "ec2": "ec2",
                  "logs": "logs", "ssmmessages": "ssmmessages", "ec2messages": "ec2messages"}
GATEWAY_SERVICES = ("s3",)


@dataclass(frozen=True)
class PackageSource:
    groups: tuple[str, ...]  # the security groups whose boot installs from it
    port: int
    what: str
    label: str  # in the rule's description (AWS allows no apostrophe there)


# What the boot installs from the internet (templates/cloud-init/*.yaml.j2, templates/neo4j/setup-neo4j.sh.j2): the
# exception an allow-list by address cannot narrow further (a security group admits addresses, not names).
PACKAGE_SOURCES = (
    PackageSource(("neo4j", "fabric", "haproxy", "monitoring"), HTTP,
                  "the Ubuntu archive (cloud-init packages, apt's signed indexes over plain HTTP)", "Ubuntu archive"),
    PackageSource(("neo4j",), HTTPS, "debian.neo4j.com (Neo4j and its key) and PyPI (the backup tooling's boto3 and "
                                     "neo4j driver)", "debian.neo4j.com, PyPI"),
    # 4.4's Fabric proxies boot as the servers do (setup-neo4j.sh) but take no backup tooling: Neo4j alone.
    PackageSource(("fabric",), HTTPS, "debian.neo4j.com (Neo4j and its key)", "debian.neo4j.com"),
    PackageSource(("monitoring",), HTTPS, "apt.grafana.com (Grafana and its key)", "apt.grafana.com"),
)


@dataclass(frozen=True)
class EgressRule:
    group: str
    port: int
    to: str  # "internet" (0.0.0.0/0), "endpoints" (the interface endpoints' group), "s3" (the S3 prefix list)
    why: str


def plan_egress(mode: str, groups: tuple[str, ...]) -> tuple[EgressRule, ...]:
    """The outbound rules beyond the stack's own flows (security.py), for every group but the load balancer's."""
    if mode not in EGRESS_MODES:
        raise ValueError(f"egress mode {mode!r}; allowed: {', '.join(EGRESS_MODES)}")
    machines = tuple(group for group in groups if group != "entry")
    if mode == OPEN:
        return tuple(EgressRule(group, port, "internet", "packages and AWS APIs")
                     for group in machines for port in (HTTP, HTTPS))
    rules = []
    for group in machines:
        rules.append(EgressRule(group, HTTPS, "endpoints", "AWS APIs through the interface endpoints of the VPC"))
        rules.append(EgressRule(group, HTTPS, "s3", "S3 through the gateway endpoint"))
        for port in (HTTP, HTTPS):
            sources = [source.label for source in PACKAGE_SOURCES if group in source.groups and source.port == port]
            if sources:
                rules.append(EgressRule(group, port, "internet", "packages: " + "; ".join(sources)))
    return tuple(rules)


def interface_services(mode: str) -> tuple[InterfaceService, ...]:
    return INTERFACE_SERVICES if mode == ENDPOINTS else ()
