"""Issue 20's safety faults of backup.py/restore.py that need no Neo4j: what a safety dump is estimated to need,
doubts about the work directory, AWS credentials, and uploads earlier runs left unfinished (moto in process).
Each test names the fault it pins; the faults that need a real server are in
tests/integration/backup/test_backup_faults.py."""
from __future__ import annotations

from pathlib import Path

from scripts.neo4j_ops.backup import staging
from scripts.neo4j_ops.backup.admin import AdminTool

MiB = 1024 * 1024


def fake_store(home: Path, database: str = "neo4j", *, store: int, logged: int, preallocated: int) -> None:
    """A NEO4J_HOME whose store files hold `store` bytes and whose one transaction log holds `logged` bytes
    followed by `preallocated` zeros (as Neo4j pre-allocates its logs)."""
    (home / "conf").mkdir(parents=True)
    (home / "conf" / "neo4j.conf").write_text("server.directories.data=data\n")
    stores = home / "data" / "databases" / database
    logs = home / "data" / "transactions" / database
    stores.mkdir(parents=True)
    logs.mkdir(parents=True)
    (stores / "neostore.nodestore.db").write_bytes(b"\x01" * store)
    with open(logs / "neostore.transaction.db.0", "wb") as log:
        log.write(b"\x02" * logged)
        log.truncate(logged + preallocated)  # zeros, sparse: cheap on the test's disk


def test_the_safety_dump_estimate_counts_what_the_logs_hold_not_their_preallocation(tmp_path):
    """Fault: the estimate counted pre-allocated transaction logs (it asked for 325 MiB for a 37 MiB dump,
    refusing restores that fit)."""
    fake_store(tmp_path, store=3 * MiB, logged=100_000, preallocated=256 * MiB)
    admin = AdminTool(["neo4j-admin"], tmp_path)
    assert staging.store_size(admin, "neo4j") == 3 * MiB + 100_000


def test_written_bytes_keeps_zeros_inside_the_data_and_drops_only_the_tail(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"\x07" + b"\0" * (3 * MiB) + b"\x07" + b"\0" * (2 * MiB + 5))
    assert staging.written_bytes(path) == 3 * MiB + 2
    path.write_bytes(b"\0" * 10)
    assert staging.written_bytes(path) == 0
