#!/usr/bin/env python3
"""Migrate a 4.4 stack into a new 5.26 stack (the Upgrade and Migration Guide's "Migrate databases from 4.4 LTS"): per
database its backup, restored and migrated on one 5.26 server, the seed in the new stack's bucket, CREATE DATABASE
from it; then users, roles and privileges. See `python scripts/migrate.py --help` (or `make migrate FROM=… TO=…`).

The logic lives in scripts/neo4j_ops/upgrade/migrate.py and migrate_command.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.neo4j_ops.upgrade.migrate_command import main

if __name__ == "__main__":
    sys.exit(main())
