"""setup-neo4j.sh's disk logic run for real against loop devices this test creates: real blkid, mkfs.xfs,
mount and xfs_growfs. The volume is found as on Nitro, by a by-id link named after the volume id, here in
a sandbox DISK_BY_ID directory pointing at the loop device; fstab and the data directory are sandboxed too.

Only the loop devices made here are ever formatted, mounted, grown or detached (always, in a finally)."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.aws.user_data import aws_artifacts
from components.topology import plan_topology
from tests.conftest import make_settings, require_tool
from tests.support.shell import sandbox

pytestmark = pytest.mark.integration

VOLUME_ID = "vol-0123456789abcdef0"
BY_ID_NAME = "nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"  # the NVMe serial drops the dash
SIZE = "320M"  # mkfs.xfs refuses filesystems under 300 MiB
GROW_FUNCTIONS = ["filesystem_blocks", "grow_data_filesystem"]  # templates/aws/_grow_filesystem.sh.j2


@dataclass
class LoopDisk:
    image: Path
    device: str
    by_id: Path
    data: Path
    fstab: Path


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=check)


@pytest.fixture
def disk(tmp_path):
    if os.geteuid() != 0 or not Path("/dev/loop-control").exists():
        pytest.skip("loop devices need root and /dev/loop-control")
    for tool in ("losetup", "blkid", "mkfs.xfs", "xfs_growfs", "mount", "umount", "mountpoint"):
        require_tool(tool)
    image = tmp_path / "data.img"
    sh("truncate", "-s", SIZE, str(image))
    device = sh("losetup", "--find", "--show", str(image)).stdout.strip()
    assert device.startswith("/dev/loop"), device
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / BY_ID_NAME).symlink_to(device)
    data = tmp_path / "data"
    try:
        yield LoopDisk(image, device, by_id, data, tmp_path / "fstab")
    finally:
        unmount(data)
        sh("losetup", "-d", device, check=False)


def unmount(data: Path) -> None:
    # Only our sandbox directory, and only while something is mounted there.
    while data.exists() and sh("mountpoint", "-q", str(data), check=False).returncode == 0:
        sh("umount", str(data))


def setup_script() -> str:
    settings = make_settings(version="5.26.30")
    return aws_artifacts(settings, plan_topology(settings))["core-1"]["setup-neo4j.sh"]


def boot(tmp_path: Path, disk: LoopDisk) -> subprocess.CompletedProcess:
    """mount_data_volume as the boot runs it, with the machine's paths in the sandbox."""
    box = sandbox(tmp_path / "box")
    prelude = (f'DATA_DIR="{disk.data}"\nFSTAB="{disk.fstab}"\nDISK_BY_ID="{disk.by_id}"\n'
               "DATA_VOLUME_WAIT_SECONDS=10\n"
               'log() { echo "setup-neo4j: $*"; }\n'
               f'instance_tag() {{ [[ "$1" == DataVolumeId ]] && echo {VOLUME_ID}; }}\n')
    return box.run(setup_script(), ["data_volume_device", "mount_data_volume", *GROW_FUNCTIONS],
                   "mount_data_volume\n", prelude=prelude)


def mounted_source(data: Path) -> str:
    return sh("findmnt", "-n", "-o", "SOURCE", "--mountpoint", str(data), check=False).stdout.strip()


def probe(device: str, tag: str) -> str:
    return sh("blkid", "-p", "-s", tag, "-o", "value", device, check=False).stdout.strip()


def size_of(data: Path) -> int:
    stat = os.statvfs(data)
    return stat.f_blocks * stat.f_frsize


def test_first_boot_formats_the_empty_volume_and_mounts_it_by_uuid(tmp_path, disk):
    assert sh("blkid", "-p", disk.device, check=False).returncode == 2  # nothing on it
    result = boot(tmp_path, disk)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "formatting" in result.stdout
    assert probe(disk.device, "TYPE") == "xfs"
    assert mounted_source(disk.data) == disk.device
    uuid = probe(disk.device, "UUID")
    assert disk.fstab.read_text().splitlines() == [f"UUID={uuid} {disk.data} xfs defaults,noatime,nofail 0 2"]


def test_the_store_survives_an_unmount_and_a_second_boot_without_a_format(tmp_path, disk):
    first = boot(tmp_path, disk)
    assert first.returncode == 0, first.stdout + first.stderr
    uuid = probe(disk.device, "UUID")
    (disk.data / "databases").mkdir()
    (disk.data / "databases" / "store").write_text("the graph")
    unmount(disk.data)
    assert not (disk.data / "databases").exists()

    again = boot(tmp_path, disk)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "formatting" not in again.stdout
    assert probe(disk.device, "UUID") == uuid
    assert (disk.data / "databases" / "store").read_text() == "the graph"
    assert len(disk.fstab.read_text().splitlines()) == 1  # the fstab entry is not repeated

    mounted = boot(tmp_path, disk)  # a re-run while mounted changes nothing
    assert mounted.returncode == 0, mounted.stdout + mounted.stderr
    assert (disk.data / "databases" / "store").read_text() == "the graph"
    assert len(disk.fstab.read_text().splitlines()) == 1


def test_a_volume_with_another_filesystem_is_never_formatted(tmp_path, disk):
    require_tool("mkfs.ext4")
    sh("mkfs.ext4", "-q", "-F", disk.device)
    uuid = probe(disk.device, "UUID")
    result = boot(tmp_path, disk)
    assert result.returncode != 0
    assert "not xfs" in result.stdout and "formatting" not in result.stdout
    assert probe(disk.device, "TYPE") == "ext4" and probe(disk.device, "UUID") == uuid
    assert mounted_source(disk.data) == ""
    assert not disk.fstab.exists() or not disk.fstab.read_text()


def test_a_volume_with_a_partition_table_is_never_formatted(tmp_path, disk):
    sfdisk = require_tool("sfdisk")
    subprocess.run([sfdisk, "--quiet", "--no-reread", disk.device], input="label: gpt\n,,L\n", text=True,
                   capture_output=True, timeout=60, check=True)
    result = boot(tmp_path, disk)
    assert result.returncode != 0
    assert "formatting" not in result.stdout
    assert probe(disk.device, "PTTYPE") == "gpt"
    assert mounted_source(disk.data) == ""


def test_a_grown_volume_grows_the_filesystem_at_the_next_boot(tmp_path, disk):
    first = boot(tmp_path, disk)
    assert first.returncode == 0, first.stdout + first.stderr
    (disk.data / "store").write_text("kept")
    before = size_of(disk.data)
    unmount(disk.data)

    # What `neo4j:dataVolumeSizeGb` does to the EBS volume in place: the device grows under the filesystem.
    sh("truncate", "-s", "640M", str(disk.image))
    sh("losetup", "-c", disk.device)
    grown = boot(tmp_path, disk)
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert "formatting" not in grown.stdout
    assert size_of(disk.data) > before + 250 * 1024 * 1024
    assert (disk.data / "store").read_text() == "kept"


def test_a_volume_grown_while_mounted_grows_on_a_re_run(tmp_path, disk):
    first = boot(tmp_path, disk)
    assert first.returncode == 0, first.stdout + first.stderr
    before = size_of(disk.data)
    sh("truncate", "-s", "640M", str(disk.image))
    sh("losetup", "-c", disk.device)
    again = boot(tmp_path, disk)
    assert again.returncode == 0, again.stdout + again.stderr
    assert size_of(disk.data) > before + 250 * 1024 * 1024


# --- the grow unit: a volume grown while the machine runs (no boot script, no restart) -------------------


def grow_command(tmp_path: Path, disk: LoopDisk) -> list[str]:
    """The grow service's ExecStart, with its script rendered for the sandbox's data directory."""
    from components.aws.user_data import GROW_DATA_VOLUME_PLACES, render_grow_data_volume

    files = render_grow_data_volume(str(disk.data))
    script = tmp_path / "grow-data-volume.sh"
    script.write_text(files["grow-data-volume.sh"])
    exec_start = next(line.split("=", 1)[1] for line in files["grow-data-volume.service"].splitlines()
                      if line.startswith("ExecStart="))
    command = exec_start.split()
    assert command == ["/bin/bash", GROW_DATA_VOLUME_PLACES["grow-data-volume.sh"]]
    return [command[0], str(script)]


def test_the_servers_and_the_monitoring_node_run_the_grow_unit_for_their_own_data_directory():
    from components.aws.user_data import NEO4J_DATA_DIR, PROMETHEUS_DATA_DIR, render_grow_data_volume
    from components.neo4j_defaults import directories

    settings = make_settings(version="5.26.30")
    artifacts = aws_artifacts(settings, plan_topology(settings))
    assert dict(directories("aws", "5"))["server.directories.data"] == NEO4J_DATA_DIR
    assert f"DATA_DIR={NEO4J_DATA_DIR}\n" in artifacts["core-1"]["setup-neo4j.sh"]
    for machine, data_dir in (("core-1", NEO4J_DATA_DIR), ("replica-1", NEO4J_DATA_DIR),
                              ("monitoring", PROMETHEUS_DATA_DIR)):
        for name, text in render_grow_data_volume(data_dir).items():
            assert artifacts[machine][name] == text, (machine, name)
    # Both boot scripts enable the timer once the volume is mounted.
    for machine, script in (("core-1", "setup-neo4j.sh"), ("monitoring", "mount-prometheus-data.sh")):
        text = artifacts[machine][script]
        assert "systemctl enable --now grow-data-volume.timer" in text
        body = text.split("\n}\n")[-1] if machine == "monitoring" else text
        assert body.index("mount_data_volume\n") < body.index("enable_filesystem_growth\n"), machine


def test_the_grow_unit_grows_the_mounted_filesystem_after_the_volume_grew(tmp_path, disk):
    first = boot(tmp_path, disk)
    assert first.returncode == 0, first.stdout + first.stderr
    (disk.data / "store").write_text("kept")
    command = grow_command(tmp_path, disk)
    unchanged = sh(*command)
    assert unchanged.stdout == "" and unchanged.stderr == ""  # nothing to grow: nothing done, nothing logged
    before = size_of(disk.data)

    # neo4j:dataVolumeSizeGb grew the volume in place; the kernel sees the new size (on EC2 by itself).
    sh("truncate", "-s", "640M", str(disk.image))
    sh("losetup", "-c", disk.device)
    assert mounted_source(disk.data) == disk.device  # still mounted: no reboot, no re-run of the boot script
    grown = sh(*command)
    assert f"grow-data-volume: grew {disk.data} ({disk.device}) from " in grown.stdout
    after = size_of(disk.data)
    assert after > before + 250 * 1024 * 1024
    assert (disk.data / "store").read_text() == "kept"
    assert mounted_source(disk.data) == disk.device

    again = sh(*command)  # idempotent: the second run finds nothing to do
    assert again.stdout == "" and size_of(disk.data) == after


def test_the_grow_unit_leaves_an_unmounted_data_directory_alone(tmp_path, disk):
    disk.data.mkdir()
    result = sh(*grow_command(tmp_path, disk))
    assert "is not mounted: nothing to grow" in result.stdout
    assert probe(disk.device, "TYPE") == ""  # the empty loop device was not touched
