"""The rollout's gate before a primary stops runs the cluster's own status check where the line has it (issue 24,
item 6): `CALL dbms.cluster.statusCheck([])` on every primary (Enterprise 5.24+ and 2025), against the recorded 5.26
cluster (tests/fixtures/enterprise/cluster-5.26-healthy.json; its rows DERIVED from the manual's example, derive.py).
Operations Manual 5.x, clustering/monitoring/status-check.adoc: "you can use the `replicationSuccessful` field to
determine overall write-availability, whereas the `memberStatus` field can be checked in order to see whether the
database is fault-tolerant or not"; the issue quotes the manual's use of it "to assess whether a primary is safe to shut
down for all databases"."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import load_scenario
from tests.conftest import ENTERPRISE
from tests.support.rollout_fakes import EVERYTHING, FakeStack, RestartingCluster, run_5, run_44

pytestmark = pytest.mark.usefixtures("rollout_env")


def test_a_primary_does_not_stop_while_a_member_is_unavailable(capsys, ca):
    scenario = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    for server in ("core-1", "core-2", "core-3"):
        rows = scenario["endpoints"][server]["responses"]["cluster_status_check"]["records"]
        for row in rows:
            if row["database"] == "neo4j" and row["address"].startswith("core-2"):
                row["memberStatus"] = "UNAVAILABLE"
    cluster = RestartingCluster(scenario, TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 1
    assert stack.applied == ["replica-1"]  # the secondary goes; the first primary does not
    assert "not started: dbms.cluster.statusCheck: core-1 (neo4j, member f4ae1895" in out
    assert "UNAVAILABLE (too far behind the leader, or unreachable)" in out
    assert "resume with: make rollout STACK=prod FROM=core-3" in out


def test_a_healthy_status_check_lets_every_primary_go_and_is_asked_before_each(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    asked = cluster.recorded.calls_named("cluster_status_check")
    # three primary steps, each asking the three primaries (a restarted one answers again by then)
    assert len(asked) == 9


def test_44_has_no_status_check_to_ask(capsys):
    cluster = RestartingCluster("cluster-4.4-healthy.json", TlsOptions())
    stack = FakeStack(dict(EVERYTHING), on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_44(capsys, stack, cluster)
    assert code == 0, out + err
    assert cluster.recorded.calls_named("cluster_status_check") == []
