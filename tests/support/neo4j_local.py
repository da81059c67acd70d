"""A real Neo4j Community server of any line we render (4.4, 5.26, 2025), configured by OUR templates:
the one local-server wrapper of the tests, the benches and `make neo4j-local`.

The neo4j.conf is what components.render.render_neo4j_conf writes for a standalone community
server of a docker-platform stack with 1 GiB containers, of the release asked for (default 5.26's;
tests/support/neo4j_dist.py pins one release per line). Only what must differ on a test machine
is overridden, with `-c` settings (Neo4jServer config_overrides): listen and advertised addresses
(127.0.0.1 and free ports), a small heap and page cache, and the import directory moved into the
server's home. Strict configuration validation stays on (the template sets it on every line), so
every start is also a test that the server accepts our rendered configuration. TLS material, when
asked for, is laid out as templates/neo4j/setup-neo4j.sh.j2 does on a real machine
(certificates/<scope>/private.key, public.crt, trusted/ca.crt).

Run as a module for humans (`make neo4j-local [VERSION=4.4|5.26|2025|<x.y.z>]`):
    .venv/bin/python -m tests.support.neo4j_local [--version 4.4]   # foreground; Ctrl-C stops it
    .venv/bin/python -m tests.support.neo4j_local --background      # prints how to stop it
    .venv/bin/python -m tests.support.neo4j_local --stop
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.render import render_neo4j_conf  # noqa: E402
from components.settings import load_settings  # noqa: E402
from components.topology import plan_topology  # noqa: E402
from tests.support import class_data_sharing  # noqa: E402
from tests.support.neo4j_dist import (  # noqa: E402
    NEO4J_VERSION,
    Neo4jServer,
    cache_dir,
    free_port,
    line_of,
    make_home,
    pinned_version,
    run_neo4j_admin,
    set_initial_password_args,
)

# The stack a standalone community server comes from: every value goes through load_settings.
STACK_CONFIG = {
    "neo4j:platform": "docker",
    "neo4j:edition": "community",
    "neo4j:coreCount": 1,
    "neo4j:replicaCount": 0,
    "neo4j:containerMemory": "1g",
    "neo4j:haproxy": False,
    "neo4j:monitoring": False,
}
TEST_HEAP = "256m"
TEST_PAGE_CACHE = "32m"
# The tests' servers live for minutes: compiled by C1 only, they start about a quarter faster on two
# cores. A JVM option of the test machine, like the small heap; every flag of the conf still applies.
TEST_JVM_ARGS = ("-XX:TieredStopAtLevel=1",)


def local_jvm_args(version: str = NEO4J_VERSION) -> tuple[str, ...]:
    """The test machine's JVM options for a server or neo4j-admin of `version`: C1 only, and the release's class
    data sharing archive when made (tests/support/class_data_sharing.py). neo4j-admin's JVMs (a dump, a
    consistency check) spent a third less CPU with them (measured 2026-12-06, 2025: a dump 7.1 s -> 4.3 s)."""
    return (*TEST_JVM_ARGS, *class_data_sharing.use_args(version))


# NEO4J_LOCAL_STATE_DIR: another place for the background server's state (the README test keeps its own).
STATE_DIR = Path(os.environ.get("NEO4J_LOCAL_STATE_DIR") or ROOT / "build" / "neo4j-local")


def rendered_conf(tls: str = "disabled", version: str = NEO4J_VERSION, **stack: object) -> str:
    """neo4j.conf from our templates for a standalone community server of `version` ('neo4j:tls': tls;
    other stack keys in camelCase, e.g. containerMemory="8g")."""
    config = {**STACK_CONFIG, "neo4j:tls": tls, "neo4j:version": version,
              **{f"neo4j:{k}": v for k, v in stack.items()}}
    settings = load_settings("test", config)
    topology = plan_topology(settings)
    return render_neo4j_conf(settings, topology, topology.servers[0])


def machine_overrides(bolt: int, http: int, https: int, *, import_dir: str, heap: str = TEST_HEAP,
                      page_cache: str = TEST_PAGE_CACHE, version: str = NEO4J_VERSION) -> dict[str, str]:
    """The only settings that differ from the rendered conf: loopback, free ports, small memory, and
    the import directory moved into the test's NEO4J_HOME (the key itself comes from the template),
    in the dialect of `version` (4.4: dbms.connector.*, dbms.memory.*, dbms.directories.*)."""
    keys = line_of(version).keys
    return {
        keys["import"]: import_dir,
        keys["default_listen"]: "127.0.0.1",
        keys["default_advertised"]: "127.0.0.1",
        keys["bolt_listen"]: f"127.0.0.1:{bolt}",
        keys["bolt_advertised"]: f"127.0.0.1:{bolt}",
        keys["http_listen"]: f"127.0.0.1:{http}",
        keys["http_advertised"]: f"127.0.0.1:{http}",
        keys["https_listen"]: f"127.0.0.1:{https}",
        keys["https_advertised"]: f"127.0.0.1:{https}",
        keys["heap_initial"]: heap,
        keys["heap_max"]: heap,
        keys["pagecache"]: page_cache,
    }


# --- TLS material --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A CA and one server certificate for 127.0.0.1/localhost, as PEM files in `directory`."""
    directory: Path
    ca_cert: Path
    server_key: Path
    server_cert: Path


def make_certificates(directory: str | os.PathLike, *, use_openssl: bool | None = None) -> Certificates:
    """CA (ECDSA P-384) + server certificate (ECDSA P-256, SAN localhost and 127.0.0.1), like
    components/tls.py makes with pulumi-tls at deploy time: the server key is SEC1 PEM
    ("EC PRIVATE KEY"), which is what pulumi-tls's private_key_pem holds for ECDSA keys.
    Uses the `cryptography` package when importable, else the openssl CLI."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    certs = Certificates(directory, directory / "ca.crt", directory / "server.key", directory / "server.crt")
    if use_openssl is None:
        try:
            import cryptography  # noqa: F401

            use_openssl = False
        except ImportError:
            use_openssl = True
    (_openssl_certificates if use_openssl else _cryptography_certificates)(certs)
    return certs


def _cryptography_certificates(certs: Certificates) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "neo4j-cluster test CA"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "neo4j-cluster")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA384()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    certs.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    certs.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.server_key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.TraditionalOpenSSL,
                                                   serialization.NoEncryption()))


def _openssl_certificates(certs: Certificates) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor the openssl CLI is available")
    d = certs.directory

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

    run("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "ca.key")
    run("req", "-x509", "-new", "-key", "ca.key", "-sha384", "-days", "2", "-subj", "/O=neo4j-cluster/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,"
        "digitalSignature", "-out", certs.ca_cert.name)
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", certs.server_key.name)
    run("req", "-new", "-key", certs.server_key.name, "-subj", "/CN=localhost", "-out", "server.csr")
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                  "extendedKeyUsage=serverAuth,clientAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", certs.ca_cert.name, "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-sha256", "-extfile", "server.ext", "-out", certs.server_cert.name)


def install_certificates(home: Path, certs: Certificates, scopes: tuple[str, ...] = ("bolt", "https")) -> None:
    """Lay the material out as setup-neo4j.sh does: certificates/<scope>/{private.key,public.crt,trusted/ca.crt}."""
    for scope in scopes:
        base = home / "certificates" / scope
        (base / "trusted").mkdir(parents=True, exist_ok=True)
        (base / "revoked").mkdir(exist_ok=True)
        shutil.copyfile(certs.server_key, base / "private.key")
        shutil.copyfile(certs.server_cert, base / "public.crt")
        shutil.copyfile(certs.ca_cert, base / "trusted" / "ca.crt")


# --- servers ---------------------------------------------------------------------------------------


@functools.cache
def _auth_file(password: str, version: str = NEO4J_VERSION) -> str:
    """data/dbms/auth.ini as the line's `neo4j-admin … set-initial-password` writes it (the conf is the rendered one,
    which the admin tool validates too). Made once per password and release and kept with the release's other
    builds (cache_dir: auth/<sha256 of the password>.ini): each run is a JVM (~1.1 CPU s), and the integration
    run's workers asked for the same few passwords ~35 times (measured 2026-12-07)."""
    cached = cache_dir(version) / "auth" / f"{hashlib.sha256(password.encode()).hexdigest()}.ini"
    with contextlib.suppress(OSError):
        return cached.read_text()
    with tempfile.TemporaryDirectory(prefix="neo4j-auth-") as tmp:
        home = make_home(tmp)
        (home / "conf" / "neo4j.conf").write_text(rendered_conf(version=version))
        run_neo4j_admin(set_initial_password_args(version, password), home, version=version, check=True,
                        jvm_args=local_jvm_args(version))
        text = (home / "data" / "dbms" / "auth.ini").read_text()
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.partial")  # workers may write it at once
    partial.write_text(text)
    partial.replace(cached)
    return text


@dataclass
class LocalNeo4j:
    """One server: `uri`, `password`, `server` (the Neo4jServer), `home`, `version`; stop() stops it."""
    home: Path
    password: str
    bolt_port: int
    http_port: int
    https_port: int
    tls: str
    server: Neo4jServer
    certificates: Certificates | None = None
    conf: str = field(default="", repr=False)

    @property
    def version(self) -> str:
        return self.server.version

    @property
    def line(self) -> str:
        """"4.4", "5" or "2025"."""
        return self.server.line.name

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.bolt_port}"

    def start(self, timeout: float = 180) -> LocalNeo4j:
        self.server.start()
        self.server.wait_for_bolt(timeout)
        return self

    def stop(self) -> None:
        self.server.stop()

    def is_running(self) -> bool:
        return self.server.is_running()


def prepare(base_dir: str | os.PathLike, *, password: str, tls: str = "disabled",
            certificates: Certificates | None = None, die_with_parent: bool = True,
            bolt_port: int | None = None, version: str = NEO4J_VERSION, heap: str = TEST_HEAP,
            page_cache: str = TEST_PAGE_CACHE) -> LocalNeo4j:
    """Make NEO4J_HOME under base_dir with our rendered conf of `version` (a release, or a line:
    4.4, 5.26, 2025), the initial password and TLS material. Nothing runs yet: start() it."""
    version = pinned_version(version)
    home = make_home(base_dir)
    conf = rendered_conf(tls, version)
    (home / "conf" / "neo4j.conf").write_text(conf)
    (home / "data" / "dbms").mkdir(parents=True, exist_ok=True)
    (home / "data" / "dbms" / "auth.ini").write_text(_auth_file(password, version))
    if tls != "disabled":
        if certificates is None:
            certificates = make_certificates(home / "test-ca")
        install_certificates(home, certificates)
    bolt, http, https = bolt_port or free_port(), free_port(), free_port()
    driver_options = {}
    if tls == "required":  # plain Bolt is refused: wait_for_bolt must speak TLS with our CA
        import ssl

        driver_options["ssl_context"] = ssl.create_default_context(cafile=str(certificates.ca_cert))
    overrides = machine_overrides(bolt, http, https, import_dir=str(home / "import"), heap=heap,
                                  page_cache=page_cache, version=version)
    server = Neo4jServer(home, auth=("neo4j", password), config_overrides=overrides, version=version,
                         jvm_args=local_jvm_args(version),
                         die_with_parent=die_with_parent, driver_options=driver_options)
    return LocalNeo4j(home, password, bolt, http, https, tls, server, certificates, conf)


def start_all(servers: list[LocalNeo4j], timeout: float = 240) -> list[LocalNeo4j]:
    """Start prepared servers at once: the JVMs are launched from the calling thread (their
    parent-death signal follows that thread), then waited for in parallel. All or none run."""
    started: list[LocalNeo4j] = []
    try:
        for local in servers:
            local.server.start()
            started.append(local)
        errors: list[BaseException] = []

        def wait(local: LocalNeo4j) -> None:
            try:
                local.server.wait_for_bolt(timeout)
            except BaseException as error:  # noqa: BLE001 - re-raised below
                errors.append(error)

        threads = [threading.Thread(target=wait, args=(s,), daemon=True) for s in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 10)
        if errors:
            raise errors[0]
        return servers
    except BaseException:
        for local in started:
            local.stop()
        raise


def start_many(base_dir: str | os.PathLike, count: int, *, password: str, tls: str = "disabled",
               timeout: float = 240, version: str = NEO4J_VERSION) -> list[LocalNeo4j]:
    """`count` standalone servers under base_dir/n1, n2, …, started at once."""
    base = Path(base_dir)
    return start_all([prepare(base / f"n{i + 1}", password=password, tls=tls, version=version)
                      for i in range(count)], timeout)


@contextlib.contextmanager
def running(base_dir: str | os.PathLike, *, password: str = "test-password-1", tls: str = "disabled",
            certificates: Certificates | None = None, timeout: float = 180,
            version: str = NEO4J_VERSION) -> Iterator[LocalNeo4j]:
    local = prepare(base_dir, password=password, tls=tls, certificates=certificates, version=version)
    try:
        yield local.start(timeout)
    finally:
        local.stop()


# --- command line (make neo4j-local) ---------------------------------------------------------------


def _print_banner(local: LocalNeo4j, *, background_pid: int | None) -> None:
    stop = (f"make neo4j-local ARGS=--stop   (or: kill {background_pid})" if background_pid
            else "Ctrl-C")
    tls = (f" --tls {local.tls} --ca-cert {local.certificates.ca_cert}" if local.certificates else "")
    template = "4.4" if local.line == "4.4" else "5"
    jvm = " ".join(TEST_JVM_ARGS) + (" and Java 17's module openings" if local.server.line.machine_jvm_args else "")
    print(f"""Neo4j Community {local.version} is up, configured by templates/neo4j/{template}/neo4j.conf.j2 (overrides:
loopback, free ports, heap {TEST_HEAP}, page cache {TEST_PAGE_CACHE}; JVM: {jvm}).
  URI       {local.uri}
  user      neo4j
  password  {local.password}
  home      {local.home}   (logs in {local.home / 'logs'})
Try:
  export NEO4J_PASSWORD='{local.password}'
  .venv/bin/python scripts/check.py --uri {local.uri}{tls}
Stop: {stop}""", flush=True)


def _foreground(args: argparse.Namespace) -> int:
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="neo4j-local-"))
    password = args.password or os.environ.get("NEO4J_PASSWORD") or f"local-{secrets.token_hex(6)}"
    local = prepare(base, password=password, bolt_port=args.port, tls=args.tls, version=args.version)
    stopping, pausing, resuming = threading.Event(), threading.Event(), threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # --pause / --resume (the background server's systemctl stop/start, for backup.py's --stop-command and
    # --start-command): the JVM stops and starts again in the same NEO4J_HOME; this process stays.
    signal.signal(signal.SIGUSR1, lambda signum, frame: pausing.set())
    signal.signal(signal.SIGUSR2, lambda signum, frame: resuming.set())
    paused = False
    try:
        local.start()
        state = {"pid": os.getpid(), "uri": local.uri, "password": password, "home": str(local.home),
                 "version": local.version, "running": True}

        def write_state() -> None:
            if args.state_file:
                temporary = Path(f"{args.state_file}.tmp")
                temporary.write_text(json.dumps(state))
                temporary.replace(args.state_file)

        write_state()
        _print_banner(local, background_pid=os.getpid() if args.state_file else None)
        while not stopping.wait(0.5) and (paused or local.is_running()):
            if pausing.is_set():
                pausing.clear()
                local.stop()
                paused, state["running"] = True, False
                write_state()
                print("neo4j-local: paused (the JVM stopped; --resume starts it again)", flush=True)
            if resuming.is_set():
                resuming.clear()
                if paused:
                    local.start()
                paused, state["running"] = False, True
                write_state()
                print("neo4j-local: resumed", flush=True)
        if not local.is_running() and not stopping.is_set():
            print(f"neo4j-local: the server stopped by itself; see {local.home / 'logs'}", file=sys.stderr)
            return 1
        return 0
    finally:
        local.stop()
        if args.state_file:
            Path(args.state_file).unlink(missing_ok=True)
        if not args.dir and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
        print("neo4j-local: stopped", flush=True)


def _background(args: argparse.Namespace) -> int:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state_file = STATE_DIR / "state.json"
    state = _read_state(state_file)
    if state is not None:
        print(f"neo4j-local: already running ({state['uri']}, pid {state['pid']}); "
              f"stop it with: make neo4j-local ARGS=--stop", file=sys.stderr)
        return 1
    log = STATE_DIR / "neo4j-local.log"
    cmd = [sys.executable, "-m", "tests.support.neo4j_local", "--state-file", str(state_file)]
    for flag, value in (("--password", args.password), ("--port", args.port), ("--dir", args.dir),
                        ("--tls", args.tls), ("--version", args.version)):
        if value:
            cmd += [flag, str(value)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if state_file.exists():
            print(log.read_text(), end="")
            return 0
        if proc.poll() is not None:
            print(f"neo4j-local: failed to start; see {log}:\n{log.read_text()}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print(f"neo4j-local: not up after 240 s; see {log}", file=sys.stderr)
    return 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(state_file: Path) -> dict | None:
    """The background server's state, or None when there is none or it is stale (its process is gone: the
    machine rebooted, or it was killed): a stale file is removed, so it never blocks a new start."""
    try:
        state = json.loads(state_file.read_text())
        pid = int(state["pid"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        state_file.unlink(missing_ok=True)
        return None
    if not _alive(pid):
        state_file.unlink(missing_ok=True)
        return None
    return state


def _stop() -> int:
    state_file = STATE_DIR / "state.json"
    state = _read_state(state_file)
    if state is None:
        print("neo4j-local: nothing running in the background", file=sys.stderr)
        return 1
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(120):
        if not state_file.exists():
            break
        time.sleep(0.5)
    print(f"neo4j-local: stopped (pid {pid})")
    return 0


def _pause_or_resume(running: bool) -> int:
    """Stop (--pause) or start again (--resume) the background server's JVM, keeping its NEO4J_HOME; returns
    once it is down, or answers on Bolt again."""
    state_file = STATE_DIR / "state.json"
    state = _read_state(state_file)
    if state is None:
        print("neo4j-local: nothing running in the background; start it with: make neo4j-local ARGS=--background",
              file=sys.stderr)
        return 1
    os.kill(int(state["pid"]), signal.SIGUSR2 if running else signal.SIGUSR1)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        state = _read_state(state_file)
        if state is None:
            print("neo4j-local: the background server exited", file=sys.stderr)
            return 1
        if state.get("running", True) == running:
            print(f"neo4j-local: {'resumed' if running else 'paused'} ({state['uri']})")
            return 0
        time.sleep(0.25)
    print(f"neo4j-local: not {'resumed' if running else 'paused'} after 240 s; see {STATE_DIR / 'neo4j-local.log'}",
          file=sys.stderr)
    return 1


def _version_arg(text: str) -> str:
    from tests.support.neo4j_dist import Neo4jDistError

    try:
        return pinned_version(text)
    except Neo4jDistError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="neo4j-local", description="One real Neo4j Community server (4.4, 5.26 or "
                                "2025) on 127.0.0.1, configured by our own templates.")
    p.add_argument("--version", default=NEO4J_VERSION, type=_version_arg,
                   help=f"a line (4.4, 5.26, 2025: the release the tests pin) or a release x.y.z "
                        f"(default: {NEO4J_VERSION})")
    p.add_argument("--password", help="password of neo4j (default: $NEO4J_PASSWORD, else generated)")
    p.add_argument("--port", type=int, help="Bolt port (default: a free one)")
    p.add_argument("--dir", help="NEO4J_HOME to use (kept); default: a temporary directory, removed at stop")
    p.add_argument("--tls", choices=("disabled", "optional", "required"), default="disabled",
                   help="neo4j:tls of the rendered conf; a test CA is made (default: disabled)")
    p.add_argument("--keep", action="store_true", help="keep the temporary NEO4J_HOME after stopping")
    p.add_argument("--background", action="store_true", help="start, print the URI and return")
    p.add_argument("--stop", action="store_true", help="stop the background server")
    p.add_argument("--pause", action="store_true", help="stop the background server's JVM, keeping its home "
                   "(backup.py's --stop-command in `make local-backup-restore`)")
    p.add_argument("--resume", action="store_true", help="start the paused JVM again and wait for Bolt")
    p.add_argument("--state-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.stop:
        return _stop()
    if args.pause or args.resume:
        return _pause_or_resume(args.resume)
    if args.background:
        return _background(args)
    return _foreground(args)


if __name__ == "__main__":
    sys.exit(main())
