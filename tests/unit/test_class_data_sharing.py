"""The tests' CDS archive bookkeeping (tests/support/class_data_sharing.py): one server at a time makes the archive,
what it wrote is moved into place only whole, a claim never outlives its server's stop, and Java 21 gets none."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import class_data_sharing as cds
from tests.support.neo4j_dist import NEO4J_VERSIONS

V526 = NEO4J_VERSIONS["5"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NEO4J_DIST_CACHE_DIR", str(tmp_path))
    # The archive's name holds the class path: a stand-in one (the jars need not be downloaded for this).
    monkeypatch.setattr(cds, "neo4j_classpath", lambda version: f"/jars/neo4j-{version}.jar")
    return tmp_path


def pending_of(args: tuple[str, ...]) -> Path:
    [arg] = args
    assert arg.startswith(cds.CREATE_FLAG)
    return Path(arg[len(cds.CREATE_FLAG):])


def test_the_first_server_makes_the_archive_others_meanwhile_run_without_and_later_ones_map_it():
    archive = cds.archive_for(V526)
    maker = cds.server_args(V526)
    pending = pending_of(maker)
    assert pending.parent == archive.parent and pending != archive
    assert cds.server_args(V526) == () and cds.use_args(V526) == ()  # claimed: no second maker
    pending.write_bytes(b"classes")  # what the JVM writes when it stops
    cds.adopt(["-XX:TieredStopAtLevel=1", *maker])
    assert archive.read_bytes() == b"classes" and not pending.exists()
    assert cds.server_args(V526) == cds.use_args(V526) == (f"{cds.USE_FLAG}{archive}",)


def test_a_maker_that_wrote_nothing_leaves_no_archive_and_releases_its_claim():
    maker = cds.server_args(V526)
    pending_of(maker).write_bytes(b"")  # killed mid-write, or no archive written
    cds.adopt(list(maker))
    assert not cds.archive_for(V526).exists()
    assert pending_of(cds.server_args(V526))  # the next server may try again


def test_a_stale_claim_of_a_killed_maker_is_taken_over(monkeypatch):
    cds.server_args(V526)
    monkeypatch.setattr(cds, "STALE_CLAIM_SECONDS", -1)
    assert pending_of(cds.server_args(V526))


def test_the_2025_line_whose_jvm_wrote_no_archive_gets_none():
    assert cds.archive_for(NEO4J_VERSIONS["2025"]) is None and cds.server_args(NEO4J_VERSIONS["2025"]) == ()
    assert cds.use_args(NEO4J_VERSIONS["2025"]) == ()


def test_each_release_gets_an_archive_of_its_own():
    assert len({cds.archive_for(v) for v in (NEO4J_VERSIONS["4.4"], V526, "5.26.0")}) == 3
