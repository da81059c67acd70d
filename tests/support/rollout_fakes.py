"""Stand-ins for a rollout's two boundaries, shared by the rollout tests (tests/unit/test_rollout_*.py,
test_upgrade.py, tests/engine/test_engine_rollout_scale.py): `RestartingCluster`, a recorded Neo4j Enterprise cluster
(tests/fixtures/enterprise/) whose servers go away while their step runs; `FakeStack`, a stand-in for the Pulumi stack
(the RolloutStack Protocol); and `run_5` / `run_44`, the rollout command run against them. The `rollout_env` fixture
(tests/unit/conftest.py) sets the admin password and short gate pauses they need."""
from __future__ import annotations

import copy
import dataclasses

from scripts.neo4j_ops.bolt import UNREACHABLE, BoltError, TlsOptions, address_of
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.rollout import main
from tests.conftest import ENTERPRISE, SERVERS_44

ADMIN = "admin-secret-not-real"


class _Client:
    def __init__(self, owner: RestartingCluster, address: str, inner):
        self.owner, self.address, self.inner, self.uri = owner, address, inner, inner.uri

    def verify(self):
        self.inner.verify()

    def run(self, name, cypher, params=None, **kwargs):
        if self.owner.down.get(self.address, 0) > 0:
            if name == "components":  # one gather round of this server
                self.owner.down[self.address] -= 1
            raise BoltError(UNREACHABLE, f"cannot reach {self.address}: connection refused")
        reply = self.owner.recorded.client(self.inner.uri, None).run(name, cypher, params, **kwargs)
        if name == "set_config_value":  # a dynamic setting: held until the server restarts
            self.owner.values[self.address] = {params["setting"]: params["value"]}
            if self.owner.moves:
                self.owner.read_only(self.address, [d for d in str(params["value"]).split(",") if d])
        if name == "read_only_setting" and self.address in self.owner.values:
            reply = dataclasses.replace(reply, records=[{"name": key, "value": value}
                                                        for key, value in self.owner.values[self.address].items()])
        return reply


class RecordedCluster:
    """What a stand-in cluster passes straight to its recorded transport (`self.recorded`): HTTP, peer
    certificates, and a close with nothing to close."""

    recorded: RecordedTransport

    def http_get(self, url, timeout):
        return self.recorded.http_get(url, timeout)

    def peer_certificate(self, uri, tls=None):
        return self.recorded.peer_certificate(uri, tls)

    def close(self):
        pass


class RestartingCluster(RecordedCluster):
    """A recorded cluster whose servers go away while their step runs: after `restart(server, rounds)`, the
    server refuses Bolt for that many gather rounds, then answers from the recording again. `swap` replaces
    the recording (what the cluster says from then on)."""

    def __init__(self, scenario: str | dict, tls: TlsOptions):
        self.tls = tls
        self.recorded = RecordedTransport(scenario if isinstance(scenario, dict) else ENTERPRISE / scenario, tls=tls)
        self.down: dict[str, int] = {}
        self.moves = True  # whether the cluster moves leaderships away from read-only databases (the manual's word)
        self.values: dict[str, dict[str, str]] = {}  # address → what dbms.setConfigValue set there, until a restart
        self.set_read_only: list[tuple[str, list[str]]] = []  # every dbms.setConfigValue: (server address, list)

    def read_only(self, address: str, databases: list[str]) -> None:
        self.set_read_only.append((address, databases))
        # the same transport: its calls so far stay countable
        self.recorded.scenario = moved_away(self.recorded.scenario, address, databases)

    def client(self, uri, auth, *, tls=None):
        return _Client(self, address_of(uri), self.recorded.client(uri, auth, tls=tls))

    def restart(self, server: str, rounds: int) -> None:
        self.down[f"{server}.prod.neo4j.internal:7687"] = rounds
        self.values.pop(f"{server}.prod.neo4j.internal:7687", None)  # "lost if the server is restarted"

    def swap(self, scenario: dict) -> None:
        self.recorded = RecordedTransport(scenario, tls=self.tls)



def moved_away(scenario: dict, address: str, databases: list[str]) -> dict:
    """What the cluster does when `databases` turn read-only on the server at `address` ("Neo4j automatically
    transfers database leaderships away from instances where those databases are configured to be read-only"): the
    first other primary by name leads each of them from then on, in every view (5.x's writer column; 4.4's role in
    SHOW DATABASES and dbms.cluster.overview())."""
    scenario = copy.deepcopy(scenario)
    for database in databases:
        hosts = sorted({row["address"] for endpoint in scenario["endpoints"].values()
                        for row in (endpoint.get("responses", {}).get("show_databases") or {}).get("records", [])
                        if row["name"] == database and row.get("role") in ("primary", "leader", "follower")})
        new = next(a for a in hosts if a != address)
        for endpoint in scenario["endpoints"].values():
            responses = endpoint.get("responses", {})
            for row in (responses.get("show_databases") or {}).get("records", []):
                if row["name"] == database and "writer" in row:
                    row["writer"] = row["address"] == new
                elif row["name"] == database and row.get("role") in ("leader", "follower"):
                    row["role"] = "leader" if row["address"] == new else "follower"
            for row in (responses.get("cluster_overview") or {}).get("records", []):
                if database in row["databases"] and row["databases"][database] in ("LEADER", "FOLLOWER"):
                    row["databases"][database] = "LEADER" if f"bolt://{new}" in row["addresses"] else "FOLLOWER"
    return scenario


class FakeStack:
    """The RolloutStack Protocol at the Pulumi boundary: what is pending, and each step's `up`, recorded.
    `on_apply(server)` is what the step does to the cluster (a restart, a failure)."""

    def __init__(self, pending: dict[str, list[str]], on_apply=None, name: str = "prod"):
        self.name = name
        self._pending = pending
        self.on_apply = on_apply or (lambda server: None)
        self.applied: list[str] = []
        self.asked: list[list[str]] = []

    def pending(self, servers):
        self.asked.append(list(servers))
        return {s: list(self._pending.get(s, [])) for s in servers}

    def apply(self, server, log):
        self.applied.append(server)
        log(f"{server}: pulumi: ~ aws:ec2/instance:Instance cluster-{server} replace")
        self.on_apply(server)
        self._pending.pop(server, None)  # applied: nothing pending any more


EVERYTHING = {s: ["replace (userDataBase64, ami)"] for s in ("core-1", "core-2", "core-3", "replica-1")}


def run_5(capsys, ca, stack: FakeStack, cluster: RestartingCluster, *args: str):
    argv = ["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert", str(ca),
            "--timeout", "60s", *args]
    code = main(argv, transport=cluster, stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_44(capsys, stack: FakeStack, cluster: RestartingCluster, *args: str):
    argv = ["--servers", SERVERS_44, "--uri", "neo4j://core-1.prod.neo4j.internal:7687", "--timeout", "60s", *args]
    code = main(argv, transport=cluster, stack=stack)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
