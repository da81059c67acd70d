"""Command-line pieces shared by check, security and diagnose."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from scripts.neo4j_ops.errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line message naming the option (its default also exits 2, after
    the whole usage block, which buries that line)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def parser(prog: str, doc: str, example: str) -> Parser:
    summary, _, rest = doc.strip().partition("\n\n")
    return Parser(prog=prog, description=summary + ("\n\n" + rest if rest else ""),
                  epilog=example, formatter_class=argparse.RawDescriptionHelpFormatter)


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


def run_main(prog: str, body: Callable[[], int]) -> int:
    """Run a command body: usage errors → one line on stderr and exit 2."""
    try:
        return body()
    except UsageError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out = [line]
    for row in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(out)


def report_on_servers(args: argparse.Namespace, target: Any, transport: Any, *, progress: str, source: str,
                      run: Callable[[Any], Any], render: Callable[[Any], str], failed: Callable[[Any], bool]) -> int:
    """The shared life of check and diagnose: a Bolt transport (recorded with --record), the run, then
    the report as text or --json, and the exit status."""
    from scripts.neo4j_ops.bolt import NeoTransport
    from scripts.neo4j_ops.parallel import run_in_background

    own = transport is None
    real = transport or NeoTransport(target.tls, args.timeout)
    if args.record:
        from scripts.neo4j_ops.recorded import RecordingTransport

        real = RecordingTransport(real, {s.address: s.name for s in target.servers})
    if not args.json and sys.stderr.isatty():
        print(progress, file=sys.stderr)
    try:
        report = run(real)
    finally:
        if args.record:
            real.save(args.record, f"recorded by {source}")
        if own:
            run_in_background(real.close, 5)
    if args.json:
        print_json(report.to_json())
    else:
        print(render(report))
    return EXIT_FAILED if failed(report) else EXIT_OK
