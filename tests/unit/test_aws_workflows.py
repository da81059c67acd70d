"""The GitHub workflows do what the project promises: tests on every push, previews of dev and prod
posted to each pull request, deployments from main with an approval before prod and a check after."""
from __future__ import annotations

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


def test_every_pull_request_previews_dev_and_prod_with_a_comment(workflows, stack_action):
    preview = workflows["preview"]
    assert "pull_request" in preview["on"]
    assert preview["permissions"]["pull-requests"] == "write"
    (job,) = preview["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    (step,) = steps_using(job, STACK_ACTION)
    assert step["with"]["command"] == "preview" and step["with"]["stack"] == "${{ matrix.stack }}"
    (pulumi,) = [s for s in stack_action["runs"]["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["comment-on-pr"] == "${{ inputs.command == 'preview' }}"
    assert pulumi["with"]["command"] == "${{ inputs.command }}"


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
    assert steps.index(check) > next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("pulumi/actions@"))


def test_workflows_use_oidc_not_stored_aws_keys(workflows, stack_action):
    text = "".join(p.read_text() for p in WORKFLOWS.glob("*.yml")) + (ROOT / STACK_ACTION / "action.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-secret-access-key" not in text
    for name in ("preview", "deploy"):
        assert workflows[name]["permissions"]["id-token"] == "write"
