#!/usr/bin/env python3
"""Scale a running cluster to the stack's neo4j:replicaCount. See `python scripts/scale.py --help`.

The logic lives in scripts/neo4j_ops/scaling/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.scaling import main

if __name__ == "__main__":
    sys.exit(main())
