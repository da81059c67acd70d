"""The docker STAND-IN provider (tests/support/engine/docker_standin.py) under the real engine, on a dockerd of the
tests' own in a network namespace of its own: the project's container helpers (components/docker/containers.py:
pull, volume, container) and network component (components/docker/network.py) make real containers, a volume, an
uploaded secret file, a network whose aliases resolve between containers and a port published on the daemon's
loopback; a second preview finds nothing to change; a changed upload replaces the container and keeps the volume's
data; destroy removes what it made and keeps the locally built images.

The images are local builds (no registry is reachable): Debian's static busybox with `sleep infinity` or its httpd
as the command (tests/support/engine/local_images.py, neo4j-cluster-local-build/minimal). The whole local stack runs
through the same stand-in in test_engine_local_stack.py.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys

import pulumi
import pytest

from components.docker.containers import (
    LABEL_STACK,
    ContainerSpec,
    HealthCheck,
    Upload,
    container,
    pull,
    reachable_as,
    volume,
)
from components.docker.images import ImageRef
from components.docker.layout import PublishedPort
from components.docker.network import ClusterNetwork, ClusterNetworkArgs
from tests.support.engine.daemon_state import in_container, inspect, wait_healthy
from tests.support.engine.docker_standin import serve_docker
from tests.support.engine.local_images import minimal_image
from tests.support.engine.stack import program_stack, sdk_version
from tests.support.rehearsal.dockerd import PrivateDockerd

STACK = "standin"
UPLOAD = "/etc/neo4j-cluster/hello.txt"
NEO4J_UID = "7474"


@pytest.fixture(scope="module")
def sleeper(dockerd) -> ImageRef:
    """A local build whose command is `sleep infinity` (tests/support/engine/local_images.py)."""
    repository, tag = minimal_image(dockerd).rsplit(":", 1)
    return ImageRef(repository, tag)


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


def free_port_in(dockerd: PrivateDockerd) -> int:
    """A TCP port nothing listens on in the daemon's namespace (binding port 0 there)."""
    probe = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
    return int(subprocess.run(dockerd.in_network(sys.executable, "-c", probe), capture_output=True, text=True,
                              check=True).stdout)


def test_a_network_with_aliases_and_a_port_published_on_loopback_only_in_the_daemons_namespace(dockerd, tmp_path):
    # The stack's own network component and container helpers: a web server reachable by its aliases from a second
    # container on the network, by its published port on the daemon's loopback, healthy by our health check.
    web_image = ImageRef(*minimal_image(dockerd, ("/bin/httpd", "-f", "-p", "8080", "-h", "/www")).rsplit(":", 1))
    client_image = ImageRef(*minimal_image(dockerd).rsplit(":", 1))
    port = free_port_in(dockerd)
    names = {"web": "engine-standin-web", "client": "engine-standin-client", "network": "engine-standin-net"}

    def program() -> None:
        network = ClusterNetwork("engine-standin", ClusterNetworkArgs(domain="standin.neo4j.internal"))
        parent = pulumi.ComponentResource("neo4j-cluster:test:Web", "web")
        web = pull("web-image", web_image, parent)
        client = pull("client-image", client_image, parent)
        container(names["web"], ContainerSpec(
            image=web.image_id, role="test", **reachable_as(network.name, "web.standin.neo4j.internal", "web"),
            ports=(PublishedPort("http", 8080, port),), health=HealthCheck("http://127.0.0.1:8080/", start_period="1s"),
            uploads=(Upload("/www/index.html", "served by the web container\n"),), stop_seconds=1), parent)
        container(names["client"], ContainerSpec(
            image=client.image_id, role="test", **reachable_as(network.name, "client.standin.neo4j.internal",
                                                              "client"), stop_seconds=1), parent)

    provider = serve_docker(sdk_version("pulumi_docker"), dockerd)
    with program_stack(STACK, tmp_path, program, [provider], project="neo4j-cluster-docker-standin") as engine:
        engine.up()
        network = inspect(dockerd, "network", names["network"])
        assert network["Driver"] == "bridge" and network["Labels"][LABEL_STACK] == STACK
        for alias in ("web.standin.neo4j.internal", "web"):
            assert in_container(dockerd, names["client"], f"wget -q -O - http://{alias}:8080/") == (
                "served by the web container")
        published = subprocess.run(dockerd.in_network(shutil.which("busybox"), "wget", "-q", "-O", "-",
                                                      f"http://127.0.0.1:{port}/"), capture_output=True, text=True)
        assert published.stdout == "served by the web container\n", published.stderr
        with socket.socket() as outside:  # the machine's own loopback has no such port: it stayed in the namespace
            assert outside.connect_ex(("127.0.0.1", port)) != 0
        assert wait_healthy(dockerd, names["web"]) == "healthy"  # components/docker/containers.py HealthCheck

        engine.preview(expect_no_changes=True)
        engine.stack.destroy()
        assert inspect(dockerd, "network", names["network"]) is None
        assert inspect(dockerd, "container", names["web"]) is None and inspect(dockerd, "container",
                                                                              names["client"]) is None
