#!/usr/bin/env python3
"""Offline plan of a stack: what `pulumi up` would build, without cloud, Pulumi CLI or Docker.
See `python scripts/plan.py --help` (or `make plan STACK=<stack>`).

The logic lives in scripts/neo4j_ops/plan/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.plan.command import main

if __name__ == "__main__":
    sys.exit(main())
