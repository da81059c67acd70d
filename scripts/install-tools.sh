#!/usr/bin/env bash
# Installs the tools the tests run for real: haproxy (haproxy -c), promtool (Debian's prometheus
# package), cloud-init (cloud-init schema), shellcheck, Java + Maven for Neo4j from Maven Central, and
# xfsprogs (the data volume's filesystem, tested on loop devices), docker.io and debootstrap (the boot
# rehearsal's machine containers). Uses apt-get when something is missing and we are root; otherwise names
# what is missing.
# Also actionlint (lints .github/workflows), built by the Go toolchain into .tools/bin.
set -euo pipefail

# actionlint: a Go module at a pinned version, in a project-local bin dir the tests look in.
ACTIONLINT_VERSION=v1.7.12
TOOLS_BIN="$(cd "$(dirname "$0")/.." && pwd)/.tools/bin"
if [[ "$("$TOOLS_BIN/actionlint" -version 2>/dev/null | head -n 1)" != "$ACTIONLINT_VERSION" ]]; then
    go=$(command -v go || echo /usr/local/go/bin/go)
    if [[ ! -x "$go" ]]; then
        echo "install-tools: missing the Go toolchain (1.25 or later), needed to build actionlint $ACTIONLINT_VERSION" >&2
        exit 1
    fi
    echo "install-tools: building actionlint $ACTIONLINT_VERSION into $TOOLS_BIN"
    mkdir -p "$TOOLS_BIN"
    printf '*\n' >"$TOOLS_BIN/../.gitignore"  # built here, never committed
    GOBIN="$TOOLS_BIN" "$go" install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

declare -A PACKAGE_OF=(
    [haproxy]=haproxy
    [promtool]=prometheus
    [cloud-init]=cloud-init
    [shellcheck]=shellcheck
    [java]=default-jre-headless
    [mvn]=maven
    [systemd-analyze]=systemd
    [openssl]=openssl
    # setup-neo4j.sh's disk logic runs for real against loop devices (tests/integration/test_data_volume_disk.py)
    [mkfs.xfs]=xfsprogs
    [mkfs.ext4]=e2fsprogs
    [sfdisk]=fdisk
    # bench/backup_stream.py compares backup.py's transfers with `aws s3 cp` (Debian's awscli is v2)
    [aws]=awscli
    # The boot rehearsal (tests/support/rehearsal): a private dockerd (Debian's docker.io, with containerd and
    # runc), the machine's Debian root from debootstrap, the data volume's loop device, and nsenter for the
    # machine's network namespace (the IMDSv2 stand-in).
    [dockerd]=docker.io
    [debootstrap]=debootstrap
    [losetup]=mount
    [nsenter]=util-linux
    # The engine tests' docker stand-in: its dockerd starts in a network namespace of its own (unshare, ip) with a
    # parent-death signal (setpriv), and its local container images are one static busybox
    # (tests/support/rehearsal/dockerd.py, tests/support/engine/local_images.py)
    [unshare]=util-linux
    [setpriv]=util-linux
    [ip]=iproute2
    [busybox]=busybox-static
    # A real signing key and apt keyring (tests/unit/test_apt_repository.py) and the rehearsal's signed apt
    # repository stand-in (gpg, gpgconf to stop the agent it starts, dpkg-scanpackages for its index)
    [gpg]=gpg
    [gpgconf]=gpgconf
    [dpkg-scanpackages]=dpkg-dev
)

missing=()
for tool in "${!PACKAGE_OF[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-tools: all present (haproxy, promtool, cloud-init, shellcheck, java, mvn, systemd-analyze, openssl, xfsprogs, e2fsprogs, sfdisk, aws, dockerd, debootstrap, losetup, nsenter, unshare, setpriv, ip, busybox, gpg, gpgconf, dpkg-scanpackages)"
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Prometheus's package would start a server (docker.io a dockerd); policy-rc.d keeps services from starting here.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
