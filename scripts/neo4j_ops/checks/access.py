"""Users and roles: the configured ones exist with their roles, and a reader cannot write."""
from __future__ import annotations

import uuid

from .. import queries as q
from ..bolt import FORBIDDEN, Auth, BoltError, Transport
from ..facts import ServerFacts
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult


def users_and_roles(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not target.users and not target.roles:
        return CheckResult("users", SKIP, "no users or roles configured (stack neo4j:users/neo4j:roles, "
                                          "or --expect-user)")
    client = transport.client(ref.spec.uri, target.auth)
    problems, found = [], []
    users = {row["user"]: row for row in client.run(q.SHOW_USERS.name, q.SHOW_USERS.cypher,
                                                    database=q.SHOW_USERS.database, timeout=timeout).records}
    existing_roles: set[str] = set()
    if ref.enterprise and target.roles:
        existing_roles = {row["role"] for row in client.run(q.SHOW_ROLES.name, q.SHOW_ROLES.cypher,
                                                            database=q.SHOW_ROLES.database,
                                                            timeout=timeout).records}
        for role in target.roles:
            if role.name in existing_roles:
                found.append(f"role {role.name}")
            else:
                problems.append(f"role {role.name} is missing")
    elif target.roles:
        problems.append(f"roles {', '.join(r.name for r in target.roles)} are configured but the server is "
                        f"{ref.edition} (roles need enterprise)")
    for user in target.users:
        row = users.get(user.name)
        if row is None:
            problems.append(f"user {user.name} is missing")
            continue
        if ref.enterprise:
            have = set(row.get("roles") or []) - {"PUBLIC"}
            want = set(user.roles)
            if have != want:
                problems.append(f"user {user.name} has roles {sorted(have) or 'none'}, "
                                f"expected {sorted(want) or 'none'}")
                continue
            if row.get("suspended"):
                problems.append(f"user {user.name} is suspended")
                continue
        found.append(f"user {user.name}" + (f" ({', '.join(user.roles)})" if user.roles else ""))
    if problems:
        return CheckResult("users", FAIL, "; ".join(problems) + " — run scripts/security.py to apply the config")
    note = "" if not target.roles else "; privileges: compare with scripts/security.py --dry-run"
    return CheckResult("users", PASS, "exist: " + ", ".join(found) + note)


def reader_cannot_write(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not ref.enterprise:
        return CheckResult("reader-cannot-write", SKIP, f"{ref.edition} edition has no roles: every user may write")
    reader = target.reader_user or next((u.name for u in target.users if tuple(u.roles) == ("reader",)), None)
    if reader is None:
        return CheckResult("reader-cannot-write", SKIP, "no user with only the reader role is configured "
                                                        "(or name one with --reader-user)")
    password = target.user_passwords.get(reader)
    if password is None:
        return CheckResult("reader-cannot-write", SKIP, f"no password for {reader} (give --user-passwords-file "
                                                        f"or $NEO4J_USER_PASSWORDS)")
    uri = target.routing_uri or ref.spec.uri
    client = transport.client(uri, Auth(reader, password))
    probe_id = f"reader-{uuid.uuid4()}"
    try:
        client.run(q.PROBE_WRITE.name, q.PROBE_WRITE.cypher, {"id": probe_id, "via": "reader"},
                   database=target.database, write=True, timeout=timeout)
    except BoltError as error:
        if error.kind == FORBIDDEN:
            return CheckResult("reader-cannot-write", PASS, f"{reader} was refused a write on {target.database}: "
                                                            f"{error.message}")
        return CheckResult("reader-cannot-write", FAIL, f"could not test {reader}: {error.message}")
    admin = transport.client(uri, target.auth)
    try:
        admin.run(q.PROBE_DELETE.name, q.PROBE_DELETE.cypher, {"id": probe_id}, database=target.database,
                  write=True, timeout=timeout)
    except BoltError:
        pass
    return CheckResult("reader-cannot-write", FAIL, f"READER CAN WRITE: {reader} created a node on "
                                                    f"{target.database}; its role grants write privileges")
