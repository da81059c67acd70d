"""Scaling the secondaries (scripts/scale.py, `make scale STACK=<s>`): the Cypher that makes new servers host the
databases, and that moves the databases off servers before their machines go.

  plan        pure, over SHOW SERVERS / SHOW DATABASES rows: find_server, hosts, user_databases, can_host,
              capacity_problems, refusals (what makes removing servers unsafe), refuse_single_primary,
              deallocated, overview_addresses (4.4)
  statements  pure builders of what is sent at run time: topology, enable, cordon, deallocate, drop; literal()
  run         scale_out / scale_in (and their 4.4 variants): the statements sent in order, the waits between
  command     the command line: stack and cluster compared, the direction chosen, --dry-run, --up
"""
from .command import build_parser, main

__all__ = ["build_parser", "main"]
