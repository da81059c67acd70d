#!/usr/bin/env python3
"""Rolling rollout of what `pulumi up` holds back on running servers, one server at a time, through
Pulumi's Automation API. See `python scripts/rollout.py --help` (or `make rollout STACK=<stack>`).

The logic lives in scripts/neo4j_ops/rollout/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.rollout import main

if __name__ == "__main__":
    sys.exit(main())
