"""How the rollout's after-gate waits for a restarted server (scripts/neo4j_ops/rollout/gates.py wait_for_server,
issue 24's speed item): while the server does not answer, it waits on that condition (a connection attempt every
PROBE_PAUSE), not a pause that grows to seconds, and it does not gather every server's facts meanwhile. On a fake
clock (what the gate sleeps, not how long a test takes), against the recorded Enterprise 5.26 cluster
(tests/fixtures/enterprise/cluster-5.26-healthy.json), with core-3 refusing Bolt until the clock reaches UP_AT; and,
once it answers, rounds at most ANSWERING_MAX_PAUSE apart while its neo4j is still starting (until READY_AT)."""
from __future__ import annotations

from scripts.neo4j_ops.bolt import UNREACHABLE, BoltError, TlsOptions
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.rollout import gates
from scripts.neo4j_ops.rollout.gates import wait_for_server
from tests.conftest import ENTERPRISE
from tests.support.recorded_cluster import target

UP_AT = 9.3  # seconds on the fake clock after which core-3 answers again
DOWN = "core-3.prod.neo4j.internal:7687"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


class _Client:
    def __init__(self, owner: DownUntil, inner) -> None:
        self.owner, self.inner, self.uri = owner, inner, inner.uri

    def _refuse(self) -> None:
        if DOWN in self.uri and self.owner.clock.now < UP_AT:
            raise BoltError(UNREACHABLE, f"cannot reach {DOWN}: connection refused")

    def verify(self) -> None:
        self.owner.attempts += 1
        self._refuse()
        self.inner.verify()

    def run(self, name, cypher, params=None, **kwargs):
        self._refuse()
        return self.inner.run(name, cypher, params, **kwargs)


class DownUntil:
    """The recorded cluster, with core-3 refusing every connection until the fake clock reaches UP_AT."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.recorded = RecordedTransport(ENTERPRISE / "cluster-5.26-healthy.json", tls=TlsOptions("recorded-ca.crt"))
        self.attempts = 0

    def client(self, uri, auth, *, tls=None):
        return _Client(self, self.recorded.client(uri, auth, tls=tls))

    def http_get(self, url, timeout):
        return self.recorded.http_get(url, timeout)

    def close(self):
        pass


def run_gate(monkeypatch):
    clock = FakeClock()
    transport = DownUntil(clock)
    lines: list[str] = []
    outcome = wait_for_server(target(monkeypatch), transport, "core-3", {"neo4j", "system"}, within=60, timeout=5,
                              max_lag=10, log=lines.append, sleep=clock.sleep, clock=clock)
    return outcome, clock, transport, lines


def test_a_server_that_does_not_answer_is_awaited_by_connection_attempts_not_growing_pauses(monkeypatch):
    outcome, clock, transport, lines = run_gate(monkeypatch)
    assert outcome.ok, outcome.state
    # While core-3 was down every pause was one probe's; the gate saw it back at the first attempt after UP_AT.
    assert max(clock.sleeps) <= gates.PROBE_PAUSE
    assert UP_AT <= outcome.seconds <= UP_AT + gates.PROBE_PAUSE
    assert transport.attempts >= UP_AT / gates.PROBE_PAUSE
    assert lines[0].startswith("core-3: not answering: cannot reach core-3") and "back: answers" in lines[-1]


def test_while_it_does_not_answer_the_other_servers_are_asked_once_per_max_pause_not_per_probe(monkeypatch):
    _outcome, _clock, transport, _lines = run_gate(monkeypatch)
    # A full round (dbms.components of every server) at the start, once per MAX_PAUSE for the progress line,
    # and once when core-3 answers: not once per connection attempt.
    rounds = [c for c in transport.recorded.calls_named("components") if c.endpoint == "core-1"]
    assert rounds
    assert len(rounds) <= 2 + UP_AT / gates.MAX_PAUSE + 1


READY_AT = 7.3  # seconds on the fake clock after which core-3's neo4j is online (it answers Bolt all along)


class _StartingClient(_Client):
    def _refuse(self) -> None:
        pass

    def run(self, name, cypher, params=None, **kwargs):
        reply = self.inner.run(name, cypher, params, **kwargs)
        if name == "show_databases" and self.owner.clock.now < READY_AT:
            for row in reply.records:
                if row.get("address") == DOWN and row.get("name") == "neo4j":
                    row["currentStatus"] = "starting"
        return reply


class StartingUntil(DownUntil):
    """The recorded cluster, with core-3 answering but its neo4j `starting` until the fake clock reaches READY_AT
    (a restarted server answers Bolt before its databases are online)."""

    def client(self, uri, auth, *, tls=None):
        return _StartingClient(self, self.recorded.client(uri, auth, tls=tls))


def test_a_server_that_answers_but_is_not_back_is_asked_again_at_most_half_a_second_apart(monkeypatch):
    clock = FakeClock()
    lines: list[str] = []
    outcome = wait_for_server(target(monkeypatch), StartingUntil(clock), "core-3", {"neo4j", "system"}, within=60,
                              timeout=5, max_lag=10, log=lines.append, sleep=clock.sleep, clock=clock)
    assert outcome.ok, outcome.state
    assert "neo4j" in outcome.history[0] and "back: answers" in lines[-1]
    # The rounds' pauses grow from FIRST_PAUSE to ANSWERING_MAX_PAUSE, no further: the gate sees neo4j online at
    # most that long after it is (the pauses that grew to MAX_PAUSE saw it up to 2 s late).
    assert max(clock.sleeps) <= gates.ANSWERING_MAX_PAUSE == 0.5
    assert READY_AT <= outcome.seconds <= READY_AT + gates.ANSWERING_MAX_PAUSE
