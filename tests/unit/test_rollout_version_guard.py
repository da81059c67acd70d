"""`make rollout` refuses an unsupported version change before touching anything (issue 24, item 1): the servers of
the recorded Enterprise 5.26 cluster (tests/fixtures/enterprise/cluster-5.26-healthy.json) report 5.26.30 through
`CALL dbms.components()`; the stack file names the target. The rules are the Upgrade and Migration Guide's, quoted in
scripts/neo4j_ops/shared/upgrade_paths.py and tests/unit/test_upgrade_paths.py."""
from __future__ import annotations

import pytest
import yaml

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.rollout import main
from tests.conftest import ENTERPRISE, stack_config_on


class NoStack:
    """A stack that must never be asked: the guard refuses before Pulumi."""
    name = "prod"

    def __init__(self):
        self.asked = []

    def pending(self, servers):
        self.asked.append(servers)
        return {s: ["replace (userDataBase64)"] for s in servers}

    def apply(self, server, log):
        self.asked.append(server)


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")


def rollout_to(tmp_path, capsys, ca, version: str, *args: str):
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump({"config": stack_config_on("prod", version)}))
    stack = NoStack()
    transport = RecordedTransport(ENTERPRISE / "cluster-5.26-healthy.json", tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--stack-file", str(stack_file), "--outputs-file",
                 str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(ca), *args],
                transport=transport, stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err, stack, transport


@pytest.mark.parametrize("version, words", [
    ("4.4.46", "a downgrade is not supported"),
    ("5.26.2", "a downgrade is not supported"),
])
def test_an_unsupported_change_is_refused_in_one_line_before_pulumi(tmp_path, capsys, ca, version, words):
    code, out, err, stack, transport = rollout_to(tmp_path, capsys, ca, version)
    assert code == 2
    assert stack.asked == []  # no preview, no step
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"neo4j:version {version}: the cluster runs Neo4j 5.26.30; {words}" in lines[0]
    # the servers were only read (the facts check gathers), never written to
    assert transport.calls and not any(c.write for c in transport.calls)
    assert "components" in {c.name for c in transport.calls}


def test_the_refusal_holds_in_a_dry_run_too(tmp_path, capsys, ca):
    code, _out, err, stack, _t = rollout_to(tmp_path, capsys, ca, "4.4.46", "--dry-run", "--pending", "core-1")
    assert code == 2 and "a downgrade is not supported" in err and stack.asked == []


@pytest.mark.parametrize("version", ["5.26.30", "2025.10.1"])
def test_a_supported_change_goes_on_to_the_order(tmp_path, capsys, ca, version):
    code, out, err, stack, _t = rollout_to(tmp_path, capsys, ca, version, "--dry-run")
    assert code == 0, out + err
    assert stack.asked  # Pulumi was asked what is pending
    assert "Rollout order of stack prod" in out
