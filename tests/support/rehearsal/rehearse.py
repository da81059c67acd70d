"""`make rehearse`: the rendered user data of a community single-server AWS stack's server and of its HAProxy node
(haproxy-1) booted in two linked machine containers (systemd, cloud-init with a NoCloud seed), what each boot
did, step by step, and a Bolt session through the node to the server. Exit 0 when both boots are done and the
session ran, 1 when something stopped (where and why are printed), 2 when the rehearsal itself could not run.

    .venv/bin/python -m tests.support.rehearsal.rehearse [--timeout 600] [--keep]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.support.rehearsal.base_image import base_image
from tests.support.rehearsal.boot_report import boot_report
from tests.support.rehearsal.dockerd import private_dockerd
from tests.support.rehearsal.haproxy_node import (
    LINK_NODE_ADDRESS,
    LINK_SERVER_ADDRESS,
    bolt_through_node,
    node_report,
    rendered_node,
    running_pair,
)
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
        rendered, node_rendered = rendered_server(), rendered_node()
        say(f"planned stack {rendered.stack}: {rendered.instance}'s user data, {len(rendered.user_data)} characters, "
            f"{node_rendered.instance}'s {len(node_rendered.user_data)} ({time.monotonic() - started:.1f}s)")
        with private_dockerd() as dockerd:
            say(f"private dockerd on {dockerd.socket}, data root {dockerd.data_root}")
            image = base_image(dockerd)
            built = "from the cache" if image.built_seconds is None else f"built in {image.built_seconds:.0f}s"
            imported = ("already imported" if image.imported_seconds is None
                        else f"imported in {image.imported_seconds:.0f}s")
            say(f"base image {image.tag}: rootfs {built}, {imported}")
            booted = time.monotonic()
            with running_pair(dockerd, image.tag, rendered, node_rendered, keep=args.keep) as pair:
                machine, node, logs = pair.server, pair.node, pair.logs
                say(f"machine {machine.container} (systemd pid {machine.pid} on the host); data volume stand-in "
                    f"{machine.volume.device + ' as ' + machine.volume.by_id if machine.volume else 'none'}")
                say(f"in its network namespace: IMDSv2 stand-in at 169.254.169.254 (role {rendered.instance_role}), "
                    + ", ".join(s.name for s in machine.surroundings.standins))
                for host, address in machine.surroundings.hosts:
                    say(f"  /etc/hosts: {host} -> {address}")
                say(f"secrets held: {', '.join(machine.surroundings.secret_values)}; objects: "
                    + ", ".join(f"s3://{o.bucket}/{o.key}" for o in rendered.objects))
                say(f"HAProxy node {node.container} (systemd pid {node.pid}): its own namespace, linked to the "
                    f"server's ({LINK_NODE_ADDRESS} -> {LINK_SERVER_ADDRESS}); in it: IMDSv2 stand-in (role "
                    f"{node_rendered.instance_role}, tags {', '.join(sorted(node_rendered.tags))}), "
                    + ", ".join(s.name for s in node.surroundings.standins) + ", VPC DNS stand-in")
                report = boot_report(machine, timeout=args.timeout)
                say(f"server boot took {time.monotonic() - booted:.0f}s")
                print(report.text())
                node_booted = node_report(node, timeout=args.timeout)
                say(f"HAProxy node's boot ({node_rendered.instance}):")
                print(node_booted.text())
                with tempfile.TemporaryDirectory(prefix="rehearse-") as tmp:
                    ca_file = Path(tmp) / "ca.crt"
                    ca_file.write_text(machine.surroundings.ca.cert_pem)
                    session = bolt_through_node(pair, ca_file)
                through = session.stdout.splitlines()
                routed = through[:1] == ["1"]
                say("check: a Bolt session through the HAProxy node's port 7687 (TLS, the entry's name, the admin "
                    "password) ran RETURN 1 -> " + (f"1; the server saw clients {through[1:]}" if routed
                                                    else f"FAILED: {session.stderr.strip()[-1500:]}"))
                for name, log in logs.items():
                    print(f"{name}'s requests:")
                    print(log.read_text().rstrip())
    except (RuntimeError, OSError) as error:
        say(f"could not rehearse: {error}")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if report.completed and node_booted.completed and routed else 1


if __name__ == "__main__":
    sys.exit(main())
