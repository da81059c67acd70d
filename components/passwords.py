"""Which admin passwords a stack can deploy with: refused in the program, not at the servers' first boot.

Pure (no Pulumi): the adapters read the decrypted secret and pass it here; Settings never hold it. A
message names the key and the rule, never the password.

Why each rule (neo4j/docker-neo4j, docker-image-src/<4.4|5|calver>/coredb/docker-entrypoint.sh, and
Neo4j itself):
- `/` (docker platform): the image takes `neo4j/<password>` from NEO4J_AUTH or the NEO4J_AUTH_PATH
  file and matches it with `^([^/]+)\\/([^/]+)/?([tT][rR][uU][eE])?$`; anything else prints
  "Invalid value for NEO4J_AUTH: '<its value>'" (the password included) and exits 1, so the
  container restarts forever and `docker logs` shows the password. On AWS the set-up script passes
  the password to neo4j-admin as one argument: `/` is fine there.
- `neo4j` (everywhere): the entrypoint refuses it ("It cannot be 'neo4j', which is the default.");
  it is the initial password of every installation, the one an admin must change.
- length (everywhere): `dbms.security.auth_minimum_password_length` (since 5.3; "An integer that is
  minimum `1`", default 8), which the rendered neo4j.conf leaves at its default. `neo4j-admin dbms
  set-initial-password` refuses a shorter password and the entrypoint, running with `bash -eu`,
  exits. 4.4 has no such setting (tests/fixtures/neo4j-settings/4.4.json): it only refuses an empty
  password ("A password cannot be empty."), so 4.4 needs one character.
"""
from __future__ import annotations

import hashlib

from components.settings import NAMESPACE, Settings

KEY = f"{NAMESPACE}:adminPassword"
DEFAULT_PASSWORD = "neo4j"
# The shortest admin password each version line accepts, with the rendered neo4j.conf's settings.
MINIMUM_LENGTH = {"4.4": 1, "5": 8, "2025": 8}


def minimum_length(settings: Settings) -> int:
    return MINIMUM_LENGTH[settings.version_line]


def admin_password_problems(password: str, settings: Settings) -> list[str]:
    """One line per rule `password` breaks on this stack (empty: it deploys). Never contains `password`."""
    problems = []
    if settings.platform == "docker" and "/" in password:
        problems.append(
            f"{KEY}: contains '/'; allowed: a password without '/' on the docker platform (the neo4j image reads "
            f"'neo4j/<password>' and refuses any other '/': the containers would restart forever, printing the "
            f"password to docker logs)")
    if password == DEFAULT_PASSWORD:
        problems.append(
            f"{KEY}: is Neo4j's initial default password; allowed: any other password (Neo4j and its image refuse "
            f"the default)")
    least = minimum_length(settings)
    if len(password) < least:
        rule = ("Neo4j 4.4 refuses an empty password" if least == 1 else
                f"Neo4j {settings.version_line}'s dbms.security.auth_minimum_password_length, default {least}")
        problems.append(
            f"{KEY}: is shorter than {least} character{'s' if least > 1 else ''}; allowed: {least} characters or "
            f"more ({rule}; the first start would fail)")
    return problems


def job_password(admin_password: str, stack: str, user: str) -> str:
    """The password of a job's Neo4j user (components/job_users.py): a key derived from the admin password with
    scrypt, salted with the stack and the user. Stable across runs (the first primary creates the user once,
    the secret is re-written by every `pulumi up`), distinct per stack and job, and one-way: a server that reads
    a job's secret learns nothing of the admin password but by guessing it at scrypt's cost (16 MiB a guess).
    32 hex characters: above every line's minimum length, nothing a shell or a Cypher string literal quotes."""
    key = hashlib.scrypt(admin_password.encode(), salt=f"neo4j-cluster/{stack}/{user}".encode(),
                         n=2 ** 14, r=8, p=1, dklen=16)
    return key.hex()


def admin_auth_line(admin_password: str, stack: str) -> str:
    """The admin's line of Neo4j's auth.ini (data/dbms/auth.ini), as `neo4j-admin [dbms] set-initial-password`
    writes it on 4.4, 5.x and 2025 (measured on 4.4.46, 5.26.30 and 2025.10.1): `neo4j:SHA-256,<hash>,<salt>,1024:`,
    the hash 1024 rounds of SHA-256 over the salt then the password. A primary that is not the first writes this
    line instead of reading the admin password (job_users.sets_password_from_hash): a salted hash logs nobody in.
    The salt is scrypt of the password salted with the stack (32 bytes, as neo4j-admin's): stable across deploys,
    so the secret changes only with the password, and costly to test a guess against."""
    salt = hashlib.scrypt(admin_password.encode(), salt=f"neo4j-cluster/{stack}/auth-salt".encode(),
                          n=2 ** 14, r=8, p=1, dklen=32)
    return auth_line("neo4j", admin_password, salt)


def auth_line(user: str, password: str, salt: bytes, iterations: int = 1024) -> str:
    """One auth.ini line: `user:SHA-256,<hex hash>,<hex salt>,<iterations>:`."""
    digest = hashlib.sha256(salt + password.encode()).digest()
    for _ in range(iterations - 1):
        digest = hashlib.sha256(digest).digest()
    return f"{user}:SHA-256,{digest.hex()},{salt.hex()},{iterations}:"


def required_secrets(settings: Settings) -> dict[str, str]:
    """The secret keys this stack's program reads (`config.require_secret`), each with what it is for.

    The adapters read exactly these; `make plan`, which runs with placeholders, lists the ones a stack file
    still lacks, so they are set before the first `pulumi preview` rather than found by it.
    """
    needed = {f"{NAMESPACE}:adminPassword": "the neo4j admin user's password"}
    if settings.monitoring and settings.platform == "aws":
        needed[f"{NAMESPACE}:grafanaAdminPassword"] = "Grafana's admin on the monitoring node"
    if settings.users:
        needed[f"{NAMESPACE}:userPasswords"] = "one password per neo4j:users entry, as a JSON object"
    if any(alias.remote for composite in settings.composites for alias in composite.aliases):
        # read by `make databases` (and the deploy's Databases step), not by the program: listed so that it is set
        # before the first deploy, whose databases step refuses a remote alias without one
        needed[f"{NAMESPACE}:aliasPasswords"] = ("one password per remote alias of neo4j:composites, as a JSON object "
                                                 "{\"<composite>.<alias>\": \"…\"} (read by make databases)")
        needed[f"{NAMESPACE}:aliasKeystore"] = ("the PKCS12 keystore of the AES key remote aliases' credentials are "
                                                "encrypted with, made once: scripts/databases.py "
                                                "--create-alias-keystore")
        needed[f"{NAMESPACE}:aliasKeystorePassword"] = "its password (set by the same command)"
    return needed


def missing_secrets(settings: Settings) -> dict[str, str]:
    return {key: why for key, why in required_secrets(settings).items()
            if key.removeprefix(f"{NAMESPACE}:") not in settings.secrets_set}
