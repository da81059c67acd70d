"""The stack outputs contract (components/outputs.py): what both adapters export and the operator commands
read back. The adapters' side is checked on their plans (test_aws_plan.py, test_docker_plan.py)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import fields

import pytest

from components.outputs import ServerOutput, StackOutputs, wire_name
from scripts.neo4j_ops.target import UsageError, stack_outputs
from tests.conftest import FIXTURES
from tests.support.plans import commands_target

SERVER = ServerOutput("core-1", "primary", "eu-west-1a", "core-1.prod.neo4j.internal", "10.40.1.10",
                      "bolt://core-1.prod.neo4j.internal:7687")
OUTPUTS = StackOutputs(
    bolt_uri="bolt://haproxy.prod.neo4j.internal:7687", routing_uri="neo4j://core-1.prod.neo4j.internal:7687",
    servers=(SERVER,), fault_tolerance=0, grafana_url="http://monitoring.prod.neo4j.internal:3000",
    prometheus_url="http://monitoring.prod.neo4j.internal:9090", backup_bucket="cluster-backups",
    secret_arns={"neo4j-cluster/prod/admin-password": "arn:aws:secretsmanager:::x"}, ca_cert_pem=None,
    haproxy_uri="bolt://haproxy.prod.neo4j.internal:7687", haproxy_read_uri="bolt://haproxy.prod.neo4j.internal:7689",
    metrics_urls={"core-1": "http://core-1.prod.neo4j.internal:2004/metrics"}, tls="disabled")


def test_keys_are_the_camel_case_of_the_fields_in_field_order():
    assert [wire_name(f.name) for f in fields(StackOutputs)] == [
        "boltUri", "routingUri", "servers", "faultTolerance", "grafanaUrl", "prometheusUrl", "backupBucket",
        "secretArns", "caCertPem", "haproxyUri", "haproxyReadUri", "metricsUrls", "tls", "offsiteAccountPolicies",
        "fabricProxies"]
    assert list(OUTPUTS.to_json()["servers"][0]) == ["name", "role", "zone", "hostname", "privateIp", "boltUri"]


def test_what_is_exported_reads_back_as_the_same_outputs():
    document = json.loads(json.dumps(OUTPUTS.to_json()))
    assert StackOutputs.from_json(document) == OUTPUTS
    assert document["fabricProxies"] == []  # no 4.4 Fabric proxies: an empty list, never null


def test_fabric_proxies_are_exported_as_servers_are_and_read_back():
    proxy = ServerOutput("fabric-1", "fabric", "eu-west-1b", "fabric-1.prod.neo4j.internal", "10.40.2.20",
                         "bolt://fabric-1.prod.neo4j.internal:7687")
    outputs = dataclasses.replace(OUTPUTS, fabric_proxies=(proxy,))
    document = json.loads(json.dumps(outputs.to_json()))
    assert document["fabricProxies"] == [{"name": "fabric-1", "role": "fabric", "zone": "eu-west-1b",
                                          "hostname": "fabric-1.prod.neo4j.internal", "privateIp": "10.40.2.20",
                                          "boltUri": "bolt://fabric-1.prod.neo4j.internal:7687"}]
    assert StackOutputs.from_json(document) == outputs
    # A stack exported before the key existed reads as none.
    assert StackOutputs.from_json({k: v for k, v in document.items() if k != "fabricProxies"}).fabric_proxies == ()


def test_keys_an_older_stack_did_not_export_read_as_absent():
    document = json.loads((FIXTURES / "enterprise" / "stack-outputs-prod.json").read_text())
    for key in ("haproxyUri", "haproxyReadUri", "metricsUrls", "tls", "grafanaUrl"):
        document.pop(key, None)
    outputs = StackOutputs.from_json(document)
    assert (outputs.haproxy_uri, outputs.haproxy_read_uri, outputs.metrics_urls, outputs.tls) == (None,) * 4
    assert outputs.routing_uri == "neo4j://core-1.prod.neo4j.internal:7687" and len(outputs.servers) == 4


@pytest.mark.parametrize("document", [[], "boltUri", {"servers": {"name": "core-1"}}, {"servers": ["core-1"]},
                                      {"servers": [], "fabricProxies": ["fabric-1"]}])
def test_a_document_that_is_not_stack_outputs_is_refused(document):
    with pytest.raises(ValueError):
        StackOutputs.from_json(document)


def test_the_saved_prod_outputs_use_only_keys_of_the_contract():
    document = json.loads((FIXTURES / "enterprise" / "stack-outputs-prod.json").read_text())
    assert set(document) <= {wire_name(f.name) for f in fields(StackOutputs)}
    assert all(set(server) == {wire_name(f.name) for f in fields(ServerOutput)} for server in document["servers"])


def test_the_commands_take_haproxy_tls_and_metrics_from_the_outputs(tmp_path, monkeypatch):
    target = commands_target(OUTPUTS.to_json(), tmp_path, monkeypatch)
    assert (target.haproxy_uri, target.haproxy_read_uri) == ("bolt://haproxy.prod.neo4j.internal:7687",
                                                             "bolt://haproxy.prod.neo4j.internal:7689")
    assert target.tls_expected == "disabled" and target.metrics_urls == dict(OUTPUTS.metrics_urls)
    assert target.backup_bucket == "cluster-backups" and target.fault_tolerance == 0


def test_no_haproxy_output_means_no_haproxy_check_whatever_bolt_uri_says(tmp_path, monkeypatch):
    # boltUri names none of the servers, but only haproxyUri says where HAProxy is: nothing is guessed.
    document = {**OUTPUTS.to_json(), "haproxyUri": None, "haproxyReadUri": None}
    target = commands_target(document, tmp_path, monkeypatch)
    assert target.haproxy_uri is None and target.haproxy_read_uri is None


def test_outputs_that_are_not_outputs_are_a_usage_error():
    with pytest.raises(UsageError, match="not the stack outputs"):
        stack_outputs(["boltUri"])
