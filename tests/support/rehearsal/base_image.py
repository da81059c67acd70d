"""The machine's base image: Debian bookworm (standing in for Ubuntu, issue 23) with systemd, cloud-init and the
packages our user data and boot scripts install, so the boot needs no archive (the machine has no network).

Built once with debootstrap (a minimal root) and apt-get in a chroot (debootstrap's own resolver does not follow
virtual packages: python3.11-venv and cloud-init failed to configure with everything passed to --include), then
kept as a tarball in the tests' cache, keyed by a hash of what went into it, and `docker import`ed from there:
no image registry is reachable.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.neo4j_dist import cache_root
from tests.support.rehearsal.dockerd import PrivateDockerd

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# systemd as PID 1 and cloud-init; then what the rendered user data installs (templates/cloud-init/neo4j.yaml.j2's
# packages) and what setup-neo4j.sh installs or runs besides Neo4j's own package (the JRE of the 5 line,
# components/aws/user_data.py JAVA_PACKAGE; python3.11 and its venv for the backup tooling; sudo for
# set_initial_password). iproute2 and procps: to look inside the machine.
# locales: cloud-init's locale module runs update-locale (its absence failed cloud-config.service; Ubuntu's and
# Debian's cloud images have it).
BOOT_PACKAGES = ("systemd", "systemd-sysv", "dbus", "cloud-init", "locales")
USER_DATA_PACKAGES = ("awscli", "curl", "gnupg", "jq", "xfsprogs", "prometheus-node-exporter")
SETUP_PACKAGES = ("openjdk-17-jre-headless", "python3.11", "python3.11-venv", "sudo", "ca-certificates")
TOOL_PACKAGES = ("iproute2", "procps")
# The HAProxy node's user data installs Debian's/Ubuntu's haproxy (templates/cloud-init/haproxy.yaml.j2 packages):
# from Debian's archive here, as awscli and curl are. Its unit is disabled in the root (DISABLED_UNITS): the server
# machine runs no HAProxy, and on the node the boot's own `systemctl enable haproxy` and the sync script's
# reload-or-restart start it, as on a node where the package came with the boot.
HAPROXY_NODE_PACKAGES = ("haproxy",)
PACKAGES = BOOT_PACKAGES + USER_DATA_PACKAGES + SETUP_PACKAGES + TOOL_PACKAGES + HAPROXY_NODE_PACKAGES
DISABLED_UNITS = ("haproxy.service",)
# Bumped when the build below changes in a way the package list does not show.
BUILD_RECIPE = 3
LOCALE = "en_US.UTF-8"
REPOSITORY = "neo4j-cluster-rehearsal/base"


@dataclass(frozen=True)
class BaseImage:
    tag: str          # the image's name in the private dockerd
    tarball: Path     # the cached root it was imported from
    built_seconds: float | None    # debootstrap + apt, None when the tarball came from the cache
    imported_seconds: float | None  # docker import, None when the dockerd already had it


def recipe_key(packages: tuple[str, ...] = PACKAGES) -> str:
    """12 hex digits of what decides the root's content: suite, mirror, packages, recipe."""
    recipe = {"suite": SUITE, "mirror": MIRROR, "packages": sorted(packages), "recipe": BUILD_RECIPE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def rehearsal_cache() -> Path:
    return cache_root() / "rehearsal"


def _run(args: list[str], log: Path, **kwargs) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"base image: `{' '.join(args[:3])} …` exited {result.returncode}; see {log}")


def build_rootfs(tarball: Path, packages: tuple[str, ...] = PACKAGES,
                 disabled_units: tuple[str, ...] = DISABLED_UNITS) -> float:
    """debootstrap a minimal bookworm root, apt-get install `packages` in it (they must include locales), disable
    `disabled_units` (systemd among the packages), tar it to `tarball`; the seconds."""
    for tool in ("debootstrap", "chroot", "tar"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"base image: {tool} is not installed: run `make tools` (scripts/install-tools.sh)")
    started = time.monotonic()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    log = tarball.with_suffix(".log")
    log.write_text("")
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="build-") as work:
        root = Path(work) / "root"
        _run(["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE, str(root), MIRROR], log)
        # No service of the packages starts in the chroot (the build host is not the machine).
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        # The JRE's ca-certificates-java runs java, which reads /proc.
        _run(["mount", "-t", "proc", "proc", str(root / "proc")], log)
        try:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
            _run(["chroot", str(root), "apt-get", "update", "-q"], log, env=env)
            _run(["chroot", str(root), "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                 log, env=env)
            _run(["chroot", str(root), "apt-get", "clean"], log, env=env)
            for unit in disabled_units:
                if (root / "lib/systemd/system" / unit).exists():
                    _run(["chroot", str(root), "systemctl", "disable", unit], log, env=env)
            # cloud-init's locale module sets LANG=en_US.UTF-8 (its default) with update-locale, which refuses a
            # locale not generated: Ubuntu's and Debian's cloud images have it generated, so this root has too.
            (root / "etc/locale.gen").write_text(f"{LOCALE} UTF-8\n")
            _run(["chroot", str(root), "locale-gen"], log, env=env)
        finally:
            subprocess.run(["umount", "-l", str(root / "proc")], check=False)
        policy.unlink()
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-C", str(root), "--numeric-owner", "--xattrs", "-cf", str(partial), "."], log)
        partial.rename(tarball)
    return time.monotonic() - started


def base_image(dockerd: PrivateDockerd, packages: tuple[str, ...] = PACKAGES) -> BaseImage:
    """The base image in `dockerd`: imported from the cached tarball (built first when missing)."""
    # systemd is the image's command: the machine boots as an EC2 instance does.
    return imported_root(dockerd, packages, DISABLED_UNITS, rehearsal_cache(), REPOSITORY, ("/sbin/init",))


def imported_root(dockerd: PrivateDockerd, packages: tuple[str, ...], disabled_units: tuple[str, ...],
                  cache_dir: Path, repository: str, command: tuple[str, ...]) -> BaseImage:
    """A bookworm root with `packages` as the image `repository:<recipe key>` in `dockerd`, running `command`:
    imported from its tarball in `cache_dir` (built first when missing); other recipes' tarballs and images go."""
    key = recipe_key(packages)
    tag = f"{repository}:{key}"
    tarball = cache_dir / f"rootfs-{SUITE}-{key}.tar"
    built = None if tarball.exists() else build_rootfs(tarball, packages, disabled_units)
    imported = None
    if dockerd.docker("image", "inspect", tag, check=False).returncode != 0:
        started = time.monotonic()
        dockerd.docker("import", "--change", f"CMD {json.dumps(list(command))}", str(tarball), tag, timeout=900)
        imported = time.monotonic() - started
    _forget_other_recipes(dockerd, tarball, repository, tag)
    return BaseImage(tag, tarball, built, imported)


def _forget_other_recipes(dockerd: PrivateDockerd, tarball: Path, repository: str, tag: str) -> None:
    # A changed package list leaves the previous root (~800 MB) and its image (~2 GB on vfs) unused: they go.
    for old in tarball.parent.glob(f"rootfs-{SUITE}-*.tar"):
        if old != tarball:
            old.unlink(missing_ok=True)
            old.with_suffix(".log").unlink(missing_ok=True)
    images = dockerd.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository).stdout.split()
    stale = [image for image in images if image != tag]
    if stale:
        dockerd.docker("image", "rm", "--force", *stale, check=False, timeout=300)
