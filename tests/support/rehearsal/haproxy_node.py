"""The HAProxy node in front of the server (issue 23, 1(b)): the rendered user data of the stack's haproxy-1 booted in
a second machine container, beside the server machine, the two joined by a link the rehearsal makes.

- The link: a veth pair whose ends are moved straight into the two machines' own network namespaces (created in
  the server's, its peer in the node's: never in the host's), with link-local addresses (LINK_*): the subnet
  stand-in. Neither namespace gets a route beyond the link, so nothing of either boot can leave them.
- The node's surroundings are the server's (the same rehearsal CA, secrets' values and S3 objects: its own AWS
  stand-in in its own namespace, seeded alike), less the apt and PyPI stand-ins it does not use, plus the VPC DNS
  stand-in (dns_standin.py) as its nameserver: the private zone's names of the servers haproxy.cfg names, with
  the server machine's link address.
- Its packages (haproxy, awscli, curl, prometheus-node-exporter) are in the base image, from Debian's archive
  (base_image.py).
- OPEN FILES: haproxy.cfg's `maxconn 20000` makes HAProxy raise its open-files limit to about twice that, and it
  refuses to start when it cannot (strict-limits, on by default: "Cannot raise FD limit to 40017, limit is 20000").
  On EC2 systemd gives services a hard limit of 524288; this workplace's hard limit is 20000 for every process,
  with no CAP_SYS_RESOURCE to raise it, so no container here can have more. Only where the limit is short, the
  node gets a systemd drop-in (OPEN_FILES_DROPIN) that adds HAProxy's own command-line connection limit (`-n`,
  which overrides the config's) to the package unit's EXTRAOPTS: haproxy.cfg, the S3 object, stays byte for byte
  the rendered one, and `haproxy -c` and the sync script run as they are.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from components.aws.user_data import HAPROXY_CONFIG_KEY
from tests.support.rehearsal import aws_standin, dns_standin
from tests.support.rehearsal.boot_report import boot_report
from tests.support.rehearsal.dockerd import PrivateDockerd
from tests.support.rehearsal.machine import Around, Machine, running_machine
from tests.support.rehearsal.surroundings import Standin
from tests.support.rehearsal.user_data import RenderedMachine, rendered_server

NODE = "haproxy-1"
LINK_DEVICE = "eth0"
LINK_SERVER_ADDRESS = "169.254.23.1"  # link-local: valid on this link only, never routed
LINK_NODE_ADDRESS = "169.254.23.2"
LINK_PREFIX = 30
CFG_PATH = "/etc/haproxy/haproxy.cfg"  # components/aws/user_data.py HAPROXY_CFG_PLACE
SYNC_SCRIPT = "/usr/local/lib/neo4j-cluster/haproxy-config-sync.sh"
OPEN_FILES_DROPIN = "/etc/systemd/system/haproxy.service.d/rehearsal-open-files.conf"
# The Debian/Ubuntu unit's own EXTRAOPTS (its master socket), kept.
PACKAGE_EXTRAOPTS = "-S /run/haproxy-master.sock"
FD_HEADROOM = 200  # listeners, health checks, the master's own descriptors
NODE_UNITS = ("cloud-final.service", "haproxy.service", "haproxy-config-sync.service", "haproxy-config-sync.timer")
SERVER_LINE = re.compile(r"^\s*server (\S+) (\S+):(\d+)", re.MULTILINE)
MAXCONN = re.compile(r"^global\n(?:[ \t].*\n|\n)*?\s*maxconn (\d+)", re.MULTILINE)


def rendered_node(node: str = NODE) -> RenderedMachine:
    """The same stack's HAProxy node: its user data and tags as the program gave them."""
    return rendered_server(server=node)


def haproxy_cfg(rendered: RenderedMachine) -> bytes:
    """The haproxy.cfg the program uploads (the object the node's HaproxyConfig tag names)."""
    return next(o.content for o in rendered.objects if o.key == HAPROXY_CONFIG_KEY)


def zone_records(rendered: RenderedMachine, server_address: str = LINK_SERVER_ADDRESS) -> dict[str, str]:
    """The private zone's records the node resolves: each server haproxy.cfg names, at the server machine."""
    hosts = sorted({host for _name, host, _port in SERVER_LINE.findall(haproxy_cfg(rendered).decode())})
    if len(hosts) != 1:  # one server machine is rehearsed: a cluster's haproxy.cfg names more
        raise RuntimeError(f"rehearsal: haproxy.cfg names {hosts}; the rehearsal runs one server machine")
    return {hosts[0]: server_address}


def open_files_dropin(cfg: str, hard_limit: int | None = None) -> str | None:
    """The drop-in lowering HAProxy's connection limit to what this workplace's open-files limit allows, or None
    when the limit is enough for the rendered maxconn (then the machine runs the package's unit as it is)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1] if hard_limit is None else hard_limit
    found = MAXCONN.search(cfg)
    maxconn = int(found.group(1)) if found else 0
    if hard == resource.RLIM_INFINITY or 2 * maxconn + FD_HEADROOM <= hard:
        return None
    allowed = (hard - FD_HEADROOM) // 2
    return ("# neo4j-cluster rehearsal: this workplace's hard open-files limit is "
            f"{hard} (EC2's systemd: 524288), short of the {2 * maxconn}+ that haproxy.cfg's maxconn {maxconn} "
            f"needs; HAProxy's command-line limit -n {allowed} overrides it. haproxy.cfg is unchanged.\n"
            f'[Service]\nEnvironment="EXTRAOPTS={PACKAGE_EXTRAOPTS} -n {allowed}"\n')


def node_around(server: Machine, rendered: RenderedMachine, work: Path) -> Around:
    """The node's surroundings: the server's AWS stand-in and names, the zone's DNS stand-in as its nameserver,
    and the open-files drop-in where needed."""
    records = work / "zone.json"
    records.write_text(json.dumps(zone_records(rendered)))
    shared = server.surroundings
    surroundings = dataclasses.replace(
        shared, hosts=tuple((h, a) for h, a in shared.hosts if a == aws_standin.ADDRESS),
        standins=tuple(s for s in shared.standins if s.module == "tests.support.rehearsal.aws_standin"),
        apt_repository=None)
    dns = Standin("VPC DNS stand-in", "tests.support.rehearsal.dns_standin",
                  ("--records", str(records), "--address", dns_standin.ADDRESS))
    dropin = open_files_dropin(haproxy_cfg(rendered).decode())
    # CAP_SYS_ADMIN, as the server machine has: the package's haproxy.service binds /dev/log into the chroot
    # (BindReadOnlyPaths=), for which systemd sets up a mount namespace; without it the unit fails at once
    # (status 226/NAMESPACE, seen here). Not --privileged, and no device.
    options = ("--dns", dns_standin.ADDRESS, "--cap-add", "SYS_ADMIN")
    return Around(surroundings, options=options, standins=(dns,),
                  files=((OPEN_FILES_DROPIN, dropin),) if dropin else ())


def _ip(machine: Machine, *args: str) -> None:
    result = machine.in_netns("ip", *args)
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: ip {' '.join(args)} in {machine.container}'s namespace failed: "
                           f"{result.stderr.strip()}")


def link(server: Machine, node: Machine) -> None:
    """The veth pair between the two machines' namespaces, addressed and up."""
    _ip(server, "link", "add", LINK_DEVICE, "type", "veth", "peer", "name", LINK_DEVICE, "netns", str(node.pid))
    for machine, address in ((server, LINK_SERVER_ADDRESS), (node, LINK_NODE_ADDRESS)):
        _ip(machine, "addr", "add", f"{address}/{LINK_PREFIX}", "dev", LINK_DEVICE)
        _ip(machine, "link", "set", LINK_DEVICE, "up")


@dataclass(frozen=True)
class Pair:
    server: Machine
    node: Machine
    server_rendered: RenderedMachine
    node_rendered: RenderedMachine
    logs: dict[str, Path]  # "<machine>: <stand-in>" → its log


@contextlib.contextmanager
def running_pair(dockerd: PrivateDockerd, image: str, server_rendered: RenderedMachine,
                 node_rendered: RenderedMachine, keep: bool = False) -> Iterator[Pair]:
    """The server machine and the HAProxy node, both booting, linked; removed when the block ends."""
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-node-")))
        server, server_logs = stack.enter_context(running_machine(dockerd, image, server_rendered, keep=keep))
        node, node_logs = stack.enter_context(running_machine(
            dockerd, image, node_rendered, keep=keep, around=node_around(server, node_rendered, work)))
        link(server, node)
        logs = {**{f"{server_rendered.instance}: {k}": v for k, v in server_logs.items()},
                **{f"{node_rendered.instance}: {k}": v for k, v in node_logs.items()}}
        yield Pair(server, node, server_rendered, node_rendered, logs)


@dataclass(frozen=True)
class NodeReport:
    cloud_init: str
    cloud_init_long: str
    failed_modules: tuple[str, ...]
    stage_errors: tuple[str, ...]
    runcmd_lines: tuple[str, ...]  # the sync script's lines and runcmd's errors, in order
    haproxy_state: str             # systemctl is-active haproxy
    journals: dict[str, str]

    @property
    def completed(self) -> bool:
        return self.cloud_init == "done" and self.haproxy_state == "active"

    def text(self) -> str:
        return "\n".join([
            f"cloud-init: {self.cloud_init}", self.cloud_init_long.rstrip(),
            "cloud-init modules failed: " + (", ".join(self.failed_modules) or "none"),
            *(f"  {error}" for error in self.stage_errors),
            "runcmd (haproxy-config-sync.sh and the boot's commands):", *(f"  {line}" for line in self.runcmd_lines),
            f"haproxy.service: {self.haproxy_state}",
            *(f"journal of {unit}:\n{journal.rstrip()}" for unit, journal in self.journals.items()),
            f"=> {'boot done, haproxy running' if self.completed else 'the node did not get to a running haproxy'}"])


def node_report(node: Machine, timeout: float = 300) -> NodeReport:
    """Waits for the node's cloud-init to finish, then reads what its boot did."""
    report = boot_report(node, timeout=timeout)
    output = node.exec("cat", "/var/log/cloud-init-output.log").stdout
    interesting = ("haproxy-config-sync:", "An error occurred", "Failed", "failed", "[ALERT]", "[WARNING]")
    # Not cloud-init's own warnings of what a container lacks (hostname, ssh host keys): the boot's commands.
    own_warning = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ - \S+\.py\[WARNING\]")
    return NodeReport(
        cloud_init=report.cloud_init, cloud_init_long=report.cloud_init_long, failed_modules=report.failed_modules,
        stage_errors=report.stage_errors,
        runcmd_lines=tuple(line for line in output.splitlines()
                           if any(word in line for word in interesting) and not own_warning.match(line)),
        haproxy_state=node.exec("systemctl", "is-active", "haproxy").stdout.strip(),
        journals={unit: node.exec("journalctl", "--no-pager", "-o", "short-monotonic", "-u", unit, "-n",
                                  "30").stdout for unit in NODE_UNITS})


def bolt_through_node(pair: Pair, ca_file: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """A driver session through the node's Bolt port (bolt_write): TLS verified against the entry's name with the
    rehearsal CA, the admin password from its secret; prints RETURN 1's value, then the client addresses the
    server sees. Runs on the host, in the node's network namespace only (the server's Bolt port is not there)."""
    entry = next(n for s in pair.server_rendered.secrets if s.kind == "tls-entry" for n in s.dns_names)
    script = (
        "import sys, time, neo4j\n"
        "deadline = time.monotonic() + float(sys.argv[4])\n"
        "while True:\n"
        "    try:\n"
        "        with neo4j.GraphDatabase.driver(f'bolt://{sys.argv[3]}:7687', auth=('neo4j', sys.argv[1]),\n"
        "                encrypted=True, trusted_certificates=neo4j.TrustCustomCAs(sys.argv[2])) as driver:\n"
        "            with driver.session() as session:\n"
        "                print(session.run('RETURN 1 AS one').single()['one'])\n"
        "                rows = session.run('CALL dbms.listConnections() YIELD clientAddress '\n"
        "                                   'RETURN collect(clientAddress) AS clients').single()\n"
        "                print(' '.join(rows['clients']))\n"
        "            break\n"
        "    except (neo4j.exceptions.ServiceUnavailable, neo4j.exceptions.SessionExpired):\n"
        "        if time.monotonic() > deadline: raise\n"
        "        time.sleep(2)\n")
    # The client asks for the entry's name, which resolves to the node (as haproxy.<domain> does through the NLB):
    # the driver's process alone sees a hosts file saying so (its own mount namespace, a bind mount over
    # /etc/hosts), so TLS checks the certificate against the name the client asked for.
    hosts = ca_file.with_name("entry-hosts")
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {entry}\n")
    return pair.node.in_netns(
        "unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"',
        str(hosts), sys.executable, "-c", script, pair.server.surroundings.admin_password, str(ca_file), entry,
        str(timeout - 20), timeout=timeout)


def wait_active(machine: Machine, unit: str, timeout: float = 60) -> str:
    """The unit's state once active, or the last state seen after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        state = machine.exec("systemctl", "is-active", unit).stdout.strip()
        if state == "active" or time.monotonic() > deadline:
            return state
        time.sleep(1)
