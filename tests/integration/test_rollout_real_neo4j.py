"""scripts/rollout.py end to end against three real Neo4j Community 5.26 servers on loopback.

Only the Pulumi boundary is faked: a step's "replace" stops the real server and starts it again (as a
replaced EC2 instance boots with its data volume), and returns at once, as `pulumi up` returns when the
instance runs; the after-gate then waits for the server over Bolt with the real driver. Community servers
are standalone (no SHOW SERVERS, no leader), so the order is by configured role, and the gates take the
Community path of the same checks (checks/membership.py's standalone writers; topology skipped)."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.errors import OperationError
from scripts.neo4j_ops.rollout import main
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.integration

NAMES = ("core-1", "core-2", "replica-1")


@pytest.fixture(scope="module")
def servers(neo4j_factory):
    return dict(zip(NAMES, neo4j_factory(count=3), strict=True))


def servers_flag(servers) -> str:
    roles = {"core-1": "primary", "core-2": "primary", "replica-1": "secondary"}
    return ",".join(f"{name}:{roles[name]}={local.uri}" for name, local in servers.items())


class RestartingStack:
    """The Pulumi boundary: pending = the servers given; apply = stop the real server, start it again."""
    name = "loopback"

    def __init__(self, servers, pending, fail_to_start=()):
        self.servers = servers
        self._pending = {name: ["replace (userDataBase64)"] for name in pending}
        self.fail_to_start = set(fail_to_start)
        self.applied: list[str] = []

    def pending(self, names):
        return {name: list(self._pending.get(name, [])) for name in names}

    def apply(self, server, log):
        self.applied.append(server)
        local = self.servers[server]
        local.stop()
        if server in self.fail_to_start:
            return  # the new instance never brings Neo4j up
        local.server.start()  # not waited for: the gate waits over Bolt
        self._pending.pop(server, None)


def pids(servers) -> dict[str, int]:
    return {name: local.server.process.pid for name, local in servers.items()}


def run(servers, stack, capsys, monkeypatch, *args):
    monkeypatch.setenv("NEO4J_PASSWORD", PASSWORD)
    # Generous per-query time: a JVM that has just started answers its first queries slowly.
    code = main(["--servers", servers_flag(servers), "--timeout", "120s", "--query-timeout", "30", *args], stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_server_is_restarted_in_order_and_waited_for_over_bolt(servers, capsys, monkeypatch):
    before = pids(servers)
    stack = RestartingStack(servers, NAMES)
    code, out, err = run(servers, stack, capsys, monkeypatch)
    assert code == 0, out + err
    assert stack.applied == ["replica-1", "core-1", "core-2"]  # secondary first, then by name
    after = pids(servers)
    assert all(after[name] != before[name] for name in NAMES)  # every one is a new JVM
    for name in NAMES:
        # The real server refused Bolt while it started, and the gate said so, then that it is back.
        assert f"{name}: not answering" in err or f"{name}: not ready" in err, err
        assert (f"{name}: back: answers, standalone (Community: no cluster membership), hosting neo4j, system, "
                "caught up") in err
    assert out.count(" done ") == 3
    assert all(local.is_running() for local in servers.values())


def test_a_server_that_does_not_come_back_stops_the_rollout_and_leaves_the_rest(servers, capsys, monkeypatch):
    before = pids(servers)
    stack = RestartingStack(servers, ("core-1", "core-2"), fail_to_start={"core-1"})
    try:
        code, out, err = run(servers, stack, capsys, monkeypatch, "--timeout", "4s")
        assert code == 1, out + err
        assert stack.applied == ["core-1"]
        assert pids(servers)["core-2"] == before["core-2"] and servers["core-2"].is_running()  # untouched
        assert "applied, but not back within 4 s: not answering" in out
        assert "resume with: make rollout STACK=loopback FROM=core-1" in out
        # Resuming while core-1 is still down: the before-gate refuses to touch core-2.
        code, out, err = run(servers, stack, capsys, monkeypatch, "--from", "core-1")
        assert code == 1 and "not started: the cluster is not healthy" in out and "core-1" in out
        assert stack.applied == ["core-1"]
    finally:
        if not servers["core-1"].is_running():
            servers["core-1"].start()  # the operator brings it up (its changes were applied)
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
