"""What to check: the servers, the URIs and the expectations.

From a stack: `pulumi stack output --json --show-secrets --stack NAME` (or a saved copy of it,
--outputs-file) gives the addresses; Pulumi.<stack>.yaml gives what the cluster should look
like (version, edition, TLS level, users and roles). From the command line: --uri/--servers and
explicit expectations. Explicit flags win over the stack.

Stack outputs are read through their one contract, components/outputs.py `StackOutputs` (the same
dataclass both adapters fill): routingUri, servers [{name, role, zone, hostname, privateIp, boltUri}],
faultTolerance, backupBucket, caCertPem, haproxyUri, haproxyReadUri, metricsUrls {server: url}, tls.
A key an older stack did not export reads as absent.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.outputs import StackOutputs
from components.plugins import plugin_servers
from components.ports import PORTS
from components.settings import ConfigError, RoleSpec, Settings, UserSpec, load_settings

from .bolt import Auth, TlsOptions, address_of, check_bolt_uri, with_scheme
from .facts import ServerSpec
from .shared.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
PULUMI_INSTALL = "https://www.pulumi.com/docs/install/"
# The Pulumi project the commands read Pulumi.<stack>.yaml from and run Pulumi in (its Pulumi.yaml beside it):
# this checkout, or the directory this variable names (a copy of the project whose stack files live elsewhere;
# the engine tests' stacks, tests/engine/).
PROJECT_DIR_VARIABLE = "NEO4J_CLUSTER_PROJECT_DIR"


def project_dir() -> Path:
    return Path(os.environ.get(PROJECT_DIR_VARIABLE) or ROOT)


@dataclass
class Target:
    servers: list[ServerSpec]
    servers_given: bool  # the list is the expected membership (from a stack or --servers)
    routing_uri: str | None
    auth: Auth
    tls: TlsOptions
    routing_skipped: str | None = None  # why the stack's routing URI is not probed from here (None: it is, if any)
    tls_expected: str | None = None  # disabled | optional | required | None (not checked)
    database: str = "neo4j"
    expect_version: str | None = None
    expect_edition: str | None = None
    haproxy_uri: str | None = None
    haproxy_read_uri: str | None = None
    users: tuple[UserSpec, ...] = ()
    roles: tuple[RoleSpec, ...] = ()
    user_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    reader_user: str | None = None
    metrics_urls: dict[str, str] | None = None  # server name → URL; None: derived from metrics_port
    metrics_port: int = 2004
    backup_bucket: str | None = None
    aws_region: str | None = None
    stack: str | None = None
    fault_tolerance: int | None = None
    # neo4j:plugins: key → the servers it runs on, whose version function checks/plugins.py calls
    plugins: dict[str, tuple[str, ...]] = field(default_factory=dict)

    # neo4j:composites: each composite and its aliases, probed by checks/composites.py
    composites: tuple[Any, ...] = ()

    def server_named(self, name: str) -> ServerSpec | None:
        return next((s for s in self.servers if s.name == name), None)

    def server_at(self, address: str | None) -> ServerSpec | None:
        if not address:
            return None
        return next((s for s in self.servers if address in s.aliases), None)

    def label(self, address: str | None) -> str:
        """'core-1 (10.0.0.1:7687)' for a known server, the address otherwise."""
        spec = self.server_at(address)
        if spec is None or spec.name == address:
            return address or "?"
        return f"{spec.name} ({address})"


# --- stack ---------------------------------------------------------------------------------------


def pulumi_outputs(stack: str, cwd: Path | None = None) -> dict[str, Any]:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise UsageError(f"--stack {stack} needs the pulumi CLI, which is not installed ({PULUMI_INSTALL}); "
                         f"give --outputs-file (saved `pulumi stack output --json --show-secrets`) or --uri/--servers")
    proc = subprocess.run([pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack],
                          cwd=cwd or project_dir(), capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise UsageError(f"pulumi stack output --stack {stack} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return json.loads(proc.stdout or "{}")


def pulumi_error_text(error: BaseException, limit: int = 600) -> str:
    """One line of the Pulumi CLI's own words for a failed Automation API call: the Diagnostics section of a
    failed preview or update (the CLI prints it on standard output, before the stack's outputs, which can run to
    hundreds of lines: their tail names no error), else the tail of its standard error or the error itself."""
    stderr = str(getattr(error, "stderr", "") or "")
    lines = f"{error}\n{stderr}".splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Diagnostics:"), None)
    if start is not None:
        section = []
        for line in lines[start + 1:]:
            if line.strip() and not line.startswith(" "):
                break
            section.append(line)
        text = " ".join(" ".join(section).split())
        if text:
            return text[:limit]
    return " ".join((stderr or str(error)).split())[-limit:]


def read_outputs_file(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--outputs-file {path}: cannot read JSON stack outputs ({error})") from None


def stack_settings(stack: str | None, stack_file: str | None) -> Settings | None:
    """Settings from Pulumi.<stack>.yaml (or --stack-file); None when there is no such file."""
    from components.stack_file import StackFileError, read_stack_config

    path = Path(stack_file) if stack_file else (project_dir() / f"Pulumi.{stack}.yaml" if stack else None)
    if path is None:
        return None
    if not path.exists():
        if stack_file:
            raise UsageError(f"--stack-file {stack_file} does not exist")
        return None
    try:
        config = read_stack_config(path, stack_file or path.name)
    except StackFileError as error:
        raise UsageError(str(error)) from None
    try:
        return load_settings(stack or path.stem.removeprefix("Pulumi."), config)
    except ConfigError as error:
        raise UsageError(f"{path.name} is not a valid stack config:\n  " + "\n  ".join(error.problems)) from None


def stack_outputs(document: Any) -> StackOutputs:
    """The stack's outputs (`pulumi stack output --json`, or a saved copy) as the typed contract."""
    try:
        return StackOutputs.from_json(document)
    except ValueError as error:
        raise UsageError(f"not the stack outputs of this program: {error}") from None


def servers_from_outputs(outputs: StackOutputs) -> list[ServerSpec]:
    specs = []
    for index, item in enumerate(outputs.servers):
        name = item.name or f"server-{index + 1}"
        uri = item.bolt_uri or (f"bolt://{item.hostname}:{PORTS.server.bolt}" if item.hostname else None)
        if not uri:
            raise UsageError(f"stack output servers[{index}] ({name}) has neither boltUri nor hostname")
        specs.append(ServerSpec(name, uri, item.role, item.zone, item.hostname, item.private_ip))
    return specs


# --- command line --------------------------------------------------------------------------------


def parse_servers(text: str) -> list[ServerSpec]:
    """'core-1=bolt://h1:7687,core-2=bolt://h2:7687' or 'bolt://h1:7687,h2:7687' (named by address).

    A role may follow the name: 'core-1:primary=bolt://h1:7687'.
    """
    specs = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, uri = part.rpartition("=")
        uri = uri if "://" in uri else f"bolt://{uri}"
        try:
            check_bolt_uri(uri)
        except ValueError as error:
            raise UsageError(f"--servers: {error}") from None
        role = None
        if ":" in name:
            name, role = name.split(":", 1)
            if role not in ("primary", "secondary"):
                raise UsageError(f"--servers: role of {name!r} must be primary or secondary, got {role!r}")
        specs.append(ServerSpec(name or address_of(uri), uri, role))
    if len({s.name for s in specs}) != len(specs):
        raise UsageError("--servers: a server name appears twice")
    return specs


def read_password(env_name: str, *, required: bool = True) -> str | None:
    value = os.environ.get(env_name)
    if not value and required:
        raise UsageError(f"no password: set the environment variable {env_name} (or name another one with "
                         f"--password-env)")
    return value


def read_user_passwords(file: str | None, env_name: str | None) -> dict[str, str]:
    """A JSON object user name → password, from a file or an environment variable."""
    text, source = None, None
    if file:
        try:
            text, source = Path(file).read_text(), file
        except OSError as error:
            raise UsageError(f"--user-passwords-file {file}: {error.strerror}") from None
    elif env_name and os.environ.get(env_name):
        text, source = os.environ[env_name], f"${env_name}"
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise UsageError(f"{source}: not a JSON object of user name → password") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise UsageError(f"{source}: not a JSON object of user name → password")
    return value


def ca_file_from_pem(pem: str) -> str:
    handle = tempfile.NamedTemporaryFile("w", prefix="neo4j-ca-", suffix=".crt", delete=False)
    with handle:
        handle.write(pem)
    import atexit

    atexit.register(lambda: Path(handle.name).unlink(missing_ok=True))
    return handle.name


def build_target(args: Any) -> Target:
    """Target from parsed arguments (see cluster_cli.add_target_arguments)."""
    document: dict[str, Any] = {}
    if getattr(args, "outputs_file", None):
        document = read_outputs_file(args.outputs_file)
    elif args.stack and not (args.uri or args.servers):
        document = pulumi_outputs(args.stack)
    outputs = stack_outputs(document)
    settings = stack_settings(args.stack, getattr(args, "stack_file", None))

    servers = parse_servers(args.servers) if args.servers else servers_from_outputs(outputs)
    routing_uri = None
    routing_skipped = None
    if args.uri:
        try:
            check_bolt_uri(args.uri)
        except ValueError as error:
            raise UsageError(f"--uri: {error}") from None
        routing_uri = args.uri if args.uri.startswith("neo4j") else with_scheme(args.uri, "neo4j")
        if not servers:
            servers = [ServerSpec(address_of(args.uri), with_scheme(args.uri, "bolt"))]
    elif outputs.routing_uri and settings and settings.platform == "docker":
        # neo4j:// of a docker stack names the servers by their network names, which resolve on the stack's Docker
        # network only (components/docker/__init__.py): from the laptop, clients reach the cluster through HAProxy
        # and each server's published port, which the other checks probe.
        routing_skipped = (f"{outputs.routing_uri} is for clients on the stack's Docker network (the servers' "
                           f"network names resolve there only); from here: HAProxy and each server's published port")
    elif outputs.routing_uri:
        routing_uri = outputs.routing_uri
    elif servers:
        routing_uri = with_scheme(servers[0].uri, "neo4j")
    if not servers:
        raise UsageError("nothing to check: give --uri bolt://host:7687, --servers, or --stack NAME")
    servers_given = bool(args.servers) or bool(outputs.servers)

    ca_file = getattr(args, "ca_cert", None)
    if ca_file and not Path(ca_file).is_file():
        raise UsageError(f"--ca-cert {ca_file}: no such file")
    if not ca_file and outputs.ca_cert_pem:
        ca_file = ca_file_from_pem(outputs.ca_cert_pem)
    tls_expected = getattr(args, "tls", None) or outputs.tls or (settings.tls if settings else None)
    if tls_expected in ("optional", "required") and not ca_file:
        raise UsageError(f"TLS is {tls_expected}: give --ca-cert with the cluster's CA certificate "
                         f"(stack output caCertPem)")
    tls = TlsOptions(ca_file if tls_expected != "disabled" else None,
                     verify_hostname=not getattr(args, "no_verify_hostname", False))

    # The stack says where HAProxy is (both frontends), or that there is none.
    haproxy_uri = getattr(args, "haproxy_uri", None) or outputs.haproxy_uri
    haproxy_read_uri = getattr(args, "haproxy_read_uri", None) or outputs.haproxy_read_uri

    user = getattr(args, "user", None) or "neo4j"
    password = read_password(args.password_env)
    metrics_urls = None
    if getattr(args, "metrics_url", None):
        metrics_urls = {}
        for item in args.metrics_url:
            name, _, url = item.rpartition("=")
            metrics_urls[name or address_of(url)] = url
    elif outputs.metrics_urls:
        metrics_urls = dict(outputs.metrics_urls)

    return Target(
        servers=servers,
        servers_given=servers_given,
        routing_uri=routing_uri,
        routing_skipped=routing_skipped,
        auth=Auth(user, password),
        tls=tls,
        tls_expected=tls_expected,
        database=getattr(args, "database", None) or (settings.database if settings else "neo4j"),
        expect_version=getattr(args, "expect_version", None) or (settings.version if settings else None),
        expect_edition=getattr(args, "expect_edition", None) or (settings.edition if settings else None),
        haproxy_uri=haproxy_uri,
        haproxy_read_uri=haproxy_read_uri,
        users=settings.users if settings else tuple(UserSpec(u, ()) for u in getattr(args, "expect_user", None)
                                                    or ()),
        roles=settings.roles if settings else (),
        user_passwords=read_user_passwords(getattr(args, "user_passwords_file", None),
                                           getattr(args, "user_passwords_env", None)),
        reader_user=getattr(args, "reader_user", None),
        metrics_urls=metrics_urls,
        metrics_port=getattr(args, "metrics_port", None) or 2004,
        backup_bucket=getattr(args, "backup_bucket", None) or outputs.backup_bucket,
        aws_region=getattr(args, "aws_region", None) or (settings.region if settings and settings.platform == "aws"
                                                         else None),
        stack=args.stack,
        fault_tolerance=outputs.fault_tolerance,
        # 4.4's composite lives on the Fabric proxies, not behind the cluster's routing URI: not probed there.
        composites=settings.composites if settings and getattr(args, "composites", False)
        and settings.version_line != "4.4" else (),
        plugins=expected_plugins(settings, getattr(args, "expect_plugin", None), servers),
    )


def expected_plugins(settings: Settings | None, given: list[str] | None,
                     servers: list[ServerSpec]) -> dict[str, tuple[str, ...]]:
    """--expect-plugin KEY[@SERVER,...] (default: every server), else the stack's neo4j:plugins placed as the plan
    places them (components/plugins.py plugin_servers) over the servers being checked: the stack outputs' members."""
    names = [s.name for s in servers]
    if given:
        expected = {}
        for item in given:
            key, _, on = item.partition("@")
            expected[key] = tuple(on.split(",")) if on else tuple(names)
        return expected
    if settings is None or not settings.plugins:
        return {}
    primaries = sum(1 for s in servers if s.role != "secondary")
    placed = plugin_servers(settings.plugins, settings.version, settings.version_line, primaries,
                            len(servers) - primaries)
    return {key: tuple(name for name, plugins in placed.items() if name in names and key in {p.key for p in plugins})
            for key in settings.plugins}
