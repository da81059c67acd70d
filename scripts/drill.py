#!/usr/bin/env python3
"""Failover drill: stop the leader of system and the default database under a write load through the entry point,
and report how long writes failed, the writes retried and lost, and when the stopped server was back and caught
up. See `python scripts/drill.py --help` (or `make drill STACK=<stack>`).

The logic lives in scripts/neo4j_ops/drill/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.drill import main

if __name__ == "__main__":
    sys.exit(main())
