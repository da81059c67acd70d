"""Boot rehearsal (issue 23, first slice): the user data the program renders for a community single-server AWS
stack boots in a machine container (systemd as PID 1, cloud-init with a NoCloud seed) of a private dockerd, with
the IMDSv2 stand-in at 169.254.169.254 inside the machine's own network namespace.

What these tests show is what works so far: the machine boots, cloud-init runs exactly our seed's user data, and
the stand-in answers where the scripts ask and nowhere else. How far setup-neo4j.sh gets is printed by
`make rehearse` (it stops before Neo4j's package: the local apt repository stand-in is the next slice).

One machine for the module (the boot is the cost); the base image is built once and cached
(tests/support/rehearsal/base_image.py).
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from tests.support.rehearsal.base_image import base_image
from tests.support.rehearsal.boot_report import BootReport, boot_report
from tests.support.rehearsal.dockerd import PrivateDockerd, private_dockerd
from tests.support.rehearsal.imds_standin import ADDRESS
from tests.support.rehearsal.machine import SEED_DIR, Machine, running_machine
from tests.support.rehearsal.user_data import RenderedMachine, rendered_server

pytestmark = pytest.mark.integration

BOOT_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def dockerd() -> Iterator[PrivateDockerd]:
    with private_dockerd() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> RenderedMachine:
    return rendered_server(out=tmp_path_factory.mktemp("rehearsal-plan") / "out")


@pytest.fixture(scope="module")
def booted(dockerd, rendered) -> Iterator[tuple[Machine, BootReport]]:
    image = base_image(dockerd)
    with running_machine(dockerd, image.tag, rendered) as (machine, _log):
        yield machine, boot_report(machine, timeout=BOOT_TIMEOUT_SECONDS)


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


def test_runcmd_started_setup_neo4j_which_wrote_its_boot_status(booted):
    _, report = booted
    # runcmd ran our boot script: its first step is logged and its boot status written (how far it got is
    # `make rehearse`'s report; this slice stops before Neo4j's package).
    assert report.setup_lines and report.setup_lines[0] == "setup-neo4j: step mount_data_volume", report.text()
    assert report.boot_status.get("step"), report.text()
    assert "neo4j_cluster_boot_failed{step=" in report.boot_metric, report.text()


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
    # The machine's namespace holds lo alone: nothing of the boot can leave it.
    assert [line.split()[1] for line in machine.in_netns("ip", "-o", "link", "show").stdout.splitlines()] == ["lo:"]
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
