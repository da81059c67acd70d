"""The least memory a neo4j-admin process gets beside a running Neo4j: its heap, and its page cache (backup) or
off-heap memory (check). Shared by both sides: components/sizing.py's budget must meet these floors (the settings
refuse a backup host's plan that leaves less), and the backup tools on the machine fall back to them on a machine
smaller than the one their budget was sized for (scripts/neo4j_ops/backup/machine_fit.py).
"""
from __future__ import annotations

MIB = 1024 ** 2
ADMIN_HEAP_FLOOR = 256 * MIB
ADMIN_OFF_HEAP_FLOOR = 128 * MIB
