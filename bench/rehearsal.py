#!/usr/bin/env python3
"""Benchmark of the boot rehearsal (issue 23): cold and warm times of each part, as numbers (no timed assertion).

Cold: a new cache directory (NEO4J_DIST_CACHE_DIR set to a temporary one): debootstrap + apt of the base root,
`docker import` into a new private dockerd's data root, one boot. Warm: the cache of the tests
(~/.cache/neo4j-cluster/rehearsal), where the root and the imported image already are (built first if not, and
that time is reported as cold-in-place): dockerd start, image check, one boot.

A boot is timed from `docker start` until `cloud-init status --wait` returns (or --timeout); the boot's own
outcome (where setup-neo4j.sh stopped) is printed beside it. Both machines boot at once (the server and the
HAProxy node in front of it, tests/support/rehearsal/haproxy_node.py): the node's boot is timed to its
cloud-init's end, then a Bolt session through the node to the server (which waits for Neo4j to answer).

Needs root (debootstrap, chroot, losetup, nsenter) and `make tools`; the cold run needs ~3 GB in the temporary
directory and Debian's archive.

Example:
  .venv/bin/python bench/rehearsal.py            # warm, then cold
  .venv/bin/python bench/rehearsal.py --warm-only
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.rehearsal.base_image import base_image  # noqa: E402
from tests.support.rehearsal.boot_report import boot_report  # noqa: E402
from tests.support.rehearsal.dockerd import private_dockerd  # noqa: E402
from tests.support.rehearsal.haproxy_node import (  # noqa: E402
    bolt_through_node,
    node_report,
    rendered_node,
    running_pair,
)
from tests.support.rehearsal.user_data import rendered_server  # noqa: E402


def one_run(label: str, timeout: float) -> None:
    rendered, node_rendered = rendered_server(), rendered_node()
    started = time.monotonic()
    with private_dockerd() as dockerd:
        dockerd_seconds = time.monotonic() - started
        checked = time.monotonic()
        image = base_image(dockerd)
        image_seconds = time.monotonic() - checked
        booted = time.monotonic()
        with running_pair(dockerd, image.tag, rendered, node_rendered) as pair:
            node = node_report(pair.node, timeout=timeout)
            node_seconds = time.monotonic() - booted
            report = boot_report(pair.server, timeout=timeout)
            boot_seconds = time.monotonic() - booted
            with tempfile.TemporaryDirectory(prefix="rehearsal-bench-ca-") as tmp:
                ca_file = Path(tmp) / "ca.crt"
                ca_file.write_text(pair.server.surroundings.ca.cert_pem)
                routed = bolt_through_node(pair, ca_file).stdout.splitlines()[:1] == ["1"]
            routed_seconds = time.monotonic() - booted
    total = time.monotonic() - started
    built = "cached" if image.built_seconds is None else f"{image.built_seconds:.1f}"
    imported = "present" if image.imported_seconds is None else f"{image.imported_seconds:.1f}"
    print(f"{label:<6} dockerd start {dockerd_seconds:6.1f} s | rootfs build (debootstrap + apt) {built:>7} s | "
          f"docker import {imported:>7} s | image step {image_seconds:6.1f} s | boot to cloud-init {report.cloud_init} "
          f"{boot_seconds:6.1f} s | HAProxy node to cloud-init {node.cloud_init} {node_seconds:6.1f} s | Bolt through "
          f"the node {'ran' if routed else 'FAILED'} at {routed_seconds:6.1f} s | total {total:6.1f} s")
    print(f"       {report.where_it_stopped()}; HAProxy node: haproxy {node.haproxy_state}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-only", action="store_true", help="skip the cold run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for cloud-init per boot")
    args = parser.parse_args()
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    one_run("warm", args.timeout)  # builds in the tests' cache first when it is empty (then it was cold)
    one_run("warm", args.timeout)
    if not args.warm_only:
        with tempfile.TemporaryDirectory(prefix="rehearsal-bench-") as cache:
            os.environ["NEO4J_DIST_CACHE_DIR"] = cache
            try:
                one_run("cold", args.timeout)
            finally:
                del os.environ["NEO4J_DIST_CACHE_DIR"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
