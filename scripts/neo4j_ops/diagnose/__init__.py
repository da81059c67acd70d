"""The troubleshooting guide as a command (scripts/diagnose.py): findings, each with a suggested action.

Per server, at once: who it is and how it sees the cluster (as the checks do), its transactions,
heap use, memory settings, and on Enterprise the Prometheus endpoint (page-cache hit and usage
ratios, heap). Then: leaders per database (split brain), cluster membership, database states,
replication lag, slow queries, idle and blocked transactions, heap and page cache. Findings are
critical (the cluster is not serving as it should), warning (it will hurt), or info (numbers
worth knowing).

  gather            what each server is asked
  cluster_findings  the cluster as a whole (and the order of all findings)
  server_findings   one server's transactions and memory
  report            findings, thresholds, the text
  command           the run and the command line
"""
from .command import build_parser, main, run_diagnosis
from .gather import parse_prometheus

__all__ = ["build_parser", "main", "parse_prometheus", "run_diagnosis"]
