"""scripts/security.py: its help, options and main."""
from __future__ import annotations

from pathlib import Path

from .. import cli, cluster_cli
from ..bolt import Auth, TlsOptions, Transport, check_bolt_uri
from ..shared.errors import UsageError
from ..target import pulumi_outputs, read_outputs_file, read_password, read_user_passwords, stack_settings
from .apply import apply_security
from .report import render_text

SECURITY_DOC = """Apply the stack's users and roles to a running Neo4j, idempotently.

Reads neo4j:users and neo4j:roles from the stack config (Pulumi.<stack>.yaml, or --stack-file),
creates what is missing, changes what differs (passwords, role membership, privileges), and
reports what it did. Running it again changes nothing. Passwords: a JSON object user → password
in --user-passwords-file or $NEO4J_USER_PASSWORDS (the stack secret neo4j:userPasswords); they
are never printed. Roles and privileges need Enterprise Edition; on Community only users
(without roles) can be applied.

Exit status: 0 applied (or nothing to do), 1 something could not be applied, 2 usage error,
130 interrupted."""

SECURITY_EXAMPLE = """examples:
  export NEO4J_PASSWORD=… NEO4J_USER_PASSWORDS='{"analyst": "…", "scientist": "…"}'
  .venv/bin/python scripts/security.py --stack prod --uri neo4j://10.40.1.10:7687 --ca-cert ca.crt --dry-run
  .venv/bin/python scripts/security.py --stack-file Pulumi.prod.yaml --uri neo4j://10.40.1.10:7687 --ca-cert ca.crt"""


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    p = cli.parser("security", SECURITY_DOC, SECURITY_EXAMPLE)
    cluster_cli.add_target_arguments(p, servers=False)
    p.add_argument("--user-passwords-file", metavar="FILE", help="JSON object user → password")
    p.add_argument("--user-passwords-env", default="NEO4J_USER_PASSWORDS", metavar="VAR",
                   help="environment variable with that JSON object (default: NEO4J_USER_PASSWORDS)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    args = p.parse_args(argv)

    def body() -> int:
        settings = stack_settings(args.stack, args.stack_file)
        if settings is None:
            raise UsageError("no stack config: give --stack NAME (reads Pulumi.<NAME>.yaml) or --stack-file")
        uri = args.uri
        if not uri:
            outputs = read_outputs_file(args.outputs_file) if args.outputs_file else pulumi_outputs(settings.stack)
            uri = outputs.get("routingUri") or outputs.get("boltUri")
            if not uri:
                raise UsageError("the stack outputs have no routingUri: give --uri")
        try:
            check_bolt_uri(uri)
        except ValueError as error:
            raise UsageError(f"--uri: {error}") from None
        if args.ca_cert and not Path(args.ca_cert).is_file():
            raise UsageError(f"--ca-cert {args.ca_cert}: no such file")
        if args.ca_cert is None and settings.tls == "required":
            raise UsageError("the stack requires TLS: give --ca-cert with the cluster's CA certificate")
        passwords = read_user_passwords(args.user_passwords_file, args.user_passwords_env)
        auth = Auth(args.user, read_password(args.password_env))
        tls = TlsOptions(args.ca_cert, not args.no_verify_hostname)
        with cluster_cli.bolt_transport(transport, tls, args.timeout) as real:
            report = apply_security(real, uri, auth, settings.users, settings.roles, passwords,
                                    dry_run=args.dry_run, timeout=args.timeout)
        return cli.print_report(report, args.json, render_text, failed=not report.ok)

    return cli.run("security", body)
