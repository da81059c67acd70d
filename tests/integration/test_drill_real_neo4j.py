"""The failover drill's write load and its "back and caught up" measure (scripts/neo4j_ops/drill/) against a real Neo4j
Community 5.26 server behind a real HAProxy running the rendered config (tests/integration/conftest.py
haproxy_in_front): the server is stopped and started by ProcessStopper, a STAND-IN for SSM's `systemctl stop|start
neo4j` and `docker stop|start` that sends SIGTERM to the server's JVM and starts it again on the same store.

What this can show here: the load's writes fail while the server is down and are retried until it is back (counted
as failed attempts and retried writes, none lost), every acknowledged write is in the store, and the server is back
(the rollout's after-gate) and holds every acknowledged write. What it cannot: a new leader elected while the old one
is down (Community has one server; the "new leader" here is the same server back, so the outage is its restart)."""
from __future__ import annotations

import time

import pytest

from scripts.neo4j_ops.bolt import Auth, NeoTransport, TlsOptions
from scripts.neo4j_ops.drill.load import WriteLoad, tally
from scripts.neo4j_ops.drill.plan import DrillPlan, Thresholds
from scripts.neo4j_ops.drill.run import drill, holds_every_write
from scripts.neo4j_ops.facts import ServerSpec
from scripts.neo4j_ops.queries import DRILL_LABEL
from scripts.neo4j_ops.target import Target
from tests.integration.conftest import PASSWORD, haproxy_in_front

pytestmark = pytest.mark.integration


class ProcessStopper:
    """STAND-IN for the SSM and docker stoppers: the local server's JVM is stopped (SIGTERM, as systemd and docker
    stop send) and started again on the same NEO4J_HOME; start() returns once the process runs, as `systemctl start`
    does, not once Bolt answers (the drill's after-gate waits for that)."""

    def __init__(self, local):
        self.local = local
        self.calls: list[tuple[str, str]] = []

    def describe(self, server: str) -> str:
        return f"the process stand-in (SIGTERM to {server}'s JVM, then a new JVM)"

    def stop(self, server: str) -> None:
        self.calls.append(("stop", server))
        self.local.stop()

    def start(self, server: str) -> None:
        self.calls.append(("start", server))
        self.local.server.start()


@pytest.fixture(scope="module")
def setup(neo4j_factory, tmp_path_factory):
    (local,) = neo4j_factory(count=1)
    with haproxy_in_front([local], tmp_path_factory.mktemp("drill-haproxy")) as proxy:
        transport = NeoTransport(TlsOptions(), timeout=3.0)
        target = Target(servers=[ServerSpec("core-1", local.uri, "primary")], servers_given=True, routing_uri=None,
                        auth=Auth("neo4j", PASSWORD), tls=TlsOptions(), haproxy_uri=proxy.write_uri, stack="it")
        try:
            yield local, proxy, transport, target
        finally:
            transport.close()


def stored(local, run_id: str) -> list[int]:
    with local.server.driver() as driver:
        records, _, _ = driver.execute_query(f"MATCH (w:{DRILL_LABEL} {{run: $run}}) RETURN w.seq AS seq",
                                             run=run_id, database_="neo4j")
    return sorted(r["seq"] for r in records)


def test_the_load_counts_failed_and_retried_writes_while_the_real_server_is_down_and_loses_none(setup):
    local, proxy, transport, target = setup
    load = WriteLoad(transport.client(proxy.write_uri, target.auth), "neo4j", "it-load", rate=5, retry_for=120,
                     timeout=3.0).start()
    try:
        deadline = time.monotonic() + 30
        while load.acknowledged() < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert load.acknowledged() >= 3, load.log()[-3:]
        local.stop()
        time.sleep(2)  # the load keeps trying the whole time
        local.start()  # waits for Bolt
        deadline = time.monotonic() + 60
        before = load.acknowledged()
        while load.acknowledged() < before + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        attempts = load.stop()
    counts = tally(attempts)
    assert counts.failed_attempts >= 1 and counts.retried_writes >= 1, attempts
    assert counts.lost_writes == 0
    acknowledged = sorted({a.seq for a in attempts if a.ok})
    assert len(acknowledged) == counts.acknowledged
    # Every acknowledged write is in the store (a write whose commit landed but whose answer was lost is there twice:
    # the retry wrote it again, as an application's retry would).
    assert set(acknowledged) <= set(stored(local, "it-load"))
    failed = [a for a in attempts if not a.ok]
    assert all(a.error for a in failed)
    with local.server.driver() as driver:
        driver.execute_query(f"MATCH (w:{DRILL_LABEL}) DELETE w", database_="neo4j")


def test_the_drill_on_a_real_server_measures_it_back_and_caught_up_and_starts_it_again(setup):
    local, proxy, transport, target = setup
    plan = DrillPlan("core-1", local.uri, ("system", "neo4j"), "neo4j", proxy.write_uri, 0, ("neo4j", "system"))
    stopper = ProcessStopper(local)
    # The drill waits outage limit + 5 s for a new leader (none comes: one server), then starts the server again; each
    # write is retried for 90 s, longer than the restart, so none is lost.
    thresholds = Thresholds(max_write_outage_seconds=5, max_lost_writes=0, max_recovery_seconds=180)
    lines: list[str] = []
    report = drill(target, transport, stopper, plan, thresholds, stack="it", rate=5, down=1.0, timeout=3.0,
                   log=lines.append, run_id="it-drill", retry_for=90)
    assert report.error == "", report.error
    assert stopper.calls == [("stop", "core-1"), ("start", "core-1")]
    f = report.figures
    assert f is not None, lines
    assert f.failed_attempts >= 1 and f.retried_writes >= 1 and f.lost_writes == 0, f
    assert f.acknowledged == f.writes > 3
    # No other server takes over: writes fail until this one is back, past the 5 s allowed; that, and only that, is
    # over the thresholds, and the report says so (exit 1 from the command).
    assert f.write_outage_seconds > 10 and f.new_leader_seconds is not None and f.new_leader_seconds > 10
    assert report.exceeded == [f"writes failed for {f.write_outage_seconds:.1f} s, over "
                               f"neo4j:drillMaxWriteOutageSeconds 5"] and report.failed
    assert f.recovery_seconds is not None and 0 < f.recovery_seconds < 180
    assert any("back: answers" in line for line in lines), lines
    assert any("back and caught up" in line for line in lines), lines
    assert local.is_running()
    # The run's nodes are gone afterwards (DRILL_CLEANUP through the entry point) ...
    assert stored(local, "it-drill") == []
    # ... and the caught-up measure is a real count on the server: one write more than it holds is not caught up.
    ok, said = holds_every_write(transport, target, plan, "it-drill", 1, 3.0)
    assert not ok and said == "holds 0 of the 1 acknowledged writes"
