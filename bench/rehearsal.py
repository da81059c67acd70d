#!/usr/bin/env python3
"""Benchmark of the boot rehearsal (issue 23): cold and warm times of each part, as numbers (no timed assertion).

Cold: a new cache directory (NEO4J_DIST_CACHE_DIR set to a temporary one): debootstrap + apt of the base root,
`docker import` into a new private dockerd's data root, one boot. Warm: the cache of the tests
(~/.cache/neo4j-cluster/rehearsal), where the root and the imported image already are (built first if not, and
that time is reported as cold-in-place): dockerd start, image check, one boot.

A boot is timed from `docker start` until `cloud-init status --wait` returns (or --timeout); the boot's own
outcome (where setup-neo4j.sh stopped) is printed beside it.

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
from tests.support.rehearsal.machine import running_machine  # noqa: E402
from tests.support.rehearsal.user_data import rendered_server  # noqa: E402


def one_run(label: str, timeout: float) -> None:
    rendered = rendered_server()
    started = time.monotonic()
    with private_dockerd() as dockerd:
        dockerd_seconds = time.monotonic() - started
        checked = time.monotonic()
        image = base_image(dockerd)
        image_seconds = time.monotonic() - checked
        booted = time.monotonic()
        with running_machine(dockerd, image.tag, rendered) as (machine, _log):
            report = boot_report(machine, timeout=timeout)
            boot_seconds = time.monotonic() - booted
    total = time.monotonic() - started
    built = "cached" if image.built_seconds is None else f"{image.built_seconds:.1f}"
    imported = "present" if image.imported_seconds is None else f"{image.imported_seconds:.1f}"
    print(f"{label:<6} dockerd start {dockerd_seconds:6.1f} s | rootfs build (debootstrap + apt) {built:>7} s | "
          f"docker import {imported:>7} s | image step {image_seconds:6.1f} s | boot to cloud-init {report.cloud_init} "
          f"{boot_seconds:6.1f} s | total {total:6.1f} s")
    print(f"       {report.where_it_stopped()}")


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
