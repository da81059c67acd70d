#!/usr/bin/env python3
"""Back up a Neo4j database to S3, manifest last. See `python scripts/backup.py --help`.

The logic lives in scripts/neo4j_ops/backup/ (commands.py); on the backup server the timer runs this
file from the tooling archive (components/tooling.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.backup.commands import backup_main as main

if __name__ == "__main__":
    sys.exit(main())
