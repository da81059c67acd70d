"""gather (scripts/neo4j_ops/facts.py) asks who a server is (dbms.components, then its line's cluster view) and what
it hosts (SHOW DATABASES) at the same time, not one after the other (issue 24, the rollout's speed: a freshly
restarted server answers each only after its default database is up, and the after-gate waited for their sum);
the facts it returns are those the sequential questions gave, errors included. Against the recorded Enterprise 5.26
cluster (tests/fixtures/enterprise/cluster-5.26-healthy.json), with a stand-in client in front of it."""
from __future__ import annotations

import threading

from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import AUTH, QUERY, TIMEOUT, BoltError, TlsOptions
from scripts.neo4j_ops.facts import gather
from scripts.neo4j_ops.recorded import RecordedTransport
from tests.conftest import ENTERPRISE
from tests.support.recorded_cluster import target

WAIT = 10.0  # how long the stand-in's components answer waits for SHOW DATABASES to be asked


class _Client:
    def __init__(self, owner: StandIn, inner) -> None:
        self.owner, self.inner, self.uri = owner, inner, inner.uri

    def verify(self) -> None:
        self.owner.logins += 1
        self.owner.refuse_login()
        self.inner.verify()

    def run(self, name, cypher, params=None, **kwargs):
        self.owner.logins += 1  # a session on a new connection logs in (the stand-in counts every one)
        self.owner.refuse_login()
        self.owner.asked.append(name)
        if name == q.SHOW_DATABASES.name:
            self.owner.databases_asked.set()
            if self.owner.databases_error:
                raise self.owner.databases_error
        if name == q.COMPONENTS.name:
            if self.owner.components_waits and not self.owner.databases_asked.wait(WAIT):
                raise BoltError(TIMEOUT, "stand-in: SHOW DATABASES was not asked while components was unanswered")
            if self.owner.components_error:
                raise self.owner.components_error
        return self.inner.run(name, cypher, params, **kwargs)


class StandIn:
    """A stand-in transport: the recorded cluster, whose components answer can wait until SHOW DATABASES has been
    asked (as a restarted server holds both until its databases are up), and either question can fail."""

    def __init__(self, *, components_waits: bool = False, components_error: BoltError | None = None,
                 databases_error: BoltError | None = None, wrong_password: bool = False) -> None:
        self.recorded = RecordedTransport(ENTERPRISE / "cluster-5.26-healthy.json", tls=TlsOptions("recorded-ca.crt"))
        self.components_waits = components_waits
        self.components_error, self.databases_error = components_error, databases_error
        self.databases_asked = threading.Event()
        self.asked: list[str] = []
        self.wrong_password, self.logins = wrong_password, 0

    def refuse_login(self) -> None:
        if self.wrong_password:
            raise BoltError(AUTH, "authentication failed for user neo4j on core-1: The client is unauthorized due to "
                                  "authentication failure.", "Neo.ClientError.Security.Unauthorized")

    def client(self, uri, auth, *, tls=None):
        return _Client(self, self.recorded.client(uri, auth, tls=tls))

    def close(self):
        pass


def gather_core_1(monkeypatch, transport):
    t = target(monkeypatch)
    return gather(t.servers[0], transport, t.auth, 5.0)


def test_stand_in_show_databases_is_asked_while_components_is_still_unanswered(monkeypatch):
    transport = StandIn(components_waits=True)
    facts = gather_core_1(monkeypatch, transport)
    assert facts.reachable, facts.error
    assert facts.version and facts.version.startswith("5.26") and facts.enterprise
    assert facts.databases and facts.servers  # SHOW DATABASES and SHOW SERVERS rows, as recorded
    assert sorted(transport.asked) == sorted([q.COMPONENTS.name, q.SHOW_DATABASES.name, q.SHOW_SERVERS.name])


def test_stand_in_a_components_error_is_the_one_reported_even_when_show_databases_fails_too(monkeypatch):
    refused = BoltError(AUTH, "authentication failed for user neo4j on core-1", "Neo.ClientError.Security.Unauthorized")
    transport = StandIn(components_error=refused, databases_error=BoltError(QUERY, "stand-in: not this one"))
    facts = gather_core_1(monkeypatch, transport)
    assert facts.error is refused
    assert facts.version is None and facts.databases == [] and facts.servers is None


def test_stand_in_a_show_databases_error_leaves_who_it_is_but_no_cluster_view(monkeypatch):
    failed = BoltError(QUERY, "stand-in: SHOW DATABASES failed")
    facts = gather_core_1(monkeypatch, StandIn(databases_error=failed))
    assert facts.error is failed and not facts.reachable
    assert facts.version and facts.version.startswith("5.26")  # components answered, as the sequential gather kept
    assert facts.databases == [] and facts.servers is None and facts.cluster_view_error is None


def test_stand_in_a_wrong_password_costs_one_login_attempt_not_one_per_question(monkeypatch):
    # Neo4j 5.26 (dbms.security.auth_max_failed_attempts, settings reference): "The maximum number of unsuccessful
    # authentication attempts before imposing a user lock for the configured amount of time, as defined by
    # `dbms.security.auth_lock_time`. The locked out user will not be able to log in until the lock period expires,
    # even if correct credentials are provided." Two logins at once per gather locked the user out of the next check.
    transport = StandIn(wrong_password=True)
    facts = gather_core_1(monkeypatch, transport)
    assert facts.error is not None and facts.error.kind == AUTH
    assert transport.logins == 1 and transport.asked == []
