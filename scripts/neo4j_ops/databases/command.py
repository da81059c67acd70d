"""scripts/databases.py: its help, options and main (the stack's databases read from Pulumi.<stack>.yaml, the
cluster's from SHOW DATABASES, the difference applied or, with --dry-run, printed)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import cli, cluster_cli
from .. import queries as q
from ..backup.cluster_all import PASSWORDS_ENV, password_env, secret_value
from ..bolt import Auth, BoltError, TlsOptions, Transport, statement_runner
from ..scaling.command import connect_uri
from ..shared.errors import OperationError, UsageError
from ..shared.versions import Version
from ..target import ca_file_from_pem, pulumi_outputs, read_outputs_file, read_password, stack_settings
from . import run as databases

DOC = """Create the stack's standard databases (neo4j:databases) and keep their topology: one idempotent command.

Reads the stack (Pulumi.<stack>.yaml: neo4j:database, neo4j:databases, neo4j:coreCount, neo4j:replicaCount) and the
cluster (SHOW DATABASES YIELD *), then sends, in the stack's order, to the system database:

  CREATE DATABASE `name` IF NOT EXISTS TOPOLOGY n PRIMARIES m SECONDARIES [OPTIONS {seedURI: …}] [WAIT]
      for each database the cluster does not have (5.x and 2025; Neo4j 4.4: CREATE DATABASE `name` IF NOT
      EXISTS, every core and read replica hosting it);
  ALTER DATABASE … SET TOPOLOGY n PRIMARIES m SECONDARIES
      for each listed database whose requested counts differ from the stack's (5.x and 2025);
  CREATE COMPOSITE DATABASE `name` IF NOT EXISTS, then CREATE ALIAS `composite`.`alias` IF NOT EXISTS FOR DATABASE …
      [AT 'neo4j+s://…' USER … PASSWORD $password] for neo4j:composites (5.x and 2025), ALTER ALIAS … SET DATABASE
      TARGET … for an alias whose target changed. A remote alias's password comes from NEO4J_ALIAS_PASSWORDS (the
      stack secret neo4j:aliasPasswords, a JSON object "<composite>.<alias>": password) or
      NEO4J_ALIAS_PASSWORD_<COMPOSITE>_<ALIAS>; it is sent as a parameter, never printed.

It never drops a database or an alias: one the cluster has and the stack does not list is reported as unmanaged.
The default database (neo4j:database) is Neo4j's own; its topology changes only when an entry of neo4j:databases
names it.

Exit status: 0 done (or nothing to do), 1 the cluster refused a statement or a WAIT ran out (nothing more was
sent; a re-run resumes), 2 usage or config error, 130 interrupted."""

EXAMPLES = """examples:
  export NEO4J_PASSWORD=…
  export NEO4J_ALIAS_PASSWORDS="$(pulumi config get neo4j:aliasPasswords --stack prod)"   # remote aliases only
  python scripts/databases.py --stack prod --ca-cert ca.crt --dry-run    # print the statements, change nothing
  python scripts/databases.py --stack prod --ca-cert ca.crt
  make databases STACK=prod DRY_RUN=1 ARGS='--ca-cert ca.crt'"""


def build_parser():
    p = cli.parser("databases", DOC, EXAMPLES)
    cluster_cli.add_target_arguments(p, servers=False)
    p.add_argument("--dry-run", action="store_true",
                   help="read the cluster and print the statements it would send, in order; change nothing")
    p.add_argument("--rotate-alias-passwords", action="store_true",
                   help="re-send every remote alias's password (Neo4j never shows one, so a change is not seen)")
    p.add_argument("--create-alias-keystore", action="store_true",
                   help="once per stack, before the first remote alias: make the PKCS12 keystore of the AES key "
                        "(keytool -genseckey) and store it and its password as the secrets neo4j:aliasKeystore and "
                        "neo4j:aliasKeystorePassword (pulumi config set --secret); talks to no cluster")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


def server_version(run: q.Run) -> tuple[Version, bool]:
    """The cluster's release and whether it is Enterprise (dbms.components())."""
    rows = run(q.COMPONENTS, None)
    kernel = next((r for r in rows if r.get("name") == "Neo4j Kernel"), {})
    try:
        version = Version.parse(str((kernel.get("versions") or [""])[0]))
    except ValueError as error:
        raise OperationError(str(error)) from None
    if version.line is None:
        raise OperationError(f"Neo4j {version}: not a release this tool knows (4.4.x, 5.x, 2025.x and later)")
    return version, str(kernel.get("edition") or "").lower() == "enterprise"


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        settings = stack_settings(args.stack, args.stack_file)
        if settings is None:
            raise UsageError("no stack config: give --stack NAME (reads Pulumi.<NAME>.yaml) or --stack-file")
        if args.create_alias_keystore:
            from .keystore import create_alias_keystore

            keys = create_alias_keystore(settings.stack, settings.secrets_set, cli.logger("databases", args.quiet))
            print(f"stack {settings.stack}: set {', '.join(keys)}")
            return cli.EXIT_OK
        wanted = settings.database_topologies
        if args.database:
            wanted = tuple(d for d in wanted if d.name == args.database)
            if not wanted:
                raise UsageError(f"--database {args.database}: not a database of the stack; allowed: "
                                 + ", ".join(d.name for d in settings.database_topologies))
        # 4.4: the composite is the Fabric proxies' database, made by their neo4j.conf (fabric.*), never a statement.
        composites = () if args.database or settings.version_line == "4.4" else settings.composites
        passwords = alias_passwords(composites)
        uri = connect_uri(args, settings)
        if args.ca_cert and not Path(args.ca_cert).is_file():
            raise UsageError(f"--ca-cert {args.ca_cert}: no such file")
        ca_cert = args.ca_cert
        if ca_cert is None and settings.tls != "disabled" and not args.uri:
            # as check.py: the stack output caCertPem, when no --ca-cert is given
            outputs = read_outputs_file(args.outputs_file) if args.outputs_file else pulumi_outputs(settings.stack)
            ca_cert = ca_file_from_pem(outputs["caCertPem"]) if outputs.get("caCertPem") else None
        if ca_cert is None and settings.tls == "required":
            raise UsageError("the stack requires TLS: give --ca-cert with the cluster's CA certificate "
                             "(stack output caCertPem)")
        log = cli.logger("databases", args.quiet)
        auth = Auth(args.user, read_password(args.password_env))
        tls = TlsOptions(ca_cert, not args.no_verify_hostname)
        with cluster_cli.bolt_transport(transport, tls, args.timeout) as real:
            client = real.client(uri, auth)
            try:
                run = statement_runner(client, args.timeout)
                version, enterprise = server_version(run)
                log(f"Neo4j {version} {'Enterprise' if enterprise else 'Community'}; stack {settings.stack}: "
                    f"{', '.join(_shown(d) for d in wanted)}")
                result = databases.apply(run, version, wanted, log, enterprise=enterprise, dry_run=args.dry_run,
                                         composites=composites, passwords=passwords,
                                         rotate_passwords=args.rotate_alias_passwords)
            except BoltError as error:
                raise OperationError(f"{uri}: {error.message}") from None
        return cli.print_report(result, args.json, databases.render_text)

    return cli.run("databases", body)


def alias_passwords(composites: Any) -> dict[str, str]:
    """<composite>.<alias> → password of each remote alias that has one (NEO4J_ALIAS_PASSWORDS, else
    NEO4J_ALIAS_PASSWORD_<NAME>: the names restore.py --all reads too)."""
    found = {}
    for composite in composites:
        for alias in composite.aliases:
            label = f"{composite.name}.{alias.name}"
            value = secret_value(password_env(label), os.environ) if alias.remote else None
            if value:
                found[label] = value
    return found


assert PASSWORDS_ENV == "NEO4J_ALIAS_PASSWORDS"  # the name DOC and the deploy workflow give


def _shown(database: Any) -> str:
    return f"{database.name} ({database.primaries}+{database.secondaries})"
