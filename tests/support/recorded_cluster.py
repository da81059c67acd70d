"""The recorded prod cluster (tests/fixtures/enterprise/: core-1..3 and replica-1) as the operations tools see it,
shared by the rollout and facts tests: `target` builds the Target of its four servers (--servers), and `facts_of`
gathers each server's facts from a recorded scenario (a stand-in transport replaying Neo4j Enterprise responses)
through the same gather check uses."""
from __future__ import annotations

import argparse

from scripts.neo4j_ops.bolt import TlsOptions
from scripts.neo4j_ops.facts import ServerFacts, gather
from scripts.neo4j_ops.recorded import RecordedTransport
from scripts.neo4j_ops.target import Target, build_target
from tests.conftest import ENTERPRISE

SERVERS = ("core-1:primary=core-1.prod.neo4j.internal:7687,core-2:primary=core-2.prod.neo4j.internal:7687,"
           "core-3:primary=core-3.prod.neo4j.internal:7687,replica-1:secondary=replica-1.prod.neo4j.internal:7687")


def target(monkeypatch) -> Target:
    monkeypatch.setenv("NEO4J_PASSWORD", "admin-secret-not-real")
    return build_target(argparse.Namespace(stack=None, uri=None, servers=SERVERS, outputs_file=None,
                                           password_env="NEO4J_PASSWORD"))


def facts_of(scenario: str | dict, t: Target) -> list[ServerFacts]:
    # The 5.26 recordings require TLS (their plain Bolt is refused); nothing opens the CA file.
    transport = RecordedTransport(scenario if isinstance(scenario, dict) else ENTERPRISE / scenario,
                                  tls=TlsOptions("recorded-ca.crt"))
    return [gather(s, transport, t.auth, 5.0) for s in t.servers]
