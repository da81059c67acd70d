#!/usr/bin/env python3
"""Upgrade a running cluster to another Neo4j release: the version guard, a preflight (a verified recent backup,
databases and hosting as requested, the cluster status check, discovery), the rolling rollout, the full check.
See `python scripts/upgrade.py --help` (or `make upgrade STACK=<stack> VERSION=<x.y.z> DRY_RUN=1`).

The logic lives in scripts/neo4j_ops/upgrade/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.upgrade import main

if __name__ == "__main__":
    sys.exit(main())
