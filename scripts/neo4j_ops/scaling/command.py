"""scripts/scale.py: its help, options and main (stack and cluster compared, then scale_out or scale_in, and
with --up the `pulumi up` through the Automation API)."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .. import cli, cluster_cli
from .. import queries as q
from ..bolt import Auth, BoltError, TlsOptions, Transport, check_bolt_uri, statement_runner
from ..pulumi_interrupt import interrupt_after_pulumi
from ..shared.errors import OperationError, UsageError
from ..shared.versions import Version
from ..target import (
    PULUMI_INSTALL,
    project_dir,
    pulumi_error_text,
    pulumi_outputs,
    read_outputs_file,
    read_password,
    stack_settings,
)
from . import run as scaling

DOC = """Scale a running cluster to the stack's neo4j:replicaCount: one command for the Cypher.

Compares the servers of the stack (Pulumi.<stack>.yaml: neo4j:coreCount, neo4j:replicaCount) with the servers
the cluster lists (SHOW SERVERS; 4.4: dbms.cluster.overview()), then:

  more in the stack (scale out, after `make up` created the machines): waits until the new servers are
      listed and Enabled (ENABLE SERVER for one left Free), sets each database's topology (the default database
      coreCount PRIMARIES replicaCount SECONDARIES; a neo4j:databases entry its own counts; a database the stack
      does not list keeps its own), and waits until each is online.
  more in the cluster (scale in, before `make up` removes the machines): refuses what would lose a database
      or a majority of its primaries; cordons the leaving servers, lowers the topology, DEALLOCATE DATABASES
      FROM SERVER (after a DRYRUN), waits until they are Deallocated, DROP SERVER. Then says the `make up`
      that removes the machines (or runs it, with --up).

Neo4j 4.4: read replicas join and leave by themselves; only waited for (out) or checked (in). The backup
server (core-1) does not change with the replica count. A re-run resumes where an interrupted one stopped.

Exit status: 0 done (or nothing to do), 1 the cluster refused or the wait ran out (nothing more was
changed), 2 usage error, 130 interrupted."""

EXAMPLES = """examples:
  export NEO4J_PASSWORD=…
  # after raising neo4j:replicaCount and `make up STACK=prod`:
  .venv/bin/python scripts/scale.py --stack prod --ca-cert ca.crt --dry-run
  .venv/bin/python scripts/scale.py --stack prod --ca-cert ca.crt
  # after lowering neo4j:replicaCount: move the databases off, then remove the machines
  .venv/bin/python scripts/scale.py --stack prod --ca-cert ca.crt --up"""


def build_parser():
    p = cli.parser("scale", DOC, EXAMPLES)
    cluster_cli.add_target_arguments(p, servers=False)
    p.add_argument("--dry-run", action="store_true",
                   help="read the cluster and print the Cypher it would send; change nothing, wait for nothing")
    p.add_argument("--wait-minutes", type=float, default=30.0, metavar="MINUTES",
                   help="how long to wait for servers to join or leave and databases to move (default: 30)")
    p.add_argument("--up", action="store_true",
                   help="also run `pulumi up` through the Automation API: before scaling out (creates the "
                        "machines), after scaling in (removes them); needs the pulumi CLI")
    p.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    return p


def connect_uri(args: Any, settings: Any) -> str:
    if args.uri:
        uri = args.uri
    else:
        outputs = read_outputs_file(args.outputs_file) if args.outputs_file else pulumi_outputs(settings.stack)
        # Locally the routing table names servers by their Docker network names: the published bolt:// port,
        # where server-side routing forwards the administration commands to the system database's writer.
        keys = ("boltUri", "routingUri") if settings.platform == "docker" else ("routingUri", "boltUri")
        uri = next((outputs.get(k) for k in keys if outputs.get(k)), None)
        if not uri:
            raise UsageError("the stack outputs have no routingUri or boltUri: give --uri")
    try:
        check_bolt_uri(uri)
    except ValueError as error:
        raise UsageError(f"--uri: {error}") from None
    return uri


def cluster_version(run: q.Run) -> Version:
    rows = run(q.COMPONENTS, None)
    kernel = next((r for r in rows if r.get("name") == "Neo4j Kernel"), {})
    edition = str(kernel.get("edition") or "")
    if edition.lower() != "enterprise":
        raise UsageError(f"Neo4j {edition or 'unknown'} edition: a single server, no cluster to scale "
                         f"(clustering needs Enterprise)")
    try:
        version = Version.parse(str((kernel.get("versions") or [""])[0]))
    except ValueError as error:
        raise OperationError(str(error)) from None
    if version.line is None:
        raise OperationError(f"Neo4j {version}: not a release this tool knows (4.4.x, 5.x, 2025.x and later)")
    return version


def pulumi_up(stack: str, log) -> None:
    if shutil.which("pulumi") is None:
        raise UsageError(f"--up runs `pulumi up` through the Automation API, which needs the pulumi CLI; it is not "
                         f"installed ({PULUMI_INSTALL}); run `make up STACK={stack}` instead")
    from pulumi import automation

    log(f"pulumi up --stack {stack}")
    with interrupt_after_pulumi(log, f"up of stack {stack}"):
        try:
            automation.select_stack(stack, work_dir=str(project_dir())).up(
                on_output=lambda line: log(f"pulumi: {line.rstrip()}") if line.strip() else None)
        except Exception as error:  # CommandError: one line, the CLI's own words
            raise OperationError(f"pulumi up of stack {stack} failed: {pulumi_error_text(error)}") from None


def main(argv: list[str] | None = None, *, transport: Transport | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        settings = stack_settings(args.stack, args.stack_file)
        if settings is None:
            raise UsageError("no stack config: give --stack NAME (reads Pulumi.<NAME>.yaml) or --stack-file")
        if args.wait_minutes <= 0:
            raise UsageError(f"--wait-minutes {args.wait_minutes:g}: allowed: more than 0")
        if args.up and args.dry_run:
            raise UsageError("--up and --dry-run: choose one (a dry run changes nothing)")
        from components.topology import plan_topology

        topology = plan_topology(settings)
        wanted = [f"{s.hostname}:7687" for s in topology.servers]
        uri = connect_uri(args, settings)
        if args.ca_cert and not Path(args.ca_cert).is_file():
            raise UsageError(f"--ca-cert {args.ca_cert}: no such file")
        if args.ca_cert is None and settings.tls == "required":
            raise UsageError("the stack requires TLS: give --ca-cert with the cluster's CA certificate "
                             "(stack output caCertPem)")
        log = cli.logger("scale", args.quiet)
        auth = Auth(args.user, read_password(args.password_env))
        tls = TlsOptions(args.ca_cert, not args.no_verify_hostname)
        wait = scaling.Wait(timeout_seconds=args.wait_minutes * 60)
        primaries, secondaries = settings.core_count, settings.replica_count
        databases = [args.database] if args.database else None
        # Each database the stack defines at its own topology (neo4j:databases; the default one at the stack's
        # counts unless an entry names it); the others keep theirs, lowered only as far as scaling in requires.
        topologies = {d.name: (d.primaries, d.secondaries) for d in settings.database_topologies}
        with cluster_cli.bolt_transport(transport, tls, args.timeout) as real:
            client = real.client(uri, auth)
            try:
                run = statement_runner(client, args.timeout)
                version = cluster_version(run)
                listed = scaling.listed_addresses(run, version)
                leaving = [a for a in listed if a not in wanted]
                log(f"Neo4j {version}; stack {settings.stack}: {primaries} primaries, {secondaries} secondaries; "
                    f"the cluster lists {len(listed)} servers" + (f", leaving: {', '.join(leaving)}" if leaving
                                                                  else ""))
                if leaving:
                    result = scaling.scale_in(run, version, leaving, databases, primaries, secondaries, log,
                                              dry_run=args.dry_run, wait=wait, topologies=topologies)
                    if args.up and not result.dry_run:
                        pulumi_up(settings.stack, log)
                        result.notes.append(f"pulumi up removed the machines of {', '.join(leaving)}")
                    elif not result.dry_run:
                        result.notes.append(f"next: make up STACK={settings.stack} (removes the machines of "
                                            f"{', '.join(leaving)})")
                else:
                    if args.up:
                        pulumi_up(settings.stack, log)
                    new = [a for a in wanted if a not in listed]
                    if new and not args.up and not args.dry_run:
                        log(f"waiting for {', '.join(new)}: their machines come with `make up STACK={settings.stack}`")
                    result = scaling.scale_out(run, version, databases, primaries, secondaries, log,
                                               expected_addresses=new, dry_run=args.dry_run, wait=wait,
                                               topologies=topologies)
            except BoltError as error:
                raise OperationError(f"{uri}: {error.message}") from None
        return cli.print_report(result, args.json, scaling.render_text)

    return cli.run("scale", body)
