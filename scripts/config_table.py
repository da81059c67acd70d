#!/usr/bin/env python3
"""Print the README's config reference table, or rewrite it in place. See `python scripts/config_table.py --help`.

The logic lives in scripts/neo4j_ops/config_table.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.config_table import main

if __name__ == "__main__":
    sys.exit(main())
