"""scripts/rollout.py end to end against three real Neo4j Community 5.26 servers on loopback.

Only the Pulumi boundary is faked: a step's "replace" stops the real server and starts it again (as a
replaced EC2 instance boots with its data volume), and returns at once, as `pulumi up` returns when the
instance runs; the after-gate then waits for the server over Bolt with the real driver. Community servers
are standalone (no SHOW SERVERS, no leader), so the order is by configured role, and the gates take the
Community path of the same checks (checks/membership.py's standalone writers; topology skipped).

Time (the suite's budget): every JVM boot here costs 10-30 s, so each test restarts only the servers its
claim needs (3 boots in all, after the module's own two), and core-2 is the session's shared 5.26 server
(`neo4j_server`), which no test here ever stops: it is the server left alone / left untouched. The module's
two servers boot while the shared one does (when this module is the first to want it). The gate polls every
0.25-0.5 s instead of growing to 5 s: it notices a server is back as soon as it is. And like every 5.26 test server,
the module's JVMs map the suite's class data sharing archive (tests/support/class_data_sharing.py)."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.rollout import main
from scripts.neo4j_ops.shared.errors import OperationError
from tests.integration.conftest import PASSWORD
from tests.support.neo4j_local import prepare

pytestmark = pytest.mark.integration

NAMES = ("core-1", "core-2", "replica-1")
SHARED = "core-2"  # the session's neo4j_server: read, never stopped


@pytest.fixture(scope="module")
def servers(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("rollout")
    own = {name: prepare(base / name, password=PASSWORD) for name in NAMES if name != SHARED}
    started = []
    try:
        for local in own.values():
            local.server.start()  # from this thread: the JVM dies with the test process
            started.append(local)
        shared = request.getfixturevalue("neo4j_server")  # boots meanwhile, or is already up
        for local in own.values():
            local.server.wait_for_bolt(240)
        yield {"core-1": own["core-1"], SHARED: shared, "replica-1": own["replica-1"]}
    finally:
        for local in started:
            local.stop()


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.FIRST_PAUSE", 0.25)
    monkeypatch.setattr("scripts.neo4j_ops.rollout.gates.MAX_PAUSE", 0.5)


def servers_flag(servers) -> str:
    roles = {"core-1": "primary", "core-2": "primary", "replica-1": "secondary"}
    return ",".join(f"{name}:{roles[name]}={local.uri}" for name, local in servers.items())


class RestartingStack:
    """The Pulumi boundary: pending = the servers given; apply = stop the real server, start it again."""
    name = "loopback"

    def __init__(self, servers, pending):
        self.servers = servers
        self._pending = {name: ["replace (userDataBase64)"] for name in pending}
        self.applied: list[str] = []

    def pending(self, names):
        return {name: list(self._pending.get(name, [])) for name in names}

    def apply(self, server, log):
        self.applied.append(server)
        if server == SHARED:  # a wrong order would get here; the shared server must stay up for the session
            raise OperationError(f"{server} is the session's shared server: this test must never restart it")
        local = self.servers[server]
        local.stop()
        local.server.start()  # not waited for: the gate waits over Bolt
        self._pending.pop(server, None)


class SlowStack(RestartingStack):
    """apply = stop the real server and start it again, but the pending entry stays: as a step whose new
    instance comes up later than the time limit (Pulumi reported success; the server is simply slow)."""

    def apply(self, server, log):
        super().apply(server, log)
        self._pending[server] = ["replace (userDataBase64)"]


def pids(servers) -> dict[str, int]:
    return {name: local.server.process.pid for name, local in servers.items()}


def run(servers, stack, capsys, monkeypatch, *args):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    # Generous per-query time: a JVM that has just started answers its first queries slowly.
    code = main(["--servers", servers_flag(servers), "--timeout", "120s", "--query-timeout", "30", *args], stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_pending_server_is_restarted_in_order_and_waited_for_over_bolt(servers, capsys, monkeypatch):
    before = pids(servers)
    # core-1 pending before replica-1 in the list: the order is the rollout's (secondary first), not the input's.
    stack = RestartingStack(servers, ("core-1", "replica-1"))
    code, out, err = run(servers, stack, capsys, monkeypatch)
    assert code == 0, out + err
    assert stack.applied == ["replica-1", "core-1"]  # the secondary first
    after = pids(servers)
    assert after["replica-1"] != before["replica-1"] and after["core-1"] != before["core-1"]  # new JVMs
    assert after[SHARED] == before[SHARED]  # nothing pending on it: left alone, and said so
    assert "nothing pending (left alone): core-2" in out
    for name in ("replica-1", "core-1"):
        # The real server refused Bolt while it started, and the gate said so, then that it is back.
        assert f"{name}: not answering" in err or f"{name}: not ready" in err, err
        assert (f"{name}: back: answers, standalone (Community: no cluster membership), hosting neo4j, system, "
                "caught up") in err
    assert out.count(" done ") == 2
    # Before replica-1's step core-1 was still on its old JVM; before core-1's, replica-1 was on its new one:
    # each before-gate saw the whole cluster answering (else the step would not have started).
    assert err.index("replica-1: back:") < err.index("core-1 [2/2]:")
    assert all(local.is_running() for local in servers.values())


def test_a_server_that_is_not_back_in_time_stops_the_rollout_and_leaves_the_rest(servers, capsys, monkeypatch):
    before = pids(servers)
    # core-1's new JVM starts at once but takes far longer than --timeout 2s to answer (a boot is 10-30 s
    # here): the gate gives up on it while it is still down, and the resume finds it still down too.
    stack = SlowStack(servers, ("core-1", "core-2"))
    try:
        code, out, err = run(servers, stack, capsys, monkeypatch, "--timeout", "2s")
        assert code == 1, out + err
        assert stack.applied == ["core-1"]
        assert pids(servers)["core-2"] == before["core-2"] and servers["core-2"].is_running()  # untouched
        assert "applied, but not back within 2 s: not answering" in out
        assert "resume with: make rollout STACK=loopback FROM=core-1" in out
        # Resuming while core-1 is still down: the before-gate refuses to touch core-2.
        code, out, err = run(servers, stack, capsys, monkeypatch, "--from", "core-1")
        assert code == 1 and "not started: the cluster is not healthy" in out and "core-1" in out
        assert stack.applied == ["core-1"]
    finally:
        servers["core-1"].server.wait_for_bolt(240)  # its boot goes on: the operator waits for it
    # Now the cluster is healthy again: the resumed run would do core-2 only (a dry run: the restart itself
    # is proven above, and a boot costs tens of seconds here).
    stack._pending.pop("core-1")
    code, out, err = run(servers, stack, capsys, monkeypatch, "--from", "core-1", "--dry-run")
    assert code == 0, out + err
    assert [line.split()[1] for line in out.splitlines() if line[:1].isdigit()] == ["core-2"]
    assert "NOT healthy" not in out and stack.applied == ["core-1"]


def test_a_failed_up_leaves_every_server_running(servers, capsys, monkeypatch):
    class FailingStack(RestartingStack):
        def apply(self, server, log):
            self.applied.append(server)
            raise OperationError("pulumi: up of replica-1 of stack loopback failed: error: quota")

    before = pids(servers)
    stack = FailingStack(servers, NAMES)
    code, out, err = run(servers, stack, capsys, monkeypatch)
    assert code == 1 and stack.applied == ["replica-1"]
    assert pids(servers) == before
    assert "pulumi up failed: pulumi: up of replica-1 of stack loopback failed: error: quota" in out
