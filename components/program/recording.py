"""Run the Pulumi program under mocks that record every resource: the engine of `make plan`.

No Pulumi CLI, cloud or Docker engine is needed. Lookups get real-looking answers; secret values
are replaced by "[secret]" in what is recorded.
"""
from __future__ import annotations

import gc
import runpy
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

SECRET = "[secret]"
_SECRET_SIG = rpc._special_sig_key  # "4dabf18193072939515e22adb298388d"


def redact(value: Any) -> Any:
    """Replace Pulumi secret envelopes by "[secret]", recursively."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == rpc._special_secret_sig:
            return SECRET
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like a quiet cloud: ids from names, inputs echoed back as state."""

    def __init__(self, zones: tuple[str, ...] = ("us-east-1a", "us-east-1b", "us-east-1c")):
        self.zones = zones

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        state.setdefault("arn", f"arn:aws:mock:::{args.name}")
        for output, invent in _COMPUTED.get(args.typ, {}).items():
            state.setdefault(output, invent(args.name))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list] | dict:
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": list(self.zones), "zoneIds": [f"zid-{i}" for i, _ in enumerate(self.zones)]}
        if args.token == "aws:ec2/getAmi:getAmi":
            # The image the lookup asks for (components/aws/machine.py ubuntu_image): its filters' architecture, and
            # a name its name pattern matches (a serial for the wildcard), as EC2 would answer.
            filters = {f["name"]: f["values"][0] for f in args.args.get("filters") or []}
            return {"id": "ami-0123456789abcdef0", "architecture": filters.get("architecture", "x86_64"),
                    "name": filters.get("name", "ubuntu/images/mock").replace("*", "20261105"),
                    "ownerId": (args.args.get("owners") or ["099720109477"])[0]}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/plan", "userId": "plan"}
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            # The plan's caller is a user: its own ARN is the issuer (as the data source answers for a non-role).
            return {"arn": args.args.get("arn"), "issuerArn": args.args.get("arn"), "issuerName": "plan"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
        return {}


def _mock_address(prefix: str, name: str) -> str:
    return f"{prefix}.{zlib.crc32(name.encode()) % 254 + 1}"


def _mock_pem(name: str, kind: str = "CERTIFICATE") -> str:
    return f"-----BEGIN {kind}-----\nmock {kind.lower()} of {name}\n-----END {kind}-----\n"


def _secret(value: Any) -> dict[str, Any]:
    """A secret output, as pulumi-tls marks a private key (the engine and the SDK read this envelope)."""
    return {_SECRET_SIG: rpc._special_secret_sig, "value": value}


# Outputs a real provider computes and the program reads (DNS records point at instances' addresses,
# instance profiles name their role). Addresses come from the documentation ranges: never real ones.
_COMPUTED: dict[str, dict[str, Callable[[str], Any]]] = {
    "aws:ec2/instance:Instance": {"privateIp": lambda name: _mock_address("192.0.2", name)},
    "aws:ec2/eip:Eip": {"publicIp": lambda name: _mock_address("203.0.113", name)},
    # The HAProxy pair's NLB: the alias record and the public variant's output read its name.
    "aws:lb/loadBalancer:LoadBalancer": {"dnsName": lambda name: f"{name}-0123456789.elb.mock.example",
                                         "zoneId": lambda name: "ZMOCKELB0123456"},
    "aws:iam/role:Role": {"name": lambda name: name},
    "aws:iam/instanceProfile:InstanceProfile": {"name": lambda name: name},
    "aws:route53/zone:Zone": {"zoneId": lambda name: f"Z{zlib.crc32(name.encode()):010d}"},
    "aws:s3/bucket:Bucket": {"bucket": lambda name: name},
    # A gateway endpoint's prefix list (the egress rules to S3 name it).
    "aws:ec2/vpcEndpoint:VpcEndpoint": {"prefixListId": lambda name: f"pl-{zlib.crc32(name.encode()):08x}"},
    # pulumi-tls computes the key's PEMs (the private one secret) and the request's PEM; the certificate
    # requests and certificates read them. Without them, the real engine saw each certificate's inputs change
    # at every preview (tests/engine).
    "tls:index/privateKey:PrivateKey": {"privateKeyPem": lambda name: _secret(_mock_pem(name, "PRIVATE KEY")),
                                        "publicKeyPem": lambda name: _mock_pem(name, "PUBLIC KEY")},
    "tls:index/certRequest:CertRequest": {"certRequestPem": lambda name: _mock_pem(name, "CERTIFICATE REQUEST")},
    "tls:index/selfSignedCert:SelfSignedCert": {"certPem": lambda name: _mock_pem(name)},
    "tls:index/locallySignedCert:LocallySignedCert": {"certPem": lambda name: _mock_pem(name)},
    # Containers run from the pulled image's id (a tag would make every `pulumi up` replace them).
    "docker:index/remoteImage:RemoteImage": {"imageId": lambda name: f"{name}-id"},
}


@dataclass
class RecordedResource:
    type: str
    name: str
    parent: str
    inputs: dict[str, Any]


@dataclass
class RecordingMonitor(pulumi_mocks.MockMonitor):
    recorded: list[RecordedResource] = field(default_factory=list)

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.recorded = []

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        if request.type != "pulumi:pulumi:Stack":
            inputs = _deserialize(request.object)
            self.recorded.append(RecordedResource(request.type, request.name, _parent_of(request.parent),
                                                  redact(_plain(inputs))))
        return super().RegisterResource(request)


def _deserialize(value: Any) -> Any:
    """rpc.deserialize_property, except that a secret stays where it is. Pulumi's own lifts a secret
    element or field to its whole list or object, which would hide, e.g., a container's plain uploads
    beside its one secret upload."""
    if isinstance(value, struct_pb2.ListValue):
        return [_deserialize(item) for item in value]
    if isinstance(value, struct_pb2.Struct) and _SECRET_SIG not in value:  # secrets, assets, refs: as Pulumi does
        return {key: _deserialize(item) for key, item in value.items()}
    return rpc.deserialize_property(value, keep_internal=True)


def _parent_of(urn: str) -> str:
    """"neo4j-cluster:aws:Neo4jServers::cluster" from a parent URN; "" for the stack."""
    # urn:pulumi:<stack>::<project>::<parent types joined by $>::<name>
    parts = urn.split("::", 3) if urn else []
    if len(parts) < 4:
        return ""
    resource_type, name = parts[2].split("$")[-1], parts[3]
    return "" if resource_type == "pulumi:pulumi:Stack" else f"{resource_type}::{name}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass
class ProgramRun:
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    namespace: dict[str, Any]  # the program's globals, e.g. its `artifacts`


def run_program(program: Path, *, project: str, stack: str, config: dict[str, str],
                secret_keys: list[str], mocks: pulumi.runtime.Mocks | None = None) -> ProgramRun:
    """Run a Pulumi program file under recording mocks and return what it registered and exported."""
    monitor = RecordingMonitor(mocks or RecordingMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config, secret_keys)
    # Every resource leaves dozens of Outputs and futures alive until the end; the cyclic collector
    # would rescan all of them again and again, making a plan grow with the square of its resources
    # (bench/plan_scaling.py). Reference counting still frees garbage; the rest goes with the run.
    gc.disable()
    try:
        namespace = runpy.run_path(str(program), run_name="__main__")
        _sync_await(wait_for_rpcs())
        root = pulumi.runtime.get_root_resource()
        outputs = {name: _resolve(value) for name, value in getattr(root, "outputs", {}).items()}
        _sync_await(wait_for_rpcs())
    finally:
        gc.enable()
    return ProgramRun(monitor.recorded, outputs, namespace)


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    if _sync_await(output.is_secret()):
        return SECRET
    return _plain(_sync_await(output.future()))
