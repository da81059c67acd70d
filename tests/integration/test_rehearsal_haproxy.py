"""Boot rehearsal of the HAProxy node (issue 23, items 1(b) and 3): the user data the program renders for the
community single-server stack's haproxy-1 boots in a second machine container beside the server machine
(tests/support/rehearsal/haproxy_node.py), the two joined by a veth link between their own network namespaces.
The node syncs haproxy.cfg from S3 (the AWS stand-in, moto, enforcing the node's instance role with the plan's
role policies) as its boot does, checked against its instance tag's sha256, starts Debian's haproxy with it, and
routes a Bolt session over TLS to the server.

One pair of machines for the module (the server's boot is the cost, ~2 minutes warm); the base image is the
cached one of test_rehearsal_machine.py.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.support.rehearsal.base_image import base_image
from tests.support.rehearsal.boot_report import BOOT_TIMEOUT_SECONDS
from tests.support.rehearsal.dns_standin import ADDRESS as DNS_ADDRESS
from tests.support.rehearsal.haproxy_node import (
    CFG_PATH,
    LINK_DEVICE,
    LINK_NODE_ADDRESS,
    LINK_SERVER_ADDRESS,
    NodeReport,
    Pair,
    bolt_through_node,
    haproxy_cfg,
    node_report,
    rendered_node,
    running_pair,
    zone_records,
)
from tests.support.rehearsal.user_data import rendered_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pair(dockerd) -> Iterator[tuple[Pair, NodeReport]]:
    image = base_image(dockerd)
    with running_pair(dockerd, image.tag, rendered_server(), rendered_node()) as booted:
        yield booted, node_report(booted.node, timeout=BOOT_TIMEOUT_SECONDS)


def test_node_boot_ran_its_user_data_to_the_end_with_haproxy_running(pair):
    booted, report = pair
    assert booted.node.exec("cat", "/var/lib/cloud/instance/user-data.txt").stdout == booted.node_rendered.user_data
    assert report.cloud_init == "done", report.text()
    assert report.failed_modules == (), report.text()
    assert report.haproxy_state == "active", report.text()
    # The boot enabled it (the base image has it disabled) and the sync timer runs.
    assert booted.node.exec("systemctl", "is-enabled", "haproxy").stdout.strip() == "enabled"
    assert booted.node.exec("systemctl", "is-active", "haproxy-config-sync.timer").stdout.strip() == "active"


def test_node_loaded_haproxy_cfg_from_s3_byte_for_byte_and_its_tags_sha256(pair):
    booted, report = pair
    rendered = booted.node_rendered
    loaded = f"haproxy-config-sync: loaded {rendered.tags['HaproxyConfig']}"
    assert loaded in report.runcmd_lines, report.text()
    placed = booted.node.exec("cat", CFG_PATH, check=True).stdout.encode()
    assert placed == haproxy_cfg(rendered)
    assert hashlib.sha256(placed).hexdigest() == rendered.tags["HaproxyConfigSha256"]
    # The object came from the AWS stand-in in the node's own namespace, through its bucket's name.
    aws_log = next(log for name, log in booted.logs.items()
                   if name.startswith(rendered.instance) and "AWS" in name).read_text()
    # Signed with the node's role (key=…), allowed.
    assert any(line.startswith("aws-standin: GET cluster-backups.s3.") and "/tooling/haproxy/haproxy.cfg key=" in line
               and line.endswith("-> 200") for line in aws_log.splitlines()), aws_log
    # Nothing the node's boot asked with its role was refused: its policy grants all of it.
    assert booted.node.refused_aws_requests() == [], aws_log


def test_node_holds_the_ca_and_entry_certificate_from_secrets_manager(pair):
    booted, _ = pair
    values = booted.server.surroundings.secret_values
    ca = next(v for name, v in values.items() if name.endswith("/tls/ca"))
    entry = next(v for name, v in values.items() if name.endswith("/tls/entry"))
    assert booted.node.exec("cat", "/etc/haproxy/ca.crt", check=True).stdout.rstrip("\n") == ca.rstrip("\n")
    assert booted.node.exec("cat", "/etc/haproxy/entry.pem", check=True).stdout.rstrip("\n") == entry.rstrip("\n")
    assert booted.node.exec("stat", "-c", "%U %a", "/etc/haproxy/entry.pem", check=True).stdout.strip() == "root 600"


def test_node_role_is_enforced_the_servers_secret_and_tooling_are_access_denied(pair):
    """The node's AWS stand-in holds haproxy-1's role with the plan's role policies and refuses what they do not
    grant (IAM User Guide, "The difference between explicit and implicit denies": "Because an IAM principal is
    denied access by default, they must be explicitly allowed to perform an action")."""
    booted, _ = pair
    node, rendered = booted.node, booted.node_rendered
    (password,) = [s.name for s in rendered.secrets if s.kind == "admin-password"]
    refused = node.exec("aws", "secretsmanager", "get-secret-value", "--region", rendered.region,
                        "--secret-id", password)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
    assert f"assumed-role/{rendered.instance_role}/{node.instance_id}" in refused.stderr, refused.stderr
    # The server's backup tooling, beside the node's haproxy.cfg in the same bucket.
    (tooling,) = [o for o in rendered.objects if o.key.endswith(".tar.gz")]
    refused = node.exec("aws", "s3api", "get-object", "--region", rendered.region, "--bucket", tooling.bucket,
                        "--key", tooling.key, "/dev/null")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr


def test_machines_are_linked_only_to_each_other_in_their_own_namespaces(pair):
    booted, _ = pair
    for machine, address in ((booted.server, LINK_SERVER_ADDRESS), (booted.node, LINK_NODE_ADDRESS)):
        links = [line.split()[1].split("@")[0].rstrip(":") for line in
                 machine.in_netns("ip", "-o", "link", "show").stdout.splitlines()]
        assert links == ["lo", LINK_DEVICE], links
        assert f"inet {address}/30" in machine.in_netns("ip", "-o", "addr", "show", LINK_DEVICE).stdout
        # No default route: only the link's /30 and the namespace's own loopback are reachable.
        assert "default" not in machine.in_netns("ip", "route", "show").stdout
    # The node's resolver is the VPC DNS stand-in, which names the server's link address.
    assert booted.node.exec("cat", "/etc/resolv.conf").stdout.split("nameserver ")[1].split()[0] == DNS_ADDRESS
    for host, address in zone_records(booted.node_rendered).items():
        assert booted.node.exec("getent", "hosts", host).stdout.split()[0] == address == LINK_SERVER_ADDRESS


def test_bolt_session_through_the_node_reaches_the_server_and_runs_return_1(pair, tmp_path):
    booted, _ = pair
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(booted.server.surroundings.ca.cert_pem)
    result = bolt_through_node(booted, ca_file)
    lines = result.stdout.splitlines()
    assert lines[:1] == ["1"], result.stderr[-2000:]
    # The server saw the session come from the node over the link (HAProxy's own connection), not from the client.
    assert any(client.startswith(f"{LINK_NODE_ADDRESS}:") for client in lines[1].split()), lines
    # And the node's health endpoint says it has a writer (the NLB's check).
    health = booted.node.exec("curl", "-sS", "-w", " %{http_code}", "http://127.0.0.1:8405/health/write").stdout
    assert health == "writer 200", health
