"""A separate entry certificate for the HAProxy name (issue 26, item 6): no server certificate carries the entry
name; with TLS required HAProxy ends the clients' TLS with the entry certificate (its key readable by the HAProxy
roles alone) and opens TLS of its own to each server, verifying it against the cluster CA and by its hostname.
The real haproxy runs it end to end in tests/integration/test_haproxy_entry_tls.py."""
from __future__ import annotations

import json
import re

import pytest

from components.program.tls import entry_dns_names, server_dns_names
from components.render import HAPROXY_CA_FILE, HAPROXY_ENTRY_PEM, render_haproxy_cfg
from components.topology import plan_topology
from tests.conftest import make_settings, stack_config
from tests.support.plans import CONTAINER, make_plan, plan_stack_file

CERT_REQUEST = "tls:index/certRequest:CertRequest"
SIGNED = "tls:index/locallySignedCert:LocallySignedCert"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    return plan_stack_file("prod", tmp_path_factory)


@pytest.fixture(scope="module")
def docker_required(tmp_path_factory):
    config = {**stack_config("local"), "neo4j:tls": "required"}
    return make_plan("local-required", "local", config, tmp_path_factory.mktemp("local-required") / "out")


@pytest.mark.parametrize("which", ["prod", "docker_required"])
def test_no_server_certificate_names_the_entry_and_the_entry_certificate_names_only_it(which, request):
    plan = request.getfixturevalue(which)
    entry = plan.topology.haproxy.hostname
    requests = plan.of_type(CERT_REQUEST)
    servers = {name: inputs for name, inputs in requests.items()
               if any(name.endswith(f"-{s.name}") for s in plan.topology.servers)}
    assert len(servers) == len(plan.topology.servers)
    for name, inputs in servers.items():
        assert entry not in inputs["dnsNames"], name
        assert plan.topology.haproxy.name not in inputs["dnsNames"], name
    (entry_name,) = [name for name, inputs in requests.items() if entry in inputs["dnsNames"]]
    assert entry_name.endswith("-entry")
    assert requests[entry_name]["dnsNames"] == entry_dns_names(plan.topology) == [entry, plan.topology.haproxy.name]
    # A TLS server only: no cluster member takes it as a client certificate.
    assert sorted(plan.of_type(SIGNED)[entry_name]["allowedUses"]) == ["digital_signature", "key_encipherment",
                                                                      "server_auth"]


def test_server_dns_names_never_hold_the_entry_name():
    for tls in ("required", "optional"):
        settings = make_settings(coreCount=3, replicaCount=2, tls=tls)
        topology = plan_topology(settings)
        for server in topology.servers:
            assert topology.haproxy.hostname not in server_dns_names(topology, server)


def test_only_the_haproxy_roles_read_the_entry_certificate(prod):
    readers = []
    for name, inputs in prod.of_type(ROLE_POLICY).items():
        statements = json.loads(inputs["policy"])["Statement"]
        reads = [r for s in statements if s["Effect"] == "Allow" and s.get("Sid") == "ReadOwnSecrets"
                 for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
        if any(r.endswith("-tls-entry") for r in reads):
            readers.append(name)
    assert sorted(readers) == [f"cluster-{n.name}-access" for n in prod.topology.haproxy_nodes]
    for node in prod.topology.haproxy_nodes:
        user_data = prod.user_data(f"cluster-{node.name}")
        # The boot's fetch (runcmd); haproxy-config-sync.sh, in write_files, fetches a renewed one (its own test).
        fetch = next(line for line in user_data.splitlines() if "tls/entry" in line and line.startswith("  - [sh"))
        # Root's only, written whole: umask 077, then renamed into place.
        assert "umask 077" in fetch and f"> {HAPROXY_ENTRY_PEM}.new && mv -f" in fetch, fetch


def test_the_docker_entry_gets_the_entry_certificate_and_the_servers_do_not(docker_required):
    containers = docker_required.of_type(CONTAINER)
    haproxy = next(inputs for name, inputs in containers.items() if name.endswith("-haproxy"))
    assert HAPROXY_ENTRY_PEM in [u["file"] for u in haproxy["uploads"]]
    for name, inputs in containers.items():
        if not name.endswith("-haproxy"):
            assert HAPROXY_ENTRY_PEM not in [u["file"] for u in inputs.get("uploads", [])], name


def test_with_tls_required_haproxy_ends_tls_with_the_entry_certificate_and_verifies_each_server_by_name():
    settings = make_settings(coreCount=3, replicaCount=2, tls="required")
    topology = plan_topology(settings)
    cfg = render_haproxy_cfg(settings, topology)
    binds = re.findall(r"^\s*bind :(\d+)(.*)$", cfg, re.M)
    bolt = {port: rest for port, rest in binds if int(port) in (7687, 7689)}
    assert set(bolt) == {"7687", "7689"}
    for rest in bolt.values():
        assert rest.strip() == f"ssl crt {HAPROXY_ENTRY_PEM} ssl-min-ver TLSv1.2"
    servers = re.findall(r"^\s*server (\S+) (\S+):7687(.*)$", cfg, re.M)
    assert len(servers) == 3 + 5  # the write backend's primaries, the read backend's every server
    hostnames = {s.name: s.hostname for s in topology.servers}
    for name, address, rest in servers:
        assert address == hostnames[name]
        assert rest.split() == ["ssl", "verify", "required", "ca-file", HAPROXY_CA_FILE, "verifyhost", address,
                                "ssl-min-ver", "TLSv1.2"], (name, rest)
        server = next(s for s in topology.servers if s.name == name)
        assert address in server_dns_names(topology, server)


@pytest.mark.parametrize("tls", ["optional", "disabled"])
def test_without_required_tls_the_entry_passes_bolt_through(tls):
    settings = make_settings(coreCount=3, replicaCount=2, tls=tls)
    cfg = render_haproxy_cfg(settings, plan_topology(settings))
    assert " ssl " not in cfg.replace("check-ssl", "") and "crt " not in cfg
