"""Recorded responses never contradict a real server (issue 20, item 6): every statement a recorded Enterprise
scenario (tests/fixtures/enterprise/, cluster-restore/, scaling/) answers with a success is run against the real
Community server of the scenario's line (4.4.46, 5.26.30, 2025.10.1: the session's `line_server`), reads as they
are, writes in a transaction rolled back (after what puts the server in the recording's state: no user before
CREATE USER, one before ALTER USER). A refusal saying Community lacks the feature leaves the recording
standing for Enterprise; any other refusal fails, naming the scenarios, the statement and the server's message
(tests/support/recorded_replay.py: which statements, and the rule)."""
from __future__ import annotations

from neo4j.exceptions import Neo4jError

from tests.support.recorded_replay import (
    CONSISTENT,
    CONTRADICTION,
    code_path_successes,
    distinct,
    preparation,
    recorded_successes,
    verdict,
)


def answer(local, statement) -> tuple[str | None, str]:
    """(code, message) of the real server's refusal; (None, "") when it answered. Nothing it does stays."""
    with local.server.driver() as driver, driver.session(database=statement.database) as session:
        transaction = session.begin_transaction()
        try:
            for step in preparation(statement.cypher):
                transaction.run(step).consume()
            transaction.run(statement.cypher, statement.params).consume()
            return None, ""
        except Neo4jError as error:
            return error.code, (error.message or str(error)).strip()
        finally:
            if transaction.closed() is False:
                transaction.rollback()


def test_no_recorded_success_is_refused_by_the_real_community_server_of_its_line(line_server):
    statements = distinct(recorded_successes(line_server.line) + code_path_successes(line_server.line))
    assert statements, f"no recorded scenario of line {line_server.line}"
    seen: dict[str, int] = {}
    contradictions = []
    for group in statements.values():
        code, message = answer(line_server, group[0])
        judged = verdict(code, message)
        seen[judged] = seen.get(judged, 0) + 1
        if judged == CONTRADICTION:
            scenarios = ", ".join(sorted({s.scenario for s in group}))
            contradictions.append(f"{scenarios}: {group[0].cypher!r} on {group[0].database or 'the home database'} "
                                  f"is recorded as a success, but Neo4j {line_server.version} says {code}: {message}")
    assert not contradictions, "\n".join(contradictions)
    assert seen.get(CONSISTENT), seen  # the replay reached the server: some statements run on Community too
