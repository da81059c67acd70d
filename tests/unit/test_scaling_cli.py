"""scripts/scale.py against the recorded scaling scenarios: which way it scales comes from the stack file and
what the cluster lists; --dry-run prints the Cypher; bad input is one line and exit 2."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from scripts import scale
from tests.conftest import ENTERPRISE, ROOT, prod_stack_args, recorded_writes
from tests.support.scaling_replay import transport

REPLICA_2 = "0d9e4c71-5a3b-4f6e-8e21-7c5b9a1d3f42"
ALTER = "ALTER DATABASE $dbname SET TOPOLOGY $primary PRIMARIES $secondary SECONDARIES"


@pytest.fixture(autouse=True)
def no_real_waits(monkeypatch):
    monkeypatch.setattr("scripts.neo4j_ops.scaling.run.time.sleep", lambda seconds: None)


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A prod stack file with 3 cores and `replicas` replicas, and a CA file to give."""
    monkeypatch.setenv("NEO4J_PASSWORD", "not-a-real-password")
    config = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())

    def write(replicas: int, cores: int = 3) -> list[str]:
        config["config"].update({"neo4j:coreCount": cores, "neo4j:replicaCount": replicas})
        return prod_stack_args(tmp_path, config, "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"))
    return write



def test_help_says_what_it_does_and_exits_0():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "scale.py"), "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for words in ("--stack", "--dry-run", "--up", "--ca-cert", "DEALLOCATE DATABASES", "ENABLE SERVER"):
        assert words in result.stdout


def test_a_lowered_replica_count_moves_the_databases_off_and_names_the_up_that_removes_the_machine(stack, capsys):
    recorded = transport("scale-in-5.26.json", "5.26.30")
    assert scale.main(stack(1), transport=recorded) == 0
    assert recorded_writes(recorded) == ["CALL dbms.cluster.cordonServer($server)", ALTER,
                                f"DRYRUN DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'",
                                f"DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'", f"DROP SERVER '{REPLICA_2}'"]
    out = capsys.readouterr().out
    assert out.startswith("scale in (Neo4j 5.26.30): ran 5 statements")
    assert "next: make up STACK=prod (removes the machines of replica-2.prod.neo4j.internal:7687)" in out


def test_dry_run_prints_the_cypher_and_sends_no_change(stack, capsys):
    recorded = transport("scale-in-5.26.json", "5.26.30")
    assert scale.main([*stack(1), "--dry-run", "--json"], transport=recorded) == 0
    assert recorded_writes(recorded) == [f"DRYRUN DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'"]
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["dryRun"] is True and report["direction"] == "in"
    assert [s["cypher"] for s in report["statements"] if not s["ran"]] == [
        "CALL dbms.cluster.cordonServer($server)", ALTER, f"DEALLOCATE DATABASES FROM SERVER '{REPLICA_2}'",
        f"DROP SERVER '{REPLICA_2}'"]


def test_a_raised_replica_count_waits_for_the_new_server_and_sets_the_topology(stack, capsys):
    recorded = transport("scale-out-2025-auto-enabled.json", "2025.10.1")
    assert scale.main(stack(2), transport=recorded) == 0
    assert recorded_writes(recorded) == [ALTER]
    assert [c.params for c in recorded.calls if c.cypher == ALTER] == [{"dbname": "neo4j", "primary": 3,
                                                                       "secondary": 2}]
    assert "scale out (Neo4j 2025.10.1): ran 1 statement" in capsys.readouterr().out


def test_a_refusal_is_one_line_and_exit_1_and_changes_nothing(stack, capsys):
    recorded = transport("scale-in-5.26-offline.json", "5.26.30")
    assert scale.main(stack(1), transport=recorded) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("scale: FAILED: refused, nothing was changed: replica-2.prod.neo4j.internal:7687 hosts neo4j "
                   "not online: deallocation would be refused")
    assert recorded_writes(recorded) == []


def test_community_has_no_cluster_to_scale(stack, capsys):
    recorded = transport("scale-in-5.26.json", "5.26.30", edition="community")
    assert scale.main(stack(1), transport=recorded) == 2
    assert capsys.readouterr().err.strip() == ("scale: Neo4j community edition: a single server, no cluster to "
                                               "scale (clustering needs Enterprise)")
    assert recorded.calls[0].name == "components" and recorded_writes(recorded) == []


@pytest.mark.parametrize("extra, message", [
    (["--wait-minutes", "0"], "scale: --wait-minutes 0: allowed: more than 0"),
    (["--up", "--dry-run"], "scale: --up and --dry-run: choose one (a dry run changes nothing)"),
    (["--uri", "http://core-1:7474"], "scale: --uri: "),
])
def test_bad_options_are_one_line_and_exit_2(stack, capsys, extra, message):
    assert scale.main([*stack(1), *extra], transport=transport("scale-in-5.26.json", "5.26.30")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err and "Traceback" not in err
