"""scripts/databases.py --create-alias-keystore with the real JDK keytool (remote aliases' keystore, issue 21): the
keystore it stores is the manual's (remote-database-alias-configuration.adoc: "an AES encryption key … should have
length 256, and be stored in a password-protected keystore, of format pkcs12"), as the real `keytool -list` reads it
back with the password stored beside it; the values go to `pulumi config set --secret` on standard input, never on a
command line; a stack that already holds one is refused (made once: a new key leaves stored alias passwords
unreadable). The pulumi CLI is a stand-in (a script of this file's, pulumi-stand-in, that records its arguments and
standard input), named as one here."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import yaml

from tests.conftest import ROOT, require_tool

STAND_IN = """#!/usr/bin/env python3
# pulumi-stand-in: records `pulumi config set` calls (arguments, standard input) as JSON lines
import json, os, sys
with open(os.environ["STAND_IN_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "stdin": sys.stdin.read()}) + "\\n")
"""


def run(tmp_path, stack_file, *extra):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(STAND_IN)
    (bin_dir / "pulumi").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STAND_IN_LOG": str(tmp_path / "calls.jsonl")}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "databases.py"), "--stack", "prod", "--stack-file",
                           str(stack_file), "--create-alias-keystore", *extra], capture_output=True, text=True,
                          timeout=180, env=env, cwd=tmp_path)


def test_the_keystore_is_an_aes_256_pkcs12_key_stored_as_two_secrets_through_standard_input(tmp_path):
    keytool = require_tool("keytool")
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text((ROOT / "Pulumi.prod.yaml").read_text())
    done = run(tmp_path, stack_file)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [c["argv"] for c in calls] == [
        ["config", "set", "--secret", "neo4j:aliasKeystore", "--stack", "prod"],
        ["config", "set", "--secret", "neo4j:aliasKeystorePassword", "--stack", "prod"]]
    keystore, password = base64.b64decode(calls[0]["stdin"]), calls[1]["stdin"]
    assert len(password) >= 32 and password not in done.stdout + done.stderr
    back = tmp_path / "read-back.p12"
    back.write_bytes(keystore)
    listed = subprocess.run([keytool, "-list", "-v", "-storetype", "pkcs12", "-keystore", str(back), "-storepass",
                             password], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "Keystore type: PKCS12" in listed.stdout and "Your keystore contains 1 entry" in listed.stdout
    assert "Alias name: aliases" in listed.stdout and "Entry type: SecretKeyEntry" in listed.stdout
    wrong = subprocess.run([keytool, "-list", "-storetype", "pkcs12", "-keystore", str(back),
                            "-storepass", "not-the-password"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0  # password-protected


def test_a_stack_that_already_holds_a_keystore_is_refused_and_nothing_is_set(tmp_path):
    require_tool("keytool")
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    config["config"]["neo4j:aliasKeystore"] = {"secure": "AAABAJk="}
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(config))
    done = run(tmp_path, stack_file)
    assert done.returncode == 2
    assert "already holds neo4j:aliasKeystore: it is made once" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "calls.jsonl").exists()
