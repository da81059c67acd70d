"""The data volume STAND-IN: a loop device over a sparse file, given to the machine (docker --device) and named in
the machine's /dev/disk/by-id as udev names an attached EBS volume on Nitro, once the machine runs (as a real
attachment, it appears some time after boot; setup-neo4j.sh waits for it)."""
from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# When the plan gives no size. mkfs.xfs refuses filesystems under 300 MB; the file is sparse, so the size costs
# nothing until written.
SIZE_BYTES = 1 << 30


@dataclass(frozen=True)
class LoopVolume:
    volume_id: str
    device: str  # /dev/loopN on the host, the same path in the machine
    backing: Path  # the sparse file behind it (grown, then `losetup -c`, as an EBS volume is modified in place)

    @property
    def size_bytes(self) -> int:
        return self.backing.stat().st_size

    @property
    def by_id(self) -> str:
        # templates/aws/_data_volume.sh.j2 data_volume_device: the serial is the volume id without its dashes.
        return f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{self.volume_id.replace('-', '')}"


@contextlib.contextmanager
def loop_volume(volume_id: str, work: Path, size_bytes: int = SIZE_BYTES) -> Iterator[LoopVolume]:
    """A loop device over a new sparse file in `work`, detached when the block ends."""
    backing = work / f"{volume_id}.img"
    with backing.open("wb") as handle:
        handle.truncate(size_bytes)
    result = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: losetup could not attach the data volume's file: {result.stderr.strip()}")
    device = result.stdout.strip()
    try:
        yield LoopVolume(volume_id, device, backing)
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def grow(volume: LoopVolume, size_bytes: int) -> None:
    """The volume modified in place to `size_bytes` (as `aws ec2 modify-volume --size`): its file is extended and
    the loop device told of its new capacity, while the machine keeps it attached and mounted."""
    with volume.backing.open("r+b") as handle:
        handle.truncate(size_bytes)
    result = subprocess.run(["losetup", "--set-capacity", volume.device], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: losetup --set-capacity {volume.device} failed: {result.stderr.strip()}")
