"""The plugins check: each plugin's version function (`RETURN apoc.version()`, `RETURN gds.version()`; queries.py
PLUGIN_VERSIONS) on every server that should run it (neo4j:plugins where components/plugins.py places them, or
--expect-plugin), through a direct Bolt connection to that server. PASS names the version each answered; FAIL names
the servers where the function is missing (the plugin not installed, or outside dbms.security.procedures.allowlist)
or that did not answer. A plugin without a version function is a SKIP that says so."""
from __future__ import annotations

from .. import queries as q
from ..bolt import BoltError, Transport
from ..facts import ServerFacts
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult


def plugin_results(target: Target, facts: list[ServerFacts], transport: Transport,
                   timeout: float) -> list[CheckResult]:
    reachable = {f.spec.name for f in facts if f.reachable}
    results = []
    for key, servers in target.plugins.items():
        name = f"plugin:{key}"
        statement = q.PLUGIN_VERSIONS.get(key)
        if statement is None:
            results.append(CheckResult(name, SKIP, f"{key} has no version function to call"))
            continue
        if not servers:
            results.append(CheckResult(name, SKIP, f"no server runs {key}"))
            continue
        answered: dict[str, list[str]] = {}
        problems = []
        for server in servers:
            spec = target.server_named(server)
            if spec is None or server not in reachable:
                problems.append(f"{server}: not reachable")
                continue
            try:
                records = transport.client(spec.uri, target.auth).run(
                    statement.name, statement.cypher, database=statement.database, timeout=timeout).records
                answered.setdefault(str(records[0]["version"]) if records else "?", []).append(server)
            except BoltError as error:
                problems.append(f"{server}: {error.message}")
        if problems:
            results.append(CheckResult(name, FAIL, f"{statement.cypher} failed on " + "; ".join(problems)
                                       + " (is the plugin installed there and in dbms.security.procedures.allowlist?)"))
        else:
            results.append(CheckResult(name, PASS, "; ".join(f"{key} {version} on {', '.join(names)}"
                                                             for version, names in sorted(answered.items()))))
    return results
