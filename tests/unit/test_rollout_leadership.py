"""Before a primary that leads databases stops, the rollout moves those leaderships away where the line can (issue 24
item 6; scripts/neo4j_ops/rollout/leadership.py), against recorded Enterprise responses (tests/fixtures/enterprise/
cluster-5.26-healthy.json: core-1 writes neo4j, core-2 system; cluster-4.4-healthy.json: core-1 leads both; the
read-only setting's answers DERIVED in derive.py read_only_responses) with the stack faked
(tests/support/rollout_fakes.py). The fake cluster does what the manual says the real one does when a database turns
read-only on its leader: another primary leads it (RestartingCluster.read_only); `moves = False` is a cluster where
that does not happen in time."""
from __future__ import annotations

import copy

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.recorded import load_scenario
from scripts.neo4j_ops.rollout import leadership
from scripts.neo4j_ops.rollout.order import PRIMARY, ClusterView, Member, order
from tests.conftest import ENTERPRISE
from tests.support.recorded_cluster import facts_of, target
from tests.support.rollout_fakes import FakeStack, RestartingCluster, run_5, run_44

pytestmark = pytest.mark.usefixtures("rollout_env")

# The Operations Manual (neo4j/docs-operations), word for word, on what the rollout does and does not do.
MANUAL = {
    # 5.x and dev, clustering/setup/routing.adoc, "Leadership balancing" (4.4 clustering/internals.adoc says it of
    # dbms.databases.read_only): how a leadership is moved away on demand; no line has a procedure for it.
    "moves away": "Additionally, Neo4j automatically transfers database leaderships away from instances where those "
                  "databases are configured to be read-only using",
    # 5.x and dev procedures/built-in-procedures.adoc, 4.4 reference/procedures.adoc: dbms.setConfigValue.
    "one member": "In a clustered environment, `dbms.setConfigValue` affects only the cluster member it is run "
                  "against.",
    "lost on restart": "Changes do not persist and are lost if the server is restarted.",
    # 4.4 configuration/configuration-settings.adoc, dbms.databases.read_only's valid values.
    "not system": "Value 'system' can't be included in read only databases collection!",
    # 4.4 clustering-advanced/lifecycle.adoc, "Core shutdown": the fallback, the election after the stop.
    "election": "For any databases where the leaver was playing the _Leader_ role, each of those leaderships will be "
                "transferred to other Core Servers.",
}


def test_the_code_gives_the_manual_s_reasons_word_for_word():
    text = " ".join((leadership.__doc__ or "").split())
    for quote in MANUAL.values():
        assert " ".join(quote.split()) in text, quote


def test_a_leader_s_standard_database_is_made_read_only_on_it_and_moves_before_its_step(capsys, ca):
    # MANUAL["moves away"], MANUAL["one member"]: core-1 alone is asked; the step waits until another writer shows.
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack({"core-1": ["replace (ami)"]}, on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    assert stack.applied == ["core-1"]
    assert cluster.set_read_only == [("core-1.prod.neo4j.internal:7687", ["neo4j"])]
    names = [(c.endpoint, c.name, c.params) for c in cluster.recorded.calls
             if c.name in ("read_only_setting", "set_config_value")]
    # its list read first (to keep and set back what it had), then set; after the restart only read
    # (MANUAL["lost on restart"]): nothing to set back.
    assert names == [("core-1", "read_only_setting", {}),
                     ("core-1", "set_config_value", {"setting": "server.databases.read_only", "value": "neo4j"}),
                     ("core-1", "read_only_setting", {})]
    assert err.index("core-1: leadership moved (neo4j → core-2)") < err.index("core-1: pulumi: ~")
    assert "leadership moved first: neo4j → core-2" in out
    assert "set back" not in out


def test_a_leadership_that_does_not_move_stops_the_rollout_before_the_server_with_its_list_set_back(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    cluster.moves = False
    stack = FakeStack({"core-1": ["replace (ami)"], "core-3": ["replace (ami)"]},
                      on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_5(capsys, ca, stack, cluster, "--transfer-timeout", "1s")
    assert code == 1, out + err
    assert stack.applied == ["core-3"]  # the primary leading nothing went; core-1 was not touched
    sets = [c.params["value"] for c in cluster.recorded.calls_named("set_config_value")]
    assert sets == ["neo4j", ""]
    assert "not started: the leadership of neo4j did not move away within 1 s; server.databases.read_only on " \
           "core-1 set back to ''" in out
    assert "resume with: make rollout STACK=prod FROM=core-1" in out


def test_a_step_that_did_not_restart_the_server_gets_its_list_set_back(capsys, ca):
    # The fake step restarts nothing: the rollout's read-only list would stay until the next restart.
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack({"core-1": ["update (tags)"]})
    code, out, err = run_5(capsys, ca, stack, cluster)
    assert code == 0, out + err
    assert [c.params["value"] for c in cluster.recorded.calls_named("set_config_value")] == ["neo4j", ""]
    assert "server.databases.read_only on core-1 set back to ''" in out


def test_44_moves_neo4j_by_its_own_setting_and_leaves_system_to_the_election_from_recorded_enterprise_4_4(capsys):
    # MANUAL["not system"], MANUAL["election"]: core-1 leads neo4j and system on the recorded 4.4 cluster.
    cluster = RestartingCluster("cluster-4.4-healthy.json", TlsOptions())
    stack = FakeStack({"core-1": ["replace (ami)"]}, on_apply=lambda server: cluster.restart(server, 1))
    code, out, err = run_44(capsys, stack, cluster)
    assert code == 0, out + err
    (call,) = cluster.recorded.calls_named("set_config_value")
    assert call.params == {"setting": "dbms.databases.read_only", "value": "neo4j"}
    assert "core-1: leadership moved (neo4j → core-2)" in err
    assert "system: by the election after the stop (system cannot be made read-only)" in out


def test_a_database_no_other_primary_hosts_is_left_to_the_election(monkeypatch):
    scenario = copy.deepcopy(load_scenario(ENTERPRISE / "cluster-5.26-healthy.json"))
    for endpoint in scenario["endpoints"].values():
        rows = (endpoint.get("responses", {}).get("show_databases") or {}).get("records", [])
        rows[:] = [r for r in rows if not (r["name"] == "neo4j" and r["role"] == "primary"
                                           and not r["address"].startswith("core-1."))]
    t = target(monkeypatch)
    moves = leadership.plan(t, facts_of(scenario, t), "core-1")
    assert moves.movable == () and moves.left == (("neo4j", "no other primary hosts it"),)


def test_the_dry_run_says_what_happens_to_each_leadership(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    stack = FakeStack({s: ["replace (ami)"] for s in ("core-1", "core-2", "core-3", "replica-1")})
    code, out, err = run_5(capsys, ca, stack, cluster, "--dry-run")
    assert code == 0, out + err
    assert stack.applied == [] and cluster.recorded.calls_named("set_config_value") == []
    assert "before it stops, the leadership of neo4j moves away (read-only there, dbms.setConfigValue)" in out
    assert "system: by the election after the stop (system cannot be made read-only)" in out


def test_the_server_leading_the_most_databases_goes_last_and_ties_keep_their_order():
    view = ClusterView((Member("core-1", PRIMARY, ("a", "b", "c")), Member("core-2", PRIMARY, ("d",)),
                        Member("core-3", PRIMARY, ("e",)), Member("core-4", PRIMARY, ("f", "g"))), "SHOW DATABASES")
    assert [s.server for s in order(view, ["core-3", "core-1", "core-4", "core-2"])] == \
        ["core-3", "core-2", "core-4", "core-1"]
    assert [s.server for s in order(view, ["core-2", "core-3", "core-1", "core-4"])] == \
        ["core-2", "core-3", "core-4", "core-1"]


def test_a_bad_transfer_timeout_is_refused_in_one_line(capsys, ca):
    cluster = RestartingCluster("cluster-5.26-healthy.json", TlsOptions(str(ca)))
    code, out, err = run_5(capsys, ca, FakeStack({}), cluster, "--transfer-timeout", "soon")
    assert code == 2
    assert "--transfer-timeout 'soon': not a duration; use e.g. 60s, 2m or seconds" in err
