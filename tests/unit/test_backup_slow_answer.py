"""A backup asks the running server for its version and databases over Bolt before anything else. In the boot
rehearsal the first such question of a new machine ran past the 10 s transaction timeout ("The transaction has
not completed within the timeout specified at its start by the client"), and the nightly backup failed, saying
Neo4j must be running. A server that answers slowly is asked again with a longer timeout; one that refuses the
login, or fails in another way, is not."""
from __future__ import annotations

import pytest

from scripts.neo4j_ops.backup import server as server_module
from scripts.neo4j_ops.backup.server import SLOW_ANSWER_FACTORS, LocalNeo4j
from scripts.neo4j_ops.bolt import AUTH, QUERY, TIMEOUT, Auth, BoltError
from scripts.neo4j_ops.facts import ServerFacts
from scripts.neo4j_ops.shared.errors import BackupError, UsageError

TIMED_OUT = BoltError(TIMEOUT, "localhost:7687 did not finish within 10 s: The transaction has been terminated.",
                      "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration")


def answering(monkeypatch, errors: list[BoltError | None]) -> list[float]:
    """gather() answers with each of `errors` in turn (None: the facts); returns the timeouts it was given."""
    timeouts: list[float] = []

    def gather(spec, transport, auth, timeout):
        timeouts.append(timeout)
        error = errors[len(timeouts) - 1]
        return ServerFacts(spec, error=error, version=None if error else "5.26.30",
                           edition=None if error else "community")

    monkeypatch.setattr(server_module, "gather", gather)
    return timeouts


def test_a_slow_first_answer_is_asked_again_with_a_longer_timeout(monkeypatch):
    timeouts = answering(monkeypatch, [TIMED_OUT, None])
    logged: list[str] = []
    facts = LocalNeo4j("bolt://localhost:7687", Auth("backup", "pw"), log=logged.append).facts(None)
    assert facts.version == "5.26.30"
    assert timeouts == [10.0, 30.0]
    assert logged == ["Neo4j at bolt://localhost:7687 did not answer within 10 s; asking again with 30 s"]


def test_a_server_slow_every_time_fails_after_the_longest_timeout_naming_what_was_asked(monkeypatch):
    timeouts = answering(monkeypatch, [TIMED_OUT] * len(SLOW_ANSWER_FACTORS))
    with pytest.raises(BackupError, match=r"^cannot ask Neo4j at bolt://localhost:7687 for its version and "
                                          r"databases: localhost:7687 did not finish within 10 s"):
        LocalNeo4j("bolt://localhost:7687", Auth("backup", "pw")).facts(None)
    assert timeouts == [10.0 * factor for factor in SLOW_ANSWER_FACTORS] == [10.0, 30.0, 90.0]


@pytest.mark.parametrize(("error", "raised"), [
    (BoltError(AUTH, "The client is unauthorized", "Neo.ClientError.Security.Unauthorized"), UsageError),
    (BoltError(QUERY, "Database does not exist", "Neo.ClientError.Database.DatabaseNotFound"), BackupError),
])
def test_a_refused_login_or_a_failed_query_is_not_asked_again(monkeypatch, error, raised):
    timeouts = answering(monkeypatch, [error, None])
    with pytest.raises(raised):
        LocalNeo4j("bolt://localhost:7687", Auth("backup", "pw")).facts("neo4j")
    assert timeouts == [10.0]
