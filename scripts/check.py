#!/usr/bin/env python3
"""Post-deploy checks of a Neo4j cluster over Bolt. See `python scripts/check.py --help`.

The logic lives in scripts/neo4j_ops/checks/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.checks import main

if __name__ == "__main__":
    sys.exit(main())
