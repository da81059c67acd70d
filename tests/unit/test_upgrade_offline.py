"""scripts/neo4j_ops/upgrade/offline.py: the offline steps per pair of releases (pure; the real servers run them in
tests/integration/test_upgrade_real_neo4j.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.neo4j_ops.upgrade.offline import (
    ADMIN,
    CONFIGURE,
    START,
    STOP,
    SYSTEM_UPGRADE_FAILURE,
    UnsupportedPathError,
    offline_steps,
)

DUMPS, DATA = Path("/migration/dumps"), Path("/var/lib/neo4j/data")


def steps(source, target, via=None, databases=("neo4j", "system")):
    return offline_steps(source, target, databases=databases, dump_dir=DUMPS, data_dir=DATA, via=via)


@pytest.mark.parametrize("source, target", [("5.26.30", "2025.10.1"), ("2025.01.0", "2025.10.1"),
                                            ("5.25.1", "5.26.30"), ("5.26.1", "5.26.30")])
def test_an_upgrade_is_stop_new_conf_on_the_same_data_directory_start(source, target):
    found = steps(source, target)
    assert [(s.kind, s.release) for s in found] == [(STOP, source), (CONFIGURE, target), (START, target)]
    assert found[1].settings == (("server.directories.data", str(DATA)),)
    assert all(s.why for s in found)


def test_a_44_migration_dumps_loads_and_migrates_system_first_then_starts_526():
    found = steps("4.4.46", "5.26.30")
    assert [(s.kind, s.release, s.argv) for s in found] == [
        (STOP, "4.4.46", ("neo4j", "stop")),
        (ADMIN, "4.4.46", ("neo4j-admin", "dump", "--database=system", f"--to={DUMPS / 'system.dump'}")),
        (ADMIN, "4.4.46", ("neo4j-admin", "dump", "--database=neo4j", f"--to={DUMPS / 'neo4j.dump'}")),
        (CONFIGURE, "5.26.30", ()),
        (ADMIN, "5.26.30", ("neo4j-admin", "database", "load", f"--from-path={DUMPS}", "--overwrite-destination=true",
                            "system")),
        (ADMIN, "5.26.30", ("neo4j-admin", "database", "load", f"--from-path={DUMPS}", "--overwrite-destination=true",
                            "neo4j")),
        (ADMIN, "5.26.30", ("neo4j-admin", "database", "migrate", "--force-btree-indexes-to-range", "system")),
        (ADMIN, "5.26.30", ("neo4j-admin", "database", "migrate", "--force-btree-indexes-to-range", "neo4j")),
        (START, "5.26.30", ("neo4j", "start")),
    ]
    # Only the system migration's measured failure is tolerated (offline.SYSTEM_UPGRADE_FAILURE).
    assert [s.database for s in found if s.tolerate] == ["system"]
    assert found[6].tolerate == SYSTEM_UPGRADE_FAILURE


def test_44_to_2025_passes_through_the_526_named_as_via():
    found = steps("4.4.46", "2025.10.1", via="5.26.30")
    assert [s.release for s in found if s.kind == START] == ["5.26.30", "2025.10.1"]
    assert found[-3:][0].kind == STOP and found[-3:][0].release == "5.26.30"
    with pytest.raises(UnsupportedPathError, match="through the 5.26 LTS"):
        steps("4.4.46", "2025.10.1")
    with pytest.raises(UnsupportedPathError, match="through the 5.26 LTS"):
        steps("4.4.46", "2025.10.1", via="5.25.0")


@pytest.mark.parametrize("source, target, words", [
    ("2025.10.1", "5.26.30", "a downgrade is not supported"),
    ("5.26.30", "5.26.1", "a downgrade is not supported"),
    ("5.20.0", "2025.10.1", "skips the 5.26 LTS"),
    ("4.4.46", "5.25.0", "only to the 5.26 LTS"),
    ("4.4.40", "4.4.46", "not covered here"),
])
def test_what_has_no_offline_path_is_refused_naming_why(source, target, words):
    with pytest.raises(UnsupportedPathError, match=words):
        steps(source, target)


def test_the_same_release_has_no_steps_and_system_is_required():
    assert steps("5.26.30", "5.26.30") == ()
    with pytest.raises(UnsupportedPathError, match="include system"):
        steps("4.4.46", "5.26.30", databases=("neo4j",))
