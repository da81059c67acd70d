"""Stack-wide pieces of the AWS adapter: the provider, the machine images and the stack outputs."""
from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import outputs
from components.aws.machine import ubuntu_image
from components.instance_types import INSTANCE_TYPES
from components.ports import PORTS
from components.render import instance_type_of
from components.settings import Settings
from components.topology import ClusterTopology


def aws_provider(settings: Settings) -> aws.Provider:
    # Explicit, so neo4j:region decides (not whatever aws:region or the environment says), and so
    # every resource carries the stack's tags. Tag keys avoid "/": instance tags reach IMDS.
    return aws.Provider("aws", region=settings.region, default_tags={
        "tags": {"Project": "neo4j-cluster", "Stack": settings.stack, "ManagedBy": "pulumi"}})


def instance_types(settings: Settings, topology: ClusterTopology) -> set[str]:
    used = {settings.core_instance_type}
    if topology.secondaries:
        used.add(settings.replica_instance_type)
    if topology.haproxy:
        used.add(settings.haproxy_instance_type)
    if topology.monitoring:
        used.add(settings.monitoring_instance_type)
    used |= {instance_type_of(settings, proxy) for proxy in topology.fabric_proxies}
    return used


def machine_images(settings: Settings, topology: ClusterTopology,
                   provider: aws.Provider) -> dict[str, pulumi.Input[str]]:
    """AMI per architecture in use: neo4j:amiId for all, or one Ubuntu lookup per architecture."""
    arches = sorted({INSTANCE_TYPES[t].arch for t in instance_types(settings, topology)})
    if settings.ami_id:
        return {arch: settings.ami_id for arch in arches}
    return {arch: ubuntu_image(arch, pulumi.InvokeOutputOptions(provider=provider)) for arch in arches}


def stack_outputs(settings: Settings, topology: ClusterTopology, *,
                  private_ips: Mapping[str, pulumi.Input[str]],  # every Neo4j host's: servers and Fabric proxies
                  haproxy_address: pulumi.Input[str] | None, grafana_url: str | None,
                  prometheus_url: str | None, backup_bucket: pulumi.Input[str] | None,
                  secret_arns: Mapping[str, pulumi.Input[str]],
                  ca_cert_pem: pulumi.Input[str] | None,
                  offsite_account_policies: pulumi.Input[dict] | None = None) -> outputs.StackOutputs:
    bolt = PORTS.server.bolt

    def through_haproxy(port: int) -> pulumi.Output[str] | None:
        return None if haproxy_address is None else pulumi.Output.concat("bolt://", haproxy_address, f":{port}")

    # Through HAProxy, bolt:// (it routes server-side); without it, the driver routes itself.
    haproxy_uri = through_haproxy(PORTS.haproxy.bolt_write)
    return outputs.stack_outputs(
        settings, topology, bolt_uri=haproxy_uri if haproxy_uri is not None
        else f"neo4j://{topology.primaries[0].hostname}:{bolt}", server_addresses=private_ips,
        server_bolt_uris={s.name: f"bolt://{s.hostname}:{bolt}" for s in topology.neo4j_hosts},
        haproxy_uri=haproxy_uri, haproxy_read_uri=through_haproxy(PORTS.haproxy.bolt_read),
        grafana_url=grafana_url, prometheus_url=prometheus_url, backup_bucket=backup_bucket,
        secret_arns=secret_arns, ca_cert_pem=ca_cert_pem, offsite_account_policies=offsite_account_policies)
