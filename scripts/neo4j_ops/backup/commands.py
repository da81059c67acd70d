"""neo4j-admin argument lists per version line, and the throw-away server's neo4j.conf. Pure.

Lines (as in components/settings.py): "4.4" (`neo4j-admin backup|restore|dump|load`), "5" (5.26 LTS)
and "2025" (calendar releases), both with `neo4j-admin database backup|restore|dump|load`.
"""
from __future__ import annotations

import re
from pathlib import Path

_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(\.\d+)?")
LINES = ("4.4", "5", "2025")


def version_line(version: str) -> str:
    """'5.26.30' → '5', '4.4.41' → '4.4', '2025.10.1' → '2025'; ValueError for other releases."""
    match = _VERSION.match(version.strip())
    if match:
        major, minor = int(match["major"]), int(match["minor"])
        if major == 4 and minor == 4:
            return "4.4"
        if major == 5:
            return "5"
        if major >= 2025:
            return "2025"
    raise ValueError(f"Neo4j {version} is not a release this tool knows (4.4.x, 5.x, 2025.x and later)")


def _modern(line: str) -> bool:
    if line not in LINES:
        raise ValueError(f"unknown version line {line!r}")
    return line != "4.4"


def dump_to_stdout(line: str, database: str) -> list[str]:
    """Offline dump streamed to standard output (5 and later; 4.4 has no such option)."""
    if not _modern(line):
        raise ValueError("Neo4j 4.4's neo4j-admin dump cannot write to standard output")
    return ["database", "dump", "--to-stdout", database]  # --verbose would print to stdout too


def dump_to_path(line: str, database: str, directory: Path) -> list[str]:
    """Offline dump into `directory`/<database>.dump."""
    if _modern(line):
        return ["database", "dump", f"--to-path={directory}", "--overwrite-destination=true", database]
    return ["dump", f"--database={database}", f"--to={directory / (database + '.dump')}"]


def dump_file_name(database: str) -> str:
    return f"{database}.dump"


def load(line: str, database: str, directory: Path) -> list[str]:
    """Load `directory`/<database>.dump over the existing database (the server must be stopped)."""
    if _modern(line):
        return ["database", "load", f"--from-path={directory}", "--overwrite-destination=true", database]
    return ["load", f"--from={directory / dump_file_name(database)}", f"--database={database}", "--force"]


def online_backup(line: str, database: str, source: str, directory: Path) -> list[str]:
    """Enterprise online backup from `source` (host:port) into `directory`.

    5/2025: `--type=AUTO`: a full artifact into an empty directory, then differential artifacts
    into the same one. 4.4: a backup folder `directory`/<database>, updated in place.
    """
    if _modern(line):
        return ["database", "backup", f"--from={source}", f"--to-path={directory}", "--type=AUTO", database]
    return ["backup", f"--from={source}", f"--backup-dir={directory}", f"--database={database}"]


def restore(line: str, database: str, directory: Path) -> list[str]:
    """Restore the chain of backup artifacts in `directory` (4.4: the backup folder) over the database."""
    if _modern(line):
        return ["database", "restore", f"--from-path={directory}", "--overwrite-destination=true", database]
    return ["restore", f"--from={directory / database}", f"--database={database}", "--force"]


def set_initial_password(line: str, password: str) -> list[str]:
    if _modern(line):
        return ["dbms", "set-initial-password", password]
    return ["set-initial-password", password]


def scratch_conf(line: str, edition: str, database: str, root: Path, ports: dict[str, int], heap: str,
                 page_cache: str) -> str:
    """neo4j.conf of the restore drill's throw-away server: everything under `root`, loopback only.

    `ports` needs "bolt", and for enterprise also "cluster", "raft", "routing" and "discovery" (5)
    so that nothing collides with the production server on the same machine.
    """
    enterprise = edition == "enterprise"
    if not _modern(line):
        lines = [
            f"dbms.directories.data={root / 'data'}",
            f"dbms.directories.logs={root / 'logs'}",
            f"dbms.directories.run={root / 'run'}",
            "dbms.default_listen_address=127.0.0.1",
            "dbms.default_advertised_address=127.0.0.1",
            f"dbms.connector.bolt.listen_address=127.0.0.1:{ports['bolt']}",
            "dbms.connector.bolt.tls_level=DISABLED",
            "dbms.connector.http.enabled=false",
            "dbms.connector.https.enabled=false",
            "dbms.security.auth_enabled=true",
            f"dbms.default_database={database}",
            f"dbms.memory.heap.initial_size={heap}",
            f"dbms.memory.heap.max_size={heap}",
            f"dbms.memory.pagecache.size={page_cache}",
        ]
        if enterprise:
            lines += [
                "dbms.mode=SINGLE",
                "dbms.backup.enabled=false",
                "metrics.enabled=false",
                f"causal_clustering.discovery_listen_address=127.0.0.1:{ports['discovery']}",
                f"causal_clustering.transaction_listen_address=127.0.0.1:{ports['cluster']}",
                f"causal_clustering.raft_listen_address=127.0.0.1:{ports['raft']}",
                f"dbms.routing.listen_address=127.0.0.1:{ports['routing']}",
            ]
        return "\n".join(["# Restore drill: a throw-away server, loopback only.", *lines, ""])
    lines = [
        f"server.directories.data={root / 'data'}",
        f"server.directories.logs={root / 'logs'}",
        f"server.directories.run={root / 'run'}",
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{ports['bolt']}",
        f"server.bolt.advertised_address=127.0.0.1:{ports['bolt']}",
        "server.bolt.tls_level=DISABLED",
        "server.http.enabled=false",
        "server.https.enabled=false",
        "dbms.security.auth_enabled=true",
        f"initial.dbms.default_database={database}",
        f"server.memory.heap.initial_size={heap}",
        f"server.memory.heap.max_size={heap}",
        f"server.memory.pagecache.size={page_cache}",
        "dbms.usage_report.enabled=false",
    ]
    if enterprise:
        lines += [
            "server.backup.enabled=false",
            "server.metrics.enabled=false",
            f"server.cluster.listen_address=127.0.0.1:{ports['cluster']}",
            f"server.cluster.advertised_address=127.0.0.1:{ports['cluster']}",
            f"server.cluster.raft.listen_address=127.0.0.1:{ports['raft']}",
            f"server.cluster.raft.advertised_address=127.0.0.1:{ports['raft']}",
            f"server.routing.listen_address=127.0.0.1:{ports['routing']}",
            f"server.routing.advertised_address=127.0.0.1:{ports['routing']}",
            "dbms.cluster.discovery.resolver_type=LIST",
        ]
        if line == "5":
            lines += [
                f"server.discovery.listen_address=127.0.0.1:{ports['discovery']}",
                f"server.discovery.advertised_address=127.0.0.1:{ports['discovery']}",
                "dbms.cluster.discovery.version=V2_ONLY",
                f"dbms.cluster.discovery.v2.endpoints=127.0.0.1:{ports['cluster']}",
            ]
        else:
            lines.append(f"dbms.cluster.endpoints=127.0.0.1:{ports['cluster']}")
    return "\n".join(["# Restore drill: a throw-away server, loopback only.", *lines, ""])


def scratch_ports_needed(line: str, edition: str) -> tuple[str, ...]:
    if edition != "enterprise":
        return ("bolt",)
    if line == "2025":  # discovery runs over the cluster port
        return ("bolt", "cluster", "raft", "routing")
    return ("bolt", "cluster", "raft", "routing", "discovery")
