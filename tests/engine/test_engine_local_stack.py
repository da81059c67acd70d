"""The local stack for real under the engine (issue 22, item 3): `pulumi up` of a community single-server variant of
the repo's `local` stack (Pulumi.local.yaml with one Community core; TLS as the stack sets it, optional, with
real keys and certificates from the tls stand-in, tests/support/engine/tls_material.py) on the tests' own dockerd, in a
network namespace of its own, through the docker STAND-IN provider (tests/support/engine/docker_standin.py), from
LOCAL BUILDS of the images the stack names (tests/support/engine/stack_images.py: Neo4j Community from Maven
Central's jars with an entrypoint stand-in, Debian's haproxy and prometheus, and a GRAFANA STAND-IN). Then:
`check` passes through HAProxy, Prometheus scrapes HAProxy, a second `up` changes nothing, and `pulumi destroy`
removes every container, volume and the network and keeps the images."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from components.docker.containers import LABEL_STACK
from components.docker.images import ImageRef, neo4j_image
from components.ports import PORTS
from components.settings import load_settings
from tests.conftest import stack_config
from tests.support.engine.daemon_state import inspect, wait_healthy
from tests.support.engine.docker_standin import serve_docker
from tests.support.engine.stack import ROOT, EngineStack, engine_output, engine_stack, sdk_version
from tests.support.engine.stack_images import stack_images
from tests.support.rehearsal.dockerd import PrivateDockerd

STACK = "local"
# The stack's own TLS setting (Pulumi.local.yaml: optional) stays: the tls stand-in makes real keys and certificates.
CONFIG = {"neo4j:edition": "community", "neo4j:coreCount": 1, "neo4j:replicaCount": 0, "neo4j:containerMemory": "1g"}
SECRETS = {"neo4j:adminPassword": "engine-local-admin-1", "neo4j:grafanaAdminPassword": "engine-local-grafana-1"}
CONTAINERS = ("neo4j-local-core-1", "neo4j-local-haproxy", "neo4j-local-prometheus", "neo4j-local-grafana")

# Bolt over TLS, the server's certificate verified against the stack's CA and the address (its certificate names
# 127.0.0.1), then a query.
TLS_PROBE = """
import sys
from neo4j import GraphDatabase, TrustCustomCAs
uri, ca_file, password = sys.argv[1:4]
with GraphDatabase.driver(uri, auth=("neo4j", password), encrypted=True,
                          trusted_certificates=TrustCustomCAs(ca_file)) as driver:
    records, _, _ = driver.execute_query("RETURN 1 AS one")
    print(records[0]["one"])
"""

TARGETS_PROBE = """
import json, sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        answer = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
        targets = [(t["labels"]["job"], t["health"], t.get("lastError", "")) for t in answer["data"]["activeTargets"]]
    except OSError as error:
        targets = [("-", "unreachable", str(error))]
    if any(health == "up" for _, health, _ in targets) or time.monotonic() > deadline:
        print(json.dumps(targets))
        break
    time.sleep(2)
"""


def in_namespace(dockerd: PrivateDockerd, *command: str, env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess:
    """`command` in the daemon's network namespace, where the stack's ports are published on 127.0.0.1."""
    return subprocess.run(dockerd.in_network(*command), capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, **(env or {})})


def stack_objects(dockerd: PrivateDockerd, kind: str) -> list[str]:
    """Names of the daemon's `kind` objects (container, volume, network) labelled as the stack's."""
    listing = {"container": ("ps", "--all"), "volume": ("volume", "ls"), "network": ("network", "ls")}[kind]
    return dockerd.docker(*listing, "--filter", f"label={LABEL_STACK}={STACK}", "--format",
                          "{{.Name}}" if kind != "container" else "{{.Names}}").stdout.split()


def stack_neo4j_image() -> ImageRef:
    """The neo4j image the stack under test names: Pulumi.local.yaml's version, Community (a version bump there is
    followed here)."""
    return neo4j_image(load_settings(STACK, {**stack_config(STACK), **CONFIG}))


def test_the_local_stack_runs_checks_through_haproxy_is_scraped_and_is_destroyed(dockerd, tmp_path):
    images = stack_images(dockerd, stack_neo4j_image())
    engine_output(f"local builds of the stack's images ready in {images.seconds:.0f} s: {images}")
    provider = serve_docker(sdk_version("pulumi_docker"), dockerd)
    with engine_stack(STACK, tmp_path, secrets=SECRETS, config=CONFIG, providers=(provider,),
                      tls_material=True) as engine:
        started = time.monotonic()
        engine.up(on_output=engine_output)
        engine_output(f"local stack up in {time.monotonic() - started:.0f} s")
        try:
            deployed_stack_works(dockerd, engine, tmp_path)
        except BaseException:
            for name in CONTAINERS:  # what each container said, for the log of a failed run
                logs = dockerd.docker("logs", "--tail", "40", name, check=False)
                for line in (logs.stdout + logs.stderr).splitlines():
                    engine_output(f"{name}| {line}")
            raise

        again = engine.up(on_output=engine_output)
        assert set(again.summary.resource_changes or {}) == {"same"}, again.summary.resource_changes

        engine.stack.destroy(on_output=engine_output)
        assert stack_objects(dockerd, "container") == [] and stack_objects(dockerd, "volume") == []
        assert stack_objects(dockerd, "network") == []
        assert inspect(dockerd, "image", images.neo4j) is not None  # keep_locally: the next up builds nothing


def deployed_stack_works(dockerd: PrivateDockerd, engine: EngineStack, tmp_path: Path) -> None:
    """What the deployed stack must do: its containers and network, check through HAProxy, Prometheus scraping."""
    assert sorted(stack_objects(dockerd, "container")) == sorted(CONTAINERS)
    assert stack_objects(dockerd, "network") == ["neo4j-local-net"]

    outputs = {name: value.value for name, value in engine.stack.outputs().items()}
    assert outputs["haproxyUri"] == f"bolt://127.0.0.1:{PORTS.haproxy.bolt_write}"
    outputs_file, stack_file = tmp_path / "outputs.json", tmp_path / "Pulumi.local.yaml"
    outputs_file.write_text(json.dumps(outputs))
    stack_file.write_text(yaml.safe_dump({"config": {**stack_config(STACK), **CONFIG}}))
    check = in_namespace(dockerd, sys.executable, "scripts/check.py", "--outputs-file", str(outputs_file),
                         "--stack-file", str(stack_file), "--wait", "5m",
                         env={"NEO4J_PASSWORD": SECRETS["neo4j:adminPassword"]}, timeout=420)
    for line in (check.stdout + check.stderr).splitlines():
        engine_output(f"check| {line}")
    assert check.returncode == 0, check.stdout + check.stderr
    # the write and read-your-own-write through HAProxy's published ports (checks/routing.py haproxy_result)
    assert [line.split()[0] for line in check.stdout.splitlines() if line.split()[1:2] == ["haproxy"]] == ["PASS"]
    # check's own TLS check (Bolt over TLS with the stack's CA; the certificates' expiry) and, TLS optional, HAProxy
    # passing a client's TLS through to the server, whose certificate the stack's CA signed.
    assert [line.split()[0] for line in check.stdout.splitlines() if line.split()[1:2] == ["tls"]] == ["PASS"]
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(outputs["caCertPem"])
    tls = in_namespace(dockerd, sys.executable, "-c", TLS_PROBE, outputs["haproxyUri"], str(ca_file),
                       SECRETS["neo4j:adminPassword"], timeout=120)
    assert (tls.returncode, tls.stdout.strip()) == (0, "1"), tls.stdout + tls.stderr

    for name in CONTAINERS:
        assert wait_healthy(dockerd, name, timeout=120) == "healthy", inspect(dockerd, "container", name)["State"]
    probe = in_namespace(dockerd, sys.executable, "-c", TARGETS_PROBE,
                         f"http://127.0.0.1:{PORTS.monitoring.prometheus}/api/v1/targets", "90")
    targets = json.loads(probe.stdout or "[]")
    assert ["haproxy", "up", ""] in targets, (targets, probe.stderr)  # job, health, lastError

