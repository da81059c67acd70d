#!/usr/bin/env python3
"""Troubleshooting report of a running Neo4j cluster. See `python scripts/diagnose.py --help`.

The logic lives in scripts/neo4j_ops/diagnose/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.diagnose import main

if __name__ == "__main__":
    sys.exit(main())
