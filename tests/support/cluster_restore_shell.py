"""A stand-in for the remote shell of the offline cluster restores (restore.py --cluster on 4.4, and of the `system`
database), shared by tests/unit/test_cluster_restore_44_orchestrated.py and test_cluster_restore_system.py: it runs
nothing, records each per-server command with the plan's stage it belongs to, and can fail one."""
from __future__ import annotations

from scripts.neo4j_ops.backup.remote import stage


class FakeShell:
    """A stand-in for the RemoteShell (SSM on AWS) the offline procedures run their per-server steps through: records
    (server, stage, command); fails the first command matching `fail` = (server, stage)."""

    def __init__(self, the_plan, fail: tuple[str, str] | None = None):
        self.calls: list[tuple[str, str]] = []
        self.fail = fail
        self.stage_of = {s.command: stage(s) for s in the_plan.steps if s.kind == "admin"}
        self.running = 0

    def run(self, server, commands, timeout):
        assert self.running == 0, "two remote commands at once"
        assert len(commands) == 1 and timeout > 0
        self.running += 1
        try:
            kind = self.stage_of.get(commands[0], "safety" if "dump --database" in commands[0] else "?")
            self.calls.append((server, kind, commands[0]))
            if self.fail == (server, kind):
                self.fail = None
                return 1, "", "something broke\nERROR: the reason"
            return 0, "ok", ""
        finally:
            self.running -= 1


def sequence(shell):
    """The commands `shell` ran, as "server:stage"."""
    return [f"{s}:{k}" for s, k, _ in shell.calls]
