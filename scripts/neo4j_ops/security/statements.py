"""The administration commands security sends to the system database, as text (pure).

Names are quoted (queries.quote_name); passwords are never in the text, only the $password parameter.
Recordings file these commands under their own text, so the text is the contract: change it and the
recorded scenarios (tests/fixtures/enterprise/security-*.json) must change with it.
"""
from __future__ import annotations

from ..queries import quote_name

# Stands for the role in a privilege command, so two roles' commands (the real one's and the temporary
# one's) compare as text.
PLACEHOLDER = "`<role>`"


def scratch_role(role: str) -> str:
    """The temporary role the configured privileges are granted to, to learn the server's normal form."""
    return f"neo4jcluster_tmp_{role}"


def create_role(role: str) -> str:
    return f"CREATE ROLE {quote_name(role)}"


def drop_role_if_exists(role: str) -> str:
    return f"DROP ROLE {quote_name(role)} IF EXISTS"


def grant_privilege(privilege: str, role: str) -> str:
    """A configured privilege ("MATCH {*} ON GRAPH neo4j"), as written in the stack config."""
    return f"GRANT {privilege} TO {quote_name(role)}"


def normal_form(command: str, role: str) -> str:
    """A line of `SHOW ROLE … PRIVILEGES AS COMMANDS` with the role replaced by PLACEHOLDER."""
    return command.replace(quote_name(role), PLACEHOLDER)


def for_role(command: str, role: str) -> str:
    """A normal-form command, for the role `role`."""
    return command.replace(PLACEHOLDER, quote_name(role))


def revoke(command: str) -> str:
    """'GRANT X TO `r`' → 'REVOKE GRANT X FROM `r`' (and DENY likewise)."""
    head, _, role = command.rpartition(" TO ")
    return f"REVOKE {head} FROM {role}"


def create_user(user: str) -> str:
    return f"CREATE USER {quote_name(user)} SET PASSWORD $password CHANGE NOT REQUIRED"


def set_password(user: str) -> str:
    return f"ALTER USER {quote_name(user)} SET PASSWORD $password CHANGE NOT REQUIRED"


def clear_password_change(user: str) -> str:
    return f"ALTER USER {quote_name(user)} SET PASSWORD CHANGE NOT REQUIRED"


def activate_user(user: str) -> str:
    return f"ALTER USER {quote_name(user)} SET STATUS ACTIVE"


def grant_role(role: str, user: str) -> str:
    return f"GRANT ROLE {quote_name(role)} TO {quote_name(user)}"


def revoke_role(role: str, user: str) -> str:
    return f"REVOKE ROLE {quote_name(role)} FROM {quote_name(user)}"
