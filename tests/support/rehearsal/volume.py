"""The data volume STAND-IN: a loop device over a sparse file, given to the machine (docker --device) and named in
the machine's /dev/disk/by-id as udev names an attached EBS volume on Nitro, once the machine runs (as a real
attachment, it appears some time after boot; setup-neo4j.sh waits for it)."""
from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# mkfs.xfs refuses filesystems under 300 MB; the file is sparse, so the size costs nothing until written.
SIZE_BYTES = 1 << 30


@dataclass(frozen=True)
class LoopVolume:
    volume_id: str
    device: str  # /dev/loopN on the host, the same path in the machine

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
        yield LoopVolume(volume_id, device)
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)
