"""Boot rehearsal (issue 23): the user data the program renders for a community single-server AWS stack boots in a
machine container (systemd as PID 1, cloud-init with a NoCloud seed) of a private dockerd, surrounded only by
stand-ins inside the machine's own network namespace: the IMDSv2 stand-in at 169.254.169.254 (tags, the instance
role's credentials), the AWS APIs (moto over TLS, holding the stack's secrets and uploaded objects, and the
instance role with the role policies the plan renders for it, enforced: what they do not grant is refused), Neo4j's
apt repository (a signed repository with the stand-in package built from the Maven Central distribution) and PyPI
(the wheels the backup tooling's pip install asks for), each reached under its usual name through the machine's
/etc/hosts and verified with the rehearsal CA in its trust store; and the data volume as a loop device.

setup-neo4j.sh runs to its end: these tests check each step's outcome in the machine, then what the booted server
does (LOAD CSV, a second run of the script, the renewal and backup services, a grown volume). `make rehearse`
prints the same boot step by step.

The HAProxy node (issue 23, items 1(b) and 3): the user data the program renders for the stack's haproxy-1 boots
in a second machine beside the server (tests/support/rehearsal/haproxy_node.py), the two joined by a veth link
between their own network namespaces. The node syncs haproxy.cfg from S3 (its own AWS stand-in, enforcing the
node's instance role with the plan's role policies) as its boot does, checked against its instance tag's sha256,
starts Debian's haproxy with it, and routes a Bolt session over TLS to the server.

One booted server for the module (the boot is the cost, ~2 minutes warm), and beside it, booting at the same
time, the HAProxy node linked to it and a machine without a data volume whose boot fails; last, the server is
replaced by another on its volume. The node's tests are here, not in a module of their own, because they need a
booted server: a module of their own booted a second one (the reason this file is over 400 lines). The base image,
the stand-in package, its repository and the wheels are built once and cached (tests/support/rehearsal/).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from tests.support.plans import ROOT
from tests.support.rehearsal import apt_standin
from tests.support.rehearsal.base_image import base_image
from tests.support.rehearsal.boot_report import BOOT_STATUS, BOOT_TIMEOUT_SECONDS, BootReport, boot_report
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
from tests.support.rehearsal.imds_standin import ADDRESS
from tests.support.rehearsal.machine import SEED_DIR, Machine, running_machine
from tests.support.rehearsal.surroundings import apt_component
from tests.support.rehearsal.user_data import RenderedMachine, rendered_server
from tests.support.rehearsal.volume import grow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> RenderedMachine:
    return rendered_server(out=tmp_path_factory.mktemp("rehearsal-plan") / "out")


@pytest.fixture(scope="module")
def machines(dockerd, rendered) -> Iterator[tuple[Pair, Machine]]:
    """The module's machines, booting side by side (the second and third boots are short or mostly wait, so they
    cost little more than the first): the server (the rendered user data with its data volume) linked to the
    HAProxy node (the stack's haproxy-1 user data), and the server's user data on a machine with no data volume:
    nothing attached and no DataVolumeId among its instance tags (as an instance whose metadata does not carry its
    tags), whose boot stops at the first step."""
    image = base_image(dockerd).tag
    tags = {key: value for key, value in rendered.tags.items() if key != "DataVolumeId"}
    with running_machine(dockerd, image, dataclasses.replace(rendered, tags=tags)) as (without_volume, _), \
            running_pair(dockerd, image, rendered, rendered_node()) as pair:
        yield pair, without_volume


@pytest.fixture(scope="module")
def booted(machines) -> tuple[Machine, BootReport]:
    pair, _ = machines
    return pair.server, boot_report(pair.server, timeout=BOOT_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def pair(machines, booted) -> tuple[Pair, NodeReport]:
    """The server (booted) and the HAProxy node, once the node's boot finished."""
    booted_pair, _ = machines
    return booted_pair, node_report(booted_pair.node, timeout=BOOT_TIMEOUT_SECONDS)


def test_systemd_is_pid_1_and_finishes_starting_the_machine(booted):
    machine, _ = booted
    assert machine.exec("cat", "/proc/1/comm").stdout.strip() == "systemd"
    # "running" or "degraded" (a unit failed: the boot scripts' own, reported by `make rehearse`): either way
    # systemd finished the boot transaction; "starting", "initializing" or "offline" would mean it did not.
    state = machine.exec("systemctl", "is-system-running", "--wait", timeout=120).stdout.strip()
    assert state in ("running", "degraded"), state
    assert machine.exec("systemd-detect-virt", "--container").stdout.strip() == "docker"


def test_cloud_init_ran_the_nocloud_seeds_user_data_byte_for_byte(booted, rendered):
    machine, report = booted
    assert report.cloud_init in ("done", "error"), report.cloud_init_long  # it ran to its end
    datasource = json.loads(machine.exec("cat", "/run/cloud-init/status.json").stdout)["v1"]["datasource"]
    assert datasource.startswith(f"DataSourceNoCloud [seed={SEED_DIR}]"), datasource
    # What cloud-init consumed is the rendered text itself, not a default or an image's own config.
    assert machine.exec("cat", "/var/lib/cloud/instance/user-data.txt").stdout == rendered.user_data
    # Its write_files placed our files: setup-neo4j.sh as the program rendered it, executable.
    placed = {f["path"]: f for f in yaml.safe_load(rendered.user_data)["write_files"]}
    script = "/usr/local/lib/neo4j-cluster/setup-neo4j.sh"
    assert machine.exec("cat", script).stdout == placed[script]["content"]
    assert machine.exec("stat", "-c", "%a", script).stdout.strip() == "755"


def test_runcmd_ran_setup_neo4j_to_its_end_with_boot_status_done(booted):
    machine, report = booted
    assert report.setup_lines and report.setup_lines[0] == "setup-neo4j: step mount_data_volume", report.text()
    assert report.setup_lines[-1] == "setup-neo4j: done", report.text()
    assert report.completed, report.where_it_stopped()
    assert "neo4j_cluster_boot_completed 1" in report.boot_metric, report.text()
    assert 'neo4j_cluster_boot_failed{step="done"} 0' in report.boot_metric, report.text()
    # The backup job the tooling archive from S3 installed, and the certificate renewal: their timers run.
    for timer in ("neo4j-backup.timer", "neo4j-backup-freshness.timer", "neo4j-restore-drill.timer",
                  "neo4j-cert-renew.timer"):
        assert machine.exec("systemctl", "is-active", timer).stdout.strip() == "active", timer


def test_imds_standin_answers_at_the_metadata_address_inside_the_machine(booted, rendered):
    machine, _ = booted
    token = machine.exec("curl", "-fsS", "-X", "PUT", f"http://{ADDRESS}/latest/api/token",
                         "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", check=True).stdout
    assert token

    def meta(path: str, *headers: str) -> subprocess.CompletedProcess[str]:
        return machine.exec("curl", "-sS", "-o", "/dev/stdout", "-w", " %{http_code}", *headers,
                            f"http://{ADDRESS}/latest/meta-data/{path}")

    auth = ("-H", f"X-aws-ec2-metadata-token: {token}")
    assert meta("instance-id", *auth).stdout == f"{machine.instance_id} 200"
    assert meta("placement/region", *auth).stdout == f"{rendered.region} 200"
    assert meta("tags/instance/Name", *auth).stdout == f"{rendered.tags['Name']} 200"
    assert meta("tags/instance/DataVolumeId", *auth).stdout == f"{rendered.tags['DataVolumeId']} 200"
    # IMDSv2 only: no token, no answer.
    assert meta("instance-id").stdout.endswith(" 401")


def test_metadata_address_exists_in_the_machines_namespace_only(booted):
    machine, _ = booted
    inside = machine.in_netns("ip", "-o", "addr", "show")
    assert f"inet {ADDRESS}/32" in inside.stdout
    # The machine's namespace holds lo and the link to the HAProxy node's namespace alone: nothing of the boot can
    # leave the two (test_machines_are_linked_only_to_each_other_in_their_own_namespaces).
    links = [line.split()[1].split("@")[0].rstrip(":")
             for line in machine.in_netns("ip", "-o", "link", "show").stdout.splitlines()]
    assert links == ["lo", LINK_DEVICE], links
    # The host's own namespace never has the address (and the test never sends anything to it).
    host = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    assert ADDRESS not in host


def test_data_volume_stand_in_is_formatted_mounted_by_uuid_and_in_fstab(booted, rendered):
    machine, report = booted
    assert machine.volume is not None
    # The by-id name the rehearsal gives the loop device is the one the script's own rule derives from the
    # DataVolumeId tag (data_volume_device in the rendered setup-neo4j.sh), not a copy of that rule.
    script = "/usr/local/lib/neo4j-cluster/setup-neo4j.sh"
    derived = machine.exec("bash", "-c", f'source <(sed -n "/^data_volume_device()/,/^}}/p" {script}); '
                           f'DISK_BY_ID=/dev/disk/by-id; data_volume_device "$1"', "_",
                           rendered.tags["DataVolumeId"], check=True).stdout.strip()
    assert derived == machine.volume.by_id
    assert "setup-neo4j: step enable_filesystem_growth" in report.setup_lines, report.text()
    # mkfs.xfs and mount ran in the machine (CAP_SYS_ADMIN): the data directory is the volume, xfs.
    source, fstype = machine.exec("findmnt", "-n", "-o", "SOURCE,FSTYPE", "--mountpoint", "/var/lib/neo4j/data",
                                  check=True).stdout.split()
    assert (source, fstype) == (machine.volume.device, "xfs")
    uuid = machine.exec("blkid", "-p", "-s", "UUID", "-o", "value", machine.volume.device, check=True).stdout.strip()
    fstab = machine.exec("cat", "/etc/fstab", check=True).stdout.splitlines()
    assert f"UUID={uuid} /var/lib/neo4j/data xfs defaults,noatime,nofail 0 2" in fstab
    assert machine.exec("systemctl", "is-enabled", "grow-data-volume.timer").stdout.strip() == "enabled"


def test_machine_gets_cap_sys_admin_and_its_volume_only_not_privileged(booted):
    machine, _ = booted
    host_config = json.loads(machine.dockerd.docker("inspect", "--format", "{{json .HostConfig}}",
                                                    machine.container).stdout)
    assert host_config["Privileged"] is False
    assert host_config["CapAdd"] == ["CAP_SYS_ADMIN"]
    assert [device["PathOnHost"] for device in host_config["Devices"]] == [machine.volume.device]


# --- what surrounds the machine: AWS APIs (moto), Neo4j's apt repository, PyPI; all in its namespace -----------

def test_machine_resolves_aws_neo4j_and_pypi_names_to_the_stand_ins_in_its_namespace(booted):
    machine, _ = booted
    hosts = machine.exec("cat", "/etc/hosts", check=True).stdout
    for host, address in machine.surroundings.hosts:
        assert machine.exec("getent", "hosts", host).stdout.split()[0] == address, hosts
        # Each address is the namespace's own loopback: nothing of it is routed anywhere else.
        route = machine.in_netns("ip", "route", "get", address).stdout
        assert route.startswith(f"local {address} dev lo"), route


def test_machine_verifies_the_stand_ins_tls_with_its_own_trust_store(booted, rendered):
    machine, _ = booted
    url = f"https://secretsmanager.{rendered.region}.amazonaws.com/"
    # The system bundle, which update-ca-certificates built with the rehearsal CA, verifies the endpoint ...
    assert machine.exec("curl", "-sS", "-o", "/dev/null", "-w", "%{ssl_verify_result}", url).stdout == "0"
    # ... and verification is real: with another CA alone, curl refuses the same endpoint (60: peer certificate).
    other = machine.exec("sh", "-c", "ls /usr/share/ca-certificates/mozilla/*.crt | head -1", check=True).stdout
    refused = machine.exec("curl", "-sS", "-o", "/dev/null", "--capath", "/nonexistent", "--cacert",
                           other.strip(), url)
    assert refused.returncode == 60, refused.stderr
    # Debian's AWS CLI v2 takes certifi's bundle, which Debian's certifi points at the system bundle.
    where = machine.exec("python3", "-c", "import certifi; print(certifi.where())", check=True).stdout.strip()
    assert where == "/etc/ssl/certs/ca-certificates.crt"


# What the server's boot reads with its role (components/aws/servers.py: its own secrets; the backup tooling).
OWN_SECRET_KINDS = ("admin-password", "tls-server")


def test_aws_cli_reads_the_servers_own_secrets_with_the_instance_roles_credentials(booted, rendered):
    machine, _ = booted
    credentials = machine.exec("aws", "configure", "list", check=True).stdout
    assert "iam-role" in credentials, credentials  # from the IMDS stand-in, as on EC2
    own = [s.name for s in rendered.secrets if s.kind in OWN_SECRET_KINDS]
    assert len(own) == len(OWN_SECRET_KINDS), rendered.secrets
    for name in own:
        value = machine.surroundings.secret_values[name]
        read = machine.exec("aws", "secretsmanager", "get-secret-value", "--region", rendered.region,
                            "--secret-id", name, "--query", "SecretString", "--output", "text", check=True)
        assert read.stdout.rstrip("\n") == value.rstrip("\n"), name
    bucket = rendered.tags["BackupBucket"]
    (tooling,) = [entry for entry in rendered.objects if entry.key.endswith(".tar.gz")]
    head = machine.exec("aws", "s3api", "head-object", "--region", rendered.region, "--bucket", bucket,
                        "--key", tooling.key, "--query", "ContentLength", "--output", "text", check=True)
    assert int(head.stdout) == len(tooling.content), tooling.key


def test_instance_role_policy_is_enforced_calls_it_does_not_grant_are_access_denied(booted, rendered):
    """The stand-in holds the role with the plan's role policies and moto checks each call against them (IAM
    User Guide, "The difference between explicit and implicit denies": "Because an IAM principal is denied access
    by default, they must be explicitly allowed to perform an action"; "If policies that apply to a request include
    an Allow statement and a Deny statement, the Deny statement trumps the Allow statement")."""
    machine, _ = booted
    region, bucket, role = rendered.region, rendered.tags["BackupBucket"], rendered.instance_role
    # Nothing the boot (and the tests before) asked with the role was refused: its policy grants all of it.
    assert machine.refused_aws_requests() == []

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return machine.exec("aws", *args, "--region", region)

    # Another machine's secret (the HAProxy entry's certificate): no Allow names it.
    others = [s.name for s in rendered.secrets if s.kind not in OWN_SECRET_KINDS]
    assert others, rendered.secrets
    for name in others:
        refused = aws("secretsmanager", "get-secret-value", "--secret-id", name)
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr, (name, refused.stderr)
        # The caller refused is the instance role, assumed for this instance (as EC2 does for its profile).
        assert f"assumed-role/{role}/{machine.instance_id}" in refused.stderr, refused.stderr
    # HAProxy's config beside the server's own tooling archive: the node's object, not the server's.
    (config,) = [entry.key for entry in rendered.objects if entry.key.endswith("haproxy.cfg")]
    refused = aws("s3api", "get-object", "--bucket", bucket, "--key", config, "/dev/null")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
    # Under the stack's backup prefix the role may write, but never delete: the explicit Deny wins.
    probe = f"{rendered.stack}/rehearsal-role-probe"
    aws_put = aws("s3api", "put-object", "--bucket", bucket, "--key", probe, "--body", "/etc/hostname")
    assert aws_put.returncode == 0, aws_put.stderr
    refused = aws("s3api", "delete-object", "--bucket", bucket, "--key", probe)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
    assert aws("s3api", "head-object", "--bucket", bucket, "--key", probe).returncode == 0  # still there
    # Nor may it write where the tooling root runs lives.
    refused = aws("s3api", "put-object", "--bucket", bucket, "--key", "tooling/rehearsal-probe", "--body",
                  "/etc/hostname")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr


def test_tls_material_installed_for_neo4j_is_the_servers_secret(booted):
    machine, _ = booted
    secret = json.loads(next(value for name, value in machine.surroundings.secret_values.items()
                             if name.endswith("/tls/core-1")))
    base = "/var/lib/neo4j/certificates/bolt"
    # As `jq -r` writes a field: the PEM, then a newline.
    assert machine.exec("cat", f"{base}/public.crt", check=True).stdout == secret["cert"] + "\n"
    assert machine.exec("cat", f"{base}/trusted/ca.crt", check=True).stdout == secret["ca"] + "\n"
    assert machine.exec("stat", "-c", "%U %a", f"{base}/private.key", check=True).stdout.strip() == "neo4j 400"


# --- Neo4j's package: the stand-in from the local apt repository ------------------------------------------------

def test_neo4j_stand_in_package_came_from_the_stacks_private_mirror_signed_by_the_key_at_its_url(booted, rendered):
    # The rehearsed stack sets neo4j:aptRepositoryUrl and neo4j:aptSigningKey (apt_standin.STACK_CONFIG), as a
    # mirrored install does: Neo4j from the mirror, its key fetched from the URL the stack gives.
    machine, _ = booted
    assert machine.exec("dpkg-query", "-W", "-f", "${Version} ${Status}", "neo4j", check=True).stdout == (
        f"1:{rendered.neo4j_version} hold ok installed")  # installed, and held by setup-neo4j.sh
    source = machine.exec("cat", "/etc/apt/sources.list.d/neo4j.list", check=True).stdout
    assert source == (f"deb [signed-by=/etc/apt/keyrings/neo4j.gpg] {apt_standin.REPOSITORY_URL} stable "
                      f"{apt_component(rendered.user_data)}\n"), source
    # apt took it from that source, verified by the key setup-neo4j.sh fetched (no [trusted=yes] anywhere).
    policy = machine.exec("apt-cache", "policy", "neo4j", check=True).stdout
    assert f"{apt_standin.REPOSITORY_URL} stable" in policy, policy
    # The keyring holds the mirror's signing key, which the mirror serves only at neo4j:aptSigningKey's URL (no
    # neotechnology.gpg.key), and debian.neo4j.com has no address here: the key came from the stack's URL.
    keyring = machine.exec("gpg", "--show-keys", "--with-colons", "/etc/apt/keyrings/neo4j.gpg", check=True).stdout
    assert f"fpr:::::::::{apt_standin.signing_fingerprint()}:" in keyring, keyring
    assert machine.exec("getent", "hosts", "debian.neo4j.com").returncode != 0
    assert "trusted=yes" not in machine.exec("sh", "-c", "cat /etc/apt/sources.list.d/*", check=True).stdout


def test_neo4j_stand_in_package_has_the_official_layout(booted, rendered):
    machine, _ = booted
    assert machine.exec("id", "-un", "neo4j", check=True).stdout.strip() == "neo4j"
    assert machine.exec("bash", "-c", "command -v neo4j neo4j-admin", check=True).stdout.split() == [
        "/usr/bin/neo4j", "/usr/bin/neo4j-admin"]
    conffiles = machine.exec("dpkg-query", "-W", "-f", "${Conffiles}", "neo4j", check=True).stdout
    assert "/etc/neo4j/neo4j.conf " in conffiles
    unit = machine.exec("systemctl", "cat", "neo4j.service", check=True).stdout
    assert "# /lib/systemd/system/neo4j.service" in unit and "User=neo4j" in unit
    assert machine.exec("systemctl", "is-enabled", "neo4j").stdout.strip() == "enabled"
    for directory in ("/var/lib/neo4j/data", "/var/lib/neo4j/import", "/var/log/neo4j"):
        assert machine.exec("stat", "-c", "%U", directory, check=True).stdout.strip() == "neo4j", directory
    # install_configuration put the rendered conf over the packaged one.
    placed = {f["path"]: f["content"] for f in yaml.safe_load(rendered.user_data)["write_files"]}
    assert machine.exec("cat", "/etc/neo4j/neo4j.conf", check=True).stdout == placed["/etc/neo4j-cluster/neo4j.conf"]
    assert machine.exec("neo4j-admin", "--version", check=True, timeout=120).stdout.strip().endswith(
        rendered.neo4j_version)


def test_bolt_over_tls_with_the_secrets_certificate_and_admin_password(booted, tmp_path):
    machine, _ = booted
    surroundings = machine.surroundings
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(surroundings.ca.cert_pem)
    # The driver runs on the host but in the machine's namespace (nsenter --net): Neo4j's Bolt port is nowhere
    # else. "localhost" is one of the names of the server's certificate (components/program/tls.py).
    script = (
        "import sys, time, neo4j\n"
        "deadline = time.monotonic() + 180\n"
        "while True:\n"
        "    try:\n"
        "        with neo4j.GraphDatabase.driver('neo4j://localhost:7687', auth=('neo4j', sys.argv[1]),\n"
        "                encrypted=True, trusted_certificates=neo4j.TrustCustomCAs(sys.argv[2])) as driver:\n"
        "            print(driver.execute_query('RETURN 1 AS one').records[0]['one'])\n"
        "            break\n"
        "    except neo4j.exceptions.ServiceUnavailable:\n"
        "        if time.monotonic() > deadline: raise\n"
        "        time.sleep(2)\n")
    result = machine.in_netns(sys.executable, "-c", script, surroundings.admin_password, str(ca_file), timeout=240)
    assert result.stdout.strip() == "1", result.stderr[-2000:]


# --- the HAProxy node beside the server: its boot, what it loaded, and a Bolt session through it ------------------

def test_node_boot_ran_its_user_data_to_the_end_with_haproxy_running(pair):
    linked, report = pair
    assert linked.node.exec("cat", "/var/lib/cloud/instance/user-data.txt").stdout == linked.node_rendered.user_data
    assert report.cloud_init == "done", report.text()
    assert report.failed_modules == (), report.text()
    assert report.haproxy_state == "active", report.text()
    # The boot enabled it (the base image has it disabled) and the sync timer runs.
    assert linked.node.exec("systemctl", "is-enabled", "haproxy").stdout.strip() == "enabled"
    assert linked.node.exec("systemctl", "is-active", "haproxy-config-sync.timer").stdout.strip() == "active"


def test_node_loaded_haproxy_cfg_from_s3_byte_for_byte_and_its_tags_sha256(pair):
    linked, report = pair
    rendered = linked.node_rendered
    loaded = f"haproxy-config-sync: loaded {rendered.tags['HaproxyConfig']}"
    assert loaded in report.runcmd_lines, report.text()
    placed = linked.node.exec("cat", CFG_PATH, check=True).stdout.encode()
    assert placed == haproxy_cfg(rendered)
    assert hashlib.sha256(placed).hexdigest() == rendered.tags["HaproxyConfigSha256"]
    # The object came from the AWS stand-in in the node's own namespace, through its bucket's name.
    aws_log = next(log for name, log in linked.logs.items()
                   if name.startswith(rendered.instance) and "AWS" in name).read_text()
    # Signed with the node's role (key=…), allowed.
    assert any(line.startswith("aws-standin: GET cluster-backups.s3.") and "/tooling/haproxy/haproxy.cfg key=" in line
               and line.endswith("-> 200") for line in aws_log.splitlines()), aws_log
    # Nothing the node's boot asked with its role was refused: its policy grants all of it.
    assert linked.node.refused_aws_requests() == [], aws_log


def test_node_holds_the_ca_and_entry_certificate_from_secrets_manager(pair):
    linked, _ = pair
    values = linked.server.surroundings.secret_values
    ca = next(v for name, v in values.items() if name.endswith("/tls/ca"))
    entry = next(v for name, v in values.items() if name.endswith("/tls/entry"))
    assert linked.node.exec("cat", "/etc/haproxy/ca.crt", check=True).stdout.rstrip("\n") == ca.rstrip("\n")
    assert linked.node.exec("cat", "/etc/haproxy/entry.pem", check=True).stdout.rstrip("\n") == entry.rstrip("\n")
    assert linked.node.exec("stat", "-c", "%U %a", "/etc/haproxy/entry.pem", check=True).stdout.strip() == "root 600"


def test_node_role_is_enforced_the_servers_secret_and_tooling_are_access_denied(pair):
    """The node's AWS stand-in holds haproxy-1's role with the plan's role policies and refuses what they do not
    grant (IAM User Guide, "The difference between explicit and implicit denies": "Because an IAM principal is
    denied access by default, they must be explicitly allowed to perform an action")."""
    linked, _ = pair
    node, rendered = linked.node, linked.node_rendered
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
    linked, _ = pair
    for machine, address in ((linked.server, LINK_SERVER_ADDRESS), (linked.node, LINK_NODE_ADDRESS)):
        links = [line.split()[1].split("@")[0].rstrip(":") for line in
                 machine.in_netns("ip", "-o", "link", "show").stdout.splitlines()]
        assert links == ["lo", LINK_DEVICE], links
        assert f"inet {address}/30" in machine.in_netns("ip", "-o", "addr", "show", LINK_DEVICE).stdout
        # No default route: only the link's /30 and the namespace's own loopback are reachable.
        assert "default" not in machine.in_netns("ip", "route", "show").stdout
    # The node's resolver is the VPC DNS stand-in, which names the server's link address.
    assert linked.node.exec("cat", "/etc/resolv.conf").stdout.split("nameserver ")[1].split()[0] == DNS_ADDRESS
    for host, address in zone_records(linked.node_rendered).items():
        assert linked.node.exec("getent", "hosts", host).stdout.split()[0] == address == LINK_SERVER_ADDRESS


def test_bolt_session_through_the_node_reaches_the_server_and_runs_return_1(pair, tmp_path):
    linked, _ = pair
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(linked.server.surroundings.ca.cert_pem)
    result = bolt_through_node(linked, ca_file)
    lines = result.stdout.splitlines()
    assert lines[:1] == ["1"], result.stderr[-2000:]
    # The server saw the session come from the node over the link (HAProxy's own connection), not from the client.
    assert any(client.startswith(f"{LINK_NODE_ADDRESS}:") for client in lines[1].split()), lines
    # And the node's health endpoint says it has a writer (the NLB's check).
    health = linked.node.exec("curl", "-sS", "-w", " %{http_code}", "http://127.0.0.1:8405/health/write").stdout
    assert health == "writer 200", health


# --- what the linked server does afterwards: each in the machine, as an operator would see it --------------------

CYPHER = (  # one statement over Bolt with TLS, in the machine's namespace: its rows, or the server's refusal
    "import json, sys, neo4j\n"
    "with neo4j.GraphDatabase.driver('neo4j://localhost:7687', auth=('neo4j', sys.argv[1]), encrypted=True,\n"
    "        trusted_certificates=neo4j.TrustCustomCAs(sys.argv[2])) as driver:\n"
    "    try:\n"
    "        print(json.dumps({'rows': [r.data() for r in driver.execute_query(sys.argv[3]).records]}))\n"
    "    except neo4j.exceptions.ClientError as error:\n"
    "        print(json.dumps({'code': error.code, 'message': error.message}))\n")


def cypher(machine: Machine, statement: str, tmp_path, password: str | None = None) -> dict:
    """As the admin, with the password of the machine's secret unless `password` is given."""
    ca_file = tmp_path / "rehearsal-ca.crt"
    ca_file.write_text(machine.surroundings.ca.cert_pem)
    result = machine.in_netns(sys.executable, "-c", CYPHER, password or machine.surroundings.admin_password,
                              str(ca_file), statement, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def conf_value(machine: Machine, key: str) -> str | None:
    for line in machine.exec("cat", "/etc/neo4j/neo4j.conf", check=True).stdout.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return None


def test_load_csv_reads_the_import_directory_and_is_refused_outside_it(booted, tmp_path):
    machine, _ = booted
    import_dir = conf_value(machine, "server.directories.import")
    assert import_dir == "/var/lib/neo4j/import"  # the rendered conf's, created by install_configuration
    # Two files neo4j may read: one in the import directory, one beside it.
    for path in (f"{import_dir}/people.csv", "/var/lib/neo4j/outside.csv"):
        machine.exec("sh", "-c", 'printf "name\\nada\\ngrace\\n" >"$1" && chown neo4j:neo4j "$1"', "_", path,
                     check=True)
    inside = cypher(machine, "LOAD CSV FROM 'file:///people.csv' AS row RETURN count(row) AS n", tmp_path)
    assert inside == {"rows": [{"n": 3}]}, inside
    for url in ("file:///../outside.csv", "file:///etc/passwd", "file:///etc/neo4j/neo4j.conf",
                "file:///../certificates/bolt/private.key"):
        refused = cypher(machine, f"LOAD CSV FROM '{url}' AS row RETURN count(row) AS n", tmp_path)
        assert refused.get("code") == "Neo.ClientError.Statement.ExternalResourceFailed", (url, refused)
    # Refused for where they are, not for who reads them: the neo4j user can read each of them.
    for path in ("/var/lib/neo4j/outside.csv", "/etc/passwd", "/etc/neo4j/neo4j.conf",
                 "/var/lib/neo4j/certificates/bolt/private.key"):
        assert machine.exec("runuser", "-u", "neo4j", "--", "test", "-r", path).returncode == 0, path


SETUP_SCRIPT = "/usr/local/lib/neo4j-cluster/setup-neo4j.sh"
# What setup-neo4j.sh writes (the boot-status file and metric aside, which say when it last ran).
WRITTEN = ("/etc/neo4j", "/etc/neo4j-cluster", "/etc/fstab", "/etc/apt/sources.list.d", "/etc/apt/keyrings",
           "/etc/systemd/system", "/usr/local/lib/neo4j-cluster", "/var/lib/neo4j/certificates",
           "/var/lib/neo4j/import", "/opt/neo4j-cluster")


def files_of(machine: Machine) -> dict[str, str]:
    """path → owner, mode and content hash (or a link's target) of every file under WRITTEN."""
    listing = machine.exec(
        "sh", "-c", 'find "$@" -xdev -name __pycache__ -prune -o -type l -printf "%p -> %l\\n" -o -type f '
                    '-printf "%p %u:%g %m " -exec sha256sum {} \\;', "_", *WRITTEN, check=True, timeout=300).stdout
    return dict(line.split(" ", 1) for line in listing.splitlines())


def neo4j_process(machine: Machine) -> str:
    return machine.exec("systemctl", "show", "neo4j", "-p", "MainPID", "-p", "ExecMainStartTimestampMonotonic",
                        "-p", "NRestarts", check=True).stdout


def test_a_second_run_of_setup_neo4j_changes_nothing_and_restarts_nothing(booted):
    machine, _ = booted
    before_files, before_neo4j = files_of(machine), neo4j_process(machine)
    assert "MainPID=0" not in before_neo4j, before_neo4j
    again = machine.exec(SETUP_SCRIPT, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    lines = [line for line in again.stdout.splitlines() if line.startswith("setup-neo4j:")]
    assert lines[-1] == "setup-neo4j: done", lines
    assert not [line for line in lines if "restarting" in line or "formatting" in line], lines
    assert neo4j_process(machine) == before_neo4j  # the same Neo4j process, started once
    after_files = files_of(machine)
    changed = {path: (before_files.get(path), after_files.get(path))
               for path in before_files.keys() | after_files.keys() if before_files.get(path) != after_files.get(path)}
    assert not changed, changed
    assert machine.exec("cat", BOOT_STATUS, check=True).stdout.startswith("state=done step=done ")


def test_certificate_renewal_service_runs_and_leaves_the_served_certificate_alone(booted):
    machine, _ = booted
    before = neo4j_process(machine)
    journal = run_unit(machine, "neo4j-cert-renew.service", timeout=600)
    # The secret holds the certificate already installed and served: nothing to bring, no restart.
    assert "certificates unchanged and served" in journal, journal
    assert neo4j_process(machine) == before


GROWN_BY = 5 << 30


def test_growing_the_volume_grows_the_filesystem_while_mounted(booted, rendered):
    machine, _ = booted
    assert machine.volume is not None

    def size() -> int:
        return int(machine.exec("df", "-B1", "--output=size", "/var/lib/neo4j/data", check=True).stdout.split()[-1])

    before, planned = size(), machine.volume.size_bytes
    assert planned == rendered.data_volume_gib << 30  # the plan's size (sparse)
    grow(machine.volume, planned + GROWN_BY)  # as `aws ec2 modify-volume --size` does, the machine running
    assert int(machine.exec("blockdev", "--getsize64", machine.volume.device, check=True).stdout) == planned + GROWN_BY
    journal = run_unit(machine, "grow-data-volume.service")
    after = size()
    assert after > before + GROWN_BY * 9 // 10, (before, after, journal)
    assert "grow-data-volume: grew /var/lib/neo4j/data" in journal, journal
    # Run again, it finds nothing to grow and says nothing.
    again = run_unit(machine, "grow-data-volume.service")
    assert size() == after and again.count("grow-data-volume: grew") == 1, again


FRESHNESS_METRICS = "/var/lib/prometheus/node-exporter/neo4j_backup_freshness.prom"


def run_unit(machine: Machine, unit: str, timeout: float = 300) -> str:
    """`systemctl start` of a oneshot unit (it returns once the unit ran); asserts it succeeded, returns its
    journal."""
    started = machine.exec("systemctl", "start", unit, timeout=timeout)
    journal = machine.exec("journalctl", "--no-pager", "-u", unit, "-n", "60").stdout
    assert started.returncode == 0, started.stderr + journal
    assert machine.exec("systemctl", "show", "-p", "Result", "--value", unit).stdout.strip() == "success", journal
    return journal


def newest_backup_metric(machine: Machine, database: str) -> float:
    """neo4j_backup_last_complete_timestamp_seconds of `database` as node exporter serves it (port 9100)."""
    metrics = machine.in_netns("curl", "-fsS", "http://127.0.0.1:9100/metrics").stdout
    name = f'neo4j_backup_last_complete_timestamp_seconds{{database="{database}"}}'
    values = [float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(name + " ")]
    assert len(values) == 1, metrics[-2000:]
    return values[0]


def test_backup_service_puts_a_backup_into_the_stand_in_bucket_and_freshness_shows_it(booted, rendered):
    machine, _ = booted
    # Last in the module: Community's backup stops Neo4j for its dump and starts it again.
    bucket, stack = rendered.tags["BackupBucket"], rendered.stack
    refused = machine.refused_aws_requests()  # the role enforcement test's own probes
    run_unit(machine, "neo4j-backup-freshness.service")
    assert newest_backup_metric(machine, "neo4j") == 0  # no backup yet

    journal = run_unit(machine, "neo4j-backup.service", timeout=900)
    # In the stand-in's bucket, read with the instance role as the restore would: each database's manifest.
    keys = machine.exec("aws", "s3api", "list-objects-v2", "--region", rendered.region, "--bucket", bucket,
                        "--prefix", f"{stack}/", "--query", "Contents[].Key", "--output", "json",
                        check=True).stdout
    for database in ("neo4j", "system"):
        assert any(key.startswith(f"{stack}/{database}/") and key.endswith("/manifest.json")
                   for key in json.loads(keys)), (database, keys, journal)
    assert machine.exec("systemctl", "is-active", "neo4j").stdout.strip() == "active"
    # Its consistency checks ran, and the log4j-<n>.xml each leaves in java.io.tmpdir went with the unit's own
    # /tmp (PrivateTmp=true; tests/unit/test_backup_job_lock.py quotes systemd.exec).
    whole = machine.exec("journalctl", "--no-pager", "-u", "neo4j-backup.service", check=True).stdout
    assert "consistency check passed" in whole, whole[-3000:]
    assert machine.exec("find", "/tmp", "/var/tmp", "-name", "log4j-*", check=True).stdout == ""

    run_unit(machine, "neo4j-backup-freshness.service")
    newest = newest_backup_metric(machine, "neo4j")
    now = float(machine.exec("date", "+%s", check=True).stdout)
    assert now - 900 < newest <= now, (newest, now)
    # The backup and freshness jobs asked nothing of AWS that the role's policy refused (none fell back quietly).
    assert machine.refused_aws_requests() == refused


# --- a boot that fails: a second machine, the same user data, no data volume -------------------------------------

@pytest.fixture(scope="module")
def failed_boot(machines) -> tuple[Machine, BootReport]:
    _, without_volume = machines
    return without_volume, boot_report(without_volume, timeout=BOOT_TIMEOUT_SECONDS)


def test_a_failed_step_leaves_the_boot_failed_metric_and_check_names_the_server_and_step(failed_boot, rendered):
    machine, report = failed_boot
    assert machine.volume is None
    assert not report.completed, report.text()
    assert report.boot_status.get("state") == "failed", report.text()
    assert report.boot_status.get("step") == "mount_data_volume", report.text()
    assert report.setup_lines[-1].startswith("setup-neo4j: FAILED at step mount_data_volume"), report.text()
    failed = 'neo4j_cluster_boot_failed{step="mount_data_volume"} 1'
    assert failed in report.boot_metric.splitlines(), report.boot_metric
    # node exporter's textfile collector serves it on 9100, where check (and Prometheus's alert) read it.
    served = machine.in_netns("curl", "-fsS", "http://127.0.0.1:9100/metrics").stdout
    assert failed in served.splitlines(), served[-2000:]
    # check, run where it reaches the server (in the machine's namespace, as from a machine in the VPC): Bolt does
    # not answer (Neo4j was never installed), and it says which server's boot failed at which step.
    ca_file = machine.surroundings.ca_file
    result = machine.in_netns(
        "env", f"NEO4J_PASSWORD={machine.surroundings.admin_password}", sys.executable, str(ROOT / "scripts/check.py"),
        "--servers", "core-1=bolt://127.0.0.1:7687", "--ca-cert", str(ca_file),
        "--expect-version", rendered.neo4j_version, "--expect-edition", "community", "--timeout", "3",
        timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "core-1: its boot script FAILED at step mount_data_volume" in result.stdout, result.stdout + result.stderr


# --- a replaced machine: a new instance, the same data volume -----------------------------------------------------

def test_a_replaced_machine_with_the_same_volume_keeps_the_data_and_sets_no_new_initial_password(
        booted, dockerd, rendered, tmp_path):
    machine, _ = booted
    # Last in the module: the first machine goes, as pulumi up replaces an instance (its volume is protected and
    # attached to the new one). Its data: a node, and the admin password its first boot set.
    marker = f"rehearsal-{machine.instance_id}"
    assert cypher(machine, f"CREATE (n:Rehearsal {{marker: '{marker}'}}) RETURN n.marker AS m", tmp_path) == {
        "rows": [{"m": marker}]}
    first_password = machine.surroundings.admin_password
    dockerd.docker("stop", "--time", "60", machine.container, timeout=120)  # systemd's poweroff unmounts the volume
    with running_machine(dockerd, base_image(dockerd).tag, rendered, volume=machine.volume) as (replaced, _):
        report = boot_report(replaced, timeout=BOOT_TIMEOUT_SECONDS)
        assert report.completed, report.where_it_stopped()
        assert replaced.instance_id != machine.instance_id and replaced.volume == machine.volume
        # The volume held an xfs filesystem: mounted, not formatted again.
        output = replaced.exec("cat", "/var/log/cloud-init-output.log", check=True).stdout
        assert "formatting" not in output and "setup-neo4j: step set_initial_password" in output, report.text()
        # Its secret holds another password (the rehearsal draws one per machine): had set_initial_password set
        # it, the first one would be refused. The system database on the volume kept the first.
        assert replaced.surroundings.admin_password != first_password
        found = cypher(replaced, f"MATCH (n:Rehearsal {{marker: '{marker}'}}) RETURN count(n) AS n", tmp_path,
                       password=first_password)
        assert found == {"rows": [{"n": 1}]}, found
        refused = cypher(replaced, "RETURN 1 AS one", tmp_path)
        assert refused.get("code") == "Neo.ClientError.Security.Unauthorized", refused
