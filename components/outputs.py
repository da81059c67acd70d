"""The stack outputs every platform returns, in one shape: scripts/check.py and scripts/backup.py
read them the same way from an AWS stack and from the local Docker stack."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.ports import PORTS
from components.topology import ClusterTopology


def stack_outputs(topology: ClusterTopology, *, bolt_uri: pulumi.Input[str],
                  server_addresses: Mapping[str, pulumi.Input[str]], server_bolt_uris: Mapping[str, str],
                  grafana_url: pulumi.Input[str] | None, prometheus_url: pulumi.Input[str] | None,
                  backup_bucket: pulumi.Input[str] | None, secret_arns: Mapping[str, pulumi.Input[str]],
                  ca_cert_pem: pulumi.Input[str] | None) -> dict[str, Any]:
    first = topology.primaries[0]
    return {
        "boltUri": bolt_uri,
        "routingUri": f"neo4j://{first.hostname}:{PORTS.server.bolt}",
        "servers": [{"name": s.name, "role": s.role, "zone": s.zone, "hostname": s.hostname,
                     "privateIp": server_addresses[s.name], "boltUri": server_bolt_uris[s.name]}
                    for s in topology.servers],
        "faultTolerance": topology.fault_tolerance,
        "grafanaUrl": grafana_url,
        "prometheusUrl": prometheus_url,
        "backupBucket": backup_bucket,
        "secretArns": dict(secret_arns),
        "caCertPem": ca_cert_pem,
    }
