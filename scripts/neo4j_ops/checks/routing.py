"""Writes and reads as clients make them: a probe node written through the routing URI (or HAProxy),
read back with the write's bookmark (read your own write), then removed."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from .. import cluster
from .. import queries as q
from ..bolt import Auth, BoltError, Transport
from ..facts import ServerFacts
from ..parallel import Outcome
from ..target import Target
from .results import FAIL, PASS, SKIP, CheckResult, reason


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


def routing_result(target: Target, facts: list[ServerFacts], outcome: Outcome | None) -> CheckResult:
    if outcome is None:
        return CheckResult("routing", SKIP, target.routing_skipped or "no routing URI")
    if not outcome.ok:
        return CheckResult("routing", FAIL, f"via {target.routing_uri}: {reason(outcome)}")
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
        return CheckResult("haproxy", FAIL, f"via {target.haproxy_uri}: {reason(outcome)}")
    probe: Probe = outcome.value
    if not probe.ok:
        text = "; ".join(probe.problems)
        if "closed the connection" in text:
            text += (" — HAProxy closes connections it cannot forward: is any backend up? (its stats page, port "
                     "8404, shows each server's health check)")
        return CheckResult("haproxy", FAIL, f"via {target.haproxy_uri}: {text}")
    return CheckResult("haproxy", PASS, f"write via {target.haproxy_uri} and read-your-own-write via {read_uri} "
                                        f"work; probe removed")
