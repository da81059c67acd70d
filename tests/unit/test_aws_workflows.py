"""The GitHub workflows do what the project promises: tests on every push, previews of dev and prod
posted to each pull request, deployments from main with an approval before prod and a check after."""
from __future__ import annotations

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


def test_every_pull_request_previews_dev_with_a_comment_and_plans_prod_offline(workflows, stack_action):
    preview = workflows["preview"]
    assert "pull_request" in preview["on"]
    assert preview["permissions"]["pull-requests"] == "write"
    jobs = preview["jobs"]
    (step,) = steps_using(jobs["preview-dev"], STACK_ACTION)
    assert step["with"]["command"] == "preview" and step["with"]["stack"] == "dev"
    (pulumi,) = [s for s in stack_action["runs"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["comment-on-pr"] == "${{ inputs.command == 'preview' }}"
    assert pulumi["with"]["command"] == "${{ inputs.command }}"
    assert any(step.get("run") == "make plan STACK=prod" for step in jobs["plan-prod"]["steps"])


def secrets_named(node: Any) -> set[str]:
    text = yaml.safe_dump(node)
    return set(re.findall(r"secrets\.([A-Z0-9_]+)", text))


def test_a_pull_request_never_gets_what_decrypts_prod(workflows):
    # The branch's code runs in the preview jobs: no prod stack, no prod secret, no prod environment.
    preview = workflows["preview"]
    for name, job in preview["jobs"].items():
        assert job.get("environment") != "production", name
        assert not any("PROD" in secret for secret in secrets_named(job)), name
        for step in steps_using(job, STACK_ACTION):
            assert step["with"]["stack"] != "prod"
    assert not secrets_named(preview["jobs"]["plan-prod"])  # the offline plan needs no secret at all
    assert preview["jobs"]["preview-dev"]["environment"] == "preview"


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
        if key.secret and key.name != "userPasswords":
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
    for name in ("preview", "deploy"):
        assert workflows[name]["permissions"]["id-token"] == "write"
