"""The test servers' auth.ini (tests/support/neo4j_local._auth_file): neo4j-admin writes it once per password and
release, then it comes from the tests' cache (each run of the tool is a JVM)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from tests.support import neo4j_local


def test_auth_file_is_written_by_neo4j_admin_once_per_password_and_release_then_read_from_the_cache(
        tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_DIST_CACHE_DIR", str(tmp_path / "cache"))
    runs: list[tuple[list[str], str]] = []

    def neo4j_admin(args, home, *, version, **_):
        runs.append((args, version))
        (Path(home) / "data" / "dbms").mkdir(parents=True, exist_ok=True)
        (Path(home) / "data" / "dbms" / "auth.ini").write_text(f"neo4j:SHA-256,run-{len(runs)}:\n")

    monkeypatch.setattr(neo4j_local, "run_neo4j_admin", neo4j_admin)
    monkeypatch.setattr(neo4j_local, "local_jvm_args", lambda version: ())  # no class data sharing archive to make
    auth_file = neo4j_local._auth_file.__wrapped__  # past the per-process cache: what another worker would do

    first = auth_file("secret-1", "5.26.30")
    assert first == auth_file("secret-1", "5.26.30") == "neo4j:SHA-256,run-1:\n"
    assert runs == [(["dbms", "set-initial-password", "secret-1"], "5.26.30")]
    # Another password, another release: the tool runs again, each kept apart.
    assert auth_file("secret-2", "5.26.30") == "neo4j:SHA-256,run-2:\n"
    assert auth_file("secret-1", "4.4.46") == "neo4j:SHA-256,run-3:\n"
    assert runs[2] == (["set-initial-password", "secret-1"], "4.4.46")
    cached = tmp_path / "cache" / "5.26.30" / "auth"
    assert sorted(path.name for path in cached.iterdir()) == sorted(
        f"{hashlib.sha256(password).hexdigest()}.ini" for password in (b"secret-1", b"secret-2"))
