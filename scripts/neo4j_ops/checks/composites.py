"""The composites check (issue 21): for each composite database of neo4j:composites, whether it answers and whether
each alias's target does, by a read through the routing URI to the composite (`USE composite.alias RETURN 1`,
queries.alias_probe). PASS names the aliases that answered; FAIL names the composite missing (`make databases`
creates it) or each alias that did not answer with the server's words (a remote DBMS unreachable, its user refused,
a local target offline)."""
from __future__ import annotations

from .. import queries as q
from ..bolt import BoltError, Transport
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult


def composite_results(target: Target, transport: Transport, timeout: float) -> list[CheckResult]:
    results = []
    for composite in target.composites:
        name = f"composite:{composite.name}"
        if not target.routing_uri:
            results.append(CheckResult(name, SKIP, "no routing URI to reach the composite through"))
            continue
        if not composite.aliases:
            results.append(CheckResult(name, SKIP, f"{composite.name} has no alias in neo4j:composites"))
            continue
        client = transport.client(target.routing_uri, target.auth)
        answered, problems = [], []
        for alias in composite.aliases:
            probe = q.alias_probe(composite.name, alias.name)
            label = f"{composite.name}.{alias.name}"
            try:
                client.run(probe.name, probe.cypher, database=probe.database, timeout=timeout)
                answered.append(label + (f" ({alias.uri})" if alias.remote else ""))
            except BoltError as error:
                problems.append(f"{label} -> {alias.database}{' at ' + alias.uri if alias.remote else ''}: "
                                f"{error.message}")
        if problems:
            results.append(CheckResult(name, FAIL, "; ".join(problems) + (f" (answered: {', '.join(answered)})"
                                                                         if answered else "")
                                       + "; `make databases` creates what the stack lists"))
        else:
            results.append(CheckResult(name, PASS, f"every alias answers: {', '.join(answered)}"))
    return results
