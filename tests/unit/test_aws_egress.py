"""neo4j:egress (issue 26, item 5): what the machines may reach outside the VPC.

The AWS APIs the machines call are read from what ships to them (every rendered file of every machine of the
repo's stacks, and the backup tooling archive's Python), so a new call to a service without an endpoint fails here.
With `endpoints` (prod) each such service has an interface endpoint with private DNS in every zone, its group admits
HTTPS from the stack's groups only, S3 goes through the gateway endpoint's prefix list, and only the boot's package
sources remain on the internet; `open` (dev says so) keeps HTTP(S) anywhere and makes no endpoint.

AWS PrivateLink Guide, "Access an AWS service using an interface VPC endpoint": "If you enable private DNS for the
endpoint, you can make requests to the AWS service using its default DNS name for the Region". VPC User Guide,
"Gateway endpoints": "you can reference the prefix list ID of the service in the outbound rules of your security
group". Systems Manager User Guide, "Improve the security of EC2 instances by using VPC endpoints for Systems
Manager": com.amazonaws.region.ssm, com.amazonaws.region.ssmmessages, com.amazonaws.region.ec2messages.
"""
from __future__ import annotations

import re
import zlib

import pytest

from components.aws.egress import (
    CLIENT_SERVICE,
    ENDPOINTS,
    GATEWAY_SERVICES,
    INTERFACE_SERVICES,
    OPEN,
    PACKAGE_SOURCES,
    plan_egress,
)
from components.aws.user_data import aws_artifacts, backup_tooling_files
from components.settings import ConfigError
from components.tooling import tooling_files
from components.topology import plan_topology
from tests.conftest import make_settings
from tests.support.plans import AWS_STACKS, plan_stack_file

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
# `aws <service> <operation>` in a shell script (not in a comment); boto3.client("<service>" ...) in Python.
CLI_CALL = re.compile(r"(?m)^[^#\n]*?\baws\s+([a-z0-9-]+)\s+[a-z][a-z0-9-]*")
BOTO3_CLIENT = re.compile(r"""boto3\.client\(\s*["']([a-z0-9-]+)["']""")
# Prometheus's EC2 service discovery in prometheus.yml (the monitoring node) calls the EC2 API.
EC2_SERVICE_DISCOVERY = re.compile(r"(?m)^\s*(ec2)_sd_configs:")
# The SSM agent's own calls (no script of ours makes them): the endpoints its documentation lists, and CloudWatch
# Logs for the session log the stack's session document streams (components/aws/sessions.py).
AGENT_SERVICES = {"ssm", "ssmmessages", "ec2messages", "logs"}


def services_called(texts: list[str]) -> set[str]:
    found = set()
    for text in texts:
        for client in CLI_CALL.findall(text) + BOTO3_CLIENT.findall(text) + EC2_SERVICE_DISCOVERY.findall(text):
            assert client in CLIENT_SERVICE, f"an AWS call to {client!r}: give it an endpoint (aws/egress.py)"
            found.add(CLIENT_SERVICE[client])
    return found


def machine_texts(settings) -> list[str]:
    topology = plan_topology(settings)
    artifacts = aws_artifacts(settings, topology)
    texts = [text for files in artifacts.values() for text in files.values()]
    texts += list(backup_tooling_files(artifacts, topology).values())
    return texts + [path.read_text() for path in tooling_files()]


FABRIC_44 = dict(version="4.4.46", databases=[{"name": "books"}], fabricProxyCount=2,
                 composites=[{"name": "library", "aliases": [{"name": "books", "database": "books"}]}])


@pytest.mark.parametrize("overrides", [{}, dict(version="4.4.46"), dict(version="2025.10.1"),
                                       dict(edition="community", coreCount=1, replicaCount=0), FABRIC_44])
def test_every_aws_api_the_machines_call_has_an_endpoint(overrides):
    called = services_called(machine_texts(make_settings(**overrides))) | AGENT_SERVICES
    covered = {service.name for service in INTERFACE_SERVICES} | set(GATEWAY_SERVICES)
    assert called <= covered, f"no endpoint for {sorted(called - covered)}"
    # Each endpoint is for something that is called: none costs an hourly price for nothing.
    assert {service.name for service in INTERFACE_SERVICES} <= called


def test_the_derivation_sees_a_new_call():
    # The reader is what the rule rests on: a call of each kind in a script is found, a comment is not.
    assert services_called(["aws secretsmanager get-secret-value --secret-id x", "# aws kms decrypt",
                            'client = boto3.client("ec2", region_name=r)']) == {"secretsmanager", "ec2"}
    assert services_called(["scrape_configs:\n  - job_name: neo4j\n    ec2_sd_configs:\n      - region: x"]) == {"ec2"}
    with pytest.raises(AssertionError, match="'kms'"):
        services_called(["  key=$(aws kms decrypt --ciphertext-blob x)"])


def test_every_cli_call_in_the_machines_scripts_names_its_region():
    # The CLI then asks the regional name (service.<region>.amazonaws.com), which the endpoint's private DNS answers.
    # (The tooling's Python passes region_name to boto3; cluster_plan.py adds --region to the commands it sends.)
    settings = make_settings()
    topology = plan_topology(settings)
    artifacts = aws_artifacts(settings, topology)
    texts = [text for files in artifacts.values() for text in files.values()]
    texts += list(backup_tooling_files(artifacts, topology).values())
    calls = [line for text in texts for line in text.splitlines() if CLI_CALL.match(line)]
    assert len(calls) >= 5
    options = [line for text in texts for line in text.splitlines() if line.startswith("S3_OPTIONS=(")]
    assert options and all('--region "$REGION"' in line for line in options)
    for line in calls:
        assert "--region" in line or "${S3_OPTIONS[@]}" in line, line


def test_the_mode_is_a_key_with_two_values_refused_otherwise_by_name():
    assert make_settings().egress == ENDPOINTS and make_settings(egress=OPEN).egress == OPEN
    with pytest.raises(ConfigError) as refused:
        make_settings(egress="closed")
    assert refused.value.problems == ["neo4j:egress: got 'closed'; allowed: one of endpoints, open"]


def test_open_is_http_s_anywhere_and_endpoints_keeps_only_the_package_sources_on_the_internet():
    groups = ("neo4j", "fabric", "haproxy", "entry", "monitoring")  # fabric: 4.4's Fabric proxies
    machines = ("neo4j", "fabric", "haproxy", "monitoring")
    assert {(r.group, r.port, r.to) for r in plan_egress(OPEN, groups)} == {
        (g, p, "internet") for g in machines for p in (80, 443)}
    rules = plan_egress(ENDPOINTS, groups)
    internet = {(r.group, r.port) for r in rules if r.to == "internet"}
    assert internet == {(g, s.port) for s in PACKAGE_SOURCES for g in s.groups}
    # The HAProxy pair installs from the Ubuntu archive and, on Ubuntu 24.04, the AWS CLI's snap: nothing else on 443.
    assert [r.why for r in rules if (r.group, r.port, r.to) == ("haproxy", 443, "internet")] == [
        "packages: Snap Store"]
    assert {(r.group, r.to) for r in rules if r.to != "internet"} == {
        (g, t) for g in machines for t in ("endpoints", "s3")}
    assert all(r.group != "entry" for r in rules)
    # AWS's rule description: "Allowed characters are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=;{}!$*".
    assert all(re.fullmatch(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}", r.why) for r in rules)


# --- the plans of the repo's stacks ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=AWS_STACKS)
def plan(request, tmp_path_factory):
    return plan_stack_file(request.param, tmp_path_factory)


def test_the_stack_files_choose_endpoints_for_prod_and_say_open_for_dev(plan):
    assert plan.settings.egress == {"prod": ENDPOINTS, "dev": OPEN}.get(plan.stack, ENDPOINTS)


def test_each_service_has_a_private_dns_endpoint_in_every_zone_behind_a_group_open_to_the_stack_only(plan):
    endpoints = [e for e in plan.of_type(ENDPOINT).values() if e["vpcEndpointType"] == "Interface"]
    region = plan.settings.region
    if plan.settings.egress == OPEN:
        assert endpoints == []
        return
    assert sorted(e["serviceName"] for e in endpoints) == sorted(
        f"com.amazonaws.{region}.{service.name}" for service in INTERFACE_SERVICES)
    private_subnets = {f"{name}-id" for name in plan.of_type("aws:ec2/subnet:Subnet") if "-private-" in name}
    assert len(private_subnets) == len(plan.settings.availability_zones)
    groups = plan.group_ids
    for endpoint in endpoints:
        assert endpoint["privateDnsEnabled"] is True
        assert set(endpoint["subnetIds"]) == private_subnets
        assert [groups[g] for g in endpoint["securityGroupIds"]] == ["endpoints"]
    admitted = [r for r in plan.rules(INGRESS) if r["group"] == "endpoints"]
    machines = {"neo4j", "haproxy", "monitoring"} & set(groups.values())
    assert {(r["port"], r["peer"]) for r in admitted} == {(443, g) for g in machines}
    assert [r for r in plan.rules(EGRESS) if r["group"] == "endpoints"] == []


def test_egress_rules_of_each_mode(plan):
    groups = plan.group_ids
    raw = list(plan.of_type(EGRESS).values())
    to_internet = {(groups[r["securityGroupId"]], int(r["fromPort"])) for r in raw if r.get("cidrIpv4") == "0.0.0.0/0"}
    machines = {"neo4j", "haproxy", "monitoring"} & set(groups.values())
    if plan.settings.egress == OPEN:
        assert to_internet == {(g, p) for g in machines for p in (80, 443)}
        assert not [r for r in raw if r.get("prefixListId")]
        return
    assert to_internet == {(g, s.port) for s in PACKAGE_SOURCES for g in s.groups if g in machines}
    (s3,) = [name for name, e in plan.of_type(ENDPOINT).items() if e["vpcEndpointType"] == "Gateway"]
    prefix = {(groups[r["securityGroupId"]], int(r["fromPort"])) for r in raw if r.get("prefixListId")}
    assert prefix == {(g, 443) for g in machines}
    # The gateway endpoint's own prefix list (the plan's mocks invent it from the endpoint's name).
    assert {r["prefixListId"] for r in raw if r.get("prefixListId")} == {f"pl-{zlib.crc32(s3.encode()):08x}"}


def test_every_group_and_rule_description_is_one_aws_accepts(plan):
    # EC2 API reference, IpRange/UserIdGroupPair/PrefixListId Description: "Up to 255 characters in length. Allowed
    # characters are a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=;{}!$*" (IP ranges and group descriptions add &).
    # An apostrophe ("HAProxy's") made the create call fail on real AWS; the plan's mocks accept anything.
    allowed = re.compile(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}")
    for kind in (INGRESS, EGRESS, GROUP):
        for name, resource in plan.of_type(kind).items():
            assert allowed.fullmatch(resource["description"]), (name, resource["description"])
