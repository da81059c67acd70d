"""The APT REPOSITORY STAND-IN: a mirror of Neo4j's Debian repository (debian.neo4j.com) as a company runs one,
holding the stand-in package (neo4j_deb_standin.py) in a signed repository, served over TLS on 443 inside one
machine's network namespace.

The rehearsed stack uses the private mirror feature as a user's would (STACK_CONFIG): neo4j:aptRepositoryUrl is
https://apt.rehearsal.internal/debian-neo4j and neo4j:aptSigningKey the URL of the key the mirror signs with, on the
same host. setup-neo4j.sh fetches that key, writes `deb [signed-by=…] <mirror> stable <component>` and runs apt-get:
the machine's /etc/hosts sends the mirror's name here (as a company's DNS would), its trust store has the rehearsal
CA that signed the certificate, and the key it fetches is the rehearsal's signing key, which signed the Release
file. apt checks all of it as it checks Neo4j's repository: nothing is marked trusted. The mirror serves no
neotechnology.gpg.key, and debian.neo4j.com has no address in the machine: the key can only come from the URL the
stack gives.

The repository (dists/stable/<component>/binary-{amd64,all}/Packages, InRelease, Release.gpg, pool/) and its
signing key (a GnuPG home of its own) are built on the host into the tests' cache, once per package; the served
site (mirror_site) links them under the mirror's path, per run.

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

HOSTNAME = "apt.rehearsal.internal"  # .internal: reserved for private use (ICANN, 2024), never a public name
ADDRESS = "127.100.0.2"  # on the namespace's lo, beside the AWS stand-in's
MIRROR_PATH = "debian-neo4j"  # under a path, as Artifactory's and Nexus's apt repositories are
KEY_PATH = "keys/neo4j-mirror.asc"  # the mirror's own key, not at debian.neo4j.com's place
REPOSITORY_URL = f"https://{HOSTNAME}/{MIRROR_PATH}"
KEY_URL = f"https://{HOSTNAME}/{KEY_PATH}"
# The rehearsed stack's keys (components/settings.py): Neo4j from this mirror, its key from the mirror's URL.
STACK_CONFIG = {"neo4j:aptRepositoryUrl": REPOSITORY_URL, "neo4j:aptSigningKey": KEY_URL}
SUITE = "stable"
KEY_FILE = "neotechnology.gpg.key"  # debian.neo4j.com's key file: in the cached repository, not served
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
    try:
        return _signed_repository(deb, home, version, component)
    finally:
        # gpg started an agent for the cached home (key generation, signing); left running it outlives the suite.
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def _signed_repository(deb: Path, home: Path, version: str, component: str) -> Path:
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




def mirror_site(repository: Path, work: Path) -> Path:
    """The directory the stand-in serves: the repository's dists/ and pool/ under MIRROR_PATH and its public key at
    KEY_PATH (and nothing at <mirror>/neotechnology.gpg.key)."""
    site = work / "apt-site"
    mirror = site / MIRROR_PATH
    mirror.mkdir(parents=True)
    for part in ("dists", "pool"):
        (mirror / part).symlink_to(repository / part, target_is_directory=True)
    key = site / KEY_PATH
    key.parent.mkdir(parents=True)
    shutil.copyfile(repository / KEY_FILE, key)
    return site


def signing_fingerprint() -> str:
    """The fingerprint of the key that signs the repository (what the machine's apt keyring must hold)."""
    listing = _gpg(signing_home(), "--with-colons", "--list-keys").decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
