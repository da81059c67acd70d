"""The failover drill (scripts/drill.py, `make drill STACK=<s>`): stop the leader under a write load, measure.

  plan     pure: the leader of system and the default database from SHOW DATABASES, the fault tolerance, the
           refusals (fault tolerance 0, production without --yes), the thresholds and what is over them
  load     the write load through the entry point (one client, retries as a driver's) and its figures from the
           attempt log: failed attempts, retried and lost writes, the write outage, a new leader's first write
  stopper  the stop/start boundary (a small Protocol): SSM's `systemctl stop|start neo4j` on AWS, `docker
           stop|start` locally
  run      the drill: load, stop, a new leader, start, back and caught up (the rollout's after-gate and the
           run's writes on the server itself), the server always started again
  command  the command line; the record for Neo4jFailoverDrillTooOld (backup/failover_drills.py)
"""
from .command import build_parser, main

__all__ = ["build_parser", "main"]
