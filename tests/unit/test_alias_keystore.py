"""The keystore remote aliases need, installed on every Neo4j server (issue 21, item 2).

Operations Manual 5.x and dev, database-administration/aliases/remote-database-alias-configuration.adoc:
- "The following configuration is necessary for creating a remote database alias:" dbms.security.keystore.path
  ("The absolute path to the keystore file, including the file name."), dbms.security.keystore.password ("The
  password to the keystore file. Use Command expansion to set the password."), dbms.security.key.name ("The name
  of the secret key").
- "It shouldn't be accessible to any user except for the administrator and `neo4j`, for whom the keystore file
  must be readable."
- "In a cluster, _Alice_ needs to share the same keystore file over all instances."
configuration/command-expansion.adoc: "To enable command expansion, you must add the `--expand-commands` argument
to the Neo4j startup script"; "Otherwise, the commands in the configuration file are treated as invalid settings."
We do not use command expansion (it would need the flag on the server and every neo4j-admin command): the
password line is added to the installed neo4j.conf, never to the rendered one (user data, plan.json).

No real-server test: the three settings are Enterprise settings (configuration-settings.adoc labels each
"label--enterprise-edition"), which Community's strict validation refuses as unknown; they are checked against the
line's catalogue (components/neo4j_settings) instead.
"""
from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from components.aws.user_data import aws_artifacts
from components.databases import KEY_NAME
from components.neo4j_defaults import ALIAS_KEYSTORE_PATH
from components.neo4j_settings.catalogue import lookup
from components.render import render_cluster
from components.settings import load_settings
from components.topology import plan_topology
from tests.conftest import stack_config, stack_config_on
from tests.support.program import run_with_secrets
from tests.support.shell import run_install_configuration, sandbox

KEYSTORE_KEYS = ("dbms.security.keystore.path", "dbms.security.key.name")
PASSWORD_KEY = "dbms.security.keystore.password"
# Stand-ins for keytool's output and its password (scripts/neo4j_ops/databases/keystore.py makes the real ones).
KEYSTORE_BYTES = bytes(range(256)) * 3
KEYSTORE_B64 = base64.b64encode(KEYSTORE_BYTES).decode()
KEYSTORE_PASSWORD = "Zq3-keystore_pw-x9"
REMOTE_ONLY = [{"name": "library", "aliases": [{"name": "partner", "database": "neo4j", "user": "library_reader",
                                                "uri": "neo4j+s://graph.partner.example.com:7687"}]}]


def conf_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("version", ["5.26.30", "2025.10.1"])
def test_a_stack_with_a_remote_alias_gives_every_server_the_keystore_path_and_key_name(version):
    settings = load_settings("prod", stack_config_on("prod", version))
    rendered = render_cluster(settings, plan_topology(settings))
    for server in settings_servers(settings):
        conf = conf_lines(rendered.files[server]["neo4j.conf"])
        assert conf["dbms.security.keystore.path"] == ALIAS_KEYSTORE_PATH["aws"]  # absolute, with the file name
        assert conf["dbms.security.key.name"] == KEY_NAME == "aliases"  # keytool -alias in keystore.py
        assert PASSWORD_KEY not in conf, server  # never in the rendered text (user data, plan.json)
    for key in (*KEYSTORE_KEYS, PASSWORD_KEY):
        entry = lookup(settings.version_line, key)
        assert entry is not None and entry.enterprise, key


def settings_servers(settings) -> list[str]:
    return [s.name for s in plan_topology(settings).servers]


@pytest.mark.parametrize("composites", [[], [{"name": "library", "aliases": [{"name": "sales", "database": "sales"}]}]])
def test_no_keystore_line_without_a_remote_alias(composites):
    settings = load_settings("prod", {**stack_config("prod"), "neo4j:composites": composites})
    rendered = render_cluster(settings, plan_topology(settings))
    for server in settings_servers(settings):
        assert not [k for k in conf_lines(rendered.files[server]["neo4j.conf"]) if k.startswith("dbms.security.key")]
        assert "alias-keystore" not in aws_artifacts(settings, plan_topology(settings))[server]["setup-neo4j.sh"]


def test_extra_config_cannot_set_the_keystore_password_the_program_adds():
    from components.settings import ConfigError

    with pytest.raises(ConfigError, match=PASSWORD_KEY.replace(".", r"\.")):
        load_settings("prod", {**stack_config("prod"), "neo4j:extraConfig": {PASSWORD_KEY: "x"}})


# --- setup-neo4j.sh: the file and the password line, for real in bash ------------------------------------------


def install_with_keystore(box, script: str, conf: str, secret: str, aws: str = ""):
    return run_install_configuration(box, script, conf=conf, secret=secret,
                                     places={"ALIAS_KEYSTORE": "etc/aliases.pkcs12"}, aws=aws)


def test_the_boot_writes_the_keystore_0600_for_neo4j_and_the_password_line_into_the_installed_conf_only(tmp_path):
    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    artifacts = aws_artifacts(settings, topology)
    script, conf = artifacts["core-1"]["setup-neo4j.sh"], artifacts["core-1"]["neo4j.conf"]
    assert f"ALIAS_KEYSTORE={ALIAS_KEYSTORE_PATH['aws']}" in script
    secret = json.dumps({"keystore": KEYSTORE_B64, "password": KEYSTORE_PASSWORD})
    box = sandbox(tmp_path)
    first = install_with_keystore(box, script, conf, secret)
    assert first.returncode == 0, first.stderr
    keystore = tmp_path / "etc" / "aliases.pkcs12"
    assert keystore.read_bytes() == KEYSTORE_BYTES
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert f"chown neo4j:neo4j {keystore}.new" in box.calls()
    assert "secretsmanager get-secret-value --region eu-west-1 --secret-id neo4j-cluster/prod/alias-keystore" in \
        " ".join(box.calls())
    installed = (tmp_path / "etc" / "neo4j.conf").read_text()
    assert installed == conf + f"{PASSWORD_KEY}={KEYSTORE_PASSWORD}\n"
    assert "changed=true" in first.stdout
    # The password travelled on no command line the stand-ins saw, and no temporary copy is left behind.
    assert not [call for call in box.calls() if KEYSTORE_PASSWORD in call]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp.")]
    # A reboot with the same secret changes nothing, so Neo4j is not restarted for it.
    box.log.unlink()
    again = install_with_keystore(box, script, conf, secret)
    assert again.returncode == 0, again.stderr
    assert "changed=false" in again.stdout
    assert (tmp_path / "etc" / "neo4j.conf").read_text() == installed


def test_a_secret_that_cannot_be_read_stops_the_boot_before_any_conf_is_installed(tmp_path):
    settings = load_settings("prod", stack_config("prod"))
    artifacts = aws_artifacts(settings, plan_topology(settings))
    box = sandbox(tmp_path)
    result = install_with_keystore(box, artifacts["core-1"]["setup-neo4j.sh"], artifacts["core-1"]["neo4j.conf"], "",
                                   aws="exit 255")
    assert result.returncode != 0
    assert not (tmp_path / "etc" / "neo4j.conf").exists()


# --- the program under Pulumi's mocks -------------------------------------------------------------------------

SECRETS = {"neo4j:adminPassword": "Admin-password-1", "neo4j:aliasKeystore": KEYSTORE_B64,
           "neo4j:aliasKeystorePassword": KEYSTORE_PASSWORD}
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def prod_runs(tmp_path_factory):
    """Two `pulumi up`s of prod with the same config (two mock runs)."""
    runs = []
    for index in range(2):
        run = run_with_secrets(tmp_path_factory.mktemp(f"up{index}"), "prod", stack_config("prod"), SECRETS)
        assert run.returncode == 0, run.stderr + run.stdout
        runs.append(run)
    return runs


def keystore_secret(run) -> dict:
    versions = {name: inputs for name, inputs in run.of_type(SECRET_VERSION).items() if name.endswith("alias-keystore")}
    [inputs] = versions.values()
    return json.loads(inputs["secretString"]["secret"])


def test_the_keystore_secret_holds_the_stack_configs_keystore_and_a_second_up_keeps_it(prod_runs):
    first, second = (keystore_secret(run) for run in prod_runs)
    assert first == {"keystore": KEYSTORE_B64, "password": KEYSTORE_PASSWORD}  # from config, not generated
    assert second == first


def test_only_the_neo4j_servers_roles_read_the_keystore_secret(prod_runs):
    run = prod_runs[0]
    settings = load_settings("prod", stack_config("prod"))
    topology = plan_topology(settings)
    readers = []
    for name, inputs in run.of_type(ROLE_POLICY).items():
        for statement in json.loads(inputs["policy"])["Statement"]:
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if statement.get("Sid") == "ReadOwnSecrets" and any("alias-keystore" in r for r in resources):
                readers.append(name)
    assert sorted(readers) == sorted(f"cluster-{s.name}-access" for s in topology.servers)
    assert not [r for r in readers if "haproxy" in r or "monitoring" in r]


def test_a_remote_alias_without_the_keystore_is_refused_before_any_resource(tmp_path):
    run = run_with_secrets(tmp_path, "prod", stack_config("prod"), {"neo4j:adminPassword": "Admin-password-1"},
                           dropped=("neo4j:aliasKeystore", "neo4j:aliasKeystorePassword"))
    assert run.returncode != 0 and run.error_type == "RunError", run.stderr
    assert "neo4j:aliasKeystore: not set" in run.error and "neo4j:aliasKeystorePassword: not set" in run.error
    assert "--create-alias-keystore" in run.error
    assert run.registered == []


def test_docker_uploads_the_keystore_and_the_password_line_into_every_server_container(tmp_path):
    config = {**stack_config("local"), "neo4j:composites": REMOTE_ONLY}
    run = run_with_secrets(tmp_path, "local", config, SECRETS)
    assert run.returncode == 0, run.stderr + run.stdout
    servers = {name: inputs for name, inputs in run.of_type("docker:index/container:Container").items()
               if any(u["file"] == "/var/lib/neo4j/conf/neo4j.conf" for u in inputs.get("uploads", []))}
    assert len(servers) >= 3
    for name, inputs in servers.items():
        uploads = {u["file"]: u for u in inputs["uploads"]}
        keystore = uploads[ALIAS_KEYSTORE_PATH["docker"]]
        assert keystore["contentBase64"] == {"secret": KEYSTORE_B64}, name
        assert keystore["permissions"] == "0600" and keystore["owner"] == uploads["/var/lib/neo4j/conf/neo4j.conf"][
            "owner"]
        conf = uploads["/var/lib/neo4j/conf/neo4j.conf"]["content"]["secret"]
        assert conf_lines(conf)[PASSWORD_KEY] == KEYSTORE_PASSWORD
        assert conf_lines(conf)["dbms.security.keystore.path"] == ALIAS_KEYSTORE_PATH["docker"]


def test_the_keystore_path_is_in_neo4js_conf_directory_on_each_platform():
    assert os.path.dirname(ALIAS_KEYSTORE_PATH["aws"]) == "/etc/neo4j"  # the Debian package's neo4j.conf
    assert os.path.dirname(ALIAS_KEYSTORE_PATH["docker"]) == "/var/lib/neo4j/conf"  # $NEO4J_HOME/conf
