"""The command-line half of the commands that talk to a running cluster (check, security, diagnose).

Where the cluster is (a stack, or explicit URIs), how to log in, and the life of a report over Bolt:
a transport (recorded with --record), the run, the report as text or --json, the exit status. The
runner and exit codes are cli.py's, as for every command.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from . import cli
from .bolt import NeoTransport, TlsOptions, Transport
from .parallel import run_in_background
from .recorded import RecordingTransport


def add_target_arguments(p: argparse.ArgumentParser, *, servers: bool = True) -> None:
    where = p.add_argument_group("where the cluster is (a stack, or explicit addresses)")
    where.add_argument("--stack", help="stack name: outputs from `pulumi stack output --json --show-secrets`, "
                                       "expectations from Pulumi.<stack>.yaml")
    where.add_argument("--outputs-file", metavar="FILE",
                       help="saved `pulumi stack output --json --show-secrets` (instead of running pulumi)")
    where.add_argument("--stack-file", metavar="FILE", help="stack config to read instead of Pulumi.<stack>.yaml")
    where.add_argument("--uri", help="entry point, e.g. neo4j://10.0.1.10:7687 or bolt://127.0.0.1:7687 "
                                     "(bolt:// also names the single server when --servers is absent)")
    if servers:
        where.add_argument("--servers", help="comma-separated servers to check directly: "
                                             "name[:primary|secondary]=bolt://host:port or just host:port")
    auth = p.add_argument_group("authentication and TLS")
    auth.add_argument("--user", default="neo4j", help="user to log in as (default: neo4j)")
    auth.add_argument("--password-env", default="NEO4J_PASSWORD", metavar="VAR",
                      help="environment variable holding that user's password (default: NEO4J_PASSWORD)")
    auth.add_argument("--ca-cert", metavar="FILE", help="the cluster's CA certificate (PEM): connect with TLS "
                                                        "and verify the servers against it")
    auth.add_argument("--no-verify-hostname", action="store_true",
                      help="with --ca-cert: accept a certificate that does not name the host connected to")
    p.add_argument("--database", help="database to probe (default: the stack's neo4j:database, else neo4j)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="per connection and per query (default: 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@contextlib.contextmanager
def bolt_transport(given: Transport | None, tls: TlsOptions, timeout: float) -> Iterator[Transport]:
    """The transport a test gives, or a real one, closed afterwards without holding up the exit."""
    real = given or NeoTransport(tls, timeout)
    try:
        yield real
    finally:
        if given is None:
            run_in_background(real.close, 5)


def report_on_servers(args: argparse.Namespace, target: Any, transport: Transport | None, *, progress: str,
                      source: str, run: Callable[[Any], Any], render: Callable[[Any], str],
                      failed: Callable[[Any], bool]) -> int:
    """The shared life of check and diagnose: a Bolt transport (recorded with --record), the run, then
    the report as text or --json, and the exit status."""
    with bolt_transport(transport, target.tls, args.timeout) as real:
        if args.record:
            real = RecordingTransport(real, {s.address: s.name for s in target.servers})
        if not args.json and sys.stderr.isatty():
            print(progress, file=sys.stderr)
        try:
            report = run(real)
        finally:
            if args.record:
                real.save(args.record, f"recorded by {source}")
    return cli.print_report(report, args.json, render, failed=bool(failed(report)))
