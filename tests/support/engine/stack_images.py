"""LOCAL BUILDS of the images the local stack names (components/docker/images.py), for the engine tests' dockerd:
no image registry is reachable, so the official neo4j, haproxy, prom/prometheus and grafana/grafana images cannot
be pulled. Each build carries the label `neo4j-cluster.local-build-of=<the reference it stands for>`; the docker
stand-in's RemoteImage finds a reference's build by it (tests/support/engine/docker_standin.py), so the stack's own
references stay unchanged and nothing here is tagged as an official image.

What each one is, and how it differs from the image it stands for:
- neo4j:<version> (Community): Debian bookworm's OpenJDK 17 and tini, NEO4J_HOME=/var/lib/neo4j holding the
  release's jars from Maven Central (tests/support/neo4j_dist.py resolves them; the distribution tarball is not on
  Maven Central), bin/neo4j and bin/neo4j-admin as short launchers of the same bootloader classes, the image's uid
  and gid 7474 (`neo4j`), /data and /logs as its volumes, and an ENTRYPOINT STAND-IN (images/
  neo4j-entrypoint-standin.sh) doing what docker-neo4j's does of what our containers rely on.
- haproxy:<tag>: Debian's haproxy 2.6 (the stack pins 3.2) started as the official image's entrypoint starts it
  (`haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg`), GNU wget for the health check (busybox's there).
- prom/prometheus:<tag>: Debian's prometheus 2.42 (the stack pins v3.5) with the official image's entrypoint,
  command, user (nobody) and /prometheus.
- grafana/grafana:<tag>: a GRAFANA STAND-IN (Grafana is not in Debian's archive): busybox's httpd answering
  /api/health on Grafana's port, started only when the provisioning files the real one reads are in place. It
  proves the container, its uploads and its health check, not Grafana's reading of them (promtool and the unit
  tests check the rendered files).

All but Grafana's share one Debian root (imported_root of the boot rehearsal's base image, its own package list,
cached under cache_root()/engine); each image is that root plus its own files, committed from a created container
(no builder, no RUN).
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from components.docker.images import GRAFANA_IMAGE, HAPROXY_IMAGE, PROMETHEUS_IMAGE, ImageRef
from components.docker.layout import GRAFANA_UID, HAPROXY_CFG, NEO4J_HOME, NEO4J_UID, PROMETHEUS_DATA
from components.monitoring import MONITORING_NODE_PATHS
from components.ports import PORTS
from tests.support.engine.local_images import LABEL_BUILD_OF, REPOSITORY, minimal_image
from tests.support.neo4j_dist import cache_root, line_of, neo4j_classpath
from tests.support.rehearsal.base_image import imported_root
from tests.support.rehearsal.dockerd import PrivateDockerd

# What the official images run, from Debian's archive: Java 17 for Neo4j 5.26 (its image runs Temurin's), tini (the
# neo4j image's init), haproxy, prometheus, wget for the health checks, procps to look inside; locales because
# build_rootfs generates one.
ROOT_PACKAGES = ("openjdk-17-jre-headless", "tini", "haproxy", "prometheus", "wget", "procps", "locales")
ROOT_REPOSITORY = f"{REPOSITORY}/debian"
IMAGES_DIR = Path(__file__).with_name("images")
NOBODY = 65534
# The official neo4j image's entry points of the 5 line (the distribution's bin/neo4j and bin/neo4j-admin start
# these; tests/support/neo4j_dist.py runs the same classes).
NEO4J_BOOTLOADER = {"5": "org.neo4j.server.startup.Neo4jCommand", "2025": "org.neo4j.server.startup.Neo4jCommand"}
NEO4J_ADMIN_BOOTLOADER = "org.neo4j.server.startup.Neo4jAdminCommand"


@dataclass(frozen=True)
class Member:
    """A file, directory or symbolic link of an image's own files."""
    path: str  # relative to /
    content: bytes | None = None  # None: a directory (or a link, with target)
    mode: int = 0o644
    uid: int = 0
    target: str | None = None


def tar_of(members: list[Member]) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w") as archive:
        for member in members:
            info = tarfile.TarInfo(member.path)
            info.mode, info.uid, info.gid = member.mode, member.uid, member.uid
            if member.target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, member.target
                archive.addfile(info)
            elif member.content is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(member.content)
                archive.addfile(info, io.BytesIO(member.content))
    return stream.getvalue()


def debian_root(dockerd: PrivateDockerd) -> str:
    """The shared Debian root as an image (built and cached first when missing); its tag."""
    # No systemd in this root: no unit to disable.
    return imported_root(dockerd, ROOT_PACKAGES, (), cache_root() / "engine", ROOT_REPOSITORY, ("/bin/sh",)).tag


def file_of(dockerd: PrivateDockerd, image: str, path: str) -> bytes:
    """One file of an image (`docker cp` out of a created container)."""
    created = dockerd.docker("create", "--network", "none", image).stdout.strip()
    try:
        copied = subprocess.run([dockerd.client, "cp", f"{created}:{path}", "-"], env=dockerd.env(),
                                capture_output=True, timeout=120, check=True).stdout
    finally:
        dockerd.docker("rm", "--force", created)
    with tarfile.open(fileobj=io.BytesIO(copied)) as archive:
        return archive.extractfile(archive.getmembers()[0]).read()


def committed(dockerd: PrivateDockerd, base: str, name: str, stands_for: ImageRef, files: bytes,
              changes: list[str]) -> str:
    """`base` plus the tar stream `files`, with the Dockerfile `changes`, as neo4j-cluster-local-build/<name>:<hash>
    labelled as the build of `stands_for`; kept between runs (same hash: nothing to do), earlier builds go."""
    changes = [*changes, f"LABEL {LABEL_BUILD_OF}={stands_for.reference}"]
    digest = hashlib.sha256(base.encode() + files + json.dumps(changes).encode()).hexdigest()[:12]
    repository = f"{REPOSITORY}/{name}"
    tag = f"{repository}:{digest}"
    if dockerd.docker("image", "inspect", tag, check=False).returncode != 0:
        created = dockerd.docker("create", "--network", "none", base).stdout.strip()
        try:
            copy = subprocess.run([dockerd.client, "cp", "-", f"{created}:/"], input=files, env=dockerd.env(),
                                  capture_output=True, timeout=600, check=False)
            if copy.returncode != 0:
                raise RuntimeError(f"local build {tag}: docker cp: {copy.stderr.decode(errors='replace')}")
            dockerd.docker("commit", *(arg for change in changes for arg in ("--change", change)), created, tag,
                           timeout=900)
        finally:
            dockerd.docker("rm", "--force", created)
    stale = [other for other in dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                                               repository).stdout.split() if other != tag]
    if stale:
        dockerd.docker("image", "rm", "--force", *stale, check=False, timeout=300)
    return tag


def with_user(passwd: bytes, group: bytes, name: str, uid: int, home: str) -> list[Member]:
    """/etc/passwd and /etc/group with `name` (uid = gid) added, as the official image's useradd/groupadd."""
    return [Member("etc/passwd", passwd + f"{name}:x:{uid}:{uid}::{home}:/bin/sh\n".encode()),
            Member("etc/group", group + f"{name}:x:{uid}:\n".encode())]


def neo4j_files(dockerd: PrivateDockerd, root: str, version: str) -> bytes:
    line = line_of(version)
    if line.name not in NEO4J_BOOTLOADER:
        raise RuntimeError(f"local build of neo4j:{version}: only the 5 and calendar lines are built here")
    uid = int(NEO4J_UID)
    home = NEO4J_HOME.lstrip("/")
    members = with_user(file_of(dockerd, root, "/etc/passwd"), file_of(dockerd, root, "/etc/group"), "neo4j", uid,
                        NEO4J_HOME)
    members += [Member(home, mode=0o777, uid=uid)]
    for directory in ("bin", "lib", "conf", "plugins", "import", "run", "licenses", "certificates", "products",
                      "labs"):
        members.append(Member(f"{home}/{directory}", mode=0o755 if directory == "bin" else 0o777, uid=uid))
    jars = [Path(entry) for entry in neo4j_classpath(version).split(":") if entry.endswith(".jar")]
    names = [jar.name for jar in jars]
    if len(set(names)) != len(names):
        raise RuntimeError(f"local build of neo4j:{version}: two jars of one name on the classpath")
    members += [Member(f"{home}/lib/{jar.name}", jar.read_bytes(), 0o644, uid) for jar in jars]
    for command, main in (("neo4j", NEO4J_BOOTLOADER[line.name]), ("neo4j-admin", NEO4J_ADMIN_BOOTLOADER)):
        launcher = ("#!/bin/sh\n# LOCAL BUILD: the distribution's launcher starts the same class "
                    "(tests/support/engine/stack_images.py).\n"
                    f'exec java ${{JAVA_OPTS:-}} -cp "$NEO4J_HOME/lib/*" {main} "$@"\n')
        members.append(Member(f"{home}/bin/{command}", launcher.encode(), 0o755, uid))
    members += [Member(f"{home}/conf/neo4j.conf", b"", 0o600, uid),
                Member("data", mode=0o777, uid=uid), Member("logs", mode=0o777, uid=uid),
                Member(f"{home}/data", target="/data"), Member(f"{home}/logs", target="/logs"),
                Member("startup", mode=0o755),
                Member("startup/docker-entrypoint.sh", (IMAGES_DIR / "neo4j-entrypoint-standin.sh").read_bytes(),
                       0o755)]
    return tar_of(members)


def neo4j_build(dockerd: PrivateDockerd, root: str, image: ImageRef) -> str:
    version = image.tag.removesuffix("-enterprise")
    if version != image.tag:
        raise RuntimeError(f"local build of {image.reference}: Enterprise is not downloadable; build Community")
    return committed(dockerd, root, "neo4j", image, neo4j_files(dockerd, root, version), [
        f"ENV NEO4J_HOME={NEO4J_HOME}", "ENV NEO4J_EDITION=community", "ENV LANG=C.UTF-8",
        f"ENV PATH={NEO4J_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        f"WORKDIR {NEO4J_HOME}", 'VOLUME ["/data", "/logs"]', "EXPOSE 7474 7473 7687",
        'ENTRYPOINT ["tini", "-g", "--", "/startup/docker-entrypoint.sh"]', 'CMD ["neo4j"]'])


def haproxy_build(dockerd: PrivateDockerd, root: str, image: ImageRef = HAPROXY_IMAGE) -> str:
    files = tar_of([Member(str(Path(HAPROXY_CFG).parent).lstrip("/"), mode=0o755)])
    return committed(dockerd, root, "haproxy", image, files, [
        'ENTRYPOINT []', f'CMD ["haproxy", "-W", "-db", "-f", "{HAPROXY_CFG}"]'])


def prometheus_build(dockerd: PrivateDockerd, root: str, image: ImageRef = PROMETHEUS_IMAGE) -> str:
    files = tar_of([Member(PROMETHEUS_DATA.lstrip("/"), mode=0o755, uid=NOBODY)])
    return committed(dockerd, root, "prometheus", image, files, [
        f"USER {NOBODY}", f"WORKDIR {PROMETHEUS_DATA}", f'VOLUME ["{PROMETHEUS_DATA}"]',
        'ENTRYPOINT ["/usr/bin/prometheus"]',
        f'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path={PROMETHEUS_DATA}"]'])


def grafana_standin_script() -> str:
    """images/grafana-standin.sh with the provisioning files it waits for and the port it answers on."""
    needed = sorted(place for path, place in MONITORING_NODE_PATHS.items() if path.startswith("grafana/provisioning"))
    return (IMAGES_DIR / "grafana-standin.sh").read_text().replace("@NEEDED@", " ".join(needed)).replace(
        "@PORT@", str(PORTS.monitoring.grafana))


def grafana_standin(dockerd: PrivateDockerd, image: ImageRef = GRAFANA_IMAGE) -> str:
    """The Grafana stand-in: the minimal busybox image, its start script and a health answer."""
    script = grafana_standin_script()
    base = minimal_image(dockerd)
    passwd = f"root:x:0:0::/:/bin/sh\ngrafana:x:{GRAFANA_UID}:0::/:/bin/sh\n".encode()
    files = tar_of([Member("etc", mode=0o755), Member("etc/passwd", passwd),
                    Member("usr", mode=0o755), Member("usr/share", mode=0o755),
                    Member("usr/share/grafana-standin", mode=0o755),
                    Member("usr/share/grafana-standin/run.sh", script.encode(), 0o755),
                    Member("usr/share/grafana-standin/www", mode=0o755),
                    Member("usr/share/grafana-standin/www/api", mode=0o755),
                    Member("usr/share/grafana-standin/www/api/health",
                           b'{"database": "ok", "note": "grafana STAND-IN (tests/support/engine/stack_images.py)"}\n')])
    return committed(dockerd, base, "grafana-standin", image, files, [
        f"USER {GRAFANA_UID}", 'ENTRYPOINT ["/bin/sh", "/usr/share/grafana-standin/run.sh"]', 'CMD []'])


@dataclass(frozen=True)
class StackImages:
    neo4j: str
    haproxy: str
    prometheus: str
    grafana: str
    seconds: float  # what building (or finding) them took


def stack_images(dockerd: PrivateDockerd, neo4j: ImageRef) -> StackImages:
    """The local builds of every image the local stack pulls, `neo4j` among them (components/docker/images.py
    neo4j_image of the stack's settings)."""
    started = time.monotonic()
    root = debian_root(dockerd)
    return StackImages(neo4j_build(dockerd, root, neo4j), haproxy_build(dockerd, root),
                       prometheus_build(dockerd, root), grafana_standin(dockerd), time.monotonic() - started)
