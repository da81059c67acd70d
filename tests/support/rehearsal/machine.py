"""A machine container: the base image booted by systemd as PID 1, cloud-init seeded with NoCloud, in a network
namespace of its own that holds only lo (--network none), where the IMDSv2 stand-in serves 169.254.169.254.

What the container needs to run systemd without --privileged (measured on this cgroup v1 host, Debian's
docker.io 20.10; see RUN_OPTIONS) is said beside each option.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.plans import ROOT
from tests.support.rehearsal.dockerd import PrivateDockerd
from tests.support.rehearsal.imds_standin import ADDRESS, InstanceMetadata
from tests.support.rehearsal.surroundings import (
    AWS_STANDIN_NAME,
    TRUSTED_CA_PATH,
    Standin,
    Surroundings,
    prepare,
)
from tests.support.rehearsal.user_data import RenderedMachine, nocloud_seed
from tests.support.rehearsal.volume import SIZE_BYTES, LoopVolume, loop_volume

SEED_DIR = "/var/lib/cloud/seed/nocloud"
AWS_STANDIN = "tests.support.rehearsal.aws_standin"
RUN_OPTIONS = (
    # Its own network namespace with only lo: nothing of the boot can leave it (no route, no DNS).
    "--network", "none",
    # Its own cgroup namespace: systemd sees its own cgroup as the root of the tree.
    "--cgroupns", "private",
    # systemd wants /run and /run/lock as tmpfs (it mounts them itself only when it may mount, which needs
    # CAP_SYS_ADMIN); /tmp too, as on a machine.
    "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
    # systemd's own detection of a container (systemd-detect-virt, ConditionVirtualization=).
    "--env", "container=docker",
    # SIGRTMIN+3 asks systemd to halt: `docker stop` shuts the machine down as a poweroff would.
    "--stop-signal", "SIGRTMIN+3",
)
# moto's import and the seeding of the stack's secrets and objects take a few seconds on this machine.
STANDIN_START_SECONDS = 30
REMOVE_TIMEOUT_SECONDS = 300
# systemd (252, bookworm) must create its own cgroups (init.scope, system.slice) or it exits at once ("Failed to
# create /init.scope control group: Read-only file system"): docker mounts a non-privileged container's cgroups
# read-only. On a cgroup v1 (hybrid) host, as this one, the machine gets a directory of the host's name=systemd
# hierarchy of its own, writable, at its /sys/fs/cgroup/systemd: that hierarchy only tracks processes (no
# controller, no limit), so the machine can order its own processes there and nothing else. A cgroup v2 host is
# not measured yet.
HOST_SYSTEMD_CGROUP = Path("/sys/fs/cgroup/systemd")
CGROUP_PARENT = HOST_SYSTEMD_CGROUP / "neo4j-cluster-rehearsal"


@contextlib.contextmanager
def _systemd_cgroup(name: str) -> Iterator[tuple[str, ...]]:
    """The docker run options that give the machine its writable name=systemd cgroup; removed afterwards."""
    if not (HOST_SYSTEMD_CGROUP / "cgroup.procs").exists():
        yield ()
        return
    own = CGROUP_PARENT / name
    own.mkdir(parents=True, exist_ok=True)
    try:
        yield ("--volume", f"{own}:{HOST_SYSTEMD_CGROUP}:rw")
    finally:
        # A cgroup goes with rmdir, deepest first, once its processes are gone (the container has stopped).
        for directory in sorted((d for d in own.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            own.rmdir()


@dataclass(frozen=True)
class Machine:
    dockerd: PrivateDockerd
    container: str
    pid: int               # the container's PID 1 (systemd) as the host sees it: its namespaces are /proc/<pid>/ns
    instance_id: str
    volume: LoopVolume | None  # the data volume stand-in, when the instance has a DataVolumeId tag
    surroundings: Surroundings | None = None  # the CA, secrets' values, hosts and stand-ins around it
    logs: dict[str, Path] = dataclasses.field(default_factory=dict)  # stand-in name → its log, once they serve

    def refused_aws_requests(self) -> list[str]:
        """The signed requests (the machine's AWS CLI and SDKs) the AWS stand-in refused so far: its log lines with a
        key= and ending -> 403 (AccessDenied, a bad signature or token)."""
        log = self.logs.get(AWS_STANDIN_NAME)
        return [line for line in log.read_text().splitlines()
                if " key=" in line and line.endswith("-> 403")] if log else []

    @property
    def netns(self) -> str:
        return f"/proc/{self.pid}/ns/net"

    def exec(self, *command: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
        return self.dockerd.docker("exec", self.container, *command, timeout=timeout, check=check)

    def in_netns(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """A host program run in the machine's network namespace only (its filesystem stays the host's)."""
        return subprocess.run(["nsenter", f"--net={self.netns}", *command], capture_output=True, text=True,
                              timeout=timeout, check=False)


def _add_metadata_address(machine: Machine) -> None:
    # 169.254.169.254 on the machine's own lo: routed locally inside that namespace, unknown to the host's.
    result = machine.in_netns("ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo")
    if result.returncode != 0:
        raise RuntimeError(f"rehearsal: ip addr add {ADDRESS} in the machine's namespace failed: {result.stderr}")


def _wait_for_unit(machine: Machine, unit: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while machine.exec("systemctl", "is-active", "--quiet", unit).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"rehearsal: {unit} was not active in the machine within {timeout:.0f}s")
        time.sleep(0.2)


@contextlib.contextmanager
def _standins(machine: Machine, standins: tuple[Standin, ...], work: Path) -> Iterator[dict[str, Path]]:
    """The stand-ins, each a host process in the machine's network namespace only (nsenter --net), all started at
    once and each waited for ("serving" in its log); stopped when the block ends. Yields name → log."""
    logs: dict[str, Path] = {}
    processes: dict[str, subprocess.Popen] = {}
    try:
        for index, standin in enumerate(standins):
            log = logs[standin.name] = work / f"standin-{index}.log"
            with log.open("w") as out:
                processes[standin.name] = subprocess.Popen(
                    ["nsenter", f"--net={machine.netns}", sys.executable, "-m", standin.module, *standin.args],
                    cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STANDIN_START_SECONDS
        for name, process in processes.items():
            while "serving" not in logs[name].read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rehearsal: the {name} did not start: {logs[name].read_text()[-1500:]}")
                time.sleep(0.1)
        yield logs
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _role_standins(standins: tuple[Standin, ...], rendered: RenderedMachine, instance_id: str,
                   work: Path) -> tuple[tuple[Standin, ...], Path]:
    """The stand-ins with the machine's own instance role handed to its AWS stand-in (the role and its policies
    from the plan, assumed for this instance), and the file the role's credentials are written to for IMDS."""
    credentials = work / "role-credentials.json"
    role = work / "instance-role.json"
    role.write_text(json.dumps({
        "name": rendered.instance_role, "assume_role_policy": rendered.assume_role_policy, "session": instance_id,
        "policies": [{"name": policy.name, "document": policy.document} for policy in rendered.role_policies]}))
    extra = ("--role", str(role), "--credentials", str(credentials)) if rendered.instance_role else ()
    return tuple(dataclasses.replace(s, args=(*s.args, *extra)) if s.module == AWS_STANDIN else s
                 for s in standins), credentials


@dataclass(frozen=True)
class Around:
    """What a further machine of the same rehearsal has around it (the HAProxy node beside the server,
    haproxy_node.py): the surroundings already prepared for the first (the same CA, secrets' values and objects),
    and what it adds to them."""
    surroundings: Surroundings
    options: tuple[str, ...] = ()            # more `docker create` options
    files: tuple[tuple[str, str], ...] = ()  # (path, text) placed in the machine before its first boot
    standins: tuple[Standin, ...] = ()       # more stand-ins in its network namespace


@contextlib.contextmanager
def running_machine(dockerd: PrivateDockerd, image: str, rendered: RenderedMachine, keep: bool = False,
                    volume: LoopVolume | None = None,
                    around: Around | None = None) -> Iterator[tuple[Machine, dict[str, Path]]]:
    """The machine booting `rendered`'s user data, its stand-ins serving (IMDS, the AWS APIs, Neo4j's apt
    repository); yields (machine, stand-in name → its log). The container is removed when the block ends (keep:
    left stopped, for a look with docker). volume: an existing data volume to attach (a replaced machine: the
    one its predecessor, stopped, had), instead of a new empty one."""
    instance_id = f"i-{uuid.uuid4().hex[:17]}"
    name = f"rehearsal-{rendered.instance}-{instance_id}"
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-machine-")))
        cgroup = stack.enter_context(_systemd_cgroup(name))
        volume_id = rendered.tags.get("DataVolumeId")
        if volume is None and volume_id:
            # The planned size (a sparse file: only what the machine writes takes room): the backup job checks
            # its staging room on the volume against what a dump needs, as on a real one.
            size = (rendered.data_volume_gib << 30) if rendered.data_volume_gib else SIZE_BYTES
            volume = stack.enter_context(loop_volume(volume_id, work, size))
        # The machine may use the loop device (the devices cgroup lets it); its by-id name comes after the start.
        # CAP_SYS_ADMIN (and no more: not --privileged, which would also hand it every device and the host's
        # /sys and /proc writable): mkfs.xfs sets the device's block size (ioctl BLKBSZSET, refused without it:
        # "cannot set blocksize 512 on block device") and setup-neo4j.sh mounts the volume (mount(2)), both
        # of which the kernel allows only with CAP_SYS_ADMIN; docker's default seccomp profile lets mount
        # through once the capability is there. Only a machine with a data volume gets it.
        devices = ("--device", volume.device, "--cap-add", "SYS_ADMIN") if volume else ()
        # The seed's full path under a directory copied onto the machine's / (docker cp wants the parent to exist).
        nocloud_seed(rendered, instance_id, work / "root" / SEED_DIR.lstrip("/"))
        surroundings = around.surroundings if around else prepare(rendered, work / "surroundings")
        for path, text in around.files if around else ():
            placed = work / "root" / path.lstrip("/")
            placed.parent.mkdir(parents=True, exist_ok=True)
            placed.write_text(text)
        # The rehearsal CA where the machine's trust store takes a local CA (as a company CA baked into an AMI);
        # the machine's own update-ca-certificates adds it to the bundle below, before any stand-in answers.
        trusted = work / "root" / TRUSTED_CA_PATH.lstrip("/")
        trusted.parent.mkdir(parents=True, exist_ok=True)
        trusted.write_text(surroundings.ca.cert_pem)
        # The VPC's DNS: with interface endpoints (private DNS on) and a mirror behind the company's DNS, the
        # usual names resolve to private addresses; here to the stand-ins' addresses on the namespace's lo.
        hosts = tuple(arg for host, address in surroundings.hosts for arg in ("--add-host", f"{host}:{address}"))
        dockerd.docker("create", "--name", name, "--hostname", rendered.instance, *RUN_OPTIONS, *cgroup, *devices,
                       *hosts, *(around.options if around else ()), image)
        try:
            # The seed is copied in before the first boot (no host directory is shared with the machine).
            dockerd.docker("cp", f"{work / 'root'}/.", f"{name}:/")
            spec = work / "imds.json"
            # The address and the stand-in must be there before cloud-init's runcmd asks: the container is
            # started, its namespace set up at once (systemd's boot reaches cloud-init seconds later).
            dockerd.docker("start", name)
            pid = int(dockerd.docker("inspect", "--format", "{{.State.Pid}}", name).stdout.strip())
            machine = Machine(dockerd, name, pid, instance_id, volume, surroundings)
            _add_metadata_address(machine)
            # Before the stand-ins start: the boot's first step needs the IMDS stand-in, so no script gets to TLS
            # before the CA is trusted. After systemd-tmpfiles-setup, which empties /tmp early in the boot
            # (tmpfiles.d/tmp.conf), where update-ca-certificates writes its temporary bundle.
            _wait_for_unit(machine, "systemd-tmpfiles-setup.service")
            machine.exec("update-ca-certificates", check=True)
            if volume:
                # udev's name for the attached volume (a machine container runs no udev of its own).
                machine.exec("sh", "-c", f"mkdir -p /dev/disk/by-id && ln -sfn {volume.device} {volume.by_id}",
                             check=True)
            standins, credentials = _role_standins(
                (*surroundings.standins, *(around.standins if around else ())), rendered, instance_id, work)
            metadata = InstanceMetadata(instance_id, rendered.region, rendered.availability_zone, rendered.tags,
                                        rendered.instance_role, str(credentials))
            imds = Standin("IMDS stand-in", "tests.support.rehearsal.imds_standin", ("--metadata", str(spec)))
            spec.write_text(metadata.to_json())
            with _standins(machine, (*standins, imds), work) as logs:
                yield dataclasses.replace(machine, logs=logs), logs
        finally:
            dockerd.docker("stop", "--time", "20", name, check=False, timeout=60)
            if not keep:
                # vfs removes a container by deleting its whole root (over a gigabyte once Neo4j is installed):
                # measured past 60 s on this 2-CPU machine while a second machine booted.
                dockerd.docker("rm", "--force", name, check=False, timeout=REMOVE_TIMEOUT_SECONDS)
