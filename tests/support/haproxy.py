"""Run the RENDERED haproxy.cfg (components.render.render_haproxy_cfg) on loopback.

`loopback_cfg` is the one, explicit edit: the rendered text with only addresses and ports
substituted, line for line (the line count never changes, see `changed_lines`):

- `bind :<port>` in each frontend         → `bind 127.0.0.1:<free port>`
- `server <name> <host>:<bolt port>`      → `server <name> 127.0.0.1:<port> port <check port>`
  (a server's `port` sets its health-check port, overriding default-server's `check port 7474`)
- `parse-resolv-conf` in `resolvers`      → `nameserver loopback 127.0.0.1:<port>` (servers are IP
  literals here, so nothing is resolved; the nameserver keeps any query on loopback all the same)
- `ca-file /etc/haproxy/ca.crt`           → the test CA's path (only when a CA is given)
- `/var/lib/haproxy/` (admin socket, saved server states) → `Loopback.state_dir`, always given: the tests
  do not run as root
- `maxconn 20000` in `global`             → `maxconn <n>` (only when given): haproxy needs about
  2 × maxconn file descriptors and exits when it cannot raise its limit that far; test machines
  (a 20000 hard limit in CI containers) cannot, a real HAProxy node started by root can.
- `chroot /var/lib/haproxy`               → `Loopback.chroot_dir` (required then) when haproxy can drop its
  privileges here (started by root, the haproxy user exists: `user` and `group` stay as rendered);
  otherwise `chroot`, `user` and `group` become comments: only root may chroot or change user.

`loopback_cfg` only edits text and makes nothing on disk; a caller that runs the config gets both
directories inside its own temporary directory from `loopback_dirs`, so nothing outlives the test.

Everything else (timeouts, `inter 2s fall 3 rise 2`, the http-check lines, on-marked-down) runs as
rendered. The stand-ins for Neo4j servers are here too: `HealthEndpoints` answers the cluster health
endpoints as the Operations Manual's table says, `EchoServer` is a Bolt-port stand-in that names
itself to every connection, and `running_haproxy` starts and always stops a real haproxy.
"""
from __future__ import annotations

import contextlib
import csv
import grp
import http.server
import io
import os
import pwd
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CA_PATH = "/etc/haproxy/ca.crt"
STATE_DIR = "/var/lib/haproxy"
_SECTION = re.compile(r"^(global|defaults|resolvers|frontend|backend|listen)\b\s*(\S*)")
_BIND = re.compile(r"^(\s+bind )(\S*)(.*)$")
_SERVER = re.compile(r"^(\s+server )(\S+) (\S+)(.*)$")
_PARSE_RESOLV = re.compile(r"^(\s+)parse-resolv-conf\s*$")
_MAXCONN = re.compile(r"^(\s+)maxconn \d+\s*$")
_PRIVILEGE = re.compile(r"^(\s+)(chroot|user|group) (\S+)\s*$")


def can_drop_privileges() -> bool:
    """True when a haproxy started here may chroot and become the haproxy user (root, the user exists)."""
    try:
        pwd.getpwnam("haproxy"), grp.getgrnam("haproxy")
    except KeyError:
        return False
    return os.geteuid() == 0


@dataclass(frozen=True)
class Loopback:
    """Where each part of the rendered config goes on this machine."""
    binds: dict[str, int]  # frontend name → port to bind on 127.0.0.1
    servers: dict[str, tuple[int, int]]  # server name → (traffic port, health-check port)
    nameserver_port: int
    ca_file: str | None = None
    maxconn: int | None = None  # global maxconn, when this machine's file limit is below haproxy's need
    # replaces /var/lib/haproxy; required (keyword): a default made on disk here would outlive the caller
    state_dir: str = field(kw_only=True)
    chroot_dir: str | None = None  # replaces the chroot; required when privileged
    privileged: bool | None = None  # keep chroot/user/group; None: can_drop_privileges()


def loopback_cfg(rendered: str, loopback: Loopback) -> str:
    """The rendered config with only addresses and ports substituted (see the module docstring).
    Every frontend and server must have a place in `loopback` and every place must be used."""
    section, name = "", ""
    used_binds, used_servers = set(), set()
    out = []
    for line in rendered.splitlines():
        if match := _SECTION.match(line):
            section, name = match[1], match[2]
        elif section == "frontend" and (match := _BIND.match(line)):
            if name not in loopback.binds:
                raise ValueError(f"no loopback port for frontend {name}")
            line = f"{match[1]}127.0.0.1:{loopback.binds[name]}{match[3]}"
            used_binds.add(name)
        elif section == "backend" and (match := _SERVER.match(line)):
            server = match[2]
            if server not in loopback.servers:
                raise ValueError(f"no loopback ports for server {server}")
            traffic, check = loopback.servers[server]
            line = f"{match[1]}{server} 127.0.0.1:{traffic} port {check}{match[4]}"
            used_servers.add(server)
        elif section == "resolvers" and (match := _PARSE_RESOLV.match(line)):
            line = f"{match[1]}nameserver loopback 127.0.0.1:{loopback.nameserver_port}"
        elif section == "global" and loopback.maxconn is not None and (match := _MAXCONN.match(line)):
            line = f"{match[1]}maxconn {loopback.maxconn}"
        elif section == "global" and (match := _PRIVILEGE.match(line)):
            privileged = can_drop_privileges() if loopback.privileged is None else loopback.privileged
            if not privileged:
                line = f"{match[1]}# {match[2]} {match[3]} (not root here)"
            elif match[2] == "chroot":
                if loopback.chroot_dir is None:
                    raise ValueError("haproxy keeps its chroot here (privileged): give Loopback.chroot_dir "
                                     "(loopback_dirs makes one)")
                line = f"{match[1]}chroot {loopback.chroot_dir}"
        if section == "global" and f" {STATE_DIR}/" in line:
            line = line.replace(f" {STATE_DIR}/", f" {loopback.state_dir}/")
        if loopback.ca_file is not None and f"ca-file {CA_PATH}" in line:
            line = line.replace(f"ca-file {CA_PATH}", f"ca-file {loopback.ca_file}")
        out.append(line)
    unused = (set(loopback.binds) - used_binds) | (set(loopback.servers) - used_servers)
    if unused:
        raise ValueError(f"not in the rendered config: {sorted(unused)}")
    return "\n".join(out) + ("\n" if rendered.endswith("\n") else "")


def loopback_dirs(directory: Path) -> dict[str, str]:
    """`state_dir` and `chroot_dir` for a Loopback that is run, made inside `directory` (the caller's own
    temporary directory, so nothing outlives it): `state` for the admin socket and saved server states, `jail` an
    empty chroot. Short names: haproxy refuses an admin socket path over 97 characters."""
    state, jail = directory / "state", directory / "jail"
    state.mkdir()
    jail.mkdir()
    jail.chmod(0o755)  # as /var/lib/haproxy: mkdir's mode is masked by the umask
    return {"state_dir": str(state), "chroot_dir": str(jail)}


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(before, after) for every line that differs; the two texts must have the same line count."""
    old, new = before.splitlines(), after.splitlines()
    if len(old) != len(new):
        raise ValueError(f"line count changed: {len(old)} → {len(new)}")
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def server_names(cfg: str, backend: str) -> list[str]:
    body = re.search(rf"^backend {backend}\n(.*?)(?=^\S|\Z)", cfg, re.M | re.S)[1]
    return re.findall(r"^\s+server (\S+) ", body, re.M)


# --- stand-ins for Neo4j servers --------------------------------------------------------------------

@dataclass
class ClusterState:
    """Who leads `database` and who is available, as the fake health endpoints report it."""
    leader: str | None
    unavailable: set[str] = field(default_factory=set)
    database: str = "neo4j"

    def answer(self, server: str, path: str) -> tuple[int, str]:
        """The Operations Manual's 'Unified HTTP endpoint responses' table: writable is 200 `true`
        on the leader and 404 `false` on followers and secondaries; available is 200 `true` on every
        server that can serve reads. `/` is the discovery page every server answers."""
        up = server not in self.unavailable
        if path == f"/db/{self.database}/cluster/writable":
            ok = up and server == self.leader
        elif path == f"/db/{self.database}/cluster/available":
            ok = up
        elif path == "/":
            ok = up
        else:
            ok = False
        return (200, "true") if ok else (404, "false")


class BoltAlive:
    """For a Bolt address whose HTTP port is unknown: the discovery page `/` answers 200 while the
    Bolt port accepts connections, 503 when it does not (a stand-in for the server's own `/`)."""

    def __init__(self, bolt_ports: dict[str, int]):
        self.bolt_ports = bolt_ports

    def answer(self, server: str, path: str) -> tuple[int, str]:
        if path != "/":
            return 404, ""
        return (200, "{}") if port_open(self.bolt_ports[server]) else (503, "")


class _QuietHTTPServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """haproxy resets its check connections once it has the status line: not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HealthEndpoints:
    """One HTTP server per Neo4j server on a free loopback port, answering `state.answer(server, path)`."""

    def __init__(self, names: list[str], state: ClusterState | BoltAlive):
        self.state = state
        self.requests: dict[str, int] = dict.fromkeys(names, 0)
        self._lock = threading.Lock()
        self._servers = {name: self._serve(name) for name in names}

    def port(self, name: str) -> int:
        return self._servers[name].server_address[1]

    def _serve(self, name: str) -> http.server.ThreadingHTTPServer:
        endpoints = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                with endpoints._lock:
                    code, body = endpoints.state.answer(name, self.path)
                    endpoints.requests[name] += 1
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        server = _QuietHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return server

    def update(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self.state, key, value)

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()


class EchoServer:
    """A stand-in for one server's Bolt port: sends `<name>\\n` on connect, then echoes."""

    def __init__(self, name: str):
        self.name = name

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with contextlib.suppress(OSError):  # haproxy closing or resetting the session
                    self.request.sendall(f"{name}\n".encode())
                    while data := self.request.recv(4096):
                        self.request.sendall(data)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def who_answers(port: int, timeout: float = 3) -> tuple[socket.socket, str]:
    """Connect to a frontend and read the name the echo backend sends; the socket stays open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    buffer = b""
    try:
        while not buffer.endswith(b"\n"):
            chunk = sock.recv(64)
            if not chunk:
                raise ConnectionError(f"port {port} closed the connection before a backend answered")
            buffer += chunk
    except BaseException:
        sock.close()
        raise
    return sock, buffer.decode().strip()


def is_closed(sock: socket.socket, timeout: float = 0.2) -> bool:
    """True once the peer has closed (EOF) or reset the connection."""
    sock.settimeout(timeout)
    try:
        sock.sendall(b"ping\n")
        return sock.recv(64) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


# --- a real haproxy ---------------------------------------------------------------------------------

def haproxy_binary() -> str | None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return binary if Path(binary).exists() else None


@dataclass
class RunningHAProxy:
    config: Path
    log: Path
    process: subprocess.Popen
    stats_port: int | None

    def states(self) -> dict[tuple[str, str], str]:
        """(backend, server) → status (UP, DOWN, UP 1/2, …) from the stats page's CSV."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=3) as response:
            rows = csv.DictReader(io.StringIO(response.read().decode().lstrip("# ")))
            return {(r["pxname"], r["svname"]): r["status"] for r in rows
                    if r["svname"] not in ("FRONTEND", "BACKEND")}

    def checked(self) -> dict[tuple[str, str], str]:
        """(backend, server) → last check status; empty or INI until a server's first check ran."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=3) as response:
            rows = csv.DictReader(io.StringIO(response.read().decode().lstrip("# ")))
            return {(r["pxname"], r["svname"]): r["check_status"] for r in rows
                    if r["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_for(self, expected: dict[tuple[str, str], str], timeout: float) -> float:
        """Wait until each (backend, server) has its expected status; seconds waited."""
        start = time.monotonic()
        while True:
            states = self.states()
            if all(states.get(key) == status for key, status in expected.items()):
                return time.monotonic() - start
            if self.process.poll() is not None:
                raise AssertionError(f"haproxy exited:\n{self.log.read_text()}")
            if time.monotonic() - start > timeout:
                raise AssertionError(f"after {timeout}s the states are {states}, expected {expected}")
            time.sleep(0.1)

    def wait_for_first_checks(self, timeout: float = 15) -> None:
        """Wait until every server's health check has run once (so UP/DOWN means something)."""
        deadline = time.monotonic() + timeout
        while True:
            pending = {k: v for k, v in self.checked().items() if v in ("", "INI") or v.startswith("* ")}
            if not pending:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"health checks did not run: {pending}\n{self.log.read_text()}")
            time.sleep(0.1)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_haproxy(config_text: str, directory: Path, *, listen_ports: list[int], stats_port: int | None = None,
                    timeout: float = 15, master_worker: bool = False) -> Iterator[RunningHAProxy]:
    """`haproxy -c` the config, then run `haproxy -db` with it until the block ends (always stopped).
    master_worker: `haproxy -W -db`, as the packaged haproxy.service runs it (-Ws): SIGUSR2 to the master (what
    `systemctl reload haproxy` sends) starts a new worker on the same listeners, the old one keeps its connections."""
    binary = haproxy_binary()
    if binary is None:
        raise AssertionError("haproxy is not installed: run `make tools` (scripts/install-tools.sh installs it)")
    config, log_path = directory / "haproxy.cfg", directory / "haproxy.log"
    config.write_text(config_text)
    checked = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, *(["-W"] if master_worker else []), "-f", str(config), "-db"],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while not all(port_open(p) for p in listen_ports):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"haproxy did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield RunningHAProxy(config, log_path, process, stats_port)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
