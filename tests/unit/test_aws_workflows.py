"""The GitHub workflows do what the project promises: tests on every push, offline plans of dev and prod
for each pull request (no secret at all), deployments from main with an approval before prod and a check
after, actions pinned by commit, the deploy roles' OIDC trust policies in the repository."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
STACK_ACTION = "./.github/actions/pulumi-stack"


def load(path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {path.stem: load(path) for path in WORKFLOWS.glob("*.yml")}


@pytest.fixture(scope="module")
def stack_action() -> dict[str, Any]:
    return yaml.safe_load((ROOT / STACK_ACTION / "action.yml").read_text())


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").split("@")[0] == action]


def test_tests_run_on_every_push_through_the_ci_entry_point(workflows):
    tests = workflows["tests"]
    assert "push" in tests["on"] and not (tests["on"]["push"] or {}).get("branches")
    (job,) = tests["jobs"].values()
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])


def test_every_pull_request_plans_dev_and_prod_offline(workflows):
    preview = workflows["preview"]
    assert "pull_request" in preview["on"]
    (job,) = preview["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (plan,) = [step for step in job["steps"] if "make plan" in step.get("run", "")]
    assert 'make plan STACK="$STACK"' in plan["run"] and plan["env"]["STACK"] == "${{ matrix.stack }}"
    assert steps_using(job, "actions/upload-artifact")


def secrets_named(node: Any) -> set[str]:
    text = yaml.safe_dump(node)
    return set(re.findall(r"secrets\.([A-Z0-9_]+)", text))


def test_a_pull_request_gets_no_secret_no_role_and_no_environment(workflows):
    # The branch's code runs there: a Pulumi token would decrypt the stack's secrets, a role reach AWS.
    preview = workflows["preview"]
    assert preview["permissions"] == {"contents": "read"}  # no id-token: no OIDC role can be assumed
    for name, job in preview["jobs"].items():
        assert "environment" not in job, name
        assert not secrets_named(job), name
        assert not steps_using(job, STACK_ACTION), name
        assert "PULUMI_ACCESS_TOKEN" not in yaml.safe_dump(job), name


def test_dev_and_prod_deploy_with_different_roles_and_tokens(workflows):
    jobs = workflows["deploy"]["jobs"]
    (dev,), (prod,) = steps_using(jobs["dev"], STACK_ACTION), steps_using(jobs["prod"], STACK_ACTION)
    for key in ("aws-role-arn", "pulumi-access-token"):
        assert dev["with"][key] != prod["with"][key], key
    assert secrets_named(jobs["dev"]).isdisjoint(secrets_named(jobs["prod"]) - {"GITHUB_TOKEN"})
    assert all("PROD" not in s for s in secrets_named(jobs["dev"]))


def test_the_deploy_waits_for_the_tests(workflows):
    deploy, tests = workflows["deploy"], workflows["tests"]
    assert "workflow_call" in tests["on"]
    assert deploy["jobs"]["tests"]["uses"] == "./.github/workflows/tests.yml"
    assert deploy["jobs"]["dev"]["needs"] == "tests"


def test_one_state_backend_named_in_the_project_file_is_what_make_up_uses():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == "https://api.pulumi.com"  # where the workflows' Pulumi tokens reach
    makefile = (ROOT / "Makefile").read_text()
    assert "file://~" not in makefile.split("PROJECT_BACKEND =")[1].split("\n")[0]
    assert "PULUMI_BACKEND_URL ?=" not in makefile  # no default backend of the Makefile's own


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_aws_stack_file_says_which_secrets_must_be_set_before_the_first_preview(stack):
    from components.settings import KEYS

    header = [line for line in (ROOT / f"Pulumi.{stack}.yaml").read_text().splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "before the first" in text
    for key in KEYS:
        # userPasswords only for users; the alias secrets only for remote aliases (prod's header names them)
        # An optional secret (neo4j:gdsLicense) is no precondition of a preview.
        if key.secret and not key.optional and key.name not in ("userPasswords", "aliasPasswords", "aliasKeystore",
                                                                 "aliasKeystorePassword"):
            assert f"neo4j:{key.name}" in text, key.name


def test_main_deploys_dev_then_prod_behind_the_production_environment(workflows):
    deploy = workflows["deploy"]
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert jobs["prod"]["needs"] == "dev"
    assert jobs["prod"]["environment"] == "production"
    assert jobs["dev"]["environment"] != "production"
    for stack, job in (("dev", jobs["dev"]), ("prod", jobs["prod"])):
        (step,) = steps_using(job, STACK_ACTION)
        assert step["with"] == {**step["with"], "command": "up", "stack": stack}
    assert deploy["concurrency"]["cancel-in-progress"] is False


def test_every_up_ends_with_the_post_deploy_check(stack_action):
    steps = stack_action["runs"]["steps"]
    check = next(s for s in steps if "scripts/check.py" in s.get("run", ""))
    assert check["if"] == "inputs.command == 'up'"
    assert '--stack "$STACK"' in check["run"] and check["env"]["STACK"] == "${{ inputs.stack }}"
    assert "--wait 20m" in check["run"]  # a first deploy waits for cloud-init instead of failing at once
    assert steps.index(check) > next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@"))


def test_workflows_use_oidc_not_stored_aws_keys(workflows, stack_action):
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml")) + (ROOT / STACK_ACTION / "action.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-secret-access-key" not in text
    assert workflows["deploy"]["permissions"]["id-token"] == "write"


def every_uses(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "uses" and isinstance(v, str)] + \
            [u for v in node.values() for u in every_uses(v)]
    if isinstance(node, list):
        return [u for v in node for u in every_uses(v)]
    return []


def test_every_third_party_action_is_pinned_by_commit(workflows, stack_action):
    uses = every_uses(list(workflows.values())) + every_uses(stack_action)
    remote = [u for u in uses if not u.startswith("./")]
    assert remote, "no action found: the walk above is broken"
    unpinned = [u for u in remote if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)]
    assert unpinned == []
    # The version each SHA stands for is written beside it, so an update is reviewable.
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml")) + (ROOT / STACK_ACTION / "action.yml").read_text()
    for use in remote:
        assert re.search(re.escape(use) + r"\s+# v\d+\.\d+\.\d+", text), use


def test_the_pin_rule_refuses_a_tag():
    assert not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", "actions/checkout@v4")


def test_the_admin_password_is_masked_before_the_check_runs(stack_action):
    check = next(s for s in stack_action["runs"]["steps"] if "scripts/check.py" in s.get("run", ""))
    lines = check["run"].splitlines()
    read = next(i for i, line in enumerate(lines) if "neo4j:adminPassword" in line)
    mask = next(i for i, line in enumerate(lines) if line.strip() == 'echo "::add-mask::$NEO4J_PASSWORD"')
    export = next(i for i, line in enumerate(lines) if line.strip() == "export NEO4J_PASSWORD")
    assert read < mask < export


OIDC = ROOT / ".github" / "oidc"
OIDC_PROVIDER = "token.actions.githubusercontent.com"


def test_each_deploy_environment_has_a_trust_policy_naming_exactly_it(workflows):
    # GitHub's "Configuring OpenID Connect in Amazon Web Services": "AWS Identity and Access Management (IAM)
    # recommends that users evaluate the IAM condition key, token.actions.githubusercontent.com:sub, in the trust
    # policy of any role that trusts GitHub's OIDC identity provider (IdP)", and for the audience "Use
    # sts.amazonaws.com if you are using the official action".
    environments = {job["environment"] for job in workflows["deploy"]["jobs"].values() if "environment" in job}
    assert environments == {"dev", "production"}
    assert {p.name for p in OIDC.glob("*.json")} == {f"deploy-{e}.trust.json" for e in environments}
    for environment in environments:
        policy = json.loads((OIDC / f"deploy-{environment}.trust.json").read_text())
        (statement,) = policy["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].endswith(f":oidc-provider/{OIDC_PROVIDER}")
        assert set(statement["Condition"]) == {"StringEquals"}  # no StringLike: no wildcard subject
        condition = statement["Condition"]["StringEquals"]
        assert condition[f"{OIDC_PROVIDER}:aud"] == "sts.amazonaws.com"
        assert condition[f"{OIDC_PROVIDER}:sub"] == f"repo:GITHUB_OWNER/GITHUB_REPOSITORY:environment:{environment}"
