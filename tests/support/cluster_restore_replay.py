"""Recorded (derived) Enterprise responses for cluster restores (tests/fixtures/enterprise/cluster-restore/, see the
README there), shared by the tests of restore.py --cluster (tests/unit/test_cluster_restore_*.py): `load` reads a
scenario (following its `extends`), `Replay` is a stand-in for the runtime's `run(statement, params)` answering from
one, `manifest` builds the backup manifest a restore starts from, and `upload_backup` puts a backup and its manifest
into the bucket (moto's in-process S3: the `restore_s3` fixture of tests/unit/conftest.py)."""
from __future__ import annotations

import json
from collections import Counter

from scripts.neo4j_ops.backup.layout import FileEntry, Manifest, Parent
from scripts.neo4j_ops.bolt import BoltError
from scripts.neo4j_ops.facts import Counts
from scripts.neo4j_ops.queries import Named
from tests.conftest import ENTERPRISE

RESTORE_FIXTURES = ENTERPRISE / "cluster-restore"
BUCKET = "acme-neo4j-backups"
SHA = "ab" * 32
# What a restore reads first (read_state): the aliases, then every database.
READ_STATE = ["SHOW ALIASES FOR DATABASE YIELD name, database, location", "SHOW DATABASES YIELD *"]


MOVIES = Counts(171, 253)


def manifest(backup_type: str = "full", line: str = "5", counts: Counts = MOVIES, exact: bool = True,
             stamp: str = "20250131T020000Z") -> Manifest:
    parents = ()
    name = "neo4j-2025-01-31T02-00-00.backup"
    if backup_type == "differential":
        parents = (Parent("20250129T020000Z", (FileEntry("neo4j-2025-01-29T02-00-00.backup", 900, SHA),)),
                   Parent("20250130T020000Z", (FileEntry("neo4j-2025-01-30T02-00-00.backup", 50, SHA),)))
    if backup_type == "dump":
        name = "neo4j.dump"
    if line == "4.4":
        name = "neo4j-backup.tar"
    return Manifest(stack="prod", database="neo4j", timestamp=stamp, backup_type=backup_type,
                    method="neo4j-admin database backup", neo4j_version="5.26.30", edition="enterprise",
                    version_line=line, files=(FileEntry(name, 1000, SHA),), counts=counts, counts_exact=exact,
                    started=stamp, completed=stamp, host="replica-1", parents=parents)


def load(name: str) -> dict:
    scenario = json.loads((RESTORE_FIXTURES / name).read_text())
    base = scenario.pop("extends", None)
    if base:
        merged = load(base)
        merged["responses"].update(scenario["responses"])
        merged["description"] = scenario["description"]
        return merged
    return scenario


class Replay:
    """`run` answering from a scenario by the statement's name; lists play in order, the last repeating. Keeps
    (cypher sent, database) per call, and whether each went as a write."""

    def __init__(self, name: str):
        self.responses = load(name)["responses"]
        self.calls: list[tuple[str, str]] = []
        self.writes: list[bool] = []
        self.played: Counter = Counter()

    def __call__(self, statement: Named, params: dict | None = None) -> list[dict]:
        self.calls.append((statement.cypher, statement.database))
        self.writes.append(statement.write)
        name = statement.name
        if name not in self.responses:
            raise AssertionError(f"no recorded response for: {name}")
        answer = self.responses[name]
        if isinstance(answer, list):
            answer = answer[min(self.played[name], len(answer) - 1)]
            self.played[name] += 1
        if "error" in answer:
            e = answer["error"]
            raise BoltError(e["kind"], e["message"], e.get("code"))
        return answer["records"]

    @property
    def cypher(self) -> list[str]:
        return [c for c, _ in self.calls]


def upload_backup(s3, m: Manifest, body: bytes) -> Manifest:
    import hashlib

    from scripts.neo4j_ops.backup.layout import object_key
    from scripts.neo4j_ops.backup.s3 import put_manifest

    entry = FileEntry(m.files[0].name, len(body), hashlib.sha256(body).hexdigest())
    m = Manifest(**{**m.__dict__, "files": (entry,)})
    s3.put_object(Bucket=BUCKET, Key=object_key(m.stack, m.database, m.timestamp, entry.name), Body=body)
    put_manifest(s3, BUCKET, m)
    return m
