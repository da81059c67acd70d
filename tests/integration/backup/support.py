"""Helpers shared by the backup tests and bench/backup_stream.py: a Neo4j Community server (any line,
configured by our templates: tests/support/neo4j_local.py) that backup.py/restore.py stop and start by
command, and stand-ins for `neo4j-admin` and `neo4j console` of that line; and the rendered backup
launcher run under bash with stand-ins for the tools it calls (`run_launcher`).

The server runs in the calling process (started from a long-lived controller thread, so it dies
with it); `command("stop")`/`command("start")` are tiny client calls to that controller, as
systemctl is to systemd in production. The controller counts stops and starts, so a test can tell
whether a restore touched the server.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import socketserver
import stat
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.neo4j_dist import (
    NEO4J_VERSION,
    admin_command,
    admin_env,
    java_executable,
    line_of,
    neo4j_classpath,
)
from tests.support.neo4j_local import LocalNeo4j, local_jvm_args

CTL_CLIENT = Path(__file__).resolve().parent / "server_ctl.py"
PASSWORD = "backup-test-secret-1"


def exports(env: dict[str, str]) -> str:
    """Shell lines exporting env."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def _write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def write_neo4j_commands(where: Path, heap: str = "512m", version: str = NEO4J_VERSION) -> dict[str, Path]:
    """`neo4j-admin` and `neo4j console` stand-ins running the Maven Central jars of `version` on its
    Java (NEO4J_HOME/NEO4J_CONF from the environment, as the real ones read them)."""
    line = line_of(version)
    java = java_executable(version)
    java_home = shlex.quote(str(Path(os.path.realpath(java)).parent.parent))
    # `database check` leaves a log4j-<n>.xml in java.io.tmpdir for every run (Neo4j's LogUtils): here, not /tmp.
    java_tmp = where / "java-tmp"
    java_tmp.mkdir(exist_ok=True)
    admin_jvm = (*local_jvm_args(version), f"-Djava.io.tmpdir={java_tmp}")
    # As bin/neo4j-admin does: NEO4J_CONF defaults to $NEO4J_HOME/conf (4.4's AdminTool needs it set).
    admin = _write_script(where / "neo4j-admin", f'#!/bin/sh\nexport JAVA_HOME={java_home}\n'
                          f'export NEO4J_CONF="${{NEO4J_CONF:-$NEO4J_HOME/conf}}"\n'
                          f'{exports(admin_env(admin_jvm))}'
                          f'exec {shlex.join(admin_command(version, admin_jvm))} "$@"\n')
    overrides = " ".join(f"-c {k}={v}" for k, v in line.fast_shutdown.items())
    jvm = " ".join(map(shlex.quote, (*line.machine_jvm_args, *local_jvm_args(version))))  # C1, CDS archive
    console = _write_script(where / "neo4j-console", (
        f'#!/bin/sh\nexec {shlex.quote(java)} -Xmx{heap} {jvm} '
        f'-cp {shlex.quote(neo4j_classpath(version))} {line.server_main} '
        f'--home-dir "$NEO4J_HOME" --config-dir "$NEO4J_CONF" {overrides}\n'))
    return {"admin": admin, "console": console}


def console_whose_first_bolt_port_is_taken(path: Path, console: Path) -> Path:
    """A scratch command that starts the real `console` stand-in, the first time with its Bolt port already taken:
    a listening socket on that port, bound here and handed to the server's process, which then fails to bind it
    as a server would that lost the port to another process. Later starts (the drill's conf-2, conf-3) run
    `console` as it is."""
    return _write_script(path, f"""#!{sys.executable}
import os, re, socket, sys
conf = os.environ["NEO4J_CONF"]
if os.path.basename(conf) == "conf":
    text = open(os.path.join(conf, "neo4j.conf")).read()
    port = int(re.search(r"^(?:server[.]bolt|dbms[.]connector[.]bolt)[.]listen_address=127[.]0[.]0[.]1:(\\d+)$",
                         text, re.M).group(1))
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    os.set_inheritable(squatter.fileno(), True)  # held until the server exits
os.execv({str(console)!r}, [{str(console)!r}, *sys.argv[1:]])
""")


def wrapped_admin(path: Path, template: str, commands: dict[str, Path]) -> dict[str, Path]:
    """`commands` with `neo4j-admin` replaced by the Python script `template` written to `path`: a stand-in
    that changes one thing and runs the real one ({python}: this interpreter, {admin}: commands["admin"])."""
    _write_script(path, template.format(python=sys.executable, admin=str(commands["admin"])))
    return {**commands, "admin": path}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        command = self.rfile.readline().decode().strip()
        controlled: ControlledServer = self.server.controlled
        try:
            reply = controlled.handle(command)
        except Exception as error:  # reported to the client, which exits 1
            reply = f"error {type(error).__name__}: {error}"
        self.wfile.write((reply + "\n").encode())


class ControlledServer:
    """A prepared Neo4j Community server (neo4j_local.prepare, password PASSWORD) plus a loopback control
    port taking `start`, `stop` and `status`."""

    def __init__(self, local: LocalNeo4j):
        self.local = local
        self.home = local.home
        self.bolt_port = local.bolt_port
        self.version = local.version
        self.server = local.server
        self.starts = 0
        self.stops = 0
        self.control = socketserver.TCPServer(("127.0.0.1", 0), _Handler)
        self.control.controlled = self
        self.thread = threading.Thread(target=self.control.serve_forever, name="neo4j-control", daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.control.server_address[1]

    def handle(self, command: str) -> str:
        if command == "start":
            if not self.server.is_running():
                self.server.start()
                self.starts += 1
            return "ok"
        if command == "stop":
            if self.server.is_running():
                self.server.stop()
                self.stops += 1
            return "ok"
        if command == "status":
            return json.dumps({"running": self.server.is_running(), "starts": self.starts, "stops": self.stops})
        return f"error unknown command {command!r}"

    def send(self, command: str) -> str:
        with socket.create_connection(("127.0.0.1", self.port), timeout=300) as sock:
            sock.sendall((command + "\n").encode())
            return sock.makefile().readline().strip()

    def status(self) -> dict:
        return json.loads(self.send("status"))

    def command(self, verb: str) -> str:
        return f"{sys.executable} {CTL_CLIENT} {self.port} {verb}"

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def driver(self):
        from neo4j import GraphDatabase

        return GraphDatabase.driver(self.uri, auth=("neo4j", self.local.password))

    def query(self, cypher: str, **params):
        with self.driver() as driver:
            return driver.execute_query(cypher, params).records

    def counts(self) -> tuple[int, int]:
        nodes = self.query("MATCH (n) RETURN count(n) AS c")[0]["c"]
        rels = self.query("MATCH ()-[r]->() RETURN count(r) AS c")[0]["c"]
        return nodes, rels

    def ensure_running(self) -> None:
        assert self.send("start") == "ok"
        self.server.wait_for_bolt(180)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()
        self.control.shutdown()
        self.control.server_close()


# --- the rendered backup launcher (neo4j-backup.sh), run for real under bash ------------------------------

# Instance metadata (the bucket tag is "tagged-bucket"), Secrets Manager and install, as the launcher calls them.
LAUNCHER_STUBS = {
    "curl": '#!/bin/sh\ncase "$*" in *api/token*) echo token ;; *) echo tagged-bucket ;; esac\n',
    "aws": "#!/bin/sh\necho secret-from-secrets-manager\n",
    "install": "#!/bin/sh\nexit 0\n",
}


def run_launcher(script: str, where: Path, recorded: str, *args: str) -> list[list[str]]:
    """Run the rendered launcher `script` with `args` under bash in `where`: LAUNCHER_STUBS on its PATH, the
    tooling in where/scripts (as on a server), and a python3 that records, for each run of a tool, the shell
    words `recorded` (e.g. '"$NEO4J_PASSWORD"') and then its arguments. Every run, in order: [*recorded, …]."""
    bin_dir, tools = where / "bin", where / "scripts"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (tools / "neo4j_ops" / "backup").mkdir(parents=True, exist_ok=True)
    for name in ("backup.py", "restore.py", "neo4j_ops/backup/__init__.py"):
        (tools / name).touch()
    python3 = f'#!/bin/sh\nprintf "%s\\n" {recorded} "$@" "--end-of-run--" >> "$ARGS_FILE"\n'
    for name, text in {**LAUNCHER_STUBS, "python3": python3}.items():
        _write_script(bin_dir / name, text)
    (where / "neo4j-backup.sh").write_text(script)
    record = where / "args"
    record.unlink(missing_ok=True)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "NEO4J_BACKUP_TOOLS": str(tools), "ARGS_FILE": str(record)}
    result = subprocess.run(["bash", str(where / "neo4j-backup.sh"), *args], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [chunk.strip("\n").splitlines() for chunk in record.read_text().split("--end-of-run--") if chunk.strip()]
