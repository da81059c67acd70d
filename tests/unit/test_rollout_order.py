"""The rollout's order (scripts/neo4j_ops/rollout/order.py): secondaries, then primaries leading nothing, the
leader(s) last; roles read from recorded Neo4j Enterprise responses (tests/fixtures/enterprise/: 5.26's SHOW
DATABASES, 4.4's dbms.cluster.overview()) through the same facts check gathers."""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.facts import ServerFacts
from scripts.neo4j_ops.recorded import load_scenario
from scripts.neo4j_ops.rollout.order import (
    FOLLOWERS,
    LEADERS,
    PRIMARY,
    SECONDARIES,
    STANDALONE,
    ClusterView,
    Member,
    order,
    view_from_facts,
)
from tests.conftest import ENTERPRISE
from tests.support.recorded_cluster import facts_of, target

ALL = ["core-1", "core-2", "core-3", "replica-1"]


def test_secondaries_then_followers_then_leaders_from_recorded_enterprise_responses(monkeypatch):
    t = target(monkeypatch)
    view = view_from_facts(t, facts_of("cluster-5.26-healthy.json", t))
    assert view.source == "SHOW DATABASES"
    # core-1 writes neo4j, core-2 writes system (the fixture's writers); core-3 leads nothing.
    assert view.member("core-1").leads == ("neo4j",) and view.member("core-2").leads == ("system",)
    assert view.member("replica-1").role == "secondary" and view.member("core-3").leads == ()
    steps = order(view, ALL)
    assert [s.server for s in steps] == ["replica-1", "core-3", "core-1", "core-2"]
    assert [s.rank for s in steps] == [SECONDARIES, FOLLOWERS, LEADERS, LEADERS]
    assert "secondary" in steps[0].reason
    assert "leading nothing" in steps[1].reason
    assert "leader of neo4j" in steps[2].reason and "leader of system" in steps[3].reason


def test_the_44_order_comes_from_the_cluster_overview_from_recorded_enterprise_4_4(monkeypatch):
    t = target(monkeypatch)
    facts = facts_of("cluster-4.4-healthy.json", t)
    view = view_from_facts(t, facts)
    assert view.source == "dbms.cluster.overview()"
    # core-1 is LEADER of neo4j and system in the overview; replica-1 READ_REPLICA.
    assert view.member("core-1").leads == ("neo4j", "system")
    assert [s.server for s in order(view, ALL)] == ["replica-1", "core-2", "core-3", "core-1"]


def test_the_44_view_reads_the_overview_not_show_databases_from_recorded_enterprise_4_4(monkeypatch):
    # Who leads is the overview's word on 4.4: move neo4j's leadership to core-3 there only.
    t = target(monkeypatch)
    scenario = load_scenario(ENTERPRISE / "cluster-4.4-healthy.json")
    for endpoint in scenario["endpoints"].values():
        overview = endpoint["responses"].get("cluster_overview")
        for row in (overview or {}).get("records", []):
            if "bolt://core-1.prod.neo4j.internal:7687" in row["addresses"]:
                row["databases"]["neo4j"] = "FOLLOWER"
            if "bolt://core-3.prod.neo4j.internal:7687" in row["addresses"]:
                row["databases"]["neo4j"] = "LEADER"
    view = view_from_facts(t, facts_of(scenario, t))
    assert view.member("core-3").leads == ("neo4j",) and view.member("core-1").leads == ("system",)
    # Each leads one database: by name.
    assert [s.server for s in order(view, ALL)] == ["replica-1", "core-2", "core-1", "core-3"]


def test_only_pending_servers_get_steps_from_recorded_enterprise_responses(monkeypatch):
    t = target(monkeypatch)
    view = view_from_facts(t, facts_of("cluster-5.26-healthy.json", t))
    assert [s.server for s in order(view, ["core-2", "replica-1"])] == ["replica-1", "core-2"]
    assert order(view, []) == []


def test_a_leader_of_more_databases_goes_after_one_of_fewer():
    view = ClusterView((Member("a", PRIMARY, ("neo4j", "system")), Member("b", PRIMARY, ("neo4j",)),
                        Member("c", PRIMARY), Member("d", "secondary")), "SHOW DATABASES")
    assert [s.server for s in order(view, ["a", "b", "c", "d"])] == ["d", "c", "b", "a"]


def test_the_role_is_read_from_the_rows_not_the_configured_role_from_recorded_enterprise_responses(monkeypatch):
    # cluster-5.26-wrong-role: replica-1 hosts its databases as a primary; the order follows what it is.
    t = target(monkeypatch)
    view = view_from_facts(t, facts_of("cluster-5.26-wrong-role.json", t))
    assert view.member("replica-1").role == PRIMARY
    steps = order(view, ALL)
    assert steps[0].server in ("core-3", "replica-1") and steps[0].rank == FOLLOWERS


def test_a_server_missing_from_the_view_says_so_from_recorded_enterprise_responses(monkeypatch):
    t = target(monkeypatch)
    view = view_from_facts(t, facts_of("cluster-5.26-healthy.json", t))
    (step,) = order(view, ["core-9"])
    assert step.rank == FOLLOWERS and "not in the cluster view" in step.reason


def test_community_servers_are_standalone_and_go_by_their_configured_role(monkeypatch):
    t = target(monkeypatch)
    facts = [ServerFacts(s, version="5.26.30", edition="community",
                         databases=[{"name": "neo4j", "address": s.address, "role": "primary", "writer": True}])
             for s in t.servers]
    view = view_from_facts(t, facts)
    assert view.source == STANDALONE
    assert {m.role for m in view.members} == {STANDALONE}
    steps = order(view, ALL)
    assert [s.server for s in steps] == ["replica-1", "core-1", "core-2", "core-3"]
    assert all("standalone" in s.reason for s in steps)


@pytest.mark.parametrize("scenario", ["cluster-5.26-healthy.json", "cluster-4.4-healthy.json"])
def test_every_step_has_a_reason_in_json_from_recorded_enterprise_responses(monkeypatch, scenario):
    t = target(monkeypatch)
    steps = order(view_from_facts(t, facts_of(scenario, t)), ALL)
    document = json.loads(json.dumps([s.to_json() for s in steps]))
    assert [d["server"] for d in document][0] == "replica-1"
    assert all(d["reason"] for d in document)
