"""Run one of the operations scripts (scripts/<name>.py: backup, restore, ...) as a user would, in a process of its
own with none of this process' AWS_, NEO4J_ or BACKUP_ variables; shared by tests/unit/test_backup_ops.py and
test_restore_safety.py."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def script(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEO4J_", "BACKUP_"))}
    # Without credentials an AWS SDK asks the cloud metadata address: never from a test process.
    clean["AWS_EC2_METADATA_DISABLED"] = "true"
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{name}.py"), *args], capture_output=True,
                          text=True, timeout=60, env={**clean, **(env or {})})
