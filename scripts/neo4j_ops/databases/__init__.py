"""Standard databases as code (scripts/databases.py, `make databases STACK=<s>`): the stack's neo4j:databases
created where missing and their topology corrected, never one dropped.

  plan     pure, over SHOW DATABASES YIELD * rows: the statements in order, the unmanaged databases
  run      apply: the plan's statements sent in order (or printed, --dry-run), CREATE … WAIT's answer checked
  command  the command line
"""
from .command import build_parser, main

__all__ = ["build_parser", "main"]
