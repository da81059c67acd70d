"""Scaling the secondaries (scripts/scale.py, `make scale STACK=<s>`): the Cypher that makes new servers host the
databases, and that moves the databases off servers before their machines go.

  plan        pure, over SHOW SERVERS / SHOW DATABASES rows: find_server, hosts, user_databases, can_host,
              capacity_problems, refusals (what makes removing servers unsafe), deallocated
  statements  pure builders of what is sent at run time: topology, enable, cordon, deallocate, drop; literal()
  run         scale_out / scale_in (and their 4.4 variants): the statements sent in order, the waits between
  command     the command line: stack and cluster compared, the direction chosen, --dry-run, --up
"""
from .command import build_parser, main
from .plan import ScalingRefusedError
from .run import (
    LIST_SERVERS,
    SHOW_DATABASES,
    SHOW_SERVERS,
    ScaleResult,
    Wait,
    bolt_runner,
    listed_addresses,
    render_text,
    scale_in,
    scale_out,
)
from .statements import (
    Statement,
    cordon_statement,
    deallocate_statement,
    drop_statement,
    enable_statement,
    literal,
    topology_statement,
)

__all__ = ["LIST_SERVERS", "SHOW_DATABASES", "SHOW_SERVERS", "ScaleResult", "ScalingRefusedError", "Statement",
           "Wait", "bolt_runner", "build_parser", "cordon_statement", "deallocate_statement", "drop_statement",
           "enable_statement", "listed_addresses", "literal", "main", "render_text", "scale_in", "scale_out",
           "topology_statement"]
