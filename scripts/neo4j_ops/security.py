"""Users, roles and privileges from the stack config, applied idempotently.

What it does, in order:
  roles (enterprise): create the missing ones; make each role's privileges exactly the
      configured ones. The server is the judge of what a privilege means: the configured
      privileges are granted to a temporary role, `SHOW ROLE … PRIVILEGES AS COMMANDS` lists
      them in the server's own normal form (MATCH {*} ON GRAPH neo4j becomes two lines, NODE *
      and RELATIONSHIP *), and that list is compared with the real role's. What is missing is
      granted, what is extra is revoked, the temporary role is dropped.
  users: create the missing ones (CHANGE NOT REQUIRED: these are service accounts whose
      passwords live in the secret); for existing ones, log in with the configured password and
      set it only when that fails; clear a pending password change and a suspension; make the
      user's roles exactly the configured ones (PUBLIC is implicit).
Users and roles that are not in the config are left alone (listed as unmanaged).
Community edition has no roles: only users (without roles) can be applied there.
Passwords come from a JSON object name → password (file or environment variable) and are only
ever sent as query parameters: never printed, logged, or recorded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.settings import BUILTIN_ROLES, RoleSpec, UserSpec

from . import queries as q
from .bolt import AUTH, Auth, BoltError, Transport, with_scheme

SYSTEM = "system"
PLACEHOLDER = "`<role>`"


@dataclass
class Change:
    kind: str  # create-role, grant-privilege, revoke-privilege, create-user, set-password, activate-user,
    #            password-change-not-required, grant-role, revoke-role
    target: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "detail": self.detail}


@dataclass
class SecurityReport:
    uri: str
    edition: str | None
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "uri": self.uri, "edition": self.edition, "dryRun": self.dry_run,
                "changes": [c.to_json() for c in self.changes], "unchanged": self.unchanged,
                "unmanaged": self.unmanaged, "errors": self.errors}


class _Session:
    """Runs statements on the system database, or only records them in a dry run."""

    def __init__(self, transport: Transport, uri: str, auth: Auth, timeout: float, dry_run: bool):
        self.client = transport.client(uri, auth)
        self.timeout = timeout
        self.dry_run = dry_run

    def read(self, named: q.Named, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.client.run(named.name, named.cypher, params, database=named.database or SYSTEM,
                               timeout=self.timeout).records

    def write(self, statement: str, params: dict[str, Any] | None = None, *, always: bool = False) -> int:
        """Run an administration command (filed under its own text); returns the system updates."""
        if self.dry_run and not always:
            return 0
        return self.client.run(statement, statement, params, database=SYSTEM, write=True,
                               timeout=self.timeout).system_updates


def apply_security(transport: Transport, uri: str, auth: Auth, users: tuple[UserSpec, ...],
                   roles: tuple[RoleSpec, ...], passwords: dict[str, str], *, dry_run: bool = False,
                   timeout: float = 5.0) -> SecurityReport:
    session = _Session(transport, uri, auth, timeout, dry_run)
    report = SecurityReport(uri, None, dry_run)
    try:
        component = next((r for r in session.read(q.COMPONENTS) if r.get("name") == "Neo4j Kernel"), {})
        report.edition = component.get("edition")
        enterprise = (report.edition or "").lower() == "enterprise"
        wants_roles = bool(roles) or any(u.roles for u in users)
        if wants_roles and not enterprise:
            report.errors.append(f"roles and user roles need Neo4j Enterprise (role-based access control); "
                                 f"{uri} is {report.edition} edition: configure users without roles")
            return report
        if enterprise:
            _apply_roles(session, roles, report)
            if report.errors:
                return report
        _apply_users(session, transport, uri, users, passwords, enterprise, report, timeout, admin=auth.user)
    except BoltError as error:
        report.errors.append(f"{error.message}")
    return report


def _apply_roles(session: _Session, roles: tuple[RoleSpec, ...], report: SecurityReport) -> None:
    existing = {row["role"] for row in session.read(q.SHOW_ROLES)}
    configured = {role.name for role in roles}
    report.unmanaged += [f"role {name}" for name in sorted(existing - configured - set(BUILTIN_ROLES))]
    for role in roles:
        role_id = q.quote_name(role.name)
        if role.name not in existing:
            session.write(f"CREATE ROLE {role_id}")
            report.changes.append(Change("create-role", role.name, f"role {role.name} created"))
        desired = _normal_form(session, role, report)
        if desired is None:
            continue
        current = _commands(session, role.name) if role.name in existing else set()
        missing, extra = sorted(desired - current), sorted(current - desired)
        for command in missing:
            statement = command.replace(PLACEHOLDER, role_id)
            session.write(statement)
            report.changes.append(Change("grant-privilege", role.name, f"role {role.name}: {statement}"))
        for command in extra:
            statement = _revoke(command).replace(PLACEHOLDER, role_id)
            session.write(statement)
            report.changes.append(Change("revoke-privilege", role.name, f"role {role.name}: {statement}"))
        if not missing and not extra and role.name in existing:
            report.unchanged.append(f"role {role.name} ({len(desired)} privileges)")


def _normal_form(session: _Session, role: RoleSpec, report: SecurityReport) -> set[str] | None:
    """The configured privileges as the server lists them, via a temporary role."""
    scratch = f"neo4jcluster_tmp_{role.name}"
    scratch_id = q.quote_name(scratch)
    session.write(f"DROP ROLE {scratch_id} IF EXISTS", always=True)
    session.write(f"CREATE ROLE {scratch_id}", always=True)
    try:
        for privilege in role.privileges:
            try:
                session.write(f"GRANT {privilege} TO {scratch_id}", always=True)
            except BoltError as error:
                report.errors.append(f"role {role.name}: the server rejects privilege {privilege!r}: {error.message}")
                return None
        return {c.replace(scratch_id, PLACEHOLDER) for c in _commands(session, scratch)}
    finally:
        session.write(f"DROP ROLE {scratch_id} IF EXISTS", always=True)


def _commands(session: _Session, role: str) -> set[str]:
    role_id = q.quote_name(role)
    return {row["command"].replace(role_id, PLACEHOLDER)
            for row in session.read(q.SHOW_ROLE_PRIVILEGES, {"role": role})}


def _revoke(command: str) -> str:
    """'GRANT X TO `r`' → 'REVOKE GRANT X FROM `r`' (and DENY likewise)."""
    head, _, role = command.rpartition(" TO ")
    return f"REVOKE {head} FROM {role}"


def _apply_users(session: _Session, transport: Transport, uri: str, users: tuple[UserSpec, ...],
                 passwords: dict[str, str], enterprise: bool, report: SecurityReport, timeout: float,
                 admin: str) -> None:
    current = {row["user"]: row for row in session.read(q.SHOW_USERS)}
    configured = {user.name for user in users}
    report.unmanaged += [f"user {name}" for name in sorted(set(current) - configured - {admin})]
    login_uri = with_scheme(uri, "bolt")  # log-in checks need no routing table (nor database access)
    for user in users:
        user_id = q.quote_name(user.name)
        password = passwords.get(user.name)
        row = current.get(user.name)
        before = len(report.changes)
        if row is None:
            if password is None:
                report.errors.append(f"user {user.name}: no password in the user passwords secret "
                                     f"(neo4j:userPasswords), so it cannot be created")
                continue
            session.write(f"CREATE USER {user_id} SET PASSWORD $password CHANGE NOT REQUIRED",
                          {"password": password})
            report.changes.append(Change("create-user", user.name, f"user {user.name} created"))
            have: set[str] = set()
        else:
            if password is not None and not _password_works(transport, login_uri, user.name, password, timeout):
                session.write(f"ALTER USER {user_id} SET PASSWORD $password CHANGE NOT REQUIRED",
                              {"password": password})
                report.changes.append(Change("set-password", user.name, f"user {user.name}: password set "
                                                                        f"(it differed from the secret)"))
            elif row.get("passwordChangeRequired"):
                session.write(f"ALTER USER {user_id} SET PASSWORD CHANGE NOT REQUIRED")
                report.changes.append(Change("password-change-not-required", user.name,
                                             f"user {user.name}: pending password change cleared"))
            if row.get("suspended"):
                session.write(f"ALTER USER {user_id} SET STATUS ACTIVE")
                report.changes.append(Change("activate-user", user.name, f"user {user.name}: reactivated"))
            have = set(row.get("roles") or []) - {"PUBLIC"}
        if enterprise:
            want = set(user.roles)
            for role in sorted(want - have):
                session.write(f"GRANT ROLE {q.quote_name(role)} TO {user_id}")
                report.changes.append(Change("grant-role", user.name, f"user {user.name}: role {role} granted"))
            for role in sorted(have - want):
                session.write(f"REVOKE ROLE {q.quote_name(role)} FROM {user_id}")
                report.changes.append(Change("revoke-role", user.name, f"user {user.name}: role {role} revoked"))
        if len(report.changes) == before and row is not None:
            roles = f" (roles: {', '.join(user.roles)})" if user.roles else ""
            unchecked = "; password not checked: none in the secret" if password is None else ""
            report.unchanged.append(f"user {user.name}{roles}{unchecked}")


def _password_works(transport: Transport, uri: str, user: str, password: str, timeout: float) -> bool:
    """Log in as the user. One failed attempt counts towards dbms.security.auth_max_failed_attempts."""
    try:
        transport.client(uri, Auth(user, password)).verify()
        return True
    except BoltError as error:
        if error.kind == AUTH:
            return False
        raise


# --- text and command line -------------------------------------------------------------------------


def render_text(report: SecurityReport) -> str:
    verb = "would apply" if report.dry_run else "applied"
    count = len(report.changes)
    lines = [f"security: {verb} {count} change{'s' if count != 1 else ''} on {report.uri} "
             f"({report.edition or 'unknown'} edition)"]
    lines += [f"  + {change.detail}" for change in report.changes]
    lines += [f"  = unchanged: {item}" for item in report.unchanged]
    lines += [f"  . not managed here: {item}" for item in report.unmanaged]
    lines += [f"  ! {error}" for error in report.errors]
    if report.dry_run:
        lines.append("dry run: nothing was changed (a temporary role was created and dropped to compare "
                     "privileges)")
    return "\n".join(lines)


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
  python scripts/security.py --stack prod --uri neo4j://10.40.1.10:7687 --ca-cert ca.crt --dry-run
  python scripts/security.py --stack-file Pulumi.prod.yaml --uri neo4j://10.40.1.10:7687 --ca-cert ca.crt"""


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    from . import cli, cluster_cli
    from .bolt import TlsOptions, check_bolt_uri
    from .shared.errors import UsageError
    from .target import (
        pulumi_outputs,
        read_outputs_file,
        read_password,
        read_user_passwords,
        stack_settings,
    )

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
