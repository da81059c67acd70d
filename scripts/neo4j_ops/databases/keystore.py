"""The keystore remote aliases need, made once (scripts/databases.py --create-alias-keystore): the manual's keytool
command (components/databases.py keytool_command: an AES key of 256 bits in a password-protected PKCS12 keystore)
run in a private temporary directory, then the keystore (base64) and its password stored as the stack secrets
neo4j:aliasKeystore and neo4j:aliasKeystorePassword with `pulumi config set --secret`, each value piped on standard
input ("Multi-line values may be set by piping a file to standard in", the CLI's help), never on a command line.

Created once: a stack file that already holds neo4j:aliasKeystore is refused, since "the credentials of a user of
DBMS B are reversibly encrypted and stored in the system database" with that key, and a new one leaves them
unreadable (remote-database-alias-configuration.adoc)."""
from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from components.databases import KEY_NAME, KEYSTORE_PASSWORD_SECRET, KEYSTORE_SECRET, keytool_command

from ..shared.errors import OperationError, UsageError
from ..target import PULUMI_INSTALL, ROOT


def make_keystore(password: str, keytool: str = "keytool") -> bytes:
    """The PKCS12 keystore holding the AES-256 key KEY_NAME, made by the JDK's keytool."""
    if shutil.which(keytool) is None:
        raise UsageError(f"{keytool} is not installed: it comes with a Java runtime (the one Neo4j runs on)")
    with tempfile.TemporaryDirectory(prefix="neo4j-alias-keystore-") as work:
        path = Path(work) / "aliases.pkcs12"
        command = keytool_command(str(path), password)
        command[0] = keytool
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not path.is_file():
            words = " ".join((done.stderr or done.stdout).split()).replace(password, "[secret]")
            raise OperationError(f"keytool -genseckey failed: {words[-400:]}")
        return path.read_bytes()


def create_alias_keystore(stack: str, secrets_set: frozenset[str], log, *, pulumi: str = "pulumi",
                          keytool: str = "keytool", cwd: Path = ROOT) -> list[str]:
    """Make the keystore and store both secrets in the stack; the keys set, in order."""
    if KEYSTORE_SECRET in secrets_set:
        raise UsageError(f"stack {stack} already holds neo4j:{KEYSTORE_SECRET}: it is made once (the remote aliases' "
                         f"stored passwords are encrypted with its key; a new one leaves them unreadable)")
    if shutil.which(pulumi) is None:
        raise UsageError(f"--create-alias-keystore stores the keystore with `pulumi config set --secret`, which needs "
                         f"the pulumi CLI ({PULUMI_INSTALL})")
    password = secrets.token_urlsafe(32)
    keystore = base64.b64encode(make_keystore(password, keytool)).decode()
    keys = []
    for key, value in ((KEYSTORE_SECRET, keystore), (KEYSTORE_PASSWORD_SECRET, password)):
        done = subprocess.run([pulumi, "config", "set", "--secret", f"neo4j:{key}", "--stack", stack],
                              input=value, capture_output=True, text=True, timeout=120, cwd=cwd)
        if done.returncode != 0:
            raise OperationError(f"pulumi config set --secret neo4j:{key} --stack {stack} failed: "
                                 f"{' '.join(done.stderr.split())[-400:]}")
        keys.append(f"neo4j:{key}")
        log(f"set neo4j:{key} (secret) in stack {stack}")
    log(f"the key is named {KEY_NAME!r} (dbms.security.key.name); commit Pulumi.{stack}.yaml")
    return keys
