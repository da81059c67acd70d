"""Post-deploy checks over Bolt (scripts/check.py): `run_checks(target, transport)` → CheckReport.

  run         the run: phase 1 (every server's facts, the probes) and phase 2 (what needs the facts)
  membership  reachable with the expected version; topology; databases in their state; one writer each
  lag         replication lag of every copy (diagnose measures it the same way)
  routing     a write and a read-your-own-write through the routing URI and through HAProxy
  tls         plain Bolt refused when required, Bolt over TLS with the cluster CA, each certificate's expiry
  wait        --wait: until every server answers and the cluster has formed
  access      users and roles exist; a reader cannot write
  endpoints   the Prometheus endpoints and the backup bucket
  results     what every check returns: PASS/FAIL/SKIP results, the reason a task failed, CheckReport
  overview    the servers' overview table and the report's text
  command     the command line
"""
from .command import build_parser, main
from .run import run_checks

__all__ = ["build_parser", "main", "run_checks"]
