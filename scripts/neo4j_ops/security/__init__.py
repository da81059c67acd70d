"""Users, roles and privileges from the stack config, applied idempotently (scripts/security.py).

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

  statements  pure: the administration commands' text (names quoted, passwords only as $password)
  report      pure: the changes, what was left as it was, the errors; and their text
  apply       apply_security(): the server's state compared with the config, over Bolt (or a dry run)
  command     the command line
"""
from .apply import apply_security
from .command import main
from .report import Change, SecurityReport, render_text

__all__ = ["Change", "SecurityReport", "apply_security", "main", "render_text"]
