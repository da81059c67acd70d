"""The rolling rollout (scripts/rollout.py, `make rollout STACK=<s>`): apply what `pulumi up` holds back on
running servers (image, user data, instance type, subnet), one server at a time.

  order   pure: the cluster's view (roles, who leads which database) and the pending servers → ordered
          steps with a reason each: secondaries, then primaries that lead nothing, the leader(s) last
  gates   before a step: the cluster is healthy (the checks of scripts/check.py); after it: the server is
          back, Enabled, hosting its databases and caught up, within a time limit, with progress lines
  stack   the Pulumi boundary (a small Protocol): which servers have something pending, and one step's
          targeted `up` with neo4j:rolloutRelease naming that server; the Automation API behind it
  version_guard  before anything: the release the servers run → neo4j:version must be a supported path
  status_check  before a primary stops (5.24+, 2025): CALL dbms.cluster.statusCheck([]) on every primary
  leadership  before a leader stops (Enterprise): its standard databases made read-only on it, so the cluster moves
          their leadership away; waits until SHOW DATABASES names another writer (system: the election after the stop)
  run     the loop: stop at the first failure, leave the other servers untouched, say how to resume
  command the command line
"""
from .command import build_parser, main

__all__ = ["build_parser", "main"]
