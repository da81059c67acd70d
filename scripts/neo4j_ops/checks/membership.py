"""Who the servers are and how they see each other: reachable with the expected version and edition,
the topology against the expected servers, databases in their requested state, one writer each."""
from __future__ import annotations

from .. import cluster
from ..bolt import AUTH
from ..facts import ServerFacts
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult


def connect_result(target: Target, facts: ServerFacts) -> CheckResult:
    spec = facts.spec
    name = f"bolt:{spec.name}"
    if facts.error is not None:
        error = facts.error
        hint = ""
        if error.kind == AUTH:
            hint = f" — check the password of {target.auth.user} (the value of --password-env)"
        who = spec.name if spec.name == spec.address else f"{spec.name} ({spec.uri})"
        return CheckResult(name, FAIL, f"{who}: {error.message}{hint}", spec.name)
    problems = []
    if target.expect_version and not _version_matches(facts.version, target.expect_version):
        problems.append(f"runs Neo4j {facts.version}, expected {target.expect_version}")
    if target.expect_edition and (facts.edition or "").lower() != target.expect_edition.lower():
        problems.append(f"is {facts.edition} edition, expected {target.expect_edition}")
    if problems:
        return CheckResult(name, FAIL, f"{spec.name} ({spec.uri}) " + " and ".join(problems), spec.name)
    tls = " over TLS" if target.tls.encrypted else ""
    return CheckResult(name, PASS, f"{target.label(spec.address)}: Neo4j {facts.version} {facts.edition}, "
                                   f"authenticated as {target.auth.user}{tls} ({facts.seconds * 1000:.0f} ms)",
                       spec.name)


def _version_matches(actual: str | None, expected: str) -> bool:
    return bool(actual) and (actual == expected or actual.startswith(expected + "."))


def topology_result(target: Target, facts: list[ServerFacts]) -> CheckResult:
    ref = cluster.reference(facts)
    if ref is None:
        return CheckResult("topology", SKIP, "no server reachable")
    if not ref.enterprise:
        return CheckResult("topology", SKIP, f"{ref.edition} edition runs as one standalone server: there is no "
                                             f"cluster membership to check (SHOW SERVERS is enterprise-only)")
    view = cluster.topology(target, facts, ref.line)
    source = "SHOW SERVERS" if ref.line.supports_show_servers else "dbms.cluster.overview()"
    if view.problems:
        return CheckResult("topology", FAIL, "; ".join(view.problems + view.notes))
    roles = ", ".join(f"{s.name}={s.role}" for s in target.servers if s.role)
    tolerance = f"; fault tolerance {target.fault_tolerance}" if target.fault_tolerance is not None else ""
    state = "enabled and available" if ref.line.supports_show_servers else "listed"
    detail = f"{source}: all {len(target.servers)} expected servers {state}" + \
        (f" with the expected roles ({roles})" if roles else "") + tolerance
    if view.notes:
        detail += "; " + "; ".join(view.notes)
    return CheckResult("topology", PASS, detail)


def databases_result(target: Target, facts: list[ServerFacts]) -> CheckResult:
    if cluster.reference(facts) is None:
        return CheckResult("databases", SKIP, "no server reachable")
    problems = cluster.database_status_problems(target, facts)
    if problems:
        return CheckResult("databases", FAIL, "; ".join(problems))
    names = cluster.database_names(facts)
    return CheckResult("databases", PASS, f"{', '.join(names)} online on every server that hosts them")


def writers_result(target: Target, facts: list[ServerFacts]) -> CheckResult:
    if cluster.reference(facts) is None:
        return CheckResult("writers", SKIP, "no server reachable")
    if cluster.is_standalone(facts):
        return _standalone_writers(target, facts)
    claims = cluster.writer_claims(facts)
    problems, good = [], []
    for database in cluster.database_names(facts):
        writers = claims.get(database, {})
        if not writers:
            problems.append(f"database {database} has NO writer (no leader): writes fail until one is elected; "
                            f"check that a majority of primaries is up and can reach each other")
        elif len(writers) > 1:
            sides = "; ".join(f"{target.label(addr)} according to {', '.join(sorted(seen))}"
                              for addr, seen in sorted(writers.items()))
            problems.append(f"SPLIT BRAIN: database {database} has {len(writers)} writers: {sides}. Stop client "
                            f"writes, find the partition (SHOW SERVERS on each side), and let the minority side "
                            f"rejoin; do not restart the majority")
        else:
            good.append(f"{database} → {target.label(next(iter(writers)))}")
    if problems:
        return CheckResult("writers", FAIL, " | ".join(problems))
    return CheckResult("writers", PASS, "exactly one writer per database: " + ", ".join(good))


def _standalone_writers(target: Target, facts: list[ServerFacts]) -> CheckResult:
    """Community servers are each their own cluster: each must be the writer of what it hosts."""
    problems, good = [], []
    for f in facts:
        if not f.reachable:
            continue
        not_writing = [row["name"] for row in f.own_rows() if not cluster.is_writer(row)]
        if not_writing:
            problems.append(f"{f.spec.name} is not the writer of {', '.join(not_writing)}")
        else:
            good.append(f.spec.name)
    if problems:
        return CheckResult("writers", FAIL, "; ".join(problems))
    return CheckResult("writers", PASS, f"standalone: {', '.join(good)} {'is' if len(good) == 1 else 'are each'} "
                                        f"the writer of {'its' if len(good) == 1 else 'their'} databases")
