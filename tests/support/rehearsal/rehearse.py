"""`make rehearse`: the rendered user data of a community single-server AWS stack booted in a machine container
(systemd, cloud-init with a NoCloud seed), and what the boot did, step by step. Exit 0 when the boot is done,
1 when it stopped somewhere (where and why are printed), 2 when the rehearsal itself could not run.

    .venv/bin/python -m tests.support.rehearsal.rehearse [--timeout 600] [--keep]
"""
from __future__ import annotations

import argparse
import sys
import time

from tests.support.rehearsal.base_image import base_image
from tests.support.rehearsal.boot_report import boot_report
from tests.support.rehearsal.dockerd import private_dockerd
from tests.support.rehearsal.machine import running_machine
from tests.support.rehearsal.user_data import rendered_server


def say(message: str) -> None:
    print(f"rehearse: {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for cloud-init (default 600)")
    parser.add_argument("--keep", action="store_true", help="leave the stopped machine in the private dockerd")
    args = parser.parse_args(argv)
    try:
        started = time.monotonic()
        rendered = rendered_server()
        say(f"planned stack {rendered.stack}: {rendered.instance}'s user data, {len(rendered.user_data)} characters "
            f"({time.monotonic() - started:.1f}s)")
        with private_dockerd() as dockerd:
            say(f"private dockerd on {dockerd.socket}, data root {dockerd.data_root}")
            image = base_image(dockerd)
            built = "from the cache" if image.built_seconds is None else f"built in {image.built_seconds:.0f}s"
            imported = ("already imported" if image.imported_seconds is None
                        else f"imported in {image.imported_seconds:.0f}s")
            say(f"base image {image.tag}: rootfs {built}, {imported}")
            booted = time.monotonic()
            with running_machine(dockerd, image.tag, rendered, keep=args.keep) as (machine, logs):
                say(f"machine {machine.container} (systemd pid {machine.pid} on the host); data volume stand-in "
                    f"{machine.volume.device + ' as ' + machine.volume.by_id if machine.volume else 'none'}")
                say(f"in its network namespace: IMDSv2 stand-in at 169.254.169.254 (role {rendered.instance_role}), "
                    + ", ".join(s.name for s in machine.surroundings.standins))
                for host, address in machine.surroundings.hosts:
                    say(f"  /etc/hosts: {host} -> {address}")
                say(f"secrets held: {', '.join(machine.surroundings.secret_values)}; objects: "
                    + ", ".join(f"s3://{o.bucket}/{o.key}" for o in rendered.objects))
                report = boot_report(machine, timeout=args.timeout)
                say(f"boot took {time.monotonic() - booted:.0f}s")
                print(report.text())
                for name, log in logs.items():
                    print(f"{name}'s requests:")
                    print(log.read_text().rstrip())
    except (RuntimeError, OSError) as error:
        say(f"could not rehearse: {error}")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if report.completed else 1


if __name__ == "__main__":
    sys.exit(main())
