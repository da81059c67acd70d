"""neo4j:gdsLicense (issue 21, item 4: "the GDS licence file from a secret when one is given"): the licence reaches
the servers that run GDS and no other machine, and gds.enterprise.license_file names it there alone.

The GDS manual (GDS with Neo4j cluster): "A valid GDS Enterprise Edition license must be installed and configured
on the _Secondary_" (4.4: Read Replica), and Configure plugins (every line): "gds.enterprise.license_file=
/path/to/my/license/keyfile". On the primaries "Neo4j will _not_ be able to validate the GDS-specific configuration
items. And validation failure would mean Neo4j would refuse to start": no GDS setting there."""
from __future__ import annotations

import json
import stat

from components.aws.user_data import aws_artifacts
from components.plugins import GDS
from components.render import GDS_LICENSE_FILE, render_cluster
from components.topology import plan_topology
from tests.conftest import make_settings, stack_config
from tests.support.neo4j_settings import conf_entries
from tests.support.program import run_with_secrets
from tests.support.shell import run_install_configuration, sandbox

LICENSE = "GDS-ENTERPRISE-LICENSE-KEY-for-tests-only\n"
ENCRYPTED = {"secure": "v1:encrypted-in-the-stack-file"}  # a stack file holds the secret encrypted
SECRETS = {"neo4j:adminPassword": "Admin-password-1", "neo4j:gdsLicense": LICENSE}


def licensed(**stack):
    return make_settings(coreCount=3, replicaCount=2, plugins=["apoc", GDS], gdsLicense=ENCRYPTED, **stack)


def test_only_the_gds_server_names_the_licence_file_and_none_without_a_licence():
    settings = licensed()
    rendered = render_cluster(settings, plan_topology(settings))
    named = {server: dict(conf_entries(files["neo4j.conf"])).get("gds.enterprise.license_file")
             for server, files in rendered.files.items() if "neo4j.conf" in files}
    assert named == {"core-1": None, "core-2": None, "core-3": None, "replica-1": None, "replica-2": GDS_LICENSE_FILE}
    unlicensed = make_settings(coreCount=3, replicaCount=2, plugins=["apoc", GDS])
    rendered = render_cluster(unlicensed, plan_topology(unlicensed))
    assert not [server for server, files in rendered.files.items()
                if "gds.enterprise.license_file" in files.get("neo4j.conf", "")]


def install_configuration(box, script: str, license_text: str, aws: str = ""):
    (box.root / "licenses").mkdir(exist_ok=True)
    return run_install_configuration(box, script, conf="dbms.mode=x\n", secret=license_text,
                                     places={"GDS_LICENSE_FILE": "licenses/gds.license"}, aws=aws)


def test_the_boot_of_the_gds_server_writes_the_licence_from_its_secret_and_again_changes_nothing(tmp_path):
    settings = licensed()
    artifacts = aws_artifacts(settings, plan_topology(settings))
    assert "gds-license" not in artifacts["replica-1"]["setup-neo4j.sh"]  # no other server fetches it
    script = artifacts["replica-2"]["setup-neo4j.sh"]
    assert f"GDS_LICENSE_FILE={GDS_LICENSE_FILE}" in script
    box = sandbox(tmp_path)
    first = install_configuration(box, script, LICENSE)
    assert first.returncode == 0, first.stderr
    installed = tmp_path / "licenses" / "gds.license"
    assert installed.read_text() == LICENSE
    assert stat.S_IMODE(installed.stat().st_mode) & 0o007 == 0  # nobody else reads it
    assert f"chown root:neo4j {installed}.new" in box.calls()
    assert "--secret-id neo4j-cluster/test/gds-license" in " ".join(box.calls())
    assert "changed=true" in first.stdout
    box.log.unlink()
    again = install_configuration(box, script, LICENSE)
    assert again.returncode == 0 and "changed=false" in again.stdout, again.stdout + again.stderr


def test_a_licence_that_cannot_be_read_stops_the_boot_before_the_conf_is_installed(tmp_path):
    settings = licensed()
    script = aws_artifacts(settings, plan_topology(settings))["replica-2"]["setup-neo4j.sh"]
    result = install_configuration(sandbox(tmp_path), script, "", aws="exit 255")
    assert result.returncode != 0
    assert not (tmp_path / "etc" / "neo4j.conf").exists()


def test_on_aws_the_licence_secret_is_the_stack_configs_and_only_the_gds_servers_role_reads_it(tmp_path):
    config = {**stack_config("prod"), "neo4j:gdsLicense": ENCRYPTED}
    run = run_with_secrets(tmp_path, "prod", config, {**SECRETS, "neo4j:aliasKeystore": "a2V5c3RvcmU=",
                                                      "neo4j:aliasKeystorePassword": "Keystore-password-1"})
    assert run.returncode == 0, run.stderr + run.stdout
    versions = {name: inputs for name, inputs in run.of_type("aws:secretsmanager/secretVersion:SecretVersion").items()
                if name.endswith("gds-license")}
    assert [inputs["secretString"] for inputs in versions.values()] == [{"secret": LICENSE}]
    readers = sorted(name for name, inputs in run.of_type("aws:iam/rolePolicy:RolePolicy").items()
                     if any(statement.get("Sid") == "ReadOwnSecrets" and "gds-license" in json.dumps(statement)
                            for statement in json.loads(inputs["policy"])["Statement"]))
    assert readers == ["cluster-replica-2-access"]  # prod's GDS server


def test_without_a_licence_there_is_no_licence_secret(tmp_path):
    run = run_with_secrets(tmp_path, "prod", stack_config("prod"),
                           {"neo4j:adminPassword": "Admin-password-1", "neo4j:aliasKeystore": "a2V5c3RvcmU=",
                            "neo4j:aliasKeystorePassword": "Keystore-password-1"})
    assert run.returncode == 0, run.stderr + run.stdout
    assert not [name for name in run.registered if "gds-license" in name]


def test_docker_uploads_the_licence_into_the_gds_container_alone(tmp_path):
    config = {**stack_config("local"), "neo4j:coreCount": 3, "neo4j:replicaCount": 1, "neo4j:edition": "enterprise",
              "neo4j:acceptLicense": True, "neo4j:plugins": ["apoc", GDS], "neo4j:gdsLicense": ENCRYPTED}
    run = run_with_secrets(tmp_path, "local", config, SECRETS)
    assert run.returncode == 0, run.stderr + run.stdout
    holders = {name: next(u for u in inputs["uploads"] if u["file"] == GDS_LICENSE_FILE)
               for name, inputs in run.of_type("docker:index/container:Container").items()
               if any(u["file"] == GDS_LICENSE_FILE for u in inputs.get("uploads", []))}
    assert list(holders) == ["neo4j-local-replica-1"], list(holders)
    assert holders["neo4j-local-replica-1"]["content"] == {"secret": LICENSE}
    assert holders["neo4j-local-replica-1"]["permissions"] == "0600"
