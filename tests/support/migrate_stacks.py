"""The two recorded stacks of `make migrate` (the fixture README says how they were DERIVED), shared by
tests/unit/test_migrate.py and test_migrate_run.py: FROM (migrate-4.4-legacy.json, the 4.4 DBMS the backups come
from) and TO (migrate-5.26-prod.json), their servers' Bolt addresses, the clock both runs read (NOW), and
`stack_files`, the two stacks' Pulumi.<stack>.yaml written for a run (TLS off)."""
from __future__ import annotations

from datetime import UTC, datetime

import yaml

from tests.conftest import ENTERPRISE, stack_config_on

FROM, TO = ENTERPRISE / "migrate-4.4-legacy.json", ENTERPRISE / "migrate-5.26-prod.json"
NOW = lambda: datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # noqa: E731
FROM_URI, TO_URI = "bolt://core-1.legacy.neo4j.internal:7687", "bolt://core-1.prod.neo4j.internal:7687"


def stack_files(tmp_path, from_version="4.4.46", to_version="5.26.30") -> list[str]:
    paths = []
    for name, version in (("legacy", from_version), ("prod", to_version)):
        config = {**stack_config_on("prod", version), "neo4j:tls": "disabled"}
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}))
        paths.append(str(path))
    return ["--from-stack-file", paths[0], "--to-stack-file", paths[1]]
