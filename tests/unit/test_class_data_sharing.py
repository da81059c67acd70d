"""Which test JVMs map a class data sharing archive (tests/support/class_data_sharing.py): the archive of their own
release when it exists, nothing otherwise, and none on the 2025 line (its JVM wrote none). Making one runs a real
server: tests/integration/test_class_data_sharing_real_neo4j.py."""
from __future__ import annotations

import pytest

from tests.support import class_data_sharing as cds
from tests.support.neo4j_dist import NEO4J_VERSIONS

V526 = NEO4J_VERSIONS["5"]


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(cds, "cache_root", lambda: tmp_path)
    # The archive's name holds the class path: a stand-in one (the jars need not be downloaded for this).
    monkeypatch.setattr(cds, "neo4j_classpath", lambda version: f"/jars/neo4j-{version}.jar")
    return tmp_path


def test_a_server_maps_its_releases_archive_only_once_it_exists():
    assert cds.use_args(V526) == ()
    archive = cds.archive_for(V526)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"classes")
    assert cds.use_args(V526) == (f"{cds.USE_FLAG}{archive}",)
    assert cds.make_archive(V526) == archive  # made already: no server started


def test_the_2025_line_whose_jvm_wrote_no_archive_gets_none():
    assert cds.archive_for(NEO4J_VERSIONS["2025"]) is None and cds.use_args(NEO4J_VERSIONS["2025"]) == ()
    assert cds.make_archive(NEO4J_VERSIONS["2025"]) is None


def test_each_release_gets_an_archive_of_its_own():
    assert len({cds.archive_for(v) for v in (NEO4J_VERSIONS["4.4"], V526, "5.26.0")}) == 3
