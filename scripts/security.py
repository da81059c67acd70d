#!/usr/bin/env python3
"""Apply the stack's users and roles to a running Neo4j, idempotently. See `python scripts/security.py --help`.

The logic lives in scripts/neo4j_ops/security/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.security import main

if __name__ == "__main__":
    sys.exit(main())
