#!/usr/bin/env python3
"""Create the stack's neo4j:databases and correct their topology. See `python scripts/databases.py --help`.

The logic lives in scripts/neo4j_ops/databases/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.databases import main

if __name__ == "__main__":
    sys.exit(main())
