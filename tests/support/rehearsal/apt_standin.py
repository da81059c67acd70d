"""The APT REPOSITORY STAND-IN for Neo4j's (debian.neo4j.com): a signed repository holding the stand-in package
(neo4j_deb_standin.py), served over TLS on 443 inside one machine's network namespace.

setup-neo4j.sh fetches https://debian.neo4j.com/neotechnology.gpg.key, writes
`deb [signed-by=…] https://debian.neo4j.com stable <component>` and runs apt-get: the machine's /etc/hosts sends
debian.neo4j.com here (as a mirror behind a company's DNS would be reached), its trust store has the rehearsal CA
that signed the certificate, and the key it fetches is the rehearsal's signing key, which signed the Release
file. apt checks all of it as it checks Neo4j's repository: nothing is marked trusted.

The repository (dists/stable/<component>/binary-{amd64,all}/Packages, InRelease, Release.gpg, pool/) and its
signing key (a GnuPG home of its own) are built on the host into the tests' cache, once per package.

Served by static_https.py inside the namespace.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from email.utils import formatdate
from pathlib import Path

from tests.support.neo4j_dist import cache_root
from tests.support.rehearsal.neo4j_deb_standin import cached_deb, recipe_key

HOSTNAME = "debian.neo4j.com"
ADDRESS = "127.100.0.2"  # on the namespace's lo, beside the AWS stand-in's
SUITE = "stable"
KEY_FILE = "neotechnology.gpg.key"  # the path setup-neo4j.sh fetches
KEY_UID = "neo4j-cluster rehearsal apt repository STAND-IN <rehearsal@neo4j-cluster.invalid>"


def _gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    result = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--yes", "--pinentry-mode", "loopback",
                             "--passphrase", "", *args], input=input, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: gpg {args[0]} failed: {result.stderr.decode().strip()}")
    return result.stdout


def signing_home() -> Path:
    """The repository's own GnuPG home with its signing key (made once, kept in the cache)."""
    home = cache_root() / "rehearsal" / "apt" / "gnupg"
    if not (home / "pubring.kbx").exists() or not _gpg(home, "--list-secret-keys"):
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o700)
        _gpg(home, "--quick-generate-key", KEY_UID, "ed25519", "sign", "never")
    return home


def _release(dists: Path, component: str) -> str:
    files = sorted(p for p in dists.rglob("*") if p.is_file() and p.name.startswith("Packages"))
    lines = [f"Origin: {KEY_UID.split(' <')[0]}", "Label: neo4j (rehearsal stand-in)", f"Suite: {SUITE}",
             f"Codename: {SUITE}", f"Date: {formatdate(usegmt=True)}", "Architectures: amd64 all",
             f"Components: {component}", "SHA256:"]
    for path in files:
        data = path.read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {path.relative_to(dists)}")
    return "\n".join(lines) + "\n"


def build_repository(version: str, component: str) -> Path:
    """The signed repository holding the stand-in package of `version` under `component`; its directory."""
    deb = cached_deb(version)
    home = signing_home()
    repo = cache_root() / "rehearsal" / "apt" / f"repo-{component}-{version}-{recipe_key(version)}"
    if (repo / "dists" / SUITE / "InRelease").exists():
        return repo
    partial = repo.with_name(repo.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    pool = partial / "pool" / component
    pool.mkdir(parents=True)
    os.link(deb, pool / deb.name)
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", f"pool/{component}", "/dev/null"],
                              cwd=partial, capture_output=True, check=True).stdout
    dists = partial / "dists" / SUITE
    for arch in ("amd64", "all"):
        directory = dists / component / f"binary-{arch}"
        directory.mkdir(parents=True)
        (directory / "Packages").write_bytes(packages)
        (directory / "Packages.gz").write_bytes(gzip.compress(packages, mtime=0))
    release = _release(dists, component)
    (dists / "Release").write_text(release)
    (dists / "InRelease").write_bytes(_gpg(home, "--clearsign", input=release.encode()))
    (dists / "Release.gpg").write_bytes(_gpg(home, "--armor", "--detach-sign", input=release.encode()))
    (partial / KEY_FILE).write_bytes(_gpg(home, "--armor", "--export"))
    shutil.rmtree(repo, ignore_errors=True)
    partial.rename(repo)
    return repo


