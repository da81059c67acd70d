"""Scaling the secondaries (scripts/scale.py, `make scale STACK=<s>`): the Cypher that makes new servers host the
databases, and that moves the databases off servers before their machines go.

  plan    pure, over SHOW SERVERS / SHOW DATABASES rows: find_server, hosts, user_databases, can_host,
          capacity_problems, refusals (what makes removing servers unsafe), deallocated
  run     scale_out / scale_in (and their 4.4 variants), the statements and the rules they follow
  command the command line: stack and cluster compared, the direction chosen, --dry-run, --up
"""
from .command import build_parser, main
from .run import (
    LIST_SERVERS,
    SHOW_DATABASES,
    SHOW_SERVERS,
    ScaleResult,
    ScalingRefusedError,
    Statement,
    Wait,
    bolt_runner,
    cordon_statement,
    deallocate_statement,
    drop_statement,
    enable_statement,
    listed_addresses,
    literal,
    render_text,
    scale_in,
    scale_out,
    topology_statement,
)

__all__ = ["LIST_SERVERS", "SHOW_DATABASES", "SHOW_SERVERS", "ScaleResult", "ScalingRefusedError", "Statement",
           "Wait", "bolt_runner", "build_parser", "cordon_statement", "deallocate_statement", "drop_statement",
           "enable_statement", "listed_addresses", "literal", "main", "render_text", "scale_in", "scale_out",
           "topology_statement"]
