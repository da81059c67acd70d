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
from urllib.parse import urlsplit

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


# Neo4j's own Debian repository, whose site serves its key too (components/settings.py NEO4J_APT_REPOSITORY).
NEO4J_APT_REPOSITORY = "https://debian.neo4j.com"


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (HTTP if parts.scheme == "http" else HTTPS)


def _labelled(host: str, port: int) -> str:
    return host if port in (HTTP, HTTPS) else f"{host} port {port}"


def package_sources(apt_repository_url: str = NEO4J_APT_REPOSITORY,
                    apt_key_url: str = "") -> tuple[PackageSource, ...]:
    """What the boot installs from the internet (templates/cloud-init/*.yaml.j2, templates/neo4j/setup-neo4j.sh.j2):
    the exception an allow-list by address cannot narrow further (a security group admits addresses, not names).
    Neo4j comes from neo4j:aptRepositoryUrl (debian.neo4j.com or a mirror, whose host and port the rules name and
    open) and its key from neo4j:aptSigningKey's URL when that is on another host or port ("": none fetched)."""
    host, port = _host_and_port(apt_repository_url)
    neo4j = [(port, f"{host} (Neo4j and its key)" if not apt_key_url or _host_and_port(apt_key_url) == (host, port)
              else f"{host} (Neo4j)", _labelled(host, port))]
    if apt_key_url and _host_and_port(apt_key_url) != (host, port):
        key_host, key_port = _host_and_port(apt_key_url)
        neo4j.append((key_port, f"{key_host} (the Neo4j repository key)", _labelled(key_host, key_port)))
    sources = [PackageSource(("neo4j", "fabric", "haproxy", "monitoring"), HTTP,
                             "the Ubuntu archive (cloud-init packages, apt's signed indexes over plain HTTP)",
                             "Ubuntu archive")]
    pypi_joined = False
    for source_port, what, label in neo4j:
        if source_port == HTTPS and not pypi_joined:  # the servers' 443 rule: Neo4j's source and PyPI together
            sources.append(PackageSource(("neo4j",), HTTPS, f"{what} and PyPI (the backup tooling's boto3 and "
                                                            f"neo4j driver)", f"{label}, PyPI"))
            pypi_joined = True
        else:
            sources.append(PackageSource(("neo4j",), source_port, what, label))
    if not pypi_joined:
        sources.append(PackageSource(("neo4j",), HTTPS, "PyPI (the backup tooling's boto3 and neo4j driver)",
                                     "PyPI"))
    # 4.4's Fabric proxies boot as the servers do (setup-neo4j.sh) but take no backup tooling: Neo4j alone.
    sources += [PackageSource(("fabric",), source_port, what, label) for source_port, what, label in neo4j]
    sources.append(PackageSource(("monitoring",), HTTPS, "apt.grafana.com (Grafana and its key)", "apt.grafana.com"))
    # Ubuntu 24.04's archive has no awscli: every machine takes AWS's snap there
    # (templates/cloud-init/_aws_cli.yaml.j2).
    sources.append(PackageSource(("neo4j", "fabric", "haproxy", "monitoring"), HTTPS,
                                 "the Snap Store (the AWS CLI on Ubuntu 24.04, whose archive has no awscli)",
                                 "Snap Store"))
    return tuple(sources)


# The sources of a stack that names no mirror (neo4j:aptRepositoryUrl's default).
PACKAGE_SOURCES = package_sources()


@dataclass(frozen=True)
class EgressRule:
    group: str
    port: int
    to: str  # "internet" (0.0.0.0/0), "endpoints" (the interface endpoints' group), "s3" (the S3 prefix list)
    why: str


def plan_egress(mode: str, groups: tuple[str, ...],
                sources: tuple[PackageSource, ...] = PACKAGE_SOURCES) -> tuple[EgressRule, ...]:
    """The outbound rules beyond the stack's own flows (security.py), for every group but the load balancer's;
    `sources`: package_sources of the stack's neo4j:aptRepositoryUrl and neo4j:aptSigningKey."""
    if mode not in EGRESS_MODES:
        raise ValueError(f"egress mode {mode!r}; allowed: {', '.join(EGRESS_MODES)}")
    machines = tuple(group for group in groups if group != "entry")
    if mode == OPEN:
        # A mirror on another port (neo4j:aptRepositoryUrl https://host:8443/...) is a package source beyond 80 and 443.
        return tuple(EgressRule(group, port, "internet", "packages and AWS APIs")
                     for group in machines for port in (HTTP, HTTPS)) + tuple(
            EgressRule(group, port, "internet", "packages: " + "; ".join(
                source.label for source in sources if group in source.groups and source.port == port))
            for group in machines
            for port in sorted({s.port for s in sources if group in s.groups} - {HTTP, HTTPS}))
    rules = []
    for group in machines:
        rules.append(EgressRule(group, HTTPS, "endpoints", "AWS APIs through the interface endpoints of the VPC"))
        rules.append(EgressRule(group, HTTPS, "s3", "S3 through the gateway endpoint"))
        for port in sorted({HTTP, HTTPS} | {s.port for s in sources if group in s.groups}):
            labels = [source.label for source in sources if group in source.groups and source.port == port]
            if labels:
                rules.append(EgressRule(group, port, "internet", "packages: " + "; ".join(labels)))
    return tuple(rules)


def interface_services(mode: str) -> tuple[InterfaceService, ...]:
    return INTERFACE_SERVICES if mode == ENDPOINTS else ()
