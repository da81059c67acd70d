"""A rollout step whose Pulumi call fails (or is interrupted) raises, and leaves no temporary copy of the stack
file behind: the copy holds neo4j:rolloutRelease, which a later plain `pulumi up` must never see
(scripts/neo4j_ops/rollout/stack.py AutomationStack._released). Against a fake `pulumi.automation`."""
from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from scripts.neo4j_ops.rollout.stack import RELEASE_KEY, AutomationStack, server_resources
from scripts.neo4j_ops.shared.errors import OperationError

STATE = [f"urn:pulumi:prod::neo4j-cluster::neo4j-cluster:aws:Neo4jServers${kind}::{name}"
         for kind, name in server_resources("aws", "prod", "core-2")]


class CommandError(Exception):
    stderr = "error: update failed\n  aws:ec2:Instance cluster-core-2: InsufficientInstanceCapacity"


class FailingAutoStack:
    """preview and up look at the release copy they are given, then fail with `error`."""

    def __init__(self, error: BaseException):
        self.error = error
        self.seen: list[tuple[str, bool, list]] = []  # (config file, existed, its release)

    def export_stack(self):
        return SimpleNamespace(deployment={"resources": [{"urn": u} for u in STATE]})

    def _fail(self, config_file):
        path = Path(config_file)
        self.seen.append((config_file, path.exists(), yaml.safe_load(path.read_text())["config"][RELEASE_KEY]))
        raise self.error

    def up(self, *, target, target_dependents, config_file, on_output):
        self._fail(config_file)

    def preview(self, *, diff, target, config_file, on_event):
        self._fail(config_file)


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """The system's temporary directory, for this test alone: what is left in it is what a failure left."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def automation_stack(tmp_path: Path, error: BaseException) -> tuple[AutomationStack, FailingAutoStack, Path]:
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text("config:\n  neo4j:platform: aws\n  neo4j:coreCount: 3\n")
    fake = FailingAutoStack(error)
    module = SimpleNamespace(select_stack=lambda name, work_dir: fake)
    return AutomationStack("prod", "aws", tmp_path, module), fake, stack_file


def test_a_step_whose_up_fails_raises_and_leaves_no_release_copy(tmp_path, temp_dir):
    stack, fake, stack_file = automation_stack(tmp_path, CommandError("code: 255"))
    before = stack_file.read_text()
    with pytest.raises(OperationError, match="pulumi: up of core-2 of stack prod failed: .*InsufficientInstance"):
        stack.apply("core-2", lambda _line: None)
    [(copy, existed, release)] = fake.seen
    assert existed and release == ["core-2"] and Path(copy).parent == temp_dir
    assert list(temp_dir.iterdir()) == []
    assert stack_file.read_text() == before


def test_a_preview_that_fails_raises_and_leaves_no_release_copy(tmp_path, temp_dir):
    stack, fake, _stack_file = automation_stack(tmp_path, CommandError("code: 255"))
    with pytest.raises(OperationError, match="pulumi: preview of stack prod failed"):
        stack.pending(["core-2"])
    assert [release for _copy, _existed, release in fake.seen] == [["core-2"]]
    assert list(temp_dir.iterdir()) == []


def test_a_step_interrupted_by_ctrl_c_leaves_no_release_copy(tmp_path, temp_dir):
    stack, fake, _stack_file = automation_stack(tmp_path, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        stack.apply("core-2", lambda _line: None)
    assert len(fake.seen) == 1 and list(temp_dir.iterdir()) == []


def test_a_failed_up_is_told_by_the_clis_diagnostics_not_the_tail_of_the_outputs_it_printed(tmp_path, temp_dir):
    # The real CLI (seen under the engine tests) prints a failed update's errors in its Diagnostics section on
    # standard output, then every stack output: hundreds of lines whose tail names no error.
    outputs = "\n".join(f"    output{n}: \"value {n}\"" for n in range(200))
    stdout = (" ++ aws:ec2:Instance cluster-core-2 **creating failed**; error: InsufficientInstanceCapacity\n"
              "Diagnostics:\n  aws:ec2:Instance (cluster-core-2):\n"
              "    error: InsufficientInstanceCapacity: no r6i.8xlarge capacity in eu-west-1a\n"
              "  pulumi:pulumi:Stack (neo4j-cluster-prod):\n    error: update failed\n"
              f"Outputs:\n{outputs}\nResources:\n    239 unchanged\n    2 errored\n")

    class CliError(Exception):
        stderr = ""

    stack, _fake, _stack_file = automation_stack(tmp_path, CliError(f"\n code: 255\n stdout: {stdout}\n stderr: "))
    with pytest.raises(OperationError) as failed:
        stack.apply("core-2", lambda _line: None)
    assert str(failed.value) == ("pulumi: up of core-2 of stack prod failed: aws:ec2:Instance (cluster-core-2): "
                                 "error: InsufficientInstanceCapacity: no r6i.8xlarge capacity in eu-west-1a "
                                 "pulumi:pulumi:Stack (neo4j-cluster-prod): error: update failed")
