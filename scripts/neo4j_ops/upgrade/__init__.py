"""`make upgrade STACK=… VERSION=… [DRY_RUN=1]` (scripts/upgrade.py): a running cluster to another Neo4j release.

  preflight  pure findings over what was read (backups, database states, hosting, the cluster status check,
             discovery) and the one function that reads them
  command    the command line: the version guard (shared/upgrade_paths.py, as `make rollout` applies it), the
             preflight, the rollout (rollout/run.py) and the full check (checks/run.py)
  offline    the offline steps of a version change on one server (issue 24, item 4; its own module)
  migrate    `make migrate FROM=… TO=…` (scripts/migrate.py): a 4.4 stack into a new 5.26 stack, planned (pure);
             migrate_command its command line (issue 24, item 3)
"""
from .command import build_parser, main

__all__ = ["build_parser", "main"]
