"""`make plan`: scripts/plan.py run as a user runs it (a process of its own: Pulumi's mocks are process-global).
The prod plan starts a new interpreter, as `make plan` does; the others run in children forked from the
session's warm interpreter (tests/support/forkrun.py), which import the project's modules afresh just the same."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.forkrun import python

PLAN = ROOT / "scripts" / "plan.py"


def plan(*args: str) -> subprocess.CompletedProcess:
    return python([str(PLAN), *args], timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("prod")
    return subprocess.run([sys.executable, str(PLAN), "--stack", "prod", "--out", str(out)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT), out


def test_prod_plan_prints_the_summary(prod):
    result, _ = prod
    assert result.returncode == 0, result.stderr
    assert "5 primaries + 2 secondaries; fault tolerance 2" in result.stdout
    assert "Memory plan per role:" in result.stdout and "r6i.2xlarge 64g: heap 24g, page cache 28g" in result.stdout
    assert "Resources per component:" in result.stdout


def test_prod_plan_writes_plan_json_in_the_documented_shape(prod):
    _, out = prod
    document = json.loads((out / "plan.json").read_text())
    assert document["stack"] == "prod" and document["project"] == "neo4j-cluster"
    assert set(document) == {"stack", "project", "resources", "outputs", "artifacts"}
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "parent", "inputs"}
    assert all((out / path).is_file() for path in document["artifacts"])


def test_prod_plan_renders_every_server_and_node(prod):
    _, out = prod
    confs = sorted(p.parent.name for p in out.glob("*/neo4j.conf"))
    assert confs == ["core-1", "core-2", "core-3", "core-4", "core-5", "replica-1", "replica-2"]
    assert (out / "haproxy" / "haproxy.cfg").is_file()
    assert (out / "monitoring" / "prometheus" / "prometheus.yml").is_file()
    assert list((out / "monitoring" / "prometheus" / "rules").glob("*.yml"))


def test_placeholder_secret_reaches_no_artifact(prod):
    from scripts.neo4j_ops.plan.document import PLACEHOLDER_SECRET

    _, out = prod
    leaks = [p for p in out.rglob("*") if p.is_file() and PLACEHOLDER_SECRET in p.read_text()]
    assert leaks == []


def test_plan_is_deterministic(prod, tmp_path):
    _, first = prod
    result = plan("--stack", "prod", "--out", str(tmp_path))
    assert result.returncode == 0
    assert (tmp_path / "plan.json").read_text() == (first / "plan.json").read_text()


def test_bad_stack_file_gives_one_line_per_problem_and_exit_2(tmp_path):
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text("config:\n  neo4j:coreCount: 4\n  neo4j:edition: community\n"
                          "  neo4j:vpcCidr: 10.0.0.1/16\n")
    result = plan("--stack", "bad", "--stack-file", str(stack_file), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, result.stderr
    assert [line.split(":")[1] for line in lines] == ["vpcCidr", "coreCount", "edition"]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_stack_names_the_stacks_there(tmp_path):
    result = plan("--stack", "staging", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Pulumi.staging.yaml" in result.stderr and "dev, local, prod" in result.stderr


def test_invalid_yaml_is_one_line(tmp_path):
    stack_file = tmp_path / "Pulumi.x.yaml"
    stack_file.write_text("config:\n  neo4j:coreCount: [3\n")
    result = plan("--stack", "x", "--stack-file", str(stack_file), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "not valid YAML" in result.stderr


def test_help_shows_an_example():
    result = plan("--help")
    assert result.returncode == 0 and "example: python scripts/plan.py --stack prod" in result.stdout


def test_json_flag_prints_plan_json(tmp_path):
    result = plan("--stack", "dev", "--out", str(tmp_path), "--json")
    assert json.loads(result.stdout)["stack"] == "dev"


def test_local_plan_names_its_network_volumes_and_seven_containers(tmp_path):
    result = plan("--stack", "local", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    containers = next(line for line in result.stdout.splitlines() if line.strip().startswith("containers ("))
    assert containers.strip().startswith("containers (7):")
    for name in ("core-1", "core-2", "core-3", "replica-1", "haproxy", "prometheus", "grafana"):
        assert f"neo4j-local-{name}" in containers
    assert "networks (1): neo4j-local-net" in result.stdout and "volumes (9):" in result.stdout


@pytest.mark.parametrize("stack", ["..", "../prod", "a/b", "", "dev prod"])
def test_a_stack_name_that_is_not_one_is_refused_before_anything_is_written(stack, tmp_path):
    result = plan("--stack", stack, "--stack-file", str(ROOT / "Pulumi.dev.yaml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"plan: --stack: got {stack!r}; allowed: a stack name of letters, digits, "
                                          f"'-', '_' and '.'"]


def test_an_out_directory_that_holds_no_plan_is_left_alone(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("not a plan")
    result = plan("--stack", "dev", "--out", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"--out {tmp_path}: got a directory without plan.json" in result.stderr
    assert keep.read_text() == "not a plan" and not (tmp_path / "plan.json").exists()


def test_a_refusal_only_the_program_can_make_is_one_line_and_exit_2(tmp_path):
    # An adapter's pulumi.RunError (here: a 4.4 image too old to read the password from a file).
    stack_file = tmp_path / "Pulumi.old44.yaml"
    stack_file.write_text("config:\n  neo4j:platform: docker\n  neo4j:version: 4.4.20\n"
                          "  neo4j:edition: community\n  neo4j:coreCount: 1\n")
    result = plan("--stack", "old44", "--stack-file", str(stack_file), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "neo4j:version: got '4.4.20' with platform=docker; allowed: 4.4.28 or later in the 4.4 line (older neo4j "
        "images read the admin password only from the NEO4J_AUTH environment variable, which docker inspect shows)"]


def test_the_plan_lists_per_server_what_running_servers_hold_back(prod, tmp_path):
    # A bigger primary type: only the primaries' type and conf change, held back on running servers.
    import shutil

    import yaml

    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    first, planned = prod  # the prod plan, made into a new directory; this test plans over a copy of it
    out = tmp_path / "out"
    shutil.copytree(planned, out)
    assert first.returncode == 0, first.stderr
    assert "Pending on running servers:" in first.stdout and "no earlier plan at" in first.stdout
    (tmp_path / "main-plan.json").write_text((out / "plan.json").read_text())

    config["config"]["neo4j:coreInstanceType"] = "r6i.4xlarge"
    changed = tmp_path / "Pulumi.prod.yaml"
    changed.write_text(yaml.safe_dump(config))
    second = plan("--stack", "prod", "--stack-file", str(changed), "--out", str(out))
    assert second.returncode == 0, second.stderr
    note = second.stdout.split("Pending on running servers:", 1)[1].split("\n\n", 1)[0].splitlines()
    pending = {line.split()[0]: line.split(None, 1)[1] for line in note[3:] if line.strip()}
    assert pending == {f"cluster-core-{i}": "user data (neo4j.conf); instanceType r6i.2xlarge -> r6i.4xlarge"
                       for i in range(1, 6)}
    assert "instanceType" in note[1] and "userDataBase64" in note[1] and "subnetId" in note[1]

    again = plan("--stack", "prod", "--stack-file", str(changed), "--out", str(tmp_path / "other"),
                 "--since", str(tmp_path / "main-plan.json"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("instanceType r6i.2xlarge -> r6i.4xlarge") == 5
    same = plan("--stack", "prod", "--stack-file", str(changed), "--out", str(out))
    assert "  none since" in same.stdout


def test_the_plan_lists_the_secrets_a_stack_file_still_lacks(tmp_path):
    # The plan runs with placeholders, so without this list a missing secret surfaces only at `pulumi preview`.
    # An encrypted value (`secure:`) counts as set; the program requires Grafana's only with monitoring on AWS
    # and userPasswords only with neo4j:users.
    stack_file = ROOT / "Pulumi.prod.yaml"
    text = stack_file.read_text().replace("config:\n", "config:\n  neo4j:adminPassword:\n    secure: AAABAJk=\n", 1)
    given = tmp_path / "Pulumi.prod.yaml"
    given.write_text(text)
    result = plan("--stack", "prod", "--stack-file", str(given), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("Secrets the program reads: ", 1)[1].splitlines()
    # aliasPasswords: prod's composite has a remote alias (read by make databases, listed all the same)
    alias_secrets = ["neo4j:aliasPasswords", "neo4j:aliasKeystore", "neo4j:aliasKeystorePassword"]
    assert section[0] == ", ".join(["neo4j:adminPassword", "neo4j:grafanaAdminPassword", "neo4j:userPasswords",
                                    *alias_secrets])
    missing = [line.split()[1].rstrip(":") for line in section[1:] if line.startswith("  MISSING ")]
    assert missing == ["neo4j:grafanaAdminPassword", "neo4j:userPasswords", *alias_secrets]
    assert "pulumi config set --secret neo4j:userPasswords … --stack prod" in result.stdout


# --- the 3-2-1 rule: which copies each stack keeps (components/aws/backup_store.py backup_copies) ----------


def backup_copies_lines(result: subprocess.CompletedProcess) -> list[str]:
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Backup copies"))
    return [line.strip() for line in lines[start + 1:] if line.startswith("  ")][:2]


def test_prod_keeps_three_backup_copies_one_off_site(prod):
    result, _ = prod
    (line,) = backup_copies_lines(result)[:1]
    assert line == ("prod: 4 copies — EBS store, EBS staging (3 days), S3 eu-west-1, S3 replica eu-central-1; "
                    "2 kinds of storage; off-site: yes (3-2-1 holds)")
    assert "WARNING" not in result.stdout


def test_dev_says_it_breaks_the_rule_and_why(tmp_path):
    result = plan("--stack", "dev", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    line, warning = backup_copies_lines(result)
    assert line.startswith("dev: 3 copies — EBS store, EBS staging (3 days), S3 eu-west-1;")
    assert "off-site: no (BREAKS 3-2-1: no off-site copy" in line and "set neo4j:backupReplicaRegion" in line
    assert warning == "WARNING: stack dev breaks the 3-2-1 rule of the operations guide"
    # The stack file says why dev may.
    assert "3-2-1" in (ROOT / "Pulumi.dev.yaml").read_text()


def test_a_streaming_stack_without_replica_has_only_two_copies_and_with_one_three(tmp_path):
    import yaml

    config = {"neo4j:platform": "aws", "neo4j:version": "2025.10.1", "neo4j:edition": "community",
              "neo4j:coreCount": 1, "neo4j:replicaCount": 0, "neo4j:region": "eu-west-1", "aws:region": "eu-west-1",
              "neo4j:availabilityZones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"]}
    for replica, expected in (("", "solo: 2 copies — EBS store, S3 eu-west-1; 2 kinds of storage; off-site: no "
                                    "(BREAKS 3-2-1: only 2 copies"),
                              ("us-east-1", "solo: 3 copies — EBS store, S3 eu-west-1, S3 replica us-east-1; "
                                            "2 kinds of storage; off-site: yes (3-2-1 holds)")):
        stack_file = tmp_path / f"Pulumi.solo{replica}.yaml"
        stack_file.write_text(yaml.safe_dump({"config": {**config, "neo4j:backupReplicaRegion": replica}}))
        result = plan("--stack", "solo", "--stack-file", str(stack_file), "--out", str(tmp_path / f"out{replica}"))
        assert result.returncode == 0, result.stderr
        assert backup_copies_lines(result)[0].startswith(expected)


def test_the_local_docker_stack_prints_no_backup_copies(tmp_path):
    result = plan("--stack", "local", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Backup copies" not in result.stdout
