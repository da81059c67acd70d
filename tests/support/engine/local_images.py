"""Container images built on this machine for the engine tests' dockerd, named as LOCAL BUILDS
(neo4j-cluster-local-build/...): no image registry is reachable, so nothing is pulled.

minimal_image: Debian's static busybox (package busybox-static, installed by `make tools`) and the applets the
tests use (sh, sleep, cat, stat, httpd, wget), imported as an image whose command is `sleep infinity` (a
container that runs until it is stopped) or another one (busybox's httpd: a server); a shell to look inside it,
an HTTP client for health checks. Two megabytes,
where the boot rehearsal's base image is ~2 GB on vfs storage, which copies an image whole for each container.
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile

from tests.support.rehearsal.dockerd import PrivateDockerd

REPOSITORY = "neo4j-cluster-local-build"
# On a local build that stands for an image the stack names (stack_images.py): the reference it stands for.
LABEL_BUILD_OF = "neo4j-cluster.local-build-of"
APPLETS = ("sh", "sleep", "cat", "stat", "httpd", "wget")


def minimal_rootfs() -> bytes:
    """The tar stream of the minimal image: /bin/busybox and a link to it for each applet."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise RuntimeError("local image: busybox is not installed: run `make tools` (scripts/install-tools.sh)")
    data = open(busybox, "rb").read()
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for directory in ("bin", "tmp"):
            member = tarfile.TarInfo(directory)
            member.type, member.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            archive.addfile(member)
        member = tarfile.TarInfo("bin/busybox")
        member.size, member.mode = len(data), 0o755
        archive.addfile(member, io.BytesIO(data))
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
    return stream.getvalue()


def minimal_image(dockerd: PrivateDockerd, command: tuple[str, ...] = ("/bin/sleep", "infinity")) -> str:
    """neo4j-cluster-local-build/minimal:<hash of its files and command> in `dockerd`, imported once (earlier
    builds of the same command go)."""
    rootfs, cmd = minimal_rootfs(), json.dumps(list(command))
    digest = hashlib.sha256(rootfs + cmd.encode()).hexdigest()[:12]
    reference = f"{REPOSITORY}/minimal:{command[0].rsplit('/', 1)[-1]}-{digest}"
    if dockerd.docker("image", "inspect", reference, check=False).returncode != 0:
        imported = subprocess.run([dockerd.client, "import", "--change", f"CMD {cmd}", "-", reference],
                                  input=rootfs, env=dockerd.env(), capture_output=True, timeout=300)
        if imported.returncode != 0:
            raise RuntimeError(f"docker import of {reference}: {imported.stderr.decode(errors='replace')}")
    same_command = reference.rsplit("-", 1)[0]
    others = [tag for tag in dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                                            f"{REPOSITORY}/minimal").stdout.split()
              if tag != reference and tag.rsplit("-", 1)[0] == same_command]
    if others:
        dockerd.docker("image", "rm", "--force", *others, check=False)
    return reference
