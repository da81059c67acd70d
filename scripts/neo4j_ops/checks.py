"""Post-deploy checks over Bolt: `run_checks(target, transport)` → CheckReport.

Phase 1 runs at once: every server's facts (direct Bolt: reachable, authenticated, version, how
it sees the cluster), the routing probe, the HAProxy probe, the TLS probes and the backup
bucket probe. Phase 2 (needs the facts) runs at once too: replication lag, users and roles,
the reader-cannot-write probe and the metrics endpoints. Each task has a deadline, so a server
that hangs costs one timeout, not the run.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from scripts.neo4j_ops import cluster
from scripts.neo4j_ops import queries as q
from scripts.neo4j_ops.bolt import (
    AUTH,
    FORBIDDEN,
    TLS,
    UNREACHABLE,
    Auth,
    BoltError,
    TlsOptions,
    Transport,
    host_of,
    with_scheme,
)
from scripts.neo4j_ops.facts import ServerFacts, ServerSpec, gather
from scripts.neo4j_ops.parallel import Outcome, TaskTimeoutError, run_all
from scripts.neo4j_ops.target import Target

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
LAG_POLL_SECONDS = 0.2


@dataclass
class CheckResult:
    name: str
    status: str
    detail: str
    server: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "server": self.server}


@dataclass
class Lag:
    server: str
    database: str
    behind: int | None  # transactions behind the writer when first seen
    seconds: float | None  # time it took to reach the writer's transaction of that moment
    caught_up: bool
    note: str = ""


@dataclass
class CheckReport:
    rows: list[dict[str, str]]
    results: list[CheckResult]
    seconds: float
    version: str | None = None
    edition: str | None = None
    facts: list[ServerFacts] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "seconds": round(self.seconds, 3), "version": self.version, "edition": self.edition,
                "servers": self.rows, "checks": [r.to_json() for r in self.results]}


# --- probes --------------------------------------------------------------------------------------


@dataclass
class Probe:
    ok: bool
    write_server: str | None = None
    read_server: str | None = None
    found: int = 0
    problems: list[str] = field(default_factory=list)


def write_read_probe(transport: Transport, auth: Auth, write_uri: str, read_uri: str, database: str,
                     timeout: float, via: str) -> Probe:
    """Write a probe node, read it back with the write's bookmark (read your own write), delete it."""
    probe_id = f"{via}-{uuid.uuid4()}"
    writer = transport.client(write_uri, auth)
    reader = transport.client(read_uri, auth)
    result = Probe(ok=False)
    written = None
    try:
        written = writer.run(q.PROBE_WRITE.name, q.PROBE_WRITE.cypher, {"id": probe_id, "via": via},
                             database=database, write=True, timeout=timeout)
        result.write_server = written.server
        read = reader.run(q.PROBE_READ.name, q.PROBE_READ.cypher, {"id": probe_id}, database=database,
                          bookmarks=written.bookmarks, timeout=timeout)
        result.read_server = read.server
        result.found = int((read.records or [{}])[0].get("found") or 0)
        if result.found != 1:
            result.problems.append(f"read with the write's bookmark found {result.found} probe nodes, expected 1 "
                                   f"(read on {read.server or read_uri})")
    except BoltError as error:
        if written is None:
            result.problems.append(f"write failed: {error.message}")
        else:
            where = f" via {read_uri}" if read_uri != write_uri else ""
            result.problems.append(f"read-your-own-write{where} failed: {error.message}")
    finally:
        if written is not None:
            try:
                writer.run(q.PROBE_DELETE.name, q.PROBE_DELETE.cypher, {"id": probe_id}, database=database,
                           write=True, timeout=timeout)
            except BoltError as error:
                result.problems.append(f"could not remove probe node {probe_id} ({q.PROBE_LABEL}): {error.message}")
    result.ok = not result.problems
    return result


def tls_probe(transport: Transport, spec: ServerSpec, auth: Auth, ca: TlsOptions) -> dict[str, Any]:
    """Does the server accept plain Bolt? Does Bolt over TLS with our CA work?"""
    plain_uri = with_scheme(spec.uri, "bolt")
    outcome: dict[str, Any] = {}
    try:
        transport.client(plain_uri, auth, tls=TlsOptions()).verify()
        outcome["plain"] = "accepted"
    except BoltError as error:
        outcome["plain"] = "accepted" if error.kind == AUTH else "refused"
        outcome["plain_error"] = error.message
    try:
        transport.client(plain_uri, auth, tls=ca).verify()
        outcome["encrypted"] = "ok"
    except BoltError as error:
        outcome["encrypted"] = "ok" if error.kind == AUTH else "failed"
        outcome["encrypted_error"] = error.message
    return outcome


def s3_probe(bucket: str, region: str | None, timeout: float) -> str:
    """Put and delete a small object; returns the key used. Raises on failure."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", region_name=region, config=Config(connect_timeout=timeout, read_timeout=timeout,
                                                               retries={"max_attempts": 2}))
    key = f"neo4j-cluster-check/probe-{uuid.uuid4()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"neo4j-cluster check probe; safe to delete\n")
    s3.delete_object(Bucket=bucket, Key=key)
    return key


# --- phase 2 pieces --------------------------------------------------------------------------------


def measure_lag(target: Target, facts: list[ServerFacts], transport: Transport, max_lag: float,
                timeout: float) -> list[Lag] | str:
    """Lag of every non-writer copy of every database, or the reason it cannot be measured.

    For each database, the writer's lastCommittedTxn is the mark; a copy already at or past it
    has no lag; otherwise its own SHOW DATABASE row is polled until it reaches the mark, and the
    time that took is its lag in seconds (at most `max_lag`, then it fails). 4.4 and 5.x alike:
    both list every copy's lastCommittedTxn (4.4 marks the writer with role 'leader').
    """
    ref = cluster.reference(facts)
    if ref is None:
        return "no server reachable"
    if not ref.enterprise:
        return "a standalone community server has no secondaries"
    lag_query = q.show_database_lag(ref.line)
    claims = cluster.writer_claims(facts)
    results: list[Lag] = []
    tasks = {}
    unmeasured = []
    for database in cluster.database_names(facts):
        writer_address = cluster.expected_writer(claims.get(database, {}))
        writer_spec = target.server_at(writer_address)
        if writer_spec is None:
            continue  # no single known writer: the writers check reports it
        writer_row = cluster.row_about(facts, writer_spec, database)
        mark = (writer_row or {}).get("lastCommittedTxn")
        if mark is None:
            unmeasured.append(database)
            continue
        for spec in target.servers:
            if spec == writer_spec:
                continue
            row = cluster.row_about(facts, spec, database)
            if row is None:
                continue
            own = next(f for f in facts if f.spec == spec)
            if not own.reachable:
                results.append(Lag(spec.name, database, None, None, False, "unreachable"))
                continue
            txn = row.get("lastCommittedTxn")
            if txn is not None and txn >= mark:
                results.append(Lag(spec.name, database, 0, 0.0, True))
                continue
            tasks[f"{spec.name}/{database}"] = _lag_poller(transport, target.auth, spec, database, mark, txn,
                                                           row.get("replicationLag"), max_lag, timeout, lag_query)
    for key, outcome in run_all(tasks, max_lag + 2 * timeout + 1).items():
        server, database = key.split("/", 1)
        if outcome.ok:
            results.append(outcome.value)
        else:
            note = outcome.error.message if isinstance(outcome.error, BoltError) else str(outcome.error)
            results.append(Lag(server, database, None, None, False, note))
    if unmeasured and not results:
        return f"SHOW DATABASES gives no lastCommittedTxn for the writer of {', '.join(unmeasured)}"
    return sorted(results, key=lambda lag: (lag.database, lag.server))


def _lag_poller(transport: Transport, auth: Auth, spec: ServerSpec, database: str, mark: int, first_txn: int | None,
                replication_lag: int | None, max_lag: float, timeout: float, query: q.Named):
    def poll() -> Lag:
        behind = mark - first_txn if first_txn is not None else abs(replication_lag or 0) or None
        client = transport.client(spec.uri, auth)
        start = time.monotonic()
        txn = first_txn
        while True:
            rows = client.run(query.name, query.cypher, {"database": database}, database=query.database,
                              timeout=timeout).records
            own = next((r for r in rows if r.get("address") in spec.aliases), None)
            txn = (own or {}).get("lastCommittedTxn", txn)
            elapsed = time.monotonic() - start
            if txn is not None and txn >= mark:
                return Lag(spec.name, database, behind, elapsed, True)
            if elapsed >= max_lag:
                now_behind = mark - txn if txn is not None else behind
                return Lag(spec.name, database, now_behind, elapsed, False)
            time.sleep(LAG_POLL_SECONDS)

    return poll


def users_and_roles(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not target.users and not target.roles:
        return CheckResult("users", SKIP, "no users or roles configured (stack neo4j:users/neo4j:roles, "
                                          "or --expect-user)")
    client = transport.client(ref.spec.uri, target.auth)
    problems, found = [], []
    users = {row["user"]: row for row in client.run(q.SHOW_USERS.name, q.SHOW_USERS.cypher,
                                                    database=q.SHOW_USERS.database, timeout=timeout).records}
    existing_roles: set[str] = set()
    if ref.enterprise and target.roles:
        existing_roles = {row["role"] for row in client.run(q.SHOW_ROLES.name, q.SHOW_ROLES.cypher,
                                                            database=q.SHOW_ROLES.database,
                                                            timeout=timeout).records}
        for role in target.roles:
            if role.name in existing_roles:
                found.append(f"role {role.name}")
            else:
                problems.append(f"role {role.name} is missing")
    elif target.roles:
        problems.append(f"roles {', '.join(r.name for r in target.roles)} are configured but the server is "
                        f"{ref.edition} (roles need enterprise)")
    for user in target.users:
        row = users.get(user.name)
        if row is None:
            problems.append(f"user {user.name} is missing")
            continue
        if ref.enterprise:
            have = set(row.get("roles") or []) - {"PUBLIC"}
            want = set(user.roles)
            if have != want:
                problems.append(f"user {user.name} has roles {sorted(have) or 'none'}, "
                                f"expected {sorted(want) or 'none'}")
                continue
            if row.get("suspended"):
                problems.append(f"user {user.name} is suspended")
                continue
        found.append(f"user {user.name}" + (f" ({', '.join(user.roles)})" if user.roles else ""))
    if problems:
        return CheckResult("users", FAIL, "; ".join(problems) + " — run scripts/security.py to apply the config")
    note = "" if not target.roles else "; privileges: compare with scripts/security.py --dry-run"
    return CheckResult("users", PASS, "exist: " + ", ".join(found) + note)


def reader_cannot_write(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not ref.enterprise:
        return CheckResult("reader-cannot-write", SKIP, f"{ref.edition} edition has no roles: every user may write")
    reader = target.reader_user or next((u.name for u in target.users if tuple(u.roles) == ("reader",)), None)
    if reader is None:
        return CheckResult("reader-cannot-write", SKIP, "no user with only the reader role is configured "
                                                        "(or name one with --reader-user)")
    password = target.user_passwords.get(reader)
    if password is None:
        return CheckResult("reader-cannot-write", SKIP, f"no password for {reader} (give --user-passwords-file "
                                                        f"or $NEO4J_USER_PASSWORDS)")
    uri = target.routing_uri or ref.spec.uri
    client = transport.client(uri, Auth(reader, password))
    probe_id = f"reader-{uuid.uuid4()}"
    try:
        client.run(q.PROBE_WRITE.name, q.PROBE_WRITE.cypher, {"id": probe_id, "via": "reader"},
                   database=target.database, write=True, timeout=timeout)
    except BoltError as error:
        if error.kind == FORBIDDEN:
            return CheckResult("reader-cannot-write", PASS, f"{reader} was refused a write on {target.database}: "
                                                            f"{error.message}")
        return CheckResult("reader-cannot-write", FAIL, f"could not test {reader}: {error.message}")
    admin = transport.client(uri, target.auth)
    try:
        admin.run(q.PROBE_DELETE.name, q.PROBE_DELETE.cypher, {"id": probe_id}, database=target.database,
                  write=True, timeout=timeout)
    except BoltError:
        pass
    return CheckResult("reader-cannot-write", FAIL, f"READER CAN WRITE: {reader} created a node on "
                                                    f"{target.database}; its role grants write privileges")


def metrics_urls(target: Target) -> dict[str, str]:
    if target.metrics_urls is not None:
        return dict(target.metrics_urls)
    return {s.name: f"http://{host_of(s.uri)}:{target.metrics_port}/metrics" for s in target.servers}


def check_metrics(target: Target, ref: ServerFacts, transport: Transport, timeout: float) -> CheckResult:
    if not ref.enterprise:
        return CheckResult("metrics", SKIP, f"{ref.edition} edition has no Prometheus endpoint")
    urls = metrics_urls(target)

    def fetch(url: str):
        return lambda: transport.http_get(url, timeout)

    outcomes = run_all({name: fetch(url) for name, url in urls.items()}, timeout + 1)
    problems, good = [], []
    for name, outcome in outcomes.items():
        if not outcome.ok:
            problems.append(f"{name} ({urls[name]}): {_reason(outcome)}")
            continue
        status, body = outcome.value
        if status != 200:
            problems.append(f"{name} ({urls[name]}): HTTP {status}")
        elif "neo4j_" not in body:
            problems.append(f"{name} ({urls[name]}): answers but exports no neo4j_* series")
        else:
            good.append(name)
    if problems:
        return CheckResult("metrics", FAIL, "; ".join(problems))
    return CheckResult("metrics", PASS, f"Prometheus endpoint answers on {', '.join(good)}")


def _reason(outcome: Outcome) -> str:
    error = outcome.error
    if isinstance(error, BoltError):
        return error.message
    if isinstance(error, TaskTimeoutError):
        return str(error)
    return f"{type(error).__name__}: {error}"


# --- the run ---------------------------------------------------------------------------------------


def run_checks(target: Target, transport: Transport, *, timeout: float = 5.0, max_lag: float = 10.0) -> CheckReport:
    start = time.monotonic()
    phase1: dict[str, Any] = {}
    limits: dict[str, float] = {}
    for spec in target.servers:
        phase1[f"facts:{spec.name}"] = (lambda s=spec: gather(s, transport, target.auth, timeout))
        limits[f"facts:{spec.name}"] = 4 * timeout + 1
    if target.routing_uri:
        phase1["routing"] = lambda: write_read_probe(transport, target.auth, target.routing_uri, target.routing_uri,
                                                     target.database, timeout, "routing")
        limits["routing"] = 4 * timeout + 1
    if target.haproxy_uri:
        phase1["haproxy"] = lambda: write_read_probe(transport, target.auth, target.haproxy_uri,
                                                     target.haproxy_read_uri or target.haproxy_uri,
                                                     target.database, timeout, "haproxy")
        limits["haproxy"] = 4 * timeout + 1
    if target.tls_expected in ("optional", "required") and target.tls.encrypted:
        def tls_all():
            return run_all({s.name: (lambda s=s: tls_probe(transport, s, target.auth, target.tls))
                            for s in target.servers}, 2 * timeout + 1)
        phase1["tls"] = tls_all
        limits["tls"] = 2 * timeout + 2
    if target.backup_bucket:
        phase1["backup"] = lambda: s3_probe(target.backup_bucket, target.aws_region, timeout)
        limits["backup"] = 4 * timeout + 1
    one = run_all(phase1, limits)

    facts = []
    for spec in target.servers:
        outcome = one[f"facts:{spec.name}"]
        if outcome.ok:
            facts.append(outcome.value)
        else:
            facts.append(ServerFacts(spec, error=BoltError(UNREACHABLE, f"{spec.name}: {_reason(outcome)}")))
    results = [connect_result(target, f) for f in facts]
    ref = cluster.reference(facts)

    two: dict[str, Any] = {}
    if ref is not None:
        two["lag"] = lambda: measure_lag(target, facts, transport, max_lag, timeout)
        two["users"] = lambda: users_and_roles(target, ref, transport, timeout)
        two["reader"] = lambda: reader_cannot_write(target, ref, transport, timeout)
        two["metrics"] = lambda: check_metrics(target, ref, transport, timeout)
    two_limits = {"lag": max_lag + 3 * timeout + 2, "users": 3 * timeout + 1, "reader": 3 * timeout + 1,
                  "metrics": 2 * timeout + 2}
    second = run_all(two, two_limits)

    results.append(topology_result(target, facts))
    results.append(databases_result(target, facts))
    results.append(writers_result(target, facts))
    lag = second.get("lag")
    results.append(lag_result(lag, max_lag) if lag else CheckResult("replication-lag", SKIP, "no server reachable"))
    results.append(routing_result(target, facts, one.get("routing")))
    results.append(haproxy_result(target, one.get("haproxy")))
    results.append(tls_result(target, one.get("tls")))
    for key, name in (("users", "users"), ("reader", "reader-cannot-write"), ("metrics", "metrics")):
        outcome = second.get(key)
        if outcome is None:
            results.append(CheckResult(name, SKIP, "no server reachable"))
        elif outcome.ok:
            results.append(outcome.value)
        else:
            results.append(CheckResult(name, FAIL, _reason(outcome)))
    results.append(backup_result(target, one.get("backup")))

    lags = lag.value if lag is not None and lag.ok and isinstance(lag.value, list) else []
    return CheckReport(overview_rows(target, facts, lags), results, time.monotonic() - start,
                       ref.version if ref else None, ref.edition if ref else None, facts)


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
        not_writing = [row["name"] for row in f.own_rows() if not row.get("writer")]
        if not_writing:
            problems.append(f"{f.spec.name} is not the writer of {', '.join(not_writing)}")
        else:
            good.append(f.spec.name)
    if problems:
        return CheckResult("writers", FAIL, "; ".join(problems))
    return CheckResult("writers", PASS, f"standalone: {', '.join(good)} {'is' if len(good) == 1 else 'are each'} "
                                        f"the writer of {'its' if len(good) == 1 else 'their'} databases")


def lag_result(outcome: Outcome, max_lag: float) -> CheckResult:
    if not outcome.ok:
        return CheckResult("replication-lag", FAIL, _reason(outcome))
    if isinstance(outcome.value, str):
        return CheckResult("replication-lag", SKIP, outcome.value)
    lags: list[Lag] = outcome.value
    if not lags:
        return CheckResult("replication-lag", PASS, "no copies to compare (every database has only its writer)")
    bad = [lag for lag in lags if not lag.caught_up]
    if bad:
        parts = []
        for lag in bad:
            if lag.note:
                parts.append(f"{lag.server} on {lag.database}: {lag.note}")
            else:
                parts.append(f"{lag.server} on {lag.database} is {lag.behind} transactions behind the writer and did "
                             f"not catch up within {max_lag:g} s")
        return CheckResult("replication-lag", FAIL, "; ".join(parts))
    worst = max(lags, key=lambda lag: lag.seconds or 0.0)
    if not worst.seconds:
        return CheckResult("replication-lag", PASS, f"all {len(lags)} copies are at their writer's last "
                                                    f"committed transaction")
    return CheckResult("replication-lag", PASS, f"{len(lags)} copies within {max_lag:g} s of their writer "
                                                f"(worst: {worst.server} on {worst.database}: {worst.behind} "
                                                f"transactions, caught up in {worst.seconds:.1f} s)")


def routing_result(target: Target, facts: list[ServerFacts], outcome: Outcome | None) -> CheckResult:
    if outcome is None:
        return CheckResult("routing", SKIP, "no routing URI")
    if not outcome.ok:
        return CheckResult("routing", FAIL, f"via {target.routing_uri}: {_reason(outcome)}")
    probe: Probe = outcome.value
    if not probe.ok:
        return CheckResult("routing", FAIL, f"via {target.routing_uri}: " + "; ".join(probe.problems))
    standalone = cluster.is_standalone(facts)
    claims = cluster.writer_claims(facts if not standalone else facts[:1]).get(target.database, {})
    leader = cluster.expected_writer(claims)
    if leader and probe.write_server and probe.write_server != leader \
            and target.server_at(probe.write_server) != target.server_at(leader):
        return CheckResult("routing", FAIL, f"the write via {target.routing_uri} ran on "
                                            f"{target.label(probe.write_server)}, but the writer of "
                                            f"{target.database} is {target.label(leader)}")
    return CheckResult("routing", PASS, f"write via {target.routing_uri} ran on {target.label(probe.write_server)}"
                                        f"{' (the writer)' if leader else ''}; read-your-own-write with its bookmark "
                                        f"on {target.label(probe.read_server)}; probe removed")


def haproxy_result(target: Target, outcome: Outcome | None) -> CheckResult:
    if outcome is None:
        return CheckResult("haproxy", SKIP, "no HAProxy given (--haproxy-uri, or a stack with neo4j:haproxy)")
    read_uri = target.haproxy_read_uri or target.haproxy_uri
    if not outcome.ok:
        return CheckResult("haproxy", FAIL, f"via {target.haproxy_uri}: {_reason(outcome)}")
    probe: Probe = outcome.value
    if not probe.ok:
        text = "; ".join(probe.problems)
        if "closed the connection" in text:
            text += (" — HAProxy closes connections it cannot forward: is any backend up? (its stats page, port "
                     "8404, shows each server's health check)")
        return CheckResult("haproxy", FAIL, f"via {target.haproxy_uri}: {text}")
    return CheckResult("haproxy", PASS, f"write via {target.haproxy_uri} and read-your-own-write via {read_uri} "
                                        f"work; probe removed")


def tls_result(target: Target, outcome: Outcome | None) -> CheckResult:
    level = target.tls_expected
    if level is None:
        return CheckResult("tls", SKIP, "TLS level not known (give --tls required|optional|disabled, or --stack)")
    if level == "disabled":
        return CheckResult("tls", SKIP, "TLS is disabled in the stack config")
    if outcome is None:
        return CheckResult("tls", SKIP, "no CA certificate to verify the servers with (--ca-cert)")
    if not outcome.ok:
        return CheckResult("tls", FAIL, _reason(outcome))
    problems, ok, plain_refused = [], [], []
    for name, server_outcome in outcome.value.items():
        if not server_outcome.ok:
            problems.append(f"{name}: {_reason(server_outcome)}")
            continue
        probe, mine = server_outcome.value, []
        if probe["plain"] == "refused":
            plain_refused.append(name)
        if probe["encrypted"] != "ok":
            mine.append(f"{name}: Bolt over TLS with the cluster CA failed: {probe.get('encrypted_error')}")
        if level == "required" and probe["plain"] == "accepted":
            mine.append(f"{name} accepts plain (unencrypted) Bolt although TLS is required "
                        f"(server.bolt.tls_level should be REQUIRED)")
        problems += mine
        if not mine:
            ok.append(name)
    if problems:
        return CheckResult("tls", FAIL, "; ".join(problems))
    if level == "required":
        return CheckResult("tls", PASS, f"required: plain Bolt refused and Bolt over TLS with the cluster CA works on "
                                        f"{', '.join(ok)}")
    plain = ("plain Bolt also accepted" if not plain_refused else
             f"plain Bolt refused by {', '.join(plain_refused)}: stricter than optional")
    return CheckResult("tls", PASS, f"optional: Bolt over TLS with the cluster CA works on {', '.join(ok)} "
                                    f"({plain})")


def backup_result(target: Target, outcome: Outcome | None) -> CheckResult:
    if outcome is None:
        return CheckResult("backup-bucket", SKIP, "no backup bucket given (--backup-bucket, or stack output "
                                                  "backupBucket)")
    if not outcome.ok:
        error = outcome.error
        message = getattr(error, "response", {}).get("Error", {}).get("Message") if hasattr(error, "response") \
            else None
        return CheckResult("backup-bucket", FAIL, f"s3://{target.backup_bucket} is not writable: "
                                                  f"{message or _reason(outcome)}")
    return CheckResult("backup-bucket", PASS, f"s3://{target.backup_bucket}: wrote and deleted {outcome.value}")


# --- the overview table ----------------------------------------------------------------------------


def overview_rows(target: Target, facts: list[ServerFacts], lags: list[Lag]) -> list[dict[str, str]]:
    standalone = cluster.is_standalone(facts)
    by_key = {(lag.server, lag.database): lag for lag in lags}
    health_by_server = {}
    view = next((f for f in facts if f.reachable and f.servers), None)
    if view:
        for spec in target.servers:
            row = next((r for r in view.servers if r.get("address") in spec.aliases), None)
            health_by_server[spec.name] = row.get("health") if row else "not a member"
    rows = []
    databases = cluster.database_names(facts)
    for f in facts:
        spec = f.spec
        if not f.reachable:
            health = {AUTH: "auth failed", TLS: "tls failed"}.get(f.error.kind, "unreachable")
            rows.append({"server": spec.name, "address": spec.address, "role": "-", "database": "-",
                         "health": health, "lag": "-"})
            continue
        for database in databases:
            row = cluster.row_about(facts, spec, database)
            if row is None:
                continue
            role = cluster.display_role(row, standalone)
            health = str(row.get("currentStatus") or "?")
            server_health = health_by_server.get(spec.name)
            if server_health and server_health != "Available":
                health = f"{health}, {server_health}"
            lag = by_key.get((spec.name, database))
            if role in ("leader", "standalone"):
                lag_text = "-"
            elif lag is None:
                lag_text = "n/a"
            elif lag.note:
                lag_text = lag.note
            else:
                lag_text = f"{lag.behind or 0} tx, {lag.seconds or 0:.1f} s" + ("" if lag.caught_up else " (behind)")
            rows.append({"server": spec.name, "address": row.get("address") or spec.address, "role": role,
                         "database": database, "health": health, "lag": lag_text})
    return rows


def render_text(report: CheckReport, target: Target) -> str:
    from scripts.neo4j_ops.cli import table

    headers = ["server", "address", "role", "database", "health", "lag"]
    lines = [table(headers, [[r[h] for h in headers] for r in report.rows]), ""]
    width = max((len(r.name) for r in report.results), default=10)
    for result in report.results:
        lines.append(f"{result.status}  {result.name.ljust(width)}  {result.detail}")
    failed = report.failed
    summary = (f"{len(failed)} check{'s' if len(failed) != 1 else ''} failed: {', '.join(r.name for r in failed)}"
               if failed else "all required checks passed")
    lines += ["", f"{summary} ({report.seconds:.2f} s)"]
    return "\n".join(lines)


def describe_target(target: Target) -> str:
    where = f"stack {target.stack}" if target.stack else (target.routing_uri or target.servers[0].uri)
    return f"checking {len(target.servers)} server{'s' if len(target.servers) != 1 else ''} of {where}"




# --- command line ----------------------------------------------------------------------------------

CHECK_DOC = """Post-deploy checks of a Neo4j cluster over Bolt, servers in parallel.

Checks: every server reachable directly over Bolt, authentication, the expected version;
topology (SHOW SERVERS on 5.x+, dbms.cluster.overview() on 4.4; skipped on a standalone
community server); one writer per database (split brain is reported loudly); replication lag
of every copy under --max-lag; a write through the routing URI lands on the writer and a read
with its bookmark sees it (the probe node is removed); the same through HAProxy; TLS (plain Bolt
refused when required, Bolt over TLS with the cluster CA works); users and roles exist and a
reader cannot write; the Prometheus endpoint (enterprise); the backup bucket is writable.

Prints the cluster overview (server, address, role, database, health, lag), then one line per
check: PASS, FAIL or SKIP and why. Exit status: 0 everything that ran passed, 1 a check failed,
2 usage error (including: --stack without the pulumi CLI), 130 interrupted."""

CHECK_EXAMPLE = """examples:
  NEO4J_PASSWORD=… python scripts/check.py --stack prod
  NEO4J_PASSWORD=… python scripts/check.py --uri bolt://127.0.0.1:7687 --expect-version 5.26.30
  NEO4J_PASSWORD=… python scripts/check.py --uri neo4j://10.40.1.10:7687 \\
      --servers core-1:primary=10.40.1.10:7687,core-2:primary=10.40.2.10:7687,core-3:primary=10.40.3.10:7687 \\
      --haproxy-uri bolt://10.40.1.5:7687 --tls required --ca-cert ca.crt --json"""


def build_parser():
    from scripts.neo4j_ops import cli, cluster_cli

    p = cli.parser("check", CHECK_DOC, CHECK_EXAMPLE)
    cluster_cli.add_target_arguments(p)
    expect = p.add_argument_group("expectations (default: from the stack config)")
    expect.add_argument("--expect-version", metavar="X.Y.Z", help="Neo4j version every server must run "
                                                                  "(a prefix such as 5.26 is accepted)")
    expect.add_argument("--expect-edition", choices=("community", "enterprise"))
    expect.add_argument("--tls", choices=("disabled", "optional", "required"),
                        help="TLS level the servers must enforce (optional/required need --ca-cert)")
    expect.add_argument("--max-lag", type=float, default=10.0, metavar="SECONDS",
                        help="replication lag allowed for every copy (default: 10)")
    expect.add_argument("--expect-user", action="append", metavar="NAME", help="a user that must exist (repeat)")
    expect.add_argument("--reader-user", metavar="NAME", help="user with only the reader role: must not be able "
                                                              "to write (default: the first such configured user)")
    expect.add_argument("--user-passwords-file", metavar="FILE", help="JSON object user → password (for the "
                                                                      "reader probe)")
    expect.add_argument("--user-passwords-env", default="NEO4J_USER_PASSWORDS", metavar="VAR",
                        help="environment variable with that JSON object (default: NEO4J_USER_PASSWORDS)")
    more = p.add_argument_group("more endpoints")
    more.add_argument("--haproxy-uri", metavar="URI", help="HAProxy's write frontend, e.g. bolt://10.40.1.5:7687")
    more.add_argument("--haproxy-read-uri", metavar="URI", help="HAProxy's read frontend (default: the write one)")
    more.add_argument("--metrics-port", type=int, metavar="PORT", help="Prometheus port on each server "
                                                                       "(default: 2004)")
    more.add_argument("--metrics-url", action="append", metavar="[NAME=]URL", help="explicit metrics URL (repeat)")
    more.add_argument("--backup-bucket", metavar="NAME", help="S3 bucket the backups go to: must be writable")
    more.add_argument("--aws-region", metavar="REGION", help="region of the backup bucket")
    p.add_argument("--record", metavar="FILE", help="also write every answer to FILE as a replayable scenario "
                                                    "(how tests/fixtures/enterprise/ is refreshed from a live cluster)")
    return p


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    from scripts.neo4j_ops import cli, cluster_cli
    from scripts.neo4j_ops.target import build_target

    args = build_parser().parse_args(argv)

    def body() -> int:
        target = build_target(args)
        return cluster_cli.report_on_servers(
            args, target, transport, progress=describe_target(target) + " …",
            source=f"scripts/check.py from {describe_target(target)}",
            run=lambda real: run_checks(target, real, timeout=args.timeout, max_lag=args.max_lag),
            render=lambda report: render_text(report, target), failed=lambda report: not report.ok)

    return cli.run("check", body)
