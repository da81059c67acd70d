"""A STAND-IN for pulumi-docker's provider under the real Pulumi engine: it speaks Pulumi's provider gRPC protocol
(as standin_provider.py does for aws and tls) under the `docker` package name and the version our pulumi-docker SDK
asks for, and does what the resources say, for real, on a dockerd of the tests' own (tests/support/rehearsal/
dockerd.py), through the docker CLI. pulumi-docker itself cannot be built here: its upstream, kreuzwerker's
terraform-provider-docker, is not served by the Go module proxy (issue 22).

What it does (the types and inputs components/docker/containers.py uses):
- RemoteImage: "pulls" nothing (no registry is reachable): the image must already be in the daemon, built locally,
  named by its own local-build name or labelled as the build of the reference the stack names (stack_images.py);
  its id is the output imageId, as the real provider's. keepLocally: destroy leaves it.
- Volume: `docker volume create` with its labels; destroy removes it.
- Network: `docker network create` (driver, labels); destroy removes it. On a daemon in a network namespace of its
  own (private_dockerd(own_network=True)) its bridge lives there, not in the machine's namespace.
- Container: `docker create` (name, image, hostname, restart, envs, labels, volumes, memory and swap, stop timeout,
  user, health check, network mode, the first of networksAdvanced with its aliases, ports published on their ip),
  then the uploads as one tar stream into the created container (owner, group and mode of each file), then
  `docker start`, as the real provider (uploads between create and start). Destroy stops it within
  destroyGraceSeconds and removes it.
Any other input or type (links, a second network of one container, ipam configs, image builds, services, ...) is
refused by name at Check (HANDLED), never silently dropped.

Diff: a change of any input the upstream marks `ForceNew` replaces the resource (FORCES_REPLACEMENT, with where the
lists come from); the container's few updatable inputs go through `docker update`.
"""
from __future__ import annotations

import base64
import io
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from tests.support.engine.local_images import LABEL_BUILD_OF
from tests.support.engine.local_images import REPOSITORY as LOCAL_BUILDS
from tests.support.engine.standin_provider import (
    ProviderProtocol,
    RunningProvider,
    name_and_type,
    old_inputs,
    plain_properties,
    properties_struct,
    serve_provider,
)
from tests.support.rehearsal.dockerd import PrivateDockerd

SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # pulumi/sdk/python/lib/pulumi/runtime/rpc.py _special_sig_key
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # rpc.py UNKNOWN: an output a preview cannot know

IMAGE = "docker:index/remoteImage:RemoteImage"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
CONTAINER = "docker:index/container:Container"

# Where the lists come from: pulumi-docker builds kreuzwerker/terraform-provider-docker (a git submodule, `upstream/`;
# tag v5.1.0 pins upstream v4.5.0, commit 5074970c; the 5.2.0 SDK's upload owner/group arrived in upstream v4.6.0,
# release commit 1e48613). internal/provider/resource_docker_container.go (v4.5.0): every container input is
# `ForceNew` but those below; resourceDockerContainerUpdate (resource_docker_container_funcs.go l.1016-1019) applies
# "restart", "max_retry_count", "cpu_shares", "memory", "memory_reservation", "cpu_set", "memory_swap" and the
# device_* limits with one ContainerUpdate, and must_run false->true starts the container; the rest of them only
# change the state. healthcheck: in place in v4.5.0, replaced since v4.6.0 (#989), as here.
CONTAINER_UPDATABLE = frozenset({
    "restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap",
    "deviceReadBps", "deviceReadIops", "deviceWriteBps", "deviceWriteIops", "mustRun",
    # state only:
    "rm", "start", "wait", "waitTimeout", "attach", "logs", "removeVolumes", "destroyGraceSeconds", "tmpfs", "init",
    "cpuPeriod", "cpuQuota", "containerReadRefreshTimeoutMilliseconds"})
# resource_docker_volume.go: name, labels, driver, driver_opts ForceNew (its update handles Swarm cluster volumes
# only). resource_docker_image.go (RemoteImage): name, pull_triggers, triggers, platform ForceNew; keep_locally and
# force_remove matter only on delete.
FORCES_REPLACEMENT: dict[str, frozenset[str]] = {
    # resource_docker_network.go has no update function: every input replaces the network.
    NETWORK: frozenset({"name", "labels", "driver", "options", "internal", "attachable", "ingress", "ipv6",
                        "ipamDriver", "ipamOptions", "ipamConfigs"}),
    VOLUME: frozenset({"name", "driver", "driverOpts", "labels"}),
    IMAGE: frozenset({"name", "pullTriggers", "triggers", "platform"}),
}
# pulumi-docker's provider/resources.go (l.112-126) sets DeleteBeforeReplace for the container alone: a replaced
# container goes before its successor is made (its name is fixed), a volume's successor comes first.
DELETE_BEFORE_REPLACE = frozenset({CONTAINER})
# The inputs each type's Create acts on (container_create_args, uploads_tar, _create); any other input is refused by
# name at Check, never silently dropped. Container: one network of networksAdvanced, and no networkMode with it.
HANDLED = {
    CONTAINER: frozenset({"name", "image", "hostname", "restart", "envs", "labels", "volumes", "memory", "memorySwap",
                          "stopTimeout", "user", "networkMode", "networksAdvanced", "ports", "healthcheck",
                          "entrypoints", "command", "uploads", "ulimits", "destroyGraceSeconds"}),
    VOLUME: frozenset({"name", "labels"}),
    NETWORK: frozenset({"name", "driver", "labels"}),
    IMAGE: frozenset({"name", "keepLocally"}),
}


class DockerStandInError(Exception):
    """What the stand-in cannot do, said to the engine as the provider's error."""


def reveal(value: Any) -> Any:
    """The plain value of a property: secrets unwrapped (the engine sends them to providers that accept secrets)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIGNATURE) == "1b47061264138c4ac30d75fd1eb44270":
            return reveal(value.get("value"))
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [reveal(item) for item in value]
    return value


def _type_of(urn: str) -> str:
    return name_and_type(urn)[1]


def replaces(resource_type: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    changed = {key for key in set(olds) | set(news) if olds.get(key) != news.get(key)}
    if resource_type == CONTAINER:
        return sorted(changed - CONTAINER_UPDATABLE)
    return sorted(changed & FORCES_REPLACEMENT.get(resource_type, frozenset()))


def _megabytes(value: Any) -> str:
    return f"{int(value)}m"


def container_create_args(inputs: Mapping[str, Any]) -> list[str]:
    """`docker create` arguments for a Container's inputs (camelCase, as the engine sends them)."""
    args = ["--name", inputs["name"]]
    if inputs.get("hostname"):
        args += ["--hostname", inputs["hostname"]]
    if inputs.get("restart"):
        args += ["--restart", inputs["restart"]]
    for env in inputs.get("envs") or ():
        args += ["--env", env]
    for label in inputs.get("labels") or ():
        args += ["--label", f"{label['label']}={label['value']}"]
    for volume in inputs.get("volumes") or ():
        mode = ":ro" if volume.get("readOnly") else ""
        args += ["--volume", f"{volume['volumeName']}:{volume['containerPath']}{mode}"]
    if inputs.get("memory") is not None:
        args += ["--memory", _megabytes(inputs["memory"])]
    if inputs.get("memorySwap") is not None:
        args += ["--memory-swap", _megabytes(inputs["memorySwap"])]
    if inputs.get("stopTimeout") is not None:
        args += ["--stop-timeout", str(int(inputs["stopTimeout"]))]
    if inputs.get("user"):
        args += ["--user", inputs["user"]]
    for limit in inputs.get("ulimits") or ():
        args += ["--ulimit", f"{limit['name']}={int(limit['soft'])}:{int(limit['hard'])}"]
    networks = inputs.get("networksAdvanced") or ()
    if inputs.get("networkMode") and networks:
        raise DockerStandInError(f"networkMode {inputs['networkMode']} with networksAdvanced: docker refuses the "
                                 f"pair (conflicting options)")
    if inputs.get("networkMode"):
        args += ["--network", inputs["networkMode"]]
    if len(networks) > 1:
        raise DockerStandInError("networksAdvanced: the stand-in joins a container to one network")
    for network in networks:
        args += ["--network", network["name"]]
        for alias in network.get("aliases") or ():
            args += ["--network-alias", alias]
    for port in inputs.get("ports") or ():
        # the upstream's defaults: ip 0.0.0.0, protocol tcp (resource_docker_container.go, ports)
        args += ["--publish", f"{port.get('ip') or '0.0.0.0'}:{int(port['external'])}:{int(port['internal'])}/"
                              f"{port.get('protocol') or 'tcp'}"]
    health = inputs.get("healthcheck")
    if health:
        kind, *command = health["tests"]
        if kind != "CMD-SHELL" or len(command) != 1:
            raise DockerStandInError(f"healthcheck tests {health['tests']!r}: the stand-in takes ['CMD-SHELL', cmd]")
        args += ["--health-cmd", command[0]]
        for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                          ("startPeriod", "--health-start-period")):
            if health.get(key):
                args += [flag, health[key]]
        if health.get("retries") is not None:
            args += ["--health-retries", str(int(health["retries"]))]
    if inputs.get("entrypoints"):
        args += ["--entrypoint", inputs["entrypoints"][0]]
    args.append(inputs["image"])
    args += list(inputs.get("entrypoints") or ())[1:] + list(inputs.get("command") or ())
    return args


def uploads_tar(uploads: list[Mapping[str, Any]]) -> bytes:
    """One tar stream of the uploads (extracted at /): each file with its owner, group and mode, as the upstream
    writes them (resource_docker_container_funcs.go l.505-582: `permissions`, else 0744 when executable, else 0644;
    owner and group since v4.6.0, root without them)."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for upload in uploads:
            if upload.get("source"):
                raise DockerStandInError(f"upload {upload['file']}: source files are not taken by the stand-in")
            data = (base64.b64decode(upload["contentBase64"]) if upload.get("contentBase64")
                    else str(upload.get("content") or "").encode())
            member = tarfile.TarInfo(upload["file"].lstrip("/"))
            member.size = len(data)
            member.mode = int(upload["permissions"], 8) if upload.get("permissions") else (
                0o744 if upload.get("executable") else 0o644)
            member.uid = int(upload.get("owner") or 0)
            member.gid = int(upload.get("group") or 0)
            archive.addfile(member, io.BytesIO(data))
    return stream.getvalue()


@dataclass
class DockerStandIn(ProviderProtocol):
    """The `docker` package at `version`, acting on `dockerd`."""
    version: str
    dockerd: PrivateDockerd
    package: str = "docker"

    def _docker(self, *args: str, input: bytes | None = None) -> str:
        result = subprocess.run([self.dockerd.client, *args], env=self.dockerd.env(), input=input,
                                capture_output=True, timeout=300, check=False)
        if result.returncode != 0:
            raise DockerStandInError(f"docker {args[0]} {args[1] if len(args) > 1 else ''} exited {result.returncode}: "
                                 f"{result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode().strip()

    def _local_image(self, reference: str) -> str:
        """The id of the image `reference` names: a local build by its own name, or the local build labelled as
        standing for it (tests/support/engine/stack_images.py: the stack's references, neo4j:5.26.30 and the rest,
        stay as they are). Nothing is pulled."""
        if reference.startswith(f"{LOCAL_BUILDS}/"):
            return self._docker("image", "inspect", "--format", "{{.Id}}", reference)
        found = self._docker("image", "ls", "--no-trunc", "--format", "{{.ID}}", "--filter",
                             f"label={LABEL_BUILD_OF}={reference}").split()
        if len(set(found)) != 1:
            raise DockerStandInError(f"image {reference}: the stand-in pulls nothing, and {len(set(found))} local "
                                     f"builds stand for it (tests/support/engine/stack_images.py builds them)")
        return found[0]

    def Check(self, request, context):  # noqa: N802
        news = plain_properties(request.news)
        handled = HANDLED.get(_type_of(request.urn))
        missing = ([f"the type {_type_of(request.urn)}"] if handled is None
                   else [key for key in news if key not in handled and news[key] not in (None, [], {})])
        failures = [provider_pb2.CheckFailure(property=key, reason=f"the docker stand-in (tests/support/engine/"
                                              f"docker_standin.py) does not do {key} yet")
                    for key in missing]
        return provider_pb2.CheckResponse(inputs=request.news, failures=failures)

    def Diff(self, request, context):  # noqa: N802
        olds = old_inputs(request)
        news = plain_properties(request.news)
        changed = sorted(key for key in set(olds) | set(news) if olds.get(key) != news.get(key))
        if not changed:
            return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)
        resource_type = _type_of(request.urn)
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_SOME, diffs=changed,
                                         replaces=replaces(resource_type, olds, news),
                                         deleteBeforeReplace=resource_type in DELETE_BEFORE_REPLACE)

    def Create(self, request, context):  # noqa: N802
        resource_type, inputs = _type_of(request.urn), plain_properties(request.properties)
        if request.preview:
            computed = {IMAGE: {"imageId": UNKNOWN, "repoDigest": UNKNOWN}, VOLUME: {"mountpoint": UNKNOWN},
                        NETWORK: {"scope": UNKNOWN}, CONTAINER: {"id": UNKNOWN}}[resource_type]
            return provider_pb2.CreateResponse(properties=properties_struct({**inputs, **computed}))
        try:
            resource_id, outputs = self._create(resource_type, reveal(inputs))
        except DockerStandInError as refusal:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(refusal))
        return provider_pb2.CreateResponse(id=resource_id, properties=properties_struct({**inputs, **outputs}))

    def _create(self, resource_type: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if resource_type == IMAGE:
            image_id = self._local_image(inputs["name"])
            return f"{image_id}{inputs['name']}", {"imageId": image_id, "repoDigest": ""}
        if resource_type == VOLUME:
            labels = [arg for label in inputs.get("labels") or () for arg in
                      ("--label", f"{label['label']}={label['value']}")]
            name = self._docker("volume", "create", *labels, inputs["name"])
            mountpoint = self._docker("volume", "inspect", "--format", "{{.Mountpoint}}", name)
            return name, {"driver": "local", "mountpoint": mountpoint}
        if resource_type == NETWORK:
            labels = [arg for label in inputs.get("labels") or () for arg in
                      ("--label", f"{label['label']}={label['value']}")]
            network_id = self._docker("network", "create", "--driver", inputs.get("driver") or "bridge", *labels,
                                      inputs["name"])
            return network_id, {"driver": inputs.get("driver") or "bridge", "scope": "local"}
        container_id = self._docker("create", *container_create_args(inputs))
        try:
            if inputs.get("uploads"):
                # A tar stream keeps its members' uid and gid (the test checks 7474), as the upstream's CopyToContainer.
                self._docker("cp", "-", f"{container_id}:/", input=uploads_tar(inputs["uploads"]))
            self._docker("start", container_id)
        except DockerStandInError:
            self._docker("rm", "--force", container_id)  # as the upstream: a container that did not start goes
            raise
        return container_id, {"id": container_id}

    def Update(self, request, context):  # noqa: N802
        resource_type, news = _type_of(request.urn), plain_properties(request.news)
        if not request.preview and resource_type == CONTAINER:
            plain = reveal(news)
            args = [*(("--restart", plain["restart"]) if plain.get("restart") else ()),
                    *(("--memory", _megabytes(plain["memory"])) if plain.get("memory") is not None else ()),
                    *(("--memory-swap", _megabytes(plain["memorySwap"]))
                      if plain.get("memorySwap") is not None else ())]
            try:
                if args:
                    self._docker("update", *args, request.id)
            except DockerStandInError as refusal:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(refusal))
        olds = plain_properties(request.olds)
        computed = {key: olds[key] for key in ("imageId", "repoDigest", "mountpoint", "driver", "scope", "id")
                    if key in olds}
        return provider_pb2.UpdateResponse(properties=properties_struct({**news, **computed}))

    def Delete(self, request, context):  # noqa: N802
        resource_type, state = _type_of(request.urn), reveal(plain_properties(request.properties))
        try:
            if resource_type == CONTAINER:
                grace = state.get("destroyGraceSeconds")
                if grace is not None:
                    subprocess.run([self.dockerd.client, "stop", "--time", str(int(grace)), request.id],
                                   env=self.dockerd.env(), capture_output=True, timeout=int(grace) + 60, check=False)
                self._docker("rm", "--force", request.id)
            elif resource_type == VOLUME:
                self._docker("volume", "rm", request.id)
            elif resource_type == NETWORK:
                self._docker("network", "rm", request.id)
            elif resource_type == IMAGE and not state.get("keepLocally"):
                self._docker("image", "rm", state["imageId"])
        except DockerStandInError as refusal:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(refusal))
        return empty_pb2.Empty()


def serve_docker(version: str, dockerd: PrivateDockerd) -> RunningProvider:
    """The docker stand-in on a free loopback port (the engine attaches to it: PULUMI_DEBUG_PROVIDERS)."""
    return serve_provider(DockerStandIn(version, dockerd))
