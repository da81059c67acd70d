"""A STAND-IN resource provider under the real Pulumi engine: it speaks Pulumi's provider gRPC protocol (the
stubs ship in the `pulumi` Python package) for a package this machine cannot build (pulumi-aws: the
terraform provider and ~100 patches; pulumi-tls: its upstream is not served by the Go module proxy), under the
package name and version the program asks for. It creates nothing anywhere: the inputs become the state, and
the outputs a real provider would compute come from the same table the plan's mocks use
(components/program/recording.py), so mocks and engine answer alike. Lookups (invokes) are the mocks' too.

It replaces a resource exactly when an input changes that the provider documents as forcing replacement
(FORCES_REPLACEMENT); every other change is an update in place. The engine attaches to it through
PULUMI_DEBUG_PROVIDERS=<package>:<port> (pulumi/sdk go/common/resource/plugin/provider_plugin.go,
GetProviderAttachPort), so no plugin binary is looked for or downloaded.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from components.program.recording import RecordingMocks

# Inputs whose change makes the provider replace the resource, per type: the properties the upstream Terraform
# providers pulumi-aws and pulumi-tls bridge mark `ForceNew: true`, for the types and properties this program
# sets (instance type, volume size and type, tags: in place). Sources, per type, in the comments; other types
# update in place for any change, which is a stand-in's simplification.
FORCES_REPLACEMENT: dict[str, frozenset[str]] = {
    # hashicorp/terraform-provider-aws internal/service/ec2/ec2_instance.go (commit 0015dfcd): "ami",
    # "associate_public_ip_address", "availability_zone", "key_name", "private_ip", "subnet_id", "tenancy" have
    # ForceNew: true, "instance_type" not; user_data(_base64) only with user_data_replace_on_change (_replaces).
    "aws:ec2/instance:Instance": frozenset({"ami", "availabilityZone", "subnetId", "associatePublicIpAddress",
                                            "privateIp", "keyName", "tenancy"}),
    # internal/service/ec2/ebs_volume.go: availability_zone, encrypted, kms_key_id, snapshot_id ForceNew; size, type,
    # iops, throughput modified in place.
    "aws:ebs/volume:Volume": frozenset({"availabilityZone", "encrypted", "kmsKeyId", "snapshotId"}),
    # aws_volume_attachment: every argument ForceNew.
    "aws:ec2/volumeAttachment:VolumeAttachment": frozenset({"deviceName", "instanceId", "volumeId"}),
    # tls_private_key, tls_cert_request, tls_locally_signed_cert, tls_self_signed_cert: every argument ForceNew.
    "tls:index/privateKey:PrivateKey": frozenset({"algorithm", "rsaBits", "ecdsaCurve"}),
    "tls:index/certRequest:CertRequest": frozenset({"privateKeyPem", "subject", "dnsNames", "ipAddresses",
                                                    "uris"}),
    "tls:index/locallySignedCert:LocallySignedCert": frozenset({
        "certRequestPem", "caPrivateKeyPem", "caCertPem", "validityPeriodHours", "allowedUses",
        "earlyRenewalHours", "isCaCertificate", "setSubjectKeyId"}),
    "tls:index/selfSignedCert:SelfSignedCert": frozenset({
        "privateKeyPem", "subject", "validityPeriodHours", "allowedUses", "dnsNames", "ipAddresses",
        "isCaCertificate", "earlyRenewalHours", "setSubjectKeyId", "setAuthorityKeyId"}),
}
REPLACE_ON_CHANGE_FLAGS = {"aws:ec2/instance:Instance": ("userDataReplaceOnChange", ("userData", "userDataBase64"))}


def plain_properties(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message) if message is not None else {}


def properties_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(value))
    return message


def old_inputs(request) -> dict[str, Any]:
    """A Diff request's previous inputs (the state's outputs when the engine has none)."""
    return plain_properties(request.old_inputs) if request.HasField("old_inputs") else plain_properties(request.olds)


def name_and_type(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<parent types $ type>::<name>
    parts = urn.split("::")
    return parts[-1], parts[-2].split("$")[-1]


def _replaces(resource_type: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    changed = {key for key in set(olds) | set(news) if olds.get(key) != news.get(key)}
    replaces = changed & FORCES_REPLACEMENT.get(resource_type, frozenset())
    flag = REPLACE_ON_CHANGE_FLAGS.get(resource_type)
    if flag and news.get(flag[0]):
        replaces |= changed & set(flag[1])
    return sorted(replaces)


class ProviderProtocol(provider_pb2_grpc.ResourceProviderServicer):
    """What every stand-in answers alike (a subclass sets `package` and `version`): the handshake, its version, no
    provider configuration to check or diff, secrets and resources accepted, reads that keep the state as it is."""
    package: str
    version: str

    def Handshake(self, request, context):  # noqa: N802 (gRPC method names)
        return provider_pb2.ProviderHandshakeResponse(accept_secrets=True, accept_resources=True,
                                                      accept_outputs=False)

    def GetPluginInfo(self, request, context):  # noqa: N802
        return plugin_pb2.PluginInfo(version=self.version)

    def GetSchema(self, request, context):  # noqa: N802
        return provider_pb2.GetSchemaResponse(schema=json.dumps({"name": self.package, "version": self.version}))

    def CheckConfig(self, request, context):  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request, context):  # noqa: N802
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request, context):  # noqa: N802
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True, acceptResources=True,
                                              acceptOutputs=False)

    def Read(self, request, context):  # noqa: N802
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Cancel(self, request, context):  # noqa: N802
        return empty_pb2.Empty()

    def Attach(self, request, context):  # noqa: N802
        return empty_pb2.Empty()


@dataclass
class StandInProvider(ProviderProtocol):
    """One package (`aws`, `tls`) at one version, answering as a quiet cloud."""
    package: str
    version: str
    mocks: RecordingMocks
    # Called with (operation, urn, the call's gRPC context) before each create, update and delete the engine
    # makes for real (not in a preview): what the tests' cloud does meanwhile (a machine restarting, an error
    # through context.abort).
    watch: Callable[[str, str, grpc.ServicerContext], None] | None = None

    def _watched(self, operation: str, urn: str, context: grpc.ServicerContext) -> None:
        if self.watch is not None:
            self.watch(operation, urn, context)

    def Check(self, request, context):  # noqa: N802
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request, context):  # noqa: N802
        name, resource_type = name_and_type(request.urn)
        olds = old_inputs(request)
        news = plain_properties(request.news)
        changed = sorted(key for key in set(olds) | set(news) if olds.get(key) != news.get(key))
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME, diffs=changed,
                                         replaces=_replaces(resource_type, olds, news))

    def _state(self, urn: str, inputs: dict[str, Any], resource_id: str | None = None) -> tuple[str, dict]:
        name, resource_type = name_and_type(urn)
        new_id, state = self.mocks.new_resource(pulumi_mocks.MockResourceArgs(
            resource_type, name, dict(inputs), resource_id=resource_id, custom=True))
        return resource_id or new_id, state

    def Create(self, request, context):  # noqa: N802
        if not request.preview:
            self._watched("create", request.urn, context)
        resource_id, state = self._state(request.urn, plain_properties(request.properties))
        return provider_pb2.CreateResponse(id="" if request.preview else resource_id,
                                           properties=properties_struct(state))

    def Update(self, request, context):  # noqa: N802
        if not request.preview:
            self._watched("update", request.urn, context)
        _, state = self._state(request.urn, plain_properties(request.news), request.id)
        return provider_pb2.UpdateResponse(properties=properties_struct(state))

    def Delete(self, request, context):  # noqa: N802
        self._watched("delete", request.urn, context)
        return empty_pb2.Empty()

    def Invoke(self, request, context):  # noqa: N802
        answer = self.mocks.call(pulumi_mocks.MockCallArgs(request.tok, plain_properties(request.args), ""))
        result = answer[0] if isinstance(answer, tuple) else answer
        return provider_pb2.InvokeResponse(**{"return": properties_struct(result)})

@dataclass
class RunningProvider:
    provider: ProviderProtocol
    server: grpc.Server
    port: int

    def stop(self) -> None:
        self.server.stop(grace=None)


def serve(package: str, version: str, mocks: RecordingMocks) -> RunningProvider:
    """Serve a stand-in of `package` on a free loopback port (the engine attaches to it)."""
    return serve_provider(StandInProvider(package, version, mocks))


def serve_provider(provider: ProviderProtocol) -> RunningProvider:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024),
                                  ("grpc.max_send_message_length", 400 * 1024 * 1024)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(provider, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return RunningProvider(provider, server, port)


def debug_providers(running: list[RunningProvider]) -> str:
    """PULUMI_DEBUG_PROVIDERS for the engine: package:port,…"""
    return ",".join(f"{r.provider.package}:{r.port}" for r in running)
