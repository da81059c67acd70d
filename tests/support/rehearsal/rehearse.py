"""`make rehearse`: the rendered user data of a community single-server AWS stack's server and of its HAProxy node
(haproxy-1) booted in two linked machine containers (systemd, cloud-init with a NoCloud seed), what each boot
did, step by step, and a Bolt session through the node to the server; then the checks of issue 23 (LOAD CSV
confined, a second setup run changes nothing, a replaced machine keeps its data, a real backup into the S3
stand-in, certificate renewal, volume growth, the boot-failed metric that `check` names, the node's config sync
and routing, ...): the rehearsal tests (tests/integration/test_rehearsal_machine.py) on machines of their own, one line
per check. Exit 0 when both boots are done, the session ran and every check passed, 1 when something stopped
(where and why are printed), 2 when the rehearsal itself could not run.

    .venv/bin/python -m tests.support.rehearsal.rehearse [--timeout 600] [--keep] [--no-checks]
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

CHECK_MODULES = ("tests/integration/test_rehearsal_machine.py",)
ROOT = Path(__file__).resolve().parents[3]


def say(message: str) -> None:
    print(f"rehearse: {message}", flush=True)


class CheckLines:
    """A pytest plugin printing each rehearsal test as one check line: its name in words, PASS or FAIL, seconds."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            name = report.nodeid.partition("::")[2]
            words = name.removeprefix("test_").replace("_", " ")
            # The node's tests name it (test_node_…, …_through_the_node_…), or both machines' links.
            machine = "HAProxy node" if "node" in words.split() or "linked" in words.split() else "server"
            verdict = "PASS" if report.passed else ("SKIP" if report.skipped else "FAIL")
            say(f"check ({machine}): {words} -> {verdict} ({report.duration:.1f}s)")
            if report.skipped:  # a skipped check is not a passed one
                self.failed.append(report.nodeid)
            if report.failed:
                self.failed.append(report.nodeid)
                print(str(report.longreprtext)[-3000:], flush=True)


def run_checks(modules: tuple[str, ...] = CHECK_MODULES) -> bool:
    """The rehearsal tests, quietly except for one line per check; True when all passed and none was skipped."""
    import pytest

    lines = CheckLines()
    started = time.monotonic()
    # No terminal reporter (and so none of the project's -ra): the check lines are the output.
    code = pytest.main(["-o", "addopts=", "-p", "no:terminal", "-p", "no:cacheprovider",
                        *(str(ROOT / module) for module in modules)], plugins=[lines])
    passed = code == 0 and not lines.failed
    say(f"checks: {'all passed' if passed else f'FAILED ({len(lines.failed)} failed or skipped, pytest exit {code})'}"
        f" in {time.monotonic() - started:.0f}s")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for cloud-init (default 600)")
    parser.add_argument("--keep", action="store_true", help="leave the stopped machine in the private dockerd")
    parser.add_argument("--no-checks", action="store_true",
                        help="only the two boots and the Bolt session, not the checks (about 6 more minutes)")
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
    if not (report.completed and node_booted.completed and routed):
        return 1
    if args.no_checks:
        return 0
    say("the checks, each on machines booted for it (the private dockerd above has stopped):")
    return 0 if run_checks() else 1


if __name__ == "__main__":
    sys.exit(main())
