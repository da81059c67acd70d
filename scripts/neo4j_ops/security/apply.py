"""apply_security(): the server's users, roles and privileges made the configured ones, over Bolt.

Reads go through named statements (queries.py); the administration commands are text (statements.py),
sent on the system database, or only collected in a dry run (the temporary role excepted: without it
there is no normal form to compare).
"""
from __future__ import annotations

from typing import Any

from components.settings import BUILTIN_ROLES, RoleSpec, UserSpec

from .. import queries as q
from ..bolt import AUTH, Auth, BoltError, Transport, with_scheme
from . import statements as s
from .report import Change, SecurityReport

SYSTEM = "system"


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
        if role.name not in existing:
            session.write(s.create_role(role.name))
            report.changes.append(Change("create-role", role.name, f"role {role.name} created"))
        desired = _normal_form(session, role, report)
        if desired is None:
            continue
        current = _commands(session, role.name) if role.name in existing else set()
        missing, extra = sorted(desired - current), sorted(current - desired)
        for command in missing:
            statement = s.for_role(command, role.name)
            session.write(statement)
            report.changes.append(Change("grant-privilege", role.name, f"role {role.name}: {statement}"))
        for command in extra:
            statement = s.for_role(s.revoke(command), role.name)
            session.write(statement)
            report.changes.append(Change("revoke-privilege", role.name, f"role {role.name}: {statement}"))
        if not missing and not extra and role.name in existing:
            report.unchanged.append(f"role {role.name} ({len(desired)} privileges)")


def _normal_form(session: _Session, role: RoleSpec, report: SecurityReport) -> set[str] | None:
    """The configured privileges as the server lists them, via a temporary role."""
    scratch = s.scratch_role(role.name)
    session.write(s.drop_role_if_exists(scratch), always=True)
    session.write(s.create_role(scratch), always=True)
    try:
        for privilege in role.privileges:
            try:
                session.write(s.grant_privilege(privilege, scratch), always=True)
            except BoltError as error:
                report.errors.append(f"role {role.name}: the server rejects privilege {privilege!r}: {error.message}")
                return None
        return _commands(session, scratch)
    finally:
        session.write(s.drop_role_if_exists(scratch), always=True)


def _commands(session: _Session, role: str) -> set[str]:
    """The role's privileges in the server's normal form, the role replaced by the placeholder."""
    return {s.normal_form(row["command"], role) for row in session.read(q.SHOW_ROLE_PRIVILEGES, {"role": role})}


def _apply_users(session: _Session, transport: Transport, uri: str, users: tuple[UserSpec, ...],
                 passwords: dict[str, str], enterprise: bool, report: SecurityReport, timeout: float,
                 admin: str) -> None:
    current = {row["user"]: row for row in session.read(q.SHOW_USERS)}
    configured = {user.name for user in users}
    report.unmanaged += [f"user {name}" for name in sorted(set(current) - configured - {admin})]
    login_uri = with_scheme(uri, "bolt")  # log-in checks need no routing table (nor database access)
    for user in users:
        password = passwords.get(user.name)
        row = current.get(user.name)
        before = len(report.changes)
        if row is None:
            if password is None:
                report.errors.append(f"user {user.name}: no password in the user passwords secret "
                                     f"(neo4j:userPasswords), so it cannot be created")
                continue
            session.write(s.create_user(user.name), {"password": password})
            report.changes.append(Change("create-user", user.name, f"user {user.name} created"))
            have: set[str] = set()
        else:
            if password is not None and not _password_works(transport, login_uri, user.name, password, timeout):
                session.write(s.set_password(user.name), {"password": password})
                report.changes.append(Change("set-password", user.name, f"user {user.name}: password set "
                                                                        f"(it differed from the secret)"))
            elif row.get("passwordChangeRequired"):
                session.write(s.clear_password_change(user.name))
                report.changes.append(Change("password-change-not-required", user.name,
                                             f"user {user.name}: pending password change cleared"))
            if row.get("suspended"):
                session.write(s.activate_user(user.name))
                report.changes.append(Change("activate-user", user.name, f"user {user.name}: reactivated"))
            have = set(row.get("roles") or []) - {"PUBLIC"}
        if enterprise:
            want = set(user.roles)
            for role in sorted(want - have):
                session.write(s.grant_role(role, user.name))
                report.changes.append(Change("grant-role", user.name, f"user {user.name}: role {role} granted"))
            for role in sorted(have - want):
                session.write(s.revoke_role(role, user.name))
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
