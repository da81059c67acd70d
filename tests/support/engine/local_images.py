"""Container images built on this machine for the engine tests' dockerd, named as LOCAL BUILDS
(neo4j-cluster-local-build/...): no image registry is reachable, so nothing is pulled.

minimal_image: a few of this machine's own programs (Debian's sh, sleep, cat, stat) and the shared libraries
`ldd` says they load, imported as an image whose command is `sleep infinity`: a container that runs until it is
stopped, a shell to look inside it. A few megabytes, where the boot rehearsal's base image is ~2 GB on vfs storage,
which copies an image whole for each container.
"""
from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.support.rehearsal.dockerd import PrivateDockerd

REPOSITORY = "neo4j-cluster-local-build"
MINIMAL_PROGRAMS = {"sh": "sh", "sleep": "sleep", "cat": "cat", "stat": "stat"}
_LIBRARY = re.compile(r"(?:=> )?(/\S+) \(0x[0-9a-f]+\)")


def _libraries(program: str) -> list[str]:
    """The paths `ldd` prints for a program: its libraries and its loader, as the program asks for them."""
    listed = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    return [match.group(1) for match in map(_LIBRARY.search, listed.splitlines()) if match]


def minimal_rootfs() -> bytes:
    """The tar stream of the minimal image's files: each program in /usr/bin under its name, each library at the
    path the programs load it from."""
    files: dict[str, Path] = {}
    for name, program in MINIMAL_PROGRAMS.items():
        found = shutil.which(program)
        if found is None:
            raise RuntimeError(f"local image: {program} is not installed here")
        files[f"usr/bin/{name}"] = Path(found).resolve()
        for library in _libraries(found):
            files[library.lstrip("/")] = Path(library).resolve()
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for name in sorted(files):
            data = files[name].read_bytes()
            member = tarfile.TarInfo(name)
            member.size, member.mode = len(data), 0o755
            archive.addfile(member, io.BytesIO(data))
    return stream.getvalue()


def minimal_image(dockerd: PrivateDockerd) -> str:
    """neo4j-cluster-local-build/minimal:<content hash> in `dockerd`, imported once (earlier builds go)."""
    rootfs = minimal_rootfs()
    reference = f"{REPOSITORY}/minimal:{hashlib.sha256(rootfs).hexdigest()[:12]}"
    if dockerd.docker("image", "inspect", reference, check=False).returncode != 0:
        imported = subprocess.run([dockerd.client, "import", "--change", 'CMD ["/usr/bin/sleep", "infinity"]', "-",
                                   reference], input=rootfs, env=dockerd.env(), capture_output=True, timeout=300)
        if imported.returncode != 0:
            raise RuntimeError(f"docker import of {reference}: {imported.stderr.decode(errors='replace')}")
    others = [tag for tag in dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                                            f"{REPOSITORY}/minimal").stdout.split() if tag != reference]
    if others:
        dockerd.docker("image", "rm", "--force", *others, check=False)
    return reference
