"""The docker stand-in provider's pure parts (tests/support/engine/docker_standin.py): what it asks `docker create`
for, the tar stream of the uploads, what replaces a resource. tests/engine/test_engine_docker_standin.py runs it
under the engine on a real dockerd."""
from __future__ import annotations

import base64
import io
import tarfile

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2

from tests.support.engine.docker_standin import (
    CONTAINER,
    CONTAINER_UPDATABLE,
    DELETE_BEFORE_REPLACE,
    FORCES_REPLACEMENT,
    IMAGE,
    SECRET_SIGNATURE,
    VOLUME,
    DockerStandIn,
    DockerStandInError,
    container_create_args,
    replaces,
    reveal,
    uploads_tar,
)

SECRET = {SECRET_SIGNATURE: "1b47061264138c4ac30d75fd1eb44270", "value": "s3cret"}


def test_a_containers_inputs_become_docker_create_flags_with_the_image_last_before_its_command():
    args = container_create_args({
        "name": "neo4j-core-1", "image": "sha256:abc", "hostname": "core-1.neo4j.local", "restart": "unless-stopped",
        "envs": ["NEO4J_AUTH_PATH=/run/auth"], "labels": [{"label": "neo4j-cluster.stack", "value": "local"}],
        "volumes": [{"volumeName": "neo4j-core-1-data", "containerPath": "/data"}], "memory": 2048,
        "memorySwap": 2048, "stopTimeout": 120, "user": "7474",
        "ulimits": [{"name": "nofile", "soft": 41024, "hard": 41024}],
        "healthcheck": {"tests": ["CMD-SHELL", "wget -q -O /dev/null http://localhost:7474 || exit 1"],
                        "interval": "10s", "timeout": "5s", "retries": 6, "startPeriod": "30s"},
        "networksAdvanced": [{"name": "local-net", "aliases": ["core-1.local.neo4j.internal", "core-1"]}],
        "ports": [{"internal": 7687, "external": 17687, "ip": "127.0.0.1"}, {"internal": 7474, "external": 17474}],
        "command": ["sleep", "infinity"]})
    assert args[:2] == ["--name", "neo4j-core-1"] and args[-3:] == ["sha256:abc", "sleep", "infinity"]
    flags = list(zip(args[:-3:2], args[1:-3:2], strict=True))
    assert [value for flag, value in flags if flag == "--network"] == ["local-net"]
    assert [value for flag, value in flags if flag == "--network-alias"] == ["core-1.local.neo4j.internal", "core-1"]
    assert [value for flag, value in flags if flag == "--publish"] == ["127.0.0.1:17687:7687/tcp",
                                                                       "0.0.0.0:17474:7474/tcp"]  # upstream defaults
    pairs = {flag: value for flag, value in flags if flag not in ("--network", "--network-alias", "--publish")}
    assert pairs == {
        "--name": "neo4j-core-1", "--hostname": "core-1.neo4j.local", "--restart": "unless-stopped",
        "--env": "NEO4J_AUTH_PATH=/run/auth", "--label": "neo4j-cluster.stack=local",
        "--volume": "neo4j-core-1-data:/data", "--memory": "2048m", "--memory-swap": "2048m",
        "--stop-timeout": "120", "--user": "7474", "--ulimit": "nofile=41024:41024",
        "--health-cmd": "wget -q -O /dev/null http://localhost:7474 || exit 1", "--health-interval": "10s",
        "--health-timeout": "5s", "--health-start-period": "30s", "--health-retries": "6"}


def test_a_container_joining_another_ones_namespace_gets_its_network_mode_and_no_network_of_its_own():
    args = container_create_args({"name": "neo4j-grafana", "image": "sha256:abc", "networkMode": "container:abc"})
    assert args == ["--name", "neo4j-grafana", "--network", "container:abc", "sha256:abc"]
    # docker refuses the pair ("conflicting options: ... network mode"); the stand-in names it instead
    with pytest.raises(DockerStandInError, match="networkMode container:abc with networksAdvanced"):
        container_create_args({"name": "x", "image": "sha256:abc", "networkMode": "container:abc",
                               "networksAdvanced": [{"name": "local-net"}]})


def test_uploads_carry_their_owner_group_and_mode_and_binary_content_is_decoded():
    stream = uploads_tar([
        {"file": "/var/lib/neo4j/conf/neo4j.conf", "content": "server.x=1\n", "owner": "7474", "group": "7474",
         "permissions": "0600"},
        {"file": "/opt/keystore.p12", "contentBase64": base64.b64encode(b"\x00\xff").decode()},
        {"file": "/opt/run.sh", "content": "#!/bin/sh\n", "executable": True}])
    with tarfile.open(fileobj=io.BytesIO(stream)) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert archive.extractfile(members["opt/keystore.p12"]).read() == b"\x00\xff"
    conf = members["var/lib/neo4j/conf/neo4j.conf"]
    assert (conf.uid, conf.gid, conf.mode, conf.size) == (7474, 7474, 0o600, len("server.x=1\n"))
    assert members["opt/keystore.p12"].mode == 0o644 and members["opt/run.sh"].mode == 0o744  # the upstream's


def test_what_replaces_a_container_a_volume_and_an_image():
    """Where each list comes from: pulumi-docker builds kreuzwerker/terraform-provider-docker (tag v5.1.0 pins
    upstream v4.5.0, commit 5074970c; the 5.2.0 SDK's upload owner and group came with upstream v4.6.0, release
    commit 1e48613).
    - Container: internal/provider/resource_docker_container.go marks every input `ForceNew` except those
      resourceDockerContainerUpdate applies with one ContainerUpdate (resource_docker_container_funcs.go
      l.1016-1019: "restart", "max_retry_count", "cpu_shares", "memory", "memory_reservation", "cpu_set",
      "memory_swap" and the device_* limits) and those kept in state only; a healthcheck change replaces the
      container since v4.6.0 (#989).
    - Volume: resource_docker_volume.go, name, driver, driver_opts and labels `ForceNew`.
    - RemoteImage: resource_docker_image.go, name, pull_triggers, triggers and platform `ForceNew`.
    - DeleteBeforeReplace for the container alone: pulumi-docker provider/resources.go l.112-126."""
    assert {"restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet",
            "memorySwap"} <= CONTAINER_UPDATABLE and "healthcheck" not in CONTAINER_UPDATABLE
    assert FORCES_REPLACEMENT[VOLUME] == {"name", "driver", "driverOpts", "labels"}
    assert FORCES_REPLACEMENT[IMAGE] == {"name", "pullTriggers", "triggers", "platform"}
    assert DELETE_BEFORE_REPLACE == {CONTAINER}
    old = {"name": "c", "image": "sha256:a", "uploads": [{"file": "/f", "content": "1"}], "memory": 512}
    assert replaces(CONTAINER, old, {**old, "uploads": [{"file": "/f", "content": "2"}]}) == ["uploads"]
    assert replaces(CONTAINER, old, {**old, "image": "sha256:b", "memory": 1024}) == ["image"]
    assert replaces(CONTAINER, old, {**old, "memory": 1024, "restart": "always"}) == []  # docker update
    assert replaces(CONTAINER, old, {**old, "healthcheck": {"tests": ["CMD-SHELL", "true"]}}) == ["healthcheck"]
    assert replaces(VOLUME, {"name": "v", "labels": []}, {"name": "v", "labels": [{"label": "a", "value": "b"}]}) == [
        "labels"]
    assert replaces(IMAGE, {"name": "i:1", "keepLocally": True}, {"name": "i:1", "keepLocally": False}) == []


def test_secrets_are_revealed_to_the_stand_in_wherever_they_sit():
    assert reveal({"uploads": [{"file": "/f", "content": SECRET}], "n": 1}) == {
        "uploads": [{"file": "/f", "content": "s3cret"}], "n": 1}


def test_what_the_stand_in_does_not_do_is_refused_by_name_at_check_not_pretended():
    standin = DockerStandIn("5.2.0", dockerd=None)  # Check runs no docker command

    def failures(resource_type: str, inputs: dict) -> list[str]:
        news = struct_pb2.Struct()
        news.update(inputs)
        urn = f"urn:pulumi:local::neo4j-cluster::neo4j-cluster:docker:Stack${resource_type}::x"
        answer = standin.Check(provider_pb2.CheckRequest(urn=urn, news=news), None)
        return [f"{f.property}: {f.reason}" for f in answer.failures]

    assert failures(CONTAINER, {"name": "c", "image": "i", "ports": [{"internal": 7687, "external": 7687}],
                                "networksAdvanced": [{"name": "n"}]}) == []
    refused = failures(CONTAINER, {"name": "c", "image": "i", "links": ["a"], "networkAliases": ["b"],
                                   "capabilities": {"adds": ["SYS_RESOURCE"]}})
    assert sorted(line.split(":")[0] for line in refused) == ["capabilities", "links", "networkAliases"]
    assert all("docker_standin.py) does not do" in line for line in refused)
    assert failures("docker:index/network:Network", {"name": "n", "ipamConfigs": [{"subnet": "10.0.0.0/24"}]}) == [
        "ipamConfigs: the docker stand-in (tests/support/engine/docker_standin.py) does not do ipamConfigs yet"]
    assert failures("docker:index/service:Service", {"name": "s"}) == [
        "the type docker:index/service:Service: the docker stand-in (tests/support/engine/docker_standin.py) does "
        "not do the type docker:index/service:Service yet"]
