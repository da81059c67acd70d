"""The docker STAND-IN provider (tests/support/engine/docker_standin.py) under the real engine, on the tests' own
dockerd: the project's container helpers (components/docker/containers.py: pull, volume, container) make a real
container with a volume and an uploaded secret file; a second preview finds nothing to change; a changed upload
replaces the container and keeps the volume's data; destroy removes both and keeps the locally built image.

The image is a local build (no registry is reachable): a few of this machine's programs with `sleep infinity` as
its command (tests/support/engine/local_images.py, neo4j-cluster-local-build/minimal). This is the first part of
issue 22, item 3 (the local stack under the engine); networks and published ports are not done yet and the
stand-in refuses them.
"""
from __future__ import annotations

import json
from collections.abc import Iterator

import pulumi
import pytest

from components.docker.containers import LABEL_STACK, ContainerSpec, Upload, container, pull, volume
from components.docker.images import ImageRef
from tests.support.engine.docker_standin import serve_docker
from tests.support.engine.local_images import minimal_image
from tests.support.engine.stack import program_stack, sdk_version
from tests.support.neo4j_dist import cache_root
from tests.support.rehearsal.dockerd import PrivateDockerd, private_dockerd

STACK = "standin"
UPLOAD = "/etc/neo4j-cluster/hello.txt"
NEO4J_UID = "7474"


@pytest.fixture(scope="module")
def dockerd() -> Iterator[PrivateDockerd]:
    """A private dockerd of the engine tests' own (its data root apart from the boot rehearsal's: their images
    never meet, and neither waits for the other's daemon)."""
    with private_dockerd(cache_root() / "engine" / "docker") as daemon:
        yield daemon


@pytest.fixture(scope="module")
def sleeper(dockerd) -> ImageRef:
    """A local build whose command is `sleep infinity` (tests/support/engine/local_images.py)."""
    repository, tag = minimal_image(dockerd).rsplit(":", 1)
    return ImageRef(repository, tag)


def inspect(dockerd: PrivateDockerd, kind: str, name: str) -> dict | None:
    found = dockerd.docker(kind, "inspect", name, check=False)
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


def in_container(dockerd: PrivateDockerd, name: str, command: str) -> str:
    return dockerd.docker("exec", name, "sh", "-c", command).stdout.strip()


def test_a_container_with_a_volume_and_an_upload_is_made_kept_replaced_and_destroyed(dockerd, sleeper, tmp_path):
    content = {"hello": "first secret"}
    names = {"container": "engine-standin-box", "volume": "engine-standin-data"}

    def program() -> None:
        parent = pulumi.ComponentResource("neo4j-cluster:test:Box", "box")
        image = pull("sleeper", sleeper, parent)
        data = volume(names["volume"], "test", parent)
        container(names["container"], ContainerSpec(
            image=image.image_id, role="test", network_mode="none", volumes=((data.name, "/data"),),
            uploads=(Upload(UPLOAD, pulumi.Output.secret(content["hello"]), NEO4J_UID, "0640"),),
            memory_mb=256, stop_seconds=2), parent)

    provider = serve_docker(sdk_version("pulumi_docker"), dockerd)
    with program_stack(STACK, tmp_path, program, [provider], project="neo4j-cluster-docker-standin") as engine:
        engine.up()
        made = inspect(dockerd, "container", names["container"])
        assert made is not None and made["State"]["Running"], made and made["State"]
        assert made["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert made["HostConfig"]["Memory"] == made["HostConfig"]["MemorySwap"] == 256 * 1024 * 1024
        assert made["HostConfig"]["NetworkMode"] == "none"
        assert made["Config"]["Labels"][LABEL_STACK] == STACK
        assert [(m["Type"], m["Name"], m["Destination"]) for m in made["Mounts"]] == [
            ("volume", names["volume"], "/data")]
        assert in_container(dockerd, names["container"], f"stat -c '%u %g %a' {UPLOAD}") == "7474 7474 640"
        assert in_container(dockerd, names["container"], f"cat {UPLOAD}") == "first secret"
        assert inspect(dockerd, "volume", names["volume"])["Labels"][LABEL_STACK] == STACK
        in_container(dockerd, names["container"], "echo kept > /data/marker")

        engine.preview(expect_no_changes=True)  # raises when the engine finds a change

        content["hello"] = "second secret"
        preview = engine.preview()
        assert preview.change_summary.get("replace") == 1, preview.change_summary
        engine.up()
        replaced = inspect(dockerd, "container", names["container"])
        assert replaced["Id"] != made["Id"] and replaced["State"]["Running"]
        assert in_container(dockerd, names["container"], f"cat {UPLOAD}") == "second secret"
        assert in_container(dockerd, names["container"], "cat /data/marker") == "kept"  # the volume stayed

        engine.stack.destroy()
        assert inspect(dockerd, "container", names["container"]) is None
        assert inspect(dockerd, "volume", names["volume"]) is None
        assert inspect(dockerd, "image", sleeper.reference) is not None  # keep_locally: a later up needs no build
