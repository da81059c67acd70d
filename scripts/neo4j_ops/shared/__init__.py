"""What the deploy program (components/) and the operator runtime (scripts/neo4j_ops/) both need.

  versions  the one version-line rule (4.4, 5, 2025) and what each line supports
  errors    the one error family of the operator commands (UsageError → exit 2, OperationError → 1)

The rule that keeps imports one way (tests/unit/test_import_direction.py): components/ imports from
scripts/ only this package; this package imports nothing of components/ nor of the rest of the
runtime, only the standard library. It ships to the backup server with the backup tools.
"""
