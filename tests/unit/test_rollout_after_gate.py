"""The rollout's after-step gate (scripts/neo4j_ops/rollout/gates.py wait_for_server): a server that answers
again and is Enabled in a formed cluster is not done until it hosts what it hosted before the step, SHOW
SERVERS says it hosts what it is asked to host, and its copies have caught up with their writers. The whole
command runs against recorded Enterprise 5.26 responses (tests/fixtures/enterprise/), changed after the
step into what the cluster would say then; the stack is faked (tests/support/rollout_fakes.py)."""
from __future__ import annotations

import copy

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import load_scenario
from scripts.neo4j_ops.rollout import main
from tests.conftest import ENTERPRISE
from tests.support.rollout_fakes import FakeStack, RestartingCluster

HEALTHY = "cluster-5.26-healthy.json"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.delenv("NEO4J_USER_PASSWORDS", raising=False)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.01)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.01)


@pytest.fixture
def cluster(tmp_path) -> RestartingCluster:
    ca = tmp_path / "ca.crt"
    ca.write_text("(recorded runs never open it)")
    return RestartingCluster(HEALTHY, TlsOptions(str(ca)))


def step_replica_1(capsys, cluster: RestartingCluster, after: dict | str, *args: str) -> tuple[int, str, str, list]:
    """Roll out replica-1 alone; its step turns the recorded cluster into `after` (a scenario or its file)."""
    after = after if isinstance(after, dict) else load_scenario(ENTERPRISE / after)
    stack = FakeStack({"replica-1": ["replace (ami)"]}, on_apply=lambda _server: cluster.swap(copy.deepcopy(after)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert",
                 cluster.tls.ca_file, *args], transport=cluster, stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err, stack.applied


def replica_1_rows(scenario: dict, query: str):
    """Every row of `query` (show_databases, show_servers) about replica-1, in every server's view."""
    for endpoint in scenario["endpoints"].values():
        answers = endpoint.get("responses", {}).get(query)
        for answer in (answers if isinstance(answers, list) else [answers] if answers else []):
            for row in answer.get("records", []):
                if str(row.get("address")).startswith("replica-1."):
                    yield answer, row


def without_neo4j_on_replica_1() -> dict:
    """Back, Enabled, databases online, and hosting only system: no SHOW DATABASES row of neo4j on replica-1,
    and SHOW SERVERS neither asks it to host neo4j nor counts it (so nothing but the before/after comparison
    of what it hosts can see that neo4j is gone)."""
    scenario = copy.deepcopy(load_scenario(ENTERPRISE / HEALTHY))
    for answer, row in list(replica_1_rows(scenario, "show_databases")):
        if row["name"] == "neo4j":
            answer["records"].remove(row)
    for _answer, row in replica_1_rows(scenario, "show_servers"):
        row["hosting"] = row["requestedHosting"] = ["system"]
    return scenario


def asked_to_host_more_than_it_hosts() -> dict:
    """SHOW DATABASES lists neo4j and system on replica-1, online; SHOW SERVERS asks it to host both, and says
    it hosts only system (the manual's `WHERE requestedHosting <> hosting` is not empty yet)."""
    scenario = copy.deepcopy(load_scenario(ENTERPRISE / HEALTHY))
    for _answer, row in replica_1_rows(scenario, "show_servers"):
        row["requestedHosting"], row["hosting"] = ["neo4j", "system"], ["system"]
    return scenario


def test_a_server_back_without_a_database_it_hosted_fails_its_step_from_recorded_enterprise_responses(
        capsys, cluster):
    code, out, err, applied = step_replica_1(capsys, cluster, without_neo4j_on_replica_1(), "--timeout", "1s")
    assert applied == ["replica-1"]
    assert code == 1, out + err
    assert "replica-1: not hosting neo4j yet" in err
    assert "FAILED" in out and "applied, but not back within 1 s: not hosting neo4j yet" in out
    assert "resume with: make rollout STACK=prod FROM=replica-1" in out


def test_the_gate_waits_until_the_database_is_hosted_again_from_recorded_enterprise_responses(capsys, cluster):
    # Two gather rounds without neo4j on replica-1, then the healthy answers (a list plays in order).
    missing, healthy = without_neo4j_on_replica_1(), load_scenario(ENTERPRISE / HEALTHY)
    for name, endpoint in missing["endpoints"].items():
        if "show_databases" in endpoint.get("responses", {}):
            endpoint["responses"]["show_databases"] = [endpoint["responses"]["show_databases"]] * 2 + \
                [healthy["endpoints"][name]["responses"]["show_databases"]]
    code, out, err, _applied = step_replica_1(capsys, cluster, missing, "--timeout", "60s")
    assert code == 0, out + err
    assert err.index("replica-1: not hosting neo4j yet") < err.index("replica-1: back: answers")
    assert "hosting neo4j, system, caught up" in out


def test_a_server_that_hosts_less_than_it_is_asked_to_fails_its_step_from_recorded_enterprise_responses(
        capsys, cluster):
    code, out, err, _applied = step_replica_1(capsys, cluster, asked_to_host_more_than_it_hosts(), "--timeout", "1s")
    assert code == 1, out + err
    assert "replica-1: SHOW SERVERS: hosting ['system'], requested ['neo4j', 'system']" in err
    assert "applied, but not back within 1 s: SHOW SERVERS: hosting ['system'], requested ['neo4j', 'system']" in out


def test_a_server_whose_copy_does_not_catch_up_fails_its_step_from_recorded_enterprise_responses(capsys, cluster):
    # After the step replica-1 is back and hosting, but 1200 transactions behind on neo4j and stuck.
    code, out, err, applied = step_replica_1(capsys, cluster, "cluster-5.26-lagging-secondary.json",
                                             "--timeout", "1s", "--max-lag", "0.3")
    assert applied == ["replica-1"]
    assert code == 1, out + err
    behind = "not caught up: replica-1 on neo4j is 1200 transactions behind the writer and did not catch up " \
             "within 0.3 s"
    assert f"replica-1: {behind}" in err
    assert f"applied, but not back within 1 s: {behind}" in out and "FROM=replica-1" in out


def test_a_server_whose_copy_catches_up_within_the_limit_is_done_from_recorded_enterprise_responses(
        capsys, cluster):
    # 1200 transactions behind when first seen, at the writer's transaction on the third poll.
    code, out, err, _applied = step_replica_1(capsys, cluster, "cluster-5.26-lag-catches-up.json",
                                              "--timeout", "60s", "--max-lag", "10")
    assert code == 0, out + err
    assert "replica-1: back: answers, Enabled and Available in a formed cluster, hosting neo4j, system, caught up" \
        in err
    assert "not caught up" not in err
