"""backup.py --help names the neo4j-admin backup types the code runs: FULL, then DIFF, never AUTO (the manifest must
record the type, and AUTO may fall back to a full backup silently; scripts/neo4j_ops/backup/online.py)."""
from __future__ import annotations

import re

from scripts.neo4j_ops.backup.commands import backup_parser
from scripts.neo4j_ops.backup.online import __file__ as online_py


def test_the_help_names_only_the_types_the_code_passes_to_neo4j_admin():
    help_text = backup_parser().format_help()
    in_help = set(re.findall(r"--type=([A-Z]+)", help_text))
    code = open(online_py).read()
    in_code = set(re.findall(r'"(FULL|DIFF|AUTO)"', code))
    assert in_code == {"FULL", "DIFF"}
    assert in_help == in_code, help_text
