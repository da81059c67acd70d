#!/usr/bin/env bash
# Installs the tools the tests run for real: haproxy (haproxy -c), promtool (Debian's prometheus
# package), cloud-init (cloud-init schema), shellcheck, and Java + Maven for Neo4j from Maven
# Central. Uses apt-get when something is missing and we are root; otherwise names what is missing.
set -euo pipefail

declare -A PACKAGE_OF=(
    [haproxy]=haproxy
    [promtool]=prometheus
    [cloud-init]=cloud-init
    [shellcheck]=shellcheck
    [java]=default-jre-headless
    [mvn]=maven
)

missing=()
for tool in "${!PACKAGE_OF[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-tools: all present (haproxy, promtool, cloud-init, shellcheck, java, mvn)"
    exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Prometheus's package would start a server; policy-rc.d keeps services from starting here.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}"
