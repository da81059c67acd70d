"""check.py --composites (issue 21): each composite database of the prod stack (neo4j:composites) probed through
every alias, over the recorded healthy 5.26 cluster (tests/fixtures/enterprise/cluster-5.26-healthy.json) with the
probes' answers added here: a local alias that answers, a remote one whose DBMS does not (the error text is a guess
at the remote driver's wording; what is tested is that the alias and the server's words are named). Without the flag
the check sends no probe (the rollout's gates and the plain check are unchanged)."""
from __future__ import annotations

import json

import pytest

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.checks import main
from scripts.neo4j_ops.recorded import RecordedTransport, load_scenario
from tests.conftest import ENTERPRISE

LOCAL = "USE `library`.`sales` RETURN 1 AS ok"
REMOTE = "USE `library`.`partner` RETURN 1 AS ok"
UNREACHABLE = "Unable to connect to graph.partner.example.com:7687"


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    monkeypatch.setenv("NEO4J_USER_PASSWORDS", json.dumps({"analyst": "analyst-secret-not-real",
                                                           "scientist": "scientist-secret-not-real"}))


def scenario(remote_answers: bool) -> dict:
    document = load_scenario(ENTERPRISE / "cluster-5.26-healthy.json")
    responses = document["endpoints"]["routing"]["responses"]
    responses[LOCAL] = {"records": [{"ok": 1}]}
    responses[REMOTE] = {"records": [{"ok": 1}]} if remote_answers else {
        "error": {"kind": "query", "message": UNREACHABLE, "code": "Neo.ClientError.Cluster.Routing"}}
    return document


def run(document: dict, ca, capsys, *extra: str) -> tuple[int, dict[str, str], RecordedTransport]:
    transport = RecordedTransport(document, tls=TlsOptions(str(ca)))
    code = main(["--stack", "prod", "--outputs-file", str(ENTERPRISE / "stack-outputs-prod.json"), "--ca-cert",
                 str(ca), *extra], transport=transport)
    lines = {p[1]: line for line, p in ((line, line.split()) for line in capsys.readouterr().out.splitlines())
             if len(p) >= 2 and p[0] in ("PASS", "FAIL", "SKIP")}
    return code, lines, transport


def test_every_alias_that_answers_passes_the_composite(ca, capsys):
    code, lines, transport = run(scenario(remote_answers=True), ca, capsys, "--composites")
    assert code == 0 and lines["composite:library"].startswith("PASS")
    assert "library.sales, library.partner (neo4j+s://graph.partner.example.com:7687)" in lines["composite:library"]
    probes = [c for c in transport.calls if c.cypher in (LOCAL, REMOTE)]
    assert [(c.endpoint, c.database, c.write) for c in probes] == [("routing", "library", False)] * 2


def test_an_alias_whose_target_does_not_answer_fails_naming_it_and_the_servers_words(ca, capsys):
    code, lines, _ = run(scenario(remote_answers=False), ca, capsys, "--composites")
    assert code == 1 and lines["composite:library"].startswith("FAIL")
    assert (f"library.partner -> neo4j at neo4j+s://graph.partner.example.com:7687: {UNREACHABLE}"
            in lines["composite:library"])
    assert "answered: library.sales" in lines["composite:library"]


def test_without_the_flag_no_composite_is_probed(ca, capsys):
    code, lines, transport = run(scenario(remote_answers=False), ca, capsys)
    assert code == 0 and "composite:library" not in lines
    assert not any(c.cypher in (LOCAL, REMOTE) for c in transport.calls)
